//! The relay state the relay checks read: the management server's admin API
//! (`GET /api/v1/clusters`), reached directly (`--mgmt-admin-address HOST:PORT`) or through the
//! Kubernetes API server's service proxy. Behind [`RelayStatusSource`] so that other sources
//! (an in-process registry, a test) plug in.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use jiff::Timestamp;
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::cluster::{ClusterAccess, error_chain, humanize};
use super::memo::Memo;

/// Path of the cluster list on the server's admin port.
pub const CLUSTERS_PATH: &str = "/api/v1/clusters";
/// Largest admin answer read (a few thousand clusters fit easily).
const MAX_BODY: u64 = 16 * 1024 * 1024;

/// One registered cluster as the management server sees it (the fields of the server's
/// `GET /api/v1/clusters` items that the checks use; unknown fields are ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ClusterRelayStatus {
    pub name: String,
    pub connected: bool,
    #[serde(alias = "agentVersion")]
    pub agent_version: Option<String>,
    #[serde(alias = "connectedSince")]
    pub connected_since: Option<Timestamp>,
    #[serde(alias = "lastSeen")]
    pub last_seen: Option<Timestamp>,
    #[serde(alias = "snapshotVersion")]
    pub snapshot_version: u64,
    #[serde(alias = "snapshotResources")]
    pub snapshot_resources: u64,
    #[serde(alias = "snapshotBytes")]
    pub snapshot_bytes: u64,
    #[serde(alias = "desiredConfigVersion")]
    pub desired_config_version: Option<u64>,
    #[serde(alias = "appliedConfigVersion")]
    pub applied_config_version: Option<u64>,
    #[serde(alias = "certNotAfter", alias = "cert_expiry", alias = "certExpiry")]
    pub cert_not_after: Option<Timestamp>,
    #[serde(alias = "lastDisconnectReason")]
    pub last_disconnect_reason: Option<String>,
    /// The server replica holding the stream (replicas sharing a Redis state store).
    #[serde(default)]
    pub replica: Option<String>,
}

/// Why the relay state could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelaySourceError {
    #[error("cannot reach {source_name}: {message}")]
    Unreachable {
        source_name: String,
        message: String,
    },
    #[error("{source_name} did not answer within {}", humanize(*.after))]
    Timeout {
        source_name: String,
        after: Duration,
    },
    #[error("{source_name} answered HTTP {code}: {body}")]
    Http {
        source_name: String,
        code: u16,
        body: String,
    },
    #[error("{source_name} sent an answer meshctl cannot read: {message}")]
    Invalid {
        source_name: String,
        message: String,
    },
}

/// Where the relay checks get the management server's view of its clusters.
pub trait RelayStatusSource: Send + Sync {
    /// Names the source in messages, e.g. `admin API at 127.0.0.1:9091`.
    fn describe(&self) -> String;
    /// What to do when the source cannot be read.
    fn unreachable_hint(&self) -> String;
    fn clusters(&self) -> BoxFuture<'_, Result<Vec<ClusterRelayStatus>, RelaySourceError>>;
}

/// Parses the admin answer: a JSON array of clusters, or an object with a `clusters` array.
pub fn parse_clusters(
    source_name: &str,
    body: &[u8],
) -> Result<Vec<ClusterRelayStatus>, RelaySourceError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Answer {
        List(Vec<ClusterRelayStatus>),
        Wrapped { clusters: Vec<ClusterRelayStatus> },
    }
    match serde_json::from_slice::<Answer>(body) {
        Ok(Answer::List(c)) | Ok(Answer::Wrapped { clusters: c }) => Ok(c),
        Err(e) => Err(RelaySourceError::Invalid {
            source_name: source_name.to_string(),
            message: e.to_string(),
        }),
    }
}

/// The admin API at `HOST:PORT`, plain HTTP (the admin port is cluster-internal; reach it with
/// `kubectl port-forward` or from inside the network).
#[derive(Debug, Clone)]
pub struct AdminAddressSource {
    address: String,
    timeout: Duration,
}

impl AdminAddressSource {
    pub fn new(address: impl Into<String>, timeout: Duration) -> Self {
        Self {
            address: address.into(),
            timeout,
        }
    }

    async fn fetch(&self) -> Result<Vec<ClusterRelayStatus>, RelaySourceError> {
        let body = self.get(CLUSTERS_PATH).await?;
        parse_clusters(&self.describe(), &body)
    }

    /// `GET path` on the admin API; the body of a 200 answer.
    pub async fn get(&self, path: &str) -> Result<Vec<u8>, RelaySourceError> {
        let name = self.describe();
        let unreachable = |e: std::io::Error| RelaySourceError::Unreachable {
            source_name: name.clone(),
            message: error_chain(&e),
        };
        let exchange = async {
            let mut stream = tokio::net::TcpStream::connect(&self.address)
                .await
                .map_err(unreachable)?;
            // HTTP/1.0 with Connection: close: the answer is the whole stream, never chunked.
            let request = format!(
                "GET {path} HTTP/1.0\r\nHost: {}\r\nAccept: application/json\r\nUser-Agent: meshctl/{}\r\nConnection: close\r\n\r\n",
                self.address,
                crate::version::VERSION
            );
            stream
                .write_all(request.as_bytes())
                .await
                .map_err(unreachable)?;
            let mut raw = Vec::new();
            (&mut stream)
                .take(MAX_BODY)
                .read_to_end(&mut raw)
                .await
                .map_err(unreachable)?;
            Ok::<_, RelaySourceError>(raw)
        };
        let raw = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| RelaySourceError::Timeout {
                source_name: name.clone(),
                after: self.timeout,
            })??;
        let (code, body) = split_response(&raw).ok_or_else(|| RelaySourceError::Invalid {
            source_name: name.clone(),
            message: "not an HTTP response".into(),
        })?;
        if code != 200 {
            return Err(RelaySourceError::Http {
                source_name: name,
                code,
                body: excerpt(body),
            });
        }
        Ok(body.to_vec())
    }
}

/// Status code and body of a raw HTTP/1.x response.
fn split_response(raw: &[u8]) -> Option<(u16, &[u8])> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let status_line = head.lines().next()?;
    let mut parts = status_line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let code = parts.next()?.parse().ok()?;
    Some((code, &raw[end + 4..]))
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

impl RelayStatusSource for AdminAddressSource {
    fn describe(&self) -> String {
        format!("the management server admin API at {}", self.address)
    }

    fn unreachable_hint(&self) -> String {
        format!(
            "check that --mgmt-admin-address {} points at the admin port (9091) of mesh-mgmt-server, e.g. after `kubectl -n mesh-system port-forward deploy/mesh-mgmt-server 9091`",
            self.address
        )
    }

    fn clusters(&self) -> BoxFuture<'_, Result<Vec<ClusterRelayStatus>, RelaySourceError>> {
        self.fetch().boxed()
    }
}

/// The admin API through the API server's service proxy
/// (`/api/v1/namespaces/<ns>/services/http:<service>:<port>/proxy/api/v1/clusters`): no
/// port-forward and no extra network path needed.
#[derive(Clone)]
pub struct ServiceProxySource {
    cluster: Arc<ClusterAccess>,
    namespace: String,
    service: String,
    port: u16,
}

impl std::fmt::Debug for ServiceProxySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceProxySource")
            .field("namespace", &self.namespace)
            .field("service", &self.service)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl ServiceProxySource {
    /// The admin API behind Service `namespace/service` port `port` of `cluster`; calls use
    /// the cluster's timeout.
    pub fn new(
        cluster: Arc<ClusterAccess>,
        namespace: impl Into<String>,
        service: impl Into<String>,
        port: u16,
    ) -> Self {
        Self {
            cluster,
            namespace: namespace.into(),
            service: service.into(),
            port,
        }
    }

    pub fn path(&self) -> String {
        self.path_for(CLUSTERS_PATH)
    }

    /// The API server path of the admin API's `api_path`.
    pub fn path_for(&self, api_path: &str) -> String {
        format!(
            "/api/v1/namespaces/{}/services/http:{}:{}/proxy{api_path}",
            self.namespace, self.service, self.port
        )
    }

    async fn fetch(&self) -> Result<Vec<ClusterRelayStatus>, RelaySourceError> {
        let body = self.get(CLUSTERS_PATH).await?;
        parse_clusters(&self.describe(), &body)
    }

    /// `GET api_path` on the admin API through the service proxy; the body of a 200 answer.
    pub async fn get(&self, api_path: &str) -> Result<Vec<u8>, RelaySourceError> {
        let name = self.describe();
        let request = http::Request::get(self.path_for(api_path))
            .header("accept", "application/json")
            .body(Vec::new())
            .map_err(|e| RelaySourceError::Invalid {
                source_name: name.clone(),
                message: e.to_string(),
            })?;
        let client = self
            .cluster
            .client()
            .map_err(|e| RelaySourceError::Unreachable {
                source_name: name.clone(),
                message: e.to_string(),
            })?;
        let timeout = self.cluster.timeout();
        let answer = tokio::time::timeout(timeout, client.request_text(request))
            .await
            .map_err(|_| RelaySourceError::Timeout {
                source_name: name.clone(),
                after: timeout,
            })?;
        match answer {
            Ok(text) => Ok(text.into_bytes()),
            Err(kube::Error::Api(status)) => Err(RelaySourceError::Http {
                source_name: name,
                code: status.code,
                body: status.message,
            }),
            Err(e) => Err(RelaySourceError::Unreachable {
                source_name: name,
                message: error_chain(&e),
            }),
        }
    }
}

impl RelayStatusSource for ServiceProxySource {
    fn describe(&self) -> String {
        format!(
            "the management server admin API (service {}/{} port {} via the API server proxy)",
            self.namespace, self.service, self.port
        )
    }

    fn unreachable_hint(&self) -> String {
        format!(
            "check Service {ns}/{svc} has ready endpoints (kubectl -n {ns} get endpointslices -l kubernetes.io/service-name={svc}); or port-forward and pass --mgmt-admin-address 127.0.0.1:{port}",
            ns = self.namespace,
            svc = self.service,
            port = self.port
        )
    }

    fn clusters(&self) -> BoxFuture<'_, Result<Vec<ClusterRelayStatus>, RelaySourceError>> {
        self.fetch().boxed()
    }
}

/// A source read once per attempt, shared by all relay checks.
pub struct SharedRelayStatus {
    source: Arc<dyn RelayStatusSource>,
    memo: Memo<(), Result<Arc<Vec<ClusterRelayStatus>>, RelaySourceError>>,
}

impl std::fmt::Debug for SharedRelayStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRelayStatus")
            .field("source", &self.source.describe())
            .finish_non_exhaustive()
    }
}

impl SharedRelayStatus {
    pub fn new(source: Arc<dyn RelayStatusSource>) -> Self {
        Self {
            source,
            memo: Memo::default(),
        }
    }

    pub fn source(&self) -> &dyn RelayStatusSource {
        self.source.as_ref()
    }

    pub async fn clusters(
        &self,
        attempt: u32,
    ) -> Result<Arc<Vec<ClusterRelayStatus>>, RelaySourceError> {
        self.memo
            .get_or_fetch((), attempt, async {
                self.source.clusters().await.map(Arc::new)
            })
            .await
    }
}

/// The admin API, either at an address or through the API server's service proxy: raw reads for
/// `meshctl dashboard` and `meshctl debug report`.
pub enum AdminEndpoint {
    Address(AdminAddressSource),
    Proxy(ServiceProxySource),
}

impl AdminEndpoint {
    pub fn describe(&self) -> String {
        match self {
            AdminEndpoint::Address(a) => a.describe(),
            AdminEndpoint::Proxy(p) => p.describe(),
        }
    }

    /// `GET path`; the body of a 200 answer.
    pub async fn get(&self, path: &str) -> Result<Vec<u8>, RelaySourceError> {
        match self {
            AdminEndpoint::Address(a) => a.get(path).await,
            AdminEndpoint::Proxy(p) => p.get(path).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::{MockApi, status};

    const SERVER_JSON: &str = r#"[{"name":"east","connected":true,"agent_version":"0.1.0",
        "connected_since":"2026-11-22T04:00:00Z","last_seen":"2026-11-22T05:00:00Z",
        "snapshot_version":7,"snapshot_resources":42,"snapshot_bytes":1000,
        "desired_config_version":3,"applied_config_version":3,"config_errors":[],
        "cert_not_after":"2026-12-22T00:00:00Z","remote_address":"10.0.0.9:5555",
        "last_disconnect_reason":null},
        {"name":"west","connected":false}]"#;

    #[test]
    fn parses_the_server_cluster_list() {
        let clusters = parse_clusters("x", SERVER_JSON.as_bytes()).unwrap();
        assert_eq!(clusters.len(), 2);
        assert_eq!(clusters[0].name, "east");
        assert_eq!(clusters[0].snapshot_resources, 42);
        assert_eq!(
            clusters[0].cert_not_after,
            Some("2026-12-22T00:00:00Z".parse().unwrap())
        );
        assert!(!clusters[1].connected);
        let wrapped = format!(r#"{{"clusters": {SERVER_JSON}}}"#);
        assert_eq!(parse_clusters("x", wrapped.as_bytes()).unwrap(), clusters);
        assert!(matches!(
            parse_clusters("x", b"<html>"),
            Err(RelaySourceError::Invalid { .. })
        ));
    }

    async fn serve_once(response: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = socket.read(&mut buf).await.unwrap();
            socket.write_all(response.as_bytes()).await.unwrap();
            socket.shutdown().await.unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        (address, task)
    }

    #[tokio::test]
    async fn admin_address_source_gets_the_cluster_list() {
        let response: &'static str = Box::leak(
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{SERVER_JSON}",
                SERVER_JSON.len()
            )
            .into_boxed_str(),
        );
        let (address, task) = serve_once(response).await;
        let source = AdminAddressSource::new(address, Duration::from_secs(5));
        let clusters = source.clusters().await.unwrap();
        assert_eq!(clusters.len(), 2);
        let request = task.await.unwrap();
        assert!(
            request.starts_with("GET /api/v1/clusters HTTP/1.0\r\n"),
            "{request}"
        );
    }

    #[tokio::test]
    async fn admin_address_source_reports_http_errors_and_refusals() {
        let (address, task) = serve_once("HTTP/1.1 503 Service Unavailable\r\n\r\nstarting").await;
        let e = AdminAddressSource::new(address, Duration::from_secs(5))
            .clusters()
            .await
            .unwrap_err();
        task.await.unwrap();
        assert!(
            matches!(e, RelaySourceError::Http { code: 503, .. }),
            "{e:?}"
        );
        // A port nobody listens on.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        drop(listener);
        let e = AdminAddressSource::new(address, Duration::from_secs(5))
            .clusters()
            .await
            .unwrap_err();
        assert!(matches!(e, RelaySourceError::Unreachable { .. }), "{e:?}");
    }

    #[tokio::test]
    async fn service_proxy_source_goes_through_the_api_server() {
        let api = MockApi::start(|method, path, _| {
            assert_eq!(method, "GET");
            if path
                == "/api/v1/namespaces/mesh-system/services/http:mesh-mgmt-server:9091/proxy/api/v1/clusters"
            {
                (200, serde_json::from_str(SERVER_JSON).unwrap())
            } else {
                (404, status(404, "NotFound", "no"))
            }
        });
        let source = ServiceProxySource::new(
            Arc::new(api.cluster()),
            "mesh-system",
            "mesh-mgmt-server",
            9091,
        );
        let shared = SharedRelayStatus::new(Arc::new(source));
        let (a, b) = tokio::join!(shared.clusters(0), shared.clusters(0));
        assert_eq!(a.unwrap().len(), 2);
        assert_eq!(b.unwrap().len(), 2);
        assert_eq!(api.requests().len(), 1);
    }

    #[tokio::test]
    async fn service_proxy_without_endpoints_is_an_http_error() {
        let api = MockApi::start(|_, _, _| {
            (
                503,
                status(
                    503,
                    "ServiceUnavailable",
                    "no endpoints available for service \"mesh-mgmt-server\"",
                ),
            )
        });
        let source = ServiceProxySource::new(
            Arc::new(api.cluster()),
            "mesh-system",
            "mesh-mgmt-server",
            9091,
        );
        let e = source.clusters().await.unwrap_err();
        assert!(e.to_string().contains("no endpoints available"), "{e}");
    }
}
