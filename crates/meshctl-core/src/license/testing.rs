//! Shared fixtures for the licensing unit tests.

#[cfg(test)]
use std::sync::OnceLock;

use jiff::Timestamp;

use super::jws;
use super::keys::IssuerKeyPair;
use super::trusted::{KeyOrigin, TrustedIssuers};

/// Signs arbitrary claims JSON with `pair`, bypassing claim validation.
pub fn sign_raw(pair: &IssuerKeyPair, claims_json: &str) -> String {
    let input = jws::signing_input(pair.kid(), claims_json.as_bytes()).unwrap();
    jws::assemble(&input, &pair.sign(input.as_bytes()))
}

/// A key for `products` and `modules`, issued an hour before `now` and valid for `valid_for`, signed
/// by a fresh issuer; with the issuers that trust it (that issuer alone).
pub fn key_from_fresh_issuer(
    products: &[super::Product],
    modules: &[super::Module],
    now: Timestamp,
    valid_for: jiff::SignedDuration,
) -> (String, TrustedIssuers) {
    let pair = IssuerKeyPair::generate();
    let key = super::issue(
        &super::LicenseRequest {
            issuer: "test".into(),
            licensee: "Test".into(),
            license_type: super::LicenseType::Enterprise,
            products: products.to_vec(),
            modules: modules.to_vec(),
            max_clusters: None,
            issued_at: now - jiff::SignedDuration::from_hours(1),
            expires_at: now + valid_for,
        },
        &pair,
    )
    .unwrap();
    let mut trusted = TrustedIssuers::empty();
    trusted.add(pair.public_key(), KeyOrigin::File("t.pem".into()));
    (key, trusted)
}

/// An issuer key trusted from a file, and a one-year mesh license it signs.
#[cfg(test)]
pub(crate) struct Fixture {
    pub pair: IssuerKeyPair,
    pub trusted: TrustedIssuers,
    pub iat: i64,
}

#[cfg(test)]
impl Fixture {
    pub fn new() -> Self {
        let pair = IssuerKeyPair::generate();
        let mut trusted = TrustedIssuers::builtin().unwrap();
        trusted.add(pair.public_key(), KeyOrigin::File("issuer.pem".into()));
        Self {
            pair,
            trusted,
            iat: 1_800_000_000,
        }
    }

    /// One fixture for the whole test binary (property tests run many cases).
    pub fn shared() -> &'static Fixture {
        static SHARED: OnceLock<Fixture> = OnceLock::new();
        SHARED.get_or_init(Fixture::new)
    }

    pub fn claims_json_with(&self, extra: &str) -> String {
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(",{extra}")
        };
        format!(
            r#"{{"iss":"test-issuer","sub":"Acme Corp","iat":{},"exp":{},"lt":"enterprise","products":["mesh"]{extra}}}"#,
            self.iat,
            self.iat + 365 * 86_400
        )
    }

    pub fn claims_json(&self) -> String {
        self.claims_json_with("")
    }

    pub fn valid_key(&self) -> String {
        sign_raw(&self.pair, &self.claims_json())
    }

    pub fn valid_key_signed_by(&self, other: &IssuerKeyPair) -> String {
        sign_raw(other, &self.claims_json())
    }

    /// A day after issue.
    pub fn now(&self) -> Timestamp {
        Timestamp::from_second(self.iat + 86_400).unwrap()
    }

    /// The expiry of [`Self::valid_key`].
    pub fn exp(&self) -> Timestamp {
        Timestamp::from_second(self.iat + 365 * 86_400).unwrap()
    }
}
