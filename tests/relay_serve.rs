//! Process-level loopback tests: `meshctl serve mgmt-server`, `meshctl serve agent`,
//! `meshctl cluster list` and `meshctl demo --once` as real processes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::{Running, meshctl_bin};

const WAIT: Duration = Duration::from_secs(60);

fn address_in(line: &str) -> String {
    line.split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("an address after 'listening on'")
        .to_string()
}

fn start_server(state: &Path, relay_listen: &str, extra: &[&str]) -> (Running, String, String) {
    let state = state.to_str().unwrap();
    let mut args = vec![
        "serve",
        "mgmt-server",
        "--relay-listen",
        relay_listen,
        "--admin-listen",
        "127.0.0.1:0",
        "--state-dir",
        state,
    ];
    args.extend_from_slice(extra);
    let mut server = Running::start(&args, &[]);
    let relay = address_in(&server.wait_for_line("relay listening on", WAIT));
    let admin = address_in(&server.wait_for_line("admin listening on", WAIT));
    (server, relay, admin)
}

fn cluster_list(admin: &str) -> Option<serde_json::Value> {
    let out = Command::new(meshctl_bin())
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
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

fn wait_for_cluster(
    admin: &str,
    what: &str,
    f: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if let Some(list) = cluster_list(admin)
            && let Some(c) = list["clusters"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| f(c)))
        {
            return c.clone();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!(
        "timed out waiting for {what}; last list: {:?}",
        cluster_list(admin)
    );
}

/// `meshctl version --server --mgmt-admin-address ADMIN` with no reachable Kubernetes API: the
/// server's version is unknown (a warning), the connected agent's is reported, the same as
/// this meshctl's.
fn version_server_reports_the_agent(admin: &str, kubeconfig: &Path) {
    std::fs::write(
        kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\nusers:\n- name: u\n  user: {token: t}\n",
    )
    .unwrap();
    let out = Command::new(meshctl_bin())
        .args(["--kubeconfig", kubeconfig.to_str().unwrap()])
        .args(["--request-timeout", "5s", "version", "--server"])
        .args(["--mgmt-admin-address", admin, "-o", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report.get("server").is_none(), "{report}");
    assert_eq!(report["agents"][0]["cluster"], "c1", "{report}");
    assert_eq!(report["agents"][0]["version"], meshctl::version::VERSION);
    assert_eq!(report["agents"][0]["skew"], "same", "{report}");
    assert!(
        report["warnings"][0]
            .as_str()
            .unwrap()
            .ends_with("the server's version is unknown"),
        "{report}"
    );
    assert!(
        stderr.contains("the server's version is unknown"),
        "{stderr}"
    );
}

#[test]
fn serve_server_and_agent_connect_and_survive_a_server_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("server");
    let config_dir = tmp.path().join("config");
    std::fs::create_dir_all(config_dir.join("c1")).unwrap();
    std::fs::write(
        config_dir.join("c1/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: pushed, namespace: shop}\ndata: {a: b}\n",
    )
    .unwrap();
    let source = tmp.path().join("source");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(
        source.join("svc.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
    )
    .unwrap();
    let sink = tmp.path().join("applied");
    let config_arg = config_dir.to_str().unwrap().to_string();
    let (mut server, relay, admin) = start_server(
        &state,
        "127.0.0.1:0",
        &["--cluster", "c1", "--raw-config-dir", &config_arg],
    );
    let token_file = state.join("tokens/c1.token");
    assert!(token_file.exists(), "token hand-off file written");
    let ca = state.join("pki/root-ca.crt");
    let source_arg = format!("dir:{}", source.display());
    let sink_arg = format!("dir:{}", sink.display());
    let agent_state = tmp.path().join("agent");
    let mut agent = Running::start(
        &[
            "serve",
            "agent",
            "--cluster",
            "c1",
            "--relay-address",
            &relay,
            "--token-file",
            token_file.to_str().unwrap(),
            "--ca-file",
            ca.to_str().unwrap(),
            "--state-dir",
            agent_state.to_str().unwrap(),
            "--source",
            &source_arg,
            "--sink",
            &sink_arg,
            "--admin-listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    agent.wait_for_line("agent admin listening on", WAIT);
    let c = wait_for_cluster(&admin, "c1 connected and in sync", |c| {
        c["name"] == "c1"
            && c["connected"] == true
            && c["snapshot_resources"] == 2
            && !c["applied_config_version"].is_null()
            && c["applied_config_version"] == c["desired_config_version"]
    });
    assert!(c["cert_not_after"].is_string());
    version_server_reports_the_agent(&admin, &tmp.path().join("kubeconfig"));
    let deadline = Instant::now() + WAIT;
    while std::fs::read_dir(&sink).map(|d| d.count()).unwrap_or(0) != 1 {
        assert!(Instant::now() < deadline, "pushed config not applied");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!token_file.exists(), "used token hand-off removed");

    // a network cut: stop the server, start it again on the same port
    server.stop();
    agent.wait_for_line("reconnecting", WAIT);
    let (mut server2, _relay2, admin2) = start_server(
        &state,
        &relay,
        &["--cluster", "c1", "--raw-config-dir", &config_arg],
    );
    wait_for_cluster(&admin2, "c1 reconnected", |c| {
        c["name"] == "c1" && c["connected"] == true && c["snapshot_resources"] == 2
    });
    let logs = server2.logs();
    assert!(
        logs.contains("relay PKI loaded"),
        "PKI reused, not recreated:\n{logs}"
    );
    assert_eq!(
        agent.logs().matches("bootstrapped").count(),
        1,
        "the agent reused its certificate after the restart"
    );
    // the restarted server sent no configuration resource: the agent held it already
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (status, body) = rt
        .block_on(meshctl::server::admin_client::get(
            &admin2,
            "/metrics",
            Duration::from_secs(10),
        ))
        .unwrap();
    assert_eq!(status, 200);
    let metrics = String::from_utf8_lossy(&body);
    assert!(
        metrics.contains("meshctl_relay_config_resources_sent_total 0"),
        "{metrics}"
    );
    assert!(metrics.contains("meshctl_relay_agents_connected{cluster=\"c1\"} 1"));
    agent.stop();
    server2.stop();
}

#[test]
fn agent_with_a_wrong_token_reports_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("server");
    let (_server, relay, _admin) = start_server(&state, "127.0.0.1:0", &["--cluster", "c1"]);
    let source = tmp.path().join("source");
    std::fs::create_dir_all(&source).unwrap();
    let mut agent = Running::start(
        &[
            "serve",
            "agent",
            "--cluster",
            "c1",
            "--relay-address",
            &relay,
            "--token",
            "wrong",
            "--ca-file",
            state.join("pki/root-ca.crt").to_str().unwrap(),
            "--state-dir",
            tmp.path().join("agent").to_str().unwrap(),
            "--source",
            &format!("dir:{}", source.display()),
            "--sink",
            &format!("dir:{}", tmp.path().join("applied").display()),
            "--admin-listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    let line = agent.wait_for_line("bootstrap failed", WAIT);
    assert!(line.contains("not valid for cluster"), "{line}");
    assert!(!agent.logs().contains("wrong\""), "the token is not logged");
}

#[test]
fn serve_help_documents_every_flag() {
    let out = Command::new(meshctl_bin())
        .args(["serve", "mgmt-server", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--relay-listen",
        "--admin-listen",
        "--state-dir",
        "--raw-config-dir",
        "--max-streams",
        "--max-new-streams-per-second",
        "--server-san",
        "--cluster",
        "--client-cert-ttl",
        "--heartbeat-interval",
    ] {
        assert!(text.contains(flag), "{flag} missing from help:\n{text}");
    }
    let out = Command::new(meshctl_bin())
        .args(["serve", "agent", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--cluster",
        "--relay-address",
        "--token",
        "--token-file",
        "--ca-file",
        "--state-dir",
        "--source",
        "--sink",
        "--admin-listen",
    ] {
        assert!(text.contains(flag), "{flag} missing from help:\n{text}");
    }
}

#[test]
fn demo_once_connects_both_agents_and_round_trips_config() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(meshctl_bin())
        .args(["demo", "--once", "--dir", tmp.path().to_str().unwrap()])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("cluster-1") && stdout.contains("cluster-2"));
    assert!(stdout.contains("acknowledged"));
    for c in ["cluster-1", "cluster-2"] {
        let applied = std::fs::read_dir(tmp.path().join(c).join("applied"))
            .unwrap()
            .count();
        assert_eq!(applied, 2, "{c} applied the sample configuration");
    }
    // a second run reuses the PKI and the agents' certificates
    let out = Command::new(meshctl_bin())
        .args([
            "demo",
            "--once",
            "--dir",
            tmp.path().to_str().unwrap(),
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["clusters"].as_array().unwrap().len(), 2);
}

#[test]
fn reissue_token_replaces_the_old_one() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("server");
    let (mut server, _, _) = start_server(&state, "127.0.0.1:0", &["--cluster", "c1"]);
    let first = std::fs::read_to_string(state.join("tokens/c1.token")).unwrap();
    server.stop();
    // a restart with --cluster keeps the token
    let (mut server, _, _) = start_server(&state, "127.0.0.1:0", &["--cluster", "c1"]);
    assert_eq!(
        std::fs::read_to_string(state.join("tokens/c1.token")).unwrap(),
        first
    );
    server.stop();
    let (mut server, _, _) = start_server(&state, "127.0.0.1:0", &["--reissue-token", "c1"]);
    let second = std::fs::read_to_string(state.join("tokens/c1.token")).unwrap();
    assert_ne!(first, second);
    let record = std::fs::read_to_string(state.join("tokens/c1.json")).unwrap();
    assert!(!record.contains(second.trim()), "only the hash is stored");
    server.stop();
}

/// `meshctl demo` killed (and reaped) when dropped.
struct Demo(std::process::Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Under `meshctl demo` (no Kubernetes API, no kubeconfig), `check` and `cluster list` read the
/// same server and must tell the same story: it was "2 clusters registered" from check and
/// REGISTERED=no from cluster list. Registrations cannot be read there: neither claims them.
#[test]
fn demo_check_and_cluster_list_agree_on_the_clusters() {
    use std::io::BufRead as _;
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let meshctl = || {
        let mut cmd = Command::new(meshctl_bin());
        cmd.env("HOME", &home)
            .env_remove("KUBECONFIG")
            .env_remove("MESHCTL_NAMESPACE")
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1");
        cmd
    };
    let mut child = meshctl()
        .args(["demo", "--dir", tmp.path().join("demo").to_str().unwrap()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _demo = Demo(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut admin = None;
    let deadline = Instant::now() + WAIT;
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the demo runs with both agents connected");
        if let Some(rest) = line.trim_start().strip_prefix("admin") {
            admin = rest
                .trim()
                .strip_prefix("http://")
                .and_then(|r| r.split_whitespace().next())
                .map(str::to_owned);
        }
        if line.starts_with("Running until Ctrl-C") {
            break;
        }
    }
    let admin = admin.expect("the demo prints its admin address");

    let out = meshctl()
        .args(["check", "--mgmt-admin-address", &admin, "--wait", "0s"])
        .args(["-o", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    let relay_admin = report["categories"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["checks"].as_array().unwrap())
        .find(|c| c["id"] == "relay-admin")
        .unwrap()
        .clone();
    assert_eq!(relay_admin["result"], "passed", "{relay_admin}");
    let message = relay_admin["message"].as_str().unwrap();
    assert!(
        message.ends_with("answers: 2 clusters known, 2 connected"),
        "{message}"
    );

    let out = meshctl()
        .args(["cluster", "list", "--admin-address", &admin, "-o", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let clusters = listing["clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), 2, "{listing}");
    for c in clusters {
        assert_eq!(c["connected"], true, "{c}");
        // Unknown without the registrations, as check says nothing about them either.
        assert!(c["registered"].is_null(), "{c}");
    }
    let out = meshctl()
        .args(["cluster", "list", "--admin-address", &admin])
        .output()
        .unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    for row in table.lines().skip(1) {
        let columns: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(columns[1..3], ["unknown", "yes"], "{table}");
    }
}
