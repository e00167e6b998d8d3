//! `meshctl check` wall time with 1, 10 and 50 registered clusters.
//!
//! Everything but the Kubernetes API server is real: a `meshctl serve mgmt-server` process
//! (local state directory), one `meshctl serve agent` process per cluster (directory source and
//! sink), all connected over mTLS, and the `meshctl check` process being timed, run as an operator
//! runs it (`--mgmt-admin-address`, `-o json`). No API server can run on the machine the numbers
//! were taken on, so a stand-in on 127.0.0.1 answers check's requests from memory as a healthy
//! installation would: the CRDs, an available mesh-mgmt-server Deployment, the license Secret,
//! one KubernetesCluster per agent and one ACCEPTED VirtualDestination per cluster. Its answers can
//! be delayed (`MESHCTL_BENCH_API_LATENCY_MS`) to see what a slower API server adds. Every timed run
//! must report success, or the benchmark fails.
//!
//! Run: `cargo bench --bench check` (release profile). Prints a Markdown table on stdout.
//! Settings: `MESHCTL_BENCH_CHECK_CLUSTERS` (default `1,10,50`), `MESHCTL_BENCH_CHECK_RUNS`
//! (timed runs per size, default 10), `MESHCTL_BENCH_API_LATENCY_MS` (default `0`, a list
//! such as `0,20` measures each).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use base64::Engine as _;
use serde_json::{Value, json};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const NAMESPACE: &str = "mesh-system";
const WAIT: Duration = Duration::from_secs(120);

// The integration tests' process helpers: meshctl processes killed when dropped.
#[path = "../tests/support/mod.rs"]
mod support;

use support::Running;
use support::mesh::address_in;

fn meshctl() -> Command {
    let mut cmd = Command::new(support::meshctl_bin());
    cmd.env_remove("RUST_LOG")
        .env_remove("MESHCTL_NAMESPACE")
        .env_remove("MESHCTL_LICENSE_KEY")
        .env_remove("KUBECONFIG")
        .env("NO_COLOR", "1");
    cmd
}

/// Starts `meshctl ARGS` in the background.
fn start(args: &[String]) -> Running {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Running::start(&args, &[])
}

fn cluster_name(i: usize) -> String {
    format!("bench-{i:03}")
}

/// A management server with `n` connected agents, each with a snapshot.
struct Mesh {
    admin: String,
    _server: Running,
    _agents: Vec<Running>,
}

impl Mesh {
    fn start(dir: &Path, n: usize) -> Self {
        let state = dir.join("server");
        let mut args: Vec<String> = [
            "serve",
            "mgmt-server",
            "--relay-listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--state-dir",
        ]
        .map(String::from)
        .into();
        args.push(state.display().to_string());
        for i in 0..n {
            args.extend(["--cluster".to_string(), cluster_name(i)]);
        }
        let mut server = start(&args);
        let relay = address_in(&server.wait_for_line("relay listening on ", WAIT));
        let admin = address_in(&server.wait_for_line("admin listening on ", WAIT));

        let source = dir.join("source");
        std::fs::create_dir_all(&source).unwrap();
        std::fs::write(
            source.join("shop.yaml"),
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n\
             apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n\
             spec: {ports: [{port: 80}]}\n",
        )
        .unwrap();
        let agents = (0..n)
            .map(|i| {
                let name = cluster_name(i);
                let agent_dir = dir.join(&name);
                let arg = |p: PathBuf| p.display().to_string();
                start(&[
                    "serve".into(),
                    "agent".into(),
                    "--cluster".into(),
                    name.clone(),
                    "--relay-address".into(),
                    relay.clone(),
                    "--token-file".into(),
                    arg(state.join("tokens").join(format!("{name}.token"))),
                    "--ca-file".into(),
                    arg(state.join("pki/root-ca.crt")),
                    "--state-dir".into(),
                    arg(agent_dir.join("state")),
                    "--source".into(),
                    format!("dir:{}", source.display()),
                    "--sink".into(),
                    format!("dir:{}", agent_dir.join("sink").display()),
                    "--admin-listen".into(),
                    "127.0.0.1:0".into(),
                ])
            })
            .collect();
        let mesh = Self {
            admin,
            _server: server,
            _agents: agents,
        };
        mesh.wait_connected(n);
        mesh
    }

    fn wait_connected(&self, n: usize) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let deadline = Instant::now() + WAIT;
        loop {
            let ready = rt
                .block_on(meshctl::server::admin_client::get(
                    &self.admin,
                    "/api/v1/clusters",
                    Duration::from_secs(5),
                ))
                .ok()
                .and_then(|(_, body)| serde_json::from_slice::<Value>(&body).ok())
                .map(|clusters| {
                    clusters["clusters"]
                        .as_array()
                        .map(|list| {
                            list.iter()
                                .filter(|c| {
                                    c["connected"] == true
                                        && c["snapshot_resources"].as_u64().unwrap_or(0) > 0
                                })
                                .count()
                        })
                        .unwrap_or(0)
                })
                .unwrap_or(0);
            if ready == n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "only {ready} of {n} agents connected"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Issues a 30-day Mesh license from a fresh issuer; returns (license key, issuer public key PEM).
fn license() -> (String, String) {
    use meshctl::license::{IssuerKeyPair, LicenseRequest, LicenseType, Product, issue};
    let pair = IssuerKeyPair::generate();
    let now = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second()).unwrap();
    let key = issue(
        &LicenseRequest {
            issuer: "bench".into(),
            licensee: "bench".into(),
            license_type: LicenseType::Trial,
            products: vec![Product::Mesh],
            modules: vec![],
            max_clusters: Some(100),
            issued_at: now,
            expires_at: now
                .checked_add(jiff::SignedDuration::from_hours(24 * 30))
                .unwrap(),
        },
        &pair,
    )
    .unwrap();
    (key, pair.public_key().to_spki_pem().unwrap())
}

fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items})
}

/// What a healthy management cluster answers to check's requests.
struct Answers {
    clusters: usize,
    license_key: String,
}

impl Answers {
    fn answer(&self, path: &str) -> Option<Value> {
        let path_only = path.split('?').next().unwrap_or(path);
        let ns = format!("/namespaces/{NAMESPACE}/");
        Some(match path_only {
            "/version" => json!({"major": "1", "minor": "31", "gitVersion": "v1.31.2",
                "gitCommit": "x", "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64"}),
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions" => list(
                "CustomResourceDefinitionList",
                meshctl::api::crds::all()
                    .into_iter()
                    .map(|crd| {
                        let mut v = serde_json::to_value(&crd).unwrap();
                        v["status"] = json!({
                            "conditions": [{"type": "Established", "status": "True"}],
                            "acceptedNames": {"kind": "", "plural": ""}});
                        v
                    })
                    .collect(),
            ),
            p if p == format!("/apis/apps/v1{ns}deployments") => list(
                "DeploymentList",
                vec![json!({
                    "metadata": {"name": "mesh-mgmt-server", "namespace": NAMESPACE, "generation": 1,
                        "labels": {"app.kubernetes.io/part-of": "meshctl",
                                   "app.kubernetes.io/managed-by": "meshctl",
                                   "meshctl.dev/version": VERSION}},
                    "spec": {"replicas": 1, "selector": {}, "template": {"spec": {"containers": [
                        {"name": "server", "image": format!("ghcr.io/meshctl/meshctl:{VERSION}")}]}}},
                    "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                               "availableReplicas": 1}
                })],
            ),
            p if p == format!("/api/v1{ns}pods") => list("PodList", vec![]),
            p if p == format!("/api/v1{ns}secrets/meshctl-license") => json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "meshctl-license", "namespace": NAMESPACE},
                "type": "Opaque",
                "data": {"license-key":
                    base64::engine::general_purpose::STANDARD.encode(&self.license_key)}}),
            p if p.ends_with("/kubernetesclusters") => list(
                "List",
                (0..self.clusters)
                    .map(|i| self.platform("KubernetesCluster", &cluster_name(i)))
                    .collect(),
            ),
            p if p.ends_with("/virtualdestinations") => list(
                "List",
                (0..self.clusters)
                    .map(|i| self.platform("VirtualDestination", &format!("vd-{i:03}")))
                    .collect(),
            ),
            p if p.contains(".meshctl.dev/v1alpha1/") => list("List", vec![]),
            _ => return None,
        })
    }

    fn platform(&self, kind: &str, name: &str) -> Value {
        json!({"apiVersion": "networking.meshctl.dev/v1alpha1", "kind": kind,
               "metadata": {"name": name, "namespace": NAMESPACE, "generation": 2},
               "spec": {},
               "status": {"state": "ACCEPTED", "observedGeneration": 2}})
    }
}

/// The API server stand-in: plain HTTP on 127.0.0.1:0, stopped when dropped.
struct StandIn {
    address: String,
    requests: Arc<AtomicUsize>,
    unanswered: Arc<std::sync::Mutex<Vec<String>>>,
    _runtime: tokio::runtime::Runtime,
}

impl StandIn {
    fn start(answers: Answers, latency: Duration) -> Self {
        let answers = Arc::new(answers);
        let requests = Arc::new(AtomicUsize::new(0));
        let unanswered = Arc::new(std::sync::Mutex::new(Vec::new()));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (count, missed) = (Arc::clone(&requests), Arc::clone(&unanswered));
        let app = Router::new().fallback(move |uri: Uri| {
            let (answers, count, missed) = (
                Arc::clone(&answers),
                Arc::clone(&count),
                Arc::clone(&missed),
            );
            async move {
                count.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(latency).await;
                let target = uri
                    .path_and_query()
                    .map_or(uri.path(), |p| p.as_str())
                    .to_string();
                match answers.answer(&target) {
                    Some(body) => (
                        StatusCode::OK,
                        [("content-type", "application/json")],
                        body.to_string(),
                    )
                        .into_response(),
                    None => {
                        missed.lock().unwrap().push(target.clone());
                        (
                            StatusCode::NOT_FOUND,
                            [("content-type", "application/json")],
                            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                   "code": 404, "reason": "NotFound",
                                   "message": format!("{target} not found")})
                            .to_string(),
                        )
                            .into_response()
                    }
                }
            }
        });
        runtime.spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            address,
            requests,
            unanswered,
            _runtime: runtime,
        }
    }
}

fn write_kubeconfig(dir: &Path, server: &str) -> PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: standin\n  cluster:\n    server: http://{server}\n\
             contexts:\n- name: standin\n  context: {{cluster: standin, user: u}}\n\
             current-context: standin\nusers:\n- name: u\n  user: {{token: t}}\n"
        ),
    )
    .unwrap();
    path
}

fn env_list(name: &str, default: &str) -> Vec<u64> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .map(|v| {
            v.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{name}: expected numbers, got {v:?}"))
        })
        .collect()
}

struct Row {
    clusters: usize,
    latency_ms: u64,
    runs: Vec<Duration>,
    requests_per_run: usize,
}

fn millis(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1000.0)
}

/// One timed `meshctl check` run; panics unless it reports success with every cluster connected.
fn timed_check(kubeconfig: &Path, issuer: &Path, admin: &str, clusters: usize) -> Duration {
    let started = Instant::now();
    let out = meshctl()
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args([
            "check",
            "--wait=0s",
            "-o",
            "json",
            "--mgmt-admin-address",
            admin,
        ])
        .arg("--trusted-issuer")
        .arg(issuer)
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        out.status.success() && report["success"] == true,
        "check did not pass: {report:#}"
    );
    let text = report.to_string();
    assert!(
        text.contains(&format!("answers: {clusters} cluster")),
        "the relay check did not see {clusters} clusters: {report:#}"
    );
    elapsed
}

fn main() {
    let sizes = env_list("MESHCTL_BENCH_CHECK_CLUSTERS", "1,10,50");
    let runs = env_list("MESHCTL_BENCH_CHECK_RUNS", "10")[0] as usize;
    let latencies = env_list("MESHCTL_BENCH_API_LATENCY_MS", "0");
    let (license_key, issuer_pem) = license();
    let mut rows = Vec::new();
    for &n in &sizes {
        let n = n as usize;
        let dir = tempfile::tempdir().unwrap();
        let issuer = dir.path().join("issuer.pub.pem");
        std::fs::write(&issuer, &issuer_pem).unwrap();
        let mesh = Mesh::start(dir.path(), n);
        for &latency_ms in &latencies {
            let api = StandIn::start(
                Answers {
                    clusters: n,
                    license_key: license_key.clone(),
                },
                Duration::from_millis(latency_ms),
            );
            let kubeconfig = write_kubeconfig(dir.path(), &api.address);
            // One warm-up run (page cache, first TLS set-up).
            timed_check(&kubeconfig, &issuer, &mesh.admin, n);
            let before = api.requests.load(Ordering::Relaxed);
            let mut samples: Vec<Duration> = (0..runs)
                .map(|_| timed_check(&kubeconfig, &issuer, &mesh.admin, n))
                .collect();
            let requests = api.requests.load(Ordering::Relaxed) - before;
            let missed = api.unanswered.lock().unwrap().clone();
            assert!(
                missed.is_empty(),
                "check asked for what the stand-in does not answer: {missed:?}"
            );
            samples.sort();
            rows.push(Row {
                clusters: n,
                latency_ms,
                runs: samples,
                requests_per_run: requests / runs.max(1),
            });
        }
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "| registered clusters | API latency | runs | min | median | max | API requests per run |"
    )
    .unwrap();
    writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|").unwrap();
    for row in &rows {
        writeln!(
            out,
            "| {} | {} ms | {} | {} ms | {} ms | {} ms | {} |",
            row.clusters,
            row.latency_ms,
            row.runs.len(),
            millis(row.runs[0]),
            millis(row.runs[row.runs.len() / 2]),
            millis(row.runs[row.runs.len() - 1]),
            row.requests_per_run,
        )
        .unwrap();
    }
}
