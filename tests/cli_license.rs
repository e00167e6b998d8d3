//! `meshctl license ...` end to end: every command and exit code. Cluster commands run
//! against a small fake Kubernetes API on 127.0.0.1:0 that stores Secrets in memory.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use assert_cmd::Command;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use meshctl::license::{IssuerKeyPair, LicenseRequest, LicenseType, Module, Product, issue};
use predicates::prelude::*;
use serde_json::{Value, json};
use tempfile::TempDir;

const DEV_EXPIRED: &str = "tests/fixtures/license/builtin-dev-expired.jwt";

fn meshctl() -> Command {
    let mut cmd = Command::cargo_bin("meshctl").unwrap();
    cmd.env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .env_remove("MESHCTL_NAMESPACE")
        .env_remove("MESHCTL_LICENSE_KEY")
        .env_remove("MESHCTL_TRUSTED_ISSUERS")
        .env_remove("KUBECONFIG")
        .env("COLUMNS", "100");
    cmd
}

/// A temp dir with an issuer key pair made by `license keygen`.
struct Issuer {
    dir: TempDir,
}

impl Issuer {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        meshctl()
            .args(["license", "keygen", "--out"])
            .arg(dir.path().join("issuer"))
            .assert()
            .success();
        Self { dir }
    }

    fn private_key(&self) -> PathBuf {
        self.dir.path().join("issuer/issuer.key.pem")
    }

    fn public_key(&self) -> PathBuf {
        self.dir.path().join("issuer/issuer.pub.pem")
    }

    /// `license issue` with the given extra flags; returns the key file.
    fn issue(&self, name: &str, extra: &[&str]) -> PathBuf {
        let out = meshctl()
            .args(["license", "issue", "--signing-key"])
            .arg(self.private_key())
            .args(["--licensee", "Acme Corp"])
            .args(extra)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let path = self.dir.path().join(name);
        std::fs::write(&path, out).unwrap();
        path
    }

    fn check(&self, key_file: &Path) -> Command {
        let mut cmd = meshctl();
        cmd.args(["license", "check", "--key-file"])
            .arg(key_file)
            .arg("--trusted-issuer")
            .arg(self.public_key());
        cmd
    }
}

fn json_of(output: &[u8]) -> Value {
    serde_json::from_slice(output).unwrap()
}

#[test]
fn keygen_issue_check_round_trip() {
    let issuer = Issuer::new();
    let mode = std::fs::metadata(issuer.private_key())
        .unwrap()
        .permissions();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(mode.mode() & 0o777, 0o600);
    }
    let _ = mode;
    let key = issuer.issue(
        "acme.license",
        &[
            "--products",
            "mesh,gateway",
            "--modules",
            "graphql",
            "--days",
            "365",
            "--max-clusters",
            "5",
        ],
    );
    let text = std::fs::read_to_string(&key).unwrap();
    assert_eq!(
        text.matches('.').count(),
        2,
        "stdout is only the key: {text}"
    );
    assert!(text.ends_with('\n'));

    issuer
        .check(&key)
        .assert()
        .success()
        .stdout(predicate::str::contains("Status:           valid"))
        .stdout(predicate::str::contains("Acme Corp"))
        .stdout(predicate::str::contains("mesh, gateway"))
        .stdout(predicate::str::contains("graphql"))
        // An explicitly trusted issuer is called out.
        .stderr(predicate::str::contains("trusted explicitly"));

    let out = issuer.check(&key).args(["-o", "json"]).assert().success();
    let report = json_of(&out.get_output().stdout);
    assert_eq!(report["valid"], true);
    assert_eq!(report["products"], json!(["mesh", "gateway"]));
    assert_eq!(report["max_clusters"], 5);
    // 365 when checked within the second of issue, else 364.
    let days = report["days_left"].as_i64().unwrap();
    assert!(days == 364 || days == 365, "{days}");
}

#[test]
fn keygen_never_prints_the_private_key_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let out = meshctl()
        .args(["license", "keygen", "-o", "json", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    let report = json_of(&out.get_output().stdout);
    let private_pem = std::fs::read_to_string(dir.path().join("issuer.key.pem")).unwrap();
    assert!(private_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let body = private_pem.lines().nth(1).unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.get_output().stdout),
        String::from_utf8_lossy(&out.get_output().stderr)
    );
    assert!(!all.contains(body), "private key printed: {all}");
    let kid = report["kid"].as_str().unwrap().to_owned();
    assert_eq!(kid.len(), 16);

    meshctl()
        .args(["license", "keygen", "--out"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already exists; pass --force"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("issuer.key.pem")).unwrap(),
        private_pem,
        "the existing key was kept"
    );

    let out = meshctl()
        .args(["license", "keygen", "-o", "json", "--force", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    assert_ne!(json_of(&out.get_output().stdout)["kid"], kid.as_str());
}

#[test]
fn issue_refuses_invalid_requests_with_usage_errors() {
    let issuer = Issuer::new();
    let base = |extra: &[&str]| {
        let mut cmd = meshctl();
        cmd.args(["license", "issue", "--signing-key"])
            .arg(issuer.private_key())
            .args(["--licensee", "Acme"])
            .args(extra);
        cmd
    };
    base(&[
        "--products",
        "network",
        "--modules",
        "graphql",
        "--days",
        "3",
    ])
    .assert()
    .code(2)
    .stdout("")
    .stderr(predicate::str::contains(
        "module graphql requires one of the products it extends (gateway, mesh)",
    ));
    base(&["--products", "istio", "--days", "3"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid value 'istio'"));
    base(&["--products", "mesh", "--expires", "2020-01-01"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("before or when it is issued"));
    base(&["--products", "mesh"]).assert().code(2);
    // A public key is not a signing key.
    meshctl()
        .args(["license", "issue", "--signing-key"])
        .arg(issuer.public_key())
        .args(["--licensee", "Acme", "--products", "mesh", "--days", "3"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid issuer private key"));
    meshctl()
        .args(["license", "issue", "--signing-key", "/nonexistent/key.pem"])
        .args(["--licensee", "Acme", "--products", "mesh", "--days", "3"])
        .assert()
        .code(3);
}

#[test]
fn issue_json_describes_the_key() {
    let issuer = Issuer::new();
    let out = meshctl()
        .args(["license", "issue", "-o", "json", "--signing-key"])
        .arg(issuer.private_key())
        .args(["--licensee", "Acme", "--products", "network", "--trial"])
        .args(["--expires", "2099-12-31"])
        .assert()
        .success();
    let v = json_of(&out.get_output().stdout);
    assert_eq!(v["license_type"], "trial");
    assert_eq!(v["expires_at"], "2099-12-31T23:59:59Z");
    assert_eq!(v["products"], json!(["network"]));
    assert_eq!(v["key"].as_str().unwrap().split('.').count(), 3);
}

#[test]
fn tampered_key_fails_with_exit_1_and_no_key_text() {
    let issuer = Issuer::new();
    let key = issuer.issue("k", &["--products", "mesh", "--days", "90"]);
    let text = std::fs::read_to_string(&key).unwrap();
    let parts: Vec<&str> = text.trim().split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["products"] = json!(["mesh", "gateway", "network"]);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap()),
        parts[2]
    );
    std::fs::write(&key, &forged).unwrap();
    let out = issuer.check(&key).args(["-o", "json"]).assert().code(1);
    let report = json_of(&out.get_output().stdout);
    assert_eq!(report["valid"], false);
    assert_eq!(report["state"], "invalid");
    assert_eq!(report["products"], json!([]));
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("signature is invalid")
    );
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.get_output().stdout),
        String::from_utf8_lossy(&out.get_output().stderr)
    );
    for part in forged.split('.') {
        assert!(!all.contains(part), "key text in output");
    }
}

#[test]
fn bad_inputs_fail_with_exit_1() {
    for (input, message) in [
        ("", "license key is empty"),
        ("   \n", "license key is empty"),
        ("a.b", "found 2"),
        ("a.b.c.d", "found 4"),
        ("eyJhbGciOiJub25lIn0.e30.", "unsupported algorithm \"none\""),
    ] {
        meshctl()
            .args(["license", "check", "--key", input])
            .assert()
            .code(1)
            .stdout(predicate::str::contains("INVALID"))
            .stdout(predicate::str::contains(message).not())
            .stderr(predicate::str::starts_with("error: license key "))
            .stderr(predicate::str::contains(message));
    }
    let huge = "A".repeat(20_000);
    // JSON keeps the reason in the document (`error`), and says it on stderr too.
    meshctl()
        .args(["license", "check", "-o", "json", "--key", &huge])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("too large: 20000 bytes"))
        .stderr(predicate::str::contains("too large: 20000 bytes"));
}

#[test]
fn conflicting_key_flags_are_a_usage_error() {
    meshctl()
        .args(["license", "check", "--key", "x", "--key-file", DEV_EXPIRED])
        .assert()
        .code(2)
        .stdout("");
    meshctl()
        .args([
            "license",
            "check",
            "--key-file",
            DEV_EXPIRED,
            "--fail-within-days",
            "-3",
        ])
        .assert()
        .code(2);
}

#[test]
fn expired_key_fails_with_exit_1_and_still_reports() {
    // Signed by the built-in meshctl-dev key, expired at the end of 2025.
    let out = meshctl()
        .args(["license", "check", "-o", "json", "--key-file", DEV_EXPIRED])
        .assert()
        .code(1);
    let report = json_of(&out.get_output().stdout);
    assert_eq!(report["valid"], false);
    assert_eq!(report["state"], "expired");
    assert_eq!(report["licensee"], "meshctl test fixture (expired)");
    assert_eq!(report["kid"], "a5184e1648734eeb");
    assert_eq!(
        report["trusted_issuers"],
        json!([{"kid": "a5184e1648734eeb", "origin": "builtin"}])
    );
    assert!(report["days_left"].as_i64().unwrap() < 0);
    assert_eq!(report["error"], "license expired at 2025-12-31T23:59:59Z");

    // The human report is data on stdout; why it failed is an error on stderr.
    meshctl()
        .args(["license", "check", "--key-file", DEV_EXPIRED])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("EXPIRED"))
        .stdout(predicate::str::contains("license expired at").not())
        .stderr(predicate::str::contains(
            "error: license expired at 2025-12-31T23:59:59Z",
        ));
}

#[test]
fn apply_of_an_expired_key_says_why_on_stderr() {
    // Refused before the cluster is contacted: no kubeconfig needed.
    let out = meshctl()
        .args(["license", "apply", "--key-file", DEV_EXPIRED])
        .args(["--kubeconfig", "/nonexistent/kubeconfig"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "error: license expired at 2025-12-31T23:59:59Z",
        ))
        .stderr(predicate::str::contains("the key was not applied"))
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("EXPIRED"), "{stdout}");
    assert!(!stdout.contains("license expired at"), "{stdout}");
    assert!(!stdout.contains("error"), "{stdout}");
}

#[test]
fn expired_key_from_another_issuer() {
    let dir = tempfile::tempdir().unwrap();
    let pair = IssuerKeyPair::generate();
    let public = dir.path().join("issuer.pub.pem");
    std::fs::write(&public, pair.public_key().to_spki_pem().unwrap()).unwrap();
    let key = issue(
        &LicenseRequest {
            issuer: "test".into(),
            licensee: "Old Corp".into(),
            license_type: LicenseType::Enterprise,
            products: vec![Product::Gateway],
            modules: vec![Module::Graphql],
            max_clusters: None,
            issued_at: "2020-01-01T00:00:00Z".parse().unwrap(),
            expires_at: "2021-01-01T00:00:00Z".parse().unwrap(),
        },
        &pair,
    )
    .unwrap();
    meshctl()
        .args(["license", "check", "--key", &key, "--trusted-issuer"])
        .arg(&public)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "license expired at 2021-01-01T00:00:00Z",
        ));
}

#[test]
fn expiring_soon_warns_and_fail_within_days_fails() {
    let issuer = Issuer::new();
    let key = issuer.issue("soon", &["--products", "mesh", "--days", "10"]);
    issuer
        .check(&key)
        .assert()
        .success()
        .stderr(predicate::str::is_match("warning: license expires in (9|10) days").unwrap());
    let out = issuer
        .check(&key)
        .args(["--fail-within-days", "30", "-o", "json"])
        .assert()
        .code(1);
    let report = json_of(&out.get_output().stdout);
    assert_eq!(report["valid"], true);
    assert!(
        report["error"]
            .as_str()
            .unwrap()
            .contains("--fail-within-days")
    );
    issuer
        .check(&key)
        .args(["--fail-within-days", "5"])
        .assert()
        .success();
}

#[test]
fn key_and_trusted_issuers_from_the_environment() {
    let issuer = Issuer::new();
    let key = issuer.issue("env", &["--products", "network", "--days", "100"]);
    let other = Issuer::new();
    let list = std::env::join_paths([other.public_key(), issuer.public_key()]).unwrap();
    let out = meshctl()
        .args(["license", "check", "-o", "json"])
        .env(
            "MESHCTL_LICENSE_KEY",
            std::fs::read_to_string(&key).unwrap(),
        )
        .env("MESHCTL_TRUSTED_ISSUERS", &list)
        .assert()
        .success();
    let report = json_of(&out.get_output().stdout);
    let origins: Vec<&str> = report["trusted_issuers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["origin"].as_str().unwrap())
        .collect();
    assert_eq!(origins[0], "builtin");
    assert_eq!(origins[1], format!("env:{}", other.public_key().display()));
    assert_eq!(origins[2], format!("env:{}", issuer.public_key().display()));

    // Without the env list the issuer is unknown.
    meshctl()
        .args(["license", "check"])
        .env(
            "MESHCTL_LICENSE_KEY",
            std::fs::read_to_string(&key).unwrap(),
        )
        .assert()
        .code(1)
        .stderr(predicate::str::contains("unknown issuer key"));

    meshctl()
        .args(["license", "check", "--trusted-issuer", "/nonexistent.pem"])
        .env("MESHCTL_LICENSE_KEY", "x")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("/nonexistent.pem"));
}

#[test]
fn key_from_stdin() {
    let issuer = Issuer::new();
    let key = issuer.issue("stdin", &["--products", "mesh", "--days", "100"]);
    meshctl()
        .args(["license", "check", "--key-file", "-", "--trusted-issuer"])
        .arg(issuer.public_key())
        .write_stdin(std::fs::read(&key).unwrap())
        .assert()
        .success();
}

#[test]
fn check_json_shape() {
    let issuer = Issuer::new();
    let key = issuer.issue(
        "shape",
        &[
            "--products",
            "gateway,mesh",
            "--modules",
            "graphql",
            "--days",
            "400",
            "--max-clusters",
            "3",
        ],
    );
    let out = issuer.check(&key).args(["-o", "json"]).assert().success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let dir = issuer.dir.path().display().to_string();
    insta::with_settings!({filters => vec![
        (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", "[TIMESTAMP]"),
        (r"\b[0-9a-f]{16}\b", "[KID]"),
        (r#""days_left": (399|400)"#, r#""days_left": "[399 or 400]""#),
        (dir.as_str(), "[DIR]"),
    ]}, {
        insta::assert_snapshot!("check_json", text);
    });
}

#[test]
fn cluster_commands_without_a_cluster_are_environment_errors() {
    meshctl()
        .args([
            "license",
            "check",
            "--kubeconfig",
            "/nonexistent/kubeconfig",
        ])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "no --key, --key-file or MESHCTL_LICENSE_KEY given",
        ));
    meshctl()
        .args(["license", "show", "--kubeconfig", "/nonexistent/kubeconfig"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("/nonexistent/kubeconfig"));
    meshctl()
        .args(["license", "apply", "--key-file", DEV_EXPIRED])
        .args(["--kubeconfig", "/nonexistent/kubeconfig"])
        // Verified first: refused before the cluster is contacted.
        .assert()
        .code(1)
        .stderr(predicate::str::contains("the key was not applied"));
    meshctl()
        .args([
            "license",
            "apply",
            "--kubeconfig",
            "/nonexistent/kubeconfig",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no license key given"));
}

// ---------------------------------------------------------------------------------------
// A fake Kubernetes API holding Secrets, for show / apply / check-from-cluster.

#[derive(Default)]
struct ApiState {
    secrets: BTreeMap<(String, String), Value>,
    requests: Vec<String>,
}

type Shared = Arc<Mutex<ApiState>>;

struct FakeApi {
    state: Shared,
    kubeconfig: PathBuf,
    _dir: TempDir,
    _runtime: tokio::runtime::Runtime,
}

fn status(code: StatusCode, reason: &str, message: String) -> Response {
    (
        code,
        axum::Json(json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code.as_u16()
        })),
    )
        .into_response()
}

async fn get_secret(
    State(state): State<Shared>,
    UrlPath((ns, name)): UrlPath<(String, String)>,
) -> Response {
    let mut state = state.lock().unwrap();
    state.requests.push(format!("GET {ns}/{name}"));
    match state.secrets.get(&(ns, name.clone())) {
        Some(secret) => axum::Json(secret.clone()).into_response(),
        None => status(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("secrets \"{name}\" not found"),
        ),
    }
}

async fn apply_secret(
    State(state): State<Shared>,
    UrlPath((ns, name)): UrlPath<(String, String)>,
    uri: Uri,
    body: Bytes,
) -> Response {
    let mut state = state.lock().unwrap();
    let query = uri.query().unwrap_or_default().to_owned();
    state.requests.push(format!("PATCH {ns}/{name}?{query}"));
    let Ok(secret) = serde_json::from_slice::<Value>(&body) else {
        return status(StatusCode::BAD_REQUEST, "BadRequest", "not JSON".into());
    };
    state.secrets.insert((ns, name), secret.clone());
    axum::Json(secret).into_response()
}

impl FakeApi {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let state = Shared::default();
        let app = Router::new()
            .route(
                "/api/v1/namespaces/{ns}/secrets/{name}",
                get(get_secret).patch(apply_secret),
            )
            .with_state(state.clone());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, app).await });
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster: {{server: 'http://{addr}'}}\n\
                 contexts:\n- name: fake\n  context: {{cluster: fake, user: u}}\ncurrent-context: fake\n\
                 users:\n- name: u\n  user: {{token: test}}\n"
            ),
        )
        .unwrap();
        Self {
            state,
            kubeconfig,
            _dir: dir,
            _runtime: runtime,
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = meshctl();
        cmd.args(["--kubeconfig"]).arg(&self.kubeconfig).args(args);
        cmd
    }

    fn stored_key(&self, ns: &str) -> Option<String> {
        let state = self.state.lock().unwrap();
        let secret = state
            .secrets
            .get(&(ns.to_owned(), "meshctl-license".to_owned()))?;
        let encoded = secret["data"]["license-key"].as_str()?;
        Some(String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap())
    }

    fn stored(&self, ns: &str) -> Value {
        let state = self.state.lock().unwrap();
        state.secrets[&(ns.to_owned(), "meshctl-license".to_owned())].clone()
    }

    fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }
}

#[test]
fn show_without_an_installed_license_fails_with_exit_1() {
    let api = FakeApi::start();
    let out = api.cmd(&["license", "show", "-o", "json"]).assert().code(1);
    let report = json_of(&out.get_output().stdout);
    assert_eq!(report["state"], "invalid");
    assert_eq!(
        report["error"],
        "no license installed: Secret mesh-system/meshctl-license not found"
    );
    assert_eq!(api.requests(), ["GET mesh-system/meshctl-license"]);
}

#[test]
fn apply_then_show_and_check_from_the_cluster() {
    let api = FakeApi::start();
    let issuer = Issuer::new();
    let key = issuer.issue("apply", &["--products", "mesh", "--days", "200"]);
    let trust = issuer.public_key().display().to_string();

    api.cmd(&[
        "license",
        "apply",
        "-n",
        "prod",
        "--trusted-issuer",
        &trust,
        "--key-file",
    ])
    .arg(&key)
    .assert()
    .success()
    .stdout(predicate::str::contains(
        "applied: Secret prod/meshctl-license",
    ));
    let applied = std::fs::read_to_string(&key).unwrap();
    assert_eq!(api.stored_key("prod").as_deref(), Some(applied.trim()));
    let secret = api.stored("prod");
    assert_eq!(
        secret["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "meshctl"
    );
    assert_eq!(
        secret["metadata"]["labels"]["app.kubernetes.io/component"],
        "license"
    );
    let requests = api.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        requests[0].starts_with("PATCH prod/meshctl-license?"),
        "{requests:?}"
    );
    assert!(requests[0].contains("fieldManager=meshctl"), "{requests:?}");
    assert!(requests[0].contains("force=true"), "{requests:?}");

    let out = api
        .cmd(&[
            "license",
            "show",
            "-n",
            "prod",
            "-o",
            "json",
            "--trusted-issuer",
            &trust,
        ])
        .assert()
        .success();
    let report = json_of(&out.get_output().stdout);
    assert_eq!(report["valid"], true);
    assert_eq!(report["licensee"], "Acme Corp");

    // check falls back to the cluster when no key is given.
    api.cmd(&["license", "check", "-n", "prod", "--trusted-issuer", &trust])
        .assert()
        .success()
        .stdout(predicate::str::contains("Acme Corp"));
    // Without trusting the issuer, show fails.
    api.cmd(&["license", "show", "-n", "prod"]).assert().code(1);
}

#[test]
fn apply_refuses_an_invalid_key_and_keeps_the_old_one() {
    let api = FakeApi::start();
    let issuer = Issuer::new();
    let trust = issuer.public_key().display().to_string();
    let good = issuer.issue("good", &["--products", "gateway", "--days", "50"]);
    api.cmd(&["license", "apply", "--trusted-issuer", &trust, "--key-file"])
        .arg(&good)
        .assert()
        .success();
    let before = api.stored_key("mesh-system").unwrap();

    for bad in [Path::new(DEV_EXPIRED).to_path_buf(), {
        let path = issuer.dir.path().join("tampered");
        let text = std::fs::read_to_string(&good).unwrap();
        let (input, sig) = text.trim().rsplit_once('.').unwrap();
        let flipped = if sig.starts_with('A') { 'B' } else { 'A' };
        std::fs::write(&path, format!("{input}.{flipped}{}", &sig[1..])).unwrap();
        path
    }] {
        api.cmd(&["license", "apply", "--trusted-issuer", &trust, "--key-file"])
            .arg(&bad)
            .assert()
            .code(1)
            .stderr(predicate::str::contains("the key was not applied"));
    }
    assert_eq!(api.stored_key("mesh-system").unwrap(), before);
    assert_eq!(
        api.requests()
            .iter()
            .filter(|r| r.starts_with("PATCH"))
            .count(),
        1,
        "only the good key was applied"
    );
}
