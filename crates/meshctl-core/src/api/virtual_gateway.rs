//! `VirtualGateway` (networking.meshctl.dev): gateway listeners, translated to an Istio Gateway.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{ObjectReference, PortProtocol, TranslationStatus};

/// Ingress or egress listeners on gateway workloads selected in the workspace's clusters.
// kube's repeated `printcolumn(...)` items look like duplicated attributes to clippy.
#[allow(clippy::duplicated_attributes)]
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema,
)]
#[kube(
    group = "networking.meshctl.dev",
    version = "v1alpha1",
    kind = "VirtualGateway",
    namespaced,
    status = "TranslationStatus",
    shortname = "vg",
    category = "meshctl",
    doc = "Ingress/egress gateway listeners on selected gateway workloads.",
    printcolumn(name = "State", type_ = "string", json_path = ".status.state"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct VirtualGatewaySpec {
    /// The gateway proxies (e.g. Istio ingress gateway Deployments) that get these listeners.
    #[schemars(length(min = 1))]
    pub workloads: Vec<GatewayWorkloadSelector>,
    /// Listeners opened on the selected workloads.
    #[schemars(length(min = 1))]
    pub listeners: Vec<Listener>,
}

/// Selects gateway workloads by labels, optionally limited to one cluster and namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GatewayWorkloadSelector {
    /// Only in this cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Only in this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Pod labels of the gateway workload, e.g. `istio: ingressgateway`.
    #[schemars(length(min = 1))]
    pub labels: BTreeMap<String, String>,
}

/// One listener.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Listener {
    /// Name of the listener (defaults to `<protocol>-<port>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Port the gateway listens on.
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Protocol of the listener.
    #[serde(default)]
    pub protocol: PortProtocol,
    /// Hostnames accepted on this listener (`*` for any).
    #[schemars(length(min = 1))]
    pub hosts: Vec<String>,
    /// TLS settings; required for protocol `TLS` unless mode is `PASSTHROUGH`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ListenerTls>,
}

/// TLS mode of a listener.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TlsMode {
    /// Terminate TLS with the referenced certificate.
    #[default]
    Simple,
    /// Terminate TLS and require a client certificate signed by the secret's `ca.crt`.
    Mutual,
    /// Forward the TLS stream untouched, routed by SNI.
    Passthrough,
}

/// TLS settings of a listener.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListenerTls {
    /// How TLS is handled.
    #[serde(default)]
    pub mode: TlsMode,
    /// Secret of type `kubernetes.io/tls` (in the gateway workload's cluster and namespace unless
    /// `namespace` is set) holding the serving certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<ObjectReference>,
    /// Minimum TLS version (`TLSV1_2`, `TLSV1_3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_protocol_version: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_realistic_virtual_gateway() {
        let spec: VirtualGatewaySpec = serde_json::from_value(serde_json::json!({
            "workloads": [{"cluster": "cluster-1", "labels": {"istio": "ingressgateway"}}],
            "listeners": [{"port": 443, "protocol": "TLS", "hosts": ["*.example.com"],
                           "tls": {"secretRef": {"name": "example-cert"}}}]
        }))
        .unwrap();
        let tls = spec.listeners[0].tls.as_ref().unwrap();
        assert_eq!(tls.mode, TlsMode::Simple);
        assert_eq!(tls.secret_ref.as_ref().unwrap().name, "example-cert");
    }
}
