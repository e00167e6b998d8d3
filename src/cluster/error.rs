//! Why registering, deregistering or listing a cluster failed, and the exit code each reason gives.

use std::time::Duration;

use crate::exit::ExitKind;
use crate::kube::apply::ApplyFailure;
use crate::manifests::ManifestError;
use crate::relay::identity::IdentityError;

use super::Side;

/// A failure of a cluster registration step. Every message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The cluster name is not a DNS label.
    #[error("{0}")]
    InvalidName(#[from] IdentityError),
    /// The remote context points at the management cluster.
    #[error(
        "the remote context ({remote}) points at the management cluster ({mgmt}): same {evidence}. Pass --self to register the management cluster itself (single-cluster setups), or choose the workload cluster with --remote-context"
    )]
    SameCluster {
        mgmt: String,
        remote: String,
        evidence: String,
    },
    /// The name is registered for another cluster.
    #[error(
        "cluster name {name:?} is already registered for another cluster ({registered}; this one is {this}). Choose another name, or remove the old registration first: meshctl cluster deregister {name}"
    )]
    NameTaken {
        name: String,
        registered: String,
        this: String,
    },
    /// The workload cluster is registered under another name.
    #[error(
        "this workload cluster is already registered as {other:?} ({evidence}); one cluster cannot be registered twice. Re-run with the name {other}, or remove that registration first: meshctl cluster deregister {other}"
    )]
    RegisteredAs { other: String, evidence: String },
    /// meshctl's management server is not installed.
    #[error(
        "meshctl's management server is not installed in namespace {namespace} of the management cluster ({context}): Deployment {namespace}/mesh-mgmt-server not found. Install it first (meshctl install), or pass -n/--namespace of the installation"
    )]
    NotInstalled { namespace: String, context: String },
    /// The server has not written its root CA yet.
    #[error(
        "Secret {namespace}/relay-root-tls-secret (the relay root CA) is missing on the management cluster ({context}): the management server creates it when it first starts. Check that mesh-mgmt-server is running: kubectl -n {namespace} logs deploy/mesh-mgmt-server"
    )]
    NoRootCa { namespace: String, context: String },
    /// The root CA Secret has no usable `ca.crt`.
    #[error(
        "Secret {namespace}/relay-root-tls-secret on the management cluster has no ca.crt; it is not the relay root CA meshctl expects"
    )]
    BadRootCa { namespace: String },
    /// The credentials lack permissions.
    #[error(
        "missing permissions on the {side} ({context}): {}. Ask for a Role/ClusterRole that grants them (check with: kubectl auth can-i --context {context} VERB RESOURCE -n NAMESPACE)",
        .missing.join("; ")
    )]
    Forbidden {
        side: Side,
        context: String,
        missing: Vec<String>,
    },
    /// Objects with these names exist and meshctl does not manage them.
    #[error(
        "refusing to overwrite objects on the {side} that meshctl does not manage: {}. They carry no label app.kubernetes.io/managed-by=meshctl: another tool owns them. Remove or rename them, or register into another namespace (--set namespace=NS)",
        .objects.join(", ")
    )]
    NotManaged { side: Side, objects: Vec<String> },
    /// `--relay-address` is not `HOST:PORT`.
    #[error(
        "--relay-address {0:?} is not HOST:PORT (e.g. relay.example.com:9900 or 203.0.113.7:9900)"
    )]
    InvalidRelayAddress(String),
    /// No relay address could be discovered.
    #[error(
        "cannot find an address for agents to reach the relay: {reason}. Pass --relay-address HOST:PORT (an address of Service {namespace}/mesh-mgmt-server port {port} reachable from the workload cluster)"
    )]
    NoRelayAddress {
        namespace: String,
        port: u16,
        reason: String,
    },
    /// The agent manifests could not be rendered.
    #[error(transparent)]
    Manifests(#[from] ManifestError),
    /// Applying the agent manifests failed.
    #[error("applying the agent manifests to the workload cluster failed: {0}")]
    Apply(#[from] ApplyFailure),
    /// A call to an API server failed.
    #[error("{what} on the {side}: {message}")]
    Api {
        side: Side,
        what: String,
        message: String,
        #[source]
        source: kube::Error,
    },
    /// A call to an API server took too long.
    #[error("{what} on the {side}: no answer within {}s", .after.as_secs())]
    Timeout {
        side: Side,
        what: String,
        after: Duration,
    },
    /// The cluster did not become connected in time.
    #[error("{0}")]
    NotConnected(String),
    /// A Secret holds data that is not what meshctl wrote.
    #[error("{0}")]
    Corrupt(String),
}

impl ClusterError {
    /// The exit code this failure gives.
    pub fn exit_kind(&self) -> ExitKind {
        match self {
            Self::InvalidName(_)
            | Self::SameCluster { .. }
            | Self::NameTaken { .. }
            | Self::RegisteredAs { .. }
            | Self::InvalidRelayAddress(_) => ExitKind::Usage,
            Self::Manifests(err) => match err {
                ManifestError::Render(crate::manifests::RenderError::Template { .. })
                | ManifestError::Render(crate::manifests::RenderError::Embedded(_))
                | ManifestError::Render(crate::manifests::RenderError::Yaml(_))
                | ManifestError::Render(crate::manifests::RenderError::BadDocument { .. }) => {
                    ExitKind::Internal
                }
                _ => ExitKind::Usage,
            },
            Self::NotManaged { .. } => ExitKind::Failure,
            Self::Apply(failure) if failure.errors.iter().any(|e| e.is_conflict()) => {
                ExitKind::Failure
            }
            Self::Corrupt(_) => ExitKind::Failure,
            Self::NotInstalled { .. }
            | Self::NoRootCa { .. }
            | Self::BadRootCa { .. }
            | Self::Forbidden { .. }
            | Self::NoRelayAddress { .. }
            | Self::Apply(_)
            | Self::Api { .. }
            | Self::Timeout { .. }
            | Self::NotConnected(_) => ExitKind::Environment,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_is_a_usage_error_and_the_environment_is_not() {
        let e = ClusterError::SameCluster {
            mgmt: "a".into(),
            remote: "b".into(),
            evidence: "kube-system namespace UID".into(),
        };
        assert_eq!(e.exit_kind(), ExitKind::Usage);
        assert!(e.to_string().contains("--self"), "{e}");
        let e = ClusterError::Forbidden {
            side: Side::Remote,
            context: "east".into(),
            missing: vec!["create secrets in namespace mesh-system".into()],
        };
        assert_eq!(e.exit_kind(), ExitKind::Environment);
        assert!(
            e.to_string()
                .contains("missing permissions on the workload cluster (east): create secrets in namespace mesh-system"),
            "{e}"
        );
    }
}
