//! Flags naming the workload clusters whose agents a command includes (`check`, `debug report`).

/// `--remote-context` (repeatable) and `--agent-namespace`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AgentTargets {
    /// Also include the agent on the workload cluster of this kubeconfig context (repeatable)
    #[arg(long, value_name = "CONTEXT")]
    pub remote_context: Vec<String>,

    /// Namespace of the agent on the --remote-context clusters, when `cluster register` put it
    /// elsewhere (--set namespace=NS) [default: the -n namespace]
    #[arg(long, value_name = "NAMESPACE", requires = "remote_context")]
    pub agent_namespace: Option<String>,
}

impl AgentTargets {
    /// The agents' namespace: `--agent-namespace`, else `default` (the `-n` namespace, where
    /// `cluster register` puts the agent unless told otherwise).
    pub fn namespace(&self, default: &str) -> String {
        self.agent_namespace
            .clone()
            .unwrap_or_else(|| default.to_owned())
    }
}
