//! The checks. Each holds its spec and the inputs it reads (a cluster, a relay or license
//! source); pure evaluation functions sit beside them and are unit-tested.

pub mod agent;
pub mod config;
pub mod crds;
pub mod install;
pub mod kubernetes;
pub mod license;
pub mod pre;
pub mod relay;

use super::cluster::ApiError;
use super::model::Finding;

/// Label every meshctl object carries.
pub const PART_OF_LABEL: &str = "app.kubernetes.io/part-of";
/// Label naming the tool that manages an object.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Label with the meshctl version that created an object.
pub const VERSION_LABEL: &str = "meshctl.dev/version";
/// The label selector of everything meshctl installs.
pub const PART_OF_SELECTOR: &str = "app.kubernetes.io/part-of=meshctl";
/// The management server's Deployment and Service.
pub use crate::cluster::MGMT_SERVER;
/// The agent's Deployment.
pub const AGENT: &str = "mesh-agent";

/// Category names, in report order.
pub mod category {
    pub const KUBERNETES_API: &str = "kubernetes-api";
    pub const KUBERNETES_VERSION: &str = "kubernetes-version";
    pub const CRDS: &str = "crds";
    pub const INSTALL: &str = "install";
    pub const LICENSE: &str = "license";
    pub const RELAY: &str = "relay";
    pub const CONFIG: &str = "config";
    pub const PERMISSIONS: &str = "permissions";
    pub const CONFLICTS: &str = "conflicts";
    pub const LOAD_BALANCER: &str = "load-balancer";

    /// The category of the agent checks for one workload cluster.
    pub fn agent(context: &str) -> String {
        format!("agent ({context})")
    }
}

/// A failed API call as a finding; credentials and missing contexts are not worth waiting for.
pub fn api_failure(error: &ApiError) -> Finding {
    let finding = Finding::fail(error.to_string(), error.hint());
    match error {
        ApiError::NoClient(_) | ApiError::Unauthorized { .. } | ApiError::Forbidden { .. } => {
            finding.permanent()
        }
        _ => finding,
    }
}

/// At most `max` items joined with ", ", then "and N more".
pub fn join_limited(items: &[String], max: usize) -> String {
    if items.len() <= max {
        return items.join(", ");
    }
    format!(
        "{}, and {} more",
        items[..max].join(", "),
        items.len() - max
    )
}

/// `1 Deployment` / `2 Deployments`.
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limited_lists() {
        let items: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(join_limited(&items, 5), "a, b, c");
        assert_eq!(join_limited(&items, 2), "a, b, and 1 more");
        assert_eq!(plural(1, "CRD"), "1 CRD");
        assert_eq!(plural(2, "CRD"), "2 CRDs");
    }
}
