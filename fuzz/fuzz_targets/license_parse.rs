//! Fuzzes the license key parser and verifier with arbitrary input.
//!
//! Invariants: nothing panics; the only inputs that verify are the key signed
//! by the fuzz issuer and the (expired) test fixture signed by the built-in
//! meshctl-dev key, up to surrounding whitespace, so no mutation of a valid
//! key is ever accepted.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use meshctl_core::license::{
    CheckOptions, IssuerKeyPair, IssuerPublicKey, KeyOrigin, LicenseReport, LicenseRequest,
    LicenseType, Module, Product, TrustedIssuers, issue, jws, verify,
};

/// Signed by the built-in meshctl-dev issuer key; expired.
const DEV_FIXTURE: &str = include_str!("../../tests/fixtures/license/builtin-dev-expired.jwt");

struct Setup {
    trusted: TrustedIssuers,
    valid_key: String,
    now: jiff::Timestamp,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let pair = IssuerKeyPair::from_seed(&[7u8; 32]);
        let issued_at = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let request = LicenseRequest {
            issuer: "fuzz".into(),
            licensee: "Fuzz Corp".into(),
            license_type: LicenseType::Enterprise,
            products: vec![Product::Mesh, Product::Gateway],
            modules: vec![Module::Graphql],
            max_clusters: Some(3),
            issued_at,
            expires_at: jiff::Timestamp::from_second(1_900_000_000).unwrap(),
        };
        let valid_key = issue(&request, &pair).unwrap();
        let mut trusted = TrustedIssuers::builtin().unwrap();
        trusted.add(pair.public_key(), KeyOrigin::Builtin);
        Setup {
            trusted,
            valid_key,
            now: issued_at,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let s = setup();
    let _ = jws::parse(input);
    match verify(input, &s.trusted) {
        Ok(_) => assert!(
            input.trim() == s.valid_key || input.trim() == DEV_FIXTURE.trim(),
            "a key other than the issued ones verified"
        ),
        Err(err) => {
            // Errors never repeat the input back at length.
            let message = err.to_string();
            assert!(message.len() < 400, "overlong error: {message}");
        }
    }
    let report = LicenseReport::check(input, &s.trusted, s.now, CheckOptions::default());
    assert_eq!(report.valid, input.trim() == s.valid_key);
    let _ = IssuerPublicKey::from_spki_pem(input);
    let _ = IssuerKeyPair::from_pkcs8_pem(input);
});
