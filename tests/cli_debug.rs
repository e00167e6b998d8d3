//! `meshctl debug report` from the outside: bad input and an unreachable cluster (the collection
//! itself is tested at request level in src/debug/collect.rs, and end to end in e2e_debug.rs).

#![allow(clippy::unwrap_used)] // tests may unwrap

use assert_cmd::Command;

fn meshctl(cwd: &std::path::Path) -> Command {
    let mut cmd = Command::cargo_bin("meshctl").unwrap();
    cmd.current_dir(cwd)
        .env_remove("RUST_LOG")
        .env_remove("MESHCTL_NAMESPACE")
        .env("NO_COLOR", "1")
        .env("CI", "1");
    cmd
}

fn unreachable_kubeconfig(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: mgmt\n  context: {cluster: c, user: u}\ncurrent-context: mgmt\nusers:\n- name: u\n  user: {token: t}\n",
    )
    .unwrap();
    path
}

#[test]
fn an_unreachable_cluster_is_an_environment_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = unreachable_kubeconfig(dir.path());
    let out = meshctl(dir.path())
        .args(["--kubeconfig", kubeconfig.to_str().unwrap()])
        .args(["--request-timeout", "5s", "debug", "report"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("127.0.0.1:1"), "{stderr}");
    assert!(out.stdout.is_empty());
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["kubeconfig"], "no bundle for an unreachable cluster");
}

#[test]
fn bad_flags_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["debug", "report", "--agent-namespace", "agents"],
        vec!["debug", "report", "--tail", "0"],
        vec!["debug", "report", "--timeout", "soon"],
    ] {
        let out = meshctl(dir.path()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
    }
}
