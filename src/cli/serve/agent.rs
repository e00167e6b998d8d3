//! `meshctl serve agent`: the agent of one workload cluster (admin on 9093).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::agent::sink::DirSink;
use crate::agent::source::DirSource;
use crate::agent::{Agent, AgentSettings, TokenSource};
use crate::cli::Context;
use crate::cli::duration::parse_duration;
use crate::exit::{ExitKind, Outcome, ResultExt};
use crate::relay::client::RelayTarget;
use crate::relay::identity::validate_cluster_name;
use crate::relay::token::BootstrapToken;

/// Run the agent of a workload cluster: bootstrap with the token, connect to the
/// management server with mTLS, push snapshots of the cluster, apply the configuration
/// it receives
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Name of this cluster as registered with the management server (a DNS label)
    #[arg(long, value_name = "NAME", env = "MESHCTL_CLUSTER")]
    pub cluster: String,

    /// Relay address of the management server (host:port)
    #[arg(
        long,
        value_name = "HOST:PORT",
        default_value = "mesh-mgmt-server.mesh-system.svc:9900"
    )]
    pub relay_address: String,

    /// Name to verify in the server certificate [default: the host of --relay-address]
    #[arg(long, value_name = "NAME")]
    pub relay_server_name: Option<String>,

    /// Bootstrap token (used once, when the state dir holds no valid certificate)
    #[arg(
        long,
        value_name = "TOKEN",
        env = "MESHCTL_RELAY_TOKEN",
        hide_env_values = true,
        conflicts_with = "token_file"
    )]
    pub token: Option<String>,

    /// File holding the bootstrap token (re-read at each bootstrap attempt)
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,

    /// The relay root CA certificate (PEM) the server certificate must chain to
    #[arg(long, value_name = "PATH")]
    pub ca_file: PathBuf,

    /// Directory for the agent's key and certificate (tls.key, tls.crt, ca.crt; mode 0600)
    #[arg(long, value_name = "PATH", env = "MESHCTL_AGENT_STATE_DIR")]
    pub state_dir: PathBuf,

    /// Where the cluster's resources come from: dir:PATH (YAML files, polled for changes)
    #[arg(long, value_name = "dir:PATH")]
    pub source: String,

    /// Where received configuration is applied: dir:PATH (one YAML file per resource;
    /// withdrawn ones are deleted)
    #[arg(long, value_name = "dir:PATH")]
    pub sink: String,

    /// Address of the admin HTTP endpoint (/healthz, /readyz, /metrics); port 0 picks a free port
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:9093")]
    pub admin_listen: SocketAddr,

    /// How often the directory source is checked for changes
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub poll_interval: Duration,
}

/// Parses `dir:PATH`.
pub fn dir_spec(flag: &str, spec: &str) -> anyhow::Result<PathBuf> {
    if let Some(path) = spec.strip_prefix("dir:")
        && !path.is_empty()
    {
        return Ok(PathBuf::from(path));
    }
    if spec == "kube" || spec.starts_with("kube:") {
        return Err(crate::exit::usage(format!(
            "{flag} {spec}: the Kubernetes {flag} is not available yet; use dir:PATH"
        )));
    }
    Err(crate::exit::usage(format!(
        "{flag} {spec:?}: expected dir:PATH"
    )))
}

pub async fn run(args: Args, _ctx: &Context) -> anyhow::Result<Outcome> {
    validate_cluster_name(&args.cluster).exit_kind(ExitKind::Usage)?;
    let source_dir = dir_spec("--source", &args.source)?;
    let sink_dir = dir_spec("--sink", &args.sink)?;
    let ca_pem = std::fs::read_to_string(&args.ca_file)
        .with_context(|| format!("reading --ca-file {}", args.ca_file.display()))
        .exit_kind(ExitKind::Environment)?;
    let token = match (&args.token, &args.token_file) {
        (Some(t), _) => Some(TokenSource::Literal(BootstrapToken::from_text(t))),
        (None, Some(p)) => Some(TokenSource::File(p.clone())),
        (None, None) => None,
    };
    let cancel = tokio_util::sync::CancellationToken::new();
    let source = DirSource::start(source_dir.clone(), args.poll_interval, cancel.clone())
        .await
        .with_context(|| format!("reading --source {}", source_dir.display()))
        .exit_kind(ExitKind::Environment)?;
    let sink = DirSink::open(sink_dir.clone())
        .await
        .with_context(|| format!("opening --sink {}", sink_dir.display()))
        .exit_kind(ExitKind::Environment)?;
    let mut target = RelayTarget::new(args.relay_address.clone());
    target.server_name = args.relay_server_name.clone();
    let mut settings = AgentSettings::new(&args.cluster, target, ca_pem, args.state_dir.clone());
    settings.token = token;
    settings.admin_listen = Some(args.admin_listen);
    let agent = Agent {
        settings,
        source,
        sink: Arc::new(sink),
    }
    .start()
    .await
    .context("starting the agent")
    .exit_kind(ExitKind::Environment)?;
    tracing::info!(cluster = %args.cluster, relay = %args.relay_address, "agent started");
    super::shutdown_signal().await;
    cancel.cancel();
    agent.shutdown(Duration::from_secs(10)).await;
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_specs() {
        assert_eq!(
            dir_spec("--source", "dir:/a/b").ok(),
            Some(PathBuf::from("/a/b"))
        );
        assert!(dir_spec("--source", "kube").is_err());
        assert!(dir_spec("--source", "/a").is_err());
        assert!(dir_spec("--source", "dir:").is_err());
    }
}
