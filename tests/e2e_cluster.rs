//! End-to-end: `cluster register`, `list`, `deregister` and register again, against the API server of
//! `MESHCTL_E2E_KUBECONFIG` (contexts `MESHCTL_E2E_MGMT_CONTEXT` / `MESHCTL_E2E_REMOTE_CONTEXT`; both
//! may name the same API server: the management side and the agent then live in different
//! namespaces). No nodes are needed: the management server and the agent run as local processes
//! (`meshctl serve mgmt-server` / `meshctl serve agent`) with the kubeconfig, and register runs with
//! `--wait=false`; the test then waits for "connected" through `cluster list -o json`.
//! Skipped, with the reason printed, when the variable is unset.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::Value;
use support::mesh::{
    AgentOptions, Installation, LocalAgent, LocalServer, Registration, ServerOptions, TestIssuer,
    wait_connected,
};
use support::{E2eEnv, TestNamespace};

const CLUSTER: &str = "e2e-east";

/// Everything on the API server labelled for the cluster, and the registration Secrets by name.
async fn leftovers(
    mgmt: &kube::Client,
    remote: &kube::Client,
    mgmt_ns: &str,
    agent_ns: &str,
) -> Vec<String> {
    let selector = format!("meshctl.dev/cluster={CLUSTER}");
    let mut found = Vec::new();
    for client in [mgmt, remote] {
        for kind in meshctl::kube::resources::builtin() {
            if matches!(
                kind.resource.kind.as_str(),
                "Namespace" | "CustomResourceDefinition"
            ) {
                continue;
            }
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &kind.resource);
            for item in api
                .list_metadata(&ListParams::default().labels(&selector))
                .await
                .unwrap()
                .items
                .into_iter()
                // Only this run's namespaces (a namespace of an earlier run may still be terminating).
                .filter(|i| {
                    i.metadata
                        .namespace
                        .as_deref()
                        .is_none_or(|ns| ns == mgmt_ns || ns == agent_ns)
                })
            {
                found.push(format!(
                    "{} {:?}/{}",
                    kind.resource.kind,
                    item.metadata.namespace,
                    item.metadata.name.unwrap_or_default()
                ));
            }
        }
    }
    let kcs: Api<meshctl::api::KubernetesCluster> = Api::namespaced(mgmt.clone(), mgmt_ns);
    if kcs.get_opt(CLUSTER).await.unwrap().is_some() {
        found.push(format!("KubernetesCluster {mgmt_ns}/{CLUSTER}"));
    }
    let secrets: Api<Secret> = Api::namespaced(mgmt.clone(), mgmt_ns);
    if secrets
        .get_opt(&format!("relay-identity-token-{CLUSTER}"))
        .await
        .unwrap()
        .is_some()
    {
        found.push("mgmt token Secret".into());
    }
    let secrets: Api<Secret> = Api::namespaced(remote.clone(), agent_ns);
    for name in ["relay-identity-token", "relay-client-tls-secret"] {
        if secrets.get_opt(name).await.unwrap().is_some() {
            found.push(format!("Secret {agent_ns}/{name}"));
        }
    }
    found
}

// A multi-threaded runtime: the helpers block (processes, polling) while kube clients of this
// runtime stay usable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_connects_deregister_leaves_nothing_and_register_works_again() {
    let Some(env) =
        E2eEnv::from_env("register_connects_deregister_leaves_nothing_and_register_works_again")
    else {
        return;
    };
    let mgmt = env.client(false).await;
    let remote = env.client(true).await;
    let mgmt_ns = format!("e2e-cluster-mgmt-{:06}", rand::random::<u32>() % 1_000_000);
    let agent_ns = TestNamespace::create(remote.clone(), "e2e-cluster-agent").await;
    let dir = tempfile::tempdir().unwrap();
    let issuer = TestIssuer::new(dir.path());
    // install creates the namespace, the CRDs and the server Deployment register looks for; the
    // Deployment never becomes available (no nodes): register only warns about that.
    let _installation = Installation::install(
        &env,
        &mgmt_ns,
        &issuer,
        &issuer.valid_license("e2e cluster"),
    );
    // The server creates relay-root-tls-secret, which register copies to the agent namespace.
    let mut server = LocalServer::start(
        &env,
        &mgmt_ns,
        &ServerOptions::installed(&issuer.trust_file),
    );
    let mut registration = Registration::new(&env, &mgmt_ns, &agent_ns.name, CLUSTER);

    for round in ["first", "again"] {
        let summary = registration.register(&server.relay);
        assert_eq!(summary["name"], CLUSTER, "{round}: {summary}");
        assert_eq!(summary["mgmt_namespace"], mgmt_ns.as_str(), "{summary}");
        assert_eq!(
            summary["agent_namespace"],
            agent_ns.name.as_str(),
            "{summary}"
        );
        assert_eq!(
            summary["relay_address"]["address"],
            server.relay.as_str(),
            "{summary}"
        );
        assert_eq!(summary["connected"], Value::Null);
        let written: Vec<String> = summary["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                format!(
                    "{} {}",
                    o["kind"].as_str().unwrap(),
                    o["name"].as_str().unwrap()
                )
            })
            .collect();
        for expected in [
            format!("KubernetesCluster {CLUSTER}"),
            format!("Secret relay-identity-token-{CLUSTER}"),
            "Secret relay-root-tls-secret".to_owned(),
            "Secret relay-identity-token".to_owned(),
            "Deployment mesh-agent".to_owned(),
        ] {
            assert!(
                written.contains(&expected),
                "{round}: {expected} missing from {written:?}"
            );
        }
        // The same CA, and only the CA, on the remote.
        let copied: Api<Secret> = Api::namespaced(remote.clone(), &agent_ns.name);
        let ca = copied.get("relay-root-tls-secret").await.unwrap();
        assert_eq!(ca.data.unwrap().keys().collect::<Vec<_>>(), ["ca.crt"]);

        // The agent as the Deployment register wrote would run it, as a local process.
        let mut agent = LocalAgent::start(
            &env,
            &agent_ns.name,
            CLUSTER,
            &server.relay,
            &AgentOptions::default(),
        );
        let row = wait_connected(&env, &mut server, &mut agent);
        assert_eq!(row["registered"], true, "{row}");
        assert_eq!(
            row["agent_version"],
            meshctl::version::VERSION,
            "{round}: {row}"
        );
        agent.stop();

        let report = registration.deregister();
        let removed: Vec<&str> = report["removed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert!(
            removed.contains(&"mesh-agent") && removed.contains(&CLUSTER),
            "{round}: {report}"
        );
        assert_eq!(
            leftovers(&mgmt, &remote, &mgmt_ns, &agent_ns.name).await,
            Vec::<String>::new(),
            "{round}: deregister left objects behind"
        );
    }
    server.stop();
}
