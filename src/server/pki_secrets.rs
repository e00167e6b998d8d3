//! The relay PKI kept in Kubernetes Secrets of the management cluster (DESIGN.md §2):
//! `relay-root-tls-secret` (`ca.crt`), `relay-tls-signing-secret` (signing CA
//! `tls.crt`/`tls.key`, the root `ca.crt` and, only here, the root key `ca.key`) and
//! `relay-server-tls-secret` (`tls.crt`/`tls.key`/`ca.crt`). Secrets are created, never
//! replaced: an existing Secret makes creation fail.

use crate::relay::pki::PkiMaterial;
use crate::server::pki_store::{PkiStore, PkiStoreError};
use async_trait::async_trait;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, PostParams};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub const ROOT_SECRET: &str = "relay-root-tls-secret";
pub const SIGNING_SECRET: &str = "relay-tls-signing-secret";
pub const SERVER_SECRET: &str = "relay-server-tls-secret";

/// PKI in Secrets of `namespace`.
#[derive(Clone)]
pub struct SecretPkiStore {
    client: kube::Client,
    namespace: String,
    timeout: Duration,
}

impl std::fmt::Debug for SecretPkiStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretPkiStore")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

fn labels() -> BTreeMap<String, String> {
    [
        ("app.kubernetes.io/managed-by", "meshctl"),
        ("app.kubernetes.io/part-of", "meshctl"),
        ("app.kubernetes.io/component", "relay"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .chain([(
        crate::manifests::labels::VERSION.to_owned(),
        crate::manifests::labels::version_value(crate::relay::BUILD_VERSION),
    )])
    .collect()
}

fn secret(namespace: &str, name: &str, type_: &str, data: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(labels()),
            ..ObjectMeta::default()
        },
        type_: Some(type_.to_string()),
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                .collect(),
        ),
        ..Secret::default()
    }
}

/// The three Secrets holding `m`.
pub fn secrets_for(namespace: &str, m: &PkiMaterial) -> [Secret; 3] {
    [
        secret(
            namespace,
            ROOT_SECRET,
            "Opaque",
            &[("ca.crt", &m.root_ca_pem)],
        ),
        secret(
            namespace,
            SIGNING_SECRET,
            "kubernetes.io/tls",
            &[
                ("tls.crt", &m.signing_ca_pem),
                ("tls.key", &m.signing_ca_key_pem),
                ("ca.crt", &m.root_ca_pem),
                ("ca.key", &m.root_ca_key_pem),
            ],
        ),
        secret(
            namespace,
            SERVER_SECRET,
            "kubernetes.io/tls",
            &[
                ("tls.crt", &m.server_cert_pem),
                ("tls.key", &m.server_key_pem),
                ("ca.crt", &m.root_ca_pem),
            ],
        ),
    ]
}

impl SecretPkiStore {
    pub fn new(client: kube::Client, namespace: &str, timeout: Duration) -> Self {
        Self {
            client,
            namespace: namespace.to_string(),
            timeout,
        }
    }

    fn err(&self, name: &str, message: impl std::fmt::Display) -> PkiStoreError {
        PkiStoreError::Read {
            path: PathBuf::from(format!("secret/{}/{name}", self.namespace)),
            source: std::io::Error::other(message.to_string()),
        }
    }

    async fn get(&self, name: &str) -> Result<Option<Secret>, PkiStoreError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &self.namespace);
        tokio::time::timeout(self.timeout, api.get_opt(name))
            .await
            .map_err(|_| self.err(name, "the Kubernetes API did not answer in time"))?
            .map_err(|e| self.err(name, e))
    }
}

fn field(s: &Secret, key: &str) -> Option<String> {
    s.data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|v| String::from_utf8_lossy(&v.0).into_owned())
}

#[async_trait]
impl PkiStore for SecretPkiStore {
    async fn load(&self) -> Result<Option<PkiMaterial>, PkiStoreError> {
        let root = self.get(ROOT_SECRET).await?;
        let signing = self.get(SIGNING_SECRET).await?;
        let server = self.get(SERVER_SECRET).await?;
        let present: Vec<&str> = [
            (ROOT_SECRET, &root),
            (SIGNING_SECRET, &signing),
            (SERVER_SECRET, &server),
        ]
        .iter()
        .filter(|(_, s)| s.is_some())
        .map(|(n, _)| *n)
        .collect();
        let (Some(root), Some(signing), Some(server)) = (root, signing, server) else {
            if present.is_empty() {
                return Ok(None);
            }
            let missing: Vec<&str> = [ROOT_SECRET, SIGNING_SECRET, SERVER_SECRET]
                .into_iter()
                .filter(|n| !present.contains(n))
                .collect();
            return Err(PkiStoreError::Incomplete {
                dir: PathBuf::from(format!("namespace {}", self.namespace)),
                present: present.join(", "),
                missing: missing.join(", "),
            });
        };
        let need = |s: &Secret, name: &str, key: &str| {
            field(s, key).ok_or_else(|| self.err(name, format!("has no '{key}' entry")))
        };
        Ok(Some(PkiMaterial {
            root_ca_pem: need(&root, ROOT_SECRET, "ca.crt")?,
            root_ca_key_pem: need(&signing, SIGNING_SECRET, "ca.key")?,
            signing_ca_pem: need(&signing, SIGNING_SECRET, "tls.crt")?,
            signing_ca_key_pem: need(&signing, SIGNING_SECRET, "tls.key")?,
            server_cert_pem: need(&server, SERVER_SECRET, "tls.crt")?,
            server_key_pem: need(&server, SERVER_SECRET, "tls.key")?,
        }))
    }

    async fn create(&self, material: &PkiMaterial) -> Result<(), PkiStoreError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &self.namespace);
        for s in secrets_for(&self.namespace, material) {
            let name = s.metadata.name.clone().unwrap_or_default();
            let result = tokio::time::timeout(self.timeout, api.create(&PostParams::default(), &s))
                .await
                .map_err(|_| self.err(&name, "the Kubernetes API did not answer in time"))?;
            match result {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    return Err(PkiStoreError::AlreadyExists);
                }
                Err(e) => {
                    return Err(PkiStoreError::Write {
                        path: PathBuf::from(format!("secret/{}/{name}", self.namespace)),
                        source: std::io::Error::other(e.to_string()),
                    });
                }
            }
        }
        Ok(())
    }

    /// Patches `tls.crt` and `tls.key` of the server Secret in one request.
    async fn replace_server_cert(
        &self,
        cert_pem: &str,
        key_pem: &str,
    ) -> Result<(), PkiStoreError> {
        use base64::Engine;
        let b64 = |t: &str| base64::engine::general_purpose::STANDARD.encode(t.as_bytes());
        let patch =
            serde_json::json!({"data": {"tls.crt": b64(cert_pem), "tls.key": b64(key_pem)}});
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &self.namespace);
        tokio::time::timeout(
            self.timeout,
            api.patch(
                SERVER_SECRET,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            ),
        )
        .await
        .map_err(|_| self.err(SERVER_SECRET, "the Kubernetes API did not answer in time"))?
        .map_err(|e| PkiStoreError::Write {
            path: PathBuf::from(format!("secret/{}/{SERVER_SECRET}", self.namespace)),
            source: std::io::Error::other(e.to_string()),
        })?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::server::pki_store::ensure_pki;
    use http::{Request, Response};
    use kube::client::Body;
    use serde_json::{Value, json};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    /// A fake API server holding Secrets: GET, POST (409 when present).
    #[allow(clippy::type_complexity)]
    fn fake_api() -> (
        kube::Client,
        Arc<Mutex<HashMap<String, Value>>>,
        Arc<Mutex<Vec<String>>>,
    ) {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let secrets: Arc<Mutex<HashMap<String, Value>>> = Arc::default();
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let (s2, l2) = (secrets.clone(), log.clone());
        tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                let method = request.method().to_string();
                let path = request.uri().path().to_string();
                l2.lock().unwrap().push(format!("{method} {path}"));
                let bytes = request.into_body().collect_bytes().await.unwrap();
                let prefix = "/api/v1/namespaces/mesh-system/secrets";
                let (status, body) = match method.as_str() {
                    "GET" => {
                        let name = path.trim_start_matches(prefix).trim_start_matches('/');
                        match s2.lock().unwrap().get(name) {
                            Some(v) => (200, v.clone()),
                            None => (
                                404,
                                json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": "not found"}),
                            ),
                        }
                    }
                    "POST" => {
                        assert_eq!(path, prefix);
                        let v: Value = serde_json::from_slice(&bytes).unwrap();
                        let name = v["metadata"]["name"].as_str().unwrap().to_string();
                        let mut g = s2.lock().unwrap();
                        #[allow(clippy::map_entry)]
                        if g.contains_key(&name) {
                            (
                                409,
                                json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "AlreadyExists", "code": 409, "message": "exists"}),
                            )
                        } else {
                            g.insert(name, v.clone());
                            (201, v)
                        }
                    }
                    _ => (405, json!({})),
                };
                send.send_response(
                    Response::builder()
                        .status(status)
                        .header("content-type", "application/json")
                        .body(Body::from(serde_json::to_vec(&body).unwrap()))
                        .unwrap(),
                );
            }
        });
        (kube::Client::new(service, "default"), secrets, log)
    }

    #[tokio::test]
    async fn creates_the_three_secrets_once_then_loads_them() {
        let (client, secrets, log) = fake_api();
        let store = SecretPkiStore::new(client, "mesh-system", Duration::from_secs(10));
        let sans = vec!["localhost".to_string()];
        let (m1, created) = ensure_pki(&store, &sans).await.unwrap();
        assert!(created);
        {
            let g = secrets.lock().unwrap();
            let root = &g[ROOT_SECRET];
            assert_eq!(
                root["metadata"]["labels"]["app.kubernetes.io/managed-by"],
                "meshctl"
            );
            let keys: Vec<&String> = root["data"].as_object().unwrap().keys().collect();
            assert_eq!(keys, ["ca.crt"], "the root Secret holds no key");
            assert!(g[SIGNING_SECRET]["data"]["ca.key"].is_string());
            assert_eq!(g[SERVER_SECRET]["type"], "kubernetes.io/tls");
        }
        let (m2, created) = ensure_pki(&store, &sans).await.unwrap();
        assert!(!created);
        assert_eq!(m1, m2);
        assert!(matches!(
            store.create(&m1).await,
            Err(PkiStoreError::AlreadyExists)
        ));
        let posts = log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("POST"))
            .count();
        assert_eq!(posts, 4, "three creates, then one refused");
    }

    #[tokio::test]
    async fn a_partial_set_is_an_error() {
        let (client, secrets, _) = fake_api();
        let store = SecretPkiStore::new(client, "mesh-system", Duration::from_secs(10));
        ensure_pki(&store, &["localhost".to_string()])
            .await
            .unwrap();
        secrets.lock().unwrap().remove(SIGNING_SECRET);
        let err = store.load().await.unwrap_err();
        assert!(err.to_string().contains(SIGNING_SECRET), "{err}");
    }
}
