//! The claims (payload) of a license key, as they appear on the wire.
//!
//! Product and module names stay strings here so that an unknown name can be
//! reported precisely; [`super::entitlements::Entitlements::from_claims`] turns
//! these into typed, validated entitlements.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::LicenseError;

/// The kind of license.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenseType {
    /// A time-limited evaluation license.
    Trial,
    /// A paid license.
    Enterprise,
}

impl LicenseType {
    /// The name used in claims and output.
    pub fn as_str(self) -> &'static str {
        match self {
            LicenseType::Trial => "trial",
            LicenseType::Enterprise => "enterprise",
        }
    }
}

impl fmt::Display for LicenseType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JWT claims of a license key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer name.
    pub iss: String,
    /// Licensee.
    pub sub: String,
    /// Issued at, seconds since the Unix epoch.
    pub iat: i64,
    /// Expires at, seconds since the Unix epoch.
    pub exp: i64,
    /// License type.
    pub lt: LicenseType,
    /// Licensed products (`mesh`, `gateway`, `network`).
    #[serde(default)]
    pub products: Vec<String>,
    /// Licensed modules (`graphql`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modules: Vec<String>,
    /// Most workload clusters that may be registered; absent means unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_clusters: Option<u32>,
    /// Claims this version does not know; preserved and ignored.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Claims {
    /// Reads claims from the decoded payload of a verified token.
    pub fn from_json(bytes: &[u8]) -> Result<Self, LicenseError> {
        serde_json::from_slice(bytes)
            .map_err(|e| LicenseError::Claims(super::error::echo_long(&e.to_string())))
    }

    /// The payload bytes for signing.
    pub fn to_json(&self) -> Result<Vec<u8>, LicenseError> {
        serde_json::to_vec(self).map_err(|e| LicenseError::Encode {
            what: "claims",
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"{"iss":"meshctl-dev","sub":"Acme","iat":1700000000,"exp":1800000000,"lt":"enterprise","products":["mesh","gateway"],"modules":["graphql"],"max_clusters":5,"future":{"x":1},"region":"eu"}"#;

    #[test]
    fn reads_all_claims_and_keeps_unknown_ones() {
        let c = Claims::from_json(FULL.as_bytes()).unwrap();
        assert_eq!(c.sub, "Acme");
        assert_eq!(c.lt, LicenseType::Enterprise);
        assert_eq!(c.products, ["mesh", "gateway"]);
        assert_eq!(c.modules, ["graphql"]);
        assert_eq!(c.max_clusters, Some(5));
        assert_eq!(c.extra.len(), 2);
        assert_eq!(c.extra["region"], serde_json::json!("eu"));
        // Unknown claims survive a round trip.
        let again = Claims::from_json(&c.to_json().unwrap()).unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn optional_claims_may_be_absent() {
        let c = Claims::from_json(
            br#"{"iss":"i","sub":"s","iat":1,"exp":2,"lt":"trial","products":["network"]}"#,
        )
        .unwrap();
        assert!(c.modules.is_empty());
        assert_eq!(c.max_clusters, None);
        assert!(c.extra.is_empty());
    }

    #[test]
    fn wrong_shapes_are_claims_errors() {
        for bad in [
            &b"[]"[..],
            b"{}",
            br#"{"iss":"i","sub":"s","iat":"yesterday","exp":2,"lt":"trial"}"#,
            br#"{"iss":"i","sub":"s","iat":1,"exp":2,"lt":"forever"}"#,
            br#"{"iss":"i","sub":"s","iat":1,"exp":2,"lt":"trial","max_clusters":-1}"#,
            b"not json",
        ] {
            assert!(
                matches!(Claims::from_json(bad), Err(LicenseError::Claims(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
