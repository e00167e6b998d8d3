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

use super::catalog::{ServiceCatalog, VirtualDestinationSummary};
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
    /// How many inputs were translated to compute this delta.
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
    for ns in names {
        if old_ns.get(ns) != new_ns.get(ns) {
            deps.push(Dep::Namespace(cluster.to_owned(), ns.clone()));
            any = true;
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
                    backends: u.backends.clone(),
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
                        TranslationStatus {
                            state: licensed_status.state,
                            message: Some(EXPIRED_KEPT.to_owned()),
                            observed_generation: licensed_status.observed_generation,
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
