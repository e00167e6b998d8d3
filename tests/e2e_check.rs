//! End-to-end `meshctl check` against a real Kubernetes API server (scripts/e2e-cluster.sh: etcd,
//! kube-apiserver, controller-manager, scheduler and kwok's simulated node). Runs when `MESHCTL_E2E_KUBECONFIG` names a kubeconfig
//! (context: `MESHCTL_E2E_MGMT_CONTEXT`, default the current one); skips with a printed reason
//! otherwise. Each test works in its own namespace and deletes it.

// support::E2eEnv prints the reason for a skip on stderr.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod support;

use std::collections::BTreeMap;

use assert_cmd::Command;
use serde_json::{Value, json};
use support::{E2eEnv, TestNamespace};

fn meshctl(env: &E2eEnv, namespace: &str) -> Command {
    let mut cmd = Command::new(support::meshctl_bin());
    cmd.env_remove("RUST_LOG")
        .env_remove("MESHCTL_NAMESPACE")
        .env("NO_COLOR", "1")
        .args(env.mgmt_args())
        .args(["-n", namespace, "check"]);
    cmd
}

/// Runs `meshctl check ARGS -o json` and returns (exit code, report).
fn check_json(env: &E2eEnv, namespace: &str, args: &[&str]) -> (i32, Value) {
    let out = meshctl(env, namespace)
        .args(args)
        .args(["-o", "json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}); stdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let code = out.status.code().unwrap();
    // The exit code and the document agree.
    assert_eq!(code == 0, report["success"] == true, "{report:#}");
    (code, report)
}

fn by_id(report: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for category in report["categories"].as_array().unwrap() {
        for check in category["checks"].as_array().unwrap() {
            out.insert(check["id"].as_str().unwrap().to_string(), check.clone());
        }
    }
    out
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// Deletes a Deployment when dropped (so also when the test fails).
struct DeleteOnDrop {
    client: kube::Client,
    namespace: String,
    name: String,
}

impl Drop for DeleteOnDrop {
    fn drop(&mut self) {
        let api: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
            kube::Api::namespaced(self.client.clone(), &self.namespace);
        let name = self.name.clone();
        support::on_own_runtime(async move {
            let _ = api.delete(&name, &Default::default()).await;
        });
    }
}

#[test]
fn pre_install_on_a_cluster_without_a_cloud_provider() {
    let Some(env) = E2eEnv::from_env("pre_install_on_a_cluster_without_a_cloud_provider") else {
        return;
    };
    let rt = runtime();
    let ns = rt
        .block_on(async { TestNamespace::create(env.client(false).await, "e2e-check-pre").await });
    let (_, report) = check_json(&env, &ns.name, &["--pre", "--wait=0s"]);
    let checks = by_id(&report);
    assert_eq!(checks["kubernetes-api"]["result"], "passed", "{report:#}");
    // meshctl is tested up to kubernetes::MAX_MINOR; a newer test server is a warning, not a failure.
    let version = &checks["kubernetes-version"];
    assert!(
        version["result"] == "passed"
            || (version["result"] == "warning"
                && version["message"]
                    .as_str()
                    .unwrap()
                    .contains("newer than the tested")),
        "{report:#}"
    );
    // The e2e identity is an administrator of its test API server.
    assert_eq!(checks["permissions"]["result"], "passed", "{report:#}");
    // kwok's node has no spec.providerID and nothing assigns LoadBalancer addresses: the check
    // cannot know whether a load-balancer controller runs, and says so as a warning.
    assert_eq!(checks["load-balancer"]["result"], "warning", "{report:#}");
    assert!(
        checks["load-balancer"]["message"]
            .as_str()
            .unwrap()
            .contains("no cloud provider"),
        "{report:#}"
    );
    // Other tests may have installed meshctl elsewhere on a shared server; then the conflict
    // check must name that installation.
    let conflicts = &checks["no-conflicting-install"];
    if conflicts["result"] != "passed" {
        assert!(
            conflicts["message"]
                .as_str()
                .unwrap()
                .contains("Deployment"),
            "{report:#}"
        );
    }
    // Warnings fail the run only with --fail-on-warnings.
    let (code, _) = check_json(
        &env,
        &ns.name,
        &["--pre", "--wait=0s", "--fail-on-warnings"],
    );
    assert_eq!(code, 1);
    drop(ns);
}

#[test]
fn nothing_installed_fails_and_skips_what_depends_on_it() {
    let Some(env) = E2eEnv::from_env("nothing_installed_fails_and_skips_what_depends_on_it") else {
        return;
    };
    let rt = runtime();
    let ns = rt.block_on(async {
        TestNamespace::create(env.client(false).await, "e2e-check-empty").await
    });
    let (code, report) = check_json(&env, &ns.name, &["--wait=0s"]);
    assert_eq!(code, 1, "{report:#}");
    let checks = by_id(&report);
    assert_eq!(checks["kubernetes-api"]["result"], "passed", "{report:#}");
    assert_eq!(checks["install"]["result"], "failed", "{report:#}");
    assert!(
        checks["install"]["message"]
            .as_str()
            .unwrap()
            .contains(&ns.name),
        "{report:#}"
    );
    for id in ["install-available", "install-pods", "install-images"] {
        assert_eq!(checks[id]["result"], "skipped", "{id}: {report:#}");
    }
    // No mesh-mgmt-server Service in this namespace: the admin API is unreachable and the
    // other relay checks are skipped, not passed.
    assert_eq!(checks["relay-admin"]["result"], "failed", "{report:#}");
    assert_eq!(
        checks["relay-clusters-connected"]["result"], "skipped",
        "{report:#}"
    );
    drop(ns);
}

#[test]
fn an_unavailable_deployment_of_another_version_is_named() {
    let Some(env) = E2eEnv::from_env("an_unavailable_deployment_of_another_version_is_named")
    else {
        return;
    };
    let rt = runtime();
    let client = rt.block_on(env.client(false));
    let ns = rt.block_on(async {
        let ns = TestNamespace::create(client.clone(), "e2e-check-install").await;
        // Its pod selects a node that does not exist: it stays Pending, and the Deployment never
        // becomes available.
        let deployment: k8s_openapi::api::apps::v1::Deployment = serde_json::from_value(json!({
            "metadata": {"name": "mesh-mgmt-server", "labels": {
                "app.kubernetes.io/part-of": "meshctl", "app.kubernetes.io/managed-by": "meshctl",
                "meshctl.dev/version": "0.0.0-e2e"}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "mesh-mgmt-server"}},
                "template": {"metadata": {"labels": {"app": "mesh-mgmt-server"}},
                    "spec": {"nodeSelector": {"meshctl.dev/e2e-no-such-node": "true"},
                        "containers": [{"name": "server", "image": "ghcr.io/meshctl/meshctl:0.0.0-e2e"}]}}}
        }))
        .unwrap();
        kube::Api::namespaced(client.clone(), &ns.name)
            .create(&Default::default(), &deployment)
            .await
            .unwrap();
        ns
    });
    // Delete the Deployment itself as well: while its namespace terminates it would still count as
    // a meshctl installation in other tests' conflict checks.
    let _deployment = DeleteOnDrop {
        client: client.clone(),
        namespace: ns.name.clone(),
        name: "mesh-mgmt-server".to_owned(),
    };
    let (code, report) = check_json(&env, &ns.name, &["--wait=0s"]);
    assert_eq!(code, 1, "{report:#}");
    let checks = by_id(&report);
    assert_eq!(checks["install"]["result"], "passed", "{report:#}");
    assert_eq!(
        checks["install-available"]["result"], "failed",
        "{report:#}"
    );
    let message = checks["install-available"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("Deployment {}/mesh-mgmt-server", ns.name)),
        "{message}"
    );
    assert_eq!(checks["install-images"]["result"], "warning", "{report:#}");
    assert!(
        checks["install-images"]["message"]
            .as_str()
            .unwrap()
            .contains("0.0.0-e2e"),
        "{report:#}"
    );
    drop(ns);
}

/// check's truth table, last row: an API server that does not answer is an environment error
/// (exit 3), not a failed check (exit 1). The e2e kubeconfig with its servers moved to a port on
/// which nothing listens.
#[test]
fn an_unreachable_api_server_is_an_environment_error() {
    let Some(env) = E2eEnv::from_env("an_unreachable_api_server_is_an_environment_error") else {
        return;
    };
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let text = std::fs::read_to_string(&env.kubeconfig).unwrap();
    let mut kubeconfig = kube::config::Kubeconfig::from_yaml(&text).unwrap();
    for named in &mut kubeconfig.clusters {
        if let Some(cluster) = named.cluster.as_mut() {
            cluster.server = Some(format!("https://127.0.0.1:{port}"));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unreachable.kubeconfig");
    std::fs::write(&path, serde_json::to_vec(&kubeconfig).unwrap()).unwrap();
    let unreachable = E2eEnv {
        kubeconfig: path,
        ..env
    };
    let out = meshctl(&unreachable, "mesh-system")
        .args(["--wait=0s", "-o", "json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(3),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        format!("{stdout}{stderr}").contains(&format!("127.0.0.1:{port}")),
        "the error names the unreachable server:\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
}
