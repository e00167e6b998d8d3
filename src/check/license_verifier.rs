//! The license check's verifier: Ed25519 verification against the trusted issuer keys
//! (`crate::license`). The check itself compares the expiry with its clock.

use super::license_source::{LicenseStatus, LicenseVerifier};
use crate::license::{TrustedIssuers, verify};

/// Verifies installed keys against a set of trusted issuer keys.
#[derive(Debug, Clone)]
pub struct TrustedIssuersVerifier {
    trusted: TrustedIssuers,
}

impl TrustedIssuersVerifier {
    pub fn new(trusted: TrustedIssuers) -> Self {
        Self { trusted }
    }
}

impl LicenseVerifier for TrustedIssuersVerifier {
    fn verify(&self, key: &str) -> Result<LicenseStatus, String> {
        let license = verify(key, &self.trusted).map_err(|e| e.to_string())?;
        let e = license.entitlements();
        Ok(LicenseStatus {
            licensee: e.licensee().to_owned(),
            license_type: e.license_type().to_string(),
            products: e.products().map(|p| p.to_string()).collect(),
            expires_at: e.expires_at(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::license::KeyOrigin;

    const KEY: &str = include_str!("../../tests/fixtures/license/test-issuer-2099.jwt");
    const ISSUER: &str = include_str!("../../tests/fixtures/license/test-issuer.pub.pem");

    fn verifier(trust_test_issuer: bool) -> TrustedIssuersVerifier {
        let mut trusted = TrustedIssuers::builtin().unwrap();
        if trust_test_issuer {
            trusted
                .add_pem(ISSUER, KeyOrigin::File("test-issuer.pub.pem".into()))
                .unwrap();
        }
        TrustedIssuersVerifier::new(trusted)
    }

    #[test]
    fn a_key_from_a_trusted_issuer_verifies() {
        let status = verifier(true).verify(KEY.trim()).unwrap();
        assert_eq!(status.licensee, "Check Test Corp");
        assert_eq!(status.license_type, "enterprise");
        assert_eq!(status.products, ["mesh", "gateway", "network"]);
        assert_eq!(status.expires_at.to_string(), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn refusals_say_why_without_the_key() {
        let reason = verifier(false).verify(KEY).unwrap_err();
        assert!(reason.contains("unknown issuer key"), "{reason}");
        let (input, sig) = KEY.trim().rsplit_once('.').unwrap();
        let flipped = if sig.starts_with('A') { 'B' } else { 'A' };
        let tampered = format!("{input}.{flipped}{}", &sig[1..]);
        let reason = verifier(true).verify(&tampered).unwrap_err();
        assert!(reason.contains("signature is invalid"), "{reason}");
        for part in tampered.split('.') {
            assert!(!reason.contains(part), "{reason}");
        }
    }

    #[test]
    fn an_expired_key_still_verifies_for_the_check_to_judge() {
        let dev = include_str!("../../tests/fixtures/license/builtin-dev-expired.jwt");
        let status = verifier(false).verify(dev).unwrap();
        assert_eq!(status.expires_at.to_string(), "2025-12-31T23:59:59Z");
    }
}
