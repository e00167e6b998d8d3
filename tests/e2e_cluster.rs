//! End-to-end: `cluster register`, `list`, `deregister` and register again, against the API server of
//! `MESHCTL_E2E_KUBECONFIG` (contexts `MESHCTL_E2E_MGMT_CONTEXT` / `MESHCTL_E2E_REMOTE_CONTEXT`; both
//! may name the same API server: the management side and the agent then live in different
//! namespaces). No nodes are needed: the management server and the agent run as local processes
//! (`meshctl serve mgmt-server` / `meshctl serve agent`) with the kubeconfig, and register runs with
//! `--wait=false`; the test then waits for "connected" through `cluster list -o json`.
//! Skipped, with the reason printed, when the variable is unset.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::process::Output;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::Value;
use support::{E2eEnv, Running, TestNamespace};

const CLUSTER: &str = "e2e-east";

fn meshctl<S: AsRef<std::ffi::OsStr>>(env: &E2eEnv, namespace: &str, args: &[S]) -> Output {
    let mut cmd = std::process::Command::new(support::meshctl_bin());
    cmd.arg("--kubeconfig")
        .arg(&env.kubeconfig)
        .args(["-n", namespace])
        .args(args)
        .env("NO_COLOR", "1")
        .env("CI", "1")
        .env_remove("RUST_LOG")
        .env_remove("MESHCTL_NAMESPACE")
        .env_remove("MESHCTL_LICENSE_KEY")
        .env_remove("MESHCTL_TRUSTED_ISSUERS");
    cmd.output().expect("run meshctl")
}

fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "meshctl failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `--mgmt-context C --remote-context C` as the environment names them.
fn context_args(env: &E2eEnv) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(c) = &env.mgmt_context {
        args.extend(["--mgmt-context".to_owned(), c.clone()]);
    }
    if let Some(c) = &env.remote_context {
        args.extend(["--remote-context".to_owned(), c.clone()]);
    }
    args
}

fn http_ready(port: u16) -> bool {
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /readyz HTTP/1.0\r\nHost: x\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200")
}

/// The management server, run locally against the kubeconfig.
struct Server {
    process: Running,
    relay_port: u16,
    admin_port: u16,
}

fn start_server(env: &E2eEnv, namespace: &str) -> Server {
    let (relay_port, admin_port, ui_port) = (free_port(), free_port(), free_port());
    let mut args = env.mgmt_args();
    args.extend([
        "serve".to_owned(),
        "mgmt-server".to_owned(),
        format!("--namespace={namespace}"),
        format!("--relay-listen=127.0.0.1:{relay_port}"),
        format!("--admin-listen=127.0.0.1:{admin_port}"),
        format!("--ui-listen=127.0.0.1:{ui_port}"),
        "--relay-server-san=127.0.0.1".to_owned(),
        "--store=memory".to_owned(),
        "--license-secret=meshctl-license".to_owned(),
        "--license-secret-key=license-key".to_owned(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut process = Running::start(&args, &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !http_ready(admin_port) {
        assert!(
            Instant::now() < deadline,
            "the management server did not become ready; it logged:\n{}",
            process.logs()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    Server {
        process,
        relay_port,
        admin_port,
    }
}

fn start_agent(env: &E2eEnv, namespace: &str, relay_port: u16) -> Running {
    let mut args = env.remote_args();
    args.extend([
        "serve".to_owned(),
        "agent".to_owned(),
        format!("--namespace={namespace}"),
        format!("--cluster={CLUSTER}"),
        format!("--relay-address=127.0.0.1:{relay_port}"),
        "--token-secret=relay-identity-token".to_owned(),
        format!("--metrics-listen=127.0.0.1:{}", free_port()),
        format!("--admin-listen=127.0.0.1:{}", free_port()),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Running::start(&args, &[])
}

/// Polls `cluster list -o json` until the cluster is connected; panics with the agent's logs if not.
fn wait_connected(env: &E2eEnv, namespace: &str, server: &Server, agent: &mut Running) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    let admin = format!("127.0.0.1:{}", server.admin_port);
    loop {
        let mut args = vec![
            "cluster".to_owned(),
            "list".to_owned(),
            "-o".to_owned(),
            "json".to_owned(),
        ];
        args.extend(["--mgmt-admin-address".to_owned(), admin.clone()]);
        if let Some(c) = &env.mgmt_context {
            args.extend(["--mgmt-context".to_owned(), c.clone()]);
        }
        let listing: Value = serde_json::from_str(&ok(meshctl(env, namespace, &args))).unwrap();
        let row = listing["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == CLUSTER)
            .cloned();
        if let Some(row) = &row
            && row["connected"] == true
        {
            assert_eq!(row["registered"], true, "{listing}");
            return row.clone();
        }
        assert!(
            Instant::now() < deadline,
            "cluster {CLUSTER} not connected after 90s: {listing}\nagent logs:\n{}",
            agent.logs()
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

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

/// Uninstalls the management namespace when dropped (CRDs stay: other e2e tests share them).
struct Uninstall<'a> {
    env: &'a E2eEnv,
    namespace: String,
}

impl Drop for Uninstall<'_> {
    fn drop(&mut self) {
        let mut args = vec![
            "uninstall".to_owned(),
            "--yes".to_owned(),
            "--timeout".to_owned(),
            "60s".to_owned(),
        ];
        if let Some(c) = &self.env.mgmt_context {
            args.extend(["--context".to_owned(), c.clone()]);
        }
        let _ = meshctl(self.env, &self.namespace, &args);
    }
}

fn register(env: &E2eEnv, mgmt_ns: &str, agent_ns: &str, relay_port: u16) -> Value {
    let mut args = vec![
        "cluster".to_owned(),
        "register".to_owned(),
        CLUSTER.to_owned(),
        "--self".to_owned(),
        "--wait=false".to_owned(),
        "--relay-address".to_owned(),
        format!("127.0.0.1:{relay_port}"),
        "--set".to_owned(),
        format!("namespace={agent_ns}"),
        "-o".to_owned(),
        "json".to_owned(),
    ];
    args.extend(context_args(env));
    serde_json::from_str(&ok(meshctl(env, mgmt_ns, &args))).unwrap()
}

fn deregister(env: &E2eEnv, mgmt_ns: &str) -> Value {
    let mut args = vec![
        "cluster".to_owned(),
        "deregister".to_owned(),
        CLUSTER.to_owned(),
        "-o".to_owned(),
        "json".to_owned(),
    ];
    args.extend(context_args(env));
    serde_json::from_str(&ok(meshctl(env, mgmt_ns, &args))).unwrap()
}

#[tokio::test]
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
    let _uninstall = Uninstall {
        env: &env,
        namespace: mgmt_ns.clone(),
    };
    let dir = tempfile::tempdir().unwrap();
    let mut install = vec!["install".to_owned(), "--wait=false".to_owned()];
    install.extend(support::license_args(&dir, "e2e cluster"));
    if let Some(c) = &env.mgmt_context {
        install.extend(["--context".to_owned(), c.clone()]);
    }
    ok(meshctl(&env, &mgmt_ns, &install));
    let mut server = start_server(&env, &mgmt_ns);

    for round in ["first", "again"] {
        let summary = register(&env, &mgmt_ns, &agent_ns.name, server.relay_port);
        assert_eq!(summary["name"], CLUSTER, "{round}: {summary}");
        assert_eq!(summary["agent_namespace"], agent_ns.name.as_str());
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

        let mut agent = start_agent(&env, &agent_ns.name, server.relay_port);
        let row = wait_connected(&env, &mgmt_ns, &server, &mut agent);
        assert!(row["agent_version"].is_string(), "{row}");
        agent.stop();

        let report = deregister(&env, &mgmt_ns);
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
    server.process.stop();
}
