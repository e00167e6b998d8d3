//! `meshctl install|upgrade|uninstall` from the outside: what touches nothing, what fails how.

#![allow(clippy::unwrap_used)] // tests may unwrap

use assert_cmd::Command;

fn meshctl() -> Command {
    let mut cmd = Command::cargo_bin("meshctl").unwrap();
    cmd.env_remove("RUST_LOG")
        .env_remove("MESHCTL_NAMESPACE")
        .env("NO_COLOR", "1")
        .env("CI", "1");
    cmd
}

/// A kubeconfig pointing at a port where nothing listens.
fn unreachable_kubeconfig(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let path = dir.path().join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:{port}\n    insecure-skip-tls-verify: true\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\nusers:\n- name: u\n  user: {{token: t}}\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn dry_run_prints_yaml_and_reads_no_kubeconfig() {
    let out = meshctl()
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .args([
            "install",
            "--dry-run",
            "--set",
            "redis.enabled=true",
            "-n",
            "platform",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("---\n# Source: crds/"), "{}", &text[..200]);
    assert!(text.contains("name: mesh-redis"));
    assert!(text.contains("namespace: platform"));
    assert!(!text.contains("namespace: mesh-system"));
}

#[test]
fn values_errors_exit_2_with_the_key_and_a_suggestion() {
    let assert = meshctl()
        .args(["install", "--dry-run", "--set", "mgmtServer.replica=2"])
        .assert()
        .code(2);
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains("unknown values key mgmtServer.replica"),
        "{stderr}"
    );
    assert!(
        stderr.contains("did you mean mgmtServer.replicas?"),
        "{stderr}"
    );

    let assert = meshctl()
        .args(["install", "--dry-run", "--set", "a[x]=1"])
        .assert()
        .code(2);
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("is not a number"), "{stderr}");
}

#[test]
fn a_values_file_that_is_not_yaml_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, "mgmtServer:\n  replicas: [1,\n").unwrap();
    let assert = meshctl()
        .args(["install", "--dry-run", "-f"])
        .arg(&file)
        .assert()
        .code(2);
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains(&format!("values file {}:", file.display())),
        "{stderr}"
    );
}

#[test]
fn an_unreachable_cluster_exits_3_naming_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = unreachable_kubeconfig(&dir);
    for args in [
        &["install", "--timeout", "20s"][..],
        &["upgrade", "--timeout", "20s"],
        &["uninstall", "--yes", "--timeout", "20s"],
    ] {
        let assert = meshctl()
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(args)
            .assert()
            .code(3);
        let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
        assert!(
            stderr.contains("cannot reach the Kubernetes API server at https://127.0.0.1:"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn an_invalid_license_key_stops_install_before_the_cluster_is_contacted() {
    let dir = tempfile::tempdir().unwrap();
    // Were the cluster contacted, this unreachable kubeconfig would make it exit 3.
    let kubeconfig = unreachable_kubeconfig(&dir);
    let assert = meshctl()
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["install", "--key", "not-a-license", "--timeout", "20s"])
        .env_remove("MESHCTL_LICENSE_KEY")
        .assert()
        .code(1);
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("nothing was installed"), "{stderr}");
}

/// Every `meshctl install` line of README.md's quick start parses and runs offline (with
/// `--dry-run`, which reads no kubeconfig and no key): a flag the README names must exist.
#[test]
fn readme_quick_start_install_lines_parse() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let quick_start = readme
        .split("## Quick start")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .unwrap();
    let lines: Vec<&str> = quick_start
        .lines()
        .map(|l| l.split(" #").next().unwrap().trim())
        .filter(|l| l.starts_with("meshctl install"))
        .collect();
    assert!(
        lines.iter().any(|l| l.contains("--license-key")),
        "{lines:?}"
    );
    for line in lines {
        let mut args: Vec<String> = line
            .split_whitespace()
            .skip(1)
            .map(|word| word.replace("\"$KEY\"", "eyJ.not.checked"))
            .collect();
        if !args.iter().any(|a| a == "--dry-run") {
            args.push("--dry-run".into());
        }
        meshctl()
            .env("KUBECONFIG", "/nonexistent/kubeconfig")
            .args(&args)
            .assert()
            .success();
    }
    // The key is the same as --key: refused when invalid, before any cluster is contacted.
    meshctl()
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .args([
            "install",
            "--license-key",
            "eyJ.not.valid",
            "--context",
            "mgmt",
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("nothing was installed"));
}
