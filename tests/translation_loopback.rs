//! Loopback test of the translation: a management server translating the platform resources of a
//! config directory, two agents whose directory sources report Services and Istio, directory sinks
//! receiving the Istio objects; the license gates it.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use meshctl::agent::source::DirSource;
use meshctl::agent::{Agent, RunningAgent, TokenSource};
use meshctl::license::{
    IssuerKeyPair, KeyOrigin, LicenseRequest, LicenseType, Product, TrustedIssuers, issue,
};
use meshctl::relay::entitlements::AnnouncedState;
use meshctl::server::config_source::ConfigSource;
use meshctl::server::license_source::{LicenseLocation, LicenseSource, entitlements_feed};
use meshctl::server::platform_source::DirPlatformSource;
use meshctl::server::store::{MemoryStateStore, StateStore};
use meshctl::server::translation::{TranslatingConfigSource, TranslationSettings};
use meshctl::server::{RelayServer, RunningServer};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const PLATFORM: &str = "apiVersion: admin.meshctl.dev/v1alpha1
kind: KubernetesCluster
metadata: {name: cluster-1, namespace: mesh-system}
spec: {}
---
apiVersion: admin.meshctl.dev/v1alpha1
kind: KubernetesCluster
metadata: {name: cluster-2, namespace: mesh-system}
spec: {}
---
apiVersion: admin.meshctl.dev/v1alpha1
kind: Workspace
metadata: {name: bookinfo, namespace: bookinfo-config}
spec:
  workloadClusters: [{name: '*', namespaces: [bookinfo]}]
";

const VIRTUAL_DESTINATION: &str = "apiVersion: networking.meshctl.dev/v1alpha1
kind: VirtualDestination
metadata: {name: reviews, namespace: bookinfo-config, generation: 1}
spec:
  hosts: [reviews.global]
  ports: [{number: 9080, protocol: HTTP}]
  services: [{labels: {app: reviews}}]
  outlierDetection: {consecutiveErrors: 3}
";

const CLUSTER_OBJECTS: &str = "apiVersion: v1
kind: Namespace
metadata: {name: bookinfo}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo, labels: {app: reviews}}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080, targetPort: 9080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: istiod, namespace: istio-system}
spec:
  selector: {matchLabels: {app: istiod}}
  template:
    metadata: {labels: {app: istiod}}
    spec: {containers: [{name: discovery, image: istio/pilot}]}
";

/// A license valid now for `products`, signed by `pair`.
fn license_from(pair: &IssuerKeyPair, products: &[Product]) -> String {
    let now = jiff::Timestamp::now();
    issue(
        &LicenseRequest {
            issuer: "loopback-test".into(),
            licensee: "Test".into(),
            license_type: LicenseType::Enterprise,
            products: products.to_vec(),
            modules: vec![],
            max_clusters: None,
            issued_at: now - jiff::SignedDuration::from_hours(1),
            expires_at: now + jiff::SignedDuration::from_hours(24),
        },
        pair,
    )
    .unwrap()
}

/// A fresh issuer, a license from it for `products`, and trust in that issuer alone.
fn license(products: &[Product]) -> (IssuerKeyPair, String, TrustedIssuers) {
    let pair = IssuerKeyPair::generate();
    let key = license_from(&pair, products);
    let mut trusted = TrustedIssuers::empty();
    trusted.add(
        pair.public_key(),
        KeyOrigin::File("test-issuer.pub.pem".into()),
    );
    (pair, key, trusted)
}

struct World {
    server: RunningServer,
    translation: TranslatingConfigSource,
    agents: Vec<RunningAgent>,
    platform_dir: PathBuf,
    sinks: Vec<PathBuf>,
    cancel: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    issuer: IssuerKeyPair,
    license_file: PathBuf,
    _tmp: tempfile::TempDir,
}

impl World {
    async fn start(products: &[Product]) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let platform_dir = tmp.path().join("platform");
        std::fs::create_dir_all(&platform_dir).unwrap();
        std::fs::write(platform_dir.join("clusters.yaml"), PLATFORM).unwrap();
        let license_file = tmp.path().join("license.key");
        let (issuer, key, trusted) = license(products);
        std::fs::write(&license_file, key).unwrap();

        let cancel = CancellationToken::new();
        let parts = ServerParts::new().await;
        let translation = TranslatingConfigSource::new(TranslationSettings::default());
        let memory: Arc<dyn StateStore> = Arc::new(MemoryStateStore::new());
        let mut tasks = vec![translation.start(memory.clone(), cancel.clone()).unwrap()];
        let (publisher, feed) = entitlements_feed();
        tasks.push(tokio::spawn(
            DirPlatformSource::new(
                platform_dir.clone(),
                "mesh-system",
                Duration::from_millis(20),
            )
            .run(translation.events(), cancel.clone()),
        ));
        tasks.push(tokio::spawn(
            LicenseSource {
                location: LicenseLocation::File(license_file.clone()),
                trusted,
                interval: Duration::from_millis(50),
                announce: Some(publisher),
            }
            .run(translation.events(), cancel.clone()),
        ));
        let mut settings = parts.settings();
        settings.session.entitlements = feed;
        let server = RelayServer {
            settings,
            pki: parts.pki.clone(),
            tokens: parts.tokens.clone(),
            store: translation.observe(memory),
            config: Arc::new(translation.clone()),
        }
        .start()
        .await
        .unwrap();

        let mut agents = Vec::new();
        let mut sinks = Vec::new();
        for cluster in ["cluster-1", "cluster-2"] {
            let source_dir = tmp.path().join(cluster).join("source");
            std::fs::create_dir_all(&source_dir).unwrap();
            std::fs::write(source_dir.join("objects.yaml"), CLUSTER_OBJECTS).unwrap();
            let source = DirSource::start(source_dir, Duration::from_millis(20), cancel.clone())
                .await
                .unwrap();
            let sink_dir = tmp.path().join(cluster).join("sink");
            let mut settings =
                agent_settings(&server, cluster, &tmp.path().join(cluster).join("state"));
            settings.token = Some(TokenSource::Literal(parts.token(cluster).await));
            let running = Agent {
                settings,
                source,
                sink: dir_sink(&sink_dir).await,
            }
            .start()
            .await
            .unwrap();
            agents.push(running);
            sinks.push(sink_dir);
        }
        Self {
            server,
            translation,
            agents,
            platform_dir,
            sinks,
            cancel,
            tasks,
            issuer,
            license_file,
            _tmp: tmp,
        }
    }

    async fn admin(&self, path: &str) -> Value {
        let (code, body) = http_get(self.server.admin_addr.unwrap(), path).await;
        assert_eq!(code, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Replaces the license file with one for `products` from the same issuer.
    fn relicense(&self, products: &[Product]) {
        std::fs::write(&self.license_file, license_from(&self.issuer, products)).unwrap();
    }

    async fn stop(self) {
        self.cancel.cancel();
        for a in self.agents {
            a.shutdown(Duration::from_secs(5)).await;
        }
        self.server.shutdown(Duration::from_secs(5)).await;
        for t in self.tasks {
            t.await.unwrap();
        }
    }
}

impl World {
    /// Every agent saw `products` (and only those) in the license the server announced, through
    /// its API, its admin endpoint and its metrics.
    async fn agents_see_products(&self, products: &[&str]) {
        // The server marks a stream connected before its Welcome reaches the agent.
        eventually("every agent got a Welcome", || {
            self.agents.iter().all(|a| a.server_license().is_some())
        })
        .await;
        for agent in &self.agents {
            let seen = agent.server_license().expect("the agent got a Welcome");
            // The test license expires within a day.
            assert_eq!(seen.license, AnnouncedState::ExpiringSoon, "{seen:?}");
            assert_eq!(
                seen.products.iter().map(String::as_str).collect::<Vec<_>>(),
                products,
                "{seen:?}"
            );
            let expires = seen.expires_at.unwrap();
            assert!(expires > jiff::Timestamp::now(), "{seen:?}");
            let admin = agent.admin_addr.unwrap();
            let (code, body) = http_get(admin, "/api/v1/license").await;
            assert_eq!(code, 200, "{body}");
            let json: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(json["license"], "expiring_soon", "{json}");
            assert_eq!(json["expires_at"], expires.to_string(), "{json}");
            assert_eq!(json["products"], serde_json::json!(products), "{json}");
            let (_, metrics) = http_get(admin, "/metrics").await;
            for p in ["mesh", "gateway", "network"] {
                let line = format!(
                    "meshctl_agent_license_product{{product=\"{p}\"}} {}",
                    u8::from(products.contains(&p))
                );
                assert!(metrics.contains(&line), "{line} not in\n{metrics}");
            }
            assert!(
                metrics.contains(
                    "meshctl_agent_license_info{state=\"expiring_soon\",modules=\"-\"} 1"
                ),
                "{metrics}"
            );
        }
    }
}

/// Kinds of the objects a directory sink holds, sorted.
fn kinds_in(dir: &Path) -> Vec<String> {
    let mut kinds: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .filter_map(|t| {
                    t.lines()
                        .find_map(|l| l.strip_prefix("kind:").map(|k| k.trim().to_owned()))
                })
                .collect()
        })
        .unwrap_or_default();
    kinds.sort();
    kinds
}

fn status_of(report: &Value, kind: &str, name: &str) -> Option<Value> {
    report["statuses"]
        .as_array()?
        .iter()
        .find(|s| s["kind"] == kind && s["name"] == name)
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_virtual_destination_reaches_both_clusters_and_is_withdrawn() {
    let world = World::start(&[Product::Mesh]).await;
    eventually("both agents connected with their snapshots", || {
        ["cluster-1", "cluster-2"].iter().all(|c| {
            world
                .server
                .registry
                .get(c)
                .is_some_and(|s| s.connected && s.snapshot_resources == 3)
        })
    })
    .await;
    world.agents_see_products(&["mesh"]).await;

    std::fs::write(world.platform_dir.join("vd.yaml"), VIRTUAL_DESTINATION).unwrap();
    eventually("ServiceEntry and DestinationRule in both sinks", || {
        world
            .sinks
            .iter()
            .all(|s| kinds_in(s) == ["DestinationRule", "ServiceEntry"])
    })
    .await;
    let se = std::fs::read_dir(&world.sinks[0])
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .find(|t| t.contains("kind: ServiceEntry"))
        .unwrap();
    assert!(se.contains("reviews.global"), "{se}");
    assert!(se.contains("reviews.bookinfo.svc.cluster.local"), "{se}");

    let statuses = world.admin("/api/v1/statuses").await;
    let vd = status_of(&statuses, "VirtualDestination", "reviews").unwrap();
    assert_eq!(vd["state"], "ACCEPTED", "{vd}");
    assert_eq!(vd["observedGeneration"], 1);
    let catalog = world.admin("/api/v1/destinations").await;
    let text = catalog.to_string();
    assert!(text.contains("reviews.global"), "{text}");
    assert!(text.contains("cluster-2"), "{text}");

    // `meshctl get destinations` reads the same catalog (JSON and table).
    let admin = world.server.admin_addr.unwrap().to_string();
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_meshctl"))
                .args(args)
                .env("NO_COLOR", "1")
                .output()
                .unwrap()
        })
    };
    let base = vec![
        "get".to_owned(),
        "destinations".to_owned(),
        "--mgmt-admin-address".to_owned(),
        admin.clone(),
    ];
    let out = run([base.clone(), vec!["-o".into(), "json".into()]].concat())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, catalog);
    let out = run(base).await.unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("bookinfo-config/reviews"), "{table}");
    assert!(table.contains("ACCEPTED"), "{table}");

    std::fs::remove_file(world.platform_dir.join("vd.yaml")).unwrap();
    eventually("objects pruned from both sinks", || {
        world.sinks.iter().all(|s| kinds_in(s).is_empty())
    })
    .await;
    let statuses = world.admin("/api/v1/statuses").await;
    assert!(status_of(&statuses, "VirtualDestination", "reviews").is_none());
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_mesh_in_the_license_the_destination_is_unlicensed_and_nothing_is_pushed() {
    let world = World::start(&[Product::Gateway]).await;
    eventually("both agents connected with their snapshots", || {
        ["cluster-1", "cluster-2"].iter().all(|c| {
            world
                .server
                .registry
                .get(c)
                .is_some_and(|s| s.connected && s.snapshot_resources == 3)
        })
    })
    .await;
    // The agents are told the license has no Mesh.
    world.agents_see_products(&["gateway"]).await;
    std::fs::write(world.platform_dir.join("vd.yaml"), VIRTUAL_DESTINATION).unwrap();
    let mut report = Value::Null;
    for _ in 0..1500 {
        report = world.admin("/api/v1/statuses").await;
        if status_of(&report, "VirtualDestination", "reviews").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let vd = status_of(&report, "VirtualDestination", "reviews").unwrap();
    assert_eq!(vd["state"], "UNLICENSED", "{vd}");
    assert!(vd["message"].as_str().unwrap().contains("Mesh"), "{vd}");
    // The translation ran and its (empty) result was pushed: configuration acknowledged by both
    // agents, and no object in any sink.
    eventually("agents hold the current configuration", || {
        ["cluster-1", "cluster-2"].iter().all(|c| {
            world
                .server
                .registry
                .get(c)
                .is_some_and(|s| s.applied_config_version.is_some())
        })
    })
    .await;
    for c in ["cluster-1", "cluster-2"] {
        assert!(world.translation.desired(c).resources.is_empty());
    }
    for s in &world.sinks {
        assert!(kinds_in(s).is_empty(), "{:?}", kinds_in(s));
    }
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_license_change_reaches_connected_agents_without_a_reconnect() {
    let world = World::start(&[Product::Mesh, Product::Gateway]).await;
    eventually("both agents connected", || {
        ["cluster-1", "cluster-2"]
            .iter()
            .all(|c| world.server.registry.get(c).is_some_and(|s| s.connected))
    })
    .await;
    world.agents_see_products(&["gateway", "mesh"]).await;
    let since: Vec<_> = ["cluster-1", "cluster-2"]
        .iter()
        .map(|c| world.server.registry.get(c).unwrap().connected_since)
        .collect();
    world.relicense(&[Product::Gateway]);
    eventually("the agents told of the license without Mesh", || {
        world.agents.iter().all(|a| {
            a.server_license()
                .is_some_and(|l| l.products.iter().map(String::as_str).eq(["gateway"]))
        })
    })
    .await;
    world.agents_see_products(&["gateway"]).await;
    // Told on the open streams: neither agent reconnected.
    let after: Vec<_> = ["cluster-1", "cluster-2"]
        .iter()
        .map(|c| world.server.registry.get(c).unwrap().connected_since)
        .collect();
    assert_eq!(since, after);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_platform_file_is_reported_and_skipped() {
    let world = World::start(&[Product::Mesh]).await;
    std::fs::write(world.platform_dir.join("bad.yaml"), "kind: [unclosed").unwrap();
    let mut report = Value::Null;
    for _ in 0..1500 {
        report = world.admin("/api/v1/statuses").await;
        if report["problems"].as_array().is_some_and(|p| !p.is_empty())
            && status_of(&report, "Workspace", "bookinfo").is_some()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let problems = report["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{report}");
    assert!(
        problems[0]["source"]
            .as_str()
            .unwrap()
            .ends_with("bad.yaml")
    );
    // The good file is still used: the workspace got a status.
    assert!(
        status_of(&report, "Workspace", "bookinfo").is_some(),
        "{report}"
    );
    world.stop().await;
}

#[test]
fn get_destinations_without_a_server_is_an_environment_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meshctl"))
        .args(["get", "destinations", "--mgmt-admin-address", &address])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("service catalog"), "{stderr}");
}
