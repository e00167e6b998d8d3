//! The server's state store: what each cluster's agent reported (its snapshot).
//! A trait so that a shared store (Redis) can replace the embedded memory store.

use crate::relay::hash::aggregate_hash;
use crate::relay::proto;
use crate::relay::resource::key_of;
use crate::server::registry::ClusterStatus;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

/// A cluster whose agent stream another replica holds, as that replica published it (the shared
/// relay view, src/server/relay_view.rs, merges these with this replica's own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerClusterStatus {
    /// The publishing replica's name (its pod name in Kubernetes).
    pub replica: String,
    pub status: ClusterStatus,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the state store is unavailable: {0}")]
    Unavailable(String),
    /// The Redis URL does not parse (the URL is shown with its password redacted).
    #[error("invalid Redis URL {url}: {message}")]
    InvalidUrl { url: String, message: String },
    /// A Redis command failed (connection refused or lost, error reply).
    #[error("Redis state store at {url}: {op} failed: {message}")]
    Redis {
        url: String,
        op: &'static str,
        message: String,
    },
    /// A Redis command got no answer in time.
    #[error("Redis state store at {url}: {op} timed out after {after:?}")]
    Timeout {
        url: String,
        op: &'static str,
        after: std::time::Duration,
    },
    /// Data in the store that meshctl did not write (or a version that wrote it differently).
    #[error("the state store holds unreadable data at {key}: {message}")]
    Corrupt { key: String, message: String },
}

/// A change of the stored snapshots made by another server replica (shared stores only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChange {
    /// This cluster's snapshot changed.
    Cluster(String),
    /// Anything may have changed (e.g. the change feed was (re)connected and may have missed some).
    All,
}

/// Summary of one cluster's snapshot as held by the server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SnapshotSummary {
    pub version: u64,
    pub resources: u64,
    pub bytes: u64,
    /// Aggregate hash (see `relay::hash::aggregate_hash`).
    pub hash: String,
}

#[async_trait]
pub trait StateStore: Send + Sync + 'static {
    /// key -> hash of the resources held for `cluster`.
    async fn snapshot_hashes(&self, cluster: &str) -> Result<HashMap<String, String>, StoreError>;
    async fn snapshot_summary(&self, cluster: &str) -> Result<SnapshotSummary, StoreError>;
    /// Applies upserts and deletes (key strings) and records `version`.
    async fn apply_snapshot_delta(
        &self,
        cluster: &str,
        version: u64,
        upserts: Vec<proto::Resource>,
        deletes: Vec<String>,
    ) -> Result<SnapshotSummary, StoreError>;
    /// The resources held for `cluster`, in key order.
    async fn snapshot(&self, cluster: &str) -> Result<Vec<proto::Resource>, StoreError>;
    async fn clusters(&self) -> Result<Vec<String>, StoreError>;

    /// This replica's name when replicas share their relay view through this store (see
    /// `server::relay_view`); `None` (the default, and the memory store) when they do not.
    fn relay_view_replica(&self) -> Option<&str> {
        None
    }

    /// Publishes the streams this replica holds (`held`, each entry expiring unless published
    /// again) and withdraws the `released` clusters' entries that are still this replica's.
    async fn publish_relay_view(
        &self,
        _held: &[ClusterStatus],
        _released: &[String],
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// What the other live replicas published.
    async fn peer_relay_view(&self) -> Result<Vec<PeerClusterStatus>, StoreError> {
        Ok(Vec::new())
    }
}

#[derive(Default)]
struct ClusterSnapshot {
    resources: BTreeMap<String, proto::Resource>,
    version: u64,
    bytes: u64,
    hash: Option<String>,
}

impl ClusterSnapshot {
    fn summary(&mut self) -> SnapshotSummary {
        let hash = match &self.hash {
            Some(h) => h.clone(),
            None => {
                let h = aggregate_hash(self.resources.iter().map(|(k, r)| (k, &r.hash)));
                self.hash = Some(h.clone());
                h
            }
        };
        SnapshotSummary {
            version: self.version,
            resources: self.resources.len() as u64,
            bytes: self.bytes,
            hash,
        }
    }
}

/// The embedded store: everything in memory, rebuilt from agents after a restart.
#[derive(Default, Clone)]
pub struct MemoryStateStore {
    inner: Arc<RwLock<HashMap<String, ClusterSnapshot>>>,
}

impl MemoryStateStore {
    pub fn new() -> Self {
        Self::default()
    }
}

fn poisoned() -> StoreError {
    StoreError::Unavailable("memory store lock poisoned".into())
}

#[async_trait]
impl StateStore for MemoryStateStore {
    async fn snapshot_hashes(&self, cluster: &str) -> Result<HashMap<String, String>, StoreError> {
        let map = self.inner.read().map_err(|_| poisoned())?;
        Ok(map
            .get(cluster)
            .map(|s| {
                s.resources
                    .iter()
                    .map(|(k, r)| (k.clone(), r.hash.clone()))
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn snapshot_summary(&self, cluster: &str) -> Result<SnapshotSummary, StoreError> {
        let mut map = self.inner.write().map_err(|_| poisoned())?;
        Ok(map
            .get_mut(cluster)
            .map(ClusterSnapshot::summary)
            .unwrap_or_default())
    }

    async fn apply_snapshot_delta(
        &self,
        cluster: &str,
        version: u64,
        upserts: Vec<proto::Resource>,
        deletes: Vec<String>,
    ) -> Result<SnapshotSummary, StoreError> {
        let mut map = self.inner.write().map_err(|_| poisoned())?;
        let snap = map.entry(cluster.to_string()).or_default();
        if !upserts.is_empty() || !deletes.is_empty() {
            snap.hash = None;
        }
        for r in upserts {
            snap.bytes += r.body.len() as u64;
            if let Some(old) = snap.resources.insert(key_of(&r), r) {
                snap.bytes = snap.bytes.saturating_sub(old.body.len() as u64);
            }
        }
        for key in deletes {
            if let Some(old) = snap.resources.remove(&key) {
                snap.bytes = snap.bytes.saturating_sub(old.body.len() as u64);
            }
        }
        snap.version = version;
        Ok(snap.summary())
    }

    async fn snapshot(&self, cluster: &str) -> Result<Vec<proto::Resource>, StoreError> {
        let map = self.inner.read().map_err(|_| poisoned())?;
        Ok(map
            .get(cluster)
            .map(|s| s.resources.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn clusters(&self) -> Result<Vec<String>, StoreError> {
        let map = self.inner.read().map_err(|_| poisoned())?;
        let mut names: Vec<String> = map.keys().cloned().collect();
        names.sort();
        Ok(names)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::relay::resource::from_json;
    use serde_json::json;

    fn res(name: &str, v: &str) -> proto::Resource {
        from_json(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "ns"}, "data": {"v": v}}))
        .unwrap()
    }

    #[tokio::test]
    async fn deltas_accumulate_and_summaries_track_them() {
        let s = MemoryStateStore::new();
        let a = res("a", "1");
        let sum = s
            .apply_snapshot_delta("c1", 1, vec![a.clone(), res("b", "1")], vec![])
            .await
            .unwrap();
        assert_eq!(sum.resources, 2);
        assert_eq!(sum.version, 1);
        let sum2 = s
            .apply_snapshot_delta("c1", 2, vec![], vec![key_of(&a)])
            .await
            .unwrap();
        assert_eq!(sum2.resources, 1);
        assert_ne!(sum.hash, sum2.hash);
        assert_eq!(s.snapshot_hashes("c1").await.unwrap().len(), 1);
        assert_eq!(
            s.snapshot_summary("other").await.unwrap(),
            SnapshotSummary::default()
        );
        assert_eq!(s.clusters().await.unwrap(), ["c1"]);
        assert_eq!(s.snapshot("c1").await.unwrap()[0].name, "b");
    }
}
