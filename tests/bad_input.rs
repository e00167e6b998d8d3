//! Bad user input is a usage error (exit 2) with a message naming the flag, file or value and what was
//! expected: never an out-of-memory, a panic or "a bug in meshctl" (exit 4).

#![allow(clippy::unwrap_used)] // tests may unwrap

use std::time::Duration;

use assert_cmd::Command;

fn meshctl() -> Command {
    let mut cmd = Command::cargo_bin("meshctl").unwrap();
    cmd.env_remove("RUST_LOG")
        .env_remove("MESHCTL_NAMESPACE")
        .env_remove("MESHCTL_LICENSE_KEY")
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env("NO_COLOR", "1")
        .env("CI", "1")
        .timeout(Duration::from_secs(120));
    cmd
}

fn stderr_of(cmd: &mut Command, code: i32) -> String {
    let out = cmd.assert().code(code).get_output().clone();
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn an_endless_values_file_is_refused_at_its_limit() {
    let err = stderr_of(
        meshctl().args(["install", "--dry-run", "-f", "/dev/zero"]),
        2,
    );
    assert!(
        err.contains("values file /dev/zero is larger than the limit of 4 MiB"),
        "{err}"
    );
    assert!(err.contains("expected a YAML map of values"), "{err}");
}

#[test]
fn a_license_key_on_stdin_is_capped_not_truncated() {
    let err = stderr_of(
        meshctl()
            .args(["license", "check", "--key-file", "-"])
            .write_stdin(vec![b'e'; 2 * 1024 * 1024]),
        2,
    );
    assert!(
        err.contains("license key stdin is larger than the limit of 64 KiB"),
        "{err}"
    );
}

#[test]
fn a_zero_poll_interval_is_a_usage_error_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "not used").unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    let err = stderr_of(
        meshctl().args([
            "serve",
            "agent",
            "--cluster",
            "c1",
            "--relay-address",
            "127.0.0.1:1",
            "--token",
            "t",
            "--ca-file",
            ca.to_str().unwrap(),
            "--source",
            &format!("dir:{}", dir.path().join("src").display()),
            "--sink",
            &format!("dir:{}", dir.path().join("sink").display()),
            "--admin-listen",
            "127.0.0.1:0",
            "--poll-interval",
            "0s",
        ]),
        2,
    );
    assert!(err.contains("--poll-interval"), "{err}");
    assert!(err.contains("longer than zero"), "{err}");
}

#[test]
fn zero_durations_of_the_server_are_usage_errors() {
    let err = stderr_of(
        meshctl().args(["serve", "mgmt-server", "--heartbeat-interval", "0"]),
        2,
    );
    assert!(err.contains("--heartbeat-interval"), "{err}");
    assert!(err.contains("longer than zero"), "{err}");
}

#[test]
fn client_certificate_lifetimes_out_of_bounds_are_usage_errors() {
    // 0s and 1s issued certificates expired on arrival (the agent renewed ~200 times a second);
    // 999999h outlived the signing CA.
    for ttl in ["0", "1s", "14m", "999999h"] {
        let err = stderr_of(
            meshctl().args(["serve", "mgmt-server", "--client-cert-ttl", ttl]),
            2,
        );
        assert!(err.contains("--client-cert-ttl"), "{ttl}: {err}");
        assert!(
            err.contains("must be between 15m and 8760h"),
            "{ttl}: {err}"
        );
    }
}

#[test]
fn a_server_san_that_is_no_name_is_refused_before_anything_starts() {
    // Was written into the relay's server certificate as given.
    let err = stderr_of(
        meshctl().args(["serve", "mgmt-server", "--server-san", "bad name!*"]),
        2,
    );
    assert!(err.contains("--server-san"), "{err}");
    assert!(
        err.contains("neither an IP address nor a DNS name"),
        "{err}"
    );
}

#[test]
fn namespaces_that_look_like_numbers_or_booleans_render() {
    for name in ["123", "true", "yes", "null", "0x10"] {
        let out = meshctl()
            .args(["install", "--dry-run", "--set-string"])
            .arg(format!("namespace={name}"))
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(&format!("namespace: '{name}'"))
                || text.contains(&format!("namespace: \"{name}\"")),
            "{name}: namespace not quoted"
        );
    }
}

#[test]
fn values_the_templates_cannot_use_exit_2_naming_the_key() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "--set",
            "mgmtServer=null",
            "values key mgmtServer must be a map, got null",
        ),
        (
            "--set-string",
            "mgmtServer.logLevel=info\ndebug",
            "values key mgmtServer.logLevel must be a single line",
        ),
        (
            "--set-string",
            "image.repository=ghcr.io/x\nkind: Pod",
            "values key image.repository must be a single line",
        ),
    ];
    for (flag, value, expected) in cases {
        let err = stderr_of(meshctl().args(["install", "--dry-run", flag, value]), 2);
        assert!(err.contains(expected), "{value:?}: {err}");
    }
}

#[test]
fn values_that_would_render_invalid_manifests_are_refused_naming_the_key() {
    // Each of these rendered manifests the API server would refuse (or an image ":0.1.0"), exit 0.
    let cases: &[(&[&str], &str)] = &[
        (
            &["--set", "image.pullPolicy=Sometimes"],
            "values key image.pullPolicy must be one of Always, IfNotPresent, Never, got \"Sometimes\"",
        ),
        (
            &["--set", "mgmtServer.service.type=Bogus"],
            "values key mgmtServer.service.type must be one of LoadBalancer, NodePort, ClusterIP",
        ),
        (
            &["--set", "mgmtServer.ports.relay=0"],
            "values key mgmtServer.ports.relay must be an integer from 1 to 65535, got 0",
        ),
        (
            &["--set", "agent.ports.admin=99999"],
            "values key agent.ports.admin must be an integer from 1 to 65535, got 99999",
        ),
        (&["--set", "image=null"], "values key image must be a map"),
        (
            &["--set-string", "image.repository="],
            "values key image.repository must be a value that is not empty",
        ),
        (
            &["--set", "prometheus.scrapeInterval=soon"],
            "values key prometheus.scrapeInterval must be a duration",
        ),
        (
            &["--set-string", "namespace=Bad_NS"],
            "values key namespace must be a DNS label",
        ),
    ];
    for (args, expected) in cases {
        let err = stderr_of(
            meshctl()
                .args(["install", "--dry-run", "--profile", "mgmt"])
                .args(*args),
            2,
        );
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    // Within the constraints all is well.
    meshctl()
        .args(["install", "--dry-run", "--profile", "mgmt"])
        .args([
            "--set",
            "image.pullPolicy=Always",
            "--set",
            "mgmtServer.ports.relay=65535",
        ])
        .args(["--set", "mgmtServer.service.type=ClusterIP"])
        .assert()
        .code(0);
}

#[test]
fn the_published_values_schema_holds_the_same_constraints() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/values.schema.json"),
    )
    .unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    let policy = &schema["properties"]["image"]["properties"]["pullPolicy"];
    assert_eq!(
        policy["enum"],
        serde_json::json!(["Always", "IfNotPresent", "Never"])
    );
    let relay = &schema["properties"]["mgmtServer"]["properties"]["ports"]["properties"]["relay"];
    assert_eq!(relay["minimum"], 1);
    assert_eq!(relay["maximum"], 65535);
    assert_eq!(schema["additionalProperties"], false);
}

#[test]
fn a_license_without_translation_is_a_usage_error_not_ignored() {
    let err = stderr_of(
        meshctl().args([
            "serve",
            "mgmt-server",
            "--state-dir",
            "/nonexistent",
            "--license-file",
            "/nonexistent/key",
        ]),
        2,
    );
    assert!(
        err.contains("--license-file has no effect without --config-dir or --kubernetes"),
        "{err}"
    );
}

#[test]
fn a_server_that_cannot_listen_leaves_nothing_behind() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let state = tempfile::tempdir().unwrap();
    let out = meshctl()
        .args(["serve", "mgmt-server", "--state-dir"])
        .arg(state.path())
        .args(["--relay-listen", &format!("127.0.0.1:{port}")])
        .args(["--admin-listen", "127.0.0.1:0", "--cluster", "c1"])
        .assert()
        .failure()
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    // Before, the relay PKI and c1's bootstrap token were created first.
    assert!(
        !state.path().join("pki").exists(),
        "PKI created by a server that never listened"
    );
    assert!(
        !state.path().join("tokens/c1.json").exists(),
        "token issued by a server that never listened"
    );
    drop(taken);
}
