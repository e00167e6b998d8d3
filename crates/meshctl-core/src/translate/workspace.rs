//! Workspace: produces no objects of its own (it scopes the others); its status reports clusters that
//! are not registered and workspaces it imports that do not exist or do not export to it.

use crate::api::Workspace;

use super::deps::{Dep, Deps};
use super::status::{Findings, Translation};

/// Checks one Workspace.
pub fn translate(inputs: &super::inputs::Inputs, ws: &Workspace, deps: &mut Deps) -> Translation {
    deps.add(Dep::Clusters);
    deps.add(Dep::Workspaces);
    let mut findings = Findings::default();
    let name = ws.metadata.name.clone().unwrap_or_default();
    if ws.spec.workload_clusters.is_empty() {
        findings.error("spec.workloadClusters", "at least one cluster is required");
    }
    for (i, c) in ws.spec.workload_clusters.iter().enumerate() {
        if c.namespaces.is_empty() {
            findings.error(
                format!("spec.workloadClusters[{i}].namespaces"),
                "at least one namespace is required",
            );
        }
        for (j, ns) in c.namespaces.iter().enumerate() {
            let body = ns.strip_suffix('*').unwrap_or(ns);
            if body.contains('*') {
                findings.error(
                    format!("spec.workloadClusters[{i}].namespaces[{j}]"),
                    format!("{ns:?}: only a trailing * is allowed"),
                );
            }
        }
        if c.name != "*" && !inputs.clusters().contains_key(&c.name) {
            findings.warn(
                format!("spec.workloadClusters[{i}].name"),
                format!("cluster {} is not registered (yet)", c.name),
            );
        }
    }
    for (i, other) in ws.spec.import_from.iter().enumerate() {
        let found = inputs.workspaces().iter().find(|((_, n), _)| n == other);
        match found {
            None => findings.warn(
                format!("spec.importFrom[{i}]"),
                format!("unknown workspace {other}"),
            ),
            Some((_, o)) if !o.spec.export_to.iter().any(|e| e == "*" || *e == name) => findings
                .warn(
                    format!("spec.importFrom[{i}]"),
                    format!("workspace {other} does not export to {name}"),
                ),
            Some(_) => {}
        }
    }
    Translation::without_outputs(findings.status(ws.metadata.generation))
}
