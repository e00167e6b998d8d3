//! `VirtualDestination` (networking.meshctl.dev): one global host backed by services in several clusters.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{PortProtocol, ServiceSelector, TranslationStatus};

/// A global hostname served by the Services it selects in any cluster of the workspace, with locality
/// failover between them. Translated to an Istio ServiceEntry and DestinationRule in each cluster.
// kube's repeated `printcolumn(...)` items look like duplicated attributes to clippy.
#[allow(clippy::duplicated_attributes)]
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "networking.meshctl.dev",
    version = "v1alpha1",
    kind = "VirtualDestination",
    namespaced,
    status = "TranslationStatus",
    shortname = "vd",
    category = "meshctl",
    doc = "One global host backed by Services in several clusters, with locality failover.",
    printcolumn(name = "Hosts", type_ = "string", json_path = ".spec.hosts"),
    printcolumn(name = "State", type_ = "string", json_path = ".status.state"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct VirtualDestinationSpec {
    /// Hostnames clients use, e.g. `reviews.global`.
    #[schemars(length(min = 1))]
    pub hosts: Vec<String>,
    /// Ports the hosts are reachable on.
    #[schemars(length(min = 1))]
    pub ports: Vec<VirtualDestinationPort>,
    /// The Services that back the hosts; a Service matching any selector is a backend.
    #[schemars(length(min = 1))]
    pub services: Vec<ServiceSelector>,
    /// How traffic fails over between localities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<LocalityFailover>,
    /// Ejection of unhealthy backends (needed for failover to trigger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outlier_detection: Option<OutlierDetection>,
}

/// A port of a virtual destination.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualDestinationPort {
    /// Port clients connect to.
    #[schemars(range(min = 1, max = 65535))]
    pub number: i32,
    /// Application protocol.
    #[serde(default)]
    pub protocol: PortProtocol,
    /// Port on the backing Services, when it differs from `number`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub target_port: Option<i32>,
    /// Name of the port (defaults to `<protocol>-<number>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Locality failover: prefer backends in the client's own zone, then region, then the listed regions.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalityFailover {
    /// Turn locality-aware load balancing on.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Explicit region failover order, e.g. from `us-east1` to `us-west1`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<RegionFailover>,
    /// Labels whose equality between client and backend gives priority (Istio `failoverPriority`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failover_priority: Vec<String>,
}

fn default_true() -> bool {
    true
}

/// Traffic from clients in `from` goes to `to` when `from` has no healthy backend.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegionFailover {
    /// Region of the clients.
    #[schemars(length(min = 1))]
    pub from: String,
    /// Region to fail over to.
    #[schemars(length(min = 1))]
    pub to: String,
}

/// Passive health checking of backends.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutlierDetection {
    /// Consecutive 5xx (or connect failures) before a backend is ejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub consecutive_errors: Option<i32>,
    /// Interval between ejection sweeps, e.g. `10s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = super::common::DURATION_PATTERN))]
    pub interval: Option<String>,
    /// Minimum ejection duration, e.g. `30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = super::common::DURATION_PATTERN))]
    pub base_ejection_time: Option<String>,
    /// Upper bound on the share of backends ejected at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub max_ejection_percent: Option<i32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_realistic_virtual_destination() {
        let spec: VirtualDestinationSpec = serde_json::from_value(serde_json::json!({
            "hosts": ["reviews.global"],
            "ports": [{"number": 9080, "protocol": "HTTP"}],
            "services": [{"namespace": "bookinfo", "labels": {"app": "reviews"}}],
            "failover": {"regions": [{"from": "us-east1", "to": "us-west1"}]},
            "outlierDetection": {"consecutiveErrors": 5, "interval": "10s"}
        }))
        .unwrap();
        let failover = spec.failover.unwrap();
        assert!(
            failover.enabled,
            "failover defaults to enabled once configured"
        );
        assert_eq!(failover.regions[0].to, "us-west1");
        assert_eq!(spec.ports[0].protocol, PortProtocol::Http);
    }
}
