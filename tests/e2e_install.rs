//! End-to-end: install, re-install, diff, upgrade with prune, uninstall (with and without --purge) and
//! dry-run against the API server of `MESHCTL_E2E_KUBECONFIG` (an API server without nodes or
//! controllers is enough: `--wait=false` everywhere, and nothing waits for a namespace to go away).
//! Skipped, with the reason printed, when the variable is unset.
//!
//! Each test works in its own namespace and, when it ends (even failing), uninstalls without --purge
//! and deletes its namespace. The CRDs are shared with every other e2e test that may run at the same
//! time, so no test here deletes them: the purge test holds a second installation, which makes
//! `uninstall --purge` keep the CRDs. The tests of this file run one at a time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Output;

use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
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

/// Objects carrying meshctl's labels for `namespace`, as `Kind name`. Left out: the Namespace (without a
/// namespace controller a deleted namespace stays Terminating; tests look at it directly) and the CRDs
/// (shared by every installation: their `meshctl.dev/namespace` label names whichever installation
/// applied them last, possibly another test's).
async fn labelled(client: &kube::Client, namespace: &str) -> Vec<String> {
    let selector = meshctl::manifests::labels::install_selector(namespace);
    let mut found = Vec::new();
    for kind in meshctl::kube::resources::builtin() {
        if matches!(
            kind.resource.kind.as_str(),
            "Namespace" | "CustomResourceDefinition"
        ) {
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

/// When dropped (so also when a test fails): uninstalls without --purge (never delete the shared CRDs)
/// and deletes the namespace, which stays Terminating on a server without a namespace controller.
struct Cleanup<'a> {
    env: &'a E2eEnv,
    namespace: String,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = meshctl(
            self.env,
            &self.namespace,
            &["uninstall", "--yes", "--timeout", "60s"],
        );
        let env = self.env.clone();
        let name = self.namespace.clone();
        support::on_own_runtime(async move {
            support::delete_namespace(env.client(false).await, &name).await;
        });
    }
}

/// `(Kind name, action)` of every applied object except the CRDs, which are shared: another
/// installation applied at the same time relabels them, so their action is not this test's to assert.
fn actions(report: &Value) -> Vec<(String, String)> {
    let objects = report["objects"].as_array().unwrap();
    assert!(!objects.is_empty(), "{report}");
    objects
        .iter()
        .filter(|o| o["kind"] != "CustomResourceDefinition")
        .map(|o| {
            (
                format!(
                    "{} {}",
                    o["kind"].as_str().unwrap(),
                    o["name"].as_str().unwrap()
                ),
                o["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The changed lines (`- text`, `+ text`) of a unified `install --diff` output, per object header,
/// leaving out the CRDs (shared: another installation may have relabelled them meanwhile).
fn changes(diff: &str) -> Vec<(String, Vec<String>)> {
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    for line in diff.lines() {
        if let Some(header) = line.strip_prefix("--- ") {
            sections.push((header.trim().to_owned(), Vec::new()));
        } else if line.starts_with("+++ ") || line.starts_with("@@") {
            continue;
        } else if let (Some(section), Some(sign @ ('-' | '+'))) =
            (sections.last_mut(), line.chars().next())
        {
            section.1.push(format!("{sign} {}", line[1..].trim()));
        }
    }
    sections
        .into_iter()
        .filter(|(header, _)| !header.contains("CustomResourceDefinition "))
        .collect()
}

async fn license_secret(client: &kube::Client, namespace: &str) -> Option<Secret> {
    Api::<Secret>::namespaced(client.clone(), namespace)
        .get_opt(meshctl::license::LICENSE_SECRET_NAME)
        .await
        .unwrap()
}

#[tokio::test]
async fn install_then_reinstall_reports_unchanged_and_uninstall_keeps_only_what_it_says() {
    let Some(env) = E2eEnv::from_env(
        "install_then_reinstall_reports_unchanged_and_uninstall_keeps_only_what_it_says",
    ) else {
        return;
    };
    let _serial = ONE_AT_A_TIME.lock().await;
    let namespace = unique_namespace("e2e-install");
    let _cleanup = Cleanup {
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
    // A fresh namespace: everything but the shared CRDs is new.
    assert!(
        actions(&first).iter().all(|(_, a)| a == "created"),
        "{first}"
    );
    assert!(
        labelled(&client, &namespace)
            .await
            .contains(&"Deployment mesh-mgmt-server".to_owned())
    );
    assert!(license_secret(&client, &namespace).await.is_some());
    // Server-side apply with field manager meshctl.
    let deployment: k8s_openapi::api::apps::v1::Deployment =
        Api::namespaced(client.clone(), &namespace)
            .get("mesh-mgmt-server")
            .await
            .unwrap();
    let managers: Vec<(String, String)> = deployment
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .map(|f| {
            (
                f.manager.unwrap_or_default(),
                f.operation.unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        managers.contains(&("meshctl".to_owned(), "Apply".to_owned())),
        "{managers:?}"
    );

    // The license is in the cluster now: no key needed.
    let again = json(meshctl(
        &env,
        &namespace,
        &["install", "--wait=false", "-o", "json"],
    ));
    assert!(
        actions(&again).iter().all(|(_, a)| a == "unchanged"),
        "re-install changed something: {again}"
    );

    let report = json(meshctl(
        &env,
        &namespace,
        &["uninstall", "--yes", "--timeout", "60s", "-o", "json"],
    ));
    assert_eq!(report["purge"], false, "{report}");
    assert!(
        report["objects"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["result"] == "deleted"),
        "{report}"
    );
    assert_eq!(report["kept"].as_array().unwrap().len(), 2, "{report}");
    // Without --purge the namespace and its Secrets stay (and say so); everything else is gone.
    let left: Vec<String> = labelled(&client, &namespace)
        .await
        .into_iter()
        .filter(|o| !o.starts_with("Secret "))
        .collect();
    assert_eq!(left, Vec::<String>::new());
    assert!(license_secret(&client, &namespace).await.is_some());
    let ns: Api<Namespace> = Api::all(client.clone());
    let ns = ns.get(&namespace).await.unwrap();
    assert!(ns.metadata.deletion_timestamp.is_none());
}

#[tokio::test]
async fn purge_deletes_the_namespace_and_its_secrets_and_keeps_crds_another_installation_uses() {
    let Some(env) = E2eEnv::from_env(
        "purge_deletes_the_namespace_and_its_secrets_and_keeps_crds_another_installation_uses",
    ) else {
        return;
    };
    let _serial = ONE_AT_A_TIME.lock().await;
    let client = env.client(false).await;
    let dir = tempfile::tempdir().unwrap();
    // The other installation: while it exists, --purge must keep the CRDs (which other e2e tests use).
    let witness = unique_namespace("e2e-witness");
    let _witness_cleanup = Cleanup {
        env: &env,
        namespace: witness.clone(),
    };
    ok(meshctl(
        &env,
        &witness,
        &with(
            &["install", "--wait=false"],
            &support::license_args(&dir, "e2e witness"),
        ),
    ));
    let namespace = unique_namespace("e2e-purge");
    let _cleanup = Cleanup {
        env: &env,
        namespace: namespace.clone(),
    };
    ok(meshctl(
        &env,
        &namespace,
        &with(
            &["install", "--wait=false"],
            &support::license_args(&dir, "e2e purge"),
        ),
    ));

    let report = json(meshctl(
        &env,
        &namespace,
        &[
            "uninstall",
            "--purge",
            "--yes",
            "--timeout",
            "60s",
            "-o",
            "json",
        ],
    ));
    assert_eq!(report["purge"], true, "{report}");
    let results: Vec<String> = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            format!(
                "{} {} {}",
                o["kind"].as_str().unwrap(),
                o["name"].as_str().unwrap(),
                o["result"].as_str().unwrap()
            )
        })
        .collect();
    for expected in [
        "Deployment mesh-mgmt-server deleted".to_owned(),
        format!("ClusterRole meshctl:{namespace}:mgmt-server deleted"),
        "Secret meshctl-license deleted".to_owned(),
        // Not waited for: without a namespace controller it stays Terminating.
        format!("Namespace {namespace} terminating"),
    ] {
        assert!(results.contains(&expected), "{expected}: {report}");
    }
    assert!(
        !results
            .iter()
            .any(|r| r.starts_with("CustomResourceDefinition ")),
        "{report}"
    );
    let kept = report["kept"].as_array().unwrap();
    assert!(
        kept.iter().any(|k| {
            let k = k.as_str().unwrap();
            k.contains("CustomResourceDefinitions") && k.contains(&witness)
        }),
        "{report}"
    );
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = crds
        .get("kubernetesclusters.admin.meshctl.dev")
        .await
        .unwrap();
    assert!(crd.metadata.deletion_timestamp.is_none());

    assert_eq!(labelled(&client, &namespace).await, Vec::<String>::new());
    assert!(license_secret(&client, &namespace).await.is_none());
    let ns: Api<Namespace> = Api::all(client.clone());
    if let Some(ns) = ns.get_opt(&namespace).await.unwrap() {
        assert!(
            ns.metadata.deletion_timestamp.is_some(),
            "namespace {namespace} was not deleted"
        );
    }

    // Re-running while the namespace terminates is not an error.
    ok(meshctl(
        &env,
        &namespace,
        &["uninstall", "--purge", "--yes", "--timeout", "60s"],
    ));
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
    let unchanged = ok(meshctl(&env, &namespace, &["install", "--diff"]));
    assert_eq!(
        changes(&unchanged),
        [],
        "a diff right after install must be empty: {unchanged}"
    );

    let diff = ok(meshctl(
        &env,
        &namespace,
        &["install", "--diff", "--set", "mgmtServer.logLevel=debug"],
    ));
    assert_eq!(
        changes(&diff),
        [(
            format!("live/Deployment {namespace}/mesh-mgmt-server"),
            vec!["- value: info".to_owned(), "+ value: debug".to_owned()]
        )],
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
    let ns: Api<Namespace> = Api::all(client.clone());
    assert!(ns.get_opt(&namespace).await.unwrap().is_none());
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

/// `install --wait` of every profile on the real control plane: the Deployments roll out (the
/// controller manager makes the pods, the scheduler binds them to kwok's node, kwok makes them
/// Ready), so install returns only once they are available; `check`'s install category is then all
/// green; a second install changes nothing; uninstall leaves no labelled object but its Secrets.
#[tokio::test]
async fn every_profile_installs_with_wait_until_its_pods_are_ready() {
    let Some(env) = E2eEnv::from_env("every_profile_installs_with_wait_until_its_pods_are_ready")
    else {
        return;
    };
    let _serial = ONE_AT_A_TIME.lock().await;
    let client = env.client(false).await;
    let dir = tempfile::tempdir().unwrap();
    let license = support::license_args(&dir, "e2e profiles");
    let agent_values = [
        "--set",
        "cluster.name=e2e-profile",
        "--set",
        "agent.relayAddress=127.0.0.1:9900",
    ];
    let cases: [(&str, Vec<&str>, &[&str]); 3] = [
        (
            "mgmt",
            vec![
                "--set",
                "redis.enabled=true",
                "--set",
                "prometheus.enabled=true",
            ],
            &["mesh-mgmt-server", "mesh-prometheus", "mesh-redis"],
        ),
        ("agent", agent_values.to_vec(), &["mesh-agent"]),
        (
            "single-cluster",
            agent_values.to_vec(),
            &["mesh-agent", "mesh-mgmt-server"],
        ),
    ];
    for (profile, values, deployments) in cases {
        let namespace = unique_namespace(&format!("e2e-profile-{profile}"));
        let _cleanup = Cleanup {
            env: &env,
            namespace: namespace.clone(),
        };
        let mut args = vec![
            "install".to_owned(),
            "--profile".to_owned(),
            profile.to_owned(),
            "--wait".to_owned(),
            "--timeout".to_owned(),
            "120s".to_owned(),
            "-o".to_owned(),
            "json".to_owned(),
        ];
        args.extend(values.iter().map(|v| (*v).to_owned()));
        if profile != "agent" {
            args.extend(license.iter().cloned());
        }
        let first = json(meshctl(&env, &namespace, &args));
        assert!(
            actions(&first).iter().all(|(_, a)| a == "created"),
            "{profile}: {first}"
        );
        // --wait returned: every Deployment is rolled out, with pods Ready.
        assert_eq!(
            support::rollout_pending(
                &client,
                &namespace,
                &meshctl::manifests::labels::install_selector(&namespace)
            )
            .await,
            Vec::<(String, String)>::new(),
            "{profile}"
        );
        let mut installed: Vec<String> = labelled(&client, &namespace)
            .await
            .into_iter()
            .filter_map(|o| o.strip_prefix("Deployment ").map(str::to_owned))
            .collect();
        installed.sort();
        assert_eq!(installed, *deployments, "{profile}");
        let pods: Api<k8s_openapi::api::core::v1::Pod> =
            Api::namespaced(client.clone(), &namespace);
        let pods = pods.list(&ListParams::default()).await.unwrap().items;
        assert_eq!(pods.len(), deployments.len(), "{profile}: one pod each");
        for pod in &pods {
            let status = pod.status.clone().unwrap_or_default();
            assert_eq!(status.phase.as_deref(), Some("Running"), "{profile}");
            assert!(
                pod.spec
                    .as_ref()
                    .and_then(|s| s.node_name.clone())
                    .is_some(),
                "{profile}: the scheduler bound the pod"
            );
        }

        if profile != "agent" {
            // check's install category on the real rollout (the relay checks need a running
            // server, which tests/e2e_check_mesh.rs runs).
            let out = meshctl(&env, &namespace, &["check", "--wait=0s", "-o", "json"]);
            let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                panic!("{profile}: no check report ({e}): {out:?}");
            });
            let mut results = std::collections::BTreeMap::new();
            for category in report["categories"].as_array().unwrap() {
                for check in category["checks"].as_array().unwrap() {
                    results.insert(
                        check["id"].as_str().unwrap().to_owned(),
                        (check["result"].clone(), check["message"].clone()),
                    );
                }
            }
            for id in [
                "kubernetes-api",
                "crds",
                "install",
                "install-available",
                "install-pods",
                "install-images",
            ] {
                assert_eq!(results[id].0, "passed", "{profile} {id}: {report:#}");
            }
        }

        // Again: nothing changes.
        let again = json(meshctl(&env, &namespace, &args));
        assert!(
            actions(&again).iter().all(|(_, a)| a == "unchanged"),
            "{profile}: re-install changed something: {again}"
        );

        let report = json(meshctl(
            &env,
            &namespace,
            &["uninstall", "--yes", "--timeout", "60s", "-o", "json"],
        ));
        let left: Vec<String> = labelled(&client, &namespace)
            .await
            .into_iter()
            .filter(|o| !o.starts_with("Secret "))
            .collect();
        assert_eq!(left, Vec::<String>::new(), "{profile}: {report}");
    }
}
