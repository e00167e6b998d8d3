//! The platform resources from the management cluster: one kube-runtime watcher per kind
//! (Workspace, VirtualDestination, RouteTable, VirtualGateway, AccessPolicy, KubernetesCluster) in the
//! install namespace or in all namespaces, feeding the translation; and the status writer, which
//! merge-patches each translated input's status subresource (`state`, `message`,
//! `observedGeneration`) when, and only when, it differs from what the object carries.

use crate::api::{
    AccessPolicy, KubernetesCluster, RouteTable, TranslationStatus, VirtualDestination,
    VirtualGateway, Workspace,
};
use crate::server::platform_source::{PLATFORM, SourceEvent};
use crate::server::translation::TranslatingConfigSource;
use crate::translate::{InputChange, InputKind, InputRef, PlatformResource};
use futures::StreamExt;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, watcher};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Time allowed for one status patch.
const PATCH_TIMEOUT: Duration = Duration::from_secs(10);
/// How often statuses that failed to be written are retried.
const RETRY_INTERVAL: Duration = Duration::from_secs(10);

/// What the status writer knows: the status each object carries (from the watchers) and what it
/// wrote that the watchers have not reported back yet. Pure.
#[derive(Debug, Default)]
pub struct StatusLedger {
    observed: HashMap<InputRef, Option<TranslationStatus>>,
    written: HashMap<InputRef, TranslationStatus>,
}

impl StatusLedger {
    /// The watcher saw `r` carrying `status`.
    pub fn observed(&mut self, r: InputRef, status: Option<TranslationStatus>) {
        self.written.remove(&r);
        self.observed.insert(r, status);
    }

    /// `r` was deleted.
    pub fn deleted(&mut self, r: &InputRef) {
        self.observed.remove(r);
        self.written.remove(r);
    }

    /// Whether `status` must be written to `r`: the object exists (seen by a watcher), does not
    /// carry it, and it was not just written.
    pub fn needs_write(&self, r: &InputRef, status: &TranslationStatus) -> bool {
        match self.observed.get(r) {
            None => false,
            Some(current) => {
                current.as_ref() != Some(status) && self.written.get(r) != Some(status)
            }
        }
    }

    /// `status` was written to `r`.
    pub fn wrote(&mut self, r: InputRef, status: TranslationStatus) {
        self.written.insert(r, status);
    }
}

/// The merge patch that sets a status (absent fields are removed with `null`).
pub fn status_patch(status: &TranslationStatus) -> Value {
    json!({"status": {
        "state": status.state,
        "message": status.message,
        "observedGeneration": status.observed_generation,
    }})
}

fn lock(m: &Mutex<StatusLedger>) -> MutexGuard<'_, StatusLedger> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Watches the six kinds and feeds the translation.
#[derive(Clone)]
pub struct KubePlatformSource {
    pub client: kube::Client,
    /// `None`: all namespaces.
    pub namespace: Option<String>,
    pub ledger: Arc<Mutex<StatusLedger>>,
}

impl std::fmt::Debug for KubePlatformSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubePlatformSource")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl KubePlatformSource {
    fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = kube::core::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        match &self.namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        }
    }

    /// Runs the six watchers until `cancel` (or until the receiver is gone).
    pub async fn run(self, events: mpsc::Sender<SourceEvent>, cancel: CancellationToken) {
        let l = &self.ledger;
        let synced = &SyncCounter {
            left: std::sync::atomic::AtomicUsize::new(6),
        };
        tokio::join!(
            watch_kind(
                self.api::<KubernetesCluster>(),
                PlatformResource::KubernetesCluster,
                |_| None,
                l,
                synced,
                &events,
                &cancel
            ),
            watch_kind(
                self.api::<Workspace>(),
                PlatformResource::Workspace,
                |o| Some(o.status.clone().unwrap_or_default()),
                l,
                synced,
                &events,
                &cancel
            ),
            watch_kind(
                self.api::<VirtualDestination>(),
                PlatformResource::VirtualDestination,
                |o| Some(o.status.clone().unwrap_or_default()),
                l,
                synced,
                &events,
                &cancel
            ),
            watch_kind(
                self.api::<RouteTable>(),
                PlatformResource::RouteTable,
                |o| Some(o.status.clone().unwrap_or_default()),
                l,
                synced,
                &events,
                &cancel
            ),
            watch_kind(
                self.api::<VirtualGateway>(),
                PlatformResource::VirtualGateway,
                |o| Some(o.status.clone().unwrap_or_default()),
                l,
                synced,
                &events,
                &cancel
            ),
            watch_kind(
                self.api::<AccessPolicy>(),
                PlatformResource::AccessPolicy,
                |o| Some(o.status.clone().unwrap_or_default()),
                l,
                synced,
                &events,
                &cancel
            ),
        );
    }
}

async fn watch_kind<K>(
    api: Api<K>,
    wrap: fn(K) -> PlatformResource,
    status_of: fn(&K) -> Option<TranslationStatus>,
    ledger: &Mutex<StatusLedger>,
    synced: &SyncCounter,
    events: &mpsc::Sender<SourceEvent>,
    cancel: &CancellationToken,
) where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let mut stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut known: BTreeSet<InputRef> = BTreeSet::new();
    let mut first_sync = true;
    let mut initial: BTreeMap<InputRef, PlatformResource> = BTreeMap::new();
    let observe = |o: &K| {
        let resource = wrap(o.clone());
        let r = resource.input_ref();
        if let Some(status) = status_of(o) {
            let status = (status != TranslationStatus::default()).then_some(status);
            lock(ledger).observed(r.clone(), status);
        }
        (r, resource)
    };
    loop {
        let event = tokio::select! {
            _ = cancel.cancelled() => return,
            e = stream.next() => e,
        };
        let mut listed = false;
        let changes = match event {
            None => return,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "watching platform resources failed; retrying");
                continue;
            }
            Some(Ok(Event::Init)) => {
                initial.clear();
                continue;
            }
            Some(Ok(Event::InitApply(o))) => {
                let (r, resource) = observe(&o);
                initial.insert(r, resource);
                continue;
            }
            Some(Ok(Event::InitDone)) => {
                listed = true;
                let now: BTreeSet<InputRef> = initial.keys().cloned().collect();
                let mut changes: Vec<InputChange> = known
                    .difference(&now)
                    .map(|r| {
                        lock(ledger).deleted(r);
                        InputChange::Delete(r.clone())
                    })
                    .collect();
                changes.extend(
                    std::mem::take(&mut initial)
                        .into_values()
                        .map(InputChange::Upsert),
                );
                known = now;
                changes
            }
            Some(Ok(Event::Apply(o))) => {
                let (r, resource) = observe(&o);
                known.insert(r);
                vec![InputChange::Upsert(resource)]
            }
            Some(Ok(Event::Delete(o))) => {
                let r = wrap(o).input_ref();
                lock(ledger).deleted(&r);
                known.remove(&r);
                vec![InputChange::Delete(r)]
            }
        };
        if !changes.is_empty() && events.send(SourceEvent::Changes(changes)).await.is_err() {
            return;
        }
        if first_sync && listed {
            first_sync = false;
            if synced
                .left
                .fetch_sub(1, std::sync::atomic::Ordering::SeqCst)
                == 1
                && events.send(SourceEvent::Synced(PLATFORM)).await.is_err()
            {
                return;
            }
        }
    }
}

/// Counts the kinds that have not listed their objects yet.
struct SyncCounter {
    left: std::sync::atomic::AtomicUsize,
}

fn api_resource(kind: InputKind) -> Option<ApiResource> {
    Some(match kind {
        InputKind::KubernetesCluster => return None,
        InputKind::Workspace => ApiResource::erase::<Workspace>(&()),
        InputKind::VirtualDestination => ApiResource::erase::<VirtualDestination>(&()),
        InputKind::RouteTable => ApiResource::erase::<RouteTable>(&()),
        InputKind::VirtualGateway => ApiResource::erase::<VirtualGateway>(&()),
        InputKind::AccessPolicy => ApiResource::erase::<AccessPolicy>(&()),
    })
}

/// Writes the translation's statuses to the objects' status subresources.
pub struct StatusWriter {
    pub client: kube::Client,
    pub source: TranslatingConfigSource,
    pub ledger: Arc<Mutex<StatusLedger>>,
}

impl std::fmt::Debug for StatusWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusWriter").finish_non_exhaustive()
    }
}

impl StatusWriter {
    /// Runs until `cancel`: after every status change, and every [`RETRY_INTERVAL`] for failed
    /// writes and objects seen late.
    pub async fn run(self, cancel: CancellationToken) {
        let mut changes = self.source.subscribe_statuses();
        let mut retry = tokio::time::interval(RETRY_INTERVAL);
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                r = changes.changed() => if r.is_err() { return },
                _ = retry.tick() => {}
            }
            let statuses = self.source.statuses();
            for (r, status) in statuses.iter() {
                let Some(resource) = api_resource(r.kind) else {
                    continue;
                };
                if !lock(&self.ledger).needs_write(r, status) {
                    continue;
                }
                let api: Api<DynamicObject> =
                    Api::namespaced_with(self.client.clone(), &r.namespace, &resource);
                let patch = status_patch(status);
                let result = tokio::time::timeout(
                    PATCH_TIMEOUT,
                    api.patch_status(&r.name, &PatchParams::default(), &Patch::Merge(&patch)),
                )
                .await;
                match result {
                    Ok(Ok(_)) => {
                        tracing::debug!(input = %r, state = ?status.state, "status written");
                        lock(&self.ledger).wrote(r.clone(), status.clone());
                    }
                    Ok(Err(kube::Error::Api(e))) if e.code == 404 => {
                        lock(&self.ledger).deleted(r);
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(input = %r, error = %e, "writing the status failed; will retry")
                    }
                    Err(_) => {
                        tracing::warn!(input = %r, "writing the status timed out; will retry")
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::api::TranslationState;

    fn st(state: TranslationState, message: Option<&str>) -> TranslationStatus {
        TranslationStatus {
            state,
            message: message.map(str::to_owned),
            observed_generation: Some(2),
        }
    }

    #[test]
    fn writes_only_what_differs_and_not_twice() {
        let r = InputRef::new(InputKind::VirtualDestination, "ns", "vd");
        let mut l = StatusLedger::default();
        let accepted = st(TranslationState::Accepted, None);
        assert!(
            !l.needs_write(&r, &accepted),
            "unknown objects are not patched"
        );
        l.observed(r.clone(), None);
        assert!(l.needs_write(&r, &accepted));
        l.wrote(r.clone(), accepted.clone());
        assert!(!l.needs_write(&r, &accepted));
        l.observed(r.clone(), Some(accepted.clone()));
        assert!(!l.needs_write(&r, &accepted));
        let invalid = st(TranslationState::Invalid, Some("spec.hosts[0]: bad"));
        assert!(l.needs_write(&r, &invalid));
        l.deleted(&r);
        assert!(!l.needs_write(&r, &invalid));
    }

    #[test]
    fn the_patch_clears_absent_fields() {
        let p = status_patch(&TranslationStatus {
            state: TranslationState::Unlicensed,
            message: None,
            observed_generation: Some(3),
        });
        assert_eq!(
            p,
            json!({"status": {"state": "UNLICENSED", "message": null, "observedGeneration": 3}})
        );
    }

    #[test]
    fn kubernetes_clusters_get_no_translation_status() {
        assert!(api_resource(InputKind::KubernetesCluster).is_none());
        let vd = api_resource(InputKind::VirtualDestination).unwrap();
        assert_eq!(vd.kind, "VirtualDestination");
        assert_eq!(vd.group, "networking.meshctl.dev");
    }
}
