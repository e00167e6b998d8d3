//! `meshctl serve mgmt-server`: the management server (relay on 9900, admin on 9091).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::cli::Context;
use crate::cli::duration::parse_duration;
use crate::exit::{ExitKind, Outcome, ResultExt};
use crate::relay::identity::validate_cluster_name;
use crate::relay::pki::default_server_sans;
use crate::server::config_source::{StaticConfigSource, watch_config_dir};
use crate::server::pki_store::DirPkiStore;
use crate::server::session::SessionSettings;
use crate::server::store::MemoryStateStore;
use crate::server::tokens::{LocalTokenStore, TokenStore};
use crate::server::{RelayServer, ServerSettings};

/// Run the management server: the relay agents dial (mTLS gRPC) and the admin HTTP
/// endpoint (/healthz, /readyz, /metrics, /api/v1/clusters)
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Address of the relay (gRPC over TLS) agents connect to; port 0 picks a free port
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:9900")]
    pub relay_listen: SocketAddr,

    /// Address of the admin HTTP endpoint; port 0 picks a free port
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:9091")]
    pub admin_listen: SocketAddr,

    /// Directory for the relay PKI (pki/, created on first start, never overwritten) and
    /// bootstrap token records (tokens/); files are mode 0600
    #[arg(long, value_name = "PATH", env = "MESHCTL_STATE_DIR")]
    pub state_dir: PathBuf,

    /// Directory of configuration to push: PATH/<cluster>/*.yaml goes to that cluster
    /// verbatim (re-read when files change). Without it every cluster gets an empty
    /// configuration
    #[arg(long, value_name = "PATH")]
    pub config_dir: Option<PathBuf>,

    /// Register a cluster (repeatable): issues its bootstrap token if none exists and
    /// writes it to STATE_DIR/tokens/NAME.token (0600) for handing to the agent
    #[arg(long = "cluster", value_name = "NAME")]
    pub clusters: Vec<String>,

    /// Issue a new bootstrap token for a cluster even if it has one (repeatable), e.g.
    /// after its agent lost its certificate; the old token stops working. Written like
    /// --cluster's
    #[arg(long = "reissue-token", value_name = "NAME")]
    pub reissue_tokens: Vec<String>,

    /// Maximum number of concurrent agent streams
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_streams: usize,

    /// Maximum number of open relay connections (with or without a stream); further
    /// connections are closed at once
    #[arg(long, value_name = "N", default_value_t = 12_000)]
    pub max_connections: usize,

    /// Maximum rate of new streams, bootstraps and renewals (per second, bursts of one
    /// second's worth)
    #[arg(long, value_name = "RATE", default_value_t = 200.0)]
    pub max_new_streams_per_second: f64,

    /// Extra DNS name or IP for the server certificate (repeatable), in addition to
    /// localhost, 127.0.0.1, ::1 and the mesh-mgmt-server Service names. Only used when
    /// the PKI is first created
    #[arg(
        long = "server-san",
        visible_alias = "relay-server-san",
        value_name = "NAME"
    )]
    pub server_sans: Vec<String>,

    /// Lifetime of agent client certificates (agents renew after two thirds of it)
    #[arg(long, value_name = "DURATION", default_value = "168h", value_parser = parse_duration)]
    pub client_cert_ttl: Duration,

    /// How often agents must send a heartbeat; a stream silent for three intervals is closed
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub heartbeat_interval: Duration,
}

pub async fn run(args: Args, _ctx: &Context) -> anyhow::Result<Outcome> {
    for c in args.clusters.iter().chain(&args.reissue_tokens) {
        validate_cluster_name(c).exit_kind(ExitKind::Usage)?;
    }
    if args.max_new_streams_per_second.is_nan() || args.max_new_streams_per_second <= 0.0 {
        return Err(crate::exit::usage(
            "--max-new-streams-per-second must be positive",
        ));
    }
    let state_dir = args.state_dir.clone();
    let tokens = Arc::new(
        LocalTokenStore::open_dir(&state_dir)
            .with_context(|| format!("opening the token store in {}", state_dir.display()))
            .exit_kind(ExitKind::Environment)?,
    );
    for cluster in args.clusters.iter().chain(&args.reissue_tokens) {
        if tokens.is_registered(cluster).await? && !args.reissue_tokens.contains(cluster) {
            continue;
        }
        let token = tokens.issue(cluster).await?;
        if let Some(path) = tokens.write_handoff(cluster, &token)? {
            tracing::info!(%cluster, path = %path.display(), "bootstrap token issued");
        }
    }
    let mut sans = default_server_sans();
    for s in &args.server_sans {
        if !sans.contains(s) {
            sans.push(s.clone());
        }
    }
    let config = Arc::new(if args.config_dir.is_some() {
        StaticConfigSource::pending()
    } else {
        StaticConfigSource::new()
    });
    let server = RelayServer {
        settings: ServerSettings {
            relay_listen: args.relay_listen,
            admin_listen: Some(args.admin_listen),
            server_sans: sans,
            max_streams: args.max_streams.max(1),
            max_connections: args.max_connections.max(1),
            max_new_streams_per_second: args.max_new_streams_per_second,
            client_cert_ttl: args.client_cert_ttl,
            hello_timeout: Duration::from_secs(10),
            session: SessionSettings {
                heartbeat_interval: args.heartbeat_interval.max(Duration::from_secs(1)),
                ..SessionSettings::default()
            },
        },
        pki: Arc::new(DirPkiStore::new(&state_dir)),
        tokens,
        store: Arc::new(MemoryStateStore::new()),
        config: config.clone(),
    }
    .start()
    .await
    .context("starting the management server")
    .exit_kind(ExitKind::Environment)?;
    for c in args.clusters.iter().chain(&args.reissue_tokens) {
        server.registry.register(c);
    }
    let cancel = server.shutdown_token();
    if let Some(dir) = args.config_dir.clone() {
        tokio::spawn(watch_config_dir(
            dir,
            config,
            Duration::from_secs(1),
            cancel.clone(),
        ));
    }
    tracing::info!(root_ca = %state_dir.join("pki/root-ca.crt").display(), "management server ready");
    tokio::select! {
        _ = super::shutdown_signal() => {}
        _ = cancel.cancelled() => {}
    }
    server.shutdown(Duration::from_secs(10)).await;
    Ok(Outcome::Success)
}
