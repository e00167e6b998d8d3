//! Trusted issuers: the public keys license signatures are checked against.
//!
//! The keys compiled into the binary are always trusted. An operator may add
//! more explicitly (`--trusted-issuer FILE`, `MESHCTL_TRUSTED_ISSUERS`); every
//! trusted key is reported with its origin so that no one is misled about
//! which issuers a check accepted.

use std::fmt;
use std::path::PathBuf;

use serde::{Serialize, Serializer};

use super::error::LicenseError;
use super::keys::IssuerPublicKey;

/// The issuer public keys compiled into the binary: (name, SPKI PEM).
const BUILTIN: &[(&str, &str)] = &[(
    "meshctl-dev",
    include_str!("../../../../keys/meshctl-dev.pub.pem"),
)];

/// Where a trusted key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    /// Compiled into the binary.
    Builtin,
    /// A file named with `--trusted-issuer`.
    File(PathBuf),
    /// A file named in the `MESHCTL_TRUSTED_ISSUERS` environment variable.
    Env(PathBuf),
}

impl fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyOrigin::Builtin => f.write_str("builtin"),
            KeyOrigin::File(path) => write!(f, "file:{}", path.display()),
            KeyOrigin::Env(path) => write!(f, "env:{}", path.display()),
        }
    }
}

impl Serialize for KeyOrigin {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// One trusted issuer key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedIssuer {
    /// The key.
    pub key: IssuerPublicKey,
    /// Where it came from.
    pub origin: KeyOrigin,
}

/// What the report shows of a trusted issuer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustedIssuerSummary {
    /// Key id.
    pub kid: String,
    /// `builtin`, `file:PATH` or `env:PATH`.
    pub origin: KeyOrigin,
}

/// The set of trusted issuer keys, looked up by `kid`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedIssuers {
    issuers: Vec<TrustedIssuer>,
}

impl TrustedIssuers {
    /// No trusted keys at all.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The keys compiled into the binary.
    pub fn builtin() -> Result<Self, LicenseError> {
        let mut set = Self::empty();
        for (_name, pem) in BUILTIN {
            set.add_pem(pem, KeyOrigin::Builtin)?;
        }
        Ok(set)
    }

    /// Adds a public key given as SPKI PEM text. Returns its `kid`. A key that is
    /// already trusted keeps its first origin.
    pub fn add_pem(&mut self, pem: &str, origin: KeyOrigin) -> Result<String, LicenseError> {
        let key = IssuerPublicKey::from_spki_pem(pem)?;
        Ok(self.add(key, origin))
    }

    /// Adds a public key. Returns its `kid`. A key that is already trusted keeps
    /// its first origin.
    pub fn add(&mut self, key: IssuerPublicKey, origin: KeyOrigin) -> String {
        let kid = key.kid().to_owned();
        if self.get(&kid).is_none() {
            self.issuers.push(TrustedIssuer { key, origin });
        }
        kid
    }

    /// The trusted key with this id.
    pub fn get(&self, kid: &str) -> Option<&TrustedIssuer> {
        self.issuers.iter().find(|i| i.key.kid() == kid)
    }

    /// All trusted keys, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = &TrustedIssuer> {
        self.issuers.iter()
    }

    /// Number of trusted keys.
    pub fn len(&self) -> usize {
        self.issuers.len()
    }

    /// Whether no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }

    /// The `kid` and origin of every trusted key, for reports.
    pub fn summary(&self) -> Vec<TrustedIssuerSummary> {
        self.issuers
            .iter()
            .map(|i| TrustedIssuerSummary {
                kid: i.key.kid().to_owned(),
                origin: i.origin.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::license::keys::IssuerKeyPair;

    #[test]
    fn builtin_keys_parse_and_are_reported_as_builtin() {
        let set = TrustedIssuers::builtin().unwrap();
        assert_eq!(set.len(), BUILTIN.len());
        for s in set.summary() {
            assert_eq!(s.origin, KeyOrigin::Builtin);
            assert_eq!(s.kid.len(), 16);
        }
    }

    #[test]
    fn builtin_dev_key_has_its_published_kid() {
        let set = TrustedIssuers::builtin().unwrap();
        let kid = IssuerPublicKey::from_spki_pem(BUILTIN[0].1)
            .unwrap()
            .kid()
            .to_owned();
        assert_eq!(BUILTIN[0].0, "meshctl-dev");
        assert_eq!(kid, "a5184e1648734eeb", "documented in keys/README.md");
        assert!(set.get(&kid).is_some());
    }

    #[test]
    fn builtin_dev_key_verifies_a_license_it_signed() {
        // Signed with the meshctl-dev private key (kept outside the repository);
        // expired on purpose, so this fixture unlocks nothing.
        let key = include_str!("../../../../tests/fixtures/license/builtin-dev-expired.jwt");
        let set = TrustedIssuers::builtin().unwrap();
        let license = crate::license::verify(key, &set).unwrap();
        assert_eq!(license.kid(), "a5184e1648734eeb");
        assert_eq!(license.origin(), &KeyOrigin::Builtin);
        assert_eq!(license.entitlements().issuer(), "meshctl-dev");
        let after: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            license.entitlements().expiry_state(after),
            crate::license::ExpiryState::Expired
        );
        // Without the builtin key it is not trusted.
        assert!(crate::license::verify(key, &TrustedIssuers::empty()).is_err());
    }

    #[test]
    fn explicit_keys_are_added_with_their_origin() {
        let mut set = TrustedIssuers::builtin().unwrap();
        let pair = IssuerKeyPair::generate();
        let pem = pair.public_key().to_spki_pem().unwrap();
        let kid = set
            .add_pem(&pem, KeyOrigin::File("/etc/meshctl/issuer.pem".into()))
            .unwrap();
        assert_eq!(kid, pair.kid());
        let summary = set.summary();
        let last = summary.last().unwrap();
        assert_eq!(last.kid, pair.kid());
        assert_eq!(last.origin.to_string(), "file:/etc/meshctl/issuer.pem");
        assert_eq!(
            serde_json::to_value(last).unwrap(),
            serde_json::json!({"kid": pair.kid(), "origin": "file:/etc/meshctl/issuer.pem"})
        );
    }

    #[test]
    fn a_key_added_twice_keeps_its_first_origin() {
        let mut set = TrustedIssuers::builtin().unwrap();
        let before = set.len();
        set.add_pem(BUILTIN[0].1, KeyOrigin::Env("/tmp/dev.pem".into()))
            .unwrap();
        assert_eq!(set.len(), before);
        assert!(set.iter().all(|i| i.origin == KeyOrigin::Builtin));
    }

    #[test]
    fn origins_display() {
        assert_eq!(KeyOrigin::Builtin.to_string(), "builtin");
        assert_eq!(KeyOrigin::Env("/k.pem".into()).to_string(), "env:/k.pem");
    }

    #[test]
    fn invalid_pem_is_refused() {
        let mut set = TrustedIssuers::empty();
        assert!(matches!(
            set.add_pem("not a key", KeyOrigin::Builtin),
            Err(LicenseError::PublicKey { .. })
        ));
        assert!(set.is_empty());
    }
}
