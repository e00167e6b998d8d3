//! End-to-end `meshctl debug report` of an installation (the real `meshctl install --wait=false`)
//! against the API server of `MESHCTL_E2E_KUBECONFIG`; skips with a printed reason when it is
//! unset. The API server has no nodes: no pod runs, so the bundle has no logs, and the admin API
//! behind the Service cannot answer through the service proxy, which the bundle records as
//! problems (a bundle is written whatever part of the installation is broken).

// support::E2eEnv prints the reason for a skip on stderr.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod support;

use support::E2eEnv;
use support::mesh::{Installation, TestIssuer, meshctl, ok_json};

#[test]
fn debug_report_of_an_installation_is_complete_and_redacted() {
    let Some(env) = E2eEnv::from_env("debug_report_of_an_installation_is_complete_and_redacted")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let issuer = TestIssuer::new(dir.path());
    let license = issuer.valid_license("e2e debug");
    let license_key = std::fs::read_to_string(&license).unwrap();
    let license_key = license_key.trim();
    let namespace = format!("e2e-debug-{:06}", rand::random::<u32>() % 1_000_000);
    let installation = Installation::install(&env, &namespace, &issuer, &license);

    let file = dir.path().join("bundle.tar.gz");
    let file_arg = file.display().to_string();
    let summary = ok_json(meshctl(
        &env,
        false,
        &namespace,
        &[
            "debug",
            "report",
            "--file",
            &file_arg,
            "--timeout",
            "30s",
            "-o",
            "json",
        ],
    ));
    assert_eq!(summary["file"], file_arg, "{summary:#}");
    assert_eq!(
        summary["bytes"].as_u64(),
        Some(std::fs::metadata(&file).unwrap().len())
    );

    let entries = meshctl::debug::bundle::read(&file).unwrap();
    let root = entries[0].0.split('/').next().unwrap().to_owned();
    assert!(root.starts_with("meshctl-debug-"), "{root}");
    let content = |name: &str| -> String {
        let path = format!("{root}/{name}");
        let (_, bytes) = entries
            .iter()
            .find(|(n, _)| *n == path)
            .unwrap_or_else(|| panic!("no {name} in the bundle: {summary:#}"));
        String::from_utf8_lossy(bytes).into_owned()
    };
    // The license key is in the cluster (Secret meshctl-license) and nowhere in the bundle.
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(license_key);
    for (name, bytes) in &entries {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains(license_key), "the license key is in {name}");
        assert!(
            !text.contains(&encoded),
            "the encoded license key is in {name}"
        );
    }
    let ns = format!("mgmt/{namespace}");
    assert!(content(&format!("{ns}/deployments.yaml")).contains("name: mesh-mgmt-server"));
    let secrets = content(&format!("{ns}/secrets.yaml"));
    assert!(secrets.contains("name: meshctl-license"), "{secrets}");
    assert!(secrets.contains("<redacted: "), "{secrets}");
    assert!(content(&format!("{ns}/services.yaml")).contains("name: mesh-mgmt-server"));
    assert!(content("mgmt/crds.yaml").contains("kubernetesclusters.admin.meshctl.dev"));
    assert!(content("version.json").contains("gitVersion"));
    let manifest: serde_json::Value = serde_json::from_str(&content("manifest.json")).unwrap();
    assert_eq!(manifest["problems"], summary["problems"]);
    // The admin API: answered, or recorded as a problem (no pod serves it on this API server).
    let problems = summary["problems"].as_array().unwrap();
    for admin in ["clusters.json", "metrics.txt"] {
        let path = format!("mgmt/admin/{admin}");
        let written = entries.iter().any(|(n, _)| *n == format!("{root}/{path}"));
        let reported = problems.iter().any(|p| p["what"] == path);
        assert!(written != reported, "{path}: {summary:#}");
    }
    drop(installation);
}
