//! What the agent reports: a snapshot of its cluster's resources. A `ClusterSource`
//! publishes the current snapshot; the directory source reads YAML files and polls
//! them for changes.

use crate::relay::hash::aggregate_hash;
use crate::relay::proto;
use crate::relay::resource_files::{fingerprint, load_dir};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// A complete snapshot of a cluster.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Snapshot {
    pub resources: BTreeMap<String, proto::Resource>,
    /// Aggregate hash of `resources`.
    pub hash: String,
}

impl Snapshot {
    pub fn new(resources: BTreeMap<String, proto::Resource>) -> Self {
        let hash = aggregate_hash(resources.iter().map(|(k, r)| (k, &r.hash)));
        Self { resources, hash }
    }

    /// key -> hash.
    pub fn hashes(&self) -> HashMap<String, String> {
        self.resources
            .iter()
            .map(|(k, r)| (k.clone(), r.hash.clone()))
            .collect()
    }
}

pub trait ClusterSource: Send + Sync + 'static {
    /// The current snapshot; the receiver is notified when it changes.
    fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>>;
}

/// A source whose snapshot is set programmatically (tests, simulated agents).
#[derive(Debug)]
pub struct StaticSource {
    tx: watch::Sender<Arc<Snapshot>>,
}

impl Default for StaticSource {
    fn default() -> Self {
        Self {
            tx: watch::Sender::new(Arc::new(Snapshot::default())),
        }
    }
}

impl StaticSource {
    pub fn new(resources: BTreeMap<String, proto::Resource>) -> Self {
        let s = Self::default();
        s.set(resources);
        s
    }

    pub fn set(&self, resources: BTreeMap<String, proto::Resource>) {
        self.tx.send_replace(Arc::new(Snapshot::new(resources)));
    }
}

impl ClusterSource for StaticSource {
    fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.tx.subscribe()
    }
}

/// Resources read from YAML files under a directory, re-read when a file changes
/// (polled every `interval`). Invalid files are logged and skipped.
#[derive(Debug)]
pub struct DirSource {
    tx: watch::Sender<Arc<Snapshot>>,
}

impl DirSource {
    /// Loads `dir` once, then keeps polling until `cancel`.
    pub async fn start(
        dir: PathBuf,
        interval: Duration,
        cancel: CancellationToken,
    ) -> std::io::Result<Arc<Self>> {
        let d = dir.clone();
        let (fp, snap) = tokio::task::spawn_blocking(move || scan(&d))
            .await
            .map_err(std::io::Error::other)??;
        let source = Arc::new(Self {
            tx: watch::Sender::new(Arc::new(snap)),
        });
        let weak = Arc::downgrade(&source);
        tokio::spawn(async move {
            let mut last = fp;
            // `interval` panics on zero; the CLI refuses `--poll-interval 0`, library callers get 1 ms.
            let mut ticker = tokio::time::interval(interval.max(Duration::from_millis(1)));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = ticker.tick() => {}
                }
                let d = dir.clone();
                let prev = last.clone();
                let changed = tokio::task::spawn_blocking(
                    move || -> std::io::Result<Option<(String, Snapshot)>> {
                        let fp = fingerprint(&d)?;
                        if fp == prev {
                            Ok(None)
                        } else {
                            scan(&d).map(Some)
                        }
                    },
                )
                .await;
                let Some(source) = weak.upgrade() else { return };
                match changed {
                    Ok(Ok(Some((fp, snap)))) => {
                        last = fp;
                        tracing::debug!(resources = snap.resources.len(), "cluster source changed");
                        source.tx.send_if_modified(|cur| {
                            if cur.hash == snap.hash {
                                false
                            } else {
                                *cur = Arc::new(snap);
                                true
                            }
                        });
                    }
                    Ok(Ok(None)) => {}
                    Ok(Err(e)) => {
                        tracing::warn!(dir = %dir.display(), error = %e, "reading the source dir failed")
                    }
                    Err(e) => tracing::warn!(error = %e, "source scan task failed"),
                }
            }
        });
        Ok(source)
    }
}

fn scan(dir: &std::path::Path) -> std::io::Result<(String, Snapshot)> {
    let fp = fingerprint(dir)?;
    let loaded = load_dir(dir)?;
    for p in &loaded.problems {
        tracing::warn!(path = %p.path.display(), problem = %p.message, "source file skipped");
    }
    Ok((fp, Snapshot::new(loaded.resources)))
}

impl ClusterSource for DirSource {
    fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dir_source_notices_changes() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("a.yaml"),
            "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: ns}\n",
        )
        .unwrap();
        let cancel = CancellationToken::new();
        let src = DirSource::start(tmp.path().into(), Duration::from_millis(20), cancel.clone())
            .await
            .unwrap();
        let mut rx = src.subscribe();
        assert_eq!(rx.borrow_and_update().resources.len(), 1);
        std::fs::write(
            tmp.path().join("b.yaml"),
            "apiVersion: v1\nkind: Service\nmetadata: {name: b, namespace: ns}\n",
        )
        .unwrap();
        tokio::time::timeout(Duration::from_secs(10), rx.changed())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rx.borrow().resources.len(), 2);
        cancel.cancel();
    }
}
