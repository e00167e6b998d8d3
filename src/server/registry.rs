//! The cluster registry: the server's live view of every cluster's relay state, as
//! served at `GET /api/v1/clusters` and exported as metrics.

use crate::server::metrics::RelayMetrics;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio_util::sync::CancellationToken;

/// At most this many per-resource errors of the last acknowledgement are kept.
const MAX_KEPT_ERRORS: usize = 20;

/// A per-resource error reported by an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceErrorView {
    pub key: String,
    pub message: String,
}

/// One cluster's relay state (JSON at `GET /api/v1/clusters`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterStatus {
    pub name: String,
    pub connected: bool,
    pub agent_version: Option<String>,
    pub connected_since: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
    pub snapshot_version: u64,
    pub snapshot_resources: u64,
    pub snapshot_bytes: u64,
    pub desired_config_version: Option<u64>,
    pub applied_config_version: Option<u64>,
    /// Content hash of the configuration sent (the aggregate of its resources' hashes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_config_hash: Option<String>,
    /// Content hash of what the agent holds after its last Ack: equal to the desired hash when
    /// everything was applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_config_hash: Option<String>,
    /// When the agent acknowledged `applied_config_version`.
    #[serde(default)]
    pub applied_config_at: Option<Timestamp>,
    pub config_errors: Vec<ResourceErrorView>,
    pub cert_not_after: Option<Timestamp>,
    pub remote_address: Option<String>,
    pub last_disconnect_reason: Option<String>,
    /// The server replica holding the agent's stream, when replicas share their relay view
    /// (`--redis-url`; see `server::relay_view`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<String>,
}

struct Entry {
    status: ClusterStatus,
    active: Option<ActiveStream>,
}

/// The live stream of a cluster: its id and how to end it.
struct ActiveStream {
    id: u64,
    replaced: CancellationToken,
    deregistered: CancellationToken,
}

/// Handle of one live stream on its cluster's entry.
pub struct StreamHandle {
    pub id: u64,
    pub cluster: String,
    /// Cancelled when a newer stream of the same cluster replaces this one.
    pub replaced: CancellationToken,
    /// Cancelled when the cluster was deregistered while this stream was open.
    pub deregistered: CancellationToken,
    entry: Arc<Mutex<Entry>>,
    metrics: Arc<RelayMetrics>,
}

impl std::fmt::Debug for StreamHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamHandle")
            .field("id", &self.id)
            .field("cluster", &self.cluster)
            .finish()
    }
}

impl StreamHandle {
    /// Records that a message arrived now.
    pub fn touch(&self) {
        let now = Timestamp::now();
        self.update(|s| s.last_seen = Some(now));
        self.metrics.seen(&self.cluster, now.as_second());
    }

    /// Updates the status, if this stream is still the cluster's active one.
    pub fn update(&self, f: impl FnOnce(&mut ClusterStatus)) {
        let mut e = match self.entry.lock() {
            Ok(e) => e,
            Err(p) => p.into_inner(),
        };
        if e.active.as_ref().map(|a| a.id) == Some(self.id) {
            f(&mut e.status);
        }
    }

    pub fn set_config_errors(&self, errors: Vec<ResourceErrorView>) {
        self.update(|s| {
            s.config_errors = errors.into_iter().take(MAX_KEPT_ERRORS).collect();
        });
    }
}

/// Information recorded when a stream attaches.
#[derive(Debug, Clone)]
pub struct AttachInfo {
    pub agent_version: String,
    pub cert_not_after: Option<i64>,
    pub remote_address: Option<String>,
}

pub struct ClusterRegistry {
    clusters: RwLock<HashMap<String, Arc<Mutex<Entry>>>>,
    metrics: Arc<RelayMetrics>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for ClusterRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterRegistry")
    }
}

impl ClusterRegistry {
    pub fn new(metrics: Arc<RelayMetrics>) -> Self {
        Self {
            clusters: RwLock::new(HashMap::new()),
            metrics,
            next_id: AtomicU64::new(1),
        }
    }

    fn entry(&self, cluster: &str) -> Arc<Mutex<Entry>> {
        if let Ok(g) = self.clusters.read()
            && let Some(e) = g.get(cluster)
        {
            return e.clone();
        }
        let mut g = match self.clusters.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.entry(cluster.to_string())
            .or_insert_with(|| {
                self.metrics.set_connected(cluster, false);
                Arc::new(Mutex::new(Entry {
                    status: ClusterStatus {
                        name: cluster.to_string(),
                        ..ClusterStatus::default()
                    },
                    active: None,
                }))
            })
            .clone()
    }

    /// Makes `cluster` known (shown as disconnected until its agent connects).
    pub fn register(&self, cluster: &str) {
        self.entry(cluster);
    }

    /// Whether `cluster` currently has a live stream.
    pub fn has_active(&self, cluster: &str) -> bool {
        let g = match self.clusters.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.get(cluster)
            .and_then(|e| e.lock().ok().map(|e| e.active.is_some()))
            .unwrap_or(false)
    }

    /// Cancels the live stream of `cluster`, if any (it ends as replaced).
    pub fn cancel_active(&self, cluster: &str) {
        let g = match self.clusters.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some(e) = g.get(cluster)
            && let Ok(e) = e.lock()
            && let Some(active) = &e.active
        {
            active.replaced.cancel();
        }
    }

    /// Ends the live stream of `cluster`, if any, because the cluster was deregistered.
    pub fn end_deregistered(&self, cluster: &str) {
        let g = match self.clusters.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some(e) = g.get(cluster)
            && let Ok(e) = e.lock()
            && let Some(active) = &e.active
        {
            active.deregistered.cancel();
        }
    }

    /// Attaches a new stream for `cluster`, cancelling (replacing) any older one.
    /// Returns the handle and whether an older stream was replaced.
    pub fn attach(&self, cluster: &str, info: AttachInfo) -> (StreamHandle, bool) {
        let entry = self.entry(cluster);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let token = CancellationToken::new();
        let deregistered = CancellationToken::new();
        let now = Timestamp::now();
        let replaced = {
            let mut e = match entry.lock() {
                Ok(e) => e,
                Err(p) => p.into_inner(),
            };
            let old = e.active.replace(ActiveStream {
                id,
                replaced: token.clone(),
                deregistered: deregistered.clone(),
            });
            if let Some(old) = &old {
                old.replaced.cancel();
            }
            let s = &mut e.status;
            s.connected = true;
            s.agent_version = Some(info.agent_version);
            s.connected_since = Some(now);
            s.last_seen = Some(now);
            s.cert_not_after = info
                .cert_not_after
                .and_then(|t| Timestamp::from_second(t).ok());
            s.remote_address = info.remote_address;
            s.config_errors.clear();
            old.is_some()
        };
        self.metrics.set_connected(cluster, true);
        self.metrics.seen(cluster, now.as_second());
        (
            StreamHandle {
                id,
                cluster: cluster.to_string(),
                replaced: token,
                deregistered,
                entry,
                metrics: self.metrics.clone(),
            },
            replaced,
        )
    }

    /// Detaches a stream; the cluster shows as disconnected unless a newer stream
    /// has replaced this one.
    pub fn detach(&self, handle: &StreamHandle, reason: &str) {
        let mut e = match handle.entry.lock() {
            Ok(e) => e,
            Err(p) => p.into_inner(),
        };
        if e.active.as_ref().map(|a| a.id) == Some(handle.id) {
            e.active = None;
            e.status.connected = false;
            e.status.last_disconnect_reason = Some(reason.to_string());
            self.metrics.set_connected(&handle.cluster, false);
        }
    }

    /// Every known cluster, by name.
    pub fn list(&self) -> Vec<ClusterStatus> {
        let entries: Vec<Arc<Mutex<Entry>>> = match self.clusters.read() {
            Ok(g) => g.values().cloned().collect(),
            Err(p) => p.into_inner().values().cloned().collect(),
        };
        let mut out: Vec<ClusterStatus> = entries
            .iter()
            .map(|e| match e.lock() {
                Ok(e) => e.status.clone(),
                Err(p) => p.into_inner().status.clone(),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    pub fn get(&self, cluster: &str) -> Option<ClusterStatus> {
        let g = self.clusters.read().ok()?;
        let e = g.get(cluster)?.lock().ok()?;
        Some(e.status.clone())
    }

    /// How many clusters' status satisfies `f`, without copying any status.
    pub fn count_where(&self, f: impl Fn(&ClusterStatus) -> bool) -> usize {
        let g = match self.clusters.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.values()
            .filter(|e| match e.lock() {
                Ok(e) => f(&e.status),
                Err(p) => f(&p.into_inner().status),
            })
            .count()
    }

    pub fn connected_count(&self) -> usize {
        self.count_where(|s| s.connected)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn info() -> AttachInfo {
        AttachInfo {
            agent_version: "1.0".into(),
            cert_not_after: Some(2_000_000_000),
            remote_address: None,
        }
    }

    #[test]
    fn second_stream_replaces_first_cleanly() {
        let r = ClusterRegistry::new(Arc::new(RelayMetrics::new()));
        let (first, replaced) = r.attach("c1", info());
        assert!(!replaced);
        let (second, replaced) = r.attach("c1", info());
        assert!(replaced);
        assert!(first.replaced.is_cancelled());
        assert!(!second.replaced.is_cancelled());
        // the old stream's cleanup must not mark the cluster disconnected
        r.detach(&first, "replaced");
        assert!(r.get("c1").is_some_and(|s| s.connected));
        first.update(|s| s.snapshot_version = 99);
        assert_eq!(r.get("c1").map(|s| s.snapshot_version), Some(0));
        r.detach(&second, "closed");
        let s = r.get("c1").unwrap_or_default();
        assert!(!s.connected);
        assert_eq!(s.last_disconnect_reason.as_deref(), Some("closed"));
    }

    #[test]
    fn registered_clusters_are_listed_disconnected() {
        let r = ClusterRegistry::new(Arc::new(RelayMetrics::new()));
        r.register("b");
        r.register("a");
        let names: Vec<_> = r.list().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(r.connected_count(), 0);
        let (_h, _) = r.attach("a", info());
        assert_eq!(r.connected_count(), 1);
        assert_eq!(r.count_where(|s| s.name == "b" && !s.connected), 1);
    }
}
