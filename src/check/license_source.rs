//! The license the license check reads: the key stored in the install namespace, verified by a
//! [`LicenseVerifier`] (the license module's Ed25519 verification plugs in there). Behind
//! [`LicenseSource`] so other sources (the server's admin API, a test) plug in.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;

use super::cluster::{ApiError, ClusterAccess};

/// Secret holding the license key in the install namespace, and the key inside it.
pub use crate::license::{LICENSE_SECRET_KEY, LICENSE_SECRET_NAME as LICENSE_SECRET};

/// A verified license, as far as the check needs it. Holds no key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseStatus {
    /// `sub`: who the license is for.
    pub licensee: String,
    /// `lt`: `trial` or `enterprise`.
    pub license_type: String,
    /// Licensed products (`mesh`, `gateway`, `network`).
    pub products: Vec<String>,
    pub expires_at: Timestamp,
}

/// What the source found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LicenseState {
    /// No license is installed; `location` says where one was looked for.
    Missing { location: String },
    /// A key is installed but does not verify (bad signature, unknown issuer, malformed).
    Invalid { location: String, reason: String },
    /// A key that verifies (it may still be expired: the check compares with the clock).
    Verified {
        location: String,
        status: LicenseStatus,
    },
}

/// Why the license could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LicenseSourceError {
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl LicenseSourceError {
    pub fn hint(&self) -> String {
        match self {
            LicenseSourceError::Api(e) => e.hint(),
        }
    }
}

/// Where the license check gets the installed license.
pub trait LicenseSource: Send + Sync {
    fn license(&self, attempt: u32) -> BoxFuture<'_, Result<LicenseState, LicenseSourceError>>;
}

/// Verifies a license key's signature and decodes its claims. The error text says why a key is
/// refused and must never contain the key.
pub trait LicenseVerifier: Send + Sync {
    fn verify(&self, key: &str) -> Result<LicenseStatus, String>;
}

/// The key in Secret `meshctl-license` (key `license-key`) of the install namespace, verified by
/// `verifier`.
pub struct SecretLicenseSource {
    cluster: Arc<ClusterAccess>,
    namespace: String,
    verifier: Arc<dyn LicenseVerifier>,
}

impl std::fmt::Debug for SecretLicenseSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretLicenseSource")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl SecretLicenseSource {
    pub fn new(
        cluster: Arc<ClusterAccess>,
        namespace: impl Into<String>,
        verifier: Arc<dyn LicenseVerifier>,
    ) -> Self {
        Self {
            cluster,
            namespace: namespace.into(),
            verifier,
        }
    }

    async fn read(&self, attempt: u32) -> Result<LicenseState, LicenseSourceError> {
        let location = format!(
            "Secret {}/{LICENSE_SECRET} key {LICENSE_SECRET_KEY}",
            self.namespace
        );
        let secret = self
            .cluster
            .get_namespaced::<Secret>(&self.namespace, LICENSE_SECRET, attempt)
            .await?;
        let key = secret.as_ref().and_then(|s| {
            s.data
                .as_ref()
                .and_then(|d| d.get(LICENSE_SECRET_KEY))
                .map(|b| String::from_utf8_lossy(&b.0).trim().to_string())
                .or_else(|| {
                    s.string_data
                        .as_ref()
                        .and_then(|d| d.get(LICENSE_SECRET_KEY))
                        .map(|v| v.trim().to_string())
                })
        });
        Ok(match key {
            None => LicenseState::Missing { location },
            Some(k) if k.is_empty() => LicenseState::Missing { location },
            Some(k) => match self.verifier.verify(&k) {
                Ok(status) => LicenseState::Verified { location, status },
                Err(reason) => LicenseState::Invalid { location, reason },
            },
        })
    }
}

impl LicenseSource for SecretLicenseSource {
    fn license(&self, attempt: u32) -> BoxFuture<'_, Result<LicenseState, LicenseSourceError>> {
        self.read(attempt).boxed()
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use serde_json::json;

    use super::*;
    use crate::check::testing::{MockApi, status};

    struct Prefix;

    impl LicenseVerifier for Prefix {
        fn verify(&self, key: &str) -> Result<LicenseStatus, String> {
            match key.strip_prefix("good:") {
                Some(who) => Ok(LicenseStatus {
                    licensee: who.to_string(),
                    license_type: "enterprise".into(),
                    products: vec!["mesh".into()],
                    expires_at: "2030-01-01T00:00:00Z".parse().unwrap(),
                }),
                None => Err("signature does not verify".into()),
            }
        }
    }

    fn secret(key: &str) -> serde_json::Value {
        let b64 = base64::engine::general_purpose::STANDARD.encode(key);
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "meshctl-license", "namespace": "mesh-system"},
               "data": {"license-key": b64}})
    }

    fn source(api: &MockApi) -> SecretLicenseSource {
        SecretLicenseSource::new(Arc::new(api.cluster()), "mesh-system", Arc::new(Prefix))
    }

    #[tokio::test]
    async fn verified_invalid_and_missing() {
        let api = MockApi::start(|method, path, _| {
            assert_eq!(
                (method, path),
                (
                    "GET",
                    "/api/v1/namespaces/mesh-system/secrets/meshctl-license"
                )
            );
            (200, secret("good:Acme\n"))
        });
        match source(&api).license(0).await.unwrap() {
            LicenseState::Verified { status, location } => {
                assert_eq!(status.licensee, "Acme");
                assert_eq!(
                    location,
                    "Secret mesh-system/meshctl-license key license-key"
                );
            }
            other => panic!("{other:?}"),
        }

        let api = MockApi::start(|_, _, _| (200, secret("forged")));
        assert!(matches!(
            source(&api).license(0).await.unwrap(),
            LicenseState::Invalid { .. }
        ));

        let api = MockApi::start(|_, _, _| {
            (
                404,
                status(404, "NotFound", "secrets \"meshctl-license\" not found"),
            )
        });
        assert!(matches!(
            source(&api).license(0).await.unwrap(),
            LicenseState::Missing { .. }
        ));
    }
}
