//! `KubernetesCluster` (admin.meshctl.dev): a registered workload cluster and its relay state.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A workload cluster registered with the management server (created by `meshctl cluster register`).
/// The resource's name is the cluster's name: the identity in its relay certificate.
// kube's repeated `printcolumn(...)` items look like duplicated attributes to clippy.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "admin.meshctl.dev",
    version = "v1alpha1",
    kind = "KubernetesCluster",
    namespaced,
    status = "KubernetesClusterStatus",
    shortname = "kc",
    category = "meshctl",
    doc = "A workload cluster registered with the meshctl management server; status shows its relay connection.",
    printcolumn(name = "Connected", type_ = "boolean", json_path = ".status.connected"),
    printcolumn(name = "Agent", type_ = "string", json_path = ".status.agentVersion"),
    printcolumn(name = "Last Seen", type_ = "date", json_path = ".status.lastSeen"),
    printcolumn(
        name = "Resources",
        type_ = "integer",
        json_path = ".status.resources",
        priority = "1"
    ),
    printcolumn(
        name = "Cert Expiry",
        type_ = "date",
        json_path = ".status.certExpiry",
        priority = "1"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesClusterSpec {
    /// DNS suffix of Services in this cluster.
    #[serde(default = "default_cluster_domain")]
    pub cluster_domain: String,
    /// Region of the cluster's nodes, used for locality failover when nodes carry no topology labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Zone of the cluster's nodes, used for locality failover when nodes carry no topology labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Istio network name of the cluster; clusters on different networks reach each other through their
    /// east-west gateways.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
}

fn default_cluster_domain() -> String {
    "cluster.local".to_owned()
}

/// Relay state of a cluster, written by the management server.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesClusterStatus {
    /// Whether the cluster's agent holds a relay stream to the management server now.
    #[serde(default)]
    pub connected: bool,
    /// Version of the connected (or last connected) agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_version: Option<String>,
    /// Last message received from the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Time>,
    /// Start of the current relay stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_since: Option<Time>,
    /// Version of the last snapshot received from the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_version: Option<i64>,
    /// Number of resources in the last snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<i64>,
    /// Expiry of the agent's relay client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_expiry: Option<Time>,
    /// Standard conditions (`Registered`, `Connected`, `SnapshotReceived`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_defaults_cluster_domain() {
        let spec: KubernetesClusterSpec = serde_json::from_str("{}").unwrap();
        assert_eq!(spec.cluster_domain, "cluster.local");
    }

    #[test]
    fn status_uses_camel_case_names() {
        let status = KubernetesClusterStatus {
            connected: true,
            agent_version: Some("0.1.0".into()),
            snapshot_version: Some(7),
            resources: Some(12),
            ..Default::default()
        };
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"connected": true, "agentVersion": "0.1.0", "snapshotVersion": 7, "resources": 12})
        );
    }
}
