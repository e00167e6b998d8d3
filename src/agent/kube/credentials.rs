//! The agent's relay credentials in Secrets of its namespace (DESIGN.md §2):
//! `relay-client-tls-secret` (`tls.crt`, `tls.key`, `ca.crt`; written by the agent
//! after bootstrap and renewal), the bootstrap token in `relay-identity-token`
//! (`token`) and the root CA in `relay-root-tls-secret` (`ca.crt`).

use crate::agent::credentials::{Credentials, CredentialsBackend, CredentialsError};
use crate::agent::kube::ownership::FIELD_MANAGER;
use crate::agent::run::TokenProvider;
use crate::relay::token::BootstrapToken;
use crate::server::kube::call::{DEFAULT_CALL_TIMEOUT, timed};
use async_trait::async_trait;
use base64::Engine;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use std::path::PathBuf;
use std::time::Duration;

/// The Secret the agent writes its client certificate to.
pub const CLIENT_SECRET: &str = "relay-client-tls-secret";
/// The Secret `cluster register` copies the bootstrap token to.
pub const TOKEN_SECRET: &str = "relay-identity-token";
/// The Secret `cluster register` copies the relay root CA to.
pub const ROOT_CA_SECRET: &str = "relay-root-tls-secret";

fn io(namespace: &str, name: &str, message: impl std::fmt::Display) -> CredentialsError {
    CredentialsError::Io {
        path: PathBuf::from(format!("secret/{namespace}/{name}")),
        message: message.to_string(),
    }
}

/// One data entry of a Secret as text.
fn entry(secret: &Secret, key: &str) -> Option<String> {
    let bytes = secret.data.as_ref()?.get(key)?;
    String::from_utf8(bytes.0.clone()).ok()
}

async fn get(
    api: &Api<Secret>,
    namespace: &str,
    name: &str,
    timeout: Duration,
) -> Result<Option<Secret>, CredentialsError> {
    timed(
        format!("secret {namespace}/{name}"),
        timeout,
        api.get_opt(name),
    )
    .await
    .map_err(|e| io(namespace, name, e))
}

/// Reads `ca.crt` of `relay-root-tls-secret` (or `name`) in `namespace`.
pub async fn read_root_ca(
    client: kube::Client,
    namespace: &str,
    name: &str,
) -> Result<String, CredentialsError> {
    let api: Api<Secret> = Api::namespaced(client, namespace);
    let secret = get(&api, namespace, name, DEFAULT_CALL_TIMEOUT)
        .await?
        .ok_or_else(|| io(namespace, name, "not found (run meshctl cluster register)"))?;
    entry(&secret, "ca.crt").ok_or_else(|| io(namespace, name, "has no 'ca.crt' entry"))
}

/// Client credentials in a Secret.
#[derive(Clone)]
pub struct SecretCredentialsStore {
    api: Api<Secret>,
    namespace: String,
    name: String,
    timeout: Duration,
}

impl std::fmt::Debug for SecretCredentialsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl SecretCredentialsStore {
    /// Credentials in `relay-client-tls-secret` of `namespace`.
    pub fn new(client: kube::Client, namespace: &str) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_string(),
            name: CLIENT_SECRET.to_string(),
            timeout: DEFAULT_CALL_TIMEOUT,
        }
    }
}

#[async_trait]
impl CredentialsBackend for SecretCredentialsStore {
    async fn load(&self, cluster: &str) -> Result<Option<Credentials>, CredentialsError> {
        let Some(secret) = get(&self.api, &self.namespace, &self.name, self.timeout).await? else {
            return Ok(None);
        };
        let (Some(chain), Some(key)) = (entry(&secret, "tls.crt"), entry(&secret, "tls.key"))
        else {
            return Ok(None);
        };
        Credentials::new(cluster, chain, key).map(Some)
    }

    /// Server-side applies the Secret (created or updated in one call).
    async fn save(&self, creds: &Credentials, ca_pem: &str) -> Result<(), CredentialsError> {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let secret = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": {
                    "app.kubernetes.io/managed-by": "meshctl",
                    "app.kubernetes.io/part-of": "meshctl",
                    "app.kubernetes.io/component": "agent",
                },
            },
            "type": "kubernetes.io/tls",
            "data": {
                "tls.crt": b64(&creds.identity.chain_pem),
                "tls.key": b64(&creds.identity.key_pem),
                "ca.crt": b64(ca_pem),
            },
        });
        let params = PatchParams::apply(FIELD_MANAGER).force();
        timed(
            format!("secret {}/{}", self.namespace, self.name),
            self.timeout,
            self.api.patch(&self.name, &params, &Patch::Apply(&secret)),
        )
        .await
        .map(|_| ())
        .map_err(|e| io(&self.namespace, &self.name, e))
    }

    fn describe(&self) -> String {
        format!("secret {}/{}", self.namespace, self.name)
    }
}

/// The bootstrap token in a Secret (`relay-identity-token`, key `token`), read at each
/// bootstrap attempt so that a re-issued token is picked up.
#[derive(Clone)]
pub struct SecretTokenSource {
    api: Api<Secret>,
    namespace: String,
    name: String,
}

impl std::fmt::Debug for SecretTokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl SecretTokenSource {
    /// The token in Secret `name` (normally `relay-identity-token`) of `namespace`.
    pub fn new(client: kube::Client, namespace: &str, name: &str) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

#[async_trait]
impl TokenProvider for SecretTokenSource {
    async fn read(&self) -> Result<BootstrapToken, String> {
        let secret = get(&self.api, &self.namespace, &self.name, DEFAULT_CALL_TIMEOUT)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!(
                    "{} not found (run meshctl cluster register)",
                    self.describe()
                )
            })?;
        let text = entry(&secret, "token")
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| format!("{} has no 'token' entry", self.describe()))?;
        Ok(BootstrapToken::from_text(&text))
    }

    fn describe(&self) -> String {
        format!("secret {}/{}", self.namespace, self.name)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::check::testing::{MockApi, status};
    use crate::relay::pki::{CertAuthority, default_server_sans, generate, generate_agent_key};
    use serde_json::{Value, json};
    use std::sync::{Arc, Mutex};

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[tokio::test]
    async fn credentials_round_trip_through_the_client_secret() {
        let now = time::OffsetDateTime::now_utc();
        let m = generate(&default_server_sans(), now).unwrap();
        let ca = CertAuthority::from_material(&m).unwrap();
        let key = generate_agent_key("c1").unwrap();
        let issued = ca
            .issue_client_cert("c1", &key.csr_der, Duration::from_secs(3600), now)
            .unwrap();
        let creds = Credentials::new("c1", issued.chain_pem, key.key_pem).unwrap();

        let stored: Arc<Mutex<Option<Value>>> = Arc::default();
        let st = stored.clone();
        let api = MockApi::start(move |method, path, body| {
            assert!(
                path.starts_with("/api/v1/namespaces/mesh-system/secrets/relay-client-tls-secret"),
                "{path}"
            );
            match method {
                "GET" => match st.lock().unwrap().clone() {
                    Some(s) => (200, s),
                    None => (404, status(404, "NotFound", "not found")),
                },
                "PATCH" => {
                    assert!(path.contains("fieldManager=meshctl-agent"), "{path}");
                    *st.lock().unwrap() = Some(body.clone());
                    (200, body.clone())
                }
                _ => (405, status(405, "MethodNotAllowed", "no")),
            }
        });
        let store = SecretCredentialsStore::new(api.client(), "mesh-system");
        assert!(store.load("c1").await.unwrap().is_none());
        store.save(&creds, &m.root_ca_pem).await.unwrap();
        let written = stored.lock().unwrap().clone().unwrap();
        assert_eq!(written["data"]["ca.crt"], b64(&m.root_ca_pem));
        assert_eq!(written["type"], "kubernetes.io/tls");
        let loaded = store.load("c1").await.unwrap().unwrap();
        assert_eq!(loaded.not_after, creds.not_after);
        assert!(
            store.load("c2").await.is_err(),
            "a certificate of another cluster"
        );
        assert!(!format!("{store:?}").contains("BEGIN"));
    }

    #[tokio::test]
    async fn token_and_root_ca_come_from_their_secrets() {
        let api = MockApi::start(|_, path, _| match path {
            "/api/v1/namespaces/mesh-system/secrets/relay-identity-token" => (
                200,
                json!({
                "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "relay-identity-token"},
                "data": {"token": b64("tok-1\n")}}),
            ),
            "/api/v1/namespaces/mesh-system/secrets/relay-root-tls-secret" => (
                200,
                json!({
                "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "relay-root-tls-secret"},
                "data": {"ca.crt": b64("PEM")}}),
            ),
            _ => (404, status(404, "NotFound", "not found")),
        });
        let source = SecretTokenSource::new(api.client(), "mesh-system", TOKEN_SECRET);
        assert_eq!(source.read().await.unwrap().expose(), "tok-1");
        let missing = SecretTokenSource::new(api.client(), "mesh-system", "nope");
        let err = missing.read().await.unwrap_err();
        assert!(err.contains("not found"), "{err}");
        assert_eq!(
            read_root_ca(api.client(), "mesh-system", ROOT_CA_SECRET)
                .await
                .unwrap(),
            "PEM"
        );
    }
}
