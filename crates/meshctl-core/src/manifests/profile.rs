//! Install profiles: which components a rendering contains.

use std::fmt;
use std::str::FromStr;

/// A part of the installation; also the value of the `app.kubernetes.io/component` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    /// The CustomResourceDefinitions of DESIGN.md §3.
    Crds,
    /// The install namespace.
    Namespace,
    /// The management server.
    MgmtServer,
    /// The optional Redis state store.
    Redis,
    /// The optional Prometheus.
    Prometheus,
    /// The agent of a workload cluster.
    Agent,
}

impl Component {
    /// Every component, in rendering order.
    pub const ALL: [Component; 6] = [
        Self::Crds,
        Self::Namespace,
        Self::MgmtServer,
        Self::Redis,
        Self::Prometheus,
        Self::Agent,
    ];

    /// Label value and template folder name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Crds => "crds",
            Self::Namespace => "namespace",
            Self::MgmtServer => "mgmt-server",
            Self::Redis => "redis",
            Self::Prometheus => "prometheus",
            Self::Agent => "agent",
        }
    }

    /// The component whose template folder is `folder`.
    pub fn from_folder(folder: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == folder)
    }

    /// Name of the component's workload (Deployment, Service, ServiceAccount), if it has one.
    pub fn workload_name(self) -> Option<&'static str> {
        match self {
            Self::MgmtServer => Some("mesh-mgmt-server"),
            Self::Redis => Some("mesh-redis"),
            Self::Prometheus => Some("mesh-prometheus"),
            Self::Agent => Some("mesh-agent"),
            Self::Crds | Self::Namespace => None,
        }
    }
}

impl Component {
    /// Non-root user id of the component's containers (the image's own unprivileged user).
    pub fn run_as_user(self) -> u32 {
        match self {
            Self::Redis => 999,
            Self::Prometheus => 65534,
            _ => 65532,
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Profile {
    /// The management cluster: CRDs, management server, optional Redis and Prometheus.
    #[default]
    Mgmt,
    /// A workload cluster: the agent only.
    Agent,
    /// Management server and agent in one cluster.
    SingleCluster,
}

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 3] = [Self::Mgmt, Self::Agent, Self::SingleCluster];

    /// Name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mgmt => "mgmt",
            Self::Agent => "agent",
            Self::SingleCluster => "single-cluster",
        }
    }

    /// Components this profile can contain (optional ones still depend on values).
    pub fn components(self) -> &'static [Component] {
        match self {
            Self::Mgmt => &[
                Component::Crds,
                Component::Namespace,
                Component::MgmtServer,
                Component::Redis,
                Component::Prometheus,
            ],
            Self::Agent => &[Component::Namespace, Component::Agent],
            Self::SingleCluster => &Component::ALL,
        }
    }

    /// Whether the profile runs a management server.
    pub fn has_mgmt_server(self) -> bool {
        self.components().contains(&Component::MgmtServer)
    }

    /// Whether the profile runs an agent.
    pub fn has_agent(self) -> bool {
        self.components().contains(&Component::Agent)
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown profile name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown profile {0:?} (expected mgmt, agent or single-cluster)")]
pub struct UnknownProfile(pub String);

impl FromStr for Profile {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownProfile(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_round_trip_their_names() {
        for profile in Profile::ALL {
            assert_eq!(profile.as_str().parse::<Profile>().unwrap(), profile);
        }
        assert!("cluster".parse::<Profile>().is_err());
    }

    #[test]
    fn agent_profile_has_no_crds_or_server() {
        assert!(!Profile::Agent.has_mgmt_server());
        assert!(!Profile::Agent.components().contains(&Component::Crds));
        assert!(Profile::SingleCluster.has_agent() && Profile::SingleCluster.has_mgmt_server());
    }
}
