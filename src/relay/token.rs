//! Per-cluster bootstrap tokens: random, stored only as a sha256 hash, compared in
//! constant time, single use.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A bootstrap token in clear text. Never logged: Debug is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct BootstrapToken(String);

impl BootstrapToken {
    /// 32 random bytes, base64url without padding (43 characters).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Wraps a token read from a file, a flag or a Secret (surrounding whitespace removed).
    pub fn from_text(text: &str) -> Self {
        Self(text.trim().to_string())
    }

    /// The clear text, for handing to the agent (a file, a Secret) and for sending.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl std::fmt::Debug for BootstrapToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BootstrapToken(<redacted>)")
    }
}

/// sha256 of a token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    /// Constant-time comparison with the hash of a presented token.
    pub fn matches(&self, presented: &str) -> bool {
        let other = Self::of(presented);
        self.0.ct_eq(&other.0).into()
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = hex::decode(text.trim()).ok()?;
        let arr: [u8; 32] = bytes.try_into().ok()?;
        Some(Self(arr))
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash(<redacted>)")
    }
}

/// The stored state of one cluster's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenRecord {
    pub hash: TokenHash,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds at which a certificate was issued against this token.
    pub consumed_at: Option<i64>,
}

/// Why a presented token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum TokenError {
    #[error("no bootstrap token was issued for cluster {0:?} (register the cluster first)")]
    NotIssued(String),
    #[error("the bootstrap token is not valid for cluster {0:?}")]
    Mismatch(String),
    #[error(
        "the bootstrap token for cluster {0:?} was already used to issue a certificate; re-issue a token to bootstrap again"
    )]
    AlreadyUsed(String),
}

/// Decides whether `presented` may bootstrap `cluster` given its record; pure.
pub fn check(
    cluster: &str,
    record: Option<&TokenRecord>,
    presented: &str,
) -> Result<(), TokenError> {
    let Some(record) = record else {
        return Err(TokenError::NotIssued(cluster.to_string()));
    };
    if !record.hash.matches(presented) {
        return Err(TokenError::Mismatch(cluster.to_string()));
    }
    if record.consumed_at.is_some() {
        return Err(TokenError::AlreadyUsed(cluster.to_string()));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_redacted() {
        let a = BootstrapToken::generate();
        let b = BootstrapToken::generate();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 43);
        assert!(!format!("{a:?}").contains(a.expose()));
        assert!(!format!("{:?}", a.hash()).contains(&a.hash().to_hex()));
    }

    #[test]
    fn check_covers_every_case() {
        let t = BootstrapToken::generate();
        let mut rec = TokenRecord {
            hash: t.hash(),
            issued_at: 1,
            consumed_at: None,
        };
        assert_eq!(check("c", Some(&rec), t.expose()), Ok(()));
        assert_eq!(
            check("c", Some(&rec), "wrong"),
            Err(TokenError::Mismatch("c".into()))
        );
        assert_eq!(
            check("c", None, t.expose()),
            Err(TokenError::NotIssued("c".into()))
        );
        rec.consumed_at = Some(2);
        assert_eq!(
            check("c", Some(&rec), t.expose()),
            Err(TokenError::AlreadyUsed("c".into()))
        );
        // a wrong token never learns that the real one was used
        assert_eq!(
            check("c", Some(&rec), "wrong"),
            Err(TokenError::Mismatch("c".into()))
        );
    }

    #[test]
    fn hex_round_trip() {
        let h = TokenHash::of("x");
        assert_eq!(TokenHash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(TokenHash::from_hex("zz"), None);
    }
}
