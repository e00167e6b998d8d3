//! End-to-end relay against a real Kubernetes API server (scripts/e2e-cluster.sh; no container
//! runs there, so `meshctl serve mgmt-server` and `meshctl serve agent` run as local processes
//! with the kubeconfig). Runs when `MESHCTL_E2E_KUBECONFIG` names a kubeconfig; one API server
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

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::PostParams;
use meshctl::api::kubernetes_cluster::KubernetesCluster;
use serde_json::{Value, json};
use support::mesh::{
    AgentOptions, LocalAgent, LocalServer, ServerOptions, cluster_row, wait_until,
};
use support::{E2eEnv, TestNamespace};

const WAIT: Duration = Duration::from_secs(90);
const CLUSTER: &str = "c1";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
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
    // One cluster plays both sides here: the agent (which LocalAgent runs with the workload
    // context) works in the management context too, beside the server's Secrets.
    let env = E2eEnv {
        remote_context: env.mgmt_context.clone(),
        ..env
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

    // The server as a local process (Kubernetes mode: PKI and tokens in Secrets of the
    // namespace), pushing the directory verbatim; relay and admin on 127.0.0.1, port 0.
    let mut server = LocalServer::start(
        &env,
        &ns.name,
        &ServerOptions {
            raw_config_dir: Some(config.path().to_path_buf()),
            ..ServerOptions::default()
        },
    );
    let admin = server.admin.clone();
    let cluster_view = |admin: &str| cluster_row(&env, &ns.name, admin, CLUSTER);

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

    // The agent in the same namespace: the token Secret above, the CA from the server's
    // relay-root-tls-secret; it watches only this namespace and applies what it receives.
    let mut agent = LocalAgent::start(
        &env,
        &ns.name,
        CLUSTER,
        &server.relay,
        &AgentOptions::default(),
    );

    // Connected, with the namespace and its Service in the snapshot.
    let view = wait_until(
        "the agent to connect with a snapshot",
        WAIT,
        &mut [&mut server.process, &mut agent.process],
        || {
            cluster_view(&admin).filter(|c| {
                c["connected"] == true && c["snapshot_resources"].as_u64().unwrap_or(0) >= 2
            })
        },
    );
    let before = view["snapshot_resources"].as_u64().unwrap();

    // A new Service reaches the server.
    rt.block_on(services.create(&pp, &service("web2"))).unwrap();
    // At least one more: the snapshot also reports Istio and Cilium CRDs cluster-wide, which a
    // concurrent test on the shared API server may install.
    wait_until(
        "the new Service in the snapshot",
        WAIT,
        &mut [&mut server.process, &mut agent.process],
        || cluster_view(&admin).filter(|c| c["snapshot_resources"].as_u64().unwrap_or(0) > before),
    );

    // The pushed ConfigMap was applied by the agent, marked as its own, and acked.
    let applied = wait_until(
        "the pushed ConfigMap",
        WAIT,
        &mut [&mut server.process, &mut agent.process],
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
    wait_until(
        "the config ack",
        WAIT,
        &mut [&mut server.process, &mut agent.process],
        || cluster_view(&admin).filter(|c| c["applied_config_version"].as_u64().is_some()),
    );

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
            WAIT,
            &mut [&mut server.process, &mut agent.process],
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
            WAIT,
            &mut [&mut server.process],
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
    if has_cluster_crd {
        // The namespace never finishes deleting without a namespace controller: remove the
        // registration itself, so no stale KubernetesCluster outlives the test.
        rt.block_on(clusters.delete(CLUSTER, &Default::default()))
            .unwrap();
    }
    drop(ns);
}
