//! End-to-end relay against a real Kubernetes API server (envtest-style: no nodes, so
//! `meshctl serve mgmt-server` and `meshctl serve agent` run as local processes with the
//! kubeconfig). Runs when `MESHCTL_E2E_KUBECONFIG` names a kubeconfig; one API server
//! (the management context, `MESHCTL_E2E_MGMT_CONTEXT`) plays both the management and
//! the workload cluster, in a namespace of its own that is deleted afterwards. Skips
//! with a printed reason otherwise.
//!
//! Covers: the server creates the relay Secrets; the agent bootstraps with the token
//! Secret (the token is then marked consumed) and stores its certificate in a Secret;
//! the namespace's Services reach the server's snapshot (`GET /api/v1/clusters`); a
//! ConfigMap pushed by the server (`--raw-config-dir`) is server-side applied in the
//! cluster with the agent's owner labels; the KubernetesCluster status shows the
//! connection and the disconnect (when the meshctl CRDs are installed).

// support::E2eEnv prints the reason for a skip on stderr.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::PostParams;
use meshctl::api::kubernetes_cluster::KubernetesCluster;
use serde_json::{Value, json};
use support::{E2eEnv, Running, TestNamespace, meshctl_bin};

const WAIT: Duration = Duration::from_secs(90);
const CLUSTER: &str = "c1";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

fn address_in(line: &str) -> String {
    line.split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("an address after 'listening on'")
        .to_string()
}

/// The server's view of `CLUSTER` from `GET /api/v1/clusters` (through `cluster list`).
fn cluster_view(admin: &str) -> Option<Value> {
    let out = Command::new(meshctl_bin())
        .env_remove("RUST_LOG")
        .args([
            "cluster",
            "list",
            "--admin-address",
            admin,
            "-o",
            "json",
            "--timeout",
            "5s",
        ])
        .output()
        .ok()?;
    let list: Value = serde_json::from_slice(&out.stdout).ok()?;
    list["clusters"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == CLUSTER)
        .cloned()
}

/// Polls `f` until it returns `Some`, or panics with `what` and the processes' logs.
fn wait_until<T>(what: &str, procs: &mut [&mut Running], mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let logs: Vec<String> = procs.iter_mut().map(|p| p.logs()).collect();
    panic!(
        "timed out waiting for {what}; logs:\n{}",
        logs.join("\n-----\n")
    );
}

fn secret(name: &str, data: Value) -> Secret {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "meshctl"}},
        "stringData": data,
    }))
    .unwrap()
}

fn service(name: &str) -> Service {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name},
        "spec": {"ports": [{"port": 80}], "selector": {"app": name}},
    }))
    .unwrap()
}

#[test]
fn server_and_agent_relay_through_kubernetes() {
    let Some(env) = E2eEnv::from_env("server_and_agent_relay_through_kubernetes") else {
        return;
    };
    let rt = runtime();
    let client = rt.block_on(env.client(false));
    let ns = rt.block_on(TestNamespace::create(client.clone(), "e2e-relay"));
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns.name);
    let services: Api<Service> = Api::namespaced(client.clone(), &ns.name);
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    let clusters: Api<KubernetesCluster> = Api::namespaced(client.clone(), &ns.name);
    let pp = PostParams::default();

    // What `meshctl cluster register` does: the token on both sides (one API server
    // here), and the KubernetesCluster when its CRD is installed.
    let token = format!("e2e-token-{}", rand::random::<u64>());
    rt.block_on(async {
        let name = format!("relay-identity-token-{CLUSTER}");
        secrets
            .create(&pp, &secret(&name, json!({"token": token})))
            .await
            .unwrap();
        secrets
            .create(
                &pp,
                &secret("relay-identity-token", json!({"token": token})),
            )
            .await
            .unwrap();
        services.create(&pp, &service("web")).await.unwrap();
    });
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let has_cluster_crd = rt
        .block_on(crds.get_opt("kubernetesclusters.admin.meshctl.dev"))
        .unwrap()
        .is_some();
    if has_cluster_crd {
        let kc: KubernetesCluster = serde_json::from_value(json!({
            "apiVersion": "admin.meshctl.dev/v1alpha1", "kind": "KubernetesCluster",
            "metadata": {"name": CLUSTER}, "spec": {}
        }))
        .unwrap();
        rt.block_on(clusters.create(&pp, &kc)).unwrap();
    } else {
        eprintln!(
            "note: the meshctl CRDs are not installed; the KubernetesCluster status is not checked"
        );
    }

    // The configuration the server pushes to the cluster.
    let config = tempfile::tempdir().unwrap();
    std::fs::create_dir(config.path().join(CLUSTER)).unwrap();
    std::fs::write(
        config.path().join(CLUSTER).join("cm.yaml"),
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: pushed\n  namespace: {}\n  labels: {{team: e2e}}\ndata:\n  greeting: hello\n",
            ns.name
        ),
    )
    .unwrap();

    let kube_args = env.mgmt_args();
    let mut server_args: Vec<&str> = kube_args.iter().map(String::as_str).collect();
    server_args.extend([
        "-n",
        &ns.name,
        "serve",
        "mgmt-server",
        "--relay-listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--raw-config-dir",
        config.path().to_str().unwrap(),
    ]);
    let mut server = Running::start(&server_args, &[]);
    let relay = address_in(&server.wait_for_line("relay listening on", WAIT));
    let admin = address_in(&server.wait_for_line("admin listening on", WAIT));

    // The relay Secrets were created in the namespace.
    rt.block_on(async {
        let root = secrets.get("relay-root-tls-secret").await.unwrap();
        let data = root.data.unwrap_or_default();
        assert!(data.contains_key("ca.crt"), "{:?}", data.keys());
        assert!(
            !data.keys().any(|k| k.ends_with(".key")),
            "the root Secret holds no key"
        );
        let signing = secrets.get("relay-tls-signing-secret").await.unwrap();
        assert!(signing.data.unwrap_or_default().contains_key("tls.key"));
        let serving = secrets.get("relay-server-tls-secret").await.unwrap();
        let data = serving.data.unwrap_or_default();
        assert!(data.contains_key("tls.crt") && data.contains_key("tls.key"));
    });

    let mut agent_args: Vec<&str> = kube_args.iter().map(String::as_str).collect();
    let source = format!("kube:{}", ns.name);
    agent_args.extend([
        "-n",
        &ns.name,
        "serve",
        "agent",
        "--cluster",
        CLUSTER,
        "--relay-address",
        &relay,
        "--source",
        &source,
        "--sink",
        "kube",
        "--admin-listen",
        "127.0.0.1:0",
    ]);
    let mut agent = Running::start(&agent_args, &[]);

    // Connected, with the namespace and its Service in the snapshot.
    let view = wait_until(
        "the agent to connect with a snapshot",
        &mut [&mut server, &mut agent],
        || {
            cluster_view(&admin).filter(|c| {
                c["connected"] == true && c["snapshot_resources"].as_u64().unwrap_or(0) >= 2
            })
        },
    );
    let before = view["snapshot_resources"].as_u64().unwrap();

    // A new Service reaches the server.
    rt.block_on(services.create(&pp, &service("web2"))).unwrap();
    wait_until(
        "the new Service in the snapshot",
        &mut [&mut server, &mut agent],
        || cluster_view(&admin).filter(|c| c["snapshot_resources"].as_u64() == Some(before + 1)),
    );

    // The pushed ConfigMap was applied by the agent, marked as its own, and acked.
    let applied = wait_until(
        "the pushed ConfigMap",
        &mut [&mut server, &mut agent],
        || rt.block_on(configmaps.get_opt("pushed")).ok().flatten(),
    );
    let labels = applied.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels
            .get("app.kubernetes.io/managed-by")
            .map(String::as_str),
        Some("meshctl")
    );
    assert_eq!(
        labels.get("meshctl.dev/owner").map(String::as_str),
        Some("agent")
    );
    assert_eq!(labels.get("team").map(String::as_str), Some("e2e"));
    assert!(
        applied
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key("meshctl.dev/config-hash")
    );
    assert_eq!(
        applied
            .data
            .unwrap_or_default()
            .get("greeting")
            .map(String::as_str),
        Some("hello")
    );
    let managers: Vec<String> = applied
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert!(
        managers.iter().any(|m| m == "meshctl-agent"),
        "{managers:?}"
    );
    wait_until("the config ack", &mut [&mut server, &mut agent], || {
        cluster_view(&admin).filter(|c| c["applied_config_version"].as_u64().is_some())
    });

    // Bootstrap consumed the token and stored the client certificate in a Secret.
    rt.block_on(async {
        let name = format!("relay-identity-token-{CLUSTER}");
        let consumed = secrets.get(&name).await.unwrap();
        assert!(
            consumed
                .metadata
                .annotations
                .unwrap_or_default()
                .contains_key("meshctl.dev/token-consumed-at")
        );
        let client_tls = secrets.get("relay-client-tls-secret").await.unwrap();
        let data = client_tls.data.unwrap_or_default();
        assert!(data.contains_key("tls.crt") && data.contains_key("tls.key"));
    });

    if has_cluster_crd {
        wait_until(
            "KubernetesCluster status connected",
            &mut [&mut server, &mut agent],
            || {
                rt.block_on(clusters.get_status(CLUSTER))
                    .ok()
                    .and_then(|kc| kc.status)
                    .filter(|s| s.connected && s.agent_version.is_some())
            },
        );
        agent.stop();
        wait_until(
            "KubernetesCluster status disconnected",
            &mut [&mut server],
            || {
                rt.block_on(clusters.get_status(CLUSTER))
                    .ok()
                    .and_then(|kc| kc.status)
                    .filter(|s| !s.connected)
            },
        );
    }
    agent.stop();
    server.stop();
    drop(ns);
}
