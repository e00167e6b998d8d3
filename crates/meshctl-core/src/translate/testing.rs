//! Fixtures for the translation tests: resources from JSON specs and small inventories.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::engine::{InputChange, Translator};
use super::inputs::{EntitlementView, PlatformResource};
use super::inventory::{
    ClusterInventory, Locality, ServiceInfo, ServicePort, WorkloadInfo, WorkloadKind,
};
use super::output::Outputs;

/// A platform resource of `kind` from a spec, created at `created` seconds after the epoch.
pub fn resource_at(
    kind: &str,
    namespace: &str,
    name: &str,
    created: i64,
    spec: Value,
) -> PlatformResource {
    let ts = jiff::Timestamp::from_second(1_700_000_000 + created).unwrap();
    let body = json!({
        "metadata": {"name": name, "namespace": namespace, "generation": 1, "creationTimestamp": ts.to_string()},
        "spec": spec,
    });
    PlatformResource::from_json(kind, body.to_string().as_bytes()).unwrap()
}

/// A platform resource created at the fixture's epoch.
pub fn resource(kind: &str, namespace: &str, name: &str, spec: Value) -> PlatformResource {
    resource_at(kind, namespace, name, 0, spec)
}

/// A registered cluster.
pub fn cluster(name: &str) -> PlatformResource {
    resource("KubernetesCluster", "mesh-system", name, json!({}))
}

/// Workspace `bookinfo` in namespace `bookinfo-config` spanning namespace `bookinfo` of every cluster.
pub fn bookinfo_workspace() -> PlatformResource {
    resource(
        "Workspace",
        "bookinfo-config",
        "bookinfo",
        json!({"workloadClusters": [{"name": "*", "namespaces": ["bookinfo", "istio-ingress"]}]}),
    )
}

/// A Service with one port.
pub fn service(
    cluster_domain: &str,
    namespace: &str,
    name: &str,
    port: i32,
    labels: &[(&str, &str)],
) -> ServiceInfo {
    let labels: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    ServiceInfo {
        name: name.to_owned(),
        namespace: namespace.to_owned(),
        hostname: format!("{name}.{namespace}.svc.{cluster_domain}"),
        selector: labels.clone(),
        labels,
        ports: vec![ServicePort {
            name: Some("http".to_owned()),
            port,
            protocol: "TCP".to_owned(),
            app_protocol: None,
            target_port: Some(super::inventory::TargetPort::Number(port + 1000)),
        }],
        external_address: None,
    }
}

/// An inventory with Istio, a locality, namespace `bookinfo` with `reviews` (and `ratings` in
/// cluster-1), and an ingress gateway Deployment.
pub fn bookinfo_inventory(cluster: &str, region: &str, zone: &str) -> ClusterInventory {
    let mut inv = ClusterInventory::new(cluster, "cluster.local");
    inv.set_istio_present(true);
    inv.set_locality(Some(Locality {
        region: region.to_owned(),
        zone: Some(zone.to_owned()),
    }));
    inv.add_namespace("bookinfo", BTreeMap::new());
    inv.add_service(service(
        "cluster.local",
        "bookinfo",
        "reviews",
        9080,
        &[("app", "reviews")],
    ));
    if cluster == "cluster-1" {
        inv.add_service(service(
            "cluster.local",
            "bookinfo",
            "ratings",
            9080,
            &[("app", "ratings")],
        ));
    }
    let mut gw = service(
        "cluster.local",
        "istio-system",
        "istio-eastwestgateway",
        15443,
        &[
            ("istio", "eastwestgateway"),
            ("topology.istio.io/network", &format!("net-{cluster}")),
        ],
    );
    gw.ports[0].name = Some("tls".to_owned());
    gw.external_address = Some(format!(
        "203.0.113.{}",
        cluster.len() + cluster.chars().last().map_or(0, |c| c as usize % 10)
    ));
    inv.add_service(gw);
    inv.add_workload(WorkloadInfo {
        kind: WorkloadKind::Deployment,
        name: "istio-ingressgateway".to_owned(),
        namespace: "istio-ingress".to_owned(),
        labels: BTreeMap::from([("istio".to_owned(), "ingressgateway".to_owned())]),
        service_account: "istio-ingressgateway".to_owned(),
    });
    inv
}

/// A translator with every product licensed, two clusters and the bookinfo workspace.
pub fn two_cluster_translator() -> Translator {
    let mut t = Translator::with_entitlements(EntitlementView::all());
    t.apply([
        InputChange::Upsert(cluster("cluster-1")),
        InputChange::Upsert(cluster("cluster-2")),
        InputChange::Upsert(bookinfo_workspace()),
        InputChange::Inventory(bookinfo_inventory("cluster-1", "us-east1", "us-east1-b")),
        InputChange::Inventory(bookinfo_inventory("cluster-2", "us-west1", "us-west1-a")),
    ]);
    t
}

/// Outputs as YAML: one section per cluster, objects in key order.
pub fn yaml(outputs: &Outputs) -> String {
    let mut text = String::new();
    for (cluster, objects) in outputs {
        text.push_str(&format!("# cluster {cluster}\n"));
        text.push_str(&super::output::to_yaml(objects).unwrap());
    }
    text
}
