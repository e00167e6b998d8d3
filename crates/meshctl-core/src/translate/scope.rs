//! Workspaces: which workspace a platform resource belongs to, which clusters and namespaces that
//! workspace spans, where its outputs go in each cluster, and which Services a selector picks.
//!
//! A resource in management-cluster namespace `N` belongs to the Workspace that lives in `N` (the first
//! by name), else to the first Workspace (by namespace/name) whose namespace patterns select `N`.

use std::collections::BTreeMap;

use crate::api::Workspace;
use crate::api::common::ServiceSelector;

use super::deps::{Dep, Deps};
use super::inputs::{Inputs, ObjectKey};
use super::inventory::{ClusterInventory, ServiceInfo};

/// The clusters and namespace patterns of one workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkspaceScope {
    /// (namespace, name) of the Workspace.
    pub key: ObjectKey,
    /// Registered clusters of the workspace and their namespace patterns.
    pub clusters: BTreeMap<String, Vec<String>>,
}

impl WorkspaceScope {
    /// The Workspace's name.
    pub fn name(&self) -> &str {
        &self.key.1
    }

    /// Whether the workspace includes `namespace` of `cluster`.
    pub fn includes(&self, cluster: &str, namespace: &str) -> bool {
        self.clusters
            .get(cluster)
            .is_some_and(|patterns| matches_any(patterns, namespace))
    }
}

/// Whether `namespace` matches a pattern: `*`, `prefix*`, or an exact name.
pub fn matches_pattern(pattern: &str, namespace: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => namespace.starts_with(prefix),
        None => pattern == namespace,
    }
}

fn matches_any(patterns: &[String], namespace: &str) -> bool {
    patterns.iter().any(|p| matches_pattern(p, namespace))
}

/// The workspace of a resource in management namespace `namespace`.
pub fn workspace_of(inputs: &Inputs, namespace: &str, deps: &mut Deps) -> Option<WorkspaceScope> {
    deps.add(Dep::Workspaces);
    let own = inputs
        .workspaces()
        .iter()
        .find(|((ns, _), _)| ns == namespace);
    let selecting = || {
        inputs.workspaces().iter().find(|(_, ws)| {
            ws.spec
                .workload_clusters
                .iter()
                .any(|c| matches_any(&c.namespaces, namespace))
        })
    };
    let (key, ws) = own.or_else(selecting)?;
    Some(scope_of(inputs, key, ws, deps))
}

/// The scope of a workspace given by name (the first by namespace when several share the name).
pub fn workspace_named(inputs: &Inputs, name: &str, deps: &mut Deps) -> Option<WorkspaceScope> {
    deps.add(Dep::Workspaces);
    let (key, ws) = inputs.workspaces().iter().find(|((_, n), _)| n == name)?;
    Some(scope_of(inputs, key, ws, deps))
}

/// Whether `from` may use destinations of workspace `to`: `from` imports `to` and `to` exports to `from`.
pub fn may_import(inputs: &Inputs, from: &WorkspaceScope, to: &WorkspaceScope) -> bool {
    if from.key == to.key {
        return true;
    }
    let spec = |key: &ObjectKey| inputs.workspaces().get(key).map(|w| &w.spec);
    let (Some(from_spec), Some(to_spec)) = (spec(&from.key), spec(&to.key)) else {
        return false;
    };
    from_spec.import_from.iter().any(|n| n == to.name())
        && to_spec
            .export_to
            .iter()
            .any(|n| n == "*" || n == from.name())
}

fn scope_of(inputs: &Inputs, key: &ObjectKey, ws: &Workspace, deps: &mut Deps) -> WorkspaceScope {
    deps.add(Dep::Clusters);
    let mut clusters: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in &ws.spec.workload_clusters {
        let names: Vec<&String> = if entry.name == "*" {
            inputs.clusters().keys().collect()
        } else {
            inputs
                .clusters()
                .keys()
                .filter(|c| **c == entry.name)
                .collect()
        };
        for name in names {
            let patterns = clusters.entry(name.clone()).or_default();
            for ns in &entry.namespaces {
                if !patterns.contains(ns) {
                    patterns.push(ns.clone());
                }
            }
        }
    }
    WorkspaceScope {
        key: key.clone(),
        clusters,
    }
}

/// The inventory of `cluster`, recording the dependency on its facts.
pub fn inventory<'a>(
    inputs: &'a Inputs,
    cluster: &str,
    deps: &mut Deps,
) -> Option<&'a ClusterInventory> {
    deps.add(Dep::ClusterFacts(cluster.to_owned()));
    inputs.inventories().get(cluster)
}

/// The namespace of `cluster` where outputs of a resource from management namespace `preferred` go:
/// `preferred` when the workspace includes it and it exists there, else the first existing namespace
/// the workspace includes. `None` when the cluster has no inventory or no such namespace.
pub fn config_namespace(
    inputs: &Inputs,
    scope: &WorkspaceScope,
    cluster: &str,
    preferred: &str,
    deps: &mut Deps,
) -> Option<String> {
    let inv = inventory(inputs, cluster, deps)?;
    let patterns = scope.clusters.get(cluster)?;
    if matches_any(patterns, preferred) && inv.namespaces.contains_key(preferred) {
        return Some(preferred.to_owned());
    }
    inv.namespaces
        .keys()
        .find(|ns| matches_any(patterns, ns))
        .cloned()
}

/// A Service picked by a selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selected<'a> {
    /// Cluster of the Service.
    pub cluster: &'a str,
    /// The Service.
    pub service: &'a ServiceInfo,
}

/// The Services of `scope` that `selector` picks (its `workspace` field is the caller's business),
/// ordered by cluster, namespace, name.
pub fn select_services<'a>(
    inputs: &'a Inputs,
    scope: &WorkspaceScope,
    selector: &ServiceSelector,
    deps: &mut Deps,
) -> Vec<Selected<'a>> {
    let mut picked = Vec::new();
    for (cluster, patterns) in &scope.clusters {
        if selector.cluster.as_ref().is_some_and(|c| c != cluster) {
            continue;
        }
        let Some((cluster_name, inv)) = inputs.inventories().get_key_value(cluster) else {
            deps.add(Dep::ClusterFacts(cluster.clone()));
            continue;
        };
        let labels_match = |svc: &ServiceInfo| {
            selector
                .labels
                .iter()
                .all(|(k, v)| svc.labels.get(k) == Some(v))
        };
        let mut take = |svc: &'a ServiceInfo| {
            if labels_match(svc) {
                picked.push(Selected {
                    cluster: cluster_name.as_str(),
                    service: svc,
                });
            }
        };
        match &selector.namespace {
            Some(ns) => {
                if !matches_any(patterns, ns) {
                    continue;
                }
                match &selector.name {
                    Some(name) => {
                        deps.add(Dep::Service(cluster.clone(), ns.clone(), name.clone()));
                        if let Some(svc) = inv.service(ns, name) {
                            take(svc);
                        }
                    }
                    None => {
                        deps.add(Dep::Namespace(cluster.clone(), ns.clone()));
                        if let Some(content) = inv.namespaces.get(ns) {
                            content.services.values().for_each(&mut take);
                        }
                    }
                }
            }
            None => {
                deps.add(Dep::AllNamespaces(cluster.clone()));
                for (ns, content) in &inv.namespaces {
                    if !matches_any(patterns, ns) {
                        continue;
                    }
                    match &selector.name {
                        Some(name) => {
                            if let Some(svc) = content.services.get(name) {
                                take(svc);
                            }
                        }
                        None => content.services.values().for_each(&mut take),
                    }
                }
            }
        }
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_exact_and_trailing_globs() {
        assert!(matches_pattern("*", "anything"));
        assert!(matches_pattern("team-a-*", "team-a-web"));
        assert!(!matches_pattern("team-a-*", "team-b-web"));
        assert!(matches_pattern("bookinfo", "bookinfo"));
        assert!(!matches_pattern("bookinfo", "bookinfo2"));
    }
}
