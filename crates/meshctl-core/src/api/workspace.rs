//! `Workspace` (admin.meshctl.dev): a set of namespaces across clusters that share configuration.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::TranslationStatus;

/// A set of namespaces in one or more clusters. Resources created in a workspace's namespaces on the
/// management cluster apply to the namespaces the workspace selects.
// kube's repeated `printcolumn(...)` items look like duplicated attributes to clippy.
#[allow(clippy::duplicated_attributes)]
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "admin.meshctl.dev",
    version = "v1alpha1",
    kind = "Workspace",
    namespaced,
    status = "TranslationStatus",
    shortname = "ws",
    category = "meshctl",
    doc = "A set of namespaces across workload clusters that share meshctl configuration.",
    printcolumn(name = "State", type_ = "string", json_path = ".status.state"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceSpec {
    /// The clusters and namespaces that belong to this workspace.
    #[schemars(length(min = 1))]
    pub workload_clusters: Vec<WorkspaceCluster>,
    /// Other workspaces whose exported destinations this workspace may route to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub import_from: Vec<String>,
    /// Workspaces allowed to import this workspace's destinations (`*` for all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub export_to: Vec<String>,
}

/// Namespaces of one cluster (or of every cluster, with name `*`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceCluster {
    /// KubernetesCluster name, or `*` for every registered cluster.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Namespace names; `*` and trailing `*` globs are allowed (`team-a-*`).
    #[schemars(length(min = 1))]
    pub namespaces: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_realistic_workspace() {
        let spec: WorkspaceSpec = serde_json::from_value(serde_json::json!({
            "workloadClusters": [{"name": "*", "namespaces": ["team-a-*"]}],
            "exportTo": ["*"]
        }))
        .unwrap();
        assert_eq!(spec.workload_clusters[0].namespaces, ["team-a-*"]);
        assert!(spec.import_from.is_empty());
    }
}
