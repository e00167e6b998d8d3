//! Writes each cluster's relay state from the [`ClusterRegistry`] into the status
//! subresource of KubernetesCluster `<cluster>` in the install namespace (JSON merge
//! patch on `/status`). Debounced: the registry is read once per `interval`; a
//! cluster's status is written only when it changed (`lastSeen` alone only every
//! `last_seen_resolution`), at most `max_writes_per_round` writes per round (the rest
//! follow in the next rounds), so a thousand agents do not hammer the API server.
//! Clusters without a KubernetesCluster object are skipped (the object list is re-read
//! every `list_interval`); every listed KubernetesCluster is made known to the registry,
//! so that it shows as disconnected before its agent first connects. With several replicas
//! sharing state (`held_streams_only`), a replica writes only the clusters whose stream it held.

use crate::api::kubernetes_cluster::{KubernetesCluster, KubernetesClusterStatus};
use crate::server::kube::call::{CallError, DEFAULT_CALL_TIMEOUT, timed};
use crate::server::kube::status::{status_of, write_due};
use crate::server::registry::ClusterRegistry;
use futures::StreamExt;
use kube::api::{Api, ListParams, Patch, PatchParams};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Concurrent status writes within one round.
const WRITE_CONCURRENCY: usize = 8;

/// Settings of the status writer.
#[derive(Debug, Clone)]
pub struct StatusWriterSettings {
    pub interval: Duration,
    pub list_interval: Duration,
    pub last_seen_resolution: Duration,
    pub max_writes_per_round: usize,
    pub call_timeout: Duration,
    /// Several server replicas share the state (Redis): write only the clusters whose agent
    /// stream this replica has held, so that a replica that never saw a cluster's agent does not
    /// overwrite the holder's `connected: true` with its own `false`.
    pub held_streams_only: bool,
}

impl Default for StatusWriterSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(2),
            list_interval: Duration::from_secs(30),
            last_seen_resolution: Duration::from_secs(60),
            max_writes_per_round: 100,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            held_streams_only: false,
        }
    }
}

/// The writer task's state.
pub struct ClusterStatusWriter {
    api: Api<KubernetesCluster>,
    namespace: String,
    registry: Arc<ClusterRegistry>,
    settings: StatusWriterSettings,
    /// Names of the KubernetesCluster objects that exist.
    present: HashSet<String>,
    /// What was last written per cluster.
    written: HashMap<String, KubernetesClusterStatus>,
    listed_at: Option<tokio::time::Instant>,
}

impl std::fmt::Debug for ClusterStatusWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterStatusWriter")
            .field("namespace", &self.namespace)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ClusterStatusWriter {
    pub fn new(
        client: kube::Client,
        namespace: &str,
        registry: Arc<ClusterRegistry>,
        settings: StatusWriterSettings,
    ) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_string(),
            registry,
            settings,
            present: HashSet::new(),
            written: HashMap::new(),
            listed_at: None,
        }
    }

    /// Runs rounds every `interval` until `cancel`; a last round then writes the final
    /// state. Cancel it after the relay server has shut down, so that this last round
    /// records `connected: false` for the streams the shutdown closed.
    pub fn spawn(mut self, cancel: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(self.settings.interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = ticker.tick() => {}
                }
                self.round().await;
            }
            self.round().await;
        })
    }

    async fn refresh_present(&mut self) -> Result<(), CallError> {
        let due = self
            .listed_at
            .is_none_or(|t| t.elapsed() >= self.settings.list_interval);
        if !due {
            return Ok(());
        }
        let what = format!("kubernetesclusters in {}", self.namespace);
        let list = timed(
            what,
            self.settings.call_timeout,
            self.api.list_metadata(&ListParams::default()),
        )
        .await?;
        self.present = list
            .items
            .into_iter()
            .filter_map(|o| o.metadata.name)
            .collect();
        self.written.retain(|name, _| self.present.contains(name));
        // A registered cluster is listed (disconnected) before its agent ever connects.
        for name in &self.present {
            self.registry.register(name);
        }
        self.listed_at = Some(tokio::time::Instant::now());
        Ok(())
    }

    /// One round: writes every due status. Returns how many were written.
    pub async fn round(&mut self) -> usize {
        if let Err(e) = self.refresh_present().await {
            tracing::warn!(error = %e, "listing KubernetesClusters failed; relay status not written");
            return 0;
        }
        let due: Vec<(String, KubernetesClusterStatus)> = self
            .registry
            .list()
            .iter()
            .filter(|c| self.present.contains(&c.name))
            // connected_since is set by this replica's first stream of the cluster and kept.
            .filter(|c| !self.settings.held_streams_only || c.connected_since.is_some())
            .map(|c| (c.name.clone(), status_of(c)))
            .filter(|(name, next)| {
                write_due(
                    self.written.get(name),
                    next,
                    self.settings.last_seen_resolution,
                )
            })
            .take(self.settings.max_writes_per_round.max(1))
            .collect();
        let api = &self.api;
        let timeout = self.settings.call_timeout;
        let namespace = &self.namespace;
        let results: Vec<(String, KubernetesClusterStatus, Result<(), CallError>)> =
            futures::stream::iter(due)
                .map(|(name, status)| async move {
                    let patch = serde_json::json!({ "status": status });
                    let result = timed(
                        format!("kubernetescluster {namespace}/{name} status"),
                        timeout,
                        api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch)),
                    )
                    .await
                    .map(|_| ());
                    (name, status, result)
                })
                .buffer_unordered(WRITE_CONCURRENCY)
                .collect()
                .await;
        let mut written = 0;
        for (name, status, result) in results {
            match result {
                Ok(()) => {
                    written += 1;
                    self.written.insert(name, status);
                }
                Err(e) if e.is_not_found() => {
                    tracing::debug!(cluster = %name, "no KubernetesCluster for this cluster; status skipped");
                    self.present.remove(&name);
                    self.written.remove(&name);
                }
                Err(e) => {
                    tracing::warn!(cluster = %name, error = %e, "writing the KubernetesCluster status failed; retried next round")
                }
            }
        }
        written
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::check::testing::{MockApi, list, status};
    use crate::server::metrics::RelayMetrics;
    use crate::server::registry::AttachInfo;
    use serde_json::{Value, json};
    use std::sync::Mutex;

    const PATH: &str = "/apis/admin.meshctl.dev/v1alpha1/namespaces/mesh-system/kubernetesclusters";

    fn kc(name: &str) -> Value {
        json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
            "metadata": {"name": name, "namespace": "mesh-system"}})
    }

    #[tokio::test]
    async fn writes_changed_status_of_existing_clusters_only() {
        let patches: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        let seen = patches.clone();
        let api = MockApi::start(move |method, path, body| match method {
            "GET" if path.starts_with(PATH) => (200, list("KubernetesClusterList", vec![kc("c1")])),
            "PATCH" => {
                seen.lock().unwrap().push((path.to_string(), body.clone()));
                (
                    200,
                    json!({"apiVersion": "admin.meshctl.dev/v1alpha1", "kind": "KubernetesCluster",
                    "metadata": {"name": "c1", "namespace": "mesh-system"}, "spec": {}}),
                )
            }
            _ => (404, status(404, "NotFound", "not found")),
        });
        let registry = Arc::new(ClusterRegistry::new(Arc::new(RelayMetrics::new())));
        let (handle, _) = registry.attach(
            "c1",
            AttachInfo {
                agent_version: "0.1.0".into(),
                cert_not_after: Some(1_900_000_000),
                remote_address: None,
            },
        );
        registry.register("no-object");
        let mut w = ClusterStatusWriter::new(
            api.client(),
            "mesh-system",
            registry.clone(),
            StatusWriterSettings::default(),
        );
        assert_eq!(w.round().await, 1);
        assert_eq!(w.round().await, 0, "nothing changed, nothing written");
        registry.detach(&handle, "closed");
        assert_eq!(w.round().await, 1);

        let patches = patches.lock().unwrap().clone();
        assert_eq!(patches.len(), 2);
        assert_eq!(patches[0].0, format!("{PATH}/c1/status"));
        assert_eq!(patches[0].1["status"]["connected"], true);
        assert_eq!(patches[0].1["status"]["agentVersion"], "0.1.0");
        assert_eq!(patches[0].1["status"]["certExpiry"], "2030-03-17T17:46:40Z");
        assert_eq!(patches[1].1["status"]["connected"], false);
        let reqs = api.requests();
        assert_eq!(
            reqs.iter().filter(|r| r.starts_with("GET ")).count(),
            1,
            "{reqs:?}"
        );
        assert!(reqs.iter().all(|r| !r.contains("no-object")), "{reqs:?}");
    }

    #[tokio::test]
    async fn a_replica_writes_only_the_clusters_whose_stream_it_held() {
        let patched: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = patched.clone();
        let api = MockApi::start(move |method, path, _| match method {
            "GET" if path.starts_with(PATH) => (
                200,
                list("KubernetesClusterList", vec![kc("held"), kc("elsewhere")]),
            ),
            "PATCH" => {
                seen.lock().unwrap().push(path.to_string());
                (
                    200,
                    json!({"apiVersion": "admin.meshctl.dev/v1alpha1", "kind": "KubernetesCluster",
                    "metadata": {"name": "x", "namespace": "mesh-system"}, "spec": {}}),
                )
            }
            _ => (404, status(404, "NotFound", "not found")),
        });
        let registry = Arc::new(ClusterRegistry::new(Arc::new(RelayMetrics::new())));
        let (handle, _) = registry.attach(
            "held",
            AttachInfo {
                agent_version: "0.1.0".into(),
                cert_not_after: None,
                remote_address: None,
            },
        );
        let settings = StatusWriterSettings {
            held_streams_only: true,
            ..StatusWriterSettings::default()
        };
        let mut w =
            ClusterStatusWriter::new(api.client(), "mesh-system", registry.clone(), settings);
        assert_eq!(w.round().await, 1);
        // The stream this replica held ended: its disconnect is still this replica's to write.
        registry.detach(&handle, "closed");
        assert_eq!(w.round().await, 1);
        let patched = patched.lock().unwrap().clone();
        assert_eq!(
            patched,
            [format!("{PATH}/held/status"), format!("{PATH}/held/status")]
        );
        // "elsewhere" is known (listed) but never connected here: never written.
        assert!(registry.get("elsewhere").is_some());

        // A single server still writes a registered cluster as disconnected before its agent connects.
        let mut single = ClusterStatusWriter::new(
            api.client(),
            "mesh-system",
            registry,
            StatusWriterSettings::default(),
        );
        assert_eq!(single.round().await, 2);
    }

    #[tokio::test]
    async fn writes_per_round_are_capped_and_a_missing_object_is_dropped() {
        let api = MockApi::start(move |method, path, _| match method {
            "GET" => (
                200,
                list(
                    "KubernetesClusterList",
                    (0..5).map(|i| kc(&format!("c{i}"))).collect(),
                ),
            ),
            "PATCH" if path.contains("/c0/") => (404, status(404, "NotFound", "gone")),
            "PATCH" => (
                200,
                json!({"apiVersion": "admin.meshctl.dev/v1alpha1", "kind": "KubernetesCluster",
                    "metadata": {"name": "x", "namespace": "mesh-system"}, "spec": {}}),
            ),
            _ => (404, status(404, "NotFound", "not found")),
        });
        let registry = Arc::new(ClusterRegistry::new(Arc::new(RelayMetrics::new())));
        for i in 0..5 {
            registry.register(&format!("c{i}"));
        }
        let settings = StatusWriterSettings {
            max_writes_per_round: 2,
            ..StatusWriterSettings::default()
        };
        let mut w = ClusterStatusWriter::new(api.client(), "mesh-system", registry, settings);
        let mut total = 0;
        for _ in 0..4 {
            let n = w.round().await;
            assert!(n <= 2);
            total += n;
        }
        assert_eq!(total, 4, "c1..c4 written, c0 has no object");
        let c0 = api
            .requests()
            .iter()
            .filter(|r| r.contains("/c0/status"))
            .count();
        assert_eq!(c0, 1, "a cluster whose object is missing is not retried");
    }
}
