//! What a verified license allows, and how close it is to expiry.
//!
//! Time is always passed in: nothing here reads the clock.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde::Serialize;

use super::claims::{Claims, LicenseType};
use super::error::LicenseError;
use super::product::{Module, Product};

/// A license expiring in fewer days than this is "expiring soon".
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// Tolerated clock difference between issuer and verifier for `iat`, in seconds.
pub const CLOCK_SKEW_SECONDS: i64 = 300;

const SECONDS_PER_DAY: i64 = 86_400;

/// Where a license stands at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ExpiryState {
    /// Valid for at least [`EXPIRY_WARNING_DAYS`] more days.
    Valid,
    /// Valid, but expires in fewer than [`EXPIRY_WARNING_DAYS`] days.
    ExpiringSoon {
        /// Whole days left (0 on the last day).
        days: i64,
    },
    /// Past its expiry.
    Expired,
    /// Issued in the future (beyond the tolerated clock skew).
    NotYetValid,
}

impl ExpiryState {
    /// Whether the license may be used now (valid or expiring soon).
    pub fn is_usable(self) -> bool {
        matches!(self, ExpiryState::Valid | ExpiryState::ExpiringSoon { .. })
    }

    /// Stable snake_case name, as used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ExpiryState::Valid => "valid",
            ExpiryState::ExpiringSoon { .. } => "expiring_soon",
            ExpiryState::Expired => "expired",
            ExpiryState::NotYetValid => "not_yet_valid",
        }
    }
}

/// The validated content of a license whose signature has been verified.
///
/// Only [`super::verify`] creates these, so holding one means an issuer the
/// caller trusts signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entitlements {
    issuer: String,
    licensee: String,
    license_type: LicenseType,
    products: BTreeSet<Product>,
    modules: BTreeSet<Module>,
    max_clusters: Option<u32>,
    issued_at: Timestamp,
    expires_at: Timestamp,
}

fn timestamp(name: &'static str, value: i64) -> Result<Timestamp, LicenseError> {
    Timestamp::from_second(value).map_err(|_| LicenseError::TimeOutOfRange { name, value })
}

fn non_empty(name: &'static str, value: &str) -> Result<String, LicenseError> {
    if value.trim().is_empty() {
        Err(LicenseError::EmptyClaim { name })
    } else {
        Ok(printable_name(value))
    }
}

/// The longest issuer or licensee name `license issue` signs, and reports print.
pub const MAX_NAME_CHARS: usize = 200;

/// A signed name as reports print it: control characters (which would reach the terminal or the
/// log raw) written as `\u{..}` escapes, and at most [`MAX_NAME_CHARS`] characters, the rest
/// shown as `…`. The signature covered the original; this is only its rendering.
pub fn printable_name(value: &str) -> String {
    let mut out = String::new();
    for (count, c) in value.chars().enumerate() {
        if count == MAX_NAME_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// Checks a name before it is signed: what [`printable_name`] would have to change is refused.
pub fn check_name_to_sign(name: &'static str, value: &str) -> Result<(), LicenseError> {
    if value.chars().count() > MAX_NAME_CHARS || value.chars().any(char::is_control) {
        return Err(LicenseError::UnprintableName {
            name,
            max: MAX_NAME_CHARS,
        });
    }
    Ok(())
}

/// Checks that every module comes with a product it extends.
pub(crate) fn check_modules(
    products: &BTreeSet<Product>,
    modules: &BTreeSet<Module>,
) -> Result<(), LicenseError> {
    for module in modules {
        if !module.extends().iter().any(|p| products.contains(p)) {
            let needs: Vec<&str> = module.extends().iter().map(|p| p.as_str()).collect();
            return Err(LicenseError::ModuleWithoutProduct {
                module: module.to_string(),
                needs: needs.join(", "),
            });
        }
    }
    Ok(())
}

impl Entitlements {
    /// Validates claims: non-empty `iss` and `sub`, `exp` after `iat`, at least
    /// one known product, known modules each with a product it extends,
    /// `max_clusters` at least 1.
    pub(crate) fn from_claims(claims: &Claims) -> Result<Self, LicenseError> {
        let issuer = non_empty("iss", &claims.iss)?;
        let licensee = non_empty("sub", &claims.sub)?;
        let issued_at = timestamp("iat", claims.iat)?;
        let expires_at = timestamp("exp", claims.exp)?;
        if expires_at <= issued_at {
            return Err(LicenseError::ExpBeforeIat {
                iat: issued_at.to_string(),
                exp: expires_at.to_string(),
            });
        }
        let products = claims
            .products
            .iter()
            .map(|name| name.parse::<Product>())
            .collect::<Result<BTreeSet<_>, _>>()?;
        if products.is_empty() {
            return Err(LicenseError::NoProducts);
        }
        let modules = claims
            .modules
            .iter()
            .map(|name| name.parse::<Module>())
            .collect::<Result<BTreeSet<_>, _>>()?;
        check_modules(&products, &modules)?;
        if claims.max_clusters == Some(0) {
            return Err(LicenseError::ZeroMaxClusters);
        }
        Ok(Self {
            issuer,
            licensee,
            license_type: claims.lt,
            products,
            modules,
            max_clusters: claims.max_clusters,
            issued_at,
            expires_at,
        })
    }

    /// Whether the license grants `product` (regardless of expiry; see [`Self::expiry_state`]).
    pub fn allows(&self, product: Product) -> bool {
        self.products.contains(&product)
    }

    /// Whether the license grants `module` (regardless of expiry). A granted
    /// module always comes with at least one product it extends.
    pub fn allows_module(&self, module: Module) -> bool {
        self.modules.contains(&module)
    }

    /// Whether `clusters` workload clusters are within the license's limit.
    pub fn allows_clusters(&self, clusters: u64) -> bool {
        self.max_clusters
            .is_none_or(|max| clusters <= u64::from(max))
    }

    /// Whole days until expiry at `now`, rounded down; negative once expired.
    pub fn days_left(&self, now: Timestamp) -> i64 {
        (self.expires_at.as_second() - now.as_second()).div_euclid(SECONDS_PER_DAY)
    }

    /// Where the license stands at `now`.
    pub fn expiry_state(&self, now: Timestamp) -> ExpiryState {
        if now.as_second() + CLOCK_SKEW_SECONDS < self.issued_at.as_second() {
            ExpiryState::NotYetValid
        } else if now >= self.expires_at {
            ExpiryState::Expired
        } else {
            let days = self.days_left(now);
            if days < EXPIRY_WARNING_DAYS {
                ExpiryState::ExpiringSoon { days }
            } else {
                ExpiryState::Valid
            }
        }
    }

    /// `Ok` when the license may be used at `now`, else `Expired` / `NotYetValid`.
    pub fn check_time(&self, now: Timestamp) -> Result<(), LicenseError> {
        match self.expiry_state(now) {
            ExpiryState::Valid | ExpiryState::ExpiringSoon { .. } => Ok(()),
            ExpiryState::Expired => Err(LicenseError::Expired {
                expired_at: self.expires_at.to_string(),
            }),
            ExpiryState::NotYetValid => Err(LicenseError::NotYetValid {
                issued_at: self.issued_at.to_string(),
            }),
        }
    }

    /// The `iss` claim.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The licensee (`sub`).
    pub fn licensee(&self) -> &str {
        &self.licensee
    }

    /// Trial or enterprise.
    pub fn license_type(&self) -> LicenseType {
        self.license_type
    }

    /// Granted products, in a stable order.
    pub fn products(&self) -> impl Iterator<Item = Product> + '_ {
        self.products.iter().copied()
    }

    /// Granted modules, in a stable order.
    pub fn modules(&self) -> impl Iterator<Item = Module> + '_ {
        self.modules.iter().copied()
    }

    /// Cluster limit; `None` is unlimited.
    pub fn max_clusters(&self) -> Option<u32> {
        self.max_clusters
    }

    /// When the license was issued.
    pub fn issued_at(&self) -> Timestamp {
        self.issued_at
    }

    /// When the license expires.
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const DAY: i64 = SECONDS_PER_DAY;
    const IAT: i64 = 1_800_000_000;

    fn claims(products: &[&str], modules: &[&str]) -> Claims {
        Claims {
            iss: "meshctl-dev".into(),
            sub: "Acme".into(),
            iat: IAT,
            exp: IAT + 365 * DAY,
            lt: LicenseType::Enterprise,
            products: products.iter().map(|s| s.to_string()).collect(),
            modules: modules.iter().map(|s| s.to_string()).collect(),
            max_clusters: None,
            extra: BTreeMap::new(),
        }
    }

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap()
    }

    #[test]
    fn allows_exactly_the_granted_products_and_modules() {
        let e = Entitlements::from_claims(&claims(&["gateway", "network"], &["graphql"])).unwrap();
        assert!(e.allows(Product::Gateway));
        assert!(e.allows(Product::Network));
        assert!(!e.allows(Product::Mesh));
        assert!(e.allows_module(Module::Graphql));
        let e = Entitlements::from_claims(&claims(&["mesh"], &[])).unwrap();
        assert!(!e.allows_module(Module::Graphql));
        assert_eq!(e.products().collect::<Vec<_>>(), [Product::Mesh]);
    }

    #[test]
    fn duplicate_products_collapse() {
        let e = Entitlements::from_claims(&claims(&["mesh", "mesh", "gateway"], &[])).unwrap();
        assert_eq!(e.products().count(), 2);
    }

    #[test]
    fn module_without_its_product_is_refused() {
        let err = Entitlements::from_claims(&claims(&["network"], &["graphql"])).unwrap_err();
        assert_eq!(
            err,
            LicenseError::ModuleWithoutProduct {
                module: "graphql".into(),
                needs: "gateway, mesh".into()
            }
        );
        // Either extended product is enough.
        assert!(Entitlements::from_claims(&claims(&["mesh"], &["graphql"])).is_ok());
        assert!(Entitlements::from_claims(&claims(&["gateway"], &["graphql"])).is_ok());
    }

    #[test]
    fn unknown_names_are_refused() {
        assert_eq!(
            Entitlements::from_claims(&claims(&["mesh", "firewall"], &[])).unwrap_err(),
            LicenseError::UnknownProduct {
                name: "firewall".into()
            }
        );
        assert_eq!(
            Entitlements::from_claims(&claims(&["mesh"], &["grpc"])).unwrap_err(),
            LicenseError::UnknownModule {
                name: "grpc".into()
            }
        );
        assert_eq!(
            Entitlements::from_claims(&claims(&[], &[])).unwrap_err(),
            LicenseError::NoProducts
        );
    }

    #[test]
    fn exp_must_be_after_iat() {
        let mut c = claims(&["mesh"], &[]);
        c.exp = c.iat - 1;
        assert!(matches!(
            Entitlements::from_claims(&c),
            Err(LicenseError::ExpBeforeIat { .. })
        ));
        c.exp = c.iat;
        assert!(matches!(
            Entitlements::from_claims(&c),
            Err(LicenseError::ExpBeforeIat { .. })
        ));
    }

    #[test]
    fn other_claim_checks() {
        let mut c = claims(&["mesh"], &[]);
        c.sub = "  ".into();
        assert_eq!(
            Entitlements::from_claims(&c).unwrap_err(),
            LicenseError::EmptyClaim { name: "sub" }
        );
        let mut c = claims(&["mesh"], &[]);
        c.exp = i64::MAX;
        assert!(matches!(
            Entitlements::from_claims(&c),
            Err(LicenseError::TimeOutOfRange { name: "exp", .. })
        ));
        let mut c = claims(&["mesh"], &[]);
        c.max_clusters = Some(0);
        assert_eq!(
            Entitlements::from_claims(&c).unwrap_err(),
            LicenseError::ZeroMaxClusters
        );
    }

    #[test]
    fn cluster_limit() {
        let mut c = claims(&["mesh"], &[]);
        assert!(
            Entitlements::from_claims(&c)
                .unwrap()
                .allows_clusters(10_000)
        );
        c.max_clusters = Some(3);
        let e = Entitlements::from_claims(&c).unwrap();
        assert!(e.allows_clusters(3));
        assert!(!e.allows_clusters(4));
    }

    #[test]
    fn days_left_rounds_down() {
        let e = Entitlements::from_claims(&claims(&["mesh"], &[])).unwrap();
        let exp = e.expires_at().as_second();
        assert_eq!(e.days_left(at(exp - 10 * DAY)), 10);
        assert_eq!(e.days_left(at(exp - 10 * DAY + 1)), 9);
        assert_eq!(e.days_left(at(exp - 1)), 0);
        assert_eq!(e.days_left(at(exp)), 0);
        assert_eq!(e.days_left(at(exp + 1)), -1);
        assert_eq!(e.days_left(at(exp + 2 * DAY)), -2);
    }

    #[test]
    fn expiry_states() {
        let e = Entitlements::from_claims(&claims(&["mesh"], &[])).unwrap();
        let exp = e.expires_at().as_second();
        assert_eq!(e.expiry_state(at(IAT)), ExpiryState::Valid);
        assert_eq!(e.expiry_state(at(exp - 30 * DAY)), ExpiryState::Valid);
        assert_eq!(
            e.expiry_state(at(exp - 30 * DAY + 1)),
            ExpiryState::ExpiringSoon { days: 29 }
        );
        assert_eq!(
            e.expiry_state(at(exp - 1)),
            ExpiryState::ExpiringSoon { days: 0 }
        );
        assert_eq!(e.expiry_state(at(exp)), ExpiryState::Expired);
        assert_eq!(e.expiry_state(at(exp + 400 * DAY)), ExpiryState::Expired);
        // Small clock skew is tolerated, more is not.
        assert_eq!(
            e.expiry_state(at(IAT - CLOCK_SKEW_SECONDS)),
            ExpiryState::Valid
        );
        assert_eq!(
            e.expiry_state(at(IAT - CLOCK_SKEW_SECONDS - 1)),
            ExpiryState::NotYetValid
        );
    }

    #[test]
    fn check_time_names_the_dates() {
        let e = Entitlements::from_claims(&claims(&["mesh"], &[])).unwrap();
        let exp = e.expires_at().as_second();
        assert_eq!(e.check_time(at(exp - DAY)), Ok(()));
        assert_eq!(
            e.check_time(at(exp)).unwrap_err().to_string(),
            format!("license expired at {}", e.expires_at())
        );
        assert!(matches!(
            e.check_time(at(IAT - DAY)),
            Err(LicenseError::NotYetValid { .. })
        ));
        assert!(ExpiryState::ExpiringSoon { days: 3 }.is_usable());
        assert!(!ExpiryState::Expired.is_usable());
        assert!(!ExpiryState::NotYetValid.is_usable());
    }

    #[test]
    fn expiry_state_serializes_with_a_tag() {
        assert_eq!(
            serde_json::to_value(ExpiryState::ExpiringSoon { days: 4 }).unwrap(),
            serde_json::json!({"state": "expiring_soon", "days": 4})
        );
        assert_eq!(ExpiryState::NotYetValid.as_str(), "not_yet_valid");
    }
}
