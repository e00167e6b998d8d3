//! The result of checking a license key, as shown by `license check` /
//! `license show` (`-o json` prints exactly this structure).

use jiff::Timestamp;
use serde::Serialize;

use super::claims::LicenseType;
use super::entitlements::ExpiryState;
use super::product::{Module, Product};
use super::trusted::{KeyOrigin, TrustedIssuerSummary, TrustedIssuers};
use super::verify::{VerifiedLicense, claimed_kid, verify};

/// Overall state of a checked license.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportState {
    /// Authentic and valid for 30 days or more.
    Valid,
    /// Authentic and valid, but expires in fewer than 30 days.
    ExpiringSoon,
    /// Authentic but expired.
    Expired,
    /// Authentic but issued in the future.
    NotYetValid,
    /// Not an authentic, well-formed license.
    Invalid,
}

impl From<ExpiryState> for ReportState {
    fn from(state: ExpiryState) -> Self {
        match state {
            ExpiryState::Valid => ReportState::Valid,
            ExpiryState::ExpiringSoon { .. } => ReportState::ExpiringSoon,
            ExpiryState::Expired => ReportState::Expired,
            ExpiryState::NotYetValid => ReportState::NotYetValid,
        }
    }
}

/// The `-o json` schema of `license check` and `license show`. Field names are
/// stable; claim fields are `null` / empty when the key could not be verified.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LicenseReport {
    /// The key is authentic (signed by a trusted issuer), well-formed, and
    /// within its validity period.
    pub valid: bool,
    /// `valid`, `expiring_soon`, `expired`, `not_yet_valid` or `invalid`.
    pub state: ReportState,
    /// Licensee (`sub`).
    pub licensee: Option<String>,
    /// `trial` or `enterprise`.
    pub license_type: Option<LicenseType>,
    /// Granted products.
    pub products: Vec<Product>,
    /// Granted modules.
    pub modules: Vec<Module>,
    /// Cluster limit; `null` is unlimited (or unknown when invalid).
    pub max_clusters: Option<u32>,
    /// Issue time, RFC 3339.
    pub issued_at: Option<Timestamp>,
    /// Expiry, RFC 3339.
    pub expires_at: Option<Timestamp>,
    /// Whole days until expiry; negative once expired.
    pub days_left: Option<i64>,
    /// Id of the issuer key named by the key's header.
    pub kid: Option<String>,
    /// Issuer name (`iss`).
    pub issuer: Option<String>,
    /// Every key the check trusted, with where it came from.
    pub trusted_issuers: Vec<TrustedIssuerSummary>,
    /// Things to know that do not fail the check on their own.
    pub warnings: Vec<String>,
    /// Why the check failed; `null` when it passed.
    pub error: Option<String>,
}

/// Options of a check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// Fail when the license expires within this many days.
    pub fail_within_days: Option<u32>,
}

impl LicenseReport {
    /// Verifies `key` against `trusted` at `now` and reports the outcome.
    pub fn check(
        key: &str,
        trusted: &TrustedIssuers,
        now: Timestamp,
        options: CheckOptions,
    ) -> Self {
        match verify(key, trusted) {
            Ok(license) => Self::verified(&license, trusted, now, options),
            Err(error) => Self::refused(claimed_kid(key), &error, trusted),
        }
    }

    /// The report for a key that could not be verified (or was not found).
    pub fn refused(
        kid: Option<String>,
        error: &dyn std::fmt::Display,
        trusted: &TrustedIssuers,
    ) -> Self {
        Self {
            valid: false,
            state: ReportState::Invalid,
            licensee: None,
            license_type: None,
            products: Vec::new(),
            modules: Vec::new(),
            max_clusters: None,
            issued_at: None,
            expires_at: None,
            days_left: None,
            kid,
            issuer: None,
            trusted_issuers: trusted.summary(),
            warnings: Vec::new(),
            error: Some(error.to_string()),
        }
    }

    /// The report for an authentic license at `now`.
    pub fn verified(
        license: &VerifiedLicense,
        trusted: &TrustedIssuers,
        now: Timestamp,
        options: CheckOptions,
    ) -> Self {
        let e = license.entitlements();
        let expiry = e.expiry_state(now);
        let days_left = e.days_left(now);
        let mut warnings = Vec::new();
        let mut error = e.check_time(now).err().map(|err| err.to_string());

        if let ExpiryState::ExpiringSoon { days } = expiry {
            warnings.push(format!(
                "license expires in {days} day{} (at {})",
                if days == 1 { "" } else { "s" },
                e.expires_at()
            ));
        }
        if let Some(limit) = options.fail_within_days
            && expiry.is_usable()
            && days_left < i64::from(limit)
        {
            error = Some(format!(
                "license expires in {days_left} days, within the {limit} days set by --fail-within-days"
            ));
        }
        if *license.origin() != KeyOrigin::Builtin {
            warnings.push(format!(
                "license is signed by issuer key {} trusted explicitly ({}), not by a key built into meshctl",
                license.kid(),
                license.origin()
            ));
        }
        if e.license_type() == LicenseType::Trial {
            warnings.push("this is a trial license".to_owned());
        }

        Self {
            valid: expiry.is_usable(),
            state: expiry.into(),
            licensee: Some(e.licensee().to_owned()),
            license_type: Some(e.license_type()),
            products: e.products().collect(),
            modules: e.modules().collect(),
            max_clusters: e.max_clusters(),
            issued_at: Some(e.issued_at()),
            expires_at: Some(e.expires_at()),
            days_left: Some(days_left),
            kid: Some(license.kid().to_owned()),
            issuer: Some(e.issuer().to_owned()),
            trusted_issuers: trusted.summary(),
            warnings,
            error,
        }
    }

    /// Whether the check passed: the license is valid and no threshold failed.
    pub fn passed(&self) -> bool {
        self.valid && self.error.is_none()
    }

    /// Label/value rows for the human form.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        fn or_dash<T: ToString>(v: Option<T>) -> String {
            v.map_or_else(|| "-".to_owned(), |v| v.to_string())
        }
        fn list<T: ToString>(items: &[T]) -> String {
            if items.is_empty() {
                "-".to_owned()
            } else {
                items
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        }
        let state = match self.state {
            ReportState::Valid => "valid",
            ReportState::ExpiringSoon => "valid (expiring soon)",
            ReportState::Expired => "EXPIRED",
            ReportState::NotYetValid => "NOT YET VALID",
            ReportState::Invalid => "INVALID",
        };
        let trusted: Vec<String> = self
            .trusted_issuers
            .iter()
            .map(|t| format!("{} ({})", t.kid, t.origin))
            .collect();
        let mut rows = vec![("Status", state.to_owned())];
        if self.licensee.is_some() {
            rows.extend([
                ("Licensee", or_dash(self.licensee.as_ref())),
                ("Type", or_dash(self.license_type)),
                ("Products", list(&self.products)),
                ("Modules", list(&self.modules)),
                (
                    "Max clusters",
                    self.max_clusters
                        .map_or_else(|| "unlimited".to_owned(), |n| n.to_string()),
                ),
                ("Issued", or_dash(self.issued_at)),
                ("Expires", or_dash(self.expires_at)),
                ("Days left", or_dash(self.days_left)),
                ("Issuer", or_dash(self.issuer.as_ref())),
            ]);
        }
        rows.push(("Key ID", or_dash(self.kid.as_ref())));
        rows.push(("Trusted issuers", list(&trusted)));
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::license::testing::Fixture;

    fn at(f: &Fixture, days_before_expiry: i64) -> Timestamp {
        Timestamp::from_second(f.exp().as_second() - days_before_expiry * 86_400).unwrap()
    }

    #[test]
    fn a_valid_license_reports_everything() {
        let f = Fixture::new();
        let r = LicenseReport::check(&f.valid_key(), &f.trusted, f.now(), CheckOptions::default());
        assert!(r.valid);
        assert!(r.passed());
        assert_eq!(r.state, ReportState::Valid);
        assert_eq!(r.licensee.as_deref(), Some("Acme Corp"));
        assert_eq!(r.products, [Product::Mesh]);
        assert_eq!(r.days_left, Some(364));
        assert_eq!(r.kid.as_deref(), Some(f.pair.kid()));
        assert_eq!(r.issuer.as_deref(), Some("test-issuer"));
        assert_eq!(r.error, None);
        // Signed by an explicitly trusted key: said so.
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        assert!(r.warnings[0].contains("file:issuer.pem"));
        assert_eq!(r.trusted_issuers.len(), f.trusted.len());
    }

    #[test]
    fn json_shape_is_stable() {
        let f = Fixture::new();
        let r = LicenseReport::check(&f.valid_key(), &f.trusted, f.now(), CheckOptions::default());
        let json = serde_json::to_value(&r).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = vec![
            "valid",
            "state",
            "licensee",
            "license_type",
            "products",
            "modules",
            "max_clusters",
            "issued_at",
            "expires_at",
            "days_left",
            "kid",
            "issuer",
            "trusted_issuers",
            "warnings",
            "error",
        ];
        expected.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(json["license_type"], "enterprise");
        assert_eq!(json["state"], "valid");
        assert_eq!(json["issued_at"], "2027-01-15T08:00:00Z");
        assert_eq!(json["trusted_issuers"][0]["origin"], "builtin");
        assert!(json["error"].is_null());
    }

    #[test]
    fn expiring_soon_warns_but_passes() {
        let f = Fixture::new();
        let r = LicenseReport::check(
            &f.valid_key(),
            &f.trusted,
            at(&f, 10),
            CheckOptions::default(),
        );
        assert!(r.passed());
        assert_eq!(r.state, ReportState::ExpiringSoon);
        assert!(
            r.warnings
                .iter()
                .any(|w| w.starts_with("license expires in 10 days"))
        );
    }

    #[test]
    fn fail_within_days_fails_a_valid_license() {
        let f = Fixture::new();
        let options = CheckOptions {
            fail_within_days: Some(60),
        };
        let r = LicenseReport::check(&f.valid_key(), &f.trusted, at(&f, 45), options);
        assert!(r.valid);
        assert!(!r.passed());
        assert!(r.error.unwrap().contains("--fail-within-days"));
        let r = LicenseReport::check(&f.valid_key(), &f.trusted, at(&f, 60), options);
        assert!(r.passed(), "{:?}", r.error);
    }

    #[test]
    fn expired_reports_claims_and_fails() {
        let f = Fixture::new();
        let r = LicenseReport::check(
            &f.valid_key(),
            &f.trusted,
            at(&f, -3),
            CheckOptions::default(),
        );
        assert!(!r.valid);
        assert!(!r.passed());
        assert_eq!(r.state, ReportState::Expired);
        assert_eq!(r.days_left, Some(-3));
        assert_eq!(r.licensee.as_deref(), Some("Acme Corp"));
        assert!(r.error.unwrap().starts_with("license expired at"));
    }

    #[test]
    fn tampered_reports_no_claims() {
        let f = Fixture::new();
        let key = f.valid_key();
        let (input, sig) = key.rsplit_once('.').unwrap();
        let flipped = if sig.starts_with('A') { "B" } else { "A" };
        let tampered = format!("{input}.{flipped}{}", &sig[1..]);
        let r = LicenseReport::check(&tampered, &f.trusted, f.now(), CheckOptions::default());
        assert!(!r.valid);
        assert_eq!(r.state, ReportState::Invalid);
        assert_eq!(r.licensee, None);
        assert!(r.products.is_empty());
        assert_eq!(r.kid.as_deref(), Some(f.pair.kid()));
        assert!(r.error.unwrap().contains("signature is invalid"));
        let rows = LicenseReport::check("", &f.trusted, f.now(), CheckOptions::default()).rows();
        assert_eq!(rows[0], ("Status", "INVALID".to_owned()));
        // No claim rows for a key that was not verified.
        assert_eq!(
            rows.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            ["Status", "Key ID", "Trusted issuers"]
        );
    }

    #[test]
    fn rows_for_a_valid_license() {
        let f = Fixture::new();
        let r = LicenseReport::check(&f.valid_key(), &f.trusted, f.now(), CheckOptions::default());
        let rows = r.rows();
        assert_eq!(rows[0], ("Status", "valid".to_owned()));
        assert_eq!(rows[3], ("Products", "mesh".to_owned()));
        assert_eq!(rows[5], ("Max clusters", "unlimited".to_owned()));
    }
}
