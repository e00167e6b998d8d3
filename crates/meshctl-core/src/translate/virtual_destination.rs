//! VirtualDestination → per cluster of its workspace (where Istio runs): an Istio `ServiceEntry` for the
//! global hosts with endpoints in every backing cluster, and a `DestinationRule` per host carrying
//! locality failover and outlier detection.
//!
//! Endpoints: a backing Service in the same cluster is reached by its cluster-local hostname; the
//! backends of another cluster are reached through that cluster's east-west gateway (one endpoint per
//! remote cluster, Istio's AUTO_PASSTHROUGH port), labelled with the remote cluster and locality.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::api::VirtualDestination;
use crate::api::common::PortProtocol;

use super::deps::{Dep, Deps};
use super::inputs::{InputKind, InputRef, Inputs, normalize_host};
use super::inventory::{Locality, REGION_LABEL, ZONE_LABEL};
use super::naming::{object_name, owner_name, short_hash};
use super::output::{ISTIO_NETWORKING, Outputs, document};
use super::scope::{self, Selected, WorkspaceScope};
use super::status::{Findings, Translation, rank};

/// Label Istio uses for the cluster of an endpoint.
pub const CLUSTER_LABEL: &str = "topology.istio.io/cluster";

/// Istio's spelling of a protocol.
pub fn istio_protocol(protocol: PortProtocol) -> &'static str {
    match protocol {
        PortProtocol::Http => "HTTP",
        PortProtocol::Http2 => "HTTP2",
        PortProtocol::Grpc => "GRPC",
        PortProtocol::Tls => "TLS",
        PortProtocol::Tcp => "TCP",
    }
}

/// Whether `host` is a DNS name (no wildcard), 253 characters at most.
pub fn is_dns_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

struct Port {
    name: String,
    number: i32,
    target: i32,
    protocol: &'static str,
}

/// Default outlier detection when failover is on and the spec sets none (failover needs ejection).
fn default_outlier() -> Value {
    json!({"consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s"})
}

/// Locality of a cluster: from its nodes, else from its KubernetesCluster spec.
pub fn cluster_locality(inputs: &Inputs, cluster: &str, deps: &mut Deps) -> Option<Locality> {
    if let Some(loc) = scope::inventory(inputs, cluster, deps).and_then(|i| i.locality()) {
        return Some(loc.clone());
    }
    deps.add(Dep::Clusters);
    let spec = &inputs.clusters().get(cluster)?.spec;
    Some(Locality {
        region: spec.region.clone()?,
        zone: spec.zone.clone(),
    })
}

/// The Services backing `vd` (deduplicated, ordered by cluster, namespace, name), with the errors of
/// its `spec.services` selectors recorded in `findings`.
pub fn backends<'a>(
    inputs: &'a Inputs,
    vd: &VirtualDestination,
    ws: &WorkspaceScope,
    deps: &mut Deps,
    findings: &mut Findings,
) -> Vec<Selected<'a>> {
    let mut all: Vec<Selected<'a>> = Vec::new();
    for (i, selector) in vd.spec.services.iter().enumerate() {
        let scope = match &selector.workspace {
            None => ws.clone(),
            Some(name) => match scope::workspace_named(inputs, name, deps) {
                Some(other) if scope::may_import(inputs, ws, &other) => other,
                Some(_) => {
                    findings.error(
                        format!("spec.services[{i}].workspace"),
                        format!(
                            "workspace {name} does not export to {} (or {} does not import it)",
                            ws.name(),
                            ws.name()
                        ),
                    );
                    continue;
                }
                None => {
                    findings.error(
                        format!("spec.services[{i}].workspace"),
                        format!("unknown workspace {name}"),
                    );
                    continue;
                }
            },
        };
        all.extend(scope::select_services(inputs, &scope, selector, deps));
    }
    let mut seen = BTreeSet::new();
    all.sort_by(|a, b| {
        (a.cluster, &a.service.namespace, &a.service.name).cmp(&(
            b.cluster,
            &b.service.namespace,
            &b.service.name,
        ))
    });
    all.retain(|s| seen.insert((s.cluster, &s.service.namespace, &s.service.name)));
    all
}

/// Translates one VirtualDestination.
pub fn translate(inputs: &Inputs, vd: &VirtualDestination, deps: &mut Deps) -> Translation {
    let owner = InputRef::new(
        InputKind::VirtualDestination,
        vd.metadata.namespace.clone().unwrap_or_default(),
        vd.metadata.name.clone().unwrap_or_default(),
    );
    let generation = vd.metadata.generation;
    let mut findings = Findings::default();

    let hosts: Vec<String> = vd.spec.hosts.iter().map(|h| normalize_host(h)).collect();
    let mut seen_hosts = BTreeSet::new();
    for (i, host) in hosts.iter().enumerate() {
        if !is_dns_name(host) {
            findings.error(
                format!("spec.hosts[{i}]"),
                format!("{host:?} is not a valid hostname (wildcards are not allowed)"),
            );
        }
        if !seen_hosts.insert(host) {
            findings.error(
                format!("spec.hosts[{i}]"),
                format!("host {host} is listed twice"),
            );
        }
        deps.add(Dep::VirtualDestinationHost(host.clone()));
        let winner = inputs
            .virtual_destinations_claiming(host)
            .filter_map(|k| inputs.virtual_destinations().get(k))
            .min_by_key(|other| rank(&other.metadata));
        if let Some(winner) = winner
            && rank(&winner.metadata) != rank(&vd.metadata)
        {
            findings.error(
                format!("spec.hosts[{i}]"),
                format!(
                    "host {host} is already claimed by VirtualDestination {}/{}",
                    winner.metadata.namespace.as_deref().unwrap_or_default(),
                    winner.metadata.name.as_deref().unwrap_or_default()
                ),
            );
        }
    }
    if hosts.is_empty() {
        findings.error("spec.hosts", "at least one host is required");
    }

    let mut ports = Vec::new();
    let mut numbers = BTreeSet::new();
    let mut names = BTreeSet::new();
    for (i, p) in vd.spec.ports.iter().enumerate() {
        let protocol = istio_protocol(p.protocol);
        let name = p
            .name
            .clone()
            .unwrap_or_else(|| format!("{}-{}", protocol.to_ascii_lowercase(), p.number));
        if !(1..=65535).contains(&p.number) {
            findings.error(
                format!("spec.ports[{i}].number"),
                format!("{} is not a port", p.number),
            );
        }
        if !numbers.insert(p.number) {
            findings.error(
                format!("spec.ports[{i}].number"),
                format!("port conflict: port {} is listed twice", p.number),
            );
        }
        if !names.insert(name.clone()) {
            findings.error(
                format!("spec.ports[{i}].name"),
                format!("port conflict: port name {name} is used twice"),
            );
        }
        ports.push(Port {
            name,
            number: p.number,
            target: p.target_port.unwrap_or(p.number),
            protocol,
        });
    }
    if ports.is_empty() {
        findings.error("spec.ports", "at least one port is required");
    }

    let Some(ws) = scope::workspace_of(inputs, &owner.namespace, deps) else {
        findings.error(
            "metadata.namespace",
            format!("no Workspace selects namespace {}", owner.namespace),
        );
        return Translation::without_outputs(findings.status(generation));
    };

    let selected = backends(inputs, vd, &ws, deps, &mut findings);
    if findings.has_errors() {
        return Translation::without_outputs(findings.status(generation));
    }
    // Only Services that expose every target port back the destination.
    let mut usable: Vec<&Selected<'_>> = Vec::new();
    for s in &selected {
        let missing: Vec<i32> = ports
            .iter()
            .filter(|p| !s.service.ports.iter().any(|sp| sp.port == p.target))
            .map(|p| p.target)
            .collect();
        if missing.is_empty() {
            usable.push(s);
        } else {
            findings.warn(
                "spec.ports",
                format!(
                    "Service {}/{} in cluster {} has no port {:?}; not used as a backend",
                    s.service.namespace, s.service.name, s.cluster, missing
                ),
            );
        }
    }
    if usable.is_empty() {
        findings.warn("spec.services", "no Service matches yet");
    }

    let mut by_cluster: BTreeMap<&str, Vec<&Selected<'_>>> = BTreeMap::new();
    for s in &usable {
        by_cluster.entry(s.cluster).or_default().push(s);
    }

    // Endpoints of each backend cluster: its Services (used inside it) and its east-west gateway (used
    // from every other cluster). Computed once, reused for every cluster of the workspace.
    let mut per_backend: BTreeMap<&str, (Vec<Value>, Option<Value>)> = BTreeMap::new();
    for (backend_cluster, services) in &by_cluster {
        let locality = cluster_locality(inputs, backend_cluster, deps);
        let mut labels = Map::new();
        labels.insert(CLUSTER_LABEL.into(), json!(backend_cluster));
        if let Some(loc) = &locality {
            labels.insert(REGION_LABEL.into(), json!(loc.region));
            if let Some(zone) = &loc.zone {
                labels.insert(ZONE_LABEL.into(), json!(zone));
            }
        }
        let spec_network = inputs
            .clusters()
            .get(*backend_cluster)
            .and_then(|c| c.spec.network.clone());
        let with_locality = |mut ep: Map<String, Value>| {
            ep.insert("labels".into(), Value::Object(labels.clone()));
            if let Some(loc) = &locality {
                ep.insert("locality".into(), json!(loc.istio()));
            }
            Value::Object(ep)
        };
        let local: Vec<Value> = services
            .iter()
            .map(|s| {
                let mut ep = Map::new();
                ep.insert("address".into(), json!(s.service.hostname));
                let port_map: Map<String, Value> = ports
                    .iter()
                    .map(|p| (p.name.clone(), json!(p.target)))
                    .collect();
                ep.insert("ports".into(), Value::Object(port_map));
                if let Some(net) = &spec_network {
                    ep.insert("network".into(), json!(net));
                }
                with_locality(ep)
            })
            .collect();
        let remote = scope::inventory(inputs, backend_cluster, deps)
            .and_then(|i| i.east_west_gateway())
            .map(|gateway| {
                let mut ep = Map::new();
                ep.insert("address".into(), json!(gateway.address));
                let port_map: Map<String, Value> = ports
                    .iter()
                    .map(|p| (p.name.clone(), json!(gateway.port)))
                    .collect();
                ep.insert("ports".into(), Value::Object(port_map));
                let network = spec_network
                    .clone()
                    .or_else(|| gateway.network.clone())
                    .unwrap_or_else(|| (*backend_cluster).to_owned());
                ep.insert("network".into(), json!(network));
                with_locality(ep)
            });
        per_backend.insert(backend_cluster, (local, remote));
    }

    let mut outputs = Outputs::new();
    let mut unreachable = BTreeSet::new();
    let mut without_istio = Vec::new();
    let base_name = owner_name(&owner);
    for cluster in ws.clusters.keys() {
        let Some(inv) = scope::inventory(inputs, cluster, deps) else {
            continue;
        };
        if !inv.istio_present() {
            without_istio.push(cluster.clone());
            continue;
        }
        let Some(namespace) = scope::config_namespace(inputs, &ws, cluster, &owner.namespace, deps)
        else {
            continue;
        };
        let mut endpoints = Vec::new();
        for (backend_cluster, (local, remote)) in &per_backend {
            if *backend_cluster == cluster.as_str() {
                endpoints.extend(local.iter().cloned());
            } else if let Some(remote) = remote {
                endpoints.push(remote.clone());
            } else {
                unreachable.insert((*backend_cluster).to_owned());
            }
        }
        let resolution = if endpoints.is_empty() {
            "STATIC"
        } else {
            "DNS"
        };
        let se_ports: Vec<Value> = ports
            .iter()
            .map(|p| json!({"number": p.number, "name": p.name, "protocol": p.protocol, "targetPort": p.target}))
            .collect();
        let spec = json!({
            "hosts": hosts,
            "location": "MESH_INTERNAL",
            "resolution": resolution,
            "ports": se_ports,
            "endpoints": endpoints,
        });
        let cluster_out = outputs.entry(cluster.clone()).or_default();
        let (key, value) = document(
            ISTIO_NETWORKING,
            "ServiceEntry",
            &namespace,
            &base_name,
            &owner,
            spec,
        );
        cluster_out.insert(key, value);

        if let Some(traffic_policy) = traffic_policy(vd) {
            for host in &hosts {
                let name = if hosts.len() == 1 {
                    base_name.clone()
                } else {
                    object_name(&[&owner.name, &owner.namespace, &short_hash(host)])
                };
                let spec = json!({"host": host, "trafficPolicy": traffic_policy});
                let (key, value) = document(
                    ISTIO_NETWORKING,
                    "DestinationRule",
                    &namespace,
                    &name,
                    &owner,
                    spec,
                );
                cluster_out.insert(key, value);
            }
        }
    }
    if !unreachable.is_empty() {
        let list: Vec<String> = unreachable.into_iter().collect();
        findings.warn(
            "spec.services",
            format!(
                "no east-west gateway in cluster(s) {}: their backends are reachable only from inside them",
                list.join(", ")
            ),
        );
    }
    if !without_istio.is_empty() {
        findings.warn(
            "metadata.namespace",
            format!(
                "Istio is not installed in cluster(s) {}: nothing translated there",
                without_istio.join(", ")
            ),
        );
    }
    Translation {
        status: findings.status(generation),
        outputs,
        backends: usable
            .iter()
            .map(|s| {
                (
                    s.cluster.to_owned(),
                    s.service.namespace.clone(),
                    s.service.name.clone(),
                )
            })
            .collect(),
    }
}

fn traffic_policy(vd: &VirtualDestination) -> Option<Value> {
    let failover = vd.spec.failover.as_ref();
    let outlier = vd.spec.outlier_detection.as_ref().map(|o| {
        let mut m = Map::new();
        if let Some(n) = o.consecutive_errors {
            m.insert("consecutive5xxErrors".into(), json!(n));
        }
        if let Some(i) = &o.interval {
            m.insert("interval".into(), json!(i));
        }
        if let Some(b) = &o.base_ejection_time {
            m.insert("baseEjectionTime".into(), json!(b));
        }
        if let Some(p) = o.max_ejection_percent {
            m.insert("maxEjectionPercent".into(), json!(p));
        }
        Value::Object(m)
    });
    if failover.is_none() && outlier.is_none() {
        return None;
    }
    let mut policy = Map::new();
    if let Some(f) = failover {
        let mut locality = Map::new();
        locality.insert("enabled".into(), json!(f.enabled));
        if !f.regions.is_empty() {
            let failover: Vec<Value> = f
                .regions
                .iter()
                .map(|r| json!({"from": r.from, "to": r.to}))
                .collect();
            locality.insert("failover".into(), Value::Array(failover));
        }
        if !f.failover_priority.is_empty() {
            locality.insert("failoverPriority".into(), json!(f.failover_priority));
        }
        policy.insert(
            "loadBalancer".into(),
            json!({"localityLbSetting": Value::Object(locality)}),
        );
    }
    let outlier = match (outlier, failover) {
        (Some(o), _) => Some(o),
        (None, Some(f)) if f.enabled => Some(default_outlier()),
        _ => None,
    };
    if let Some(o) = outlier {
        policy.insert("outlierDetection".into(), o);
    }
    Some(Value::Object(policy))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::api::TranslationState;
    use crate::translate::engine::InputChange;
    use crate::translate::inputs::{EntitlementView, InputKind, InputRef, Product};
    use crate::translate::testing::{resource, resource_at, two_cluster_translator, yaml};

    fn reviews_spec() -> serde_json::Value {
        json!({
            "hosts": ["reviews.global"],
            "ports": [{"number": 9080, "protocol": "HTTP"}],
            "services": [{"namespace": "bookinfo", "labels": {"app": "reviews"}}],
            "failover": {"regions": [{"from": "us-east1", "to": "us-west1"}]},
            "outlierDetection": {"consecutiveErrors": 5, "interval": "10s", "baseEjectionTime": "30s", "maxEjectionPercent": 100}
        })
    }

    fn vd_ref(name: &str) -> InputRef {
        InputRef::new(InputKind::VirtualDestination, "bookinfo-config", name)
    }

    #[test]
    fn golden_service_entry_and_destination_rule_in_every_cluster() {
        let mut t = two_cluster_translator();
        let delta = t.apply([InputChange::Upsert(resource(
            "VirtualDestination",
            "bookinfo-config",
            "reviews",
            reviews_spec(),
        ))]);
        let status = &delta.statuses[&vd_ref("reviews")];
        assert_eq!(status.state, TranslationState::Accepted, "{status:?}");
        assert_eq!(status.observed_generation, Some(1));
        insta::assert_snapshot!(yaml(t.outputs()));
    }

    #[test]
    fn several_hosts_get_one_destination_rule_each_and_no_policy_means_no_rule() {
        let mut t = two_cluster_translator();
        let mut spec = reviews_spec();
        spec["hosts"] = json!(["reviews.global", "reviews.example.internal"]);
        t.apply([
            InputChange::Upsert(resource(
                "VirtualDestination",
                "bookinfo-config",
                "reviews",
                spec,
            )),
            InputChange::Upsert(resource(
                "VirtualDestination",
                "bookinfo-config",
                "ratings",
                json!({"hosts": ["ratings.global"], "ports": [{"number": 9080}],
                       "services": [{"namespace": "bookinfo", "name": "ratings"}]}),
            )),
        ]);
        let c1 = &t.outputs()["cluster-1"];
        let kinds = |owner: &str, kind: &str| {
            c1.iter()
                .filter(|(k, v)| {
                    k.kind == kind && v["metadata"]["labels"]["meshctl.dev/owner-name"] == owner
                })
                .count()
        };
        assert_eq!(kinds("reviews", "DestinationRule"), 2);
        assert_eq!(kinds("ratings", "DestinationRule"), 0);
        assert_eq!(kinds("ratings", "ServiceEntry"), 1);
        let ratings = c1
            .iter()
            .find(|(k, _)| k.kind == "ServiceEntry" && k.name == "ratings.bookinfo-config")
            .unwrap()
            .1;
        // ratings only exists in cluster-1: a local endpoint there.
        assert_eq!(
            ratings["spec"]["endpoints"][0]["address"],
            "ratings.bookinfo.svc.cluster.local"
        );
        assert_eq!(ratings["spec"]["endpoints"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn a_host_claimed_twice_goes_to_the_oldest_claimant() {
        let mut t = two_cluster_translator();
        let delta = t.apply([
            InputChange::Upsert(resource_at(
                "VirtualDestination",
                "bookinfo-config",
                "newer",
                50,
                reviews_spec(),
            )),
            InputChange::Upsert(resource_at(
                "VirtualDestination",
                "bookinfo-config",
                "older",
                10,
                reviews_spec(),
            )),
        ]);
        assert_eq!(
            delta.statuses[&vd_ref("older")].state,
            TranslationState::Accepted
        );
        let newer = &delta.statuses[&vd_ref("newer")];
        assert_eq!(newer.state, TranslationState::Invalid);
        assert_eq!(
            newer.message.as_deref(),
            Some(
                "spec.hosts[0]: host reviews.global is already claimed by VirtualDestination bookinfo-config/older"
            )
        );
        assert!(
            t.outputs()["cluster-1"]
                .keys()
                .all(|k| !k.name.starts_with("newer"))
        );

        // The winner goes away: the other claimant takes over.
        let delta = t.apply([InputChange::Delete(vd_ref("older"))]);
        assert_eq!(
            delta.statuses[&vd_ref("newer")].state,
            TranslationState::Accepted
        );
        assert!(
            t.outputs()["cluster-1"]
                .keys()
                .any(|k| k.name == "newer.bookinfo-config")
        );
    }

    #[test]
    fn invalid_ports_hosts_and_namespaces_name_the_field() {
        let mut t = two_cluster_translator();
        let mut spec = reviews_spec();
        spec["ports"] = json!([{"number": 9080}, {"number": 9080, "name": "other"}]);
        spec["hosts"] = json!(["*.global"]);
        t.apply([
            InputChange::Upsert(resource(
                "VirtualDestination",
                "bookinfo-config",
                "bad",
                spec,
            )),
            InputChange::Upsert(resource(
                "VirtualDestination",
                "elsewhere",
                "homeless",
                reviews_spec(),
            )),
        ]);
        let bad = t.status(&vd_ref("bad")).unwrap();
        assert_eq!(bad.state, TranslationState::Invalid);
        let message = bad.message.clone().unwrap();
        assert!(
            message.contains("spec.hosts[0]: \"*.global\" is not a valid hostname"),
            "{message}"
        );
        assert!(
            message.contains("spec.ports[1].number: port conflict: port 9080 is listed twice"),
            "{message}"
        );
        let homeless = t
            .status(&InputRef::new(
                InputKind::VirtualDestination,
                "elsewhere",
                "homeless",
            ))
            .unwrap();
        assert_eq!(homeless.state, TranslationState::Invalid);
        assert_eq!(
            homeless.message.as_deref(),
            Some("metadata.namespace: no Workspace selects namespace elsewhere")
        );
        assert!(
            t.outputs()
                .values()
                .flatten()
                .all(|(k, _)| k.kind != "ServiceEntry")
        );
    }

    #[test]
    fn unlicensed_mesh_yields_unlicensed_and_no_output() {
        let mut t = two_cluster_translator();
        t.apply([InputChange::Entitlements(EntitlementView::licensed([
            Product::Network,
        ]))]);
        let delta = t.apply([InputChange::Upsert(resource(
            "VirtualDestination",
            "bookinfo-config",
            "reviews",
            reviews_spec(),
        ))]);
        let status = &delta.statuses[&vd_ref("reviews")];
        assert_eq!(status.state, TranslationState::Unlicensed);
        assert!(status.message.as_deref().unwrap().contains("Mesh"));
        assert!(t.outputs().is_empty());
        assert!(delta.clusters.values().all(|d| d.is_empty()));
    }

    #[test]
    fn remote_clusters_without_an_east_west_gateway_are_reported() {
        let mut t = two_cluster_translator();
        let mut inv =
            crate::translate::testing::bookinfo_inventory("cluster-2", "us-west1", "us-west1-a");
        inv.delete("v1", "Service", "istio-system", "istio-eastwestgateway");
        t.apply([
            InputChange::Inventory(inv),
            InputChange::Upsert(resource(
                "VirtualDestination",
                "bookinfo-config",
                "reviews",
                reviews_spec(),
            )),
        ]);
        let status = t.status(&vd_ref("reviews")).unwrap();
        assert_eq!(status.state, TranslationState::Accepted);
        assert!(
            status
                .message
                .as_deref()
                .unwrap()
                .contains("no east-west gateway in cluster(s) cluster-2")
        );
        let se = t.outputs()["cluster-1"]
            .iter()
            .find(|(k, _)| k.kind == "ServiceEntry")
            .unwrap()
            .1;
        assert_eq!(
            se["spec"]["endpoints"].as_array().unwrap().len(),
            1,
            "only the local endpoint"
        );
    }
}
