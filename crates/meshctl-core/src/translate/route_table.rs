//! RouteTable → Istio `VirtualService`: matchers (path prefix/exact/regex, headers, methods), weighted
//! forwarding to VirtualDestinations or cluster Services, retries, timeouts and rewrites.
//!
//! A mesh RouteTable (no `virtualGateways`) becomes one VirtualService in each cluster of its
//! workspace. A gateway RouteTable becomes one VirtualService next to each Istio Gateway its
//! VirtualGateways produce, bound to those gateways.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::api::RouteTable;
use crate::api::route_table::{DestinationKind, HttpRoute, PathMatch, RouteDestination};

use super::deps::{Dep, Deps};
use super::inputs::{InputKind, InputRef, Inputs, normalize_host, route_scopes};
use super::naming::owner_name;
use super::output::{ISTIO_NETWORKING, Outputs, document};
use super::scope::{self, WorkspaceScope};
use super::status::{Findings, Translation, rank};
use super::virtual_destination::is_dns_name;
use super::virtual_gateway;

/// Turns relative weights into integer percentages summing to 100 (largest remainder, ties to the
/// earlier destination). `None` when the weights sum to zero.
pub fn percentages(weights: &[u64]) -> Option<Vec<u64>> {
    let total: u64 = weights.iter().sum();
    if total == 0 {
        return None;
    }
    let mut shares: Vec<u64> = weights.iter().map(|w| w * 100 / total).collect();
    let mut left = 100 - shares.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(weights[i] * 100 % total));
    for i in order {
        if left == 0 {
            break;
        }
        shares[i] += 1;
        left -= 1;
    }
    Some(shares)
}

fn is_route_host(host: &str) -> bool {
    host == "*" || is_dns_name(host.strip_prefix("*.").unwrap_or(host))
}

struct Resolved {
    host: String,
    port: Option<i32>,
}

fn resolve_destination(
    inputs: &Inputs,
    ws: &WorkspaceScope,
    rt_namespace: &str,
    field: &str,
    d: &RouteDestination,
    deps: &mut Deps,
    findings: &mut Findings,
) -> Option<Resolved> {
    let namespace = d.namespace.as_deref().unwrap_or(rt_namespace);
    match d.kind {
        DestinationKind::VirtualDestination => {
            deps.add(Dep::Input(InputRef::new(
                InputKind::VirtualDestination,
                namespace,
                &d.name,
            )));
            let Some(vd) = inputs
                .virtual_destinations()
                .get(&(namespace.to_owned(), d.name.clone()))
            else {
                findings.error(
                    format!("{field}.name"),
                    format!(
                        "unknown destination: no VirtualDestination {namespace}/{}",
                        d.name
                    ),
                );
                return None;
            };
            let host = normalize_host(vd.spec.hosts.first()?);
            let numbers: Vec<i32> = vd.spec.ports.iter().map(|p| p.number).collect();
            let port = pick_port(
                field,
                d.port,
                &numbers,
                "VirtualDestination",
                &d.name,
                findings,
            )?;
            Some(Resolved { host, port })
        }
        DestinationKind::Service => {
            let mut found = None;
            for cluster in ws.clusters.keys() {
                if d.cluster.as_ref().is_some_and(|c| c != cluster) {
                    continue;
                }
                deps.add(Dep::Service(
                    cluster.clone(),
                    namespace.to_owned(),
                    d.name.clone(),
                ));
                let Some(inv) = scope::inventory(inputs, cluster, deps) else {
                    continue;
                };
                if !ws.includes(cluster, namespace) {
                    continue;
                }
                if let Some(svc) = inv.service(namespace, &d.name) {
                    found.get_or_insert(svc);
                }
            }
            let Some(svc) = found else {
                let where_ = d
                    .cluster
                    .as_ref()
                    .map(|c| format!(" in cluster {c}"))
                    .unwrap_or_else(|| format!(" in workspace {}", ws.name()));
                findings.error(
                    format!("{field}.name"),
                    format!(
                        "unknown destination: no Service {namespace}/{}{where_}",
                        d.name
                    ),
                );
                return None;
            };
            let numbers: Vec<i32> = svc.ports.iter().map(|p| p.port).collect();
            let port = pick_port(field, d.port, &numbers, "Service", &d.name, findings)?;
            Some(Resolved {
                host: svc.hostname.clone(),
                port,
            })
        }
    }
}

/// The port to forward to: the one given (must exist), else the only one. `None` on error.
fn pick_port(
    field: &str,
    given: Option<i32>,
    numbers: &[i32],
    kind: &str,
    name: &str,
    findings: &mut Findings,
) -> Option<Option<i32>> {
    match (given, numbers) {
        (Some(p), _) if numbers.contains(&p) => Some(Some(p)),
        (Some(p), _) => {
            findings.error(
                format!("{field}.port"),
                format!("{kind} {name} has no port {p}"),
            );
            None
        }
        (None, [only]) => Some(Some(*only)),
        (None, []) => Some(None),
        (None, _) => {
            findings.error(
                format!("{field}.port"),
                format!("required: {kind} {name} has several ports"),
            );
            None
        }
    }
}

fn http_route(
    inputs: &Inputs,
    ws: &WorkspaceScope,
    rt_namespace: &str,
    i: usize,
    route: &HttpRoute,
    deps: &mut Deps,
    findings: &mut Findings,
) -> Value {
    let mut out = Map::new();
    if let Some(name) = &route.name {
        out.insert("name".into(), json!(name));
    }
    let matches: Vec<Value> = route
        .matchers
        .iter()
        .map(|m| {
            let mut mv = Map::new();
            if let Some(uri) = &m.uri {
                let u = match uri {
                    PathMatch::Prefix(p) => json!({"prefix": p}),
                    PathMatch::Exact(p) => json!({"exact": p}),
                    PathMatch::Regex(p) => json!({"regex": p}),
                };
                mv.insert("uri".into(), u);
            }
            let mut headers = Map::new();
            let mut without = Map::new();
            for h in &m.headers {
                let value = match (&h.value, h.regex) {
                    (None, _) => json!({"regex": ".*"}),
                    (Some(v), true) => json!({"regex": v}),
                    (Some(v), false) => json!({"exact": v}),
                };
                let target = if h.invert_match {
                    &mut without
                } else {
                    &mut headers
                };
                target.insert(h.name.to_ascii_lowercase(), value);
            }
            if !headers.is_empty() {
                mv.insert("headers".into(), Value::Object(headers));
            }
            if !without.is_empty() {
                mv.insert("withoutHeaders".into(), Value::Object(without));
            }
            let methods: Vec<String> = m.methods.iter().map(|x| x.to_ascii_uppercase()).collect();
            match methods.as_slice() {
                [] => {}
                [one] => {
                    mv.insert("method".into(), json!({"exact": one}));
                }
                many => {
                    mv.insert("method".into(), json!({"regex": many.join("|")}));
                }
            }
            Value::Object(mv)
        })
        .collect();
    if !matches.is_empty() {
        out.insert("match".into(), Value::Array(matches));
    }

    let dests = &route.forward_to.destinations;
    let field = format!("spec.http[{i}].forwardTo.destinations");
    if dests.is_empty() {
        findings.error(&field, "at least one destination is required");
    }
    let mut weights = Vec::new();
    let mut resolved = Vec::new();
    for (j, d) in dests.iter().enumerate() {
        let w = d.weight.unwrap_or(1);
        if w < 0 {
            findings.error(format!("{field}[{j}].weight"), "must not be negative");
        }
        weights.push(u64::try_from(w).unwrap_or(0));
        resolved.push(resolve_destination(
            inputs,
            ws,
            rt_namespace,
            &format!("{field}[{j}]"),
            d,
            deps,
            findings,
        ));
    }
    let shares = percentages(&weights);
    if shares.is_none() && !dests.is_empty() {
        findings.error(&field, "weights sum to 0");
    }
    let shares = shares.unwrap_or_default();
    let route_to: Vec<Value> = resolved
        .iter()
        .enumerate()
        .filter_map(|(j, r)| {
            let r = r.as_ref()?;
            let mut dest = Map::new();
            dest.insert("host".into(), json!(r.host));
            if let Some(p) = r.port {
                dest.insert("port".into(), json!({"number": p}));
            }
            let mut entry = Map::new();
            entry.insert("destination".into(), Value::Object(dest));
            if dests.len() > 1 {
                entry.insert("weight".into(), json!(shares.get(j).copied().unwrap_or(0)));
            }
            Some(Value::Object(entry))
        })
        .collect();
    out.insert("route".into(), Value::Array(route_to));

    let fwd = &route.forward_to;
    if fwd.path_rewrite.is_some() || fwd.host_rewrite.is_some() {
        let mut rw = Map::new();
        if let Some(p) = &fwd.path_rewrite {
            rw.insert("uri".into(), json!(p));
        }
        if let Some(h) = &fwd.host_rewrite {
            rw.insert("authority".into(), json!(h));
        }
        out.insert("rewrite".into(), Value::Object(rw));
    }
    if let Some(r) = &route.retries {
        if r.attempts < 0 {
            findings.error(
                format!("spec.http[{i}].retries.attempts"),
                "must not be negative",
            );
        }
        let mut rv = Map::new();
        rv.insert("attempts".into(), json!(r.attempts));
        if let Some(t) = &r.per_try_timeout {
            rv.insert("perTryTimeout".into(), json!(t));
        }
        if let Some(on) = &r.retry_on {
            rv.insert("retryOn".into(), json!(on));
        }
        out.insert("retries".into(), Value::Object(rv));
    }
    if let Some(t) = &route.timeout {
        out.insert("timeout".into(), json!(t));
    }
    Value::Object(out)
}

/// Translates one RouteTable.
pub fn translate(inputs: &Inputs, rt: &RouteTable, deps: &mut Deps) -> Translation {
    let owner = InputRef::new(
        InputKind::RouteTable,
        rt.metadata.namespace.clone().unwrap_or_default(),
        rt.metadata.name.clone().unwrap_or_default(),
    );
    let generation = rt.metadata.generation;
    let mut findings = Findings::default();

    let hosts: Vec<String> = rt.spec.hosts.iter().map(|h| normalize_host(h)).collect();
    let mut seen = BTreeSet::new();
    for (i, host) in hosts.iter().enumerate() {
        if !is_route_host(host) {
            findings.error(
                format!("spec.hosts[{i}]"),
                format!("{host:?} is not a valid hostname"),
            );
        }
        if !seen.insert(host) {
            findings.error(
                format!("spec.hosts[{i}]"),
                format!("host {host} is listed twice"),
            );
        }
    }
    if hosts.is_empty() {
        findings.error("spec.hosts", "at least one host is required");
    }
    for scope_name in route_scopes(rt) {
        for (i, host) in hosts.iter().enumerate() {
            deps.add(Dep::RouteHost(scope_name.clone(), host.clone()));
            let winner = inputs
                .route_tables_claiming(&scope_name, host)
                .filter_map(|k| inputs.route_tables().get(k))
                .min_by_key(|other| rank(&other.metadata));
            if let Some(winner) = winner
                && rank(&winner.metadata) != rank(&rt.metadata)
            {
                let where_ = if scope_name == "mesh" {
                    "mesh traffic".to_owned()
                } else {
                    format!("VirtualGateway {scope_name}")
                };
                findings.error(
                    format!("spec.hosts[{i}]"),
                    format!(
                        "host {host} is already claimed for {where_} by RouteTable {}/{}",
                        winner.metadata.namespace.as_deref().unwrap_or_default(),
                        winner.metadata.name.as_deref().unwrap_or_default()
                    ),
                );
            }
        }
    }

    let Some(ws) = scope::workspace_of(inputs, &owner.namespace, deps) else {
        findings.error(
            "metadata.namespace",
            format!("no Workspace selects namespace {}", owner.namespace),
        );
        return Translation::without_outputs(findings.status(generation));
    };

    if rt.spec.http.is_empty() {
        findings.error("spec.http", "at least one route is required");
    }
    let http: Vec<Value> = rt
        .spec
        .http
        .iter()
        .enumerate()
        .map(|(i, r)| http_route(inputs, &ws, &owner.namespace, i, r, deps, &mut findings))
        .collect();

    // Gateway bindings: (cluster, namespace) -> ["<ns>/<gateway name>"].
    let mut bindings: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (i, g) in rt.spec.virtual_gateways.iter().enumerate() {
        let ns = g
            .namespace
            .clone()
            .unwrap_or_else(|| owner.namespace.clone());
        let gw_ref = InputRef::new(InputKind::VirtualGateway, &ns, &g.name);
        deps.add(Dep::Input(gw_ref.clone()));
        let Some(vg) = inputs.virtual_gateways().get(&(ns.clone(), g.name.clone())) else {
            findings.error(
                format!("spec.virtualGateways[{i}]"),
                format!("unknown VirtualGateway {ns}/{}", g.name),
            );
            continue;
        };
        let mut ignored = Findings::default();
        for p in virtual_gateway::placements(inputs, vg, deps, &mut ignored) {
            let gw = format!("{}/{}", p.namespace, owner_name(&gw_ref));
            let list = bindings.entry((p.cluster, p.namespace)).or_default();
            if !list.contains(&gw) {
                list.push(gw);
            }
        }
    }
    if findings.has_errors() {
        return Translation::without_outputs(findings.status(generation));
    }

    let name = owner_name(&owner);
    let mut outputs = Outputs::new();
    let mut without_istio = BTreeSet::new();
    let mut emit =
        |cluster: &str, namespace: &str, gateways: Option<&Vec<String>>, deps: &mut Deps| {
            if !scope::inventory(inputs, cluster, deps).is_some_and(|i| i.istio_present()) {
                without_istio.insert(cluster.to_owned());
                return;
            }
            let mut spec = Map::new();
            spec.insert("hosts".into(), json!(hosts));
            if let Some(g) = gateways {
                spec.insert("gateways".into(), json!(g));
            }
            spec.insert("http".into(), Value::Array(http.clone()));
            let (key, value) = document(
                ISTIO_NETWORKING,
                "VirtualService",
                namespace,
                &name,
                &owner,
                Value::Object(spec),
            );
            outputs
                .entry(cluster.to_owned())
                .or_default()
                .insert(key, value);
        };
    if rt.spec.virtual_gateways.is_empty() {
        for cluster in ws.clusters.keys() {
            if let Some(ns) = scope::config_namespace(inputs, &ws, cluster, &owner.namespace, deps)
            {
                emit(cluster, &ns, None, deps);
            }
        }
    } else {
        if bindings.is_empty() {
            findings.warn("spec.virtualGateways", "no gateway workload matches yet");
        }
        for ((cluster, ns), gateways) in &bindings {
            emit(cluster, ns, Some(gateways), deps);
        }
    }
    if !without_istio.is_empty() {
        let list: Vec<String> = without_istio.into_iter().collect();
        findings.warn(
            "metadata.namespace",
            format!(
                "Istio is not installed in cluster(s) {}: nothing translated there",
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
    use super::*;

    #[test]
    fn weights_become_percentages_summing_to_100() {
        assert_eq!(percentages(&[1, 1, 1]), Some(vec![34, 33, 33]));
        assert_eq!(percentages(&[90, 10]), Some(vec![90, 10]));
        assert_eq!(percentages(&[1, 0]), Some(vec![100, 0]));
        assert_eq!(percentages(&[0, 0]), None);
        assert_eq!(percentages(&[2, 1]), Some(vec![67, 33]));
    }
}

#[cfg(test)]
mod golden {
    use serde_json::json;

    use crate::api::TranslationState;
    use crate::translate::engine::InputChange;
    use crate::translate::inputs::{InputKind, InputRef};
    use crate::translate::output::Outputs;
    use crate::translate::testing::{resource, resource_at, two_cluster_translator, yaml};

    fn rt_ref(name: &str) -> InputRef {
        InputRef::new(InputKind::RouteTable, "bookinfo-config", name)
    }

    fn only(outputs: &Outputs, kind: &str) -> Outputs {
        outputs
            .iter()
            .map(|(c, objs)| {
                let objs = objs
                    .iter()
                    .filter(|(k, _)| k.kind == kind)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                (c.clone(), objs)
            })
            .collect()
    }

    fn with_reviews_vd() -> crate::translate::Translator {
        let mut t = two_cluster_translator();
        t.apply([InputChange::Upsert(resource(
            "VirtualDestination",
            "bookinfo-config",
            "reviews",
            json!({"hosts": ["reviews.global"], "ports": [{"number": 9080}],
                   "services": [{"namespace": "bookinfo", "labels": {"app": "reviews"}}]}),
        ))]);
        t
    }

    #[test]
    fn golden_mesh_virtual_service() {
        let mut t = with_reviews_vd();
        let delta = t.apply([InputChange::Upsert(resource(
            "RouteTable",
            "bookinfo-config",
            "reviews-routes",
            json!({
                "hosts": ["reviews.global"],
                "http": [
                    {"name": "canary",
                     "matchers": [{"uri": {"prefix": "/api"}, "headers": [
                         {"name": "X-Canary", "value": "1"},
                         {"name": "x-debug"},
                         {"name": "x-user", "value": "^bot-.*", "regex": true, "invertMatch": true}],
                       "methods": ["get", "HEAD"]}],
                     "forwardTo": {"destinations": [
                         {"name": "reviews", "weight": 2},
                         {"kind": "Service", "name": "ratings", "namespace": "bookinfo", "weight": 1}],
                       "pathRewrite": "/v2/api"},
                     "retries": {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx,reset"},
                     "timeout": "10s"},
                    {"name": "exact-and-regex",
                     "matchers": [{"uri": {"exact": "/healthz"}}, {"uri": {"regex": "/v[0-9]+/.*"}, "methods": ["POST"]}],
                     "forwardTo": {"destinations": [{"name": "reviews", "port": 9080}], "hostRewrite": "reviews.internal"}}
                ]
            }),
        ))]);
        assert_eq!(
            delta.statuses[&rt_ref("reviews-routes")].state,
            TranslationState::Accepted
        );
        insta::assert_snapshot!(yaml(&only(t.outputs(), "VirtualService")));
    }

    #[test]
    fn golden_gateway_virtual_service_binds_to_the_istio_gateway() {
        let mut t = with_reviews_vd();
        t.apply([
            InputChange::Upsert(resource(
                "VirtualGateway",
                "bookinfo-config",
                "north-south",
                json!({"workloads": [{"cluster": "cluster-1", "labels": {"istio": "ingressgateway"}}],
                       "listeners": [{"port": 80, "hosts": ["bookinfo.example.com"]}]}),
            )),
            InputChange::Upsert(resource(
                "RouteTable",
                "bookinfo-config",
                "ingress",
                json!({"hosts": ["bookinfo.example.com"], "virtualGateways": [{"name": "north-south"}],
                       "http": [{"forwardTo": {"destinations": [{"name": "reviews"}]}}]}),
            )),
        ]);
        assert_eq!(
            t.status(&rt_ref("ingress")).unwrap().state,
            TranslationState::Accepted
        );
        insta::assert_snapshot!(yaml(&only(t.outputs(), "VirtualService")));
    }

    #[test]
    fn unknown_destinations_and_gateways_are_invalid_with_the_field_named() {
        let mut t = with_reviews_vd();
        t.apply([InputChange::Upsert(resource(
            "RouteTable",
            "bookinfo-config",
            "broken",
            json!({"hosts": ["x.example.com"], "virtualGateways": [{"name": "nope"}],
                   "http": [{"forwardTo": {"destinations": [
                       {"name": "reviews", "port": 1234},
                       {"name": "missing"},
                       {"kind": "Service", "name": "ghost", "namespace": "bookinfo", "cluster": "cluster-2"}]}}]}),
        ))]);
        let status = t.status(&rt_ref("broken")).unwrap();
        assert_eq!(status.state, TranslationState::Invalid);
        let m = status.message.clone().unwrap();
        for expected in [
            "spec.http[0].forwardTo.destinations[0].port: VirtualDestination reviews has no port 1234",
            "spec.http[0].forwardTo.destinations[1].name: unknown destination: no VirtualDestination bookinfo-config/missing",
            "spec.http[0].forwardTo.destinations[2].name: unknown destination: no Service bookinfo/ghost in cluster cluster-2",
            "spec.virtualGateways[0]: unknown VirtualGateway bookinfo-config/nope",
        ] {
            assert!(m.contains(expected), "missing {expected:?} in {m}");
        }
        assert!(
            t.outputs()
                .values()
                .flatten()
                .all(|(k, _)| k.kind != "VirtualService")
        );

        // Creating the missing VirtualDestination re-translates the route table (dependency index).
        let delta = t.apply([InputChange::Upsert(resource(
            "VirtualDestination",
            "bookinfo-config",
            "missing",
            json!({"hosts": ["missing.global"], "ports": [{"number": 80}], "services": [{"name": "nothing"}]}),
        ))]);
        let m = delta.statuses[&rt_ref("broken")].message.clone().unwrap();
        assert!(!m.contains("destinations[1]"), "{m}");
    }

    #[test]
    fn a_host_claimed_twice_for_mesh_traffic_is_invalid_for_the_newer_table() {
        let mut t = with_reviews_vd();
        let spec = json!({"hosts": ["reviews.global"], "http": [{"forwardTo": {"destinations": [{"name": "reviews"}]}}]});
        t.apply([
            InputChange::Upsert(resource_at(
                "RouteTable",
                "bookinfo-config",
                "b-first",
                1,
                spec.clone(),
            )),
            InputChange::Upsert(resource_at(
                "RouteTable",
                "bookinfo-config",
                "a-second",
                2,
                spec,
            )),
        ]);
        assert_eq!(
            t.status(&rt_ref("b-first")).unwrap().state,
            TranslationState::Accepted
        );
        let second = t.status(&rt_ref("a-second")).unwrap();
        assert_eq!(second.state, TranslationState::Invalid);
        assert_eq!(
            second.message.as_deref(),
            Some(
                "spec.hosts[0]: host reviews.global is already claimed for mesh traffic by RouteTable bookinfo-config/b-first"
            )
        );
    }

    #[test]
    fn zero_weights_and_missing_ports_are_invalid() {
        let mut t = two_cluster_translator();
        t.apply([
            InputChange::Upsert(resource(
                "VirtualDestination",
                "bookinfo-config",
                "multi",
                json!({"hosts": ["multi.global"], "ports": [{"number": 80}, {"number": 81}], "services": [{}]}),
            )),
            InputChange::Upsert(resource(
                "RouteTable",
                "bookinfo-config",
                "rt",
                json!({"hosts": ["multi.global"], "http": [{"forwardTo": {"destinations": [
                    {"name": "multi", "weight": 0}, {"name": "multi", "port": 80, "weight": 0}]}}]}),
            )),
        ]);
        let m = t.status(&rt_ref("rt")).unwrap().message.clone().unwrap();
        assert!(m.contains("spec.http[0].forwardTo.destinations[0].port: required: VirtualDestination multi has several ports"), "{m}");
        assert!(
            m.contains("spec.http[0].forwardTo.destinations: weights sum to 0"),
            "{m}"
        );
    }
}
