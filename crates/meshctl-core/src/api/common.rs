//! Types shared by several custom resources.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Regular expression every duration field must match: Go/Istio style, e.g. `250ms`, `5s`, `1m30s`.
pub const DURATION_PATTERN: &str = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$";

/// Outcome of the management server's translation of one resource.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TranslationState {
    /// Not processed yet (or waiting for a dependency).
    #[default]
    Pending,
    /// Translated and pushed to the clusters of its workspace.
    Accepted,
    /// Rejected: the message says why.
    Invalid,
    /// The product this resource belongs to is not covered by the license.
    Unlicensed,
}

impl TranslationState {
    /// The wire spelling (`ACCEPTED`, ...), as printed by kubectl.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Accepted => "ACCEPTED",
            Self::Invalid => "INVALID",
            Self::Unlicensed => "UNLICENSED",
        }
    }
}

/// Status written by the management server on every translated kind.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TranslationStatus {
    /// Result of the last translation.
    #[serde(default)]
    pub state: TranslationState,
    /// Human-readable detail, e.g. why the resource is invalid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// A reference to another object by name, in the referrer's namespace unless `namespace` is set.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    /// Name of the referenced object.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Namespace of the referenced object; defaults to the referrer's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Selects Kubernetes Services across the clusters of the platform. Every field that is set must match;
/// an empty selector matches every Service of the resource's workspace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSelector {
    /// Only Services in the namespaces of this workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// Only Services in this registered cluster (KubernetesCluster name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Only Services in this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Only the Service of this name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Only Services carrying all of these labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Application protocol of a port.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PortProtocol {
    /// HTTP/1.1 (and HTTP/2 with prior knowledge).
    #[default]
    Http,
    /// HTTP/2.
    Http2,
    /// gRPC over HTTP/2.
    Grpc,
    /// TLS, routed by SNI.
    Tls,
    /// Opaque TCP.
    Tcp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_serialises_in_screaming_case_as_the_design_says() {
        for state in [
            TranslationState::Pending,
            TranslationState::Accepted,
            TranslationState::Invalid,
            TranslationState::Unlicensed,
        ] {
            let json = serde_json::to_value(state).unwrap();
            assert_eq!(json, serde_json::json!(state.as_str()));
        }
    }

    #[test]
    fn empty_status_defaults_to_pending() {
        let status: TranslationStatus = serde_json::from_str("{}").unwrap();
        assert_eq!(status.state, TranslationState::Pending);
        assert_eq!(status.observed_generation, None);
    }
}
