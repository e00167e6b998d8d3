//! Registering workload clusters with the management server (`meshctl cluster register`,
//! `deregister`, `list`): the domain logic behind `src/cli/cluster/`.
//!
//! - [`preflight`]: both clusters reachable, the server installed, the name free, permissions.
//! - [`relay_address`]: where agents dial the relay, and whether that can work.
//! - [`token`]: the per-cluster bootstrap token Secret on the management cluster.
//! - [`remote`]: what register writes to the workload cluster (CA, token, agent manifests).
//! - [`wait`]: waiting until the server reports the cluster connected, and why it is not.
//! - [`plan`]: what register created, as printed.
//! - [`deregister`]: removing exactly that again.
//! - [`list`]: registrations joined with the server's live relay view.

pub mod api;
pub mod deregister;
pub mod error;
pub mod list;
pub mod plan;
pub mod preflight;
pub mod record;
pub mod relay_address;
pub mod remote;
pub mod token;
pub mod wait;

#[cfg(test)]
pub(crate) mod testing;

use std::collections::BTreeMap;

pub use error::ClusterError;

use crate::manifests::labels;

/// Root CA Secret, on the management cluster (written by the server) and copied to the workload
/// cluster (`ca.crt` only).
pub const ROOT_CA_SECRET: &str = "relay-root-tls-secret";
/// The key of the root certificate in [`ROOT_CA_SECRET`].
pub const CA_KEY: &str = "ca.crt";
/// Prefix of the per-cluster bootstrap token Secret on the management cluster.
pub const TOKEN_SECRET_PREFIX: &str = "relay-identity-token-";
/// The bootstrap token Secret on the workload cluster.
pub const REMOTE_TOKEN_SECRET: &str = "relay-identity-token";
/// The key of the token in both token Secrets.
pub const TOKEN_KEY: &str = "token";
/// The agent's client certificate Secret on the workload cluster (written by the agent).
pub const CLIENT_TLS_SECRET: &str = "relay-client-tls-secret";
/// Annotation the server puts on a token Secret once the token was used to issue a certificate.
pub const TOKEN_CONSUMED_ANNOTATION: &str = "meshctl.dev/token-consumed-at";
/// Label naming the cluster a registration object belongs to.
pub const CLUSTER_LABEL: &str = "meshctl.dev/cluster";
/// Annotation on the KubernetesCluster: the workload cluster's identity (kube-system namespace UID,
/// or API server URL) so the same name is never registered for two clusters.
pub const CLUSTER_ID_ANNOTATION: &str = "meshctl.dev/cluster-id";
/// Annotation on the KubernetesCluster: the agent's namespace on the workload cluster.
pub const AGENT_NAMESPACE_ANNOTATION: &str = "meshctl.dev/agent-namespace";
/// Component label value of the management-side registration objects.
pub const REGISTRATION_COMPONENT: &str = "cluster-registration";
/// Component label value of everything written to the workload cluster.
pub const AGENT_COMPONENT: &str = "agent";
/// The management server's Deployment and relay Service.
pub const MGMT_SERVER: &str = "mesh-mgmt-server";
/// The management server's admin Service (port [`ADMIN_PORT`]).
pub const ADMIN_SERVICE: &str = "mesh-mgmt-server-admin";
/// Admin port of the management server.
pub const ADMIN_PORT: u16 = 9091;
/// The agent's Deployment.
pub const AGENT_DEPLOYMENT: &str = "mesh-agent";

/// Name of the token Secret of `cluster` on the management cluster.
pub fn token_secret_name(cluster: &str) -> String {
    format!("{TOKEN_SECRET_PREFIX}{cluster}")
}

/// Labels of an object register creates for `cluster`: the standard ones, the component, and the
/// cluster. Not the install-namespace label: `upgrade` and `uninstall` select on that, and a
/// registration is only ever removed by `deregister` (in a `--self` setup sharing the management
/// namespace, an upgrade would otherwise prune the agent).
pub fn registration_labels(
    cluster: &str,
    component: &str,
    version: &str,
) -> BTreeMap<String, String> {
    BTreeMap::from([
        (labels::MANAGED_BY.to_owned(), labels::MESHCTL.to_owned()),
        (labels::PART_OF.to_owned(), labels::MESHCTL.to_owned()),
        (labels::COMPONENT.to_owned(), component.to_owned()),
        (labels::VERSION.to_owned(), labels::version_value(version)),
        (CLUSTER_LABEL.to_owned(), cluster.to_owned()),
    ])
}

/// Label selector of what register wrote to the workload cluster for `cluster`.
pub fn remote_selector(cluster: &str) -> String {
    format!(
        "{}={},{CLUSTER_LABEL}={cluster},{}={AGENT_COMPONENT}",
        labels::MANAGED_BY,
        labels::MESHCTL,
        labels::COMPONENT
    )
}

/// Whether `labels` say meshctl manages the object.
pub fn is_managed(labels: Option<&BTreeMap<String, String>>) -> bool {
    labels
        .and_then(|l| l.get(labels::MANAGED_BY))
        .is_some_and(|v| v == labels::MESHCTL)
}

/// The cluster named by `labels`, if any.
pub fn labelled_cluster(labels: Option<&BTreeMap<String, String>>) -> Option<&str> {
    labels
        .and_then(|l| l.get(CLUSTER_LABEL))
        .map(String::as_str)
}

/// Which cluster an object lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The management cluster.
    Mgmt,
    /// The workload cluster being registered.
    Remote,
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Mgmt => "management cluster",
            Self::Remote => "workload cluster",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_selectors() {
        assert_eq!(token_secret_name("east"), "relay-identity-token-east");
        assert_eq!(
            remote_selector("east"),
            "app.kubernetes.io/managed-by=meshctl,meshctl.dev/cluster=east,app.kubernetes.io/component=agent"
        );
        let l = registration_labels("east", AGENT_COMPONENT, "1.0.0+x");
        assert!(!l.contains_key(labels::INSTALL_NAMESPACE));
        assert!(is_managed(Some(&l)));
        assert_eq!(labelled_cluster(Some(&l)), Some("east"));
        assert_eq!(l[labels::VERSION], "1.0.0_x");
        assert!(!is_managed(None));
    }
}
