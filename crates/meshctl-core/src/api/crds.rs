//! The CustomResourceDefinitions of the platform, generated from the Rust types, and their checked-in
//! YAML form under `templates/crds/<plural>.<group>.yaml`.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use super::{
    AccessPolicy, KubernetesCluster, RouteTable, VirtualDestination, VirtualGateway, Workspace,
};

/// Header of every generated CRD file.
pub const GENERATED_HEADER: &str = "# Generated from the Rust types in src/api by meshctl's test suite; do not edit.\n\
# Regenerate with: UPDATE_GENERATED=1 cargo test --lib api::crds\n";

/// Every CRD of the platform, in a stable order (by file name).
pub fn all() -> Vec<CustomResourceDefinition> {
    let mut crds = vec![
        KubernetesCluster::crd(),
        Workspace::crd(),
        VirtualDestination::crd(),
        RouteTable::crd(),
        VirtualGateway::crd(),
        AccessPolicy::crd(),
    ];
    crds.sort_by_key(file_name);
    crds
}

/// `<plural>.<group>.yaml`: the CRD's own name plus `.yaml`.
pub fn file_name(crd: &CustomResourceDefinition) -> String {
    format!("{}.yaml", crd.metadata.name.as_deref().unwrap_or_default())
}

/// Errors turning a CRD into YAML.
#[derive(Debug, thiserror::Error)]
pub enum CrdYamlError {
    /// The CRD could not be converted to JSON (a bug in the types).
    #[error("cannot convert CRD {name} to JSON: {source}")]
    Json {
        /// CRD name.
        name: String,
        /// Cause.
        source: serde_json::Error,
    },
    /// The JSON form could not be written as YAML.
    #[error("cannot write CRD {name} as YAML: {source}")]
    Yaml {
        /// CRD name.
        name: String,
        /// Cause.
        source: serde_saphyr::SerializeError,
    },
}

/// The YAML text checked in for a CRD: header plus the CRD with keys in sorted order.
pub fn to_yaml(crd: &CustomResourceDefinition) -> Result<String, CrdYamlError> {
    let name = crd.metadata.name.clone().unwrap_or_default();
    // Through serde_json::Value so that map keys come out sorted, whatever the field order of the type.
    let value = serde_json::to_value(crd).map_err(|source| CrdYamlError::Json {
        name: name.clone(),
        source,
    })?;
    let body =
        serde_saphyr::to_string(&value).map_err(|source| CrdYamlError::Yaml { name, source })?;
    Ok(format!("{GENERATED_HEADER}{body}"))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn crd_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../templates")
            .join("crds")
    }

    /// Fails when `templates/crds/` differs from what the types generate. With `UPDATE_GENERATED=1`
    /// rewrites the files (and removes stale ones) instead.
    #[test]
    fn checked_in_crds_match_the_rust_types() {
        let update = std::env::var_os("UPDATE_GENERATED").is_some_and(|v| v == "1");
        let dir = crd_dir();
        let mut expected_files = Vec::new();
        let mut stale = Vec::new();
        for crd in all() {
            let file = file_name(&crd);
            let want = to_yaml(&crd).unwrap();
            let path = dir.join(&file);
            expected_files.push(file.clone());
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &want).unwrap();
                continue;
            }
            let have = std::fs::read_to_string(&path).unwrap_or_default();
            if have != want {
                stale.push(file);
            }
        }
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if !expected_files.contains(&name) {
                if update {
                    std::fs::remove_file(dir.join(&name)).unwrap();
                } else {
                    stale.push(format!("{name} (no type generates it)"));
                }
            }
        }
        assert!(
            stale.is_empty(),
            "templates/crds is out of date: {stale:?}; run UPDATE_GENERATED=1 cargo test --lib api::crds"
        );
    }

    #[test]
    fn every_crd_is_namespaced_v1alpha1_in_a_meshctl_group() {
        let crds = all();
        assert_eq!(crds.len(), 6);
        for crd in &crds {
            assert_eq!(crd.spec.scope, "Namespaced");
            assert!(
                crd.spec.group.ends_with(".meshctl.dev"),
                "{}",
                crd.spec.group
            );
            assert_eq!(crd.spec.versions.len(), 1);
            let version = &crd.spec.versions[0];
            assert_eq!(version.name, super::super::VERSION);
            assert!(version.served && version.storage);
            assert!(
                version
                    .subresources
                    .as_ref()
                    .and_then(|s| s.status.as_ref())
                    .is_some()
            );
            assert_eq!(
                crd.spec.names.categories.as_deref(),
                Some(&["meshctl".to_owned()][..])
            );
        }
    }

    #[test]
    fn translated_kinds_have_the_common_status_with_the_four_states() {
        for crd in all() {
            if crd.spec.names.kind == "KubernetesCluster" {
                continue;
            }
            let schema = serde_json::to_value(&crd.spec.versions[0].schema).unwrap();
            let state = &schema["openAPIV3Schema"]["properties"]["status"]["properties"]["state"];
            let values: Vec<&str> = state["enum"]
                .as_array()
                .unwrap_or_else(|| panic!("{}: no enum in {state}", crd.spec.names.kind))
                .iter()
                .filter_map(|v| v.as_str())
                .collect();
            assert_eq!(values, ["PENDING", "ACCEPTED", "INVALID", "UNLICENSED"]);
        }
    }

    #[test]
    fn generated_yaml_parses_back_to_the_same_crd() {
        for crd in all() {
            let yaml = to_yaml(&crd).unwrap();
            let back: CustomResourceDefinition = serde_saphyr::from_str(&yaml).unwrap();
            assert_eq!(back, crd);
        }
    }
}
