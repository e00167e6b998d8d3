//! What a translation read: the keys of the dependency index that decides which translations to re-run
//! when an input changes.

use std::collections::BTreeSet;

use super::inputs::InputRef;

/// One thing a translation depends on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dep {
    /// One platform resource, by reference (whether or not it exists).
    Input(InputRef),
    /// The set of workspaces (and their specs).
    Workspaces,
    /// The set of registered clusters (and their specs).
    Clusters,
    /// Any VirtualDestination (selection by labels).
    VirtualDestinations,
    /// Cluster-wide facts of one cluster's inventory (namespaces, Istio/Cilium, locality, east-west
    /// gateway), and whether it has an inventory at all.
    ClusterFacts(String),
    /// Services and workloads of one namespace of one cluster.
    Namespace(String, String),
    /// One Service (cluster, namespace, name), whether or not it exists.
    Service(String, String, String),
    /// Services and workloads of any namespace of one cluster.
    AllNamespaces(String),
    /// The VirtualDestinations claiming a host.
    VirtualDestinationHost(String),
    /// The RouteTables claiming a host in a scope (`mesh` or a gateway).
    RouteHost(String, String),
    /// The license.
    Entitlements,
}

/// The dependencies recorded while translating one input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deps(BTreeSet<Dep>);

impl Deps {
    /// Records a dependency.
    pub fn add(&mut self, dep: Dep) {
        self.0.insert(dep);
    }

    /// The recorded dependencies.
    pub fn into_set(self) -> BTreeSet<Dep> {
        self.0
    }

    /// Whether `dep` was recorded.
    pub fn contains(&self, dep: &Dep) -> bool {
        self.0.contains(dep)
    }
}
