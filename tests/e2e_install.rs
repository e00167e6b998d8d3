//! End-to-end: install, re-install, diff, upgrade with prune, uninstall and dry-run against the API
//! server of `MESHCTL_E2E_KUBECONFIG` (an API server without nodes is enough: `--wait=false`
//! everywhere). Skipped, with the reason printed, when the variable is unset.
//!
//! The tests share cluster-scoped objects (CRDs), so they run one at a time; each works in its own
//! namespace and uninstalls with `--purge` at the end.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Output;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::Value;
use support::E2eEnv;

fn with(base: &[&str], extra: &[String]) -> Vec<String> {
    base.iter()
        .map(|s| (*s).to_owned())
        .chain(extra.iter().cloned())
        .collect()
}

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn unique_namespace(prefix: &str) -> String {
    format!("{prefix}-{:06}", rand::random::<u32>() % 1_000_000)
}

fn meshctl<S: AsRef<std::ffi::OsStr>>(env: &E2eEnv, namespace: &str, args: &[S]) -> Output {
    let mut cmd = std::process::Command::new(support::meshctl_bin());
    cmd.args(env.mgmt_args())
        .args(["-n", namespace])
        .args(args)
        .env("NO_COLOR", "1")
        .env("CI", "1")
        .env_remove("RUST_LOG")
        .env_remove("MESHCTL_NAMESPACE")
        .env_remove("MESHCTL_LICENSE_KEY")
        .env_remove("MESHCTL_TRUSTED_ISSUERS");
    cmd.output().expect("run meshctl")
}

fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "meshctl failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn json(output: Output) -> Value {
    serde_json::from_str(&ok(output)).unwrap()
}

/// Objects carrying meshctl's labels for `namespace`, by kind (Namespace excluded: without a namespace
/// controller a deleted namespace stays Terminating).
async fn labelled(client: &kube::Client, namespace: &str) -> Vec<String> {
    let selector = meshctl::manifests::labels::install_selector(namespace);
    let mut found = Vec::new();
    for kind in meshctl::kube::resources::builtin() {
        if kind.resource.kind == "Namespace" {
            continue;
        }
        let api: Api<DynamicObject> = if kind.namespaced {
            Api::namespaced_with(client.clone(), namespace, &kind.resource)
        } else {
            Api::all_with(client.clone(), &kind.resource)
        };
        for item in api
            .list_metadata(&ListParams::default().labels(&selector))
            .await
            .unwrap()
            .items
        {
            found.push(format!(
                "{} {}",
                kind.resource.kind,
                item.metadata.name.unwrap_or_default()
            ));
        }
    }
    found
}

/// Uninstalls with --purge when dropped, so a failing test leaves nothing behind.
struct Cleanup<'a> {
    env: &'a E2eEnv,
    namespace: String,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = meshctl(
            self.env,
            &self.namespace,
            &["uninstall", "--purge", "--yes", "--timeout", "60s"],
        );
    }
}

fn actions(report: &Value) -> Vec<String> {
    report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn install_then_reinstall_reports_unchanged_and_uninstall_leaves_nothing_labelled() {
    let Some(env) = E2eEnv::from_env(
        "install_then_reinstall_reports_unchanged_and_uninstall_leaves_nothing_labelled",
    ) else {
        return;
    };
    let _serial = ONE_AT_A_TIME.lock().await;
    let namespace = unique_namespace("e2e-install");
    let cleanup = Cleanup {
        env: &env,
        namespace: namespace.clone(),
    };
    let client = env.client(false).await;
    let dir = tempfile::tempdir().unwrap();
    let license = support::license_args(&dir, "e2e install");

    let first = json(meshctl(
        &env,
        &namespace,
        &with(&["install", "--wait=false", "-o", "json"], &license),
    ));
    assert!(
        actions(&first)
            .iter()
            .all(|a| a == "created" || a == "configured"),
        "{first}"
    );
    assert!(!labelled(&client, &namespace).await.is_empty());

    // The license is in the cluster now: no key needed.
    let again = json(meshctl(
        &env,
        &namespace,
        &["install", "--wait=false", "-o", "json"],
    ));
    assert!(
        actions(&again).iter().all(|a| a == "unchanged"),
        "re-install changed something: {again}"
    );

    ok(meshctl(
        &env,
        &namespace,
        &["uninstall", "--purge", "--yes", "--timeout", "60s"],
    ));
    assert_eq!(labelled(&client, &namespace).await, Vec::<String>::new());
    let ns: Api<Namespace> = Api::all(client.clone());
    if let Some(ns) = ns.get_opt(&namespace).await.unwrap() {
        assert!(
            ns.metadata.deletion_timestamp.is_some(),
            "namespace {namespace} was not deleted"
        );
    }
    drop(cleanup);
}

#[tokio::test]
async fn diff_after_a_set_change_shows_exactly_that_change() {
    let Some(env) = E2eEnv::from_env("diff_after_a_set_change_shows_exactly_that_change") else {
        return;
    };
    let _serial = ONE_AT_A_TIME.lock().await;
    let namespace = unique_namespace("e2e-diff");
    let _cleanup = Cleanup {
        env: &env,
        namespace: namespace.clone(),
    };

    let dir = tempfile::tempdir().unwrap();
    ok(meshctl(
        &env,
        &namespace,
        &with(
            &["install", "--wait=false"],
            &support::license_args(&dir, "e2e install"),
        ),
    ));
    let unchanged = meshctl(&env, &namespace, &["install", "--diff"]);
    assert_eq!(
        ok(unchanged),
        "",
        "a diff right after install must be empty"
    );

    let diff = ok(meshctl(
        &env,
        &namespace,
        &["install", "--diff", "--set", "mgmtServer.logLevel=debug"],
    ));
    let changes: Vec<String> = diff
        .lines()
        .filter(|l| {
            (l.starts_with('-') || l.starts_with('+'))
                && !l.starts_with("---")
                && !l.starts_with("+++")
        })
        .map(|l| format!("{} {}", &l[..1], l[1..].trim()))
        .collect();
    assert_eq!(changes, ["- value: info", "+ value: debug"], "{diff}");
    assert!(
        diff.contains(&format!("live/Deployment {namespace}/mesh-mgmt-server")),
        "{diff}"
    );
}

#[tokio::test]
async fn upgrade_prunes_what_the_new_rendering_no_longer_contains() {
    let Some(env) = E2eEnv::from_env("upgrade_prunes_what_the_new_rendering_no_longer_contains")
    else {
        return;
    };
    let _serial = ONE_AT_A_TIME.lock().await;
    let namespace = unique_namespace("e2e-upgrade");
    let _cleanup = Cleanup {
        env: &env,
        namespace: namespace.clone(),
    };
    let client = env.client(false).await;

    let dir = tempfile::tempdir().unwrap();
    ok(meshctl(
        &env,
        &namespace,
        &with(
            &["install", "--wait=false", "--set", "redis.enabled=true"],
            &support::license_args(&dir, "e2e install"),
        ),
    ));
    assert!(
        labelled(&client, &namespace)
            .await
            .contains(&"Deployment mesh-redis".to_owned())
    );

    let report = json(meshctl(
        &env,
        &namespace,
        &["upgrade", "--wait=false", "-o", "json"],
    ));
    let pruned: Vec<String> = report["pruned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            format!(
                "{} {}",
                o["kind"].as_str().unwrap(),
                o["name"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        pruned.contains(&"Deployment mesh-redis".to_owned()),
        "{report}"
    );
    assert!(
        pruned.contains(&"Service mesh-redis".to_owned()),
        "{report}"
    );
    let left = labelled(&client, &namespace).await;
    assert!(!left.iter().any(|o| o.ends_with("mesh-redis")), "{left:?}");
    assert!(
        left.contains(&"Deployment mesh-mgmt-server".to_owned()),
        "{left:?}"
    );
}

#[tokio::test]
async fn dry_run_leaves_the_cluster_untouched() {
    let Some(env) = E2eEnv::from_env("dry_run_leaves_the_cluster_untouched") else {
        return;
    };
    let _serial = ONE_AT_A_TIME.lock().await;
    let namespace = unique_namespace("e2e-dry-run");
    let client = env.client(false).await;

    let yaml = ok(meshctl(&env, &namespace, &["install", "--dry-run"]));
    assert!(yaml.contains(&format!("namespace: {namespace}")));
    let ns: Api<Namespace> = Api::all(client.clone());
    assert!(
        ns.get_opt(&namespace).await.unwrap().is_none(),
        "--dry-run created the namespace"
    );
    assert_eq!(labelled(&client, &namespace).await, Vec::<String>::new());
}

#[tokio::test]
async fn install_without_a_license_fails_before_touching_the_cluster() {
    let Some(env) = E2eEnv::from_env("install_without_a_license_fails_before_touching_the_cluster")
    else {
        return;
    };
    let _serial = ONE_AT_A_TIME.lock().await;
    let namespace = unique_namespace("e2e-nolicense");
    let client = env.client(false).await;
    let output = meshctl(&env, &namespace, &["install", "--wait=false"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("needs a license"), "{stderr}");
    assert_eq!(labelled(&client, &namespace).await, Vec::<String>::new());
}

#[tokio::test]
async fn upgrade_without_an_installation_fails_clearly() {
    let Some(env) = E2eEnv::from_env("upgrade_without_an_installation_fails_clearly") else {
        return;
    };
    let namespace = unique_namespace("e2e-none");
    let output = meshctl(&env, &namespace, &["upgrade", "--wait=false"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "no meshctl installation found in namespace {namespace}"
        )),
        "{stderr}"
    );
}
