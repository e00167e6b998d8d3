//! `AccessPolicy` (security.meshctl.dev): which clients may reach which destinations. Translated to an
//! Istio AuthorizationPolicy (Mesh) or a CiliumNetworkPolicy (Network).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{ServiceSelector, TranslationStatus};
use super::route_table::DestinationKind;

/// Allows the listed clients to reach the selected destinations. Destinations that any AccessPolicy
/// selects deny every client no policy allows.
// kube's repeated `printcolumn(...)` items look like duplicated attributes to clippy.
#[allow(clippy::duplicated_attributes)]
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "security.meshctl.dev",
    version = "v1alpha1",
    kind = "AccessPolicy",
    namespaced,
    status = "TranslationStatus",
    shortname = "ap",
    category = "meshctl",
    doc = "Which clients may reach which destinations.",
    printcolumn(name = "State", type_ = "string", json_path = ".status.state"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct AccessPolicySpec {
    /// The destinations the policy protects.
    #[schemars(length(min = 1))]
    pub apply_to_destinations: Vec<DestinationSelector>,
    /// Allowed clients; a request is allowed when it comes from any listed source. Empty allows none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<ClientSelector>,
    /// Destination ports the allowed clients may use (all when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_ports: Vec<i32>,
    /// HTTP methods the allowed clients may use (all when empty; Mesh only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_methods: Vec<String>,
    /// HTTP path prefixes the allowed clients may use (all when empty; Mesh only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_paths: Vec<String>,
}

/// Selects destinations: virtual destinations or Services.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DestinationSelector {
    /// What the selector selects.
    #[serde(default)]
    pub kind: DestinationKind,
    /// Which objects of that kind.
    #[serde(default)]
    pub selector: ServiceSelector,
}

/// A set of clients. Fields are alternatives: a client matching any listed service account, namespace
/// or cluster is selected.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientSelector {
    /// Workload identities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_accounts: Vec<ServiceAccountRef>,
    /// Every workload in these namespaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Every workload in these clusters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<String>,
}

/// A Kubernetes ServiceAccount in a cluster of the platform.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountRef {
    /// Name of the ServiceAccount.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Namespace of the ServiceAccount.
    #[schemars(length(min = 1))]
    pub namespace: String,
    /// Cluster of the ServiceAccount; any cluster when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_realistic_access_policy() {
        let spec: AccessPolicySpec = serde_json::from_value(serde_json::json!({
            "applyToDestinations": [{"selector": {"labels": {"app": "reviews"}}}],
            "from": [{"serviceAccounts": [{"name": "productpage", "namespace": "bookinfo", "cluster": "cluster-1"}]},
                     {"namespaces": ["monitoring"]}],
            "allowedPorts": [9080],
            "allowedMethods": ["GET"]
        }))
        .unwrap();
        assert_eq!(spec.from.len(), 2);
        assert_eq!(
            spec.apply_to_destinations[0].kind,
            DestinationKind::VirtualDestination
        );
    }
}
