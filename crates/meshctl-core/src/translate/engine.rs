//! The incremental translator: holds the current inputs, the translation of every input (status,
//! outputs, what it read), and an index from each dependency to the inputs whose translation read it.
//! A change re-translates only the inputs that depend on what changed, and reports the difference
//! (objects to upsert/delete per cluster, statuses that changed).

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};

use serde::Serialize;
use serde_json::{Value, json};

use crate::api::{TranslationState, TranslationStatus};

use super::catalog::{BackendRef, ServiceCatalog, VirtualDestinationSummary};
use super::deps::{Dep, Deps};
use super::inputs::{
    EntitlementView, InputKind, InputRef, Inputs, PlatformResource, Product, normalize_host,
    route_scopes,
};
use super::inventory::ClusterInventory;
use super::output::{ClusterOutputs, Outputs, ResourceKey};
use super::status::{EXPIRED_CHANGED, EXPIRED_KEPT, Translation, unlicensed};
use super::{access_policy, route_table, virtual_destination, virtual_gateway, workspace};

/// One change to the translation's inputs.
// Changes are short-lived values passed by move; boxing the large variant would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum InputChange {
    /// A platform resource was created or updated.
    Upsert(PlatformResource),
    /// A platform resource was deleted.
    Delete(InputRef),
    /// A cluster's inventory was rebuilt from its agent's snapshot.
    Inventory(ClusterInventory),
    /// A cluster's inventory is gone (cluster deregistered).
    RemoveInventory(String),
    /// The license changed (applied, replaced, expired).
    Entitlements(EntitlementView),
}

/// What changed in one cluster's desired objects.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ClusterDelta {
    /// Objects to create or replace.
    pub upserts: BTreeMap<ResourceKey, Value>,
    /// Objects to delete.
    pub deletes: BTreeSet<ResourceKey>,
}

impl ClusterDelta {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.upserts.is_empty() && self.deletes.is_empty()
    }
}

/// The result of [`Translator::apply`].
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TranslationDelta {
    /// Per cluster: objects to upsert and delete.
    pub clusters: BTreeMap<String, ClusterDelta>,
    /// Statuses to write back (only those that changed; deleted inputs have none).
    pub statuses: BTreeMap<InputRef, TranslationStatus>,
    /// How many inputs were re-evaluated to compute this delta (including those found unlicensed).
    pub retranslated: usize,
}

impl TranslationDelta {
    /// Whether there is nothing to push and no status to write.
    pub fn is_empty(&self) -> bool {
        self.clusters.values().all(ClusterDelta::is_empty) && self.statuses.is_empty()
    }

    /// Folds a later delta into this one (for accumulating while debouncing).
    pub fn merge(&mut self, later: TranslationDelta) {
        for (cluster, delta) in later.clusters {
            let mine = self.clusters.entry(cluster).or_default();
            for key in delta.deletes {
                mine.upserts.remove(&key);
                mine.deletes.insert(key);
            }
            for (key, value) in delta.upserts {
                mine.deletes.remove(&key);
                mine.upserts.insert(key, value);
            }
        }
        self.statuses.extend(later.statuses);
        self.retranslated += later.retranslated;
    }
}

#[derive(Clone, Debug)]
struct Unit {
    status: TranslationStatus,
    outputs: Outputs,
    deps: BTreeSet<Dep>,
    /// Status and fingerprint of the last translation that ran under a license (for expiry).
    licensed: Option<(u64, TranslationStatus)>,
    backends: Vec<(String, String, String)>,
}

/// The incremental translator the management server drives. Pure: no I/O, no clock.
#[derive(Clone, Debug, Default)]
pub struct Translator {
    inputs: Inputs,
    fingerprints: BTreeMap<InputRef, u64>,
    units: BTreeMap<InputRef, Unit>,
    index: HashMap<Dep, BTreeSet<InputRef>>,
    outputs: Outputs,
    translations: u64,
}

fn hash_json(value: &Value) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.to_string().hash(&mut hasher);
    hasher.finish()
}

/// What of a resource translation reads: spec, labels, creation time (conflict rank), generation.
fn fingerprint(resource: &PlatformResource) -> u64 {
    macro_rules! fp {
        ($r:expr) => {
            hash_json(&json!({
                "spec": $r.spec,
                "labels": $r.metadata.labels,
                "created": $r.metadata.creation_timestamp,
                "generation": $r.metadata.generation,
            }))
        };
    }
    match resource {
        PlatformResource::KubernetesCluster(r) => hash_json(&json!({"spec": r.spec})),
        PlatformResource::Workspace(r) => fp!(r),
        PlatformResource::VirtualDestination(r) => fp!(r),
        PlatformResource::RouteTable(r) => fp!(r),
        PlatformResource::VirtualGateway(r) => fp!(r),
        PlatformResource::AccessPolicy(r) => fp!(r),
    }
}

/// Dependencies a change of `resource` (its old or new version) fires.
fn change_deps(resource: &PlatformResource) -> Vec<Dep> {
    let mut deps = vec![Dep::Input(resource.input_ref())];
    match resource {
        PlatformResource::KubernetesCluster(_) => deps.push(Dep::Clusters),
        PlatformResource::Workspace(_) => deps.push(Dep::Workspaces),
        PlatformResource::VirtualDestination(vd) => {
            deps.push(Dep::VirtualDestinations);
            deps.extend(
                vd.spec
                    .hosts
                    .iter()
                    .map(|h| Dep::VirtualDestinationHost(normalize_host(h))),
            );
        }
        PlatformResource::RouteTable(rt) => {
            for scope in route_scopes(rt) {
                deps.extend(
                    rt.spec
                        .hosts
                        .iter()
                        .map(|h| Dep::RouteHost(scope.clone(), normalize_host(h))),
                );
            }
        }
        PlatformResource::VirtualGateway(_) | PlatformResource::AccessPolicy(_) => {}
    }
    deps
}

/// Dependencies fired by replacing a cluster's inventory `old` with `new`.
fn inventory_deps(
    cluster: &str,
    old: Option<&ClusterInventory>,
    new: Option<&ClusterInventory>,
) -> Vec<Dep> {
    let mut deps = Vec::new();
    if old.map(ClusterInventory::facts) != new.map(ClusterInventory::facts) {
        deps.push(Dep::ClusterFacts(cluster.to_owned()));
    }
    let empty = BTreeMap::new();
    let old_ns = old.map_or(&empty, |i| &i.namespaces);
    let new_ns = new.map_or(&empty, |i| &i.namespaces);
    let names: BTreeSet<&String> = old_ns.keys().chain(new_ns.keys()).collect();
    let mut any = false;
    let no_services = BTreeMap::new();
    for ns in names {
        let (before, after) = (old_ns.get(ns), new_ns.get(ns));
        if before == after {
            continue;
        }
        deps.push(Dep::Namespace(cluster.to_owned(), ns.clone()));
        any = true;
        let before = before.map_or(&no_services, |n| &n.services);
        let after = after.map_or(&no_services, |n| &n.services);
        let services: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
        for name in services {
            if before.get(name) != after.get(name) {
                deps.push(Dep::Service(cluster.to_owned(), ns.clone(), name.clone()));
            }
        }
    }
    if any || old.is_none() != new.is_none() {
        deps.push(Dep::AllNamespaces(cluster.to_owned()));
    }
    deps
}

/// The products that may translate a resource (any one suffices); `None` when not product-gated.
fn products_for(resource: &PlatformResource) -> Option<Vec<Product>> {
    match resource {
        PlatformResource::KubernetesCluster(_) | PlatformResource::Workspace(_) => None,
        PlatformResource::VirtualDestination(_) => Some(vec![Product::Mesh]),
        PlatformResource::RouteTable(rt) if rt.spec.virtual_gateways.is_empty() => {
            Some(vec![Product::Mesh])
        }
        PlatformResource::RouteTable(_) | PlatformResource::VirtualGateway(_) => {
            Some(vec![Product::Gateway])
        }
        PlatformResource::AccessPolicy(_) => Some(vec![Product::Mesh, Product::Network]),
    }
}

fn generation(resource: &PlatformResource) -> Option<i64> {
    match resource {
        PlatformResource::KubernetesCluster(r) => r.metadata.generation,
        PlatformResource::Workspace(r) => r.metadata.generation,
        PlatformResource::VirtualDestination(r) => r.metadata.generation,
        PlatformResource::RouteTable(r) => r.metadata.generation,
        PlatformResource::VirtualGateway(r) => r.metadata.generation,
        PlatformResource::AccessPolicy(r) => r.metadata.generation,
    }
}

impl Translator {
    /// An empty translator with no license (product-gated inputs are UNLICENSED until
    /// [`InputChange::Entitlements`] arrives).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty translator with the given license view.
    pub fn with_entitlements(entitlements: EntitlementView) -> Self {
        let mut t = Self::new();
        t.inputs.set_entitlements(entitlements);
        t
    }

    /// The current inputs.
    pub fn inputs(&self) -> &Inputs {
        &self.inputs
    }

    /// Desired objects of every cluster.
    pub fn outputs(&self) -> &Outputs {
        &self.outputs
    }

    /// Desired objects of one cluster (what its agent should hold).
    pub fn cluster_outputs(&self, cluster: &str) -> Option<&ClusterOutputs> {
        self.outputs.get(cluster)
    }

    /// The status of one input.
    pub fn status(&self, input: &InputRef) -> Option<&TranslationStatus> {
        self.units.get(input).map(|u| &u.status)
    }

    /// The status of every translated input.
    pub fn statuses(&self) -> BTreeMap<InputRef, TranslationStatus> {
        self.units
            .iter()
            .map(|(r, u)| (r.clone(), u.status.clone()))
            .collect()
    }

    /// How many single-input translations ran since creation (for tests and metrics).
    pub fn translations(&self) -> u64 {
        self.translations
    }

    /// The global service catalog.
    pub fn catalog(&self) -> ServiceCatalog {
        let vds = self
            .units
            .iter()
            .filter(|(r, _)| r.kind == InputKind::VirtualDestination)
            .filter_map(|(r, u)| {
                let vd = self
                    .inputs
                    .virtual_destinations()
                    .get(&(r.namespace.clone(), r.name.clone()))?;
                Some(VirtualDestinationSummary {
                    namespace: r.namespace.clone(),
                    name: r.name.clone(),
                    hosts: vd.spec.hosts.clone(),
                    state: u.status.state,
                    backends: u
                        .backends
                        .iter()
                        .map(|(cluster, namespace, name)| BackendRef {
                            cluster: cluster.clone(),
                            namespace: namespace.clone(),
                            name: name.clone(),
                        })
                        .collect(),
                })
            })
            .collect();
        ServiceCatalog::build(&self.inputs, vds)
    }

    /// Applies changes and re-translates what depends on them.
    pub fn apply(&mut self, changes: impl IntoIterator<Item = InputChange>) -> TranslationDelta {
        let mut fired: BTreeSet<Dep> = BTreeSet::new();
        let mut touched: BTreeSet<InputRef> = BTreeSet::new();
        for change in changes {
            match change {
                InputChange::Upsert(resource) => {
                    let r = resource.input_ref();
                    let fp = fingerprint(&resource);
                    if self.fingerprints.get(&r) == Some(&fp) {
                        continue;
                    }
                    if let Some(old) = self.inputs.get(&r) {
                        fired.extend(change_deps(&old));
                    }
                    fired.extend(change_deps(&resource));
                    self.inputs.upsert(resource);
                    self.fingerprints.insert(r.clone(), fp);
                    touched.insert(r);
                }
                InputChange::Delete(r) => {
                    if let Some(old) = self.inputs.get(&r) {
                        fired.extend(change_deps(&old));
                        self.inputs.remove(&r);
                        self.fingerprints.remove(&r);
                        touched.insert(r);
                    }
                }
                InputChange::Inventory(inventory) => {
                    let cluster = inventory.cluster.clone();
                    let deps = inventory_deps(
                        &cluster,
                        self.inputs.inventories().get(&cluster),
                        Some(&inventory),
                    );
                    fired.extend(deps);
                    self.inputs.set_inventory(inventory);
                }
                InputChange::RemoveInventory(cluster) => {
                    let old = self.inputs.remove_inventory(&cluster);
                    fired.extend(inventory_deps(&cluster, old.as_ref(), None));
                }
                InputChange::Entitlements(entitlements) => {
                    if *self.inputs.entitlements() != entitlements {
                        self.inputs.set_entitlements(entitlements);
                        fired.insert(Dep::Entitlements);
                    }
                }
            }
        }
        for dep in &fired {
            if let Some(units) = self.index.get(dep) {
                touched.extend(units.iter().cloned());
            }
        }
        let mut delta = TranslationDelta::default();
        for r in touched {
            if r.kind == InputKind::KubernetesCluster {
                continue;
            }
            self.retranslate(&r, &mut delta);
        }
        delta
    }

    fn retranslate(&mut self, r: &InputRef, delta: &mut TranslationDelta) {
        let prev = self.units.remove(r);
        if let Some(prev) = &prev {
            for dep in &prev.deps {
                if let Some(set) = self.index.get_mut(dep) {
                    set.remove(r);
                    if set.is_empty() {
                        self.index.remove(dep);
                    }
                }
            }
        }
        let next = self
            .inputs
            .get(r)
            .map(|resource| self.run(r, &resource, prev.as_ref()));
        if next.is_some() {
            delta.retranslated += 1;
        }
        let empty = Outputs::new();
        let old_outputs = prev.as_ref().map_or(&empty, |u| &u.outputs);
        let new_outputs = next.as_ref().map_or(&empty, |u| &u.outputs);
        diff_into(old_outputs, new_outputs, &mut self.outputs, delta);
        if let Some(next) = next {
            for dep in &next.deps {
                self.index.entry(dep.clone()).or_default().insert(r.clone());
            }
            if prev.as_ref().map(|p| &p.status) != Some(&next.status) {
                delta.statuses.insert(r.clone(), next.status.clone());
            }
            self.units.insert(r.clone(), next);
        }
    }

    fn run(&mut self, r: &InputRef, resource: &PlatformResource, prev: Option<&Unit>) -> Unit {
        let fp = fingerprint(resource);
        let generation = generation(resource);
        let mut base = BTreeSet::from([Dep::Input(r.clone())]);
        if let Some(products) = products_for(resource) {
            base.insert(Dep::Entitlements);
            let ents = self.inputs.entitlements();
            if !products.iter().any(|p| ents.allows(*p)) {
                let frozen = prev.filter(|_| ents.is_expired()).and_then(|p| {
                    let (licensed_fp, licensed_status) = p.licensed.as_ref()?;
                    let status = if *licensed_fp == fp {
                        if licensed_status.state == TranslationState::Accepted {
                            TranslationStatus {
                                message: Some(EXPIRED_KEPT.to_owned()),
                                ..licensed_status.clone()
                            }
                        } else {
                            // An input that was INVALID stays so (it has no outputs to keep).
                            licensed_status.clone()
                        }
                    } else {
                        TranslationStatus {
                            state: TranslationState::Unlicensed,
                            message: Some(EXPIRED_CHANGED.to_owned()),
                            observed_generation: generation,
                        }
                    };
                    Some(Unit {
                        status,
                        outputs: p.outputs.clone(),
                        deps: base.clone(),
                        licensed: p.licensed.clone(),
                        backends: p.backends.clone(),
                    })
                });
                return frozen.unwrap_or_else(|| Unit {
                    status: unlicensed(&products, ents.is_expired(), generation),
                    outputs: Outputs::new(),
                    deps: base,
                    licensed: None,
                    backends: Vec::new(),
                });
            }
        }
        self.translations += 1;
        let mut deps = Deps::default();
        let inputs = &self.inputs;
        let translation: Translation = match resource {
            PlatformResource::KubernetesCluster(_) => Translation::default(),
            PlatformResource::Workspace(w) => workspace::translate(inputs, w, &mut deps),
            PlatformResource::VirtualDestination(v) => {
                virtual_destination::translate(inputs, v, &mut deps)
            }
            PlatformResource::RouteTable(v) => route_table::translate(inputs, v, &mut deps),
            PlatformResource::VirtualGateway(v) => virtual_gateway::translate(inputs, v, &mut deps),
            PlatformResource::AccessPolicy(v) => access_policy::translate(inputs, v, &mut deps),
        };
        let mut all = deps.into_set();
        all.extend(base);
        let licensed = products_for(resource).map(|_| (fp, translation.status.clone()));
        Unit {
            status: translation.status,
            outputs: translation.outputs,
            deps: all,
            licensed,
            backends: translation.backends,
        }
    }
}

/// Records the difference between one input's old and new outputs in the merged view and the delta.
fn diff_into(old: &Outputs, new: &Outputs, merged: &mut Outputs, delta: &mut TranslationDelta) {
    let clusters: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let empty = ClusterOutputs::new();
    for cluster in clusters {
        let before = old.get(cluster).unwrap_or(&empty);
        let after = new.get(cluster).unwrap_or(&empty);
        for key in before.keys() {
            if !after.contains_key(key) {
                if let Some(m) = merged.get_mut(cluster) {
                    m.remove(key);
                    if m.is_empty() {
                        merged.remove(cluster);
                    }
                }
                let d = delta.clusters.entry(cluster.clone()).or_default();
                d.upserts.remove(key);
                d.deletes.insert(key.clone());
            }
        }
        for (key, value) in after {
            if before.get(key) != Some(value) {
                merged
                    .entry(cluster.clone())
                    .or_default()
                    .insert(key.clone(), value.clone());
                let d = delta.clusters.entry(cluster.clone()).or_default();
                d.deletes.remove(key);
                d.upserts.insert(key.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::translate::testing::{bookinfo_inventory, resource, two_cluster_translator};

    fn vd(name: &str, host: &str, service: &str) -> PlatformResource {
        resource(
            "VirtualDestination",
            "bookinfo-config",
            name,
            json!({"hosts": [host], "ports": [{"number": 9080}],
                   "services": [{"namespace": "bookinfo", "name": service}]}),
        )
    }

    fn vd_ref(name: &str) -> InputRef {
        InputRef::new(InputKind::VirtualDestination, "bookinfo-config", name)
    }

    fn with_destinations() -> Translator {
        let mut t = two_cluster_translator();
        t.apply([
            InputChange::Upsert(vd("reviews", "reviews.global", "reviews")),
            InputChange::Upsert(vd("ratings", "ratings.global", "ratings")),
            InputChange::Upsert(vd("details", "details.global", "details")),
            InputChange::Upsert(resource(
                "RouteTable",
                "bookinfo-config",
                "reviews",
                json!({"hosts": ["reviews.global"], "http": [{"forwardTo": {"destinations": [{"name": "reviews"}]}}]}),
            )),
        ]);
        t
    }

    #[test]
    fn a_change_retranslates_only_what_depends_on_it() {
        let mut t = with_destinations();

        // ratings: nothing else depends on it.
        let before = t.translations();
        let delta = t.apply([InputChange::Upsert(vd(
            "ratings",
            "ratings.global",
            "reviews",
        ))]);
        assert_eq!(t.translations() - before, 1);
        assert_eq!(delta.retranslated, 1);
        assert!(!delta.clusters["cluster-1"].upserts.is_empty());

        // reviews: the RouteTable forwarding to it is re-translated too.
        let before = t.translations();
        let mut changed = vd("reviews", "reviews.global", "reviews");
        if let PlatformResource::VirtualDestination(v) = &mut changed {
            v.spec.ports[0].name = Some("http-web".into());
        }
        t.apply([InputChange::Upsert(changed.clone())]);
        assert_eq!(t.translations() - before, 2);

        // The same object again (e.g. our own status write echoed by the watch): nothing.
        let before = t.translations();
        let delta = t.apply([InputChange::Upsert(changed)]);
        assert_eq!(t.translations(), before);
        assert!(delta.is_empty());

        // A Service added to a namespace no destination selects: nothing.
        let mut inv = bookinfo_inventory("cluster-2", "us-west1", "us-west1-a");
        inv.add_service(crate::translate::testing::service(
            "cluster.local",
            "istio-system",
            "other",
            80,
            &[],
        ));
        let before = t.translations();
        t.apply([InputChange::Inventory(inv.clone())]);
        assert_eq!(t.translations(), before);

        // details gets a backend in cluster-2: only the VirtualDestination selecting it re-runs.
        inv.add_service(crate::translate::testing::service(
            "cluster.local",
            "bookinfo",
            "details",
            9080,
            &[],
        ));
        let before = t.translations();
        let delta = t.apply([InputChange::Inventory(inv)]);
        assert_eq!(t.translations() - before, 1);
        let details_se = delta.clusters["cluster-1"]
            .upserts
            .iter()
            .find(|(k, _)| k.name == "details.bookinfo-config")
            .unwrap()
            .1;
        assert_eq!(details_se["spec"]["endpoints"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn a_selector_without_namespace_sees_services_added_to_any_namespace() {
        let mut t = two_cluster_translator();
        t.apply([InputChange::Upsert(resource(
            "VirtualDestination",
            "bookinfo-config",
            "anywhere",
            json!({"hosts": ["anywhere.global"], "ports": [{"number": 9080}], "services": [{"labels": {"app": "late"}}]}),
        ))]);
        let endpoints = |t: &Translator| {
            t.outputs()["cluster-1"]
                .iter()
                .find(|(k, _)| k.name == "anywhere.bookinfo-config")
                .map(|(_, v)| v["spec"]["endpoints"].as_array().unwrap().len())
        };
        assert_eq!(endpoints(&t), Some(0));
        let mut inv = bookinfo_inventory("cluster-1", "us-east1", "us-east1-b");
        inv.add_service(crate::translate::testing::service(
            "cluster.local",
            "bookinfo",
            "late",
            9080,
            &[("app", "late")],
        ));
        let facts_before = bookinfo_inventory("cluster-1", "us-east1", "us-east1-b").facts();
        assert_eq!(
            inv.facts(),
            facts_before,
            "only the namespace content changes"
        );
        let delta = t.apply([InputChange::Inventory(inv)]);
        assert_eq!(delta.retranslated, 1);
        assert_eq!(endpoints(&t), Some(1));
    }

    #[test]
    fn from_wire_objects_to_istio_objects_and_back() {
        use crate::translate::inventory::SnapshotObject;
        let svc = json!({"metadata": {"name": "reviews", "namespace": "bookinfo", "labels": {"app": "reviews"}},
                         "spec": {"selector": {"app": "reviews"}, "ports": [{"port": 9080}]}})
        .to_string();
        let ns = json!({"metadata": {"name": "bookinfo"}}).to_string();
        let objects = [
            SnapshotObject {
                api_version: "v1",
                kind: "Namespace",
                namespace: "",
                name: "bookinfo",
                body: ns.as_bytes(),
            },
            SnapshotObject {
                api_version: "v1",
                kind: "Service",
                namespace: "bookinfo",
                name: "reviews",
                body: svc.as_bytes(),
            },
            SnapshotObject {
                api_version: "apiextensions.k8s.io/v1",
                kind: "CustomResourceDefinition",
                namespace: "",
                name: "serviceentries.networking.istio.io",
                body: b"{}",
            },
        ];
        let (inventory, issues) =
            ClusterInventory::from_objects("demo-1", "cluster.local", objects);
        assert!(issues.is_empty());
        let workspace = PlatformResource::from_json(
            "Workspace",
            json!({"metadata": {"name": "demo", "namespace": "mesh-system"},
                   "spec": {"workloadClusters": [{"name": "*", "namespaces": ["bookinfo"]}]}})
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        let mut t = Translator::with_entitlements(EntitlementView::licensed([Product::Mesh]));
        t.apply([
            InputChange::Upsert(resource(
                "KubernetesCluster",
                "mesh-system",
                "demo-1",
                json!({}),
            )),
            InputChange::Upsert(workspace),
            InputChange::Inventory(inventory),
        ]);
        let delta = t.apply([InputChange::Upsert(resource(
            "VirtualDestination",
            "mesh-system",
            "reviews",
            json!({"hosts": ["reviews.global"], "ports": [{"number": 9080}], "services": [{"name": "reviews"}]}),
        ))]);
        let kinds: Vec<(&str, &str, &str)> = delta.clusters["demo-1"]
            .upserts
            .keys()
            .map(|k| (k.kind.as_str(), k.namespace.as_str(), k.name.as_str()))
            .collect();
        assert_eq!(kinds, [("ServiceEntry", "bookinfo", "reviews.mesh-system")]);
        let delta = t.apply([InputChange::Delete(InputRef::new(
            InputKind::VirtualDestination,
            "mesh-system",
            "reviews",
        ))]);
        assert_eq!(delta.clusters["demo-1"].deletes.len(), 1);
        assert!(t.outputs().is_empty());
    }

    #[test]
    fn deleting_an_input_withdraws_its_outputs_and_status() {
        let mut t = with_destinations();
        let delta = t.apply([InputChange::Delete(vd_ref("ratings"))]);
        let deletes: Vec<&str> = delta.clusters["cluster-1"]
            .deletes
            .iter()
            .map(|k| k.name.as_str())
            .collect();
        assert_eq!(deletes, ["ratings.bookinfo-config"]);
        assert!(t.status(&vd_ref("ratings")).is_none());
        assert!(
            t.outputs()["cluster-1"]
                .keys()
                .all(|k| k.name != "ratings.bookinfo-config")
        );
    }

    #[test]
    fn deregistering_a_cluster_withdraws_everything_there() {
        let mut t = with_destinations();
        let delta = t.apply([
            InputChange::Delete(InputRef::new(
                InputKind::KubernetesCluster,
                "mesh-system",
                "cluster-2",
            )),
            InputChange::RemoveInventory("cluster-2".into()),
        ]);
        assert!(!t.outputs().contains_key("cluster-2"));
        assert_eq!(
            delta.clusters["cluster-2"].deletes.len(),
            4,
            "3 ServiceEntries + 1 VirtualService"
        );
    }

    #[test]
    fn an_expired_license_freezes_unchanged_outputs_and_stops_translating_changes() {
        let mut t = with_destinations();
        let before = t.outputs().clone();

        let delta = t.apply([InputChange::Entitlements(EntitlementView::expired(
            Product::ALL,
        ))]);
        assert!(
            delta.clusters.values().all(ClusterDelta::is_empty),
            "data plane untouched"
        );
        let s = t.status(&vd_ref("reviews")).unwrap();
        assert_eq!(s.state, TranslationState::Accepted);
        assert_eq!(s.message.as_deref(), Some(EXPIRED_KEPT));
        assert_eq!(t.outputs(), &before);

        // A changed resource: UNLICENSED, its old outputs stay.
        let delta = t.apply([InputChange::Upsert(vd(
            "ratings",
            "ratings.global",
            "reviews",
        ))]);
        let s = &delta.statuses[&vd_ref("ratings")];
        assert_eq!(s.state, TranslationState::Unlicensed);
        assert_eq!(s.message.as_deref(), Some(EXPIRED_CHANGED));
        assert_eq!(t.outputs(), &before);

        // A new resource: UNLICENSED, nothing.
        let delta = t.apply([InputChange::Upsert(vd("new", "new.global", "reviews"))]);
        assert_eq!(
            delta.statuses[&vd_ref("new")].state,
            TranslationState::Unlicensed
        );
        assert_eq!(t.outputs(), &before);

        // Reverting the change returns to the kept configuration.
        t.apply([InputChange::Upsert(vd(
            "ratings",
            "ratings.global",
            "ratings",
        ))]);
        assert_eq!(
            t.status(&vd_ref("ratings")).unwrap().state,
            TranslationState::Accepted
        );

        // Deletions are honoured.
        let delta = t.apply([InputChange::Delete(vd_ref("details"))]);
        assert_eq!(delta.clusters["cluster-1"].deletes.len(), 1);

        // An input that was INVALID before the expiry keeps its findings.
        t.apply([InputChange::Entitlements(EntitlementView::all())]);
        t.apply([InputChange::Upsert(crate::translate::testing::resource_at(
            "VirtualDestination",
            "bookinfo-config",
            "clash",
            100,
            json!({"hosts": ["reviews.global"], "ports": [{"number": 9080}], "services": [{}]}),
        ))]);
        let invalid = t.status(&vd_ref("clash")).unwrap().clone();
        assert_eq!(invalid.state, TranslationState::Invalid);
        t.apply([InputChange::Entitlements(EntitlementView::expired(
            Product::ALL,
        ))]);
        assert_eq!(t.status(&vd_ref("clash")), Some(&invalid));
        t.apply([InputChange::Delete(vd_ref("clash"))]);

        // Renewal translates everything again.
        t.apply([InputChange::Upsert(vd(
            "ratings",
            "ratings.global",
            "reviews",
        ))]);
        t.apply([InputChange::Entitlements(EntitlementView::all())]);
        assert_eq!(
            t.status(&vd_ref("new")).unwrap().state,
            TranslationState::Accepted
        );
        assert_eq!(t.status(&vd_ref("ratings")).unwrap().message, None);
        assert!(
            t.outputs()["cluster-1"]
                .keys()
                .any(|k| k.name == "new.bookinfo-config")
        );
    }

    #[test]
    fn a_valid_license_without_the_product_withdraws_outputs() {
        let mut t = with_destinations();
        let delta = t.apply([InputChange::Entitlements(EntitlementView::licensed([
            Product::Network,
        ]))]);
        assert_eq!(
            delta.statuses[&vd_ref("reviews")].state,
            TranslationState::Unlicensed
        );
        assert!(t.outputs().is_empty());
        assert_eq!(delta.clusters["cluster-1"].deletes.len(), 4);
    }

    #[test]
    fn deltas_merge_in_order() {
        let key = |n: &str| ResourceKey {
            api_version: "v".into(),
            kind: "K".into(),
            namespace: "ns".into(),
            name: n.into(),
        };
        let mut first = TranslationDelta::default();
        let c = first.clusters.entry("c".into()).or_default();
        c.upserts.insert(key("a"), json!(1));
        c.deletes.insert(key("b"));
        let mut second = TranslationDelta::default();
        let c = second.clusters.entry("c".into()).or_default();
        c.deletes.insert(key("a"));
        c.upserts.insert(key("b"), json!(2));
        first.merge(second);
        let c = &first.clusters["c"];
        assert_eq!(c.deletes, BTreeSet::from([key("a")]));
        assert_eq!(c.upserts, BTreeMap::from([(key("b"), json!(2))]));
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::translate::testing::{resource_at, service};

    const HOSTS: [&str; 3] = ["a.global", "b.global", "c.global"];
    const APPS: [&str; 3] = ["web", "api", "db"];
    const NAMESPACES: [&str; 2] = ["ns1", "ns2"];

    /// (present, istio, east-west gateway, services as (app, namespace, alternative port)).
    type InventorySpec = (bool, bool, bool, Vec<(usize, usize, bool)>);

    #[derive(Clone, Debug)]
    struct World {
        clusters: Vec<bool>,
        inventories: Vec<InventorySpec>,
        wide_workspace: bool,
        vds: Vec<(usize, usize, Option<usize>, bool, i64)>,
        rts: Vec<(usize, usize, Option<usize>, i64)>,
        aps: Vec<(usize, bool)>,
    }

    fn world() -> impl Strategy<Value = World> {
        (
            proptest::collection::vec(any::<bool>(), 3),
            proptest::collection::vec(
                (
                    any::<bool>(),
                    any::<bool>(),
                    any::<bool>(),
                    proptest::collection::vec((0..3usize, 0..2usize, any::<bool>()), 0..5),
                ),
                3,
            ),
            any::<bool>(),
            proptest::collection::vec(
                (
                    0..3usize,
                    0..3usize,
                    proptest::option::of(0..2usize),
                    any::<bool>(),
                    0..3i64,
                ),
                0..5,
            ),
            proptest::collection::vec(
                (
                    0..3usize,
                    0..5usize,
                    proptest::option::of(0..2usize),
                    0..3i64,
                ),
                0..3,
            ),
            proptest::collection::vec((0..3usize, any::<bool>()), 0..2),
        )
            .prop_map(
                |(clusters, inventories, wide_workspace, vds, rts, aps)| World {
                    clusters,
                    inventories,
                    wide_workspace,
                    vds,
                    rts,
                    aps,
                },
            )
    }

    fn changes(w: &World) -> Vec<InputChange> {
        let mut out = Vec::new();
        for (i, registered) in w.clusters.iter().enumerate() {
            if *registered {
                out.push(InputChange::Upsert(resource_at(
                    "KubernetesCluster",
                    "mesh-system",
                    &format!("c{i}"),
                    0,
                    json!({"region": format!("r{i}")}),
                )));
            }
        }
        for (i, (present, istio, gateway, services)) in w.inventories.iter().enumerate() {
            if !present {
                continue;
            }
            let mut inv = ClusterInventory::new(format!("c{i}"), "cluster.local");
            inv.set_istio_present(*istio);
            inv.set_cilium_present(!*istio);
            for (app, ns, alt_port) in services {
                let port = if *alt_port { 8080 } else { 80 };
                inv.add_service(service(
                    "cluster.local",
                    NAMESPACES[*ns],
                    APPS[*app],
                    port,
                    &[("app", APPS[*app])],
                ));
            }
            if *gateway {
                let mut gw = service(
                    "cluster.local",
                    "istio-system",
                    "eastwest",
                    15443,
                    &[("istio", "eastwestgateway")],
                );
                gw.external_address = Some(format!("10.0.0.{i}"));
                inv.add_service(gw);
            }
            out.push(InputChange::Inventory(inv));
        }
        let namespaces = if w.wide_workspace {
            json!(["ns*"])
        } else {
            json!(["ns1"])
        };
        out.push(InputChange::Upsert(resource_at(
            "Workspace",
            "cfg",
            "ws",
            0,
            json!({"workloadClusters": [{"name": "*", "namespaces": namespaces}]}),
        )));
        for (i, (host, app, ns, alt_port, created)) in w.vds.iter().enumerate() {
            let mut selector = json!({"labels": {"app": APPS[*app]}});
            if let Some(ns) = ns {
                selector["namespace"] = json!(NAMESPACES[*ns]);
            }
            if *created == 2 {
                selector["name"] = json!(APPS[*app]);
            }
            let port = if *alt_port { 8080 } else { 80 };
            out.push(InputChange::Upsert(resource_at(
                "VirtualDestination",
                "cfg",
                &format!("vd{i}"),
                *created,
                json!({"hosts": [HOSTS[*host]], "ports": [{"number": port}], "services": [selector],
                       "failover": {"regions": [{"from": "r0", "to": "r1"}]}}),
            )));
        }
        for (i, (host, target, weight, created)) in w.rts.iter().enumerate() {
            let mut destinations = vec![json!({"name": format!("vd{target}")})];
            if let Some(wt) = weight {
                destinations.push(json!({"kind": "Service", "name": APPS[*wt], "namespace": "ns1", "port": 80, "weight": 3}));
            }
            out.push(InputChange::Upsert(resource_at(
                "RouteTable",
                "cfg",
                &format!("rt{i}"),
                *created,
                json!({"hosts": [HOSTS[*host]], "http": [{"forwardTo": {"destinations": destinations}}]}),
            )));
        }
        for (i, (app, by_vd)) in w.aps.iter().enumerate() {
            let selector = if *by_vd {
                json!({"selector": {"name": format!("vd{app}")}})
            } else {
                json!({"kind": "Service", "selector": {"labels": {"app": APPS[*app]}}})
            };
            out.push(InputChange::Upsert(resource_at(
                "AccessPolicy",
                "cfg",
                &format!("ap{i}"),
                0,
                json!({"applyToDestinations": [selector], "from": [{"namespaces": ["ns2"]}], "allowedPorts": [80]}),
            )));
        }
        out
    }

    /// The changes that take a translator holding `from` to holding `to`.
    fn transition(from: &World, to: &World) -> Vec<InputChange> {
        let target = changes(to);
        let mut keep_refs = BTreeSet::new();
        let mut keep_clusters = BTreeSet::new();
        for c in &target {
            match c {
                InputChange::Upsert(r) => {
                    keep_refs.insert(r.input_ref());
                }
                InputChange::Inventory(i) => {
                    keep_clusters.insert(i.cluster.clone());
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        for c in changes(from) {
            match c {
                InputChange::Upsert(r) if !keep_refs.contains(&r.input_ref()) => {
                    out.push(InputChange::Delete(r.input_ref()));
                }
                InputChange::Inventory(i) if !keep_clusters.contains(&i.cluster) => {
                    out.push(InputChange::RemoveInventory(i.cluster.clone()));
                }
                _ => {}
            }
        }
        out.extend(target);
        out
    }

    fn full(w: &World) -> Translator {
        let mut t = Translator::with_entitlements(EntitlementView::all());
        t.apply(changes(w));
        t
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn translation_is_deterministic_whatever_the_input_order(w in world(), seed in any::<u64>()) {
            let a = full(&w);
            let mut shuffled = changes(&w);
            // Deterministic Fisher-Yates from the seed.
            let mut state = seed | 1;
            for i in (1..shuffled.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let j = usize::try_from(state % (i as u64 + 1)).unwrap();
                shuffled.swap(i, j);
            }
            let mut b = Translator::with_entitlements(EntitlementView::all());
            b.apply(shuffled);
            prop_assert_eq!(a.outputs(), b.outputs());
            prop_assert_eq!(a.statuses(), b.statuses());
        }

        #[test]
        fn translation_is_idempotent(w in world()) {
            let mut a = full(&w);
            let outputs = a.outputs().clone();
            let delta = a.apply(changes(&w));
            prop_assert!(delta.is_empty(), "{delta:?}");
            prop_assert_eq!(delta.retranslated, 0);
            prop_assert_eq!(a.outputs(), &outputs);
        }

        #[test]
        fn incremental_translation_equals_full_translation(from in world(), to in world()) {
            let mut inc = full(&from);
            let mut pushed = inc.outputs().clone();
            for change in transition(&from, &to) {
                let delta = inc.apply([change]);
                // What an agent would hold after applying every delta.
                for (cluster, d) in delta.clusters {
                    let held = pushed.entry(cluster.clone()).or_default();
                    for k in d.deletes { held.remove(&k); }
                    held.extend(d.upserts);
                    if held.is_empty() { pushed.remove(&cluster); }
                }
            }
            let reference = full(&to);
            prop_assert_eq!(inc.outputs(), reference.outputs());
            prop_assert_eq!(&pushed, reference.outputs());
            prop_assert_eq!(inc.statuses(), reference.statuses());
        }
    }
}
