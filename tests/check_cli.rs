//! `meshctl check` as a process against a fake Kubernetes API server and a fake management
//! server admin API (both plain HTTP on 127.0.0.1:0): exit codes, JSON, JUnit, human report.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use assert_cmd::Command;
use axum::Router;
use axum::body::Bytes;
use axum::http::{Method, StatusCode, Uri};
use axum::response::IntoResponse;
use serde_json::{Value, json};

const VERSION: &str = env!("CARGO_PKG_VERSION");

type Answer = Arc<dyn Fn(&Method, &str, &Value) -> (u16, Value) + Send + Sync>;

/// A fake HTTP server on 127.0.0.1:0 answering with `answer(method, path?query, body)`;
/// it stops when dropped (its runtime shuts down).
struct FakeServer {
    address: String,
    requests: Arc<Mutex<Vec<String>>>,
    _runtime: tokio::runtime::Runtime,
}

impl FakeServer {
    fn start(
        answer: impl Fn(&Method, &str, &Value) -> (u16, Value) + Send + Sync + 'static,
    ) -> Self {
        let answer: Answer = Arc::new(answer);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let app = Router::new().fallback(move |method: Method, uri: Uri, body: Bytes| {
            let answer = Arc::clone(&answer);
            let log = Arc::clone(&log);
            async move {
                let target = match uri.query().map(|q| q.trim_start_matches('&')) {
                    Some(q) if !q.is_empty() => format!("{}?{q}", uri.path()),
                    _ => uri.path().to_string(),
                };
                log.lock().unwrap().push(format!("{method} {target}"));
                let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let (code, value) = answer(&method, &target, &body);
                (
                    StatusCode::from_u16(code).unwrap(),
                    [("content-type", "application/json")],
                    value.to_string(),
                )
                    .into_response()
            }
        });
        runtime.spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            address,
            requests,
            _runtime: runtime,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn write_kubeconfig(dir: &Path, server: &str) -> String {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://{server}\ncontexts:\n- name: fake\n  context: {{cluster: fake, user: u}}\ncurrent-context: fake\nusers:\n- name: u\n  user: {{token: t}}\n"
        ),
    )
    .unwrap();
    path.display().to_string()
}

fn not_found(path: &str) -> (u16, Value) {
    (
        404,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404,
               "reason": "NotFound", "message": format!("{path} not found")}),
    )
}

fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items})
}

/// A management cluster with meshctl installed and healthy (no workload pods: the fake has no
/// nodes, but the Deployment reports itself available).
fn healthy_api(method: &Method, path: &str, _body: &Value) -> (u16, Value) {
    assert_eq!(method, Method::GET, "{path}");
    match path {
        "/version" => (
            200,
            json!({"major": "1", "minor": "31", "gitVersion": "v1.31.2", "gitCommit": "x",
                   "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                   "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64"}),
        ),
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions" => {
            let crds: Vec<Value> = meshctl::api::crds::all()
                .into_iter()
                .map(|crd| {
                    let mut v = serde_json::to_value(&crd).unwrap();
                    v["status"] = json!({"conditions": [{"type": "Established", "status": "True"}],
                                         "acceptedNames": {"kind": "", "plural": ""}});
                    v
                })
                .collect();
            (200, list("CustomResourceDefinitionList", crds))
        }
        "/apis/apps/v1/namespaces/mesh-system/deployments" => (
            200,
            list(
                "DeploymentList",
                vec![json!({
                    "metadata": {"name": "mesh-mgmt-server", "namespace": "mesh-system", "generation": 1,
                        "labels": {"app.kubernetes.io/part-of": "meshctl", "app.kubernetes.io/managed-by": "meshctl",
                                   "meshctl.dev/version": VERSION}},
                    "spec": {"replicas": 1, "selector": {}, "template": {"spec": {"containers": [
                        {"name": "server", "image": format!("ghcr.io/meshctl/meshctl:{VERSION}")}]}}},
                    "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}
                })],
            ),
        ),
        p if p.starts_with("/api/v1/namespaces/mesh-system/pods?") => {
            (200, list("PodList", vec![]))
        }
        p if p.contains(".meshctl.dev/v1alpha1/") => (200, list("List", vec![])),
        "/api/v1/namespaces/mesh-system/secrets/meshctl-license" => (200, license_secret()),
        other => not_found(other),
    }
}

/// A license signed by the test issuer (tests/fixtures/license), valid until 2099; `meshctl()`
/// trusts that issuer through MESHCTL_TRUSTED_ISSUERS.
const TEST_LICENSE: &str = include_str!("fixtures/license/test-issuer-2099.jwt");

fn test_issuer() -> String {
    format!(
        "{}/tests/fixtures/license/test-issuer.pub.pem",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn license_secret() -> Value {
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD.encode(TEST_LICENSE.trim());
    json!({"apiVersion": "v1", "kind": "Secret",
           "metadata": {"name": "meshctl-license", "namespace": "mesh-system"},
           "type": "Opaque", "data": {"license-key": key}})
}

fn admin(clusters: Value) -> FakeServer {
    FakeServer::start(move |method, path, _| {
        assert_eq!((method, path), (&Method::GET, "/api/v1/clusters"));
        (200, clusters.clone())
    })
}

fn east(connected: bool) -> Value {
    json!([{"name": "east", "connected": connected, "agent_version": VERSION,
            "connected_since": "2026-11-22T04:00:00Z", "last_seen": jiff::Timestamp::now().to_string(),
            "snapshot_version": 4, "snapshot_resources": 12, "snapshot_bytes": 2048,
            "applied_config_version": 2, "config_errors": [],
            "cert_not_after": "2099-01-01T00:00:00Z", "remote_address": "10.0.0.7:41000",
            "last_disconnect_reason": if connected { Value::Null } else { json!("agent stopped") }}])
}

fn meshctl(kubeconfig: &str) -> Command {
    let mut cmd = Command::cargo_bin("meshctl").unwrap();
    cmd.env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .env_remove("MESHCTL_NAMESPACE")
        .env_remove("KUBECONFIG")
        .env("COLUMNS", "100")
        .env("MESHCTL_TRUSTED_ISSUERS", test_issuer())
        .args(["--kubeconfig", kubeconfig, "check"]);
    cmd
}

fn results(json: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for category in json["categories"].as_array().unwrap() {
        for check in category["checks"].as_array().unwrap() {
            out.insert(
                check["id"].as_str().unwrap().to_string(),
                check["result"].as_str().unwrap().to_string(),
            );
        }
    }
    out
}

#[test]
fn healthy_install_exits_0_with_json_and_junit() {
    let api = FakeServer::start(healthy_api);
    let admin = admin(east(true));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(dir.path(), &api.address);
    let junit = dir.path().join("check.xml");
    let out = meshctl(&kubeconfig)
        .args([
            "--wait=0s",
            "-o",
            "json",
            "--mgmt-admin-address",
            &admin.address,
        ])
        .arg("--junit")
        .arg(&junit)
        .assert()
        .code(0)
        .get_output()
        .clone();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["success"], true, "{json:#}");
    for (id, result) in results(&json) {
        assert_eq!(result, "passed", "{id}: {json:#}");
    }
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testsuites name=\"meshctl check\""), "{xml}");
    assert!(xml.contains("failures=\"0\""), "{xml}");
    assert!(xml.contains("name=\"relay-clusters-connected\""), "{xml}");
    // One request per kind: nothing listed twice.
    let requests = api.requests();
    let mut unique = requests.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(requests.len(), unique.len(), "{requests:#?}");
    assert_eq!(admin.requests(), ["GET /api/v1/clusters"]);
}

#[test]
fn stopped_agent_fails_the_relay_check_naming_the_cluster() {
    let api = FakeServer::start(healthy_api);
    let admin = admin(east(false));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(dir.path(), &api.address);
    let out = meshctl(&kubeconfig)
        .args([
            "--wait=0s",
            "-o",
            "json",
            "--mgmt-admin-address",
            &admin.address,
        ])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["success"], false);
    let relay = json["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "relay")
        .unwrap();
    let connected = &relay["checks"][1];
    assert_eq!(connected["id"], "relay-clusters-connected");
    assert_eq!(connected["result"], "failed");
    let message = connected["message"].as_str().unwrap();
    assert!(message.contains("east"), "{message}");
    assert!(message.contains("agent stopped"), "{message}");
    assert_eq!(
        connected["docs"],
        "docs/troubleshooting.md#relay-clusters-connected"
    );
}

#[test]
fn human_report_of_a_stopped_agent() {
    let api = FakeServer::start(healthy_api);
    let admin = admin(east(false));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(dir.path(), &api.address);
    let out = meshctl(&kubeconfig)
        .args(["--wait=0s", "--mgmt-admin-address", &admin.address])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let text = String::from_utf8(out.stdout).unwrap();
    let version = format!(r"\b{}\b", VERSION.replace('.', r"\."));
    insta::with_settings!({filters => vec![
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"in \d+(\.\d+)?(ms|s)\b", "in [TIME]"),
        (r"last seen \d+s ago", "last seen [AGE] ago"),
        (r"\(\d+ days left\)", "([DAYS] days left)"),
        (version.as_str(), "[VERSION]"),
    ]}, {
        insta::assert_snapshot!("check_stopped_agent", text);
    });
}

#[test]
fn no_registered_cluster_is_not_an_alarm() {
    let api = FakeServer::start(healthy_api);
    let admin = admin(json!([]));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(dir.path(), &api.address);
    let out = meshctl(&kubeconfig)
        .args([
            "--wait=0s",
            "-o",
            "json",
            "--fail-on-warnings",
            "--mgmt-admin-address",
            &admin.address,
        ])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = json.to_string();
    assert!(
        text.contains("no workload cluster registered yet"),
        "{text}"
    );
}

/// A fresh API server with no nodes: what `--pre` sees before an install.
fn empty_cluster(method: &Method, path: &str, body: &Value) -> (u16, Value) {
    match (method.as_str(), path) {
        ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews") => {
            let mut review = body.clone();
            review["status"] = json!({"allowed": true});
            (201, review)
        }
        (
            "GET",
            "/apis/apps/v1/deployments?labelSelector=app.kubernetes.io%2Fpart-of%3Dmeshctl",
        ) => (200, list("DeploymentList", vec![])),
        ("GET", "/api/v1/nodes") => (200, list("NodeList", vec![])),
        ("GET", "/version") => healthy_api(method, path, body),
        (_, other) => not_found(other),
    }
}

#[test]
fn pre_on_a_cluster_without_nodes_warns_about_load_balancers() {
    let api = FakeServer::start(empty_cluster);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(dir.path(), &api.address);
    let out = meshctl(&kubeconfig)
        .args(["--pre", "--wait=0s", "-o", "json"])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = results(&json);
    assert_eq!(results["kubernetes-api"], "passed");
    assert_eq!(results["kubernetes-version"], "passed");
    assert_eq!(results["permissions"], "passed");
    assert_eq!(results["no-conflicting-install"], "passed");
    assert_eq!(results["load-balancer"], "warning");
    let reviews = api
        .requests()
        .iter()
        .filter(|r| r.starts_with("POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews"))
        .count();
    assert_eq!(reviews, 16);

    meshctl(&kubeconfig)
        .args(["--pre", "--wait=0s", "--fail-on-warnings", "--junit", "-"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("<failure type=\"warning\""));
}

#[test]
fn output_junit_prints_the_xml_report_on_stdout() {
    let api = FakeServer::start(healthy_api);
    let admin = admin(east(false));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(dir.path(), &api.address);
    let file = dir.path().join("also.xml");
    let out = meshctl(&kubeconfig)
        .args([
            "--wait=0s",
            "-o",
            "junit",
            "--mgmt-admin-address",
            &admin.address,
        ])
        .arg("--junit")
        .arg(&file)
        .assert()
        .code(1)
        .get_output()
        .clone();
    let xml = String::from_utf8(out.stdout).unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains("<testsuites name=\"meshctl check\""), "{xml}");
    assert!(xml.contains("failures=\"1\""), "{xml}");
    assert!(xml.contains("east"), "{xml}");
    // --junit PATH still writes the same report to the file.
    assert_eq!(std::fs::read_to_string(&file).unwrap(), xml);
}

#[test]
fn output_junit_is_refused_by_other_commands() {
    Command::cargo_bin("meshctl")
        .unwrap()
        .args(["version", "-o", "junit"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicates::str::contains(
            "only supported by `meshctl check`",
        ));
}

#[test]
fn unreachable_api_server_is_an_environment_error_with_the_report() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(dir.path(), &address);
    // Exit 3 (environment), not 1 (a finding about the installation); the report still comes.
    let out = meshctl(&kubeconfig)
        .args(["--wait=0s", "-o", "json"])
        .assert()
        .code(3)
        .stderr(predicates::str::contains(address.as_str()))
        .get_output()
        .clone();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = results(&json);
    assert_eq!(results["kubernetes-api"], "failed");
    assert_eq!(results["install"], "skipped");
    assert_eq!(results["config"], "skipped");
    assert_eq!(json["summary"]["passed"], 0);
}

#[test]
fn unwritable_junit_path_is_an_environment_error() {
    let api = FakeServer::start(empty_cluster);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(dir.path(), &api.address);
    meshctl(&kubeconfig)
        .args(["--pre", "--wait=0s", "--junit"])
        .arg(dir.path().join("missing-dir").join("check.xml"))
        .assert()
        .code(3)
        .stderr(predicates::str::contains("writing the JUnit report"));
}

#[test]
fn an_expired_or_untrusted_license_fails_the_license_check() {
    use base64::Engine as _;
    for (key, trust, expected) in [
        (
            include_str!("fixtures/license/builtin-dev-expired.jwt"),
            true,
            "expired on 2025-12-31",
        ),
        (TEST_LICENSE, false, "unknown issuer key"),
    ] {
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "meshctl-license", "namespace": "mesh-system"},
            "data": {"license-key": base64::engine::general_purpose::STANDARD.encode(key.trim())}});
        let api = FakeServer::start(move |method, path, body| {
            if path == "/api/v1/namespaces/mesh-system/secrets/meshctl-license" {
                (200, secret.clone())
            } else {
                healthy_api(method, path, body)
            }
        });
        let admin = admin(json!([]));
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = write_kubeconfig(dir.path(), &api.address);
        let mut cmd = meshctl(&kubeconfig);
        if !trust {
            cmd.env_remove("MESHCTL_TRUSTED_ISSUERS");
        }
        let out = cmd
            .args([
                "--wait=0s",
                "-o",
                "json",
                "--mgmt-admin-address",
                &admin.address,
            ])
            .assert()
            .code(1)
            .get_output()
            .clone();
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        let results = results(&json);
        assert_eq!(results["license"], "failed", "{json:#}");
        assert!(json.to_string().contains(expected), "{json:#}");
    }
}

/// A kubeconfig that does not exist, named with --kubeconfig or KUBECONFIG: one short message
/// naming the file and what to do, exit 3, at once (not a failed check after the default wait).
#[test]
fn a_missing_kubeconfig_is_one_clear_message_and_exit_3() {
    let missing = "/nonexistent/kubeconfig";
    let flag = {
        let mut cmd = Command::cargo_bin("meshctl").unwrap();
        cmd.args(["--kubeconfig", missing]);
        cmd
    };
    let env = {
        let mut cmd = Command::cargo_bin("meshctl").unwrap();
        cmd.env("KUBECONFIG", missing);
        cmd
    };
    for (mut cmd, named_by) in [
        (flag, "given with --kubeconfig"),
        (env, "named by KUBECONFIG"),
    ] {
        let started = std::time::Instant::now();
        let out = cmd
            .env_remove("RUST_LOG")
            .env_remove("MESHCTL_NAMESPACE")
            .env("NO_COLOR", "1")
            .arg("check")
            .assert()
            .code(3)
            .stdout("")
            .get_output()
            .clone();
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert_eq!(stderr.matches(missing).count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!(
                "error: kubeconfig {missing} does not exist ({named_by}): "
            )),
            "{stderr}"
        );
        assert!(stderr.contains("--kubeconfig"), "{stderr}");
        assert!(stderr.len() < 250, "{} characters: {stderr}", stderr.len());
    }
}
