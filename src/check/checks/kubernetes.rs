//! `kubernetes-api` (reachable, latency) and `kubernetes-version` (supported range).

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;

use super::api_failure;
use crate::check::cluster::{ClusterAccess, humanize};
use crate::check::engine::Check;
use crate::check::model::{CheckSpec, Finding, Severity};

/// Oldest supported Kubernetes minor version (1.x).
pub const MIN_MINOR: u32 = 28;
/// Newest Kubernetes minor version meshctl is tested with (1.x): the e2e tier runs on it in CI
/// (scripts/e2e-cluster.sh builds that release).
pub const MAX_MINOR: u32 = 36;
/// Above this, `GET /version` counts as slow.
pub const SLOW_API: Duration = Duration::from_secs(1);

/// The API server answers `GET /version`.
pub struct KubernetesApi {
    spec: CheckSpec,
    cluster: Arc<ClusterAccess>,
}

impl KubernetesApi {
    /// `id` is `kubernetes-api`, or `agent-kubernetes-api` for a workload cluster.
    pub fn new(id: &'static str, category: impl Into<String>, cluster: Arc<ClusterAccess>) -> Self {
        Self {
            spec: CheckSpec::new(
                id,
                category,
                "the Kubernetes API server is reachable",
                Severity::Fatal,
            )
            .retryable(),
            cluster,
        }
    }

    async fn evaluate(&self, attempt: u32) -> Finding {
        match self.cluster.version(attempt).await {
            Ok(v) => {
                let message = format!(
                    "reachable ({}, Kubernetes {}) in {}",
                    self.cluster.label(),
                    v.info.git_version,
                    humanize(v.latency)
                );
                if v.latency > SLOW_API {
                    Finding::warn(
                        message,
                        "GET /version took over 1s: the API server is overloaded or far away; other checks may be slow",
                    )
                } else {
                    Finding::pass(message)
                }
            }
            Err(e) => {
                let mut finding = api_failure(&e);
                if let Some(server) = self.cluster.server() {
                    finding.message =
                        format!("{server} ({}): {}", self.cluster.label(), finding.message);
                }
                finding
            }
        }
    }
}

impl Check for KubernetesApi {
    fn spec(&self) -> &CheckSpec {
        &self.spec
    }
    fn run(&self, attempt: u32) -> BoxFuture<'_, Finding> {
        self.evaluate(attempt).boxed()
    }
}

/// The Kubernetes version is in the supported range.
pub struct KubernetesVersion {
    spec: CheckSpec,
    cluster: Arc<ClusterAccess>,
}

impl KubernetesVersion {
    pub fn new(category: impl Into<String>, cluster: Arc<ClusterAccess>) -> Self {
        Self {
            spec: CheckSpec::new(
                "kubernetes-version",
                category,
                "the Kubernetes version is supported",
                Severity::Error,
            )
            .depends_on(&["kubernetes-api"]),
            cluster,
        }
    }
}

impl Check for KubernetesVersion {
    fn spec(&self) -> &CheckSpec {
        &self.spec
    }
    fn run(&self, attempt: u32) -> BoxFuture<'_, Finding> {
        async move {
            match self.cluster.version(attempt).await {
                Ok(v) => evaluate_version(&v.info.major, &v.info.minor, &v.info.git_version),
                Err(e) => api_failure(&e),
            }
        }
        .boxed()
    }
}

/// Leading digits of a version part (`"31+"` on some managed clusters is 31).
fn number(part: &str) -> Option<u32> {
    let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Compares `major.minor` with the supported range.
pub fn evaluate_version(major: &str, minor: &str, git_version: &str) -> Finding {
    let range = format!("1.{MIN_MINOR}–1.{MAX_MINOR}");
    let (Some(major), Some(minor)) = (number(major), number(minor)) else {
        return Finding::warn(
            format!(
                "cannot read the server version (major {major:?}, minor {minor:?}, {git_version})"
            ),
            format!("meshctl supports Kubernetes {range}; check `kubectl version`"),
        );
    };
    if major != 1 || minor < MIN_MINOR {
        return Finding::fail(
            format!(
                "Kubernetes {major}.{minor} ({git_version}) is older than the supported {range}"
            ),
            format!("upgrade the cluster to Kubernetes 1.{MIN_MINOR} or newer"),
        )
        .permanent();
    }
    if minor > MAX_MINOR {
        return Finding::warn(
            format!("Kubernetes {major}.{minor} ({git_version}) is newer than the tested {range}"),
            "it will probably work; report problems with `meshctl debug report`",
        );
    }
    Finding::pass(format!("Kubernetes {major}.{minor} is supported ({range})"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::check::model::Verdict;
    use crate::check::testing::{MockApi, status, version};

    #[test]
    fn version_range() {
        assert_eq!(
            evaluate_version("1", "31", "v1.31.2").verdict,
            Verdict::Pass
        );
        assert_eq!(
            evaluate_version("1", "28", "v1.28.0").verdict,
            Verdict::Pass
        );
        assert_eq!(
            evaluate_version("1", "34+", "v1.34.1-eks").verdict,
            Verdict::Pass
        );
        let old = evaluate_version("1", "27", "v1.27.9");
        assert_eq!(old.verdict, Verdict::Fail);
        assert_eq!(
            old.message,
            "Kubernetes 1.27 (v1.27.9) is older than the supported 1.28–1.36"
        );
        assert_eq!(
            evaluate_version("1", "37", "v1.37.0").verdict,
            Verdict::Warn
        );
        assert_eq!(evaluate_version("", "", "?").verdict, Verdict::Warn);
    }

    #[tokio::test]
    async fn api_and_version_share_one_request() {
        let api = MockApi::start(|method, path, _| match (method, path) {
            ("GET", "/version") => (200, version("1", "31")),
            _ => (404, json!({})),
        });
        let cluster = Arc::new(api.cluster());
        let reach = KubernetesApi::new("kubernetes-api", "kubernetes-api", Arc::clone(&cluster));
        let ver = KubernetesVersion::new("kubernetes-version", Arc::clone(&cluster));
        let (a, v) = tokio::join!(reach.run(0), ver.run(0));
        assert_eq!(a.verdict, Verdict::Pass, "{a:?}");
        assert!(
            a.message
                .starts_with("reachable (test, Kubernetes v1.31.2) in "),
            "{}",
            a.message
        );
        assert_eq!(v.verdict, Verdict::Pass, "{v:?}");
        assert_eq!(api.requests(), ["GET /version"]);
    }

    #[tokio::test]
    async fn unreachable_and_unauthorized() {
        let api = MockApi::start(|_, _, _| (401, status(401, "Unauthorized", "Unauthorized")));
        let f = KubernetesApi::new("kubernetes-api", "k", Arc::new(api.cluster()))
            .run(0)
            .await;
        assert_eq!(f.verdict, Verdict::Fail);
        assert!(f.permanent);
        assert!(f.hint.unwrap().contains("credentials"));

        let no_client = ClusterAccess::new(
            "ctx",
            Err("context 'x' not found".into()),
            Duration::from_secs(1),
        );
        let f = KubernetesApi::new("kubernetes-api", "k", Arc::new(no_client))
            .run(0)
            .await;
        assert_eq!(f.verdict, Verdict::Fail);
        assert_eq!(f.message, "no Kubernetes client: context 'x' not found");

        // With its URL known, the failure names the server that did not answer.
        let api = MockApi::start(|_, _, _| (401, status(401, "Unauthorized", "Unauthorized")));
        let named = api.cluster().with_server("https://127.0.0.1:6443/");
        let f = KubernetesApi::new("kubernetes-api", "k", Arc::new(named))
            .run(0)
            .await;
        assert!(
            f.message.starts_with("https://127.0.0.1:6443/ (test): "),
            "{}",
            f.message
        );
    }

    #[tokio::test]
    async fn old_server_fails() {
        let api = MockApi::start(|_, _, _| (200, version("1", "26")));
        let f = KubernetesVersion::new("k", Arc::new(api.cluster()))
            .run(0)
            .await;
        assert_eq!(f.verdict, Verdict::Fail);
    }
}
