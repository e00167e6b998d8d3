//! Translated objects: JSON documents (`apiVersion`, `kind`, `metadata`, `spec`) keyed by
//! [`ResourceKey`], grouped per workload cluster.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::inputs::InputRef;
use super::naming::owner_labels;

/// Istio networking API version of the outputs.
pub const ISTIO_NETWORKING: &str = "networking.istio.io/v1";
/// Istio security API version of the outputs.
pub const ISTIO_SECURITY: &str = "security.istio.io/v1";
/// Cilium API version of the outputs.
pub const CILIUM: &str = "cilium.io/v2";

/// Identity of an output object in a workload cluster.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceKey {
    /// `networking.istio.io/v1`, ...
    pub api_version: String,
    /// `ServiceEntry`, ...
    pub kind: String,
    /// Namespace in the workload cluster.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{} ({})",
            self.kind, self.namespace, self.name, self.api_version
        )
    }
}

/// The desired objects of one cluster.
pub type ClusterOutputs = BTreeMap<ResourceKey, Value>;

/// Desired objects of every cluster, by cluster name.
pub type Outputs = BTreeMap<String, ClusterOutputs>;

/// Builds one output document with the owner labels.
pub fn document(
    api_version: &str,
    kind: &str,
    namespace: &str,
    name: &str,
    owner: &InputRef,
    spec: Value,
) -> (ResourceKey, Value) {
    let key = ResourceKey {
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    };
    let value = json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": owner_labels(owner),
        },
        "spec": spec,
    });
    (key, value)
}

/// Errors rendering outputs as YAML.
#[derive(Debug, thiserror::Error)]
#[error("cannot write translated objects as YAML: {0}")]
pub struct YamlError(#[from] serde_saphyr::SerializeError);

/// The objects of one cluster as a multi-document YAML stream (in key order), as the demo prints them.
pub fn to_yaml(outputs: &ClusterOutputs) -> Result<String, YamlError> {
    let mut text = String::new();
    for value in outputs.values() {
        text.push_str("---\n");
        text.push_str(&serde_saphyr::to_string(value)?);
    }
    Ok(text)
}
