//! Access to one cluster for the checks: a client, a per-call timeout, and a shared, lazily
//! filled cache so that every kind is LISTed once per cluster per attempt, whatever the number
//! of checks reading it.

use std::any::Any;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::version::Info;
use kube::Resource;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PostParams};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::memo::Memo;

/// Why a call to the Kubernetes API did not give an answer the checks can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("no Kubernetes client: {0}")]
    NoClient(String),
    #[error("{what}: no answer within {}", humanize(*.after))]
    Timeout { what: String, after: Duration },
    #[error("{what}: not found (404)")]
    NotFound { what: String },
    #[error("{what}: forbidden (403): {message}")]
    Forbidden { what: String, message: String },
    #[error("{what}: unauthorized (401): {message}")]
    Unauthorized { what: String, message: String },
    #[error("{what}: HTTP {code}: {message}")]
    Status {
        what: String,
        code: u16,
        message: String,
    },
    #[error("{what}: {message}")]
    Transport { what: String, message: String },
}

impl ApiError {
    /// What to do about the error, naming the request that failed.
    pub fn hint(&self) -> String {
        match self {
            ApiError::NoClient(_) => {
                "check --kubeconfig/--context (or KUBECONFIG) and that the context exists: kubectl config get-contexts".into()
            }
            ApiError::Timeout { .. } => {
                "the API server did not answer in time: check the network path to it (VPN, proxy) or raise --timeout".into()
            }
            ApiError::NotFound { what } => format!("the API server does not serve this resource ({what})"),
            ApiError::Forbidden { what, .. } => format!(
                "your identity may not do this: {what}; check with `kubectl auth can-i` and ask for a role that grants it"
            ),
            ApiError::Unauthorized { .. } => {
                "the credentials in the kubeconfig were rejected: refresh them (e.g. log in again) and retry".into()
            }
            ApiError::Status { .. } | ApiError::Transport { .. } => {
                "check that the API server is up and reachable: kubectl get --raw /readyz".into()
            }
        }
    }

    fn from_kube(what: String, error: kube::Error) -> Self {
        match error {
            kube::Error::Api(status) => match status.code {
                404 => ApiError::NotFound { what },
                403 => ApiError::Forbidden {
                    what,
                    message: status.message,
                },
                401 => ApiError::Unauthorized {
                    what,
                    message: status.message,
                },
                code => ApiError::Status {
                    what,
                    code,
                    message: status.message,
                },
            },
            other => ApiError::Transport {
                what,
                message: error_chain(&other),
            },
        }
    }
}

/// An error and its sources on one line, each cause once.
pub use crate::output::error_chain;

/// `1.5s`, `250ms`, `2m`.
pub fn humanize(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else if d < Duration::from_secs(120) {
        let s = d.as_secs_f64();
        if s.fract() == 0.0 {
            format!("{s:.0}s")
        } else {
            format!("{s:.1}s")
        }
    } else {
        format!("{}m", d.as_secs() / 60)
    }
}

/// The API server's version and how long `GET /version` took.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerVersion {
    pub info: Info,
    pub latency: Duration,
}

type Erased = Arc<dyn Any + Send + Sync>;

/// One cluster as the checks see it.
pub struct ClusterAccess {
    label: String,
    /// The API server's URL, when known: named when it cannot be reached.
    server: Option<String>,
    client: Result<kube::Client, String>,
    timeout: Duration,
    version: Memo<(), Result<ServerVersion, ApiError>>,
    reads: Memo<String, Result<Erased, ApiError>>,
}

impl Debug for ClusterAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterAccess")
            .field("label", &self.label)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ClusterAccess {
    /// `label` names the cluster in messages (e.g. the kubeconfig context); `client` is the
    /// client, or why none could be built; every call is bounded by `timeout`.
    pub fn new(
        label: impl Into<String>,
        client: Result<kube::Client, String>,
        timeout: Duration,
    ) -> Self {
        Self {
            label: label.into(),
            server: None,
            client,
            timeout,
            version: Memo::default(),
            reads: Memo::default(),
        }
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// Names the API server's URL in the failures of `kubernetes-api`.
    #[must_use]
    pub fn with_server(mut self, server: impl Into<String>) -> Self {
        self.server = Some(server.into());
        self
    }

    pub fn server(&self) -> Option<&str> {
        self.server.as_deref()
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn client(&self) -> Result<&kube::Client, ApiError> {
        self.client
            .as_ref()
            .map_err(|e| ApiError::NoClient(e.clone()))
    }

    /// Runs one API call under the timeout.
    pub async fn call<T, F>(&self, what: &str, call: F) -> Result<T, ApiError>
    where
        F: Future<Output = Result<T, kube::Error>>,
    {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(ApiError::from_kube(what.to_string(), e)),
            Err(_) => Err(ApiError::Timeout {
                what: what.to_string(),
                after: self.timeout,
            }),
        }
    }

    /// `GET /version`, once per attempt.
    pub async fn version(&self, attempt: u32) -> Result<ServerVersion, ApiError> {
        self.version
            .get_or_fetch((), attempt, async {
                let client = self.client()?;
                let started = tokio::time::Instant::now();
                let info = self
                    .call("GET /version", client.apiserver_version())
                    .await?;
                Ok(ServerVersion {
                    info,
                    latency: started.elapsed(),
                })
            })
            .await
    }

    /// LIST of a namespaced kind in one namespace (optionally by label), once per attempt.
    pub async fn list_namespaced<K>(
        &self,
        namespace: &str,
        labels: Option<&str>,
        attempt: u32,
    ) -> Result<Arc<Vec<K>>, ApiError>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Debug
            + Send
            + Sync
            + 'static,
    {
        let client = self.client()?.clone();
        let api: Api<K> = Api::namespaced(client, namespace);
        let path = K::url_path(&(), Some(namespace));
        self.list_with(api, &path, labels, attempt).await
    }

    /// LIST of a kind across the cluster (all namespaces, or a cluster-scoped kind).
    pub async fn list_all<K>(
        &self,
        labels: Option<&str>,
        attempt: u32,
    ) -> Result<Arc<Vec<K>>, ApiError>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    {
        let client = self.client()?.clone();
        let api: Api<K> = Api::all(client);
        let path = K::url_path(&(), None);
        self.list_with(api, &path, labels, attempt).await
    }

    /// LIST of a kind known only at run time (the platform's custom kinds), across namespaces.
    pub async fn list_dynamic(
        &self,
        resource: &ApiResource,
        attempt: u32,
    ) -> Result<Arc<Vec<DynamicObject>>, ApiError> {
        let client = self.client()?.clone();
        let api: Api<DynamicObject> = Api::all_with(client, resource);
        let path = DynamicObject::url_path(resource, None);
        self.list_with(api, &path, None, attempt).await
    }

    /// LIST of a namespaced kind known only at run time in one namespace.
    pub async fn list_dynamic_namespaced(
        &self,
        resource: &ApiResource,
        namespace: &str,
        attempt: u32,
    ) -> Result<Arc<Vec<DynamicObject>>, ApiError> {
        let client = self.client()?.clone();
        let api: Api<DynamicObject> = Api::namespaced_with(client, namespace, resource);
        let path = DynamicObject::url_path(resource, Some(namespace));
        self.list_with(api, &path, None, attempt).await
    }

    async fn list_with<K>(
        &self,
        api: Api<K>,
        path: &str,
        labels: Option<&str>,
        attempt: u32,
    ) -> Result<Arc<Vec<K>>, ApiError>
    where
        K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    {
        let what = match labels {
            Some(l) => format!("LIST {path}?labelSelector={l}"),
            None => format!("LIST {path}"),
        };
        let key = format!("{}|{what}", std::any::type_name::<K>());
        let erased = self
            .reads
            .get_or_fetch(key, attempt, async {
                let mut params = ListParams::default();
                if let Some(l) = labels {
                    params = params.labels(l);
                }
                let list = self.call(&what, api.list(&params)).await?;
                Ok(Arc::new(list.items) as Erased)
            })
            .await?;
        erased
            .downcast::<Vec<K>>()
            .map_err(|_| ApiError::Transport {
                what,
                message: "cached value has another type (a bug in meshctl)".into(),
            })
    }

    /// GET of one named object (a well-known Secret or Deployment), once per attempt;
    /// `None` when it does not exist.
    pub async fn get_namespaced<K>(
        &self,
        namespace: &str,
        name: &str,
        attempt: u32,
    ) -> Result<Option<Arc<K>>, ApiError>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
            + Clone
            + DeserializeOwned
            + Debug
            + Send
            + Sync
            + 'static,
    {
        let client = self.client()?.clone();
        let what = format!("GET {}/{name}", K::url_path(&(), Some(namespace)));
        let key = format!("{}|{what}", std::any::type_name::<K>());
        let erased = self
            .reads
            .get_or_fetch(key, attempt, async {
                let api: Api<K> = Api::namespaced(client, namespace);
                let object = self.call(&what, api.get_opt(name)).await?;
                Ok(Arc::new(object.map(Arc::new)) as Erased)
            })
            .await?;
        erased
            .downcast::<Option<Arc<K>>>()
            .map(|o| (*o).clone())
            .map_err(|_| ApiError::Transport {
                what,
                message: "cached value has another type (a bug in meshctl)".into(),
            })
    }

    /// POST of a cluster-scoped object whose answer is the point (SelfSubjectAccessReview).
    pub async fn create_cluster_scoped<K>(&self, object: &K) -> Result<K, ApiError>
    where
        K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + Debug,
    {
        let client = self.client()?.clone();
        let api: Api<K> = Api::all(client);
        let what = format!("POST {}", K::url_path(&(), None));
        self.call(&what, api.create(&PostParams::default(), object))
            .await
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;

    use super::*;
    use crate::check::testing::{MockApi, empty_list};

    #[tokio::test]
    async fn one_list_per_kind_shared_between_callers() {
        let api = MockApi::start(|method, path, _| match (method, path) {
            ("GET", "/apis/apps/v1/namespaces/mesh-system/deployments") => {
                (200, empty_list("DeploymentList"))
            }
            (
                "GET",
                "/api/v1/namespaces/mesh-system/pods?labelSelector=app.kubernetes.io%2Fpart-of%3Dmeshctl",
            ) => (200, empty_list("PodList")),
            _ => (404, json!({})),
        });
        let cluster = api.cluster();
        let (a, b, c) = tokio::join!(
            cluster.list_namespaced::<Deployment>("mesh-system", None, 0),
            cluster.list_namespaced::<Deployment>("mesh-system", None, 0),
            cluster.list_namespaced::<Pod>(
                "mesh-system",
                Some("app.kubernetes.io/part-of=meshctl"),
                0
            ),
        );
        a.unwrap();
        b.unwrap();
        c.unwrap();
        cluster
            .list_namespaced::<Deployment>("mesh-system", None, 0)
            .await
            .unwrap();
        assert_eq!(
            api.requests(),
            [
                "GET /apis/apps/v1/namespaces/mesh-system/deployments",
                "GET /api/v1/namespaces/mesh-system/pods?labelSelector=app.kubernetes.io%2Fpart-of%3Dmeshctl"
            ]
        );
        // A retry (attempt 1) lists again, once.
        cluster
            .list_namespaced::<Deployment>("mesh-system", None, 1)
            .await
            .unwrap();
        assert_eq!(api.requests().len(), 3);
    }

    #[tokio::test]
    async fn errors_are_classified() {
        let api = MockApi::start(|_, path, _| {
            if path.contains("deployments") {
                (
                    403,
                    json!({"kind": "Status", "code": 403, "message": "deployments is forbidden", "reason": "Forbidden"}),
                )
            } else {
                (
                    404,
                    json!({"kind": "Status", "code": 404, "message": "not found", "reason": "NotFound"}),
                )
            }
        });
        let cluster = api.cluster();
        let e = cluster
            .list_namespaced::<Deployment>("mesh-system", None, 0)
            .await
            .unwrap_err();
        assert!(matches!(e, ApiError::Forbidden { .. }), "{e:?}");
        assert!(e.hint().contains("kubectl auth can-i"));
        let e = cluster
            .list_namespaced::<Pod>("x", None, 0)
            .await
            .unwrap_err();
        assert!(matches!(e, ApiError::NotFound { .. }), "{e:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn calls_time_out() {
        let api = MockApi::silent();
        let cluster = api.cluster();
        let e = cluster.version(0).await.unwrap_err();
        assert!(matches!(e, ApiError::Timeout { .. }), "{e:?}");
        assert_eq!(e.to_string(), "GET /version: no answer within 5s");
    }

    #[test]
    fn humanized_durations() {
        assert_eq!(humanize(Duration::from_millis(250)), "250ms");
        assert_eq!(humanize(Duration::from_millis(1500)), "1.5s");
        assert_eq!(humanize(Duration::from_secs(600)), "10m");
    }
}
