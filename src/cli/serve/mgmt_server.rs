//! `meshctl serve mgmt-server`: the management server (relay on 9900, admin on 9091).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::cli::Context;
use crate::cli::duration::parse_positive_duration;
use crate::cli::license::key_source::LICENSE_KEY_ENV;
use crate::exit::{ExitKind, Outcome, ResultExt};
use crate::relay::identity::validate_cluster_name;
use crate::relay::pki::default_server_sans;
use crate::relay::pki::{MAX_CLIENT_CERT_TTL, MIN_CLIENT_CERT_TTL};
use crate::server::config_source::{ConfigSource, StaticConfigSource, watch_config_dir};
use crate::server::license_source::{
    EntitlementsFeed, LicenseLocation, LicenseSource, entitlements_feed,
};
use crate::server::platform_kube::{KubePlatformSource, StatusLedger, StatusWriter};
use crate::server::platform_source::DirPlatformSource;
use crate::server::redis_store::{self, RedisStateStore, RedisStoreSettings};
use crate::server::run::{
    DEFAULT_MAX_PENDING_CONNECTIONS_PER_SOURCE, REGISTRATION_RECHECK_INTERVAL,
};
use crate::server::session::SessionSettings;
use crate::server::store::{MemoryStateStore, StateStore};
use crate::server::translation::{TranslatingConfigSource, TranslationSettings};
use crate::server::{RelayServer, ServerSettings};
use ed25519_dalek::pkcs8::spki::der::zeroize::Zeroizing;
use std::sync::Mutex;

use super::server_backends::{ServerBackends, stop_status_writer};

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

    /// Also serve the dashboard (the page at / and the read-only admin API, as on the admin
    /// port) on this address, e.g. 0.0.0.0:8090; port 0 picks a free port
    #[arg(long, value_name = "ADDR")]
    pub ui_listen: Option<SocketAddr>,

    /// Directory for the relay PKI (pki/, created on first start, never overwritten) and
    /// bootstrap token records (tokens/); files are mode 0600. Without it the server runs
    /// against Kubernetes (in-cluster, or --kubeconfig/--context): PKI and tokens in
    /// Secrets of --namespace, relay state in each KubernetesCluster's status
    #[arg(long, value_name = "PATH", env = "MESHCTL_STATE_DIR")]
    pub state_dir: Option<PathBuf>,

    /// Redis URL of the shared state store holding the agents' snapshots, e.g.
    /// redis://mesh-redis.mesh-system.svc:6379 (a password goes in the URL as
    /// redis://:PASSWORD@host:port and is never logged). Needed when several server replicas
    /// run: they share snapshots and learn of each other's changes over pub/sub. Keys start with
    /// meshctl:<NAMESPACE>:. Without it snapshots are kept in memory and rebuilt from the agents
    /// after a restart
    #[arg(
        long,
        value_name = "URL",
        env = "MESHCTL_REDIS_URL",
        hide_env_values = true
    )]
    pub redis_url: Option<String>,

    /// Directory of platform resources to translate (Workspace, VirtualDestination, RouteTable,
    /// VirtualGateway, AccessPolicy, KubernetesCluster as YAML, re-read when files change); each
    /// cluster gets the Istio/Cilium objects translated for it. Statuses: GET /api/v1/statuses
    #[arg(long, value_name = "PATH", conflicts_with_all = ["raw_config_dir", "kubernetes"])]
    pub config_dir: Option<PathBuf>,

    /// Translate the platform resources of the management cluster (watched in -n NAMESPACE, or
    /// in all namespaces with --all-namespaces) and write their statuses back
    #[arg(long, conflicts_with = "raw_config_dir")]
    pub kubernetes: bool,

    /// With --kubernetes: watch platform resources in all namespaces
    #[arg(long, requires = "kubernetes")]
    pub all_namespaces: bool,

    /// Directory of configuration pushed without translation: PATH/<cluster>/*.yaml goes to
    /// that cluster verbatim (re-read when files change)
    #[arg(long, value_name = "PATH")]
    pub raw_config_dir: Option<PathBuf>,

    /// License key file for translation (re-read when it changes); MESHCTL_LICENSE_KEY gives
    /// the key directly
    #[arg(long, value_name = "FILE", conflicts_with = "license_secret")]
    pub license_file: Option<PathBuf>,

    /// Secret (in -n NAMESPACE) holding the license key, re-read when it changes
    #[arg(long, value_name = "NAME")]
    pub license_secret: Option<String>,

    /// Data key of the license in --license-secret
    #[arg(long, value_name = "KEY", default_value = crate::license::LICENSE_SECRET_KEY)]
    pub license_secret_key: String,

    /// DNS suffix of Services in the workload clusters
    #[arg(long, value_name = "DOMAIN", default_value = "cluster.local")]
    pub cluster_domain: String,

    #[command(flatten)]
    pub trust: crate::cli::license::trust::TrustArgs,

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

    /// Maximum number of established relay connections (with or without a stream); further
    /// connections are closed after their handshake
    #[arg(long, value_name = "N", default_value_t = 12_000)]
    pub max_connections: usize,

    /// Maximum number of connections from one source address that may be waiting for or running
    /// their TLS handshake at once (0: no limit); further ones are closed at once. Raise it when
    /// agents reach the server through a proxy that hides their addresses
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_PENDING_CONNECTIONS_PER_SOURCE)]
    pub max_pending_connections_per_source: usize,

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
        value_name = "NAME",
        value_parser = parse_server_san
    )]
    pub server_sans: Vec<String>,

    /// Lifetime of agent client certificates, 15m to 8760h (agents renew after two thirds of
    /// it; never past the relay signing CA's expiry)
    #[arg(long, value_name = "DURATION", default_value = "168h", value_parser = parse_client_cert_ttl)]
    pub client_cert_ttl: Duration,

    /// How often agents must send a heartbeat; a stream silent for three intervals is closed
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_positive_duration)]
    pub heartbeat_interval: Duration,
}

/// How the server gets its configuration.
enum Config {
    Raw(Arc<StaticConfigSource>),
    Translated(TranslatingConfigSource),
}

impl Config {
    fn source(&self) -> Arc<dyn ConfigSource> {
        match self {
            Config::Raw(s) => s.clone(),
            Config::Translated(t) => Arc::new(t.clone()),
        }
    }
}

fn license_location(
    args: &Args,
    client: Option<&kube::Client>,
    namespace: &str,
) -> LicenseLocation {
    if let Some(path) = &args.license_file {
        return LicenseLocation::File(path.clone());
    }
    if let (Some(name), Some(client)) = (&args.license_secret, client) {
        return LicenseLocation::Secret {
            client: client.clone(),
            namespace: namespace.to_owned(),
            name: name.clone(),
            key: args.license_secret_key.clone(),
        };
    }
    match std::env::var(LICENSE_KEY_ENV) {
        Ok(key) if !key.trim().is_empty() => {
            LicenseLocation::Literal(Arc::new(Zeroizing::new(key)))
        }
        _ => LicenseLocation::None,
    }
}

/// This replica's name in the relay view shared through Redis: the host name (in Kubernetes the
/// pod name, which the kubelet puts in `HOSTNAME`), else the process id.
fn replica_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| format!("pid-{}", std::process::id()))
}

/// Opens the Redis state store; an unreachable Redis is only a warning (the server retries on
/// every use, and Redis may well start after the server).
async fn open_redis(url: &str, namespace: &str) -> anyhow::Result<RedisStateStore> {
    let store = RedisStateStore::new(RedisStoreSettings {
        url: url.to_owned(),
        prefix: redis_store::default_prefix(namespace),
        timeout: redis_store::DEFAULT_TIMEOUT,
        replica: replica_name(),
    })
    .context("--redis-url")
    .exit_kind(ExitKind::Usage)?;
    match store.ping().await {
        Ok(()) => tracing::info!(redis = %store.url(), "state store: Redis"),
        Err(e) => {
            tracing::warn!(error = %e, "state store: Redis not reachable yet; retrying on use")
        }
    }
    Ok(store)
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    for c in args.clusters.iter().chain(&args.reissue_tokens) {
        validate_cluster_name(c).exit_kind(ExitKind::Usage)?;
    }
    let translate = args.config_dir.is_some() || args.kubernetes;
    if !translate && (args.license_file.is_some() || args.license_secret.is_some()) {
        let flag = if args.license_file.is_some() {
            "--license-file"
        } else {
            "--license-secret"
        };
        return Err(crate::exit::usage(format!(
            "{flag} has no effect without --config-dir or --kubernetes: the license governs translation, \
             and without a platform source nothing is translated"
        )));
    }
    if args.max_new_streams_per_second.is_nan() || args.max_new_streams_per_second <= 0.0 {
        return Err(crate::exit::usage(
            "--max-new-streams-per-second must be positive",
        ));
    }
    let backends = match &args.state_dir {
        Some(dir) => ServerBackends::local(dir)?,
        None => ServerBackends::kube(ctx).await?,
    };
    let tokens = backends.tokens.clone();
    let mut sans = default_server_sans();
    for s in &args.server_sans {
        if !sans.contains(s) {
            sans.push(s.clone());
        }
    }
    let client = if args.kubernetes || (translate && args.license_secret.is_some()) {
        Some(
            ctx.kube()
                .client()
                .await
                .context("connecting to the management cluster")
                .exit_kind(ExitKind::Environment)?,
        )
    } else {
        None
    };
    let trusted = if translate {
        Some(args.trust.load()?)
    } else {
        None
    };
    let config = if translate {
        Config::Translated(TranslatingConfigSource::new(TranslationSettings {
            cluster_domain: args.cluster_domain.clone(),
            ..TranslationSettings::default()
        }))
    } else if args.raw_config_dir.is_some() {
        Config::Raw(Arc::new(StaticConfigSource::pending()))
    } else {
        Config::Raw(Arc::new(StaticConfigSource::new()))
    };
    // Agents are told the license the server translates under; a server that does not translate
    // checks no license and announces nothing.
    let (publisher, feed) = if trusted.is_some() {
        let (p, f) = entitlements_feed();
        (Some(p), f)
    } else {
        (None, EntitlementsFeed::none())
    };
    let redis = match &args.redis_url {
        Some(url) => Some(open_redis(url, ctx.namespace()).await?),
        None => None,
    };
    let base_store: Arc<dyn StateStore> = match &redis {
        Some(r) => Arc::new(r.clone()),
        None => Arc::new(MemoryStateStore::new()),
    };
    let store = match &config {
        Config::Translated(t) => t.observe(base_store.clone()),
        Config::Raw(_) => base_store.clone(),
    };
    let server = RelayServer {
        settings: ServerSettings {
            relay_listen: args.relay_listen,
            admin_listen: Some(args.admin_listen),
            ui_listen: args.ui_listen,
            server_sans: sans,
            max_streams: args.max_streams.max(1),
            max_connections: args.max_connections.max(1),
            max_pending_connections_per_source: args.max_pending_connections_per_source,
            registration_recheck_interval: REGISTRATION_RECHECK_INTERVAL,
            server_cert_check_interval: ServerSettings::default().server_cert_check_interval,
            known_clusters: args
                .clusters
                .iter()
                .chain(&args.reissue_tokens)
                .cloned()
                .collect(),
            max_new_streams_per_second: args.max_new_streams_per_second,
            client_cert_ttl: args.client_cert_ttl,
            hello_timeout: Duration::from_secs(10),
            session: SessionSettings {
                heartbeat_interval: args.heartbeat_interval.max(Duration::from_secs(1)),
                entitlements: feed,
                ..SessionSettings::default()
            },
        },
        pki: backends.pki.clone(),
        tokens: tokens.clone(),
        store,
        config: config.source(),
    }
    .bind()
    .await
    .context("starting the management server")
    .exit_kind(ExitKind::Environment)?;
    // Tokens and the PKI only once every port is bound: a server that cannot listen has
    // changed nothing.
    for cluster in args.clusters.iter().chain(&args.reissue_tokens) {
        if tokens.is_registered(cluster).await? && !args.reissue_tokens.contains(cluster) {
            continue;
        }
        let token = tokens.issue(cluster).await?;
        backends.hand_over(cluster, &token)?;
    }
    let server = server
        .start()
        .await
        .context("starting the management server")
        .exit_kind(ExitKind::Environment)?;
    let cancel = server.shutdown_token();
    let namespace = ctx.namespace().to_owned();
    match (&config, args.raw_config_dir.clone()) {
        (Config::Raw(raw), Some(dir)) => {
            tokio::spawn(watch_config_dir(
                dir,
                raw.clone(),
                Duration::from_secs(1),
                cancel.clone(),
            ));
        }
        (Config::Raw(_), None) => {}
        (Config::Translated(t), _) => {
            if let Some(redis) = &redis {
                t.follow_store_changes(
                    base_store.clone(),
                    redis.subscribe(cancel.clone()),
                    cancel.clone(),
                );
            }
            t.start(base_store, cancel.clone());
            if let Some(dir) = args.config_dir.clone() {
                tokio::spawn(
                    DirPlatformSource::new(dir, namespace.clone(), Duration::from_secs(1))
                        .run(t.events(), cancel.clone()),
                );
            }
            if let (true, Some(client)) = (args.kubernetes, client.clone()) {
                let ledger = Arc::new(Mutex::new(StatusLedger::default()));
                tokio::spawn(
                    KubePlatformSource {
                        client: client.clone(),
                        namespace: (!args.all_namespaces).then(|| namespace.clone()),
                        ledger: ledger.clone(),
                    }
                    .run(t.events(), cancel.clone()),
                );
                tokio::spawn(
                    StatusWriter {
                        client,
                        source: t.clone(),
                        ledger,
                    }
                    .run(cancel.clone()),
                );
            }
            let location = license_location(&args, client.as_ref(), &namespace);
            tracing::info!(license = %location.describe(), "translation enabled");
            if let Some(trusted) = trusted {
                tokio::spawn(
                    LicenseSource {
                        location,
                        trusted,
                        interval: Duration::from_secs(10),
                        announce: publisher,
                    }
                    .run(t.events(), cancel.clone()),
                );
            }
        }
    }
    let writer_cancel = tokio_util::sync::CancellationToken::new();
    let writer = backends
        .start_status_writer(
            server.registry.clone(),
            args.redis_url.is_some(),
            writer_cancel.clone(),
        )
        .map(|task| (task, writer_cancel));
    tracing::info!(root_ca = %backends.root_ca_location, "management server ready");
    tokio::select! {
        _ = super::shutdown_signal() => {}
        _ = cancel.cancelled() => {}
    }
    server.shutdown(Duration::from_secs(10)).await;
    stop_status_writer(writer, Duration::from_secs(10)).await;
    Ok(Outcome::Success)
}

/// `--server-san`: an IP address or a DNS name, refused before anything is created (exit 2).
fn parse_server_san(value: &str) -> Result<String, String> {
    crate::relay::pki::validate_server_san(value).map(|()| value.to_owned())
}

/// `--client-cert-ttl` within the bounds the CA keeps to.
fn parse_client_cert_ttl(text: &str) -> Result<Duration, String> {
    crate::cli::duration::parse_duration_within(text, MIN_CLIENT_CERT_TTL, MAX_CLIENT_CERT_TTL)
}
