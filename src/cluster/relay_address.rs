//! The relay address agents dial: `--relay-address`, else discovered from the `mesh-mgmt-server`
//! Service (LoadBalancer ingress, then a NodePort on a node address, or, for the management cluster
//! itself, the in-cluster Service name). An address a workload cluster cannot reach (loopback,
//! link-local, unspecified) is flagged loudly with the fix.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Node, Service};
use kube::api::{Api, ListParams};
use serde::Serialize;

use super::api::Cluster;
use super::{ClusterError, MGMT_SERVER};

/// Default relay port (DESIGN.md §2).
pub const DEFAULT_RELAY_PORT: u16 = 9900;

/// Where the address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AddressSource {
    /// `--relay-address`.
    Flag,
    /// The Service's LoadBalancer ingress.
    LoadBalancer,
    /// A node address and the Service's NodePort.
    NodePort,
    /// The Service's in-cluster DNS name (the management cluster registering itself).
    InCluster,
}

/// The relay address and what to tell the user about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelayAddress {
    /// `HOST:PORT`.
    pub address: String,
    /// Where it came from.
    pub source: AddressSource,
    /// Warnings (printed, and kept in the summary).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Splits `HOST:PORT` (IPv6 in brackets); `None` when it is not one.
pub fn split_host_port(address: &str) -> Option<(&str, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let port: u16 = port.parse().ok().filter(|p| *p > 0)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty()
        || host.contains(char::is_whitespace)
        || (host.contains(':') && host.parse::<IpAddr>().is_err())
    {
        return None;
    }
    Some((host, port))
}

/// Why agents in another cluster cannot dial `host`, if they cannot.
pub fn unreachable_reason(host: &str) -> Option<&'static str> {
    if host.eq_ignore_ascii_case("localhost") || host.ends_with(".localhost") {
        return Some("a loopback name: inside the workload cluster it is the agent's own pod");
    }
    let ip: IpAddr = host.parse().ok()?;
    if ip.is_loopback() {
        return Some("a loopback address: inside the workload cluster it is the agent's own pod");
    }
    if ip.is_unspecified() {
        return Some("the unspecified address (0.0.0.0 or ::), which nothing can dial");
    }
    let link_local = match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    };
    link_local.then_some("a link-local address, only reachable on its own network segment")
}

/// The loud warning for an address agents cannot reach (none when it looks reachable).
pub fn reachability_warning(address: &str) -> Option<String> {
    let (host, _) = split_host_port(address)?;
    let reason = unreachable_reason(host)?;
    Some(format!(
        "relay address {address} is {reason}: agents in a workload cluster will NOT reach the management server through it. Unless the agent runs on this very host (a local test), fix it: give the management server a reachable address (--set mgmtServer.service.type=LoadBalancer on install) and re-run register with --relay-address HOST:PORT"
    ))
}

/// Checks `--relay-address`.
pub fn from_flag(address: &str) -> Result<RelayAddress, ClusterError> {
    if split_host_port(address).is_none() {
        return Err(ClusterError::InvalidRelayAddress(address.to_owned()));
    }
    Ok(RelayAddress {
        address: address.to_owned(),
        source: AddressSource::Flag,
        warnings: reachability_warning(address).into_iter().collect(),
    })
}

/// Discovers the address from the `mesh-mgmt-server` Service in `namespace` of the management
/// cluster. `same_cluster`: the agent runs in the management cluster, so the in-cluster name works.
pub async fn discover(
    mgmt: &Cluster,
    namespace: &str,
    same_cluster: bool,
) -> Result<RelayAddress, ClusterError> {
    let api: Api<Service> = Api::namespaced(mgmt.client.clone(), namespace);
    let fail = |port: u16, reason: String| ClusterError::NoRelayAddress {
        namespace: namespace.to_owned(),
        port,
        reason,
    };
    let service = mgmt
        .call_opt(
            format!("get Service {namespace}/{MGMT_SERVER}"),
            api.get(MGMT_SERVER),
        )
        .await?
        .ok_or_else(|| {
            fail(
                DEFAULT_RELAY_PORT,
                format!("Service {namespace}/{MGMT_SERVER} does not exist"),
            )
        })?;
    let spec = service.spec.clone().unwrap_or_default();
    let ports = spec.ports.clone().unwrap_or_default();
    let relay = ports
        .iter()
        .find(|p| p.name.as_deref() == Some("grpc-relay"))
        .or_else(|| ports.first());
    let port = relay
        .and_then(|p| u16::try_from(p.port).ok())
        .unwrap_or(DEFAULT_RELAY_PORT);
    let ingress = service
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .and_then(|list| {
            list.iter()
                .find_map(|i| i.ip.clone().or_else(|| i.hostname.clone()))
        });
    if let Some(host) = ingress {
        let address = join(&host, port);
        return Ok(RelayAddress {
            warnings: reachability_warning(&address).into_iter().collect(),
            address,
            source: AddressSource::LoadBalancer,
        });
    }
    if same_cluster {
        return Ok(RelayAddress {
            address: format!("{MGMT_SERVER}.{namespace}.svc:{port}"),
            source: AddressSource::InCluster,
            warnings: Vec::new(),
        });
    }
    let kind = spec.type_.clone().unwrap_or_else(|| "ClusterIP".to_owned());
    let node_port = relay
        .and_then(|p| p.node_port)
        .and_then(|p| u16::try_from(p).ok());
    let Some(node_port) = node_port else {
        return Err(fail(
            port,
            format!(
                "Service {namespace}/{MGMT_SERVER} is of type {kind} with no LoadBalancer ingress address and no NodePort"
            ),
        ));
    };
    let nodes: Api<Node> = Api::all(mgmt.client.clone());
    let nodes = mgmt
        .call("list nodes", nodes.list(&ListParams::default().limit(50)))
        .await?;
    let host = node_address(&nodes.items).ok_or_else(|| {
        fail(
            port,
            format!("Service {namespace}/{MGMT_SERVER} has no LoadBalancer ingress address, and no node has an address for its NodePort {node_port}"),
        )
    })?;
    let address = join(&host, node_port);
    let mut warnings = vec![format!(
        "Service {namespace}/{MGMT_SERVER} ({kind}) has no LoadBalancer ingress address: using NodePort {node_port} on node address {host}. This breaks when that node goes away; prefer a LoadBalancer or pass --relay-address"
    )];
    warnings.extend(reachability_warning(&address));
    Ok(RelayAddress {
        address,
        source: AddressSource::NodePort,
        warnings,
    })
}

/// The first node's ExternalIP, else its InternalIP.
fn node_address(nodes: &[Node]) -> Option<String> {
    let addresses = |kind: &str| {
        nodes.iter().find_map(|n| {
            n.status
                .as_ref()?
                .addresses
                .as_ref()?
                .iter()
                .find(|a| a.type_ == kind)
                .map(|a| a.address.clone())
        })
    };
    addresses("ExternalIP").or_else(|| addresses("InternalIP"))
}

fn join(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::cluster::Side;
    use crate::cluster::testing::*;

    #[test]
    fn host_port_parsing() {
        assert_eq!(
            split_host_port("relay.example.com:9900"),
            Some(("relay.example.com", 9900))
        );
        assert_eq!(split_host_port("[fe80::1]:9900"), Some(("fe80::1", 9900)));
        for bad in ["relay", ":9900", "relay:0", "relay:x", "a b:1", "fe80::1"] {
            assert_eq!(split_host_port(bad), None, "{bad}");
        }
    }

    #[test]
    fn unreachable_addresses_are_named() {
        for (host, word) in [
            ("127.0.0.1", "loopback"),
            ("localhost", "loopback"),
            ("::1", "loopback"),
            ("0.0.0.0", "unspecified"),
            ("169.254.1.1", "link-local"),
            ("fe80::1", "link-local"),
        ] {
            assert!(unreachable_reason(host).unwrap().contains(word), "{host}");
        }
        for ok in ["10.0.0.1", "203.0.113.7", "relay.example.com"] {
            assert_eq!(unreachable_reason(ok), None, "{ok}");
        }
        let warning = from_flag("127.0.0.1:9900").unwrap().warnings.remove(0);
        assert!(warning.contains("--relay-address HOST:PORT"), "{warning}");
        assert!(matches!(
            from_flag("nope"),
            Err(ClusterError::InvalidRelayAddress(_))
        ));
        assert!(
            from_flag("relay.example.com:9900")
                .unwrap()
                .warnings
                .is_empty()
        );
    }

    fn service(kind: &str, ingress: Value, node_port: Option<i32>) -> Value {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "mesh-mgmt-server", "namespace": "mesh-system"},
            "spec": {"type": kind, "ports": [{"name": "grpc-relay", "port": 9900, "nodePort": node_port}]},
            "status": {"loadBalancer": {"ingress": ingress}}})
    }
    use serde_json::Value;

    #[tokio::test]
    async fn load_balancer_ingress_wins() {
        let api = MockApi::start(|_, path, _| {
            assert_eq!(
                path,
                "/api/v1/namespaces/mesh-system/services/mesh-mgmt-server"
            );
            (
                200,
                service(
                    "LoadBalancer",
                    json!([{"hostname": "lb.example.com"}]),
                    Some(30900),
                ),
            )
        });
        let got = discover(&cluster(&api, Side::Mgmt), "mesh-system", false)
            .await
            .unwrap();
        assert_eq!(got.address, "lb.example.com:9900");
        assert_eq!(got.source, AddressSource::LoadBalancer);
        assert!(got.warnings.is_empty());
    }

    #[tokio::test]
    async fn node_port_on_a_node_address_with_a_warning() {
        let api = MockApi::start(|_, path, _| {
            if path.starts_with("/api/v1/nodes") {
                (
                    200,
                    list(
                        "NodeList",
                        vec![json!({"metadata": {"name": "n1"},
                    "status": {"addresses": [{"type": "InternalIP", "address": "10.1.2.3"}, {"type": "Hostname", "address": "n1"}]}})],
                    ),
                )
            } else {
                (200, service("LoadBalancer", json!(null), Some(30900)))
            }
        });
        let got = discover(&cluster(&api, Side::Mgmt), "mesh-system", false)
            .await
            .unwrap();
        assert_eq!(got.address, "10.1.2.3:30900");
        assert_eq!(got.source, AddressSource::NodePort);
        assert!(
            got.warnings[0].contains("NodePort 30900"),
            "{:?}",
            got.warnings
        );
        assert_eq!(api.requests()[1], "GET /api/v1/nodes?limit=50");
    }

    #[tokio::test]
    async fn no_nodes_and_no_ingress_asks_for_the_flag() {
        let api = MockApi::start(|_, path, _| {
            if path.starts_with("/api/v1/nodes") {
                (200, list("NodeList", vec![]))
            } else {
                (200, service("NodePort", json!(null), Some(30900)))
            }
        });
        let err = discover(&cluster(&api, Side::Mgmt), "mesh-system", false)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("Pass --relay-address HOST:PORT"),
            "{err}"
        );
        let api = MockApi::start(|_, _, _| (200, service("ClusterIP", json!(null), None)));
        let err = discover(&cluster(&api, Side::Mgmt), "mesh-system", false)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("type ClusterIP"), "{err}");
        let got = discover(&cluster(&api, Side::Mgmt), "mesh-system", true)
            .await
            .unwrap();
        assert_eq!(got.address, "mesh-mgmt-server.mesh-system.svc:9900");
    }
}
