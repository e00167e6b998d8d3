//! `meshctl cluster register|deregister|list` from the outside: bad input and what it exits with.

#![allow(clippy::unwrap_used)] // tests may unwrap

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use assert_cmd::Command;

fn meshctl() -> Command {
    let mut cmd = Command::cargo_bin("meshctl").unwrap();
    cmd.env_remove("RUST_LOG")
        .env_remove("MESHCTL_NAMESPACE")
        .env("NO_COLOR", "1")
        .env("CI", "1");
    cmd
}

fn kubeconfig(dir: &tempfile::TempDir, server: &str) -> std::path::PathBuf {
    let path = dir.path().join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\ncontexts:\n- name: mgmt\n  context: {{cluster: c, user: u}}\n- name: also-mgmt\n  context: {{cluster: c, user: u}}\ncurrent-context: mgmt\nusers:\n- name: u\n  user: {{token: t}}\n"
        ),
    )
    .unwrap();
    path
}

fn unused_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A plain-HTTP stand-in for an API server: answers `/version` and the kube-system namespace.
fn fake_api_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).is_err() || header == "\r\n" || header.is_empty() {
                    break;
                }
            }
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .to_owned();
            let body = if path.starts_with("/version") {
                r#"{"major":"1","minor":"33","gitVersion":"v1.33.0","gitCommit":"x","gitTreeState":"clean","buildDate":"2026-01-01T00:00:00Z","goVersion":"go1.24","compiler":"gc","platform":"linux/amd64"}"#.to_owned()
            } else if path.starts_with("/api/v1/namespaces/kube-system") {
                r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"kube-system","uid":"same-uid"}}"#.to_owned()
            } else {
                r#"{"kind":"Status","apiVersion":"v1","status":"Failure","code":404,"reason":"NotFound","message":"not found"}"#.to_owned()
            };
            let status = if body.contains("\"code\":404") {
                "404 Not Found"
            } else {
                "200 OK"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    address
}

#[test]
fn an_invalid_name_is_a_usage_error_before_any_cluster_is_touched() {
    let out = meshctl()
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .args(["cluster", "register", "East_1"])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert!(err.contains("is not a DNS label"), "{err}");
    meshctl()
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .args(["cluster", "deregister", "-x"])
        .assert()
        .code(2);
}

#[test]
fn a_bad_relay_address_is_a_usage_error() {
    let out = meshctl()
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .args(["cluster", "register", "east", "--relay-address", "relay"])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8(out).unwrap().contains("is not HOST:PORT"));
}

#[test]
fn an_unknown_context_lists_the_available_ones_with_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let config = kubeconfig(&dir, &format!("https://127.0.0.1:{}", unused_port()));
    for args in [
        vec!["cluster", "register", "east", "--remote-context", "nope"],
        vec!["cluster", "list", "--mgmt-context", "nope"],
        vec!["cluster", "deregister", "east", "--mgmt-context", "nope"],
    ] {
        let out = meshctl()
            .arg("--kubeconfig")
            .arg(&config)
            .args(&args)
            .assert()
            .code(3)
            .get_output()
            .stderr
            .clone();
        let err = String::from_utf8(out).unwrap();
        assert!(
            err.contains("context 'nope' not found")
                && err.contains("available contexts: mgmt, also-mgmt"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn an_unreachable_cluster_is_an_environment_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = kubeconfig(&dir, &format!("https://127.0.0.1:{}", unused_port()));
    let out = meshctl()
        .arg("--kubeconfig")
        .arg(&config)
        .args(["--request-timeout", "5s", "cluster", "register", "east"])
        .assert()
        .code(3)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert!(
        err.contains("cannot reach the management cluster (current context)"),
        "{err}"
    );
}

#[test]
fn the_management_cluster_as_remote_needs_self() {
    let dir = tempfile::tempdir().unwrap();
    let config = kubeconfig(&dir, &fake_api_server());
    let out = meshctl()
        .arg("--kubeconfig")
        .arg(&config)
        .args([
            "cluster",
            "register",
            "east",
            "--mgmt-context",
            "mgmt",
            "--remote-context",
            "also-mgmt",
        ])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert!(
        err.contains("the remote context (also-mgmt) points at the management cluster (mgmt): same kube-system namespace UID")
            && err.contains("Pass --self"),
        "{err}"
    );
    // With --self it gets past that check, to the next one: no management server installed.
    let out = meshctl()
        .arg("--kubeconfig")
        .arg(&config)
        .args(["cluster", "register", "east", "--self"])
        .assert()
        .code(3)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert!(
        err.contains("management server is not installed in namespace mesh-system"),
        "{err}"
    );
}

#[test]
fn mgmt_only_and_remote_context_conflict() {
    meshctl()
        .args([
            "cluster",
            "deregister",
            "east",
            "--mgmt-only",
            "--remote-context",
            "x",
        ])
        .assert()
        .code(2);
}

#[test]
fn list_exits_zero_and_warns_when_nothing_can_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let config = kubeconfig(&dir, &fake_api_server());
    let out = meshctl()
        .arg("--kubeconfig")
        .arg(&config)
        .args(["cluster", "list"])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stdout.contains("No clusters registered"), "{stdout}");
    assert!(
        stderr.contains("warning: cannot list the registrations"),
        "{stderr}"
    );
    assert!(
        stderr.contains("mesh-mgmt-server-admin") && stderr.contains("showing registrations only"),
        "{stderr}"
    );
    let out = meshctl()
        .arg("--kubeconfig")
        .arg(&config)
        .args(["cluster", "list", "-o", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json["clusters"], serde_json::json!([]));
    assert_eq!(json["warnings"].as_array().unwrap().len(), 2);
}

type Log = std::sync::Arc<std::sync::Mutex<Vec<(String, String, serde_json::Value)>>>;

/// A plain-HTTP API server answering with `respond(method, path, body)`, logging every request.
fn scripted_api_server(
    respond: fn(&str, &str, &serde_json::Value) -> (u16, serde_json::Value),
) -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let log: Log = Log::default();
    let requests = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let requests = requests.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut length = 0usize;
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                            break;
                        }
                        if let Some((name, value)) = header.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            length = value.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0u8; length];
                    if std::io::Read::read_exact(&mut reader, &mut body).is_err() {
                        return;
                    }
                    let body: serde_json::Value =
                        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                    let mut parts = request_line.split_whitespace();
                    let method = parts.next().unwrap_or("").to_owned();
                    let path = parts.next().unwrap_or("").to_owned();
                    let (code, answer) = respond(&method, &path, &body);
                    requests.lock().unwrap().push((method, path, body));
                    let answer = answer.to_string();
                    if write!(
                        stream,
                        "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                        answer.len()
                    )
                    .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (address, log)
}

fn api_answer(method: &str, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    use serde_json::json;
    let not_found = (
        404,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404, "reason": "NotFound", "message": "not found"}),
    );
    let path_only = path.split('?').next().unwrap_or(path);
    match (method, path_only) {
        ("GET", "/version") => (
            200,
            json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0", "gitCommit": "x", "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64"}),
        ),
        ("GET", "/api/v1/namespaces/kube-system") => (
            200,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system", "uid": "u1"}}),
        ),
        ("GET", "/apis/apps/v1/namespaces/mesh-system/deployments/mesh-mgmt-server") => (
            200,
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "mesh-mgmt-server", "labels": {"meshctl.dev/version": "0.1.0"}},
            "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "s", "image": "reg.example.com/meshctl:0.1.0"}]}}}}),
        ),
        ("GET", "/api/v1/namespaces/mesh-system/secrets/relay-root-tls-secret") => (
            200,
            json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "relay-root-tls-secret"}, "data": {"ca.crt": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="}}),
        ),
        ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews") => {
            let mut answer = body.clone();
            answer["status"] = json!({"allowed": true});
            (201, answer)
        }
        ("GET", "/api/v1/secrets") => (
            200,
            json!({"kind": "SecretList", "apiVersion": "v1", "metadata": {}, "items": []}),
        ),
        ("POST" | "PATCH", _) => {
            let mut answer = body.clone();
            if answer.get("metadata").is_some() {
                answer["metadata"]["resourceVersion"] = json!("1");
            }
            (201, answer)
        }
        _ => not_found,
    }
}

#[test]
fn register_writes_both_clusters_in_order_over_the_api() {
    let (server, log) = scripted_api_server(api_answer);
    let dir = tempfile::tempdir().unwrap();
    let config = kubeconfig(&dir, &server);
    let out = meshctl()
        .arg("--kubeconfig")
        .arg(&config)
        .args([
            "cluster",
            "register",
            "east",
            "--self",
            "--wait=false",
            "--relay-address",
            "10.0.0.1:9900",
            "--set",
            "namespace=agents",
            "-o",
            "json",
        ])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["token"], "created", "{summary}");
    assert_eq!(summary["agent_namespace"], "agents");
    let written: Vec<String> = summary["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            format!(
                "{} {} {}",
                o["cluster"].as_str().unwrap(),
                o["kind"].as_str().unwrap(),
                o["name"].as_str().unwrap()
            )
        })
        .collect();
    for expected in [
        "mgmt Secret relay-identity-token-east",
        "mgmt KubernetesCluster east",
        "remote Namespace agents",
        "remote Secret relay-root-tls-secret",
        "remote Secret relay-identity-token",
        "remote Deployment mesh-agent",
        "remote ClusterRole meshctl:agents:agent",
    ] {
        assert!(
            written.contains(&expected.to_owned()),
            "{expected} missing: {written:?}"
        );
    }
    let writes: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|(m, p, _)| m != "GET" && !p.contains("selfsubjectaccessreviews"))
        .map(|(m, p, _)| format!("{m} {}", p.split('?').next().unwrap()))
        .collect();
    // Management side first (token, then the KubernetesCluster), then the workload cluster.
    assert_eq!(writes[0], "POST /api/v1/namespaces/mesh-system/secrets");
    assert_eq!(
        writes[1],
        "PATCH /apis/admin.meshctl.dev/v1alpha1/namespaces/mesh-system/kubernetesclusters/east"
    );
    assert_eq!(writes[2], "PATCH /api/v1/namespaces/agents");
    assert_eq!(
        writes[3],
        "PATCH /api/v1/namespaces/agents/secrets/relay-root-tls-secret"
    );
    assert_eq!(
        writes.last().unwrap(),
        "PATCH /apis/apps/v1/namespaces/agents/deployments/mesh-agent"
    );
    let requests = log.lock().unwrap().clone();
    let (_, _, deployment) = requests
        .iter()
        .rev()
        .find(|(m, p, _)| m == "PATCH" && p.contains("/deployments/mesh-agent"))
        .unwrap();
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "reg.example.com/meshctl:0.1.0");
    assert!(
        container["args"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("--relay-address=10.0.0.1:9900"))
    );
    let (_, _, ca) = requests
        .iter()
        .find(|(m, p, _)| m == "PATCH" && p.contains("relay-root-tls-secret"))
        .unwrap();
    assert_eq!(ca["data"].as_object().unwrap().len(), 1);
    // Nothing printed as a warning about the address: 10.0.0.1 is reachable.
    assert!(!String::from_utf8(out.stderr).unwrap().contains("loopback"));
}

fn deregister_answer(
    method: &str,
    path: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    use serde_json::json;
    let labels = json!({"app.kubernetes.io/managed-by": "meshctl", "app.kubernetes.io/component": "agent", "meshctl.dev/cluster": "east"});
    let mgmt_labels = json!({"app.kubernetes.io/managed-by": "meshctl", "app.kubernetes.io/component": "cluster-registration", "meshctl.dev/cluster": "east"});
    let path_only = path.split('?').next().unwrap_or(path);
    let list = |kind: &str, items: serde_json::Value| {
        (
            200,
            json!({"kind": kind, "apiVersion": "v1", "metadata": {}, "items": items}),
        )
    };
    match (method, path_only) {
        (
            "GET",
            "/apis/admin.meshctl.dev/v1alpha1/namespaces/mesh-system/kubernetesclusters/east",
        ) => (
            200,
            json!({
            "apiVersion": "admin.meshctl.dev/v1alpha1", "kind": "KubernetesCluster",
            "metadata": {"name": "east", "namespace": "mesh-system", "labels": mgmt_labels, "annotations": {"meshctl.dev/agent-namespace": "agents"}}, "spec": {}}),
        ),
        ("GET", "/api/v1/namespaces/mesh-system/secrets/relay-identity-token-east") => (
            200,
            json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "relay-identity-token-east", "namespace": "mesh-system", "labels": mgmt_labels}}),
        ),
        ("GET", "/apis/apps/v1/deployments") => list(
            "DeploymentList",
            json!([{"metadata": {"name": "mesh-agent", "namespace": "agents", "labels": labels}}]),
        ),
        ("GET", "/api/v1/secrets") => list(
            "SecretList",
            json!([{"metadata": {"name": "relay-identity-token", "namespace": "agents", "labels": labels}}]),
        ),
        ("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles") => list(
            "ClusterRoleList",
            json!([{"metadata": {"name": "meshctl:agents:agent", "labels": labels}}]),
        ),
        ("GET", p)
            if p.starts_with("/api")
                && !p.contains("/namespaces/")
                && p.matches('/').count() <= 5 =>
        {
            list("List", json!([]))
        }
        ("DELETE", _) => (
            200,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
        ),
        _ => api_answer(method, path, body),
    }
}

#[test]
fn deregister_removes_by_label_on_both_clusters_and_reports_each() {
    let (server, log) = scripted_api_server(deregister_answer);
    let dir = tempfile::tempdir().unwrap();
    let config = kubeconfig(&dir, &server);
    let out = meshctl()
        .arg("--kubeconfig")
        .arg(&config)
        .args(["cluster", "deregister", "east", "-o", "json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let removed: Vec<String> = report["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r["cluster"].as_str().unwrap(),
                r["kind"].as_str().unwrap(),
                r["name"].as_str().unwrap(),
                r["result"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        removed,
        [
            "remote Deployment mesh-agent deleted",
            "remote ClusterRole meshctl:agents:agent deleted",
            "remote Secret relay-identity-token deleted",
            "mgmt Secret relay-identity-token-east deleted",
            "mgmt KubernetesCluster east deleted",
        ],
        "{report}"
    );
    let deletes: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .filter(|(m, _, _)| m == "DELETE")
        .map(|(_, p, _)| p.split('?').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        deletes[0],
        "/apis/apps/v1/namespaces/agents/deployments/mesh-agent"
    );
    assert_eq!(
        deletes.last().unwrap(),
        "/apis/admin.meshctl.dev/v1alpha1/namespaces/mesh-system/kubernetesclusters/east"
    );

    // --mgmt-only: the management side only, and a warning naming what is left.
    let (server, log) = scripted_api_server(deregister_answer);
    let config = kubeconfig(&dir, &server);
    let out = meshctl()
        .arg("--kubeconfig")
        .arg(&config)
        .args(["cluster", "deregister", "east", "--mgmt-only"])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("--mgmt-only: the workload cluster was not cleaned")
            && stderr.contains("agents/relay-identity-token"),
        "{stderr}"
    );
    let deletes = log
        .lock()
        .unwrap()
        .iter()
        .filter(|(m, _, _)| m == "DELETE")
        .count();
    assert_eq!(deletes, 2);
}

/// `cluster list --admin-address` without a kubeconfig: the server's view, and the reason the
/// registrations are unknown said once (it was the whole kube error chain, three times over).
#[test]
fn list_with_a_missing_kubeconfig_warns_once_about_it() {
    let out = meshctl()
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .args(["cluster", "list", "--admin-address"])
        .arg(format!("127.0.0.1:{}", unused_port()))
        .args(["--timeout", "5s"])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let line = stderr
        .lines()
        .find(|l| l.contains("kubeconfig"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert_eq!(
        line,
        "warning: kubeconfig /nonexistent/kubeconfig does not exist (named by KUBECONFIG): point KUBECONFIG at an existing kubeconfig file (or unset it to use ~/.kube/config), or pass --kubeconfig FILE: showing the server's view only"
    );
}
