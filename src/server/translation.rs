//! The translating configuration source: the management server's [`ConfigSource`] when it
//! translates. It owns the [`Translator`] and one task that
//!
//! - receives platform resources and license changes from the sources ([`SourceEvent`]s over a
//!   bounded channel),
//! - learns which clusters' snapshots changed from [`ObservedStateStore`], a wrapper around the
//!   server's [`StateStore`] that marks a cluster dirty after each stored snapshot delta, and
//!   rebuilds those clusters' [`ClusterInventory`] from the stored snapshot,
//! - debounces ([`Debouncer`]: 100 ms quiet, 2 s at most), applies everything pending in one
//!   [`Translator::apply`], and publishes the per-cluster configuration, bumping the generation of
//!   exactly the clusters whose objects changed,
//! - keeps the statuses (for the admin API and the Kubernetes status writer).

use crate::api::TranslationStatus;
use crate::relay::proto;
use crate::relay::resource::{from_json, key_of, key_string};
use crate::server::config_source::{ClusterConfig, ConfigSource, StaticConfigSource};
use crate::server::platform_source::{
    LICENSE, PLATFORM, SOURCE_EVENTS_BUFFER, SourceEvent, SourceProblem,
};
use crate::server::store::{SnapshotSummary, StateStore, StoreChange, StoreError};
use crate::translate::debounce::{MAX_DELAY, MIN_QUIET};
use crate::translate::{
    ClusterInventory, Debouncer, InputChange, InputRef, ServiceCatalog, SnapshotObject,
    TranslationDelta, Translator,
};
use async_trait::async_trait;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Time allowed for reading one cluster's snapshot from the store.
const STORE_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings of the translation.
#[derive(Debug, Clone)]
pub struct TranslationSettings {
    /// DNS suffix of Services in the workload clusters.
    pub cluster_domain: String,
    /// Quiet time before a push.
    pub quiet: Duration,
    /// Longest wait of a change for its push.
    pub max_delay: Duration,
    /// Sources that must have delivered their initial state before anything is pushed
    /// ([`PLATFORM`], [`LICENSE`]).
    pub wait_for: Vec<&'static str>,
}

impl Default for TranslationSettings {
    fn default() -> Self {
        Self {
            cluster_domain: "cluster.local".into(),
            quiet: MIN_QUIET,
            max_delay: MAX_DELAY,
            wait_for: vec![PLATFORM, LICENSE],
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn read<T: Clone>(m: &RwLock<T>) -> T {
    match m.read() {
        Ok(g) => g.clone(),
        Err(p) => p.into_inner().clone(),
    }
}

fn write<T>(m: &RwLock<T>, value: T) {
    match m.write() {
        Ok(mut g) => *g = value,
        Err(p) => *p.into_inner() = value,
    }
}

struct Shared {
    settings: TranslationSettings,
    published: StaticConfigSource,
    translator: Mutex<Translator>,
    statuses: RwLock<Arc<BTreeMap<InputRef, TranslationStatus>>>,
    problems: RwLock<Arc<Vec<SourceProblem>>>,
    status_changes: watch::Sender<u64>,
    dirty: Mutex<BTreeSet<String>>,
    snapshots_changed: Notify,
    synced: Mutex<BTreeSet<&'static str>>,
    ready_clusters: RwLock<Arc<BTreeSet<String>>>,
    events_tx: mpsc::Sender<SourceEvent>,
    events_rx: Mutex<Option<mpsc::Receiver<SourceEvent>>>,
}

impl Shared {
    fn mark_dirty(&self, cluster: &str) {
        lock(&self.dirty).insert(cluster.to_owned());
        self.snapshots_changed.notify_one();
    }
}

/// The [`ConfigSource`] that translates. Cheap to clone (shared state).
#[derive(Clone)]
pub struct TranslatingConfigSource {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for TranslatingConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TranslatingConfigSource")
            .field("settings", &self.shared.settings)
            .finish_non_exhaustive()
    }
}

impl TranslatingConfigSource {
    /// A source with no inputs and no license yet (product resources are UNLICENSED until the
    /// license source reports one).
    pub fn new(settings: TranslationSettings) -> Self {
        let (events_tx, events_rx) = mpsc::channel(SOURCE_EVENTS_BUFFER);
        Self {
            shared: Arc::new(Shared {
                settings,
                published: StaticConfigSource::pending(),
                translator: Mutex::new(Translator::new()),
                statuses: RwLock::new(Arc::new(BTreeMap::new())),
                problems: RwLock::new(Arc::new(Vec::new())),
                status_changes: watch::Sender::new(0),
                dirty: Mutex::new(BTreeSet::new()),
                snapshots_changed: Notify::new(),
                synced: Mutex::new(BTreeSet::new()),
                ready_clusters: RwLock::new(Arc::new(BTreeSet::new())),
                events_tx,
                events_rx: Mutex::new(Some(events_rx)),
            }),
        }
    }

    /// Where sources send their events (bounded).
    pub fn events(&self) -> mpsc::Sender<SourceEvent> {
        self.shared.events_tx.clone()
    }

    /// Wraps the server's state store so that stored snapshot deltas reach the translation.
    pub fn observe(&self, store: Arc<dyn StateStore>) -> Arc<dyn StateStore> {
        Arc::new(ObservedStateStore {
            inner: store,
            shared: self.shared.clone(),
        })
    }

    /// Starts the translation task reading snapshots from `store` (the unwrapped store). Every
    /// cluster already in the store is read first. Returns `None` when already started.
    pub fn start(
        &self,
        store: Arc<dyn StateStore>,
        cancel: CancellationToken,
    ) -> Option<JoinHandle<()>> {
        let rx = lock(&self.shared.events_rx).take()?;
        Some(tokio::spawn(run(self.shared.clone(), store, rx, cancel)))
    }

    /// Follows the snapshot changes other server replicas make in a shared store: each changed
    /// cluster is re-read; on [`StoreChange::All`] every stored cluster is. Runs until `cancel` or
    /// until `changes` closes.
    pub fn follow_store_changes(
        &self,
        store: Arc<dyn StateStore>,
        mut changes: mpsc::Receiver<StoreChange>,
        cancel: CancellationToken,
    ) -> JoinHandle<()> {
        let shared = self.shared.clone();
        tokio::spawn(async move {
            loop {
                let change = tokio::select! {
                    _ = cancel.cancelled() => return,
                    c = changes.recv() => match c {
                        Some(c) => c,
                        None => return,
                    },
                };
                match change {
                    StoreChange::Cluster(cluster) => shared.mark_dirty(&cluster),
                    StoreChange::All => {
                        // Retried until listed: a missed cluster would keep a stale inventory.
                        let mut delay = Duration::from_millis(500);
                        loop {
                            match tokio::time::timeout(STORE_READ_TIMEOUT, store.clusters()).await {
                                Ok(Ok(clusters)) => {
                                    for c in clusters {
                                        shared.mark_dirty(&c);
                                    }
                                    break;
                                }
                                Ok(Err(e)) => {
                                    tracing::warn!(error = %e, "listing the stored snapshots failed; retrying")
                                }
                                Err(_) => tracing::warn!(
                                    "listing the stored snapshots timed out; retrying"
                                ),
                            }
                            tokio::select! {
                                _ = cancel.cancelled() => return,
                                _ = tokio::time::sleep(delay) => {}
                            }
                            delay = (delay * 2).min(Duration::from_secs(10));
                        }
                    }
                }
            }
        })
    }

    /// The global service catalog.
    pub fn catalog(&self) -> ServiceCatalog {
        lock(&self.shared.translator).catalog()
    }

    /// The status of every translated input.
    pub fn statuses(&self) -> Arc<BTreeMap<InputRef, TranslationStatus>> {
        read(&self.shared.statuses)
    }

    /// Problems met reading the platform resources (bad files).
    pub fn problems(&self) -> Arc<Vec<SourceProblem>> {
        read(&self.shared.problems)
    }

    /// Notified whenever the statuses change.
    pub fn subscribe_statuses(&self) -> watch::Receiver<u64> {
        self.shared.status_changes.subscribe()
    }
}

impl ConfigSource for TranslatingConfigSource {
    fn desired(&self, cluster: &str) -> Arc<ClusterConfig> {
        self.shared.published.desired(cluster)
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.published.subscribe()
    }

    fn is_ready(&self) -> bool {
        self.shared.published.is_ready()
    }

    fn is_ready_for(&self, cluster: &str) -> bool {
        self.is_ready() && read(&self.shared.ready_clusters).contains(cluster)
    }

    fn admin_routes(&self) -> Option<axum::Router> {
        Some(crate::server::translation_admin::router(self.clone()))
    }
}

impl crate::server::translation_admin::TranslationView for TranslatingConfigSource {
    fn catalog(&self) -> ServiceCatalog {
        TranslatingConfigSource::catalog(self)
    }

    fn statuses(&self) -> Arc<BTreeMap<InputRef, TranslationStatus>> {
        TranslatingConfigSource::statuses(self)
    }

    fn problems(&self) -> Arc<Vec<SourceProblem>> {
        TranslatingConfigSource::problems(self)
    }
}

/// A [`StateStore`] that tells the translation which clusters' snapshots changed.
struct ObservedStateStore {
    inner: Arc<dyn StateStore>,
    shared: Arc<Shared>,
}

#[async_trait]
impl StateStore for ObservedStateStore {
    async fn snapshot_hashes(&self, cluster: &str) -> Result<HashMap<String, String>, StoreError> {
        self.inner.snapshot_hashes(cluster).await
    }

    async fn snapshot_summary(&self, cluster: &str) -> Result<SnapshotSummary, StoreError> {
        self.inner.snapshot_summary(cluster).await
    }

    async fn apply_snapshot_delta(
        &self,
        cluster: &str,
        version: u64,
        upserts: Vec<proto::Resource>,
        deletes: Vec<String>,
    ) -> Result<SnapshotSummary, StoreError> {
        let summary = self
            .inner
            .apply_snapshot_delta(cluster, version, upserts, deletes)
            .await?;
        self.shared.mark_dirty(cluster);
        Ok(summary)
    }

    async fn snapshot(&self, cluster: &str) -> Result<Vec<proto::Resource>, StoreError> {
        self.inner.snapshot(cluster).await
    }

    async fn clusters(&self) -> Result<Vec<String>, StoreError> {
        self.inner.clusters().await
    }

    fn relay_view_replica(&self) -> Option<&str> {
        self.inner.relay_view_replica()
    }

    async fn publish_relay_view(
        &self,
        held: &[crate::server::registry::ClusterStatus],
        released: &[String],
    ) -> Result<(), StoreError> {
        self.inner.publish_relay_view(held, released).await
    }

    async fn peer_relay_view(
        &self,
    ) -> Result<Vec<crate::server::relay_view::PeerClusterStatus>, StoreError> {
        self.inner.peer_relay_view().await
    }
}

/// Builds a cluster's inventory from its stored snapshot.
pub fn inventory_of(
    cluster: &str,
    cluster_domain: &str,
    resources: &[proto::Resource],
) -> ClusterInventory {
    let objects = resources.iter().map(|r| SnapshotObject {
        api_version: &r.api_version,
        kind: &r.kind,
        namespace: &r.namespace,
        name: &r.name,
        body: &r.body,
    });
    let (inventory, issues) = ClusterInventory::from_objects(cluster, cluster_domain, objects);
    for issue in issues.iter().take(10) {
        tracing::warn!(%issue, "snapshot object skipped");
    }
    if issues.len() > 10 {
        tracing::warn!(
            %cluster,
            more = issues.len() - 10,
            "more snapshot objects skipped"
        );
    }
    inventory
}

/// A cluster's new configuration: `old` with `delta` applied. Objects that cannot be put on the
/// wire are logged and left out.
pub fn apply_cluster_delta(
    cluster: &str,
    old: &BTreeMap<String, proto::Resource>,
    delta: &crate::translate::ClusterDelta,
) -> BTreeMap<String, proto::Resource> {
    let mut resources = old.clone();
    for key in &delta.deletes {
        resources.remove(&key_string(
            &key.api_version,
            &key.kind,
            &key.namespace,
            &key.name,
        ));
    }
    for (key, value) in &delta.upserts {
        match from_json(value) {
            Ok(r) => {
                resources.insert(key_of(&r), r);
            }
            Err(e) => {
                tracing::error!(%cluster, object = %key, error = %e, "translated object cannot be sent; left out")
            }
        }
    }
    resources
}

async fn read_inventories(shared: &Shared, store: &dyn StateStore, changes: &mut Vec<InputChange>) {
    let dirty = std::mem::take(&mut *lock(&shared.dirty));
    for cluster in dirty {
        match tokio::time::timeout(STORE_READ_TIMEOUT, store.snapshot(&cluster)).await {
            Ok(Ok(resources)) => changes.push(InputChange::Inventory(inventory_of(
                &cluster,
                &shared.settings.cluster_domain,
                &resources,
            ))),
            Ok(Err(e)) => {
                tracing::warn!(%cluster, error = %e, "reading the snapshot failed; retrying");
                shared.mark_dirty(&cluster);
            }
            Err(_) => {
                tracing::warn!(%cluster, "reading the snapshot timed out; retrying");
                shared.mark_dirty(&cluster);
            }
        }
    }
}

fn publish(shared: &Shared, delta: &TranslationDelta) {
    for (cluster, cd) in &delta.clusters {
        if cd.is_empty() {
            continue;
        }
        let old = shared.published.desired(cluster);
        let resources = apply_cluster_delta(cluster, &old.resources, cd);
        let n = resources.len();
        let generation = shared.published.set(cluster, resources);
        if generation != old.generation {
            tracing::info!(
                %cluster,
                upserts = cd.upserts.len(),
                deletes = cd.deletes.len(),
                objects = n,
                generation,
                "configuration changed"
            );
        }
    }
}

/// Marks the source ready once every awaited source has synced, and the clusters whose
/// snapshots were translated; wakes the sessions when something became ready.
fn mark_ready(shared: &Shared, translated: Vec<String>) {
    // Clusters first: a session woken below must already see its cluster as ready.
    let ready = read(&shared.ready_clusters);
    let new: Vec<String> = translated
        .into_iter()
        .filter(|c| !ready.contains(c))
        .collect();
    let clusters_added = !new.is_empty();
    if clusters_added {
        let mut all = ready.as_ref().clone();
        all.extend(new);
        write(&shared.ready_clusters, Arc::new(all));
    }
    if !shared.published.is_ready() {
        let synced = lock(&shared.synced);
        if shared.settings.wait_for.iter().all(|s| synced.contains(s)) {
            drop(synced);
            tracing::info!("translation ready: pushing configuration");
            shared.published.mark_ready();
            return;
        }
    }
    if clusters_added {
        shared.published.touch();
    }
}

async fn run(
    shared: Arc<Shared>,
    store: Arc<dyn StateStore>,
    mut events: mpsc::Receiver<SourceEvent>,
    cancel: CancellationToken,
) {
    let mut debouncer = Debouncer::new(shared.settings.quiet, shared.settings.max_delay);
    let mut pending: Vec<InputChange> = Vec::new();
    match tokio::time::timeout(STORE_READ_TIMEOUT, store.clusters()).await {
        Ok(Ok(clusters)) => {
            for c in clusters {
                shared.mark_dirty(&c);
            }
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "listing the stored snapshots failed"),
        Err(_) => tracing::warn!("listing the stored snapshots timed out"),
    }
    loop {
        let deadline = debouncer.deadline();
        tokio::select! {
            _ = cancel.cancelled() => return,
            event = events.recv() => match event {
                None => return,
                Some(SourceEvent::Changes(c)) => {
                    pending.extend(c);
                    debouncer.changed(Instant::now().into_std());
                }
                Some(SourceEvent::Problems(p)) => write(&shared.problems, Arc::new(p)),
                Some(SourceEvent::Synced(name)) => {
                    lock(&shared.synced).insert(name);
                    debouncer.changed(Instant::now().into_std());
                }
            },
            _ = shared.snapshots_changed.notified() => debouncer.changed(Instant::now().into_std()),
            _ = tokio::time::sleep_until(deadline.map_or_else(Instant::now, Instant::from_std)), if deadline.is_some() => {
                if !debouncer.poll(Instant::now().into_std()) {
                    continue;
                }
                read_inventories(&shared, store.as_ref(), &mut pending).await;
                let changes = std::mem::take(&mut pending);
                let n = changes.len();
                let translated: Vec<String> = changes
                    .iter()
                    .filter_map(|c| match c {
                        InputChange::Inventory(i) => Some(i.cluster.clone()),
                        _ => None,
                    })
                    .collect();
                let (delta, statuses) = {
                    let mut t = lock(&shared.translator);
                    let delta = t.apply(changes);
                    let statuses = (!delta.statuses.is_empty()).then(|| t.statuses());
                    (delta, statuses)
                };
                tracing::debug!(changes = n, retranslated = delta.retranslated, "translated");
                publish(&shared, &delta);
                mark_ready(&shared, translated);
                let statuses = match statuses {
                    Some(s) => Some(s),
                    // Deleted inputs have no status in the delta: refresh when the set shrank.
                    None => {
                        let t = lock(&shared.translator);
                        (t.statuses().len() != read(&shared.statuses).len()).then(|| t.statuses())
                    }
                };
                if let Some(s) = statuses {
                    write(&shared.statuses, Arc::new(s));
                    shared.status_changes.send_modify(|n| *n += 1);
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::translate::ResourceKey;
    use serde_json::json;

    fn key(name: &str) -> ResourceKey {
        ResourceKey {
            api_version: "networking.istio.io/v1".into(),
            kind: "ServiceEntry".into(),
            namespace: "ns".into(),
            name: name.into(),
        }
    }

    fn object(name: &str, host: &str) -> serde_json::Value {
        json!({"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
            "metadata": {"name": name, "namespace": "ns"}, "spec": {"hosts": [host]}})
    }

    #[test]
    fn cluster_deltas_become_wire_resources() {
        let mut delta = crate::translate::ClusterDelta::default();
        delta.upserts.insert(key("a"), object("a", "a.global"));
        delta.upserts.insert(key("b"), object("b", "b.global"));
        let first = apply_cluster_delta("c1", &BTreeMap::new(), &delta);
        assert_eq!(first.len(), 2);
        let a = &first["networking.istio.io/v1/ServiceEntry/ns/a"];
        assert_eq!(
            a.body,
            serde_json::to_vec(&object("a", "a.global")).unwrap()
        );
        crate::relay::resource::validate(a).unwrap();
        let mut delta = crate::translate::ClusterDelta::default();
        delta.deletes.insert(key("a"));
        let second = apply_cluster_delta("c1", &first, &delta);
        assert_eq!(
            second.keys().collect::<Vec<_>>(),
            [&key_string(
                "networking.istio.io/v1",
                "ServiceEntry",
                "ns",
                "b"
            )]
        );
    }

    #[test]
    fn inventory_reads_services_and_the_istio_marker() {
        let svc = from_json(&json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "reviews", "namespace": "bookinfo", "labels": {"app": "reviews"}},
            "spec": {"ports": [{"port": 9080}], "selector": {"app": "reviews"}}}))
        .unwrap();
        let istiod = from_json(&json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "istiod", "namespace": "istio-system"},
            "spec": {"selector": {"matchLabels": {"app": "istiod"}},
                     "template": {"metadata": {"labels": {"app": "istiod"}}}}}))
        .unwrap();
        let inv = inventory_of("c1", "cluster.local", &[svc, istiod]);
        assert!(inv.istio_present());
        assert!(inv.service("bookinfo", "reviews").is_some());
    }
}
