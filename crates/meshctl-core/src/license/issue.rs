//! Issuing (signing) licenses with an issuer key pair.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::claims::{Claims, LicenseType};
use super::entitlements::check_name_to_sign;
use super::error::LicenseError;
use super::jws::{self, MAX_KEY_LEN};
use super::keys::IssuerKeyPair;
use super::product::{Module, Product};
use super::trusted::{KeyOrigin, TrustedIssuers};
use super::verify::verify;

/// What to put in a new license.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseRequest {
    /// Issuer name (`iss`).
    pub issuer: String,
    /// Licensee (`sub`).
    pub licensee: String,
    /// Trial or enterprise (`lt`).
    pub license_type: LicenseType,
    /// Products to grant.
    pub products: Vec<Product>,
    /// Modules to grant; each needs a product it extends.
    pub modules: Vec<Module>,
    /// Cluster limit; `None` is unlimited.
    pub max_clusters: Option<u32>,
    /// Issue time (`iat`), usually now.
    pub issued_at: Timestamp,
    /// Expiry (`exp`).
    pub expires_at: Timestamp,
}

impl LicenseRequest {
    /// The claims this request signs. Products and modules are de-duplicated
    /// and sorted so the same request always yields the same key.
    pub fn claims(&self) -> Claims {
        let mut products = self.products.clone();
        products.sort();
        products.dedup();
        let mut modules = self.modules.clone();
        modules.sort();
        modules.dedup();
        Claims {
            iss: self.issuer.clone(),
            sub: self.licensee.clone(),
            iat: self.issued_at.as_second(),
            exp: self.expires_at.as_second(),
            lt: self.license_type,
            products: products.iter().map(|p| p.to_string()).collect(),
            modules: modules.iter().map(|m| m.to_string()).collect(),
            max_clusters: self.max_clusters,
            extra: BTreeMap::new(),
        }
    }
}

/// The expiry for a license valid through `date`: the last second of that day, UTC.
pub fn end_of_day_utc(date: Date) -> Result<Timestamp, LicenseError> {
    let out_of_range = || LicenseError::TimeOutOfRange {
        name: "exp",
        value: i64::from(date.year()),
    };
    date.at(23, 59, 59, 0)
        .to_zoned(TimeZone::UTC)
        .map(|zoned| zoned.timestamp())
        .map_err(|_| out_of_range())
}

/// The expiry `days` whole days after `from`.
pub fn days_after(from: Timestamp, days: u32) -> Result<Timestamp, LicenseError> {
    let seconds = i64::from(days) * 86_400;
    from.checked_add(jiff::SignedDuration::from_secs(seconds))
        .map_err(|_| LicenseError::TimeOutOfRange {
            name: "exp",
            value: from.as_second().saturating_add(seconds),
        })
}

/// Signs a license. The request is validated with the same rules as
/// verification, and the new key is verified before it is returned, so a key
/// from here is always accepted by `check` (until it expires).
pub fn issue(request: &LicenseRequest, key: &IssuerKeyPair) -> Result<String, LicenseError> {
    check_name_to_sign("iss", &request.issuer)?;
    check_name_to_sign("sub", &request.licensee)?;
    let claims = request.claims();
    let payload = claims.to_json()?;
    let input = jws::signing_input(key.kid(), &payload)?;
    let token = jws::assemble(&input, &key.sign(input.as_bytes()));
    if token.len() > MAX_KEY_LEN {
        return Err(LicenseError::TooLarge {
            len: token.len(),
            max: MAX_KEY_LEN,
        });
    }
    let mut own = TrustedIssuers::empty();
    own.add(key.public_key(), KeyOrigin::Builtin);
    verify(&token, &own)?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::license::jws::parse;

    fn request() -> LicenseRequest {
        let issued_at = Timestamp::from_second(1_800_000_000).unwrap();
        LicenseRequest {
            issuer: "meshctl-dev".into(),
            licensee: "Acme Corp".into(),
            license_type: LicenseType::Enterprise,
            products: vec![Product::Network, Product::Mesh, Product::Mesh],
            modules: vec![Module::Graphql],
            max_clusters: Some(10),
            issued_at,
            expires_at: days_after(issued_at, 365).unwrap(),
        }
    }

    #[test]
    fn issued_keys_verify_with_the_public_key() {
        let pair = IssuerKeyPair::generate();
        let key = issue(&request(), &pair).unwrap();
        let mut trusted = TrustedIssuers::empty();
        trusted.add(pair.public_key(), KeyOrigin::Env("k.pem".into()));
        let license = verify(&key, &trusted).unwrap();
        let e = license.entitlements();
        assert_eq!(license.kid(), pair.kid());
        assert_eq!(e.licensee(), "Acme Corp");
        assert_eq!(e.issuer(), "meshctl-dev");
        assert_eq!(
            e.products().collect::<Vec<_>>(),
            [Product::Mesh, Product::Network]
        );
        assert!(e.allows_module(Module::Graphql));
        assert_eq!(e.max_clusters(), Some(10));
        assert_eq!(e.days_left(request().issued_at), 365);
        assert_eq!(license.claims().products, ["mesh", "network"]);
    }

    #[test]
    fn the_header_names_the_signing_key() {
        let pair = IssuerKeyPair::from_seed(&[5u8; 32]);
        let key = issue(&request(), &pair).unwrap();
        assert_eq!(parse(&key).unwrap().kid, pair.kid());
        // Ed25519 is deterministic: same request, same key.
        assert_eq!(issue(&request(), &pair).unwrap(), key);
    }

    #[test]
    fn invalid_requests_are_refused() {
        let pair = IssuerKeyPair::generate();
        let mut r = request();
        r.products = vec![Product::Network];
        assert!(matches!(
            issue(&r, &pair),
            Err(LicenseError::ModuleWithoutProduct { .. })
        ));
        let mut r = request();
        r.expires_at = r.issued_at;
        assert!(matches!(
            issue(&r, &pair),
            Err(LicenseError::ExpBeforeIat { .. })
        ));
        let mut r = request();
        r.products.clear();
        r.modules.clear();
        assert_eq!(issue(&r, &pair), Err(LicenseError::NoProducts));
        let mut r = request();
        r.licensee = String::new();
        assert_eq!(
            issue(&r, &pair),
            Err(LicenseError::EmptyClaim { name: "sub" })
        );
        let mut r = request();
        r.licensee = "x".repeat(MAX_KEY_LEN);
        assert!(matches!(
            issue(&r, &pair),
            Err(LicenseError::UnprintableName { name: "sub", .. })
        ));
        let mut r = request();
        r.licensee = "Acme\x1b[2J Corp".into();
        assert!(matches!(
            issue(&r, &pair),
            Err(LicenseError::UnprintableName { name: "sub", .. })
        ));
    }

    #[test]
    fn a_signed_name_no_terminal_should_print_is_reported_escaped_and_shortened() {
        // Signed elsewhere (not by `issue`, which refuses such names): it verifies, and reports
        // show it escaped and cut at MAX_NAME_CHARS.
        let pair = IssuerKeyPair::generate();
        let mut r = request();
        r.licensee = format!("Acme\x1b[2J\n{}", "y".repeat(1000));
        let payload = r.claims().to_json().unwrap();
        let input = jws::signing_input(pair.kid(), &payload).unwrap();
        let token = jws::assemble(&input, &pair.sign(input.as_bytes()));
        let mut own = TrustedIssuers::empty();
        own.add(pair.public_key(), KeyOrigin::Builtin);
        let license = verify(&token, &own).unwrap();
        let shown = license.entitlements().licensee();
        assert!(shown.starts_with("Acme\\u{1b}[2J\\u{a}yyy"), "{shown}");
        assert!(!shown.chars().any(char::is_control), "{shown}");
        assert!(shown.ends_with('…'));
        assert_eq!(
            shown.chars().count(),
            // two escapes ("\u{1b}" and "\u{a}" for one character each) and the ellipsis
            crate::license::entitlements::MAX_NAME_CHARS + 5 + 4 + 1,
            "{shown}"
        );
    }

    #[test]
    fn expiry_helpers() {
        let date = Date::new(2027, 12, 31).unwrap();
        assert_eq!(
            end_of_day_utc(date).unwrap().to_string(),
            "2027-12-31T23:59:59Z"
        );
        let from: Timestamp = "2027-01-01T12:00:00Z".parse().unwrap();
        assert_eq!(
            days_after(from, 30).unwrap().to_string(),
            "2027-01-31T12:00:00Z"
        );
        assert!(days_after(Timestamp::MAX, 1).is_err());
    }
}
