//! Verifying a license key against trusted issuer keys.
//!
//! Order: form (size, segments, base64, header) → issuer key by `kid` →
//! Ed25519 signature → claims. Claims are read only after the signature holds.

use jiff::Timestamp;

use super::claims::Claims;
use super::entitlements::Entitlements;
use super::error::{LicenseError, echo};
use super::jws;
use super::trusted::{KeyOrigin, TrustedIssuers};

/// A license whose signature was made by a trusted issuer and whose claims are valid.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedLicense {
    kid: String,
    origin: KeyOrigin,
    claims: Claims,
    entitlements: Entitlements,
}

impl VerifiedLicense {
    /// Id of the issuer key that signed the license.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Where the trusted key that verified it came from.
    pub fn origin(&self) -> &KeyOrigin {
        &self.origin
    }

    /// The claims as signed, including unknown ones.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// What the license grants.
    pub fn entitlements(&self) -> &Entitlements {
        &self.entitlements
    }
}

/// Verifies `key` (a compact JWS) against `trusted`, without looking at the time:
/// an expired but authentic license verifies (see [`verify_at`]).
pub fn verify(key: &str, trusted: &TrustedIssuers) -> Result<VerifiedLicense, LicenseError> {
    let jws = jws::parse(key)?;
    let issuer = trusted
        .get(&jws.kid)
        .ok_or_else(|| LicenseError::UnknownKid {
            kid: echo(&jws.kid),
        })?;
    if !issuer
        .key
        .verifies(jws.signing_input.as_bytes(), &jws.signature)
    {
        return Err(LicenseError::BadSignature {
            kid: echo(&jws.kid),
        });
    }
    let claims = Claims::from_json(&jws.payload)?;
    let entitlements = Entitlements::from_claims(&claims)?;
    Ok(VerifiedLicense {
        kid: jws.kid,
        origin: issuer.origin.clone(),
        claims,
        entitlements,
    })
}

/// Verifies `key` and checks that it may be used at `now` (not expired, not
/// issued in the future).
pub fn verify_at(
    key: &str,
    trusted: &TrustedIssuers,
    now: Timestamp,
) -> Result<VerifiedLicense, LicenseError> {
    let license = verify(key, trusted)?;
    license.entitlements.check_time(now)?;
    Ok(license)
}

/// The `kid` a key's header names, if its form is valid; for reporting which
/// issuer a refused key claims to come from. Nothing else is trusted.
pub fn claimed_kid(key: &str) -> Option<String> {
    jws::parse(key).ok().map(|jws| echo(&jws.kid))
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use proptest::prelude::*;
    use sha2::{Digest as _, Sha256};

    use super::*;
    use crate::license::keys::IssuerKeyPair;
    use crate::license::testing::{Fixture, sign_raw};

    #[test]
    fn a_valid_key_verifies() {
        let f = Fixture::new();
        let license = verify(&f.valid_key(), &f.trusted).unwrap();
        assert_eq!(license.kid(), f.pair.kid());
        assert_eq!(license.entitlements().licensee(), "Acme Corp");
        assert_eq!(license.origin(), &KeyOrigin::File("issuer.pem".into()));
        assert!(verify_at(&f.valid_key(), &f.trusted, f.now()).is_ok());
    }

    #[test]
    fn unknown_claims_are_preserved_and_ignored() {
        let f = Fixture::new();
        let key = sign_raw(&f.pair, &f.claims_json_with(r#""region":"eu","seats":10"#));
        let license = verify(&key, &f.trusted).unwrap();
        assert_eq!(license.claims().extra["region"], serde_json::json!("eu"));
        assert_eq!(license.claims().extra["seats"], serde_json::json!(10));
    }

    #[test]
    fn unknown_kid_is_refused() {
        let f = Fixture::new();
        let stranger = IssuerKeyPair::generate();
        let key = f.valid_key_signed_by(&stranger);
        assert_eq!(
            verify(&key, &f.trusted),
            Err(LicenseError::UnknownKid {
                kid: stranger.kid().into()
            })
        );
        // Nothing is trusted when the set is empty.
        assert!(matches!(
            verify(&f.valid_key(), &TrustedIssuers::empty()),
            Err(LicenseError::UnknownKid { .. })
        ));
    }

    #[test]
    fn a_trusted_kid_with_another_keys_signature_is_refused() {
        let f = Fixture::new();
        let forger = IssuerKeyPair::generate();
        // Header names the trusted kid, but the forger signs.
        let input = jws::signing_input(f.pair.kid(), f.claims_json().as_bytes()).unwrap();
        let key = jws::assemble(&input, &forger.sign(input.as_bytes()));
        assert_eq!(
            verify(&key, &f.trusted),
            Err(LicenseError::BadSignature {
                kid: f.pair.kid().into()
            })
        );
    }

    #[test]
    fn flipped_payload_byte_is_refused() {
        let f = Fixture::new();
        let key = f.valid_key();
        let (header, rest) = key.split_once('.').unwrap();
        let (payload, signature) = rest.split_once('.').unwrap();
        let mut claims = URL_SAFE_NO_PAD.decode(payload).unwrap();
        // Turn "Acme Corp" into "Acme Cors": still valid JSON, different licensee.
        let at = claims.windows(4).position(|w| w == b"Corp").unwrap() + 3;
        claims[at] ^= 0x03;
        let tampered = format!("{header}.{}.{signature}", URL_SAFE_NO_PAD.encode(&claims));
        assert!(matches!(
            verify(&tampered, &f.trusted),
            Err(LicenseError::BadSignature { .. })
        ));
    }

    #[test]
    fn upgraded_products_are_refused() {
        let f = Fixture::new();
        let key = f.valid_key();
        let (header, rest) = key.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        let upgraded = f
            .claims_json()
            .replace(r#"["mesh"]"#, r#"["mesh","gateway","network"]"#);
        let forged = format!("{header}.{}.{signature}", URL_SAFE_NO_PAD.encode(upgraded));
        assert!(matches!(
            verify(&forged, &f.trusted),
            Err(LicenseError::BadSignature { .. })
        ));
    }

    #[test]
    fn truncated_signature_is_refused() {
        let f = Fixture::new();
        let key = f.valid_key();
        for cut in 1..=86 {
            let truncated = &key[..key.len() - cut];
            let err = verify(truncated, &f.trusted).unwrap_err();
            assert!(
                matches!(
                    err,
                    LicenseError::Base64 { .. } | LicenseError::SignatureLength { .. }
                ),
                "cut {cut}: {err}"
            );
        }
    }

    fn hmac_sha256(secret: &[u8], message: &[u8]) -> [u8; 32] {
        let mut block = [0u8; 64];
        if secret.len() > 64 {
            block[..32].copy_from_slice(&Sha256::digest(secret));
        } else {
            block[..secret.len()].copy_from_slice(secret);
        }
        let inner_pad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
        let outer_pad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
        let inner = Sha256::new()
            .chain_update(&inner_pad)
            .chain_update(message)
            .finalize();
        Sha256::new()
            .chain_update(&outer_pad)
            .chain_update(inner)
            .finalize()
            .into()
    }

    #[test]
    fn hmac_helper_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn hs256_with_the_public_key_as_secret_is_refused() {
        let f = Fixture::new();
        let public_pem = f.pair.public_key().to_spki_pem().unwrap();
        let raw = *f.pair.public_key().as_bytes();
        for secret in [public_pem.as_bytes(), &raw[..]] {
            let header = format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{}"}}"#, f.pair.kid());
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(f.claims_json())
            );
            let mac = hmac_sha256(secret, input.as_bytes());
            let key = format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac));
            assert_eq!(
                verify(&key, &f.trusted),
                Err(LicenseError::UnsupportedAlg {
                    alg: "HS256".into()
                })
            );
        }
    }

    #[test]
    fn alg_none_is_refused() {
        let f = Fixture::new();
        let header = format!(r#"{{"alg":"none","typ":"JWT","kid":"{}"}}"#, f.pair.kid());
        let key = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(f.claims_json())
        );
        assert_eq!(
            verify(&key, &f.trusted),
            Err(LicenseError::UnsupportedAlg { alg: "none".into() })
        );
    }

    #[test]
    fn validly_signed_but_invalid_claims_are_refused() {
        let f = Fixture::new();
        let iat = f.iat;
        let cases = [
            (
                format!(
                    r#"{{"iss":"t","sub":"s","iat":{iat},"exp":{},"lt":"trial","products":["mesh"]}}"#,
                    iat - 1
                ),
                "ExpBeforeIat",
            ),
            (
                format!(
                    r#"{{"iss":"t","sub":"s","iat":{iat},"exp":{},"lt":"trial","products":["network"],"modules":["graphql"]}}"#,
                    iat + 100
                ),
                "ModuleWithoutProduct",
            ),
            (
                format!(
                    r#"{{"iss":"t","sub":"s","iat":{iat},"exp":{},"lt":"trial","products":["mesh","istio"]}}"#,
                    iat + 100
                ),
                "UnknownProduct",
            ),
            (r#"{"iss":"t"}"#.to_owned(), "Claims"),
        ];
        for (claims, expected) in cases {
            let err = verify(&sign_raw(&f.pair, &claims), &f.trusted).unwrap_err();
            assert!(
                format!("{err:?}").starts_with(expected),
                "{claims}: {err:?}"
            );
        }
    }

    #[test]
    fn verify_at_checks_time() {
        let f = Fixture::new();
        let key = f.valid_key();
        let exp = f.exp();
        assert!(matches!(
            verify_at(&key, &f.trusted, exp),
            Err(LicenseError::Expired { .. })
        ));
        let early = Timestamp::from_second(f.iat - 86_400).unwrap();
        assert!(matches!(
            verify_at(&key, &f.trusted, early),
            Err(LicenseError::NotYetValid { .. })
        ));
        // Expired keys still verify without a time.
        assert!(verify(&key, &f.trusted).is_ok());
    }

    #[test]
    fn errors_never_contain_key_text() {
        let f = Fixture::new();
        let key = f.valid_key();
        let public_pem = f.pair.public_key().to_spki_pem().unwrap();
        let private_pem = f.pair.to_pkcs8_pem().unwrap();
        let mut bad_inputs = vec![
            key.replace('.', ""),
            format!("{key}."),
            key[..key.len() - 2].to_owned(),
            key.replacen('e', "f", 1),
        ];
        bad_inputs.push(f.valid_key_signed_by(&IssuerKeyPair::generate()));
        for input in bad_inputs {
            let err = verify(&input, &f.trusted).unwrap_err().to_string();
            for part in input.split('.').filter(|p| p.len() > 8) {
                assert!(!err.contains(part), "{err}");
            }
            for line in public_pem.lines().chain(private_pem.lines()) {
                assert!(!err.contains(line), "{err}");
            }
        }
    }

    #[test]
    fn claimed_kid_only_for_well_formed_keys() {
        let f = Fixture::new();
        assert_eq!(claimed_kid(&f.valid_key()).as_deref(), Some(f.pair.kid()));
        assert_eq!(claimed_kid("a.b"), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any single-byte change to a valid key makes it fail verification.
        #[test]
        fn any_single_byte_change_is_rejected(index in any::<prop::sample::Index>(), replacement in any::<u8>()) {
            let f = Fixture::shared();
            let key = f.valid_key();
            let mut bytes = key.clone().into_bytes();
            let i = index.index(bytes.len());
            prop_assume!(bytes[i] != replacement);
            bytes[i] = replacement;
            // Invalid UTF-8 can never reach the verifier through &str; treat it as refused.
            if let Ok(changed) = String::from_utf8(bytes) {
                prop_assert!(verify(&changed, &f.trusted).is_err(), "accepted: byte {} -> {:#04x}", i, replacement);
            }
        }

        /// Arbitrary input never panics and is never accepted.
        #[test]
        fn arbitrary_input_is_refused(input in ".{0,300}") {
            let f = Fixture::shared();
            prop_assert!(verify(&input, &f.trusted).is_err());
        }
    }
}
