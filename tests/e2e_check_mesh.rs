//! End-to-end `meshctl check` of a running platform (issue 7): healthy → exit 0; agent stopped →
//! exit 1 with `relay-clusters-connected` naming the cluster; expired license → exit 1 with the
//! `license` check failed. Against the API server of `MESHCTL_E2E_KUBECONFIG` (contexts
//! `MESHCTL_E2E_MGMT_CONTEXT` / `MESHCTL_E2E_REMOTE_CONTEXT`); skips with a printed reason when
//! it is unset.
//!
//! The control plane is real (scripts/e2e-cluster.sh: kube-apiserver, controller-manager,
//! scheduler, and kwok's simulated node, which makes scheduled pods Ready without running them), so
//! each test:
//! - installs with the real `meshctl install --wait=false` (CRDs applied server-side and waited
//!   for until Established; the license Secret `meshctl-license` from a test issuer; the server
//!   Deployment and Services) into a namespace of its own;
//! - waits for the real rollout (the Deployment controller's status, a pod Ready through kwok);
//! - runs the management server and the agent as local processes (support::mesh), registered with
//!   the real `meshctl cluster register --wait=false --relay-address <local relay>`;
//! - runs `meshctl check --mgmt-admin-address <local admin> --trusted-issuer <test issuer> -o json`
//!   (the API server's service proxy cannot reach a Service without endpoints).
//!
//!
//! With `--remote-context` (the workload context: MESHCTL_E2E_REMOTE_CONTEXT, else the
//! kubeconfig's current context) and `--agent-namespace`, the agent checks read the Deployment
//! `cluster register` wrote (rolled out like the server's), the client certificate Secret
//! the local agent wrote when it bootstrapped, and the relay address in the Deployment.

// support::E2eEnv prints the reason for a skip on stderr.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod support;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use serde_json::{Value, json};
use support::mesh::{
    AgentOptions, Installation, LocalAgent, LocalServer, Registration, ServerOptions, TestIssuer,
    WAIT, http_get, meshctl, wait_connected, wait_disconnected, wait_until,
};
use support::{E2eEnv, TestNamespace};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// An installed, registered and connected platform. Fields drop in order: the agent stops, the
/// registration is removed (`cluster deregister`), the server stops, `uninstall` runs, the agent
/// namespace is deleted, and only then the runtime goes: TestNamespace's delete on drop needs the
/// request worker of the kube client it was made with, which lives on `rt`.
struct Platform {
    env: E2eEnv,
    cluster: String,
    agent: LocalAgent,
    _registration: Registration,
    server: LocalServer,
    installation: Installation,
    _agent_namespace: TestNamespace,
    issuer: TestIssuer,
    _dir: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
}

impl Platform {
    fn up(env: E2eEnv, cluster: &str) -> Self {
        let rt = runtime();
        let remote = rt.block_on(env.client(true));
        let mgmt_namespace = format!("e2e-check-mesh-{:06}", rand::random::<u32>() % 1_000_000);
        let agent_namespace = rt.block_on(TestNamespace::create(remote, "e2e-check-mesh-agent"));
        let dir = tempfile::tempdir().unwrap();
        let issuer = TestIssuer::new(dir.path());
        let license = issuer.valid_license("e2e check");
        let installation = Installation::install(&env, &mgmt_namespace, &issuer, &license);
        wait_for_rollout(&env, &rt, false, &mgmt_namespace, "mesh-mgmt-server");
        let mut server = LocalServer::start(
            &env,
            &mgmt_namespace,
            &ServerOptions::installed(&issuer.trust_file),
        );
        let mut registration =
            Registration::new(&env, &mgmt_namespace, &agent_namespace.name, cluster);
        registration.register(&server.relay);
        let mut agent = LocalAgent::start(
            &env,
            &agent_namespace.name,
            cluster,
            &server.relay,
            &AgentOptions::default(),
        );
        wait_connected(&env, &mut server, &mut agent);
        Self {
            env,
            cluster: cluster.to_owned(),
            agent,
            _registration: registration,
            server,
            installation,
            _agent_namespace: agent_namespace,
            issuer,
            _dir: dir,
            rt,
        }
    }

    /// `meshctl -n NS check --mgmt-admin-address ADMIN --trusted-issuer F --wait W -o json`:
    /// (exit code, report), the two checked for agreement.
    fn check(&mut self, wait: &str) -> (i32, Value) {
        self.check_with(wait, &[])
    }

    /// [`Platform::check`] with `extra` arguments.
    fn check_with(&mut self, wait: &str, extra: &[&str]) -> (i32, Value) {
        let trust = self.issuer.trust_file.display().to_string();
        let mut args = vec![
            "check",
            "--mgmt-admin-address",
            &self.server.admin,
            "--trusted-issuer",
            &trust,
            "--wait",
            wait,
            "-o",
            "json",
        ];
        args.extend_from_slice(extra);
        let out = meshctl(&self.env, false, &self.installation.namespace, &args);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "no JSON report ({e}); stdout: {}\nstderr: {}\nserver logs:\n{}\nagent logs:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                self.server.process.logs(),
                self.agent.process.logs()
            )
        });
        let code = out.status.code().unwrap();
        assert_eq!(code == 0, report["success"] == true, "{report:#}");
        (code, report)
    }
}

/// Waits until the rollout of each meshctl Deployment in `namespace` (of the workload context with
/// `remote`) is complete: the controller manager creates the pods, the scheduler binds them to
/// kwok's node and kwok makes them Ready (no container runs: the server and agent run here as
/// processes). The install and agent checks read what the Deployment controller then writes
/// (src/check/checks/install.rs `unavailable_reason`).
fn wait_for_rollout(
    env: &E2eEnv,
    rt: &tokio::runtime::Runtime,
    remote: bool,
    namespace: &str,
    expected: &str,
) {
    rt.block_on(async {
        let client = env.client(remote).await;
        let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let ours = api
                .list(&ListParams::default().labels("app.kubernetes.io/part-of=meshctl"))
                .await
                .unwrap();
            assert!(
                ours.items
                    .iter()
                    .any(|d| d.metadata.name.as_deref() == Some(expected)),
                "no meshctl Deployment {expected} in {namespace}"
            );
            let pending =
                support::rollout_pending(&client, namespace, "app.kubernetes.io/part-of=meshctl")
                    .await;
            if pending.is_empty() {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "rollout of {pending:?} in {namespace} not complete within {WAIT:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    });
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

/// The ids of the checks with `result`.
fn with_result(report: &Value, result: &str) -> Vec<String> {
    by_id(report)
        .into_iter()
        .filter(|(_, c)| c["result"] == result)
        .map(|(id, _)| id)
        .collect()
}

/// Checks whose result the test controls, and that pass on a healthy platform. `kubernetes-api`
/// (latency) and `kubernetes-version` (supported range) depend on the API server under test and
/// may warn; they must not fail.
const HEALTHY: [&str; 12] = [
    "crds",
    "install",
    "install-available",
    "install-pods",
    "install-images",
    "license",
    "relay-admin",
    "relay-clusters-connected",
    "relay-snapshot-age",
    "relay-cert-expiry",
    "relay-version-skew",
    "config",
];

fn assert_passed_except(report: &Value, failing: &[&str]) {
    let checks = by_id(report);
    for id in HEALTHY.iter().filter(|id| !failing.contains(id)) {
        assert_eq!(checks[*id]["result"], "passed", "{id}: {report:#}");
    }
    for id in ["kubernetes-api", "kubernetes-version"] {
        assert_ne!(checks[id]["result"], "failed", "{id}: {report:#}");
        assert_ne!(checks[id]["result"], "skipped", "{id}: {report:#}");
    }
    assert_eq!(with_result(report, "failed"), failing, "{report:#}");
}

#[test]
fn healthy_platform_passes_check() {
    let Some(env) = E2eEnv::from_env("healthy_platform_passes_check") else {
        return;
    };
    let mut platform = Platform::up(env, "e2e-check-healthy");
    // A short wait: the agent's first heartbeat may still be due.
    let (code, report) = platform.check("30s");
    assert_eq!(code, 0, "{report:#}");
    assert_passed_except(&report, &[]);
    let checks = by_id(&report);
    assert_eq!(
        checks["relay-clusters-connected"]["message"], "all 1 cluster connected",
        "{report:#}"
    );
    // The server's pod (Ready through kwok; its container never runs) is what install-pods reads.
    assert_eq!(
        checks["install-pods"]["message"], "1 pod without crash loops or restarts",
        "{report:#}"
    );
    assert_eq!(
        checks["config"]["message"], "no platform resources yet",
        "{report:#}"
    );
    assert!(
        checks["license"]["message"]
            .as_str()
            .unwrap()
            .starts_with("trial license for e2e check (mesh) valid until"),
        "{report:#}"
    );
    assert_eq!(
        checks["relay-version-skew"]["message"],
        format!("all agents run meshctl {}", meshctl::version::VERSION),
        "{report:#}"
    );
    assert_eq!(report["success"], true);
}

#[test]
fn stopped_agent_fails_the_relay_check_naming_the_cluster() {
    let Some(env) = E2eEnv::from_env("stopped_agent_fails_the_relay_check_naming_the_cluster")
    else {
        return;
    };
    let mut platform = Platform::up(env, "e2e-check-stopped");
    platform.agent.stop();
    let cluster = platform.cluster.clone();
    wait_disconnected(&platform.env, &mut platform.server, &cluster);
    // --wait 0s: run each check once (the relay check would otherwise retry for 60 s).
    let (code, report) = platform.check("0s");
    assert_eq!(code, 1, "{report:#}");
    assert_passed_except(&report, &["relay-clusters-connected"]);
    let failed = &by_id(&report)["relay-clusters-connected"];
    let message = failed["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("1 cluster of 1 not connected: {cluster} (")),
        "{report:#}"
    );
    assert!(
        failed["hint"]
            .as_str()
            .unwrap()
            .contains(&format!("the agent of cluster {cluster}")),
        "{report:#}"
    );
}

#[test]
fn expired_license_fails_the_license_check() {
    let Some(env) = E2eEnv::from_env("expired_license_fails_the_license_check") else {
        return;
    };
    let mut platform = Platform::up(env, "e2e-check-expired");
    // The key expires a day before it is issued (to the second): its expiry date is one of these.
    let day = jiff::SignedDuration::from_hours(24);
    let date = |t: jiff::Timestamp| t.checked_sub(day).unwrap().strftime("%Y-%m-%d").to_string();
    let before = date(jiff::Timestamp::now());
    let (expired_file, expired_key) = platform.issuer.license(
        "e2e check",
        "e2e-expired.license",
        jiff::SignedDuration::from_hours(24 * 60),
        jiff::SignedDuration::from_hours(-24),
    );
    let after = date(jiff::Timestamp::now());
    // `license apply` verifies first and refuses an expired key (exit 1) without touching the
    // cluster...
    let trust = platform.issuer.trust_file.display().to_string();
    let refused = meshctl(
        &platform.env,
        false,
        &platform.installation.namespace,
        &[
            "license",
            "apply",
            "--key-file",
            &expired_file.display().to_string(),
            "--trusted-issuer",
            &trust,
        ],
    );
    assert_eq!(
        refused.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("license expired at"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // ...so the test writes the key into the installed Secret itself, as a license that expired
    // in place would be.
    platform.rt.block_on(async {
        let client = platform.env.client(false).await;
        let secrets: Api<Secret> = Api::namespaced(client, &platform.installation.namespace);
        let patch = json!({"stringData": {meshctl::license::LICENSE_SECRET_KEY: expired_key}});
        secrets
            .patch(
                meshctl::license::LICENSE_SECRET_NAME,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .unwrap();
    });
    let (code, report) = platform.check("0s");
    assert_eq!(code, 1, "{report:#}");
    assert_passed_except(&report, &["license"]);
    let license = &by_id(&report)["license"];
    let message = license["message"].as_str().unwrap();
    assert!(
        message == format!("trial license for e2e check (mesh) expired on {before}")
            || message == format!("trial license for e2e check (mesh) expired on {after}"),
        "{report:#}"
    );
    assert!(
        license["hint"]
            .as_str()
            .unwrap()
            .contains("meshctl license apply"),
        "{report:#}"
    );
}

#[test]
fn remote_context_checks_the_agent() {
    let Some(env) = E2eEnv::from_env("remote_context_checks_the_agent") else {
        return;
    };
    let context = env.remote_context_name();
    let mut platform = Platform::up(env, "e2e-check-remote");
    let agent_namespace = platform.agent.namespace.clone();
    wait_for_rollout(
        &platform.env,
        &platform.rt,
        true,
        &agent_namespace,
        "mesh-agent",
    );
    let remote = [
        "--remote-context",
        &context,
        "--agent-namespace",
        &agent_namespace,
    ];
    let (code, report) = platform.check_with("30s", &remote);
    assert_eq!(code, 0, "{report:#}");
    assert_passed_except(&report, &[]);
    let category = report["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == format!("agent ({context})"))
        .unwrap_or_else(|| panic!("no agent ({context}) category: {report:#}"));
    let checks = by_id(&report);
    assert_eq!(
        category["checks"].as_array().unwrap().len(),
        4,
        "{report:#}"
    );
    assert_ne!(
        checks["agent-kubernetes-api"]["result"], "failed",
        "{report:#}"
    );
    for id in [
        "agent-deployment",
        "agent-client-cert",
        "agent-relay-address",
    ] {
        assert_eq!(checks[id]["result"], "passed", "{id}: {report:#}");
    }
    assert_eq!(
        checks["agent-deployment"]["message"],
        format!("Deployment {agent_namespace}/mesh-agent available"),
        "{report:#}"
    );
    assert!(
        checks["agent-client-cert"]["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!(
                "certificate for spiffe://meshctl/cluster/{} valid until",
                platform.cluster
            )),
        "{report:#}"
    );
    assert!(
        checks["agent-relay-address"]["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("relay address {} resolves", platform.server.relay)),
        "{report:#}"
    );

    // Looking for the agent where there is none (the management namespace) fails the agent
    // checks, naming the object, and nothing else.
    let mgmt_namespace = platform.installation.namespace.clone();
    let elsewhere = [
        "--remote-context",
        &context,
        "--agent-namespace",
        &mgmt_namespace,
    ];
    let (code, report) = platform.check_with("0s", &elsewhere);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        with_result(&report, "failed"),
        [
            "agent-client-cert",
            "agent-deployment",
            "agent-relay-address"
        ],
        "{report:#}"
    );
    assert_eq!(
        by_id(&report)["agent-deployment"]["message"],
        format!("no Deployment {mgmt_namespace}/mesh-agent in context {context}"),
        "{report:#}"
    );
}

/// `license apply` to the running platform: the server reloads the new key from its Secret without a
/// restart (same process) and tells the connected agent, whose license view gains the new product.
#[test]
fn license_apply_reaches_the_running_server_without_a_restart() {
    let Some(env) = E2eEnv::from_env("license_apply_reaches_the_running_server_without_a_restart")
    else {
        return;
    };
    let mut platform = Platform::up(env, "e2e-check-reload");
    let agent_admin = platform.agent.admin.clone();
    let products = |admin: &str| {
        http_get(admin, "/api/v1/license")
            .filter(|(status, _)| *status == 200)
            .and_then(|(_, body)| serde_json::from_str::<Value>(&body).ok())
            .map(|v| v["products"].clone())
    };
    let before = wait_until(
        "the agent's first view of the license",
        WAIT,
        &mut [&mut platform.server.process, &mut platform.agent.process],
        || products(&agent_admin).filter(|p| p.is_array()),
    );
    assert_eq!(before, json!(["mesh"]));
    let server_pid = platform.server.process.pid();

    let (key_file, _) = platform.issuer.license_for(
        "e2e check, renewed",
        "e2e-renewed.license",
        jiff::SignedDuration::from_hours(1),
        jiff::SignedDuration::from_hours(24 * 365),
        vec![
            meshctl::license::Product::Mesh,
            meshctl::license::Product::Gateway,
        ],
    );
    let trust = platform.issuer.trust_file.display().to_string();
    let key = key_file.display().to_string();
    let out = meshctl(
        &platform.env,
        false,
        &platform.installation.namespace,
        &[
            "license",
            "apply",
            "--key-file",
            &key,
            "--trusted-issuer",
            &trust,
        ],
    );
    assert!(
        out.status.success(),
        "license apply failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = wait_until(
        "the agent's view of the applied license",
        WAIT,
        &mut [&mut platform.server.process, &mut platform.agent.process],
        || products(&agent_admin).filter(|p| p != &before),
    );
    assert_eq!(after, json!(["gateway", "mesh"]));
    assert_eq!(platform.server.process.pid(), server_pid);
    let logs = platform.server.process.logs();
    assert!(
        logs.matches("license loaded").count() >= 2,
        "the server did not log the reload:\n{logs}"
    );
}
