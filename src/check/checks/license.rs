//! `license`: a license is installed, verifies, covers products, and has days left (a warning
//! under 30 days, a failure once expired).

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use jiff::{SignedDuration, Timestamp};

use crate::check::engine::Check;
use crate::check::license_source::{LicenseSource, LicenseState, LicenseStatus};
use crate::check::model::{CheckSpec, Finding, Severity};

/// Days before expiry from which the check warns.
pub const WARNING_DAYS: i64 = 30;

pub struct License {
    spec: CheckSpec,
    source: Arc<dyn LicenseSource>,
    now: Timestamp,
}

impl License {
    /// `depends_on`: what reading the source needs (`kubernetes-api` for the Secret source).
    pub fn new(
        category: impl Into<String>,
        source: Arc<dyn LicenseSource>,
        depends_on: &[&'static str],
        now: Timestamp,
    ) -> Self {
        Self {
            spec: CheckSpec::new(
                "license",
                category,
                "a valid license is installed",
                Severity::Error,
            )
            .depends_on(depends_on),
            source,
            now,
        }
    }
}

impl Check for License {
    fn spec(&self) -> &CheckSpec {
        &self.spec
    }
    fn run(&self, attempt: u32) -> BoxFuture<'_, Finding> {
        async move {
            match self.source.license(attempt).await {
                Ok(state) => evaluate(&state, self.now),
                Err(e) => Finding::fail(e.to_string(), e.hint()),
            }
        }
        .boxed()
    }
}

fn summary(status: &LicenseStatus) -> String {
    let products = if status.products.is_empty() {
        "no products".to_string()
    } else {
        status.products.join(", ")
    };
    format!(
        "{} license for {} ({products})",
        status.license_type, status.licensee
    )
}

pub fn evaluate(state: &LicenseState, now: Timestamp) -> Finding {
    match state {
        LicenseState::Missing { location } => Finding::fail(
            format!("no license installed ({location} not found)"),
            "apply one with `meshctl license apply --key-file FILE` (get a trial key from your account team)",
        ),
        LicenseState::Invalid { location, reason } => Finding::fail(
            format!("the license in {location} is not valid: {reason}"),
            "apply a valid key with `meshctl license apply`; `meshctl license check` shows details",
        )
        .permanent(),
        LicenseState::Verified { status, .. } => {
            let left = status.expires_at.duration_since(now);
            let date = status.expires_at.strftime("%Y-%m-%d");
            if left <= SignedDuration::ZERO {
                return Finding::fail(
                    format!("{} expired on {date}", summary(status)),
                    "apply a renewed key with `meshctl license apply`; until then the management server keeps the last pushed configuration but translates nothing new",
                )
                .permanent();
            }
            let days = left.as_secs() / 86_400;
            if status.products.is_empty() {
                return Finding::fail(
                    format!("{} covers no product", summary(status)),
                    "ask for a key that includes the products you use (mesh, gateway, network)",
                );
            }
            if days < WARNING_DAYS {
                return Finding::warn(
                    format!("{} expires on {date}, in {days} days", summary(status)),
                    "renew the license and apply it with `meshctl license apply`",
                );
            }
            Finding::pass(format!(
                "{} valid until {date} ({days} days left)",
                summary(status)
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::model::Verdict;

    fn verified(expires: &str, products: &[&str]) -> LicenseState {
        LicenseState::Verified {
            location: "Secret mesh-system/meshctl-license".into(),
            status: LicenseStatus {
                licensee: "Acme".into(),
                license_type: "enterprise".into(),
                products: products.iter().map(|p| p.to_string()).collect(),
                expires_at: expires.parse().unwrap(),
            },
        }
    }

    fn now() -> Timestamp {
        "2026-11-22T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn valid_soon_expired_missing_invalid() {
        let f = evaluate(
            &verified("2027-11-22T00:00:00Z", &["mesh", "gateway"]),
            now(),
        );
        assert_eq!(f.verdict, Verdict::Pass);
        assert_eq!(
            f.message,
            "enterprise license for Acme (mesh, gateway) valid until 2027-11-22 (365 days left)"
        );
        let f = evaluate(&verified("2026-12-02T00:00:00Z", &["mesh"]), now());
        assert_eq!(f.verdict, Verdict::Warn);
        assert_eq!(
            f.message,
            "enterprise license for Acme (mesh) expires on 2026-12-02, in 10 days"
        );
        let f = evaluate(&verified("2026-11-01T00:00:00Z", &["mesh"]), now());
        assert_eq!(f.verdict, Verdict::Fail);
        assert_eq!(
            f.message,
            "enterprise license for Acme (mesh) expired on 2026-11-01"
        );
        let f = evaluate(&verified("2027-11-22T00:00:00Z", &[]), now());
        assert_eq!(f.verdict, Verdict::Fail);
        let f = evaluate(
            &LicenseState::Missing {
                location: "Secret mesh-system/meshctl-license".into(),
            },
            now(),
        );
        assert_eq!(f.verdict, Verdict::Fail);
        assert!(f.hint.unwrap().contains("meshctl license apply"));
        let f = evaluate(
            &LicenseState::Invalid {
                location: "Secret x".into(),
                reason: "signature does not verify".into(),
            },
            now(),
        );
        assert_eq!(
            f.message,
            "the license in Secret x is not valid: signature does not verify"
        );
    }
}
