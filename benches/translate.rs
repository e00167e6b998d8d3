//! Translation benchmark: full translation and single-object incremental re-translation for 1k and 10k
//! Services across 10 clusters, with one VirtualDestination per replicated service (locality failover
//! and outlier detection) and one RouteTable per ten destinations.
//!
//! Run: `cargo bench --bench translate` (release profile). Prints a Markdown table on stdout.
//! `MESHCTL_BENCH_SAMPLES=N` changes the number of incremental samples (default 200).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use meshctl::translate::inventory::{Locality, ServiceInfo, ServicePort, TargetPort};
use meshctl::translate::{
    ClusterInventory, EntitlementView, InputChange, PlatformResource, Translator,
};
use serde_json::{Value, json};

const CLUSTERS: usize = 10;
const NAMESPACES: usize = 10;
const REGIONS: [&str; 5] = [
    "us-east1",
    "us-west1",
    "europe-west1",
    "asia-east1",
    "us-central1",
];

fn resource(kind: &str, namespace: &str, name: &str, spec: Value) -> PlatformResource {
    let body = json!({
        "metadata": {"name": name, "namespace": namespace, "generation": 1,
                     "creationTimestamp": "2026-01-01T00:00:00Z", "labels": {"team": namespace}},
        "spec": spec,
    });
    PlatformResource::from_json(kind, body.to_string().as_bytes()).unwrap()
}

fn service(cluster: usize, namespace: &str, name: &str, extra: usize) -> ServiceInfo {
    let labels: BTreeMap<String, String> = BTreeMap::from([
        ("app".to_owned(), name.to_owned()),
        ("version".to_owned(), format!("v{}", cluster % 3 + extra)),
    ]);
    ServiceInfo {
        name: name.to_owned(),
        namespace: namespace.to_owned(),
        hostname: format!("{name}.{namespace}.svc.cluster.local"),
        selector: BTreeMap::from([("app".to_owned(), name.to_owned())]),
        labels,
        ports: vec![
            ServicePort {
                name: Some("http".into()),
                port: 8080,
                protocol: "TCP".into(),
                app_protocol: Some("http".into()),
                target_port: Some(TargetPort::Number(8080)),
            },
            ServicePort {
                name: Some("grpc".into()),
                port: 9090,
                protocol: "TCP".into(),
                app_protocol: Some("grpc".into()),
                target_port: Some(TargetPort::Name("grpc".into())),
            },
        ],
        external_address: None,
    }
}

fn service_name(i: usize) -> (String, String) {
    (format!("team-{}", i % NAMESPACES), format!("svc-{i}"))
}

fn inventory(cluster: usize, per_cluster: usize) -> ClusterInventory {
    let mut inv = ClusterInventory::new(format!("cluster-{cluster}"), "cluster.local");
    inv.set_istio_present(true);
    inv.set_cilium_present(true);
    inv.set_locality(Some(Locality {
        region: REGIONS[cluster % REGIONS.len()].to_owned(),
        zone: Some(format!(
            "{}-{}",
            REGIONS[cluster % REGIONS.len()],
            ["a", "b"][cluster % 2]
        )),
    }));
    for ns in 0..NAMESPACES {
        inv.add_namespace(&format!("team-{ns}"), BTreeMap::new());
    }
    for i in 0..per_cluster {
        let (ns, name) = service_name(i);
        inv.add_service(service(cluster, &ns, &name, 0));
    }
    let mut gw = service(cluster, "istio-system", "istio-eastwestgateway", 0);
    gw.labels.insert("istio".into(), "eastwestgateway".into());
    gw.labels
        .insert("topology.istio.io/network".into(), format!("net-{cluster}"));
    gw.external_address = Some(format!("198.51.100.{cluster}"));
    inv.add_service(gw);
    inv
}

fn virtual_destination(i: usize, consecutive_errors: usize) -> PlatformResource {
    let (ns, name) = service_name(i);
    resource(
        "VirtualDestination",
        "platform-config",
        &name,
        json!({
            "hosts": [format!("{name}.{ns}.global")],
            "ports": [{"number": 8080, "protocol": "HTTP"}],
            "services": [{"namespace": ns, "name": name}],
            "failover": {"regions": [{"from": "us-east1", "to": "us-west1"}]},
            "outlierDetection": {"consecutiveErrors": consecutive_errors, "interval": "10s", "baseEjectionTime": "30s"}
        }),
    )
}

fn route_table(i: usize) -> PlatformResource {
    let (ns, a) = service_name(i * 10);
    let (_, b) = service_name(i * 10 + 1);
    resource(
        "RouteTable",
        "platform-config",
        &format!("routes-{i}"),
        json!({
            "hosts": [format!("{a}.{ns}.global")],
            "http": [{
                "name": "canary",
                "matchers": [{"uri": {"prefix": "/api"}, "headers": [{"name": "x-canary", "value": "1"}]}],
                "forwardTo": {"destinations": [{"name": a, "weight": 90}, {"name": b, "weight": 10}]},
                "retries": {"attempts": 3, "perTryTimeout": "2s"},
                "timeout": "10s"
            }, {
                "forwardTo": {"destinations": [{"name": a}]}
            }]
        }),
    )
}

struct Scenario {
    services: usize,
    changes: Vec<InputChange>,
    per_cluster: usize,
    vds: usize,
    rts: usize,
}

fn scenario(services: usize) -> Scenario {
    let per_cluster = services / CLUSTERS;
    let vds = per_cluster;
    let rts = vds / 10;
    let mut changes = Vec::new();
    for c in 0..CLUSTERS {
        changes.push(InputChange::Upsert(resource(
            "KubernetesCluster",
            "mesh-system",
            &format!("cluster-{c}"),
            json!({}),
        )));
        changes.push(InputChange::Inventory(inventory(c, per_cluster)));
    }
    changes.push(InputChange::Upsert(resource(
        "Workspace",
        "platform-config",
        "platform",
        json!({"workloadClusters": [{"name": "*", "namespaces": ["team-*"]}]}),
    )));
    for i in 0..vds {
        changes.push(InputChange::Upsert(virtual_destination(i, 5)));
    }
    for i in 0..rts {
        changes.push(InputChange::Upsert(route_table(i)));
    }
    Scenario {
        services,
        changes,
        per_cluster,
        vds,
        rts,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// A tiny deterministic generator (xorshift) so that runs are comparable.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % n as u64).unwrap()
    }
}

fn main() {
    let samples: usize = std::env::var("MESHCTL_BENCH_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "| services | clusters | VirtualDestinations | RouteTables | output objects | full translation | VD change p50 | VD change p99 | Service update p50 | Service update p99 |"
    )
    .unwrap();
    writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|").unwrap();
    for services in [1_000, 10_000] {
        let s = scenario(services);

        // Full translation: median of three fresh runs.
        let mut fulls = Vec::new();
        let mut translator = Translator::new();
        for _ in 0..3 {
            let mut t = Translator::with_entitlements(EntitlementView::all());
            let changes = s.changes.clone();
            let start = Instant::now();
            t.apply(changes);
            fulls.push(start.elapsed());
            translator = t;
        }
        fulls.sort();
        let objects: usize = translator.outputs().values().map(BTreeMap::len).sum();

        // Single VirtualDestination spec change.
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut vd_times = Vec::with_capacity(samples);
        for k in 0..samples {
            let change = InputChange::Upsert(virtual_destination(rng.below(s.vds), 6 + k));
            let start = Instant::now();
            let delta = translator.apply([change]);
            vd_times.push(start.elapsed());
            assert!(delta.retranslated >= 1);
        }
        vd_times.sort();

        // One backing Service changes in one cluster's snapshot (a label added; the server rebuilt the
        // inventory): the VirtualDestination selecting it is re-translated.
        let mut inventories: Vec<ClusterInventory> =
            (0..CLUSTERS).map(|c| inventory(c, s.per_cluster)).collect();
        let mut svc_times = Vec::with_capacity(samples);
        for k in 0..samples {
            let c = rng.below(CLUSTERS);
            let (ns, name) = service_name(rng.below(s.per_cluster));
            let mut svc = service(c, &ns, &name, 0);
            svc.labels.insert("revision".into(), k.to_string());
            inventories[c].add_service(svc);
            let change = InputChange::Inventory(inventories[c].clone());
            let start = Instant::now();
            let delta = translator.apply([change]);
            svc_times.push(start.elapsed());
            assert!(delta.retranslated >= 1);
        }
        svc_times.sort();

        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            s.services,
            CLUSTERS,
            s.vds,
            s.rts,
            objects,
            ms(fulls[1]),
            ms(percentile(&vd_times, 0.50)),
            ms(percentile(&vd_times, 0.99)),
            ms(percentile(&svc_times, 0.50)),
            ms(percentile(&svc_times, 0.99)),
        )
        .unwrap();
    }
}
