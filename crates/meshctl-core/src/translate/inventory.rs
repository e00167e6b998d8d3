//! What one workload cluster contains, as far as translation cares, built from the resources its agent
//! puts in its snapshots (wire resources: kind + JSON body). Bodies are parsed with the k8s-openapi
//! types; a body that does not parse is reported as an [`InventoryIssue`], never a panic.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, Node, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;

/// Node label holding the region.
pub const REGION_LABEL: &str = "topology.kubernetes.io/region";
/// Node label holding the zone.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// Label Istio puts on the east-west gateway Service (`istio: eastwestgateway`).
const EAST_WEST_LABEL: (&str, &str) = ("istio", "eastwestgateway");
/// Label naming the Istio network of a gateway.
pub const NETWORK_LABEL: &str = "topology.istio.io/network";
/// Port of Istio's multi-cluster mTLS (AUTO_PASSTHROUGH) listener.
pub const EAST_WEST_PORT: i32 = 15443;

/// One resource of an agent's snapshot, borrowed from the wire form
/// `{api_version, kind, namespace, name, hash, body}`.
#[derive(Clone, Copy, Debug)]
pub struct SnapshotObject<'a> {
    /// `v1`, `apps/v1`, ...
    pub api_version: &'a str,
    /// `Service`, `Deployment`, ...
    pub kind: &'a str,
    /// Namespace (empty for cluster-scoped kinds).
    pub namespace: &'a str,
    /// Name.
    pub name: &'a str,
    /// The object as JSON.
    pub body: &'a [u8],
}

/// A snapshot resource that could not be used.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("cluster {cluster}: cannot read {kind} {namespace}/{name}: {reason}")]
pub struct InventoryIssue {
    /// Cluster that sent it.
    pub cluster: String,
    /// Kind.
    pub kind: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Why it was skipped.
    pub reason: String,
}

/// Region and zone of a cluster's nodes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Locality {
    /// Region, e.g. `us-east1`.
    pub region: String,
    /// Zone, e.g. `us-east1-b`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
}

impl Locality {
    /// Istio's locality string `region/zone`.
    pub fn istio(&self) -> String {
        match &self.zone {
            Some(zone) => format!("{}/{}", self.region, zone),
            None => self.region.clone(),
        }
    }
}

/// The target port of a Service port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum TargetPort {
    /// A container port number.
    Number(i32),
    /// A named container port.
    Name(String),
}

/// A port of a Service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ServicePort {
    /// Port name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Service port.
    pub port: i32,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// `appProtocol`, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
    /// Pod port the Service forwards to (the Service port when unset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_port: Option<TargetPort>,
}

impl ServicePort {
    /// The numeric pod port, when known.
    pub fn numeric_target(&self) -> Option<i32> {
        match &self.target_port {
            None => Some(self.port),
            Some(TargetPort::Number(n)) => Some(*n),
            Some(TargetPort::Name(_)) => None,
        }
    }
}

/// A Service of a cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServiceInfo {
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// `<name>.<namespace>.svc.<cluster domain>`.
    pub hostname: String,
    /// Labels of the Service object.
    pub labels: BTreeMap<String, String>,
    /// Pod selector (empty for Services without one).
    pub selector: BTreeMap<String, String>,
    /// Ports.
    pub ports: Vec<ServicePort>,
    /// First load-balancer ingress address (IP or hostname), when the Service has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_address: Option<String>,
}

/// Kind of a workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum WorkloadKind {
    /// apps/v1 Deployment.
    Deployment,
    /// apps/v1 StatefulSet.
    StatefulSet,
}

/// A Deployment or StatefulSet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WorkloadInfo {
    /// Kind.
    pub kind: WorkloadKind,
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Labels of the pod template (what selectors match).
    pub labels: BTreeMap<String, String>,
    /// Service account of the pods (`default` when unset).
    pub service_account: String,
}

/// Everything known about one namespace of a cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NamespaceInventory {
    /// Labels of the Namespace object (`None` until the Namespace itself was seen).
    pub labels: Option<BTreeMap<String, String>>,
    /// Services by name.
    pub services: BTreeMap<String, ServiceInfo>,
    /// Workloads by kind and name.
    pub workloads: BTreeMap<(WorkloadKind, String), WorkloadInfo>,
}

impl NamespaceInventory {
    fn is_empty(&self) -> bool {
        self.labels.is_none() && self.services.is_empty() && self.workloads.is_empty()
    }
}

/// An Istio east-west gateway through which other clusters reach this cluster's services.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EastWestGateway {
    /// Load-balancer address (IP or hostname).
    pub address: String,
    /// The mTLS passthrough port (15443 unless the Service names another `tls` port).
    pub port: i32,
    /// Istio network of the gateway, from its `topology.istio.io/network` label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
}

/// Cluster-wide facts that many translations depend on; compared to decide what to re-translate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterFacts {
    /// Names of the namespaces that exist.
    pub namespaces: Vec<String>,
    /// Istio is installed.
    pub istio_present: bool,
    /// Cilium is installed.
    pub cilium_present: bool,
    /// Locality of the nodes.
    pub locality: Option<Locality>,
    /// East-west gateway.
    pub east_west_gateway: Option<EastWestGateway>,
}

/// The inventory of one workload cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterInventory {
    /// Cluster name (the KubernetesCluster's name).
    pub cluster: String,
    /// DNS suffix of Services (`cluster.local`).
    pub cluster_domain: String,
    /// Namespaces (and what they contain) by name.
    pub namespaces: BTreeMap<String, NamespaceInventory>,
    istio_markers: BTreeSet<String>,
    cilium_markers: BTreeSet<String>,
    nodes: BTreeMap<String, Locality>,
    fixed_locality: Option<Locality>,
    east_west: BTreeMap<(String, String), EastWestGateway>,
}

fn group_of(api_version: &str) -> &str {
    api_version
        .rsplit_once('/')
        .map(|(group, _)| group)
        .unwrap_or("")
}

impl ClusterInventory {
    /// An empty inventory.
    pub fn new(cluster: impl Into<String>, cluster_domain: impl Into<String>) -> Self {
        Self {
            cluster: cluster.into(),
            cluster_domain: cluster_domain.into(),
            namespaces: BTreeMap::new(),
            istio_markers: BTreeSet::new(),
            cilium_markers: BTreeSet::new(),
            nodes: BTreeMap::new(),
            fixed_locality: None,
            east_west: BTreeMap::new(),
        }
    }

    /// Builds an inventory from a full snapshot; unusable objects are returned as issues.
    pub fn from_objects<'a>(
        cluster: impl Into<String>,
        cluster_domain: impl Into<String>,
        objects: impl IntoIterator<Item = SnapshotObject<'a>>,
    ) -> (Self, Vec<InventoryIssue>) {
        let mut inventory = Self::new(cluster, cluster_domain);
        let issues = objects
            .into_iter()
            .filter_map(|o| inventory.upsert(o).err())
            .collect();
        (inventory, issues)
    }

    /// Adds or replaces one snapshot object. Kinds translation does not use are ignored.
    pub fn upsert(&mut self, object: SnapshotObject<'_>) -> Result<(), InventoryIssue> {
        let issue = |reason: String| InventoryIssue {
            cluster: self.cluster.clone(),
            kind: object.kind.to_owned(),
            namespace: object.namespace.to_owned(),
            name: object.name.to_owned(),
            reason,
        };
        let marker = format!("{}/{}/{}", object.kind, object.namespace, object.name);
        match (group_of(object.api_version), object.kind) {
            ("", "Namespace") => {
                let ns: Namespace =
                    serde_json::from_slice(object.body).map_err(|e| issue(e.to_string()))?;
                let labels = ns.metadata.labels.unwrap_or_default();
                self.namespaces
                    .entry(object.name.to_owned())
                    .or_default()
                    .labels = Some(labels);
            }
            ("", "Service") => {
                let svc: Service =
                    serde_json::from_slice(object.body).map_err(|e| issue(e.to_string()))?;
                let info = self.service_info(object.namespace, object.name, svc);
                self.add_service(info);
            }
            ("", "Node") => {
                let node: Node =
                    serde_json::from_slice(object.body).map_err(|e| issue(e.to_string()))?;
                let labels = node.metadata.labels.unwrap_or_default();
                match labels.get(REGION_LABEL) {
                    Some(region) => {
                        self.nodes.insert(
                            object.name.to_owned(),
                            Locality {
                                region: region.clone(),
                                zone: labels.get(ZONE_LABEL).cloned(),
                            },
                        );
                    }
                    None => {
                        self.nodes.remove(object.name);
                    }
                }
            }
            ("apps", "Deployment") => {
                let d: Deployment =
                    serde_json::from_slice(object.body).map_err(|e| issue(e.to_string()))?;
                let template = Some(d.spec.template);
                self.add_workload(workload_info(
                    WorkloadKind::Deployment,
                    object.namespace,
                    object.name,
                    template,
                ));
                if object.name == "istiod" {
                    self.istio_markers.insert(marker);
                }
            }
            ("apps", "StatefulSet") => {
                let s: StatefulSet =
                    serde_json::from_slice(object.body).map_err(|e| issue(e.to_string()))?;
                let template = Some(s.spec.template);
                self.add_workload(workload_info(
                    WorkloadKind::StatefulSet,
                    object.namespace,
                    object.name,
                    template,
                ));
            }
            ("apps", "DaemonSet") if object.name == "cilium" => {
                self.cilium_markers.insert(marker);
            }
            ("apiextensions.k8s.io", "CustomResourceDefinition") => {
                if object.name.ends_with(".istio.io") {
                    self.istio_markers.insert(marker);
                } else if object.name == "ciliumnetworkpolicies.cilium.io" {
                    self.cilium_markers.insert(marker);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Removes one snapshot object (a no-op for objects it never held).
    pub fn delete(&mut self, api_version: &str, kind: &str, namespace: &str, name: &str) {
        let marker = format!("{kind}/{namespace}/{name}");
        self.istio_markers.remove(&marker);
        self.cilium_markers.remove(&marker);
        match (group_of(api_version), kind) {
            ("", "Namespace") => {
                if let Some(ns) = self.namespaces.get_mut(name) {
                    ns.labels = None;
                }
                self.prune_namespace(name);
            }
            ("", "Service") => {
                if let Some(ns) = self.namespaces.get_mut(namespace) {
                    ns.services.remove(name);
                }
                self.east_west
                    .remove(&(namespace.to_owned(), name.to_owned()));
                self.prune_namespace(namespace);
            }
            ("", "Node") => {
                self.nodes.remove(name);
            }
            ("apps", "Deployment") | ("apps", "StatefulSet") => {
                let kind = if kind == "Deployment" {
                    WorkloadKind::Deployment
                } else {
                    WorkloadKind::StatefulSet
                };
                if let Some(ns) = self.namespaces.get_mut(namespace) {
                    ns.workloads.remove(&(kind, name.to_owned()));
                }
                self.prune_namespace(namespace);
            }
            _ => {}
        }
    }

    fn prune_namespace(&mut self, namespace: &str) {
        if self.namespaces.get(namespace).is_some_and(|n| n.is_empty()) {
            self.namespaces.remove(namespace);
        }
    }

    fn service_info(&self, namespace: &str, name: &str, svc: Service) -> ServiceInfo {
        let spec = svc.spec.unwrap_or_default();
        let ports = spec
            .ports
            .unwrap_or_default()
            .into_iter()
            .map(|p| ServicePort {
                name: p.name,
                port: p.port,
                protocol: p.protocol.unwrap_or_else(|| "TCP".to_owned()),
                app_protocol: p.app_protocol,
                target_port: p.target_port.map(|t| match t {
                    IntOrString::Int(n) => TargetPort::Number(n),
                    IntOrString::String(s) => TargetPort::Name(s),
                }),
            })
            .collect();
        let external_address = svc
            .status
            .and_then(|s| s.load_balancer)
            .and_then(|lb| lb.ingress)
            .and_then(|ingress| ingress.into_iter().next())
            .and_then(|i| i.ip.or(i.hostname));
        ServiceInfo {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            hostname: self.hostname(namespace, name),
            labels: svc.metadata.labels.unwrap_or_default(),
            selector: spec.selector.unwrap_or_default(),
            ports,
            external_address,
        }
    }

    /// `<name>.<namespace>.svc.<cluster domain>`.
    pub fn hostname(&self, namespace: &str, name: &str) -> String {
        format!("{name}.{namespace}.svc.{}", self.cluster_domain)
    }

    /// Adds or replaces a Service (also used by tests and benchmarks to build inventories directly).
    pub fn add_service(&mut self, info: ServiceInfo) {
        let key = (info.namespace.clone(), info.name.clone());
        let is_gateway =
            info.labels.get(EAST_WEST_LABEL.0).map(String::as_str) == Some(EAST_WEST_LABEL.1);
        match (&info.external_address, is_gateway) {
            (Some(address), true) => {
                let port = info
                    .ports
                    .iter()
                    .find(|p| p.name.as_deref() == Some("tls"))
                    .map(|p| p.port)
                    .unwrap_or(EAST_WEST_PORT);
                self.east_west.insert(
                    key,
                    EastWestGateway {
                        address: address.clone(),
                        port,
                        network: info.labels.get(NETWORK_LABEL).cloned(),
                    },
                );
            }
            _ => {
                self.east_west.remove(&key);
            }
        }
        self.namespaces
            .entry(info.namespace.clone())
            .or_default()
            .services
            .insert(info.name.clone(), info);
    }

    /// Adds or replaces a workload.
    pub fn add_workload(&mut self, info: WorkloadInfo) {
        self.namespaces
            .entry(info.namespace.clone())
            .or_default()
            .workloads
            .insert((info.kind, info.name.clone()), info);
    }

    /// Records that a namespace exists (with its labels).
    pub fn add_namespace(&mut self, name: &str, labels: BTreeMap<String, String>) {
        self.namespaces.entry(name.to_owned()).or_default().labels = Some(labels);
    }

    /// Marks Istio (`true`) as present or not, independent of what the snapshot showed.
    pub fn set_istio_present(&mut self, present: bool) {
        if present {
            self.istio_markers.insert("set".to_owned());
        } else {
            self.istio_markers.clear();
        }
    }

    /// Marks Cilium as present or not, independent of what the snapshot showed.
    pub fn set_cilium_present(&mut self, present: bool) {
        if present {
            self.cilium_markers.insert("set".to_owned());
        } else {
            self.cilium_markers.clear();
        }
    }

    /// Overrides the locality found on the nodes.
    pub fn set_locality(&mut self, locality: Option<Locality>) {
        self.fixed_locality = locality;
    }

    /// Whether Istio is installed (an `*.istio.io` CRD or an `istiod` Deployment was seen).
    pub fn istio_present(&self) -> bool {
        !self.istio_markers.is_empty()
    }

    /// Whether Cilium is installed (its network-policy CRD or the `cilium` DaemonSet was seen).
    pub fn cilium_present(&self) -> bool {
        !self.cilium_markers.is_empty()
    }

    /// Locality: set explicitly, else the first node (by name) carrying a region label.
    pub fn locality(&self) -> Option<&Locality> {
        self.fixed_locality
            .as_ref()
            .or_else(|| self.nodes.values().next())
    }

    /// The east-west gateway (the first by namespace/name when there are several).
    pub fn east_west_gateway(&self) -> Option<&EastWestGateway> {
        self.east_west.values().next()
    }

    /// A Service by namespace and name.
    pub fn service(&self, namespace: &str, name: &str) -> Option<&ServiceInfo> {
        self.namespaces.get(namespace)?.services.get(name)
    }

    /// Every Service, by namespace then name.
    pub fn services(&self) -> impl Iterator<Item = &ServiceInfo> {
        self.namespaces.values().flat_map(|ns| ns.services.values())
    }

    /// Every workload, by namespace, kind, name.
    pub fn workloads(&self) -> impl Iterator<Item = &WorkloadInfo> {
        self.namespaces
            .values()
            .flat_map(|ns| ns.workloads.values())
    }

    /// The cluster-wide facts (see [`ClusterFacts`]).
    pub fn facts(&self) -> ClusterFacts {
        ClusterFacts {
            namespaces: self.namespaces.keys().cloned().collect(),
            istio_present: self.istio_present(),
            cilium_present: self.cilium_present(),
            locality: self.locality().cloned(),
            east_west_gateway: self.east_west_gateway().cloned(),
        }
    }
}

fn workload_info(
    kind: WorkloadKind,
    namespace: &str,
    name: &str,
    template: Option<k8s_openapi::api::core::v1::PodTemplateSpec>,
) -> WorkloadInfo {
    let labels = template
        .as_ref()
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let service_account = template
        .and_then(|t| t.spec)
        .and_then(|s| s.service_account_name)
        .unwrap_or_else(|| "default".to_owned());
    WorkloadInfo {
        kind,
        name: name.to_owned(),
        namespace: namespace.to_owned(),
        labels,
        service_account,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj<'a>(
        api: &'a str,
        kind: &'a str,
        ns: &'a str,
        name: &'a str,
        body: &'a [u8],
    ) -> SnapshotObject<'a> {
        SnapshotObject {
            api_version: api,
            kind,
            namespace: ns,
            name,
            body,
        }
    }

    #[test]
    fn builds_services_workloads_and_facts_from_snapshot_objects() {
        let svc = json!({"metadata": {"name": "reviews", "namespace": "bookinfo", "labels": {"app": "reviews"}},
            "spec": {"selector": {"app": "reviews"}, "ports": [{"name": "http", "port": 9080, "targetPort": 9080}]}})
        .to_string();
        let ew = json!({"metadata": {"name": "istio-eastwestgateway", "namespace": "istio-system",
                "labels": {"istio": "eastwestgateway", "topology.istio.io/network": "net-1"}},
            "spec": {"ports": [{"name": "tls", "port": 15443}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}})
        .to_string();
        let deploy = json!({"metadata": {"name": "reviews-v1", "namespace": "bookinfo"},
            "spec": {"selector": {"matchLabels": {"app": "reviews"}},
                     "template": {"metadata": {"labels": {"app": "reviews", "version": "v1"}},
                                  "spec": {"serviceAccountName": "bookinfo-reviews", "containers": []}}}})
        .to_string();
        let node = json!({"metadata": {"name": "n1", "labels": {REGION_LABEL: "us-east1", ZONE_LABEL: "us-east1-b"}}})
            .to_string();
        let ns = json!({"metadata": {"name": "bookinfo", "labels": {"team": "a"}}}).to_string();
        let (inv, issues) = ClusterInventory::from_objects(
            "cluster-1",
            "cluster.local",
            [
                obj("v1", "Service", "bookinfo", "reviews", svc.as_bytes()),
                obj(
                    "v1",
                    "Service",
                    "istio-system",
                    "istio-eastwestgateway",
                    ew.as_bytes(),
                ),
                obj(
                    "apps/v1",
                    "Deployment",
                    "bookinfo",
                    "reviews-v1",
                    deploy.as_bytes(),
                ),
                obj("v1", "Node", "", "n1", node.as_bytes()),
                obj("v1", "Namespace", "", "bookinfo", ns.as_bytes()),
                obj(
                    "apiextensions.k8s.io/v1",
                    "CustomResourceDefinition",
                    "",
                    "serviceentries.networking.istio.io",
                    b"{}",
                ),
                obj("v1", "ConfigMap", "bookinfo", "ignored", b"not json"),
            ],
        );
        assert!(issues.is_empty(), "{issues:?}");
        let reviews = inv.service("bookinfo", "reviews").unwrap();
        assert_eq!(reviews.hostname, "reviews.bookinfo.svc.cluster.local");
        assert_eq!(reviews.ports[0].numeric_target(), Some(9080));
        let w = inv.workloads().next().unwrap();
        assert_eq!(w.service_account, "bookinfo-reviews");
        assert_eq!(w.labels["version"], "v1");
        assert!(inv.istio_present());
        assert!(!inv.cilium_present());
        assert_eq!(inv.locality().unwrap().istio(), "us-east1/us-east1-b");
        let gw = inv.east_west_gateway().unwrap();
        assert_eq!(
            (gw.address.as_str(), gw.port, gw.network.as_deref()),
            ("203.0.113.7", 15443, Some("net-1"))
        );
        assert_eq!(
            inv.namespaces["bookinfo"].labels.as_ref().unwrap()["team"],
            "a"
        );
    }

    #[test]
    fn bad_bodies_are_reported_not_panicked_on() {
        let (inv, issues) = ClusterInventory::from_objects(
            "c1",
            "cluster.local",
            [
                obj(
                    "v1",
                    "Service",
                    "a",
                    "broken",
                    b"{\"spec\": {\"ports\": 7}}",
                ),
                obj("apps/v1", "Deployment", "a", "x", b"\xff"),
            ],
        );
        assert_eq!(issues.len(), 2);
        assert_eq!(issues[0].name, "broken");
        assert!(
            issues[0]
                .to_string()
                .contains("cluster c1: cannot read Service a/broken")
        );
        assert!(inv.namespaces.is_empty());
    }

    #[test]
    fn deletes_remove_objects_and_empty_namespaces() {
        let svc = json!({"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}).to_string();
        let crd = obj(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "",
            "ciliumnetworkpolicies.cilium.io",
            b"{}",
        );
        let (mut inv, _) = ClusterInventory::from_objects(
            "c1",
            "cluster.local",
            [obj("v1", "Service", "a", "s", svc.as_bytes()), crd],
        );
        assert!(inv.cilium_present());
        assert!(inv.service("a", "s").is_some());
        inv.delete("v1", "Service", "a", "s");
        inv.delete(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "",
            "ciliumnetworkpolicies.cilium.io",
        );
        assert!(inv.namespaces.is_empty());
        assert!(!inv.cilium_present());
    }
}
