//! Where the desired per-cluster configuration comes from. Until the translator lands
//! the server pushes an empty configuration, or what `--config-dir` holds
//! (`<dir>/<cluster>/*.yaml`, pushed verbatim to that cluster).

use crate::relay::hash::aggregate_hash;
use crate::relay::proto;
use crate::relay::resource_files::{fingerprint, load_dir};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

type ClusterResources = HashMap<String, BTreeMap<String, proto::Resource>>;
/// One scan of a changed config dir: its fingerprint, each cluster's resources, the files skipped.
type Scanned = (
    String,
    ClusterResources,
    Vec<crate::relay::resource_files::FileProblem>,
);

/// The configuration one cluster should hold.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ClusterConfig {
    /// Increases whenever this cluster's configuration changes, across server restarts and
    /// replicas too ([`next_generation`]); sent as the ConfigDelta version.
    pub generation: u64,
    pub resources: BTreeMap<String, proto::Resource>,
    /// The aggregate hash of `resources` (`relay::hash::aggregate_hash`; empty for none): what an
    /// agent that applied all of it reports in its Ack.
    pub hash: String,
}

impl ClusterConfig {
    /// `resources` as generation `generation`, with their content hash.
    pub fn new(generation: u64, resources: BTreeMap<String, proto::Resource>) -> Self {
        let hash = aggregate_hash(resources.iter().map(|(k, r)| (k, &r.hash)));
        Self {
            generation,
            resources,
            hash,
        }
    }
}

/// The generation after `previous`: the wall clock in microseconds since the Unix epoch, or
/// `previous + 1` when that is not later. A restarted server, or another replica, starts from the
/// clock, so versions an agent sees never go back (as long as clocks do not run backwards by more
/// than the time between two changes) and `meshctl_agent_config_version` always shows that new
/// content arrived. Microseconds stay below 2^53, so the version is exact as a metric value too.
pub fn next_generation(previous: u64) -> u64 {
    let now = u64::try_from(jiff::Timestamp::now().as_microsecond()).unwrap_or(0);
    now.max(previous.saturating_add(1))
}

pub trait ConfigSource: Send + Sync + 'static {
    /// The desired configuration of `cluster` (cheap: a shared pointer that stays the
    /// same until the cluster's configuration changes).
    fn desired(&self, cluster: &str) -> Arc<ClusterConfig>;
    /// Notified (with a global change counter) whenever any cluster's configuration
    /// changes, and when the source becomes ready.
    fn subscribe(&self) -> watch::Receiver<u64>;
    /// Whether the source has loaded its inputs. Until then nothing is pushed, so that
    /// a restarting server never withdraws configuration agents hold.
    fn is_ready(&self) -> bool;
    /// Whether `cluster`'s configuration may be pushed (by default: when the source is ready).
    /// The translating source also waits for the cluster's snapshot to be translated, so that a
    /// restarted server never withdraws what an agent holds before it knows the cluster.
    fn is_ready_for(&self, _cluster: &str) -> bool {
        self.is_ready()
    }
    /// Extra routes this source serves on the admin port (the translator's catalog and statuses).
    fn admin_routes(&self) -> Option<axum::Router> {
        None
    }
}

/// A configuration set programmatically: empty for every cluster until `set`.
pub struct StaticConfigSource {
    configs: RwLock<HashMap<String, Arc<ClusterConfig>>>,
    empty: Arc<ClusterConfig>,
    changes: watch::Sender<u64>,
    ready: std::sync::atomic::AtomicBool,
}

impl Default for StaticConfigSource {
    fn default() -> Self {
        Self {
            configs: RwLock::new(HashMap::new()),
            empty: Arc::new(ClusterConfig::new(next_generation(0), BTreeMap::new())),
            changes: watch::Sender::new(0),
            ready: std::sync::atomic::AtomicBool::new(true),
        }
    }
}

impl StaticConfigSource {
    /// A source that is ready at once (configuration is set programmatically).
    pub fn new() -> Self {
        Self::default()
    }

    /// A source that is not ready until [`Self::mark_ready`] (it is fed by a loader,
    /// e.g. [`watch_config_dir`], which marks it after its first load).
    pub fn pending() -> Self {
        let s = Self::default();
        s.ready.store(false, std::sync::atomic::Ordering::SeqCst);
        s
    }

    pub fn mark_ready(&self) {
        if !self.ready.swap(true, std::sync::atomic::Ordering::SeqCst) {
            self.changes.send_modify(|n| *n += 1);
        }
    }

    /// Replaces the configuration of `cluster`. Returns the new generation, or the
    /// old one when nothing changed.
    pub fn set(&self, cluster: &str, resources: BTreeMap<String, proto::Resource>) -> u64 {
        let mut g = match self.configs.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let (generation, changed) = self.replace(&mut g, cluster.to_string(), resources);
        drop(g);
        if changed {
            self.changes.send_modify(|n| *n += 1);
        }
        generation
    }

    /// Replaces one cluster's configuration under the write lock; returns its generation
    /// and whether it changed.
    fn replace(
        &self,
        configs: &mut HashMap<String, Arc<ClusterConfig>>,
        cluster: String,
        resources: BTreeMap<String, proto::Resource>,
    ) -> (u64, bool) {
        let old = configs
            .get(&cluster)
            .cloned()
            .unwrap_or_else(|| self.empty.clone());
        if old.resources == resources {
            return (old.generation, false);
        }
        let generation = next_generation(old.generation);
        configs.insert(cluster, Arc::new(ClusterConfig::new(generation, resources)));
        (generation, true)
    }

    /// Wakes the subscribers without a change (e.g. when a cluster becomes ready).
    pub fn touch(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    /// Replaces the configuration of several clusters at once, notifying subscribers
    /// once (with `set` per cluster every stream would wake once per cluster: N
    /// clusters changed one by one cost N x N wake-ups). Returns how many clusters
    /// changed.
    pub fn set_many(
        &self,
        configs: impl IntoIterator<Item = (String, BTreeMap<String, proto::Resource>)>,
    ) -> usize {
        let mut g = match self.configs.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let mut changed = 0;
        for (cluster, resources) in configs {
            if self.replace(&mut g, cluster, resources).1 {
                changed += 1;
            }
        }
        drop(g);
        if changed > 0 {
            self.changes.send_modify(|n| *n += 1);
        }
        changed
    }

    /// Clusters with an explicitly set configuration.
    pub fn clusters(&self) -> Vec<String> {
        match self.configs.read() {
            Ok(g) => g.keys().cloned().collect(),
            Err(p) => p.into_inner().keys().cloned().collect(),
        }
    }
}

impl ConfigSource for StaticConfigSource {
    fn desired(&self, cluster: &str) -> Arc<ClusterConfig> {
        let g = match self.configs.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.get(cluster)
            .cloned()
            .unwrap_or_else(|| self.empty.clone())
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn is_ready(&self) -> bool {
        self.ready.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Polls `<dir>/<cluster>/` every `interval` and feeds `target`. Runs until `cancel`.
pub async fn watch_config_dir(
    dir: PathBuf,
    target: Arc<StaticConfigSource>,
    interval: Duration,
    cancel: CancellationToken,
) {
    let mut last = String::new();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let d = dir.clone();
        let previous = last.clone();
        // Unchanged files are not read again (nor their problems logged again every tick).
        let scan = tokio::task::spawn_blocking(move || -> std::io::Result<Option<Scanned>> {
            let fp = fingerprint(&d)?;
            if fp == previous {
                return Ok(None);
            }
            let mut out = HashMap::new();
            let mut problems = Vec::new();
            for entry in std::fs::read_dir(&d)? {
                let entry = entry?;
                if !entry.file_type()?.is_dir() {
                    continue;
                }
                let cluster = entry.file_name().to_string_lossy().to_string();
                if crate::relay::identity::validate_cluster_name(&cluster).is_err() {
                    continue;
                }
                let loaded = load_dir(&entry.path())?;
                problems.extend(loaded.problems);
                out.insert(cluster, loaded.resources);
            }
            Ok(Some((fp, out, problems)))
        })
        .await;
        match scan {
            Ok(Ok(None)) => {}
            Ok(Ok(Some((fp, configs, problems)))) => {
                for p in &problems {
                    tracing::warn!(path = %p.path.display(), problem = %p.message, "config file skipped");
                }
                last = fp;
                let mut known = target.clusters();
                for (cluster, resources) in configs {
                    known.retain(|c| c != &cluster);
                    let n = resources.len();
                    let generation = target.set(&cluster, resources);
                    tracing::debug!(%cluster, resources = n, generation, "config dir loaded");
                }
                for gone in known {
                    target.set(&gone, BTreeMap::new());
                }
                target.mark_ready();
            }
            Ok(Err(e)) => {
                tracing::warn!(dir = %dir.display(), error = %e, "reading the config dir failed")
            }
            Err(e) => tracing::warn!(error = %e, "config dir scan task failed"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::relay::resource::{from_json, key_of};
    use serde_json::json;

    #[test]
    fn set_bumps_generation_only_on_change_and_notifies() {
        let s = StaticConfigSource::new();
        let mut rx = s.subscribe();
        let empty = s.desired("c1").generation;
        assert!(s.desired("c1").resources.is_empty());
        assert_eq!(s.desired("c1").hash, "");
        let r = from_json(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "n"}}))
        .unwrap();
        let set: BTreeMap<_, _> = [(key_of(&r), r.clone())].into_iter().collect();
        let first = s.set("c1", set.clone());
        assert!(first > empty);
        assert_eq!(
            s.desired("c1").hash,
            aggregate_hash([(&key_of(&r), &r.hash)])
        );
        assert!(rx.has_changed().unwrap());
        rx.borrow_and_update();
        let before = s.desired("c1");
        assert_eq!(s.set("c1", set), first);
        assert!(!rx.has_changed().unwrap());
        assert!(Arc::ptr_eq(&before, &s.desired("c1")));
        assert_eq!(s.desired("c2").generation, empty);
    }

    #[test]
    fn set_many_notifies_once_and_skips_unchanged() {
        let s = StaticConfigSource::new();
        let mut rx = s.subscribe();
        let r = from_json(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "n"}}))
        .unwrap();
        let set: BTreeMap<_, _> = [(key_of(&r), r)].into_iter().collect();
        let changed = s.set_many([
            ("c1".to_string(), set.clone()),
            ("c2".to_string(), set.clone()),
            ("c3".to_string(), BTreeMap::new()),
        ]);
        assert_eq!(changed, 2);
        assert_eq!(*rx.borrow_and_update(), 1);
        assert!(s.desired("c1").generation > s.desired("c3").generation);
        assert_eq!(s.set_many([("c1".to_string(), set)]), 0);
        assert!(!rx.has_changed().unwrap());
    }

    #[test]
    fn generations_never_go_back_across_a_restart() {
        let config = |v: u32| -> BTreeMap<String, proto::Resource> {
            let r = from_json(&json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "a", "namespace": "n"}, "data": {"v": v.to_string()}}))
            .unwrap();
            [(key_of(&r), r)].into_iter().collect()
        };
        // a server that changed c1's configuration five times
        let before = StaticConfigSource::new();
        let last = (0..5).map(|v| before.set("c1", config(v))).max().unwrap();
        // A restart takes far longer than the five microseconds those changes may have run
        // ahead of the clock; two milliseconds stand for it.
        std::thread::sleep(std::time::Duration::from_millis(2));
        // restarted (or another replica): its first version of c1 is later still (was 2)
        let after = StaticConfigSource::new();
        assert!(after.desired("c1").generation > 1_000_000, "from the clock");
        let first = after.set("c1", config(9));
        assert!(first > last, "{first} after {last}");
        assert_eq!(next_generation(u64::MAX), u64::MAX);
    }

    /// Log lines captured from the current thread (a current-thread runtime runs its tasks here).
    #[derive(Clone, Default)]
    struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_bad_file_is_reported_once_not_at_every_scan() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("c1")).unwrap();
        std::fs::write(tmp.path().join("c1/bad.yaml"), "kind: [unclosed\n").unwrap();
        let logs = Captured::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let target = Arc::new(StaticConfigSource::pending());
        let cancel = CancellationToken::new();
        let task = tokio::spawn(watch_config_dir(
            tmp.path().to_path_buf(),
            target.clone(),
            Duration::from_millis(5),
            cancel.clone(),
        ));
        // Many scans of the unchanged directory.
        tokio::time::sleep(Duration::from_millis(200)).await;
        cancel.cancel();
        task.await.unwrap();
        let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.matches("config file skipped").count(), 1, "{text}");
    }

    #[tokio::test]
    async fn config_dir_is_loaded_per_cluster() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("c1")).unwrap();
        std::fs::write(
            tmp.path().join("c1/cm.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: ns}\n",
        )
        .unwrap();
        let target = Arc::new(StaticConfigSource::pending());
        assert!(!target.is_ready());
        let mut rx = target.subscribe();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(watch_config_dir(
            tmp.path().to_path_buf(),
            target.clone(),
            Duration::from_millis(20),
            cancel.clone(),
        ));
        while !target.is_ready() {
            rx.changed().await.unwrap();
        }
        assert_eq!(target.desired("c1").resources.len(), 1);
        cancel.cancel();
        task.await.unwrap();
    }
}
