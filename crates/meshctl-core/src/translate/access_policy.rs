//! AccessPolicy → per destination Service (in its cluster and namespace):
//! an Istio `AuthorizationPolicy` where Mesh is licensed and Istio runs, and a `CiliumNetworkPolicy`
//! (L3/L4 from the same policy) where Network is licensed and Cilium runs.
//!
//! Istio principals: a service account with a cluster becomes `<cluster>/ns/<ns>/sa/<sa>` (the
//! cluster's name is taken as its Istio trust domain), without one `*/ns/<ns>/sa/<sa>`; a cluster
//! becomes `<cluster>/*`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::api::AccessPolicy;
use crate::api::access_policy::ClientSelector;
use crate::api::route_table::DestinationKind;

use super::deps::{Dep, Deps};
use super::inputs::{InputKind, InputRef, Inputs, Product};
use super::inventory::ServiceInfo;
use super::naming::object_name;
use super::output::{CILIUM, ISTIO_SECURITY, Outputs, document};
use super::scope::{self, WorkspaceScope};
use super::status::{Findings, Translation};
use super::virtual_destination;

/// Cilium label of a pod's namespace.
const CILIUM_NAMESPACE: &str = "io.kubernetes.pod.namespace";
/// Cilium label of a pod's service account.
const CILIUM_SERVICE_ACCOUNT: &str = "io.cilium.k8s.policy.serviceaccount";
/// Cilium label of a pod's cluster (Cluster Mesh).
const CILIUM_CLUSTER: &str = "io.cilium.k8s.policy.cluster";

/// The destination Services of a policy, as (cluster, namespace, name).
fn destinations<'a>(
    inputs: &'a Inputs,
    ap: &AccessPolicy,
    ws: &WorkspaceScope,
    deps: &mut Deps,
    findings: &mut Findings,
) -> BTreeMap<(String, String, String), &'a ServiceInfo> {
    let mut found = BTreeMap::new();
    for (i, d) in ap.spec.apply_to_destinations.iter().enumerate() {
        let field = format!("spec.applyToDestinations[{i}].selector");
        let scope = match &d.selector.workspace {
            None => ws.clone(),
            Some(name) => match scope::workspace_named(inputs, name, deps) {
                Some(other) if scope::may_import(inputs, ws, &other) => other,
                Some(_) => {
                    findings.error(
                        format!("{field}.workspace"),
                        format!("workspace {name} does not export to {}", ws.name()),
                    );
                    continue;
                }
                None => {
                    findings.error(
                        format!("{field}.workspace"),
                        format!("unknown workspace {name}"),
                    );
                    continue;
                }
            },
        };
        match d.kind {
            DestinationKind::Service => {
                for s in scope::select_services(inputs, &scope, &d.selector, deps) {
                    found.insert(
                        (
                            s.cluster.to_owned(),
                            s.service.namespace.clone(),
                            s.service.name.clone(),
                        ),
                        s.service,
                    );
                }
            }
            DestinationKind::VirtualDestination => {
                deps.add(Dep::VirtualDestinations);
                for ((ns, name), vd) in inputs.virtual_destinations() {
                    let sel = &d.selector;
                    if sel.namespace.as_ref().is_some_and(|n| n != ns)
                        || sel.name.as_ref().is_some_and(|n| n != name)
                    {
                        continue;
                    }
                    let labels = vd.metadata.labels.clone().unwrap_or_default();
                    if !sel.labels.iter().all(|(k, v)| labels.get(k) == Some(v)) {
                        continue;
                    }
                    let Some(vd_ws) = scope::workspace_of(inputs, ns, deps) else {
                        continue;
                    };
                    if vd_ws.key != scope.key {
                        continue;
                    }
                    let mut vd_findings = Findings::default();
                    for s in
                        virtual_destination::backends(inputs, vd, &vd_ws, deps, &mut vd_findings)
                    {
                        if sel.cluster.as_ref().is_some_and(|c| c != s.cluster) {
                            continue;
                        }
                        found.insert(
                            (
                                s.cluster.to_owned(),
                                s.service.namespace.clone(),
                                s.service.name.clone(),
                            ),
                            s.service,
                        );
                    }
                }
            }
        }
    }
    found
}

fn istio_rules(ap: &AccessPolicy, ports: &[String]) -> Vec<Value> {
    if ap.spec.from.is_empty() {
        return Vec::new();
    }
    let sources: Vec<Value> = ap.spec.from.iter().flat_map(istio_sources).collect();
    let mut rule = Map::new();
    rule.insert("from".into(), Value::Array(sources));
    let mut op = Map::new();
    if !ports.is_empty() {
        op.insert("ports".into(), json!(ports));
    }
    if !ap.spec.allowed_methods.is_empty() {
        let methods: Vec<String> = ap
            .spec
            .allowed_methods
            .iter()
            .map(|m| m.to_ascii_uppercase())
            .collect();
        op.insert("methods".into(), json!(methods));
    }
    if !ap.spec.allowed_paths.is_empty() {
        let paths: Vec<String> = ap
            .spec
            .allowed_paths
            .iter()
            .map(|p| format!("{}*", p.trim_end_matches('*')))
            .collect();
        op.insert("paths".into(), json!(paths));
    }
    if !op.is_empty() {
        rule.insert("to".into(), json!([{"operation": Value::Object(op)}]));
    }
    vec![Value::Object(rule)]
}

fn istio_sources(client: &ClientSelector) -> Vec<Value> {
    let mut sources = Vec::new();
    let mut principals: Vec<String> = client
        .service_accounts
        .iter()
        .map(|sa| {
            format!(
                "{}/ns/{}/sa/{}",
                sa.cluster.as_deref().unwrap_or("*"),
                sa.namespace,
                sa.name
            )
        })
        .collect();
    principals.extend(client.clusters.iter().map(|c| format!("{c}/*")));
    if !principals.is_empty() {
        sources.push(json!({"source": {"principals": principals}}));
    }
    if !client.namespaces.is_empty() {
        sources.push(json!({"source": {"namespaces": client.namespaces}}));
    }
    sources
}

fn cilium_ingress(ap: &AccessPolicy, ports: &[(String, String)]) -> Vec<Value> {
    if ap.spec.from.is_empty() {
        // An empty rule turns on default-deny for the selected endpoints and allows nothing.
        return vec![json!({})];
    }
    let mut endpoints = Vec::new();
    for client in &ap.spec.from {
        for sa in &client.service_accounts {
            let mut labels = BTreeMap::from([
                (CILIUM_NAMESPACE, sa.namespace.clone()),
                (CILIUM_SERVICE_ACCOUNT, sa.name.clone()),
            ]);
            if let Some(c) = &sa.cluster {
                labels.insert(CILIUM_CLUSTER, c.clone());
            }
            endpoints.push(json!({"matchLabels": labels}));
        }
        for ns in &client.namespaces {
            endpoints.push(json!({"matchLabels": {CILIUM_NAMESPACE: ns}}));
        }
        for c in &client.clusters {
            endpoints.push(json!({"matchLabels": {CILIUM_CLUSTER: c}}));
        }
    }
    let mut rule = Map::new();
    rule.insert("fromEndpoints".into(), Value::Array(endpoints));
    if !ports.is_empty() {
        let list: Vec<Value> = ports
            .iter()
            .map(|(port, protocol)| json!({"port": port, "protocol": protocol}))
            .collect();
        rule.insert("toPorts".into(), json!([{"ports": list}]));
    }
    vec![Value::Object(rule)]
}

/// The pod ports (and protocols) the allowed destination ports map to on `svc`.
fn pod_ports(allowed: &[i32], svc: &ServiceInfo) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = allowed
        .iter()
        .map(|p| match svc.ports.iter().find(|sp| sp.port == *p) {
            Some(sp) => (
                sp.numeric_target().unwrap_or(*p).to_string(),
                sp.protocol.clone(),
            ),
            None => (p.to_string(), "TCP".to_owned()),
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Translates one AccessPolicy; `mesh` / `network` say which forms the license allows.
pub fn translate(inputs: &Inputs, ap: &AccessPolicy, deps: &mut Deps) -> Translation {
    let owner = InputRef::new(
        InputKind::AccessPolicy,
        ap.metadata.namespace.clone().unwrap_or_default(),
        ap.metadata.name.clone().unwrap_or_default(),
    );
    let generation = ap.metadata.generation;
    let mut findings = Findings::default();
    deps.add(Dep::Entitlements);
    let mesh = inputs.entitlements().allows(Product::Mesh);
    let network = inputs.entitlements().allows(Product::Network);

    if ap.spec.apply_to_destinations.is_empty() {
        findings.error(
            "spec.applyToDestinations",
            "at least one destination selector is required",
        );
    }
    for (i, p) in ap.spec.allowed_ports.iter().enumerate() {
        if !(1..=65535).contains(p) {
            findings.error(
                format!("spec.allowedPorts[{i}]"),
                format!("{p} is not a port"),
            );
        }
    }
    for (i, c) in ap.spec.from.iter().enumerate() {
        if c.service_accounts.is_empty() && c.namespaces.is_empty() && c.clusters.is_empty() {
            findings.error(
                format!("spec.from[{i}]"),
                "selects no client: set serviceAccounts, namespaces or clusters",
            );
        }
    }
    let Some(ws) = scope::workspace_of(inputs, &owner.namespace, deps) else {
        findings.error(
            "metadata.namespace",
            format!("no Workspace selects namespace {}", owner.namespace),
        );
        return Translation::without_outputs(findings.status(generation));
    };
    let targets = destinations(inputs, ap, &ws, deps, &mut findings);
    if findings.has_errors() {
        return Translation::without_outputs(findings.status(generation));
    }
    if targets.is_empty() {
        findings.warn("spec.applyToDestinations", "selects no destination yet");
    }
    if !mesh && (!ap.spec.allowed_methods.is_empty() || !ap.spec.allowed_paths.is_empty()) {
        findings.warn(
            "spec.allowedMethods",
            "allowedMethods and allowedPaths are not enforced: CiliumNetworkPolicy is L3/L4 and Mesh is not licensed",
        );
    }

    let mut outputs = Outputs::new();
    let mut unenforced = BTreeSet::new();
    let mut no_selector = Vec::new();
    for ((cluster, namespace, name), svc) in &targets {
        if svc.selector.is_empty() {
            no_selector.push(format!("{cluster}/{namespace}/{name}"));
            continue;
        }
        let Some(inv) = scope::inventory(inputs, cluster, deps) else {
            continue;
        };
        let object = object_name(&[&owner.name, &owner.namespace, name]);
        let ports = pod_ports(&ap.spec.allowed_ports, svc);
        let mut enforced = false;
        if mesh && inv.istio_present() {
            let port_names: Vec<String> = ports.iter().map(|(p, _)| p.clone()).collect();
            let mut spec = Map::new();
            spec.insert("selector".into(), json!({"matchLabels": svc.selector}));
            spec.insert("action".into(), json!("ALLOW"));
            let rules = istio_rules(ap, &port_names);
            if !rules.is_empty() {
                spec.insert("rules".into(), Value::Array(rules));
            }
            let (key, value) = document(
                ISTIO_SECURITY,
                "AuthorizationPolicy",
                namespace,
                &object,
                &owner,
                Value::Object(spec),
            );
            outputs
                .entry(cluster.clone())
                .or_default()
                .insert(key, value);
            enforced = true;
        }
        if network && inv.cilium_present() {
            let spec = json!({
                "endpointSelector": {"matchLabels": svc.selector},
                "ingress": cilium_ingress(ap, &ports),
            });
            let (key, value) = document(
                CILIUM,
                "CiliumNetworkPolicy",
                namespace,
                &object,
                &owner,
                spec,
            );
            outputs
                .entry(cluster.clone())
                .or_default()
                .insert(key, value);
            enforced = true;
        }
        if !enforced {
            unenforced.insert(cluster.clone());
        }
    }
    if !no_selector.is_empty() {
        findings.warn(
            "spec.applyToDestinations",
            format!(
                "Services without a pod selector cannot be protected: {}",
                no_selector.join(", ")
            ),
        );
    }
    if !unenforced.is_empty() {
        let list: Vec<String> = unenforced.into_iter().collect();
        findings.warn(
            "spec.applyToDestinations",
            format!(
                "not enforced in cluster(s) {}: no licensed enforcement point (Istio for Mesh, Cilium for Network) runs there",
                list.join(", ")
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
    use crate::translate::testing::{bookinfo_inventory, resource, two_cluster_translator, yaml};

    fn ap_ref(name: &str) -> InputRef {
        InputRef::new(InputKind::AccessPolicy, "bookinfo-config", name)
    }

    fn policy() -> serde_json::Value {
        json!({
            "applyToDestinations": [{"kind": "Service", "selector": {"namespace": "bookinfo", "labels": {"app": "reviews"}}}],
            "from": [
                {"serviceAccounts": [{"name": "productpage", "namespace": "bookinfo", "cluster": "cluster-1"},
                                     {"name": "tester", "namespace": "qa"}]},
                {"namespaces": ["monitoring"], "clusters": ["cluster-2"]}
            ],
            "allowedPorts": [9080],
            "allowedMethods": ["GET"],
            "allowedPaths": ["/reviews"]
        })
    }

    fn with_cilium_in_cluster_2() -> crate::translate::Translator {
        let mut t = two_cluster_translator();
        let mut inv = bookinfo_inventory("cluster-2", "us-west1", "us-west1-a");
        inv.set_cilium_present(true);
        t.apply([InputChange::Inventory(inv)]);
        t
    }

    #[test]
    fn golden_authorization_and_cilium_policies() {
        let mut t = with_cilium_in_cluster_2();
        let delta = t.apply([InputChange::Upsert(resource(
            "AccessPolicy",
            "bookinfo-config",
            "reviews-access",
            policy(),
        ))]);
        assert_eq!(
            delta.statuses[&ap_ref("reviews-access")].state,
            TranslationState::Accepted
        );
        insta::assert_snapshot!(yaml(t.outputs()));
    }

    #[test]
    fn only_network_licensed_gives_cilium_policies_and_warns_about_l7_fields() {
        let mut t = with_cilium_in_cluster_2();
        t.apply([
            InputChange::Entitlements(EntitlementView::licensed([Product::Network])),
            InputChange::Upsert(resource(
                "AccessPolicy",
                "bookinfo-config",
                "reviews-access",
                policy(),
            )),
        ]);
        let status = t.status(&ap_ref("reviews-access")).unwrap();
        assert_eq!(status.state, TranslationState::Accepted);
        let m = status.message.clone().unwrap();
        assert!(
            m.contains("allowedMethods and allowedPaths are not enforced"),
            "{m}"
        );
        assert!(m.contains("not enforced in cluster(s) cluster-1"), "{m}");
        let kinds: Vec<&str> = t
            .outputs()
            .values()
            .flatten()
            .map(|(k, _)| k.kind.as_str())
            .collect();
        assert_eq!(kinds, ["CiliumNetworkPolicy"]);
    }

    #[test]
    fn neither_product_licensed_is_unlicensed() {
        let mut t = with_cilium_in_cluster_2();
        t.apply([
            InputChange::Entitlements(EntitlementView::licensed([Product::Gateway])),
            InputChange::Upsert(resource("AccessPolicy", "bookinfo-config", "p", policy())),
        ]);
        let status = t.status(&ap_ref("p")).unwrap();
        assert_eq!(status.state, TranslationState::Unlicensed);
        assert!(
            status
                .message
                .as_deref()
                .unwrap()
                .contains("Mesh or Network")
        );
        assert!(t.outputs().is_empty());
    }

    #[test]
    fn empty_from_denies_everything_and_virtual_destination_selectors_reach_backends() {
        let mut t = with_cilium_in_cluster_2();
        t.apply([
            InputChange::Upsert(resource(
                "VirtualDestination",
                "bookinfo-config",
                "ratings",
                json!({"hosts": ["ratings.global"], "ports": [{"number": 9080}], "services": [{"name": "ratings"}]}),
            )),
            InputChange::Upsert(resource(
                "AccessPolicy",
                "bookinfo-config",
                "lockdown",
                json!({"applyToDestinations": [{"selector": {"name": "ratings"}}]}),
            )),
        ]);
        assert_eq!(
            t.status(&ap_ref("lockdown")).unwrap().state,
            TranslationState::Accepted
        );
        let c1 = &t.outputs()["cluster-1"];
        let (key, ap) = c1
            .iter()
            .find(|(k, _)| k.kind == "AuthorizationPolicy")
            .unwrap();
        assert_eq!(key.name, "lockdown.bookinfo-config.ratings");
        assert_eq!(
            ap["spec"],
            json!({"selector": {"matchLabels": {"app": "ratings"}}, "action": "ALLOW"})
        );
    }

    #[test]
    fn an_empty_client_selector_is_invalid() {
        let mut t = two_cluster_translator();
        let mut spec = policy();
        spec["from"] = json!([{}]);
        t.apply([InputChange::Upsert(resource(
            "AccessPolicy",
            "bookinfo-config",
            "p",
            spec,
        ))]);
        let status = t.status(&ap_ref("p")).unwrap();
        assert_eq!(status.state, TranslationState::Invalid);
        assert_eq!(
            status.message.as_deref(),
            Some("spec.from[0]: selects no client: set serviceAccounts, namespaces or clusters")
        );
    }
}
