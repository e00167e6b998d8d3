//! `serve mgmt-server` without `--state-dir` and `serve agent` with its Kubernetes
//! defaults need a cluster: without one they fail as environment errors (exit 3) naming
//! what they tried, and never fall back to something else silently.
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use predicates::str::contains;

fn meshctl() -> Command {
    let mut cmd = Command::cargo_bin("meshctl").unwrap();
    cmd.env_remove("RUST_LOG")
        .env_remove("MESHCTL_STATE_DIR")
        .env_remove("MESHCTL_AGENT_STATE_DIR")
        .env_remove("KUBECONFIG")
        .env("NO_COLOR", "1")
        .timeout(std::time::Duration::from_secs(60));
    cmd
}

#[test]
fn server_without_state_dir_runs_against_kubernetes() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-kubeconfig");
    meshctl()
        .args(["--kubeconfig", missing.to_str().unwrap()])
        .args(["serve", "mgmt-server", "--relay-listen", "127.0.0.1:0"])
        .args(["--admin-listen", "127.0.0.1:0"])
        .assert()
        .code(3)
        .stderr(contains("no --state-dir: running against Kubernetes"))
        .stderr(contains("no-kubeconfig"));
}

#[test]
fn agent_reads_its_root_ca_from_the_cluster_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-kubeconfig");
    meshctl()
        .args(["--kubeconfig", missing.to_str().unwrap()])
        .args([
            "serve",
            "agent",
            "--cluster",
            "c1",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .assert()
        .code(3)
        .stderr(contains("no-kubeconfig"));
}

#[test]
fn agent_rejects_unknown_source_and_sink_specs() {
    meshctl()
        .args(["serve", "agent", "--cluster", "c1", "--source", "/tmp/x"])
        .assert()
        .code(2)
        .stderr(contains("expected kube, kube:NS[,NS...] or dir:PATH"));
    meshctl()
        .args(["serve", "agent", "--cluster", "c1", "--sink", "kube:a"])
        .assert()
        .code(2)
        .stderr(contains("only accepted by --source"));
}
