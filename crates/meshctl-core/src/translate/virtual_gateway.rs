//! VirtualGateway → an Istio `Gateway` in each cluster and namespace where a selected gateway workload
//! runs (within the clusters of its workspace, where Istio runs): one server per listener, with hosts
//! and the TLS secret reference.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::api::VirtualGateway;
use crate::api::common::PortProtocol;
use crate::api::virtual_gateway::TlsMode;

use super::deps::{Dep, Deps};
use super::inputs::{InputKind, InputRef, Inputs};
use super::naming::owner_name;
use super::output::{ISTIO_NETWORKING, Outputs, document};
use super::scope;
use super::status::{Findings, Translation};

/// Where a gateway's workloads run: one Istio Gateway per placement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Cluster.
    pub cluster: String,
    /// Namespace of the gateway workloads (and of the Istio Gateway).
    pub namespace: String,
    /// Pod labels selecting the gateway workloads.
    pub labels: BTreeMap<String, String>,
    /// Index of the `spec.workloads` entry that selected them.
    pub selector: usize,
}

/// The placements of a VirtualGateway: the namespaces of the workspace's clusters holding a
/// Deployment/StatefulSet whose pod labels include a selector's labels. Errors go to `findings`.
pub fn placements(
    inputs: &Inputs,
    vg: &VirtualGateway,
    deps: &mut Deps,
    findings: &mut Findings,
) -> Vec<Placement> {
    let namespace = vg.metadata.namespace.clone().unwrap_or_default();
    let Some(ws) = scope::workspace_of(inputs, &namespace, deps) else {
        findings.error(
            "metadata.namespace",
            format!("no Workspace selects namespace {namespace}"),
        );
        return Vec::new();
    };
    let mut found: BTreeMap<(String, String), Placement> = BTreeMap::new();
    for (i, selector) in vg.spec.workloads.iter().enumerate() {
        if selector.labels.is_empty() {
            findings.error(
                format!("spec.workloads[{i}].labels"),
                "at least one label is required",
            );
            continue;
        }
        if let Some(c) = &selector.cluster
            && !ws.clusters.contains_key(c)
        {
            findings.error(
                format!("spec.workloads[{i}].cluster"),
                format!("cluster {c} is not in workspace {}", ws.name()),
            );
            continue;
        }
        for cluster in ws.clusters.keys() {
            if selector.cluster.as_ref().is_some_and(|c| c != cluster) {
                continue;
            }
            let Some(inv) = scope::inventory(inputs, cluster, deps) else {
                continue;
            };
            match &selector.namespace {
                Some(ns) => deps.add(Dep::Namespace(cluster.clone(), ns.clone())),
                None => deps.add(Dep::AllNamespaces(cluster.clone())),
            }
            for w in inv.workloads() {
                if selector
                    .namespace
                    .as_ref()
                    .is_some_and(|ns| *ns != w.namespace)
                {
                    continue;
                }
                if !selector
                    .labels
                    .iter()
                    .all(|(k, v)| w.labels.get(k) == Some(v))
                {
                    continue;
                }
                let key = (cluster.clone(), w.namespace.clone());
                match found.get(&key) {
                    Some(p) if p.selector != i => {
                        findings.error(
                            format!("spec.workloads[{i}]"),
                            format!(
                                "selects workloads in namespace {} of cluster {} that spec.workloads[{}] already selects; use one selector per namespace",
                                w.namespace, cluster, p.selector
                            ),
                        );
                    }
                    Some(_) => {}
                    None => {
                        found.insert(
                            key,
                            Placement {
                                cluster: cluster.clone(),
                                namespace: w.namespace.clone(),
                                labels: selector.labels.clone(),
                                selector: i,
                            },
                        );
                    }
                }
            }
        }
    }
    found.into_values().collect()
}

/// A listener already seen on a port: (index, Istio protocol, hosts).
type ListenerClaim = (usize, &'static str, Vec<String>);

fn gateway_protocol(protocol: PortProtocol, tls: bool) -> &'static str {
    match (protocol, tls) {
        (PortProtocol::Tls, _) | (PortProtocol::Tcp, true) => "TLS",
        (PortProtocol::Tcp, false) => "TCP",
        (_, true) => "HTTPS",
        (PortProtocol::Http, false) => "HTTP",
        (PortProtocol::Http2, false) => "HTTP2",
        (PortProtocol::Grpc, false) => "GRPC",
    }
}

fn tls_mode(mode: TlsMode) -> &'static str {
    match mode {
        TlsMode::Simple => "SIMPLE",
        TlsMode::Mutual => "MUTUAL",
        TlsMode::Passthrough => "PASSTHROUGH",
    }
}

/// Translates one VirtualGateway.
pub fn translate(inputs: &Inputs, vg: &VirtualGateway, deps: &mut Deps) -> Translation {
    let owner = InputRef::new(
        InputKind::VirtualGateway,
        vg.metadata.namespace.clone().unwrap_or_default(),
        vg.metadata.name.clone().unwrap_or_default(),
    );
    let generation = vg.metadata.generation;
    let mut findings = Findings::default();

    // Validate listeners: protocol/TLS consistency and port/host conflicts.
    let mut by_port: BTreeMap<i32, Vec<ListenerClaim>> = BTreeMap::new();
    let mut servers = Vec::new();
    let mut secret_namespaces = Vec::new();
    for (i, l) in vg.spec.listeners.iter().enumerate() {
        let field = format!("spec.listeners[{i}]");
        if !(1..=65535).contains(&l.port) {
            findings.error(format!("{field}.port"), format!("{} is not a port", l.port));
        }
        if l.hosts.is_empty() {
            findings.error(format!("{field}.hosts"), "at least one host is required");
        }
        if l.protocol == PortProtocol::Tls && l.tls.is_none() {
            findings.error(format!("{field}.tls"), "required for protocol TLS");
        }
        let protocol = gateway_protocol(l.protocol, l.tls.is_some());
        let mut server = Map::new();
        let port_name = l
            .name
            .clone()
            .unwrap_or_else(|| format!("{}-{}", protocol.to_ascii_lowercase(), l.port));
        server.insert(
            "port".into(),
            json!({"number": l.port, "name": port_name, "protocol": protocol}),
        );
        server.insert("hosts".into(), json!(l.hosts));
        if let Some(tls) = &l.tls {
            let mut t = Map::new();
            t.insert("mode".into(), json!(tls_mode(tls.mode)));
            match (&tls.secret_ref, tls.mode) {
                (None, TlsMode::Simple | TlsMode::Mutual) => findings.error(
                    format!("{field}.tls.secretRef"),
                    format!("required for TLS mode {}", tls_mode(tls.mode)),
                ),
                (Some(secret), _) => {
                    t.insert("credentialName".into(), json!(secret.name));
                    if let Some(ns) = &secret.namespace {
                        secret_namespaces.push((i, ns.clone()));
                    }
                }
                (None, TlsMode::Passthrough) => {}
            }
            if tls.mode == TlsMode::Passthrough && l.protocol != PortProtocol::Tls {
                findings.error(
                    format!("{field}.tls.mode"),
                    "PASSTHROUGH requires protocol TLS",
                );
            }
            if let Some(v) = &tls.min_protocol_version {
                t.insert("minProtocolVersion".into(), json!(v));
            }
            server.insert("tls".into(), Value::Object(t));
        }
        servers.push(Value::Object(server));

        let entry = by_port.entry(l.port).or_default();
        for (j, other_protocol, other_hosts) in entry.iter() {
            if *other_protocol != protocol {
                findings.error(
                    format!("{field}.port"),
                    format!(
                        "port conflict: port {} is already used by spec.listeners[{j}] with protocol {other_protocol}",
                        l.port
                    ),
                );
            } else if let Some(h) = l.hosts.iter().find(|h| other_hosts.contains(h)) {
                findings.error(
                    format!("{field}.hosts"),
                    format!(
                        "host {h} on port {} is already served by spec.listeners[{j}]",
                        l.port
                    ),
                );
            }
        }
        entry.push((i, protocol, l.hosts.clone()));
    }

    let found = placements(inputs, vg, deps, &mut findings);
    for p in &found {
        for (i, ns) in &secret_namespaces {
            if *ns != p.namespace {
                findings.error(
                    format!("spec.listeners[{i}].tls.secretRef.namespace"),
                    format!(
                        "must be the gateway workload's namespace ({} in cluster {}): Istio reads credentials there",
                        p.namespace, p.cluster
                    ),
                );
            }
        }
    }
    if findings.has_errors() {
        return Translation::without_outputs(findings.status(generation));
    }
    if found.is_empty() {
        findings.warn("spec.workloads", "no gateway workload matches yet");
    }

    let mut outputs = Outputs::new();
    let mut without_istio = Vec::new();
    let name = owner_name(&owner);
    for p in &found {
        if !scope::inventory(inputs, &p.cluster, deps).is_some_and(|i| i.istio_present()) {
            if !without_istio.contains(&p.cluster) {
                without_istio.push(p.cluster.clone());
            }
            continue;
        }
        let spec = json!({"selector": p.labels, "servers": servers});
        let (key, value) = document(
            ISTIO_NETWORKING,
            "Gateway",
            &p.namespace,
            &name,
            &owner,
            spec,
        );
        outputs
            .entry(p.cluster.clone())
            .or_default()
            .insert(key, value);
    }
    if !without_istio.is_empty() {
        findings.warn(
            "spec.workloads",
            format!(
                "Istio is not installed in cluster(s) {}: nothing translated there",
                without_istio.join(", ")
            ),
        );
    }
    Translation {
        status: findings.status(generation),
        outputs,
        backends: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::api::TranslationState;
    use crate::translate::engine::InputChange;
    use crate::translate::inputs::{EntitlementView, InputKind, InputRef, Product};
    use crate::translate::testing::{resource, two_cluster_translator, yaml};

    fn vg_ref(name: &str) -> InputRef {
        InputRef::new(InputKind::VirtualGateway, "bookinfo-config", name)
    }

    #[test]
    fn golden_gateway_with_tls_listener() {
        let mut t = two_cluster_translator();
        let delta = t.apply([InputChange::Upsert(resource(
            "VirtualGateway",
            "bookinfo-config",
            "north-south",
            json!({"workloads": [{"labels": {"istio": "ingressgateway"}}],
                   "listeners": [
                       {"port": 80, "hosts": ["*.example.com"]},
                       {"name": "https", "port": 443, "hosts": ["bookinfo.example.com"],
                        "tls": {"secretRef": {"name": "bookinfo-cert"}, "minProtocolVersion": "TLSV1_2"}},
                       {"port": 8443, "protocol": "TLS", "hosts": ["passthrough.example.com"], "tls": {"mode": "PASSTHROUGH"}}
                   ]}),
        ))]);
        assert_eq!(
            delta.statuses[&vg_ref("north-south")].state,
            TranslationState::Accepted
        );
        insta::assert_snapshot!(yaml(t.outputs()));
    }

    #[test]
    fn port_conflicts_and_missing_secrets_are_invalid() {
        let mut t = two_cluster_translator();
        t.apply([InputChange::Upsert(resource(
            "VirtualGateway",
            "bookinfo-config",
            "bad",
            json!({"workloads": [{"labels": {"istio": "ingressgateway"}}],
            "listeners": [
                {"port": 443, "protocol": "TLS", "hosts": ["a.example.com"]},
                {"port": 443, "hosts": ["a.example.com"]},
                {"port": 8443, "hosts": ["b.example.com"], "tls": {"mode": "SIMPLE"}},
                {"port": 80, "hosts": ["c.example.com"]},
                {"port": 80, "hosts": ["c.example.com"]}
            ]}),
        ))]);
        let status = t.status(&vg_ref("bad")).unwrap();
        assert_eq!(status.state, TranslationState::Invalid);
        let m = status.message.clone().unwrap();
        for expected in [
            "spec.listeners[0].tls: required for protocol TLS",
            "spec.listeners[1].port: port conflict: port 443 is already used by spec.listeners[0] with protocol TLS",
            "spec.listeners[2].tls.secretRef: required for TLS mode SIMPLE",
            "spec.listeners[4].hosts: host c.example.com on port 80 is already served by spec.listeners[3]",
        ] {
            assert!(m.contains(expected), "missing {expected:?} in {m}");
        }
        assert!(
            t.outputs()
                .values()
                .flatten()
                .all(|(k, _)| k.kind != "Gateway")
        );
    }

    #[test]
    fn gateway_product_is_required() {
        let mut t = two_cluster_translator();
        t.apply([
            InputChange::Entitlements(EntitlementView::licensed([Product::Mesh])),
            InputChange::Upsert(resource(
                "VirtualGateway",
                "bookinfo-config",
                "gw",
                json!({"workloads": [{"labels": {"istio": "ingressgateway"}}], "listeners": [{"port": 80, "hosts": ["*"]}]}),
            )),
        ]);
        assert_eq!(
            t.status(&vg_ref("gw")).unwrap().state,
            TranslationState::Unlicensed
        );
        assert!(t.outputs().is_empty());
    }
}
