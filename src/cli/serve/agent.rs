//! `meshctl serve agent`: the agent of one workload cluster (admin on 9093).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::agent::kube::credentials::{ROOT_CA_SECRET, TOKEN_SECRET, read_root_ca};
use crate::agent::kube::source::KubeSourceSettings;
use crate::agent::kube::{
    KubeClusterSource, KubeConfigSink, SecretCredentialsStore, SecretTokenSource,
};
use crate::agent::sink::{ConfigSink, DirSink};
use crate::agent::source::{ClusterSource, DirSource};
use crate::agent::{Agent, AgentSettings, TokenSource};
use crate::cli::Context;
use crate::cli::duration::parse_positive_duration;
use crate::exit::{ExitKind, Outcome, ResultExt};
use crate::relay::client::RelayTarget;
use crate::relay::identity::validate_cluster_name;
use crate::relay::token::BootstrapToken;

use super::agent_backends::{Spec, parse_spec};

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

    /// Secret (in --namespace) holding the bootstrap token under key `token`, re-read
    /// at each bootstrap attempt [default without --token/--token-file/--state-dir:
    /// relay-identity-token]
    #[arg(long, value_name = "NAME", conflicts_with_all = ["token", "token_file"])]
    pub token_secret: Option<String>,

    /// The relay root CA certificate (PEM) the server certificate must chain to
    /// [default: ca.crt of Secret relay-root-tls-secret in --namespace]
    #[arg(long, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,

    /// Directory for the agent's key and certificate (tls.key, tls.crt, ca.crt; mode
    /// 0600) [default: Secret relay-client-tls-secret in --namespace]
    #[arg(long, value_name = "PATH", env = "MESHCTL_AGENT_STATE_DIR")]
    pub state_dir: Option<PathBuf>,

    /// Where the cluster's resources come from: kube (watch the cluster; in-cluster or
    /// --kubeconfig/--context), kube:NS[,NS...] (only those namespaces) or dir:PATH
    /// (YAML files, polled for changes)
    #[arg(long, value_name = "SPEC", default_value = "kube")]
    pub source: String,

    /// Where received configuration is applied: kube (server-side apply, field manager
    /// meshctl-agent; withdrawn objects the agent owns are deleted) or dir:PATH (one YAML
    /// file per resource; withdrawn ones are deleted)
    #[arg(long, value_name = "SPEC", default_value = "kube")]
    pub sink: String,

    /// Address of the admin HTTP endpoint (/healthz, /readyz, /metrics); port 0 picks a free port
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:9093")]
    pub admin_listen: SocketAddr,

    /// How often the directory source is checked for changes
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_positive_duration)]
    pub poll_interval: Duration,
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    validate_cluster_name(&args.cluster).exit_kind(ExitKind::Usage)?;
    let source_spec = parse_spec("--source", &args.source, true)?;
    let sink_spec = parse_spec("--sink", &args.sink, false)?;
    let namespace = ctx.namespace().to_string();
    let kube_client = || async {
        ctx.kube()
            .client()
            .await
            .context("connecting to Kubernetes")
            .exit_kind(ExitKind::Environment)
    };
    let ca_pem = match &args.ca_file {
        Some(file) => {
            crate::input::read_file(file, crate::input::CA_CERTIFICATES).context("--ca-file")?
        }
        None => read_root_ca(kube_client().await?, &namespace, ROOT_CA_SECRET)
            .await
            .context("reading the relay root CA (pass --ca-file or run meshctl cluster register)")
            .exit_kind(ExitKind::Environment)?,
    };
    let token = match (&args.token, &args.token_file, &args.token_secret) {
        (Some(t), _, _) => Some(TokenSource::Literal(BootstrapToken::from_text(t))),
        (None, Some(p), _) => Some(TokenSource::File(p.clone())),
        (None, None, Some(name)) => Some(secret_token(kube_client().await?, &namespace, name)),
        (None, None, None) if args.state_dir.is_none() => {
            Some(secret_token(kube_client().await?, &namespace, TOKEN_SECRET))
        }
        (None, None, None) => None,
    };
    let cancel = tokio_util::sync::CancellationToken::new();
    let source: Arc<dyn ClusterSource> = match source_spec {
        Spec::Dir(dir) => DirSource::start(dir.clone(), args.poll_interval, cancel.clone())
            .await
            .with_context(|| format!("reading --source {}", dir.display()))
            .exit_kind(ExitKind::Environment)?,
        Spec::Kube(namespaces) => {
            let settings = KubeSourceSettings {
                namespaces,
                ..KubeSourceSettings::default()
            };
            KubeClusterSource::start(kube_client().await?, settings, cancel.clone())
                .await
                .context("watching the cluster (--source kube)")
                .exit_kind(ExitKind::Environment)?
        }
    };
    let sink: Arc<dyn ConfigSink> = match sink_spec {
        Spec::Dir(dir) => Arc::new(
            DirSink::open(dir.clone())
                .await
                .with_context(|| format!("opening --sink {}", dir.display()))
                .exit_kind(ExitKind::Environment)?,
        ),
        Spec::Kube(_) => Arc::new(KubeConfigSink::new(kube_client().await?)),
    };
    let mut target = RelayTarget::new(args.relay_address.clone());
    target.server_name = args.relay_server_name.clone();
    let mut settings = AgentSettings::new(
        &args.cluster,
        target,
        ca_pem,
        args.state_dir.clone().unwrap_or_default(),
    );
    if args.state_dir.is_none() {
        settings.credentials = Some(Arc::new(SecretCredentialsStore::new(
            kube_client().await?,
            &namespace,
        )));
    }
    settings.token = token;
    settings.admin_listen = Some(args.admin_listen);
    let agent = Agent {
        settings,
        source,
        sink,
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

fn secret_token(client: kube::Client, namespace: &str, name: &str) -> TokenSource {
    TokenSource::Provider(Arc::new(SecretTokenSource::new(client, namespace, name)))
}
