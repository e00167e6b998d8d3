//! End to end against a real Kubernetes API (`MESHCTL_E2E_KUBECONFIG`): `license show`,
//! `license apply` (server-side apply, replace, refusal that keeps the old Secret) and
//! `license check` falling back to the cluster. Skips with a printed reason otherwise.

// print_stderr: tests/support prints why an e2e test is skipped.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod support;

use std::path::Path;
use std::process::Output;

use k8s_openapi::api::core::v1::Secret;
use meshctl::license::{IssuerKeyPair, LicenseRequest, LicenseType, Product, issue};
use support::{E2eEnv, TestNamespace, meshctl_bin};

fn run(env: &E2eEnv, namespace: &str, args: &[&str], trust: &Path) -> Output {
    std::process::Command::new(meshctl_bin())
        .args(env.mgmt_args())
        .args(["-n", namespace])
        .args(args)
        .arg("--trusted-issuer")
        .arg(trust)
        .env_remove("MESHCTL_LICENSE_KEY")
        .env_remove("MESHCTL_TRUSTED_ISSUERS")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn license(pair: &IssuerKeyPair, licensee: &str) -> String {
    let now = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second()).unwrap();
    issue(
        &LicenseRequest {
            issuer: "e2e".into(),
            licensee: licensee.into(),
            license_type: LicenseType::Trial,
            products: vec![Product::Mesh],
            modules: vec![],
            max_clusters: Some(2),
            issued_at: now,
            expires_at: now
                .checked_add(jiff::SignedDuration::from_hours(24 * 90))
                .unwrap(),
        },
        pair,
    )
    .unwrap()
}

async fn installed(client: &kube::Client, namespace: &str) -> Secret {
    let api: kube::Api<Secret> = kube::Api::namespaced(client.clone(), namespace);
    api.get("meshctl-license").await.unwrap()
}

// Multi-threaded: TestNamespace's Drop blocks this thread while it deletes the namespace with a clone
// of `client`, whose request worker is a task of this runtime; on a current-thread runtime nothing
// would run that task and the test would hang at `drop(ns)` (or when a failing assertion unwinds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_show_replace_and_refuse_against_a_real_api_server() {
    let Some(env) = E2eEnv::from_env("e2e_license") else {
        return;
    };
    let client = env.client(false).await;
    let ns = TestNamespace::create(client.clone(), "meshctl-e2e-license").await;
    let dir = tempfile::tempdir().unwrap();
    let pair = IssuerKeyPair::generate();
    let trust = dir.path().join("issuer.pub.pem");
    std::fs::write(&trust, pair.public_key().to_spki_pem().unwrap()).unwrap();

    // Nothing installed yet.
    let out = run(&env, &ns.name, &["license", "show", "-o", "json"], &trust);
    assert_eq!(out.status.code(), Some(1), "{out:?}");

    // Install.
    let first = license(&pair, "First Corp");
    let out = run(
        &env,
        &ns.name,
        &["license", "apply", "--key", &first],
        &trust,
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let secret = installed(&client, &ns.name).await;
    let labels = secret.metadata.labels.clone().unwrap();
    assert_eq!(labels["app.kubernetes.io/managed-by"], "meshctl");
    assert_eq!(labels["app.kubernetes.io/component"], "license");
    let stored =
        |s: &Secret| String::from_utf8(s.data.as_ref().unwrap()["license-key"].0.clone()).unwrap();
    assert_eq!(stored(&secret), first);
    let managers: Vec<String> = secret
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|f| f.manager)
        .collect();
    assert!(managers.iter().any(|m| m == "meshctl"), "{managers:?}");

    // show and check (from the cluster) report it.
    let out = run(&env, &ns.name, &["license", "show", "-o", "json"], &trust);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["licensee"], "First Corp");
    let out = run(&env, &ns.name, &["license", "check"], &trust);
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    // A tampered key is refused and the installed one stays.
    let (input, sig) = first.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { 'B' } else { 'A' };
    let tampered = format!("{input}.{flipped}{}", &sig[1..]);
    let out = run(
        &env,
        &ns.name,
        &["license", "apply", "--key", &tampered],
        &trust,
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(stored(&installed(&client, &ns.name).await), first);

    // Another valid key replaces it.
    let second = license(&pair, "Second Corp");
    let out = run(
        &env,
        &ns.name,
        &["license", "apply", "--key", &second],
        &trust,
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stored(&installed(&client, &ns.name).await), second);
    drop(ns);
}
