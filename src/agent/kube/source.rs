//! The agent's cluster source on Kubernetes: kube-runtime watchers with reflector
//! stores on Namespaces, Services, Deployments, StatefulSets and the metadata of CRDs
//! (only the Istio and Cilium ones, by group, are reported: which of the kinds the
//! server translates to the cluster serves). After any change (debounced) the snapshot
//! is rebuilt from the stores and published when its hash changed. With a namespace
//! filter only those namespaces (and their objects) are reported.

use crate::agent::kube::sanitize::to_resource;
use crate::agent::source::{ClusterSource, Snapshot};
use crate::relay::proto;
use crate::relay::resource::key_of;
use futures::stream::{BoxStream, StreamExt};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PartialObjectMeta};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event};
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The kinds watched, in the order of [`Stores`].
pub const WATCHED: [&str; 5] = [
    "Namespace",
    "Service",
    "Deployment",
    "StatefulSet",
    "CustomResourceDefinition (metadata)",
];

/// CRD groups whose presence is reported.
pub const REPORTED_CRD_GROUPS: [&str; 2] = ["istio.io", "cilium.io"];

#[derive(Debug, thiserror::Error)]
pub enum KubeSourceError {
    #[error(
        "the cluster's resources could not be listed within {}s ({not_ready} not ready); check the agent's RBAC and the API server: {last_error}",
        .after.as_secs()
    )]
    NotReady {
        after: Duration,
        not_ready: String,
        last_error: String,
    },
}

#[derive(Debug, Clone)]
pub struct KubeSourceSettings {
    /// Only these namespaces (and their objects); `None`: all.
    pub namespaces: Option<BTreeSet<String>>,
    /// Quiet time after a change before the snapshot is rebuilt.
    pub debounce: Duration,
    /// How long `start` waits for the first complete listing.
    pub ready_timeout: Duration,
}

impl Default for KubeSourceSettings {
    fn default() -> Self {
        Self {
            namespaces: None,
            debounce: Duration::from_millis(500),
            ready_timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Clone)]
struct Stores {
    namespaces: Store<Namespace>,
    services: Store<Service>,
    deployments: Store<Deployment>,
    statefulsets: Store<StatefulSet>,
    crds: Store<PartialObjectMeta<CustomResourceDefinition>>,
}

/// What a watcher stream reports to the source task.
enum Signal {
    Changed,
    Ready(usize),
    Failed(usize, String),
}

fn watch_kind<K>(index: usize, api: Api<K>) -> (Store<K>, BoxStream<'static, Signal>)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher::watcher(api, watcher::Config::default()))
        .default_backoff()
        .map(move |item| match item {
            Ok(Event::InitDone) => Signal::Ready(index),
            Ok(_) => Signal::Changed,
            Err(e) => Signal::Failed(index, e.to_string()),
        })
        .boxed();
    (reader, stream)
}

/// A snapshot of the cluster from its watchers.
#[derive(Debug)]
pub struct KubeClusterSource {
    tx: watch::Sender<Arc<Snapshot>>,
}

impl ClusterSource for KubeClusterSource {
    fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.tx.subscribe()
    }
}

fn add<T: Serialize>(
    out: &mut BTreeMap<String, proto::Resource>,
    object: &T,
    filter: &Option<BTreeSet<String>>,
) {
    let Ok(value) = serde_json::to_value(object) else {
        return;
    };
    if let Some(allowed) = filter {
        let ns = value["metadata"]["namespace"].as_str();
        let name = value["metadata"]["name"].as_str().unwrap_or_default();
        let inside = match ns {
            Some(ns) => allowed.contains(ns),
            None => allowed.contains(name),
        };
        if !inside {
            return;
        }
    }
    match to_resource(&value) {
        Ok(r) => {
            out.insert(key_of(&r), r);
        }
        Err(e) => tracing::debug!(error = %e, "object not reported"),
    }
}

/// Whether a CRD name (`plural.group`) belongs to a reported group.
pub fn reported_crd(name: &str) -> bool {
    let Some((_, group)) = name.split_once('.') else {
        return false;
    };
    REPORTED_CRD_GROUPS
        .iter()
        .any(|g| group == *g || group.ends_with(&format!(".{g}")))
}

fn build(stores: &Stores, filter: &Option<BTreeSet<String>>) -> Snapshot {
    let mut out = BTreeMap::new();
    for o in stores.namespaces.state() {
        add(&mut out, o.as_ref(), filter);
    }
    for o in stores.services.state() {
        add(&mut out, o.as_ref(), filter);
    }
    for o in stores.deployments.state() {
        add(&mut out, o.as_ref(), filter);
    }
    for o in stores.statefulsets.state() {
        add(&mut out, o.as_ref(), filter);
    }
    for o in stores.crds.state() {
        let Some(name) = o.metadata.name.as_deref() else {
            continue;
        };
        if reported_crd(name) {
            let body = json!({"apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition", "metadata": {"name": name}});
            add(&mut out, &body, &None);
        }
    }
    Snapshot::new(out)
}

impl KubeClusterSource {
    /// Starts the watchers and waits for the first complete snapshot; then keeps it
    /// current until `cancel`.
    pub async fn start(
        client: kube::Client,
        settings: KubeSourceSettings,
        cancel: CancellationToken,
    ) -> Result<Arc<Self>, KubeSourceError> {
        let (namespaces, s0) = watch_kind(0, Api::<Namespace>::all(client.clone()));
        let (services, s1) = watch_kind(1, Api::<Service>::all(client.clone()));
        let (deployments, s2) = watch_kind(2, Api::<Deployment>::all(client.clone()));
        let (statefulsets, s3) = watch_kind(3, Api::<StatefulSet>::all(client.clone()));
        let (crds, s4) = watch_kind(
            4,
            Api::<PartialObjectMeta<CustomResourceDefinition>>::all(client),
        );
        let stores = Stores {
            namespaces,
            services,
            deployments,
            statefulsets,
            crds,
        };
        let mut signals = futures::stream::select_all([s0, s1, s2, s3, s4]);
        let source = Arc::new(Self {
            tx: watch::Sender::new(Arc::new(Snapshot::default())),
        });
        let (first_tx, first_rx) = tokio::sync::oneshot::channel::<()>();
        let (err_tx, err_rx) = watch::channel(String::from("none"));
        let ready_state = Arc::new(std::sync::Mutex::new([false; 5]));
        let ready_seen = ready_state.clone();
        let weak = Arc::downgrade(&source);
        let filter = settings.namespaces.clone();
        let debounce = settings.debounce;
        tokio::spawn(async move {
            let mut first = Some(first_tx);
            let mut ready = [false; 5];
            loop {
                let signal = tokio::select! {
                    _ = cancel.cancelled() => return,
                    s = signals.next() => s,
                };
                let Some(signal) = signal else { return };
                match signal {
                    Signal::Ready(i) => ready[i] = true,
                    Signal::Changed => {}
                    Signal::Failed(i, e) => {
                        tracing::warn!(kind = WATCHED[i], error = %e, "watching the cluster failed; retrying");
                        err_tx.send_replace(format!("{}: {e}", WATCHED[i]));
                        continue;
                    }
                }
                if let Ok(mut g) = ready_seen.lock() {
                    *g = ready;
                }
                if !ready.iter().all(|r| *r) {
                    continue;
                }
                // Debounce: wait for a quiet period, folding further signals in.
                let quiet = tokio::time::sleep(debounce);
                tokio::pin!(quiet);
                loop {
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = &mut quiet => break,
                        s = signals.next() => match s {
                            None => break,
                            Some(Signal::Failed(i, e)) => {
                                tracing::warn!(kind = WATCHED[i], error = %e, "watching the cluster failed; retrying");
                            }
                            Some(_) => {}
                        },
                    }
                }
                let Some(source) = weak.upgrade() else { return };
                let snap = build(&stores, &filter);
                let changed = source.tx.send_if_modified(|cur| {
                    if cur.hash == snap.hash && first.is_none() {
                        false
                    } else {
                        *cur = Arc::new(snap);
                        true
                    }
                });
                if changed {
                    tracing::debug!(
                        resources = source.tx.borrow().resources.len(),
                        "cluster snapshot changed"
                    );
                }
                if let Some(tx) = first.take() {
                    let _ = tx.send(());
                }
            }
        });
        match tokio::time::timeout(settings.ready_timeout, first_rx).await {
            Ok(Ok(())) => Ok(source),
            _ => {
                let ready = ready_state.lock().map(|g| *g).unwrap_or([false; 5]);
                let not_ready: Vec<&str> = WATCHED
                    .iter()
                    .zip(ready)
                    .filter(|(_, r)| !r)
                    .map(|(k, _)| *k)
                    .collect();
                Err(KubeSourceError::NotReady {
                    after: settings.ready_timeout,
                    not_ready: not_ready.join(", "),
                    last_error: err_rx.borrow().clone(),
                })
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::check::testing::{MockApi, list};
    use serde_json::Value;

    #[test]
    fn only_istio_and_cilium_crds_are_reported() {
        assert!(reported_crd("virtualservices.networking.istio.io"));
        assert!(reported_crd("ciliumnetworkpolicies.cilium.io"));
        assert!(!reported_crd("kubernetesclusters.admin.meshctl.dev"));
        assert!(!reported_crd("foos.notistio.io"));
    }

    fn ns(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "resourceVersion": "1"}})
    }

    fn svc(ns: &str, name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns,
            "resourceVersion": "2", "managedFields": [{"manager": "x"}]}, "spec": {"ports": [{"port": 80}]}})
    }

    fn crd_meta(name: &str) -> Value {
        json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": {"name": name}})
    }

    #[tokio::test]
    async fn lists_every_kind_and_publishes_a_filtered_clean_snapshot() {
        // LISTs are answered; WATCH requests are held open.
        let api = MockApi::start_holding_watches(|_, path, _| {
            let p = path.split('?').next().unwrap_or_default();
            let body = match p {
                "/api/v1/namespaces" => list("NamespaceList", vec![ns("shop"), ns("other")]),
                "/api/v1/services" => {
                    list("ServiceList", vec![svc("shop", "web"), svc("other", "db")])
                }
                "/apis/apps/v1/deployments" => list("DeploymentList", vec![]),
                "/apis/apps/v1/statefulsets" => list("StatefulSetList", vec![]),
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions" => list(
                    "PartialObjectMetadataList",
                    vec![
                        crd_meta("virtualservices.networking.istio.io"),
                        crd_meta("kubernetesclusters.admin.meshctl.dev"),
                    ],
                ),
                other => panic!("unexpected request {other}"),
            };
            (200, body)
        });
        let cancel = CancellationToken::new();
        let settings = KubeSourceSettings {
            namespaces: Some(BTreeSet::from(["shop".to_string()])),
            debounce: Duration::from_millis(10),
            ready_timeout: Duration::from_secs(20),
        };
        let source = KubeClusterSource::start(api.client(), settings, cancel.clone())
            .await
            .unwrap();
        let snap = source.subscribe().borrow().clone();
        let keys: Vec<&String> = snap.resources.keys().collect();
        assert_eq!(
            keys,
            [
                "apiextensions.k8s.io/v1/CustomResourceDefinition//virtualservices.networking.istio.io",
                "v1/Namespace//shop",
                "v1/Service/shop/web",
            ]
        );
        let web: Value =
            serde_json::from_slice(&snap.resources["v1/Service/shop/web"].body).unwrap();
        assert!(web["metadata"].get("managedFields").is_none());
        assert!(web["metadata"].get("resourceVersion").is_none());
        assert!(!snap.hash.is_empty());
        let reqs = api.requests();
        assert!(
            reqs.iter()
                .any(|r| r.contains("/customresourcedefinitions") && r.contains("watch=true")),
            "{reqs:?}"
        );
        cancel.cancel();
    }
}
