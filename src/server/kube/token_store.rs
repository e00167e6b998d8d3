//! Bootstrap tokens in Secrets of the management cluster (DESIGN.md §2): Secret
//! `relay-identity-token-<cluster>` in the install namespace, data key `token` (clear
//! text, written by `meshctl cluster register`). The server compares hashes in constant
//! time and consumes a token by adding the annotation `meshctl.dev/token-consumed-at`
//! with a patch guarded by the Secret's resourceVersion, so two concurrent bootstraps
//! (two replicas) can never both consume it.

use crate::relay::identity::validate_cluster_name;
use crate::relay::token::{self, BootstrapToken, TokenError, TokenHash, TokenRecord};
use crate::server::kube::call::{CallError, DEFAULT_CALL_TIMEOUT, timed};
use crate::server::tokens::{TokenStore, TokenStoreError};
use async_trait::async_trait;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Prefix of a cluster's token Secret name.
pub const TOKEN_SECRET_PREFIX: &str = "relay-identity-token-";
/// Data key of the clear-text token.
pub const TOKEN_KEY: &str = "token";
/// Annotation set (RFC 3339) when a certificate was issued against the token.
pub const CONSUMED_AT: &str = "meshctl.dev/token-consumed-at";
/// How often a consume that lost a resourceVersion race is re-checked.
const CONSUME_ATTEMPTS: usize = 3;

/// The token Secret name of `cluster`.
pub fn secret_name(cluster: &str) -> String {
    format!("{TOKEN_SECRET_PREFIX}{cluster}")
}

/// The record a token Secret stands for; `None` when it holds no token. Pure.
pub fn record_of(secret: &Secret) -> Option<TokenRecord> {
    let text = secret.data.as_ref()?.get(TOKEN_KEY)?;
    let text = std::str::from_utf8(&text.0).ok()?.trim();
    if text.is_empty() {
        return None;
    }
    let issued_at = secret
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0.as_second())
        .unwrap_or(0);
    let consumed_at = secret
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(CONSUMED_AT))
        .map(|v| {
            v.parse::<jiff::Timestamp>()
                .map(|t| t.as_second())
                .unwrap_or(issued_at)
        });
    Some(TokenRecord {
        hash: TokenHash::of(text),
        issued_at,
        consumed_at,
    })
}

fn labels() -> BTreeMap<String, String> {
    use crate::manifests::labels::{COMPONENT, MANAGED_BY, MESHCTL, PART_OF};
    [
        (MANAGED_BY, MESHCTL),
        (PART_OF, MESHCTL),
        (COMPONENT, "relay"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Tokens in Secrets of one namespace.
#[derive(Clone)]
pub struct SecretTokenStore {
    api: Api<Secret>,
    namespace: String,
    timeout: Duration,
}

impl std::fmt::Debug for SecretTokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretTokenStore")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl SecretTokenStore {
    pub fn new(client: kube::Client, namespace: &str) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_string(),
            timeout: DEFAULT_CALL_TIMEOUT,
        }
    }

    /// The timeout of each API call (default 10 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn what(&self, cluster: &str) -> String {
        format!("secret {}/{}", self.namespace, secret_name(cluster))
    }

    fn err(&self, e: CallError) -> TokenStoreError {
        TokenStoreError::Io {
            path: PathBuf::from(format!("secret/{}", self.namespace)),
            message: e.to_string(),
        }
    }

    async fn get(&self, cluster: &str) -> Result<Option<Secret>, TokenStoreError> {
        let name = secret_name(cluster);
        timed(self.what(cluster), self.timeout, self.api.get_opt(&name))
            .await
            .map_err(|e| self.err(e))
    }

    fn token_secret(&self, cluster: &str, token: &BootstrapToken) -> Secret {
        Secret {
            metadata: ObjectMeta {
                name: Some(secret_name(cluster)),
                namespace: Some(self.namespace.clone()),
                labels: Some(labels()),
                ..ObjectMeta::default()
            },
            type_: Some("Opaque".into()),
            data: Some(BTreeMap::from([(
                TOKEN_KEY.to_string(),
                ByteString(token.expose().as_bytes().to_vec()),
            )])),
            ..Secret::default()
        }
    }
}

#[async_trait]
impl TokenStore for SecretTokenStore {
    /// Creates the Secret, or replaces the token of an existing one and removes its
    /// consumed annotation (re-issue).
    async fn issue(&self, cluster: &str) -> Result<BootstrapToken, TokenStoreError> {
        validate_cluster_name(cluster)?;
        let token = BootstrapToken::generate();
        let fresh = self.token_secret(cluster, &token);
        match self.get(cluster).await? {
            None => {
                timed(
                    self.what(cluster),
                    self.timeout,
                    self.api.create(&PostParams::default(), &fresh),
                )
                .await
                .map_err(|e| self.err(e))?;
            }
            Some(mut existing) => {
                existing.data = fresh.data;
                if let Some(a) = existing.metadata.annotations.as_mut() {
                    a.remove(CONSUMED_AT);
                }
                let name = secret_name(cluster);
                timed(
                    self.what(cluster),
                    self.timeout,
                    self.api.replace(&name, &PostParams::default(), &existing),
                )
                .await
                .map_err(|e| self.err(e))?;
            }
        }
        Ok(token)
    }

    async fn check(&self, cluster: &str, presented: &str) -> Result<(), TokenStoreError> {
        validate_cluster_name(cluster)?;
        let secret = self.get(cluster).await?;
        let record = secret.as_ref().and_then(record_of);
        Ok(token::check(cluster, record.as_ref(), presented)?)
    }

    async fn consume(&self, cluster: &str, presented: &str) -> Result<(), TokenStoreError> {
        validate_cluster_name(cluster)?;
        for _ in 0..CONSUME_ATTEMPTS {
            let secret = self.get(cluster).await?;
            let record = secret.as_ref().and_then(record_of);
            token::check(cluster, record.as_ref(), presented)?;
            let Some(version) = secret.and_then(|s| s.metadata.resource_version) else {
                return Err(TokenError::NotIssued(cluster.to_string()).into());
            };
            // The resourceVersion in the patch is a precondition: the API server
            // answers 409 when the Secret changed since it was read.
            let patch = serde_json::json!({
                "metadata": {
                    "resourceVersion": version,
                    "annotations": {CONSUMED_AT: jiff::Timestamp::now().to_string()},
                }
            });
            let name = secret_name(cluster);
            match timed(
                self.what(cluster),
                self.timeout,
                self.api
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch)),
            )
            .await
            {
                Ok(_) => return Ok(()),
                Err(e) if e.is_conflict() => {
                    tracing::debug!(%cluster, "token Secret changed while consuming; re-checking");
                }
                Err(e) if e.is_not_found() => {
                    return Err(TokenError::NotIssued(cluster.to_string()).into());
                }
                Err(e) => return Err(self.err(e)),
            }
        }
        Err(TokenStoreError::Io {
            path: PathBuf::from(format!("secret/{}", self.namespace)),
            message: format!(
                "{} kept changing while the token was being consumed",
                self.what(cluster)
            ),
        })
    }

    async fn is_registered(&self, cluster: &str) -> Result<bool, TokenStoreError> {
        if validate_cluster_name(cluster).is_err() {
            return Ok(false);
        }
        Ok(self.get(cluster).await?.is_some())
    }

    async fn remove(&self, cluster: &str) -> Result<(), TokenStoreError> {
        validate_cluster_name(cluster)?;
        let name = secret_name(cluster);
        match timed(
            self.what(cluster),
            self.timeout,
            self.api.delete(&name, &DeleteParams::default()),
        )
        .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(self.err(e)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::check::testing::{MockApi, status};
    use base64::Engine;
    use serde_json::{Value, json};
    use std::sync::{Arc, Mutex};

    const PATH: &str = "/api/v1/namespaces/mesh-system/secrets";

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn token_secret(token: &str, consumed: Option<&str>, rv: &str) -> Value {
        let mut meta = json!({"name": "relay-identity-token-c1", "namespace": "mesh-system",
            "resourceVersion": rv, "creationTimestamp": "2026-01-01T00:00:00Z"});
        if let Some(at) = consumed {
            meta["annotations"] = json!({CONSUMED_AT: at});
        }
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": {"token": b64(token)}})
    }

    fn store(api: &MockApi) -> SecretTokenStore {
        SecretTokenStore::new(api.client(), "mesh-system")
    }

    #[tokio::test]
    async fn check_compares_with_the_secret_and_refuses_consumed_tokens() {
        let api = MockApi::start(|method, path, _| match (method, path) {
            ("GET", p) if p == format!("{PATH}/relay-identity-token-c1") => {
                (200, token_secret("tok-1", None, "5"))
            }
            ("GET", p) if p == format!("{PATH}/relay-identity-token-used") => (
                200,
                token_secret("tok-2", Some("2026-01-02T00:00:00Z"), "6"),
            ),
            _ => (404, status(404, "NotFound", "not found")),
        });
        let s = store(&api);
        s.check("c1", "tok-1").await.unwrap();
        assert!(matches!(
            s.check("c1", "wrong").await,
            Err(TokenStoreError::Token(TokenError::Mismatch(_)))
        ));
        assert!(matches!(
            s.check("used", "tok-2").await,
            Err(TokenStoreError::Token(TokenError::AlreadyUsed(_)))
        ));
        assert!(matches!(
            s.check("other", "tok-1").await,
            Err(TokenStoreError::Token(TokenError::NotIssued(_)))
        ));
        assert!(s.is_registered("c1").await.unwrap());
        assert!(!s.is_registered("other").await.unwrap());
        assert!(api.requests().iter().all(|r| r.starts_with("GET ")));
    }

    #[tokio::test]
    async fn consume_patches_the_annotation_guarded_by_resource_version() {
        let patches: Arc<Mutex<Vec<Value>>> = Arc::default();
        let seen = patches.clone();
        let api = MockApi::start(move |method, path, body| {
            assert!(path.starts_with(&format!("{PATH}/relay-identity-token-c1")));
            match method {
                "GET" => (200, token_secret("tok-1", None, "7")),
                "PATCH" => {
                    seen.lock().unwrap().push(body.clone());
                    (
                        200,
                        token_secret("tok-1", Some("2026-01-02T00:00:00Z"), "8"),
                    )
                }
                _ => (405, status(405, "MethodNotAllowed", "no")),
            }
        });
        let s = store(&api);
        assert!(matches!(
            s.consume("c1", "wrong").await,
            Err(TokenStoreError::Token(TokenError::Mismatch(_)))
        ));
        assert!(
            patches.lock().unwrap().is_empty(),
            "a wrong token consumes nothing"
        );
        s.consume("c1", "tok-1").await.unwrap();
        let patch = patches.lock().unwrap()[0].clone();
        assert_eq!(patch["metadata"]["resourceVersion"], "7");
        let at = patch["metadata"]["annotations"][CONSUMED_AT]
            .as_str()
            .unwrap();
        assert!(at.parse::<jiff::Timestamp>().is_ok(), "{at}");
        assert_eq!(
            api.requests(),
            [
                format!("GET {PATH}/relay-identity-token-c1"),
                format!("GET {PATH}/relay-identity-token-c1"),
                format!("PATCH {PATH}/relay-identity-token-c1"),
            ]
        );
    }

    #[tokio::test]
    async fn a_lost_race_rereads_and_reports_the_token_as_used() {
        // The first GET sees an unconsumed token; the PATCH loses the race (409);
        // the re-read shows the other replica's annotation.
        let gets = Arc::new(Mutex::new(0));
        let g = gets.clone();
        let api = MockApi::start(move |method, _, _| match method {
            "GET" => {
                let mut n = g.lock().unwrap();
                *n += 1;
                if *n == 1 {
                    (200, token_secret("tok-1", None, "7"))
                } else {
                    (
                        200,
                        token_secret("tok-1", Some("2026-01-02T00:00:00Z"), "8"),
                    )
                }
            }
            "PATCH" => (409, status(409, "Conflict", "the object has been modified")),
            _ => (405, status(405, "MethodNotAllowed", "no")),
        });
        let s = store(&api);
        assert!(matches!(
            s.consume("c1", "tok-1").await,
            Err(TokenStoreError::Token(TokenError::AlreadyUsed(_)))
        ));
        assert_eq!(*gets.lock().unwrap(), 2);
    }

    #[tokio::test]
    async fn issue_creates_or_replaces_and_clears_the_consumed_mark() {
        let bodies: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        let seen = bodies.clone();
        let exists = Arc::new(Mutex::new(false));
        let ex = exists.clone();
        let api = MockApi::start(move |method, _, body| {
            seen.lock()
                .unwrap()
                .push((method.to_string(), body.clone()));
            match method {
                "GET" if *ex.lock().unwrap() => {
                    (200, token_secret("old", Some("2026-01-02T00:00:00Z"), "3"))
                }
                "GET" => (404, status(404, "NotFound", "not found")),
                "POST" => {
                    *ex.lock().unwrap() = true;
                    (201, body.clone())
                }
                "PUT" => (200, body.clone()),
                _ => (405, status(405, "MethodNotAllowed", "no")),
            }
        });
        let s = store(&api);
        let t1 = s.issue("c1").await.unwrap();
        let t2 = s.issue("c1").await.unwrap();
        assert_ne!(t1, t2);
        let bodies = bodies.lock().unwrap().clone();
        let methods: Vec<&str> = bodies.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(methods, ["GET", "POST", "GET", "PUT"]);
        let created = &bodies[1].1;
        assert_eq!(created["data"]["token"], b64(t1.expose()));
        assert_eq!(
            created["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "meshctl"
        );
        let replaced = &bodies[3].1;
        assert_eq!(replaced["data"]["token"], b64(t2.expose()));
        assert_eq!(replaced["metadata"]["resourceVersion"], "3");
        assert!(
            replaced["metadata"]["annotations"]
                .get(CONSUMED_AT)
                .is_none()
        );
        assert!(!format!("{s:?}").contains(t2.expose()));
    }

    #[tokio::test]
    async fn remove_deletes_and_tolerates_absence() {
        let api = MockApi::start(|method, path, _| match (method, path) {
            ("DELETE", p) if p.ends_with("/relay-identity-token-c1") => {
                (200, status(200, "", "deleted"))
            }
            _ => (404, status(404, "NotFound", "not found")),
        });
        let s = store(&api);
        s.remove("c1").await.unwrap();
        s.remove("c2").await.unwrap();
        assert_eq!(
            api.requests(),
            [
                format!("DELETE {PATH}/relay-identity-token-c1"),
                format!("DELETE {PATH}/relay-identity-token-c2"),
            ]
        );
    }
}
