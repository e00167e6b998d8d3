//! Issuer keys: an Ed25519 key pair that signs licenses (PKCS#8 PEM) and its
//! public half that verifies them (SPKI PEM). A key's id (`kid`) is derived
//! from the public key, so the same key always has the same id.

use std::fmt;

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::spki::der::zeroize::Zeroizing;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

use super::error::LicenseError;
use super::jws::SIGNATURE_LEN;

/// How many bytes of the SHA-256 of a public key make up its `kid`.
const KID_BYTES: usize = 8;

/// The key id of a public key: the first 8 bytes of the SHA-256 of the raw
/// 32-byte Ed25519 public key, in lowercase hex (16 characters).
pub fn kid_of(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    hex::encode(&digest[..KID_BYTES])
}

/// An issuer's key pair; signs licenses. Its `Debug` output never shows the private key.
pub struct IssuerKeyPair {
    signing: SigningKey,
    kid: String,
}

impl IssuerKeyPair {
    /// A new random key pair (32 bytes from the operating system's CSPRNG via `rand`).
    pub fn generate() -> Self {
        let seed = Zeroizing::new(rand::random::<[u8; 32]>());
        Self::from_seed(&seed)
    }

    /// The key pair for a 32-byte Ed25519 secret key.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self::from_signing_key(SigningKey::from_bytes(seed))
    }

    fn from_signing_key(signing: SigningKey) -> Self {
        let kid = kid_of(&signing.verifying_key());
        Self { signing, kid }
    }

    /// Reads a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, LicenseError> {
        SigningKey::from_pkcs8_pem(pem.trim())
            .map(Self::from_signing_key)
            .map_err(|e| LicenseError::PrivateKey {
                reason: format!("expected an Ed25519 PKCS#8 PEM private key ({e})"),
            })
    }

    /// Writes the private key as PKCS#8 PEM. The text is wiped from memory when dropped.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, LicenseError> {
        self.signing
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| LicenseError::Encode {
                what: "private key",
                reason: e.to_string(),
            })
    }

    /// The public half.
    pub fn public_key(&self) -> IssuerPublicKey {
        IssuerPublicKey {
            key: self.signing.verifying_key(),
            kid: self.kid.clone(),
        }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs `message` with Ed25519.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.signing.sign(message).to_bytes()
    }
}

impl fmt::Debug for IssuerKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerKeyPair")
            .field("kid", &self.kid)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

/// An issuer's public key; verifies licenses.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuerPublicKey {
    key: VerifyingKey,
    kid: String,
}

impl IssuerPublicKey {
    /// Reads an SPKI PEM public key (`-----BEGIN PUBLIC KEY-----`). Weak
    /// (small-order) keys are refused.
    pub fn from_spki_pem(pem: &str) -> Result<Self, LicenseError> {
        let key =
            VerifyingKey::from_public_key_pem(pem.trim()).map_err(|e| LicenseError::PublicKey {
                reason: format!("expected an Ed25519 SPKI PEM public key ({e})"),
            })?;
        Self::from_verifying_key(key)
    }

    /// Wraps a raw Ed25519 public key.
    pub fn from_verifying_key(key: VerifyingKey) -> Result<Self, LicenseError> {
        if key.is_weak() {
            return Err(LicenseError::PublicKey {
                reason: "the key is a weak (small-order) Ed25519 point".into(),
            });
        }
        Ok(Self {
            kid: kid_of(&key),
            key,
        })
    }

    /// Writes the key as SPKI PEM.
    pub fn to_spki_pem(&self) -> Result<String, LicenseError> {
        self.key
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| LicenseError::Encode {
                what: "public key",
                reason: e.to_string(),
            })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The raw 32-byte public key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// Whether `signature` is a valid Ed25519 signature of `message` by this key.
    /// Uses strict verification (no malleable or small-order signatures).
    pub fn verifies(&self, message: &[u8], signature: &[u8; SIGNATURE_LEN]) -> bool {
        let signature = Signature::from_bytes(signature);
        self.key.verify_strict(message, &signature).is_ok()
    }
}

impl fmt::Debug for IssuerPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerPublicKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trips_keep_the_kid() {
        let pair = IssuerKeyPair::generate();
        let private_pem = pair.to_pkcs8_pem().unwrap();
        assert!(private_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let again = IssuerKeyPair::from_pkcs8_pem(&private_pem).unwrap();
        assert_eq!(again.kid(), pair.kid());

        let public_pem = pair.public_key().to_spki_pem().unwrap();
        assert!(public_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        let public = IssuerPublicKey::from_spki_pem(&public_pem).unwrap();
        assert_eq!(public, pair.public_key());
        assert_eq!(public.kid(), pair.kid());
    }

    #[test]
    fn kid_is_deterministic_and_short() {
        let a = IssuerKeyPair::from_seed(&[1u8; 32]);
        let b = IssuerKeyPair::from_seed(&[1u8; 32]);
        let c = IssuerKeyPair::from_seed(&[2u8; 32]);
        assert_eq!(a.kid(), b.kid());
        assert_ne!(a.kid(), c.kid());
        assert_eq!(a.kid().len(), 2 * KID_BYTES);
        assert!(
            a.kid()
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    fn generated_keys_differ() {
        assert_ne!(
            IssuerKeyPair::generate().kid(),
            IssuerKeyPair::generate().kid()
        );
    }

    #[test]
    fn debug_never_shows_private_key_material() {
        let seed = [0xABu8; 32];
        let pair = IssuerKeyPair::from_seed(&seed);
        let debug = format!("{pair:?} {:#?}", pair);
        assert!(debug.contains(pair.kid()));
        assert!(debug.contains("<redacted>"));
        assert!(!debug.to_lowercase().contains(&hex::encode(seed)));
        assert!(!debug.contains("171, 171"));
        let pem = pair.to_pkcs8_pem().unwrap();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        assert!(!debug.contains(&body[..16]));
    }

    #[test]
    fn signs_and_verifies() {
        let pair = IssuerKeyPair::generate();
        let sig = pair.sign(b"hello");
        assert!(pair.public_key().verifies(b"hello", &sig));
        assert!(!pair.public_key().verifies(b"hellO", &sig));
        let other = IssuerKeyPair::generate();
        assert!(!other.public_key().verifies(b"hello", &sig));
    }

    #[test]
    fn wrong_pem_kinds_are_refused_without_echoing_them() {
        let pair = IssuerKeyPair::generate();
        let private_pem = pair.to_pkcs8_pem().unwrap();
        let public_pem = pair.public_key().to_spki_pem().unwrap();

        let err = IssuerKeyPair::from_pkcs8_pem(&public_pem).unwrap_err();
        assert!(matches!(err, LicenseError::PrivateKey { .. }));
        assert!(err.to_string().contains("PKCS#8"), "{err}");
        let public_body: String = public_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        assert!(!err.to_string().contains(&public_body[..16]));

        let err = IssuerPublicKey::from_spki_pem(&private_pem).unwrap_err();
        assert!(matches!(err, LicenseError::PublicKey { .. }));
        let body: String = private_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        assert!(!err.to_string().contains(&body[..16]));

        for junk in [
            "",
            "hello",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        ] {
            assert!(IssuerPublicKey::from_spki_pem(junk).is_err(), "{junk:?}");
            assert!(IssuerKeyPair::from_pkcs8_pem(junk).is_err(), "{junk:?}");
        }
    }

    #[test]
    fn weak_public_keys_are_refused() {
        // The identity point (0,1) encodes as 0x01 followed by zeros: small order.
        let mut bytes = [0u8; 32];
        bytes[0] = 1;
        let weak = VerifyingKey::from_bytes(&bytes).unwrap();
        assert!(matches!(
            IssuerPublicKey::from_verifying_key(weak),
            Err(LicenseError::PublicKey { .. })
        ));
    }
}
