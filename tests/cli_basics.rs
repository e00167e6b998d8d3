//! The command surface: exit codes, output formats, non-terminal behaviour.

#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use predicates::prelude::*;

fn meshctl() -> Command {
    let mut cmd = Command::cargo_bin("meshctl").unwrap();
    cmd.env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .env_remove("MESHCTL_NAMESPACE")
        .env_remove("KUBECONFIG")
        .env("COLUMNS", "100");
    cmd
}

fn version_filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"\b[a-z0-9_]+-[a-z]+-[a-z]+(-[a-z]+)?\b", "[TARGET]"),
        (r"\b[0-9a-f]{12}\b|\bunknown\b", "[COMMIT]"),
        (r"\d{4}-\d{2}-\d{2}", "[DATE]"),
        (r"\b\d+\.\d+\.\d+\b", "[VERSION]"),
    ]
}

#[test]
fn help_lists_commands_and_exit_codes() {
    let out = meshctl()
        .arg("--help")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    insta::assert_snapshot!("help", String::from_utf8(out).unwrap());
}

#[test]
fn version_table() {
    let out = meshctl()
        .arg("version")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    insta::with_settings!({filters => version_filters()}, {
        insta::assert_snapshot!("version_table", String::from_utf8(out).unwrap());
    });
}

#[test]
fn version_json_has_stable_fields() {
    let out = meshctl()
        .args(["version", "-o", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["client"]["version"], env!("CARGO_PKG_VERSION"));
    insta::with_settings!({filters => version_filters()}, {
        insta::assert_snapshot!("version_json", String::from_utf8(out).unwrap());
    });
}

#[test]
fn version_yaml() {
    let out = meshctl()
        .args(["version", "--output=yaml"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    insta::with_settings!({filters => version_filters()}, {
        insta::assert_snapshot!("version_yaml", String::from_utf8(out).unwrap());
    });
}

#[test]
fn unknown_flag_is_a_usage_error() {
    meshctl()
        .args(["version", "--bogus"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("unexpected argument '--bogus'"))
        .stderr(predicate::str::contains("panicked").not());
}

#[test]
fn bad_output_value_names_the_choices() {
    meshctl()
        .args(["version", "-o", "xml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "invalid value 'xml' for '--output",
        ))
        .stderr(predicate::str::contains("table, json, yaml"));
}

#[test]
fn bad_duration_is_a_usage_error() {
    meshctl()
        .args(["version", "--request-timeout", "soon"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid duration 'soon'"));
}

#[test]
fn missing_subcommand_is_a_usage_error() {
    meshctl().assert().code(2);
}

#[test]
fn unknown_command_is_a_usage_error() {
    meshctl()
        .arg("frobnicate")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "unrecognized subcommand 'frobnicate'",
        ));
}

#[test]
fn no_escape_codes_without_a_terminal() {
    let out = meshctl()
        .arg("version")
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(!out.stdout.contains(&0x1b));
    assert!(!out.stderr.contains(&0x1b));
}

#[test]
fn version_touches_no_kubeconfig() {
    // An unreadable kubeconfig does not matter to commands that never talk to a cluster.
    meshctl()
        .args([
            "version",
            "--kubeconfig",
            "/nonexistent/kubeconfig",
            "--context",
            "nope",
        ])
        .assert()
        .success();
}

#[test]
#[allow(clippy::print_stderr)]
fn in_a_pod_without_its_service_account_token_the_error_says_so() {
    // A pod (KUBERNETES_SERVICE_HOST set) without a kubeconfig and without the token volume: the
    // error is about the in-cluster configuration, not about a ~/.kube/config no pod has.
    if std::path::Path::new("/var/run/secrets/kubernetes.io/serviceaccount/token").exists() {
        eprintln!("skipped: this machine is a pod with a ServiceAccount token");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let out = meshctl()
        .env("HOME", home.path())
        .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        .env("KUBERNETES_SERVICE_PORT", "6443")
        .args(["version", "--server"])
        .assert()
        .code(3)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert!(
        err.contains("in-cluster Kubernetes configuration failed")
            && err.contains("/var/run/secrets/kubernetes.io/serviceaccount"),
        "{err}"
    );
    assert!(!err.contains(".kube/config"), "{err}");
}

#[test]
fn completion_scripts_for_every_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef meshctl"),
        ("fish", "complete -c meshctl"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[meshctl]"),
    ] {
        meshctl()
            .args(["completion", shell])
            .assert()
            .success()
            .stdout(predicate::str::contains(marker));
    }
    meshctl().args(["completion", "tcsh"]).assert().code(2);
}

#[test]
fn quiet_and_verbose_conflict() {
    meshctl().args(["version", "-q", "-v"]).assert().code(2);
}
