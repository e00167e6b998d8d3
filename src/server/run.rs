//! Assembling and running the management server: PKI, relay listener, admin HTTP.

use crate::relay::limits::MAX_MESSAGE_BYTES;
use crate::relay::pki::{CertAuthority, DEFAULT_CLIENT_CERT_TTL, PkiError, default_server_sans};
use crate::relay::proto::relay_server::RelayServer as RelayGrpcServer;
use crate::relay::tls::{TlsError, server_config_rotating};
use crate::server::admin;
use crate::server::cluster_admission::ClusterAdmission;
use crate::server::config_source::ConfigSource;
use crate::server::connection_gate::ConnectionGate;
use crate::server::limiter::StreamLimiter;
use crate::server::listener::{HandshakeStats, tls_incoming};
use crate::server::metrics::RelayMetrics;
use crate::server::pki_store::{PkiStore, PkiStoreError, ensure_pki};
use crate::server::registry::ClusterRegistry;
use crate::server::relay_view;
use crate::server::server_cert::{Rotator, keep_rotated, rotate_if_due};
use crate::server::service::{RelayContext, RelayService};
use crate::server::session::SessionSettings;
use crate::server::store::StateStore;
use crate::server::tokens::TokenStore;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("binding {what} on {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    PkiStore(#[from] PkiStoreError),
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Pending connections one source address may have by default: far more than one cluster's
/// agent needs, far fewer than the [`crate::server::connection_gate::MAX_PENDING_CONNECTIONS`]
/// every source shares.
pub const DEFAULT_MAX_PENDING_CONNECTIONS_PER_SOURCE: usize = 64;

/// How often the clusters that presented a certificate are checked against the token store.
pub const REGISTRATION_RECHECK_INTERVAL: Duration = Duration::from_secs(10);

/// Settings of the management server.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub relay_listen: SocketAddr,
    /// `None`: no admin HTTP.
    pub admin_listen: Option<SocketAddr>,
    /// A second listener for the dashboard (the admin routes, page included); `None`: none.
    pub ui_listen: Option<SocketAddr>,
    pub server_sans: Vec<String>,
    pub max_streams: usize,
    /// Established relay connections (TLS, with or without streams) at once.
    pub max_connections: usize,
    /// Connections from one source address that may be waiting for or running their TLS
    /// handshake at once (0: no limit).
    pub max_pending_connections_per_source: usize,
    pub max_new_streams_per_second: f64,
    pub client_cert_ttl: Duration,
    pub hello_timeout: Duration,
    pub session: SessionSettings,
    /// How often the clusters that presented a certificate are checked against the token
    /// store (a deregistered one is then refused at the handshake, its stream ended).
    pub registration_recheck_interval: Duration,
    /// Clusters listed (disconnected) from the first request on, e.g. those `--cluster` registers.
    pub known_clusters: Vec<String>,
    /// How often the relay server certificate is checked for rotation (`server::server_cert`).
    pub server_cert_check_interval: Duration,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            relay_listen: SocketAddr::from(([0, 0, 0, 0], 9900)),
            admin_listen: Some(SocketAddr::from(([0, 0, 0, 0], 9091))),
            ui_listen: None,
            server_sans: default_server_sans(),
            max_streams: 10_000,
            max_connections: 12_000,
            max_pending_connections_per_source: DEFAULT_MAX_PENDING_CONNECTIONS_PER_SOURCE,
            max_new_streams_per_second: 200.0,
            client_cert_ttl: DEFAULT_CLIENT_CERT_TTL,
            hello_timeout: Duration::from_secs(10),
            session: SessionSettings::default(),
            registration_recheck_interval: REGISTRATION_RECHECK_INTERVAL,
            known_clusters: Vec::new(),
            server_cert_check_interval: Duration::from_secs(3600),
        }
    }
}

/// The parts a server is made of.
pub struct RelayServer {
    pub settings: ServerSettings,
    pub pki: Arc<dyn PkiStore>,
    pub tokens: Arc<dyn TokenStore>,
    pub store: Arc<dyn StateStore>,
    pub config: Arc<dyn ConfigSource>,
}

impl std::fmt::Debug for RelayServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayServer")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// A started server. Dropping it stops it; `shutdown` stops it and waits.
pub struct RunningServer {
    pub relay_addr: SocketAddr,
    pub admin_addr: Option<SocketAddr>,
    pub ui_addr: Option<SocketAddr>,
    pub registry: Arc<ClusterRegistry>,
    pub metrics: Arc<RelayMetrics>,
    pub handshakes: Arc<HandshakeStats>,
    /// The root CA agents must trust (PEM).
    pub root_ca_pem: String,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("relay_addr", &self.relay_addr)
            .field("admin_addr", &self.admin_addr)
            .finish_non_exhaustive()
    }
}

impl RelayServer {
    /// Binds the listeners, loads or creates the PKI (only once every port is bound) and starts
    /// serving.
    pub async fn start(self) -> Result<RunningServer, ServerError> {
        self.bind().await?.start().await
    }

    /// Binds the listeners and nothing else: a server that cannot listen has changed nothing.
    pub async fn bind(self) -> Result<BoundRelayServer, ServerError> {
        let s = &self.settings;
        let relay_listener =
            TcpListener::bind(s.relay_listen)
                .await
                .map_err(|source| ServerError::Bind {
                    what: "the relay",
                    addr: s.relay_listen,
                    source,
                })?;
        let relay_addr = relay_listener
            .local_addr()
            .map_err(|source| ServerError::Bind {
                what: "the relay",
                addr: s.relay_listen,
                source,
            })?;
        let admin_listener = match s.admin_listen {
            Some(a) => Some(
                TcpListener::bind(a)
                    .await
                    .map_err(|source| ServerError::Bind {
                        what: "the admin endpoint",
                        addr: a,
                        source,
                    })?,
            ),
            None => None,
        };
        let admin_addr = admin_listener.as_ref().and_then(|l| l.local_addr().ok());
        let ui_listener = match s.ui_listen {
            Some(a) => Some(
                TcpListener::bind(a)
                    .await
                    .map_err(|source| ServerError::Bind {
                        what: "the dashboard",
                        addr: a,
                        source,
                    })?,
            ),
            None => None,
        };
        let ui_addr = ui_listener.as_ref().and_then(|l| l.local_addr().ok());
        Ok(BoundRelayServer {
            server: self,
            relay: (relay_listener, relay_addr),
            admin: (admin_listener, admin_addr),
            ui: (ui_listener, ui_addr),
        })
    }
}

/// A server whose listeners are bound: [`BoundRelayServer::start`] creates or loads the PKI and
/// serves. Dropping it releases the ports.
pub struct BoundRelayServer {
    server: RelayServer,
    relay: (TcpListener, SocketAddr),
    admin: (Option<TcpListener>, Option<SocketAddr>),
    ui: (Option<TcpListener>, Option<SocketAddr>),
}

impl std::fmt::Debug for BoundRelayServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundRelayServer")
            .field("relay_addr", &self.relay.1)
            .finish_non_exhaustive()
    }
}

impl BoundRelayServer {
    /// Loads or creates the PKI and starts serving on the bound listeners.
    pub async fn start(self) -> Result<RunningServer, ServerError> {
        let this = self.server;
        let s = this.settings;
        let (relay_listener, relay_addr) = self.relay;
        let (admin_listener, admin_addr) = self.admin;
        let (ui_listener, ui_addr) = self.ui;
        let (mut material, created) = ensure_pki(this.pki.as_ref(), &s.server_sans).await?;
        if created {
            tracing::info!("relay PKI created (root CA, signing CA, server certificate)");
        } else {
            tracing::info!("relay PKI loaded");
        }
        let ca = Arc::new(CertAuthority::from_material(&material)?);
        let now = time::OffsetDateTime::now_utc();
        match rotate_if_due(this.pki.as_ref(), &ca, &mut material, &s.server_sans, now).await {
            Ok(None) => {}
            Ok(Some(due)) => tracing::info!(?due, "relay server certificate rotated"),
            Err(e) => {
                tracing::warn!(error = %e, "relay server certificate rotation failed; serving the stored one")
            }
        }
        let admission = Arc::new(ClusterAdmission::default());
        let (tls, serving) = {
            let admission = admission.clone();
            server_config_rotating(
                &material,
                Arc::new(move |cluster: &str| admission.refuses(cluster)),
            )?
        };

        let shutdown = CancellationToken::new();
        let metrics = Arc::new(RelayMetrics::new());
        let registry = Arc::new(ClusterRegistry::new(metrics.clone()));
        for cluster in &s.known_clusters {
            registry.register(cluster);
        }
        let extra_routes = this.config.admin_routes();
        let store = this.store;
        let ctx = Arc::new(RelayContext {
            ca: ca.clone(),
            tokens: this.tokens,
            store: store.clone(),
            config: this.config,
            registry: registry.clone(),
            metrics: metrics.clone(),
            limiter: StreamLimiter::new(s.max_streams.max(1), s.max_new_streams_per_second),
            session: s.session.clone(),
            admission: admission.clone(),
            client_cert_ttl: s.client_cert_ttl,
            hello_timeout: s.hello_timeout,
            shutdown: shutdown.clone(),
        });
        let ready = Arc::new(AtomicBool::new(false));
        let handshakes = Arc::new(HandshakeStats::default());
        let mut tasks = Vec::new();

        tasks.push(tokio::spawn(recheck_registrations(
            ctx.clone(),
            s.registration_recheck_interval,
        )));
        tasks.push(tokio::spawn(keep_rotated(
            Rotator {
                store: this.pki.clone(),
                ca: ca.clone(),
                sans: s.server_sans.clone(),
                serving,
                metrics: metrics.clone(),
            },
            material.clone(),
            s.server_cert_check_interval,
            shutdown.clone(),
        )));
        let grpc = RelayGrpcServer::new(RelayService::new(ctx))
            .send_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let incoming = tls_incoming(
            relay_listener,
            tls,
            shutdown.clone(),
            handshakes.clone(),
            ConnectionGate::new(s.max_connections, s.max_pending_connections_per_source),
            metrics.clone(),
        );
        let relay_shutdown = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            let result = tonic::transport::Server::builder()
                .http2_keepalive_interval(Some(Duration::from_secs(30)))
                .http2_keepalive_timeout(Some(Duration::from_secs(10)))
                .add_service(grpc)
                .serve_with_incoming_shutdown(incoming, relay_shutdown.cancelled_owned())
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "relay server failed");
            }
        }));
        tracing::info!(address = %relay_addr, "relay listening on {relay_addr}");

        let mut router = admin::router(
            registry.clone(),
            store.clone(),
            metrics.clone(),
            ready.clone(),
        );
        if let Some(extra) = extra_routes {
            router = router.merge(extra);
        }
        for (listener, address, what) in [
            (admin_listener, admin_addr, "admin"),
            (ui_listener, ui_addr, "dashboard"),
        ] {
            if let Some(listener) = listener {
                tasks.push(tokio::spawn(admin::serve(
                    listener,
                    router.clone(),
                    shutdown.clone(),
                )));
                if let Some(a) = address {
                    tracing::info!(address = %a, "{what} listening on {a}");
                }
            }
        }
        if store.relay_view_replica().is_some() {
            tasks.push(tokio::spawn(relay_view::publish(
                registry.clone(),
                store,
                shutdown.clone(),
            )));
        }
        ready.store(true, Ordering::Relaxed);
        Ok(RunningServer {
            relay_addr,
            admin_addr,
            ui_addr,
            registry,
            metrics,
            handshakes,
            root_ca_pem: material.root_ca_pem.clone(),
            shutdown,
            tasks,
        })
    }
}

impl RunningServer {
    /// A token that stops the server when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops serving: streams get a SHUTTING_DOWN error, listeners close; waits up
    /// to `grace` for everything to finish.
    pub async fn shutdown(mut self, grace: Duration) {
        self.shutdown.cancel();
        let tasks = std::mem::take(&mut self.tasks);
        let _ = tokio::time::timeout(grace, futures::future::join_all(tasks)).await;
    }

    /// Waits until the server stops (its shutdown token is cancelled elsewhere).
    pub async fn wait(mut self) {
        let tasks = std::mem::take(&mut self.tasks);
        futures::future::join_all(tasks).await;
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Re-checks every cluster that presented a certificate against the token store until the
/// server stops; ends the stream of a cluster that was deregistered (its certificate is refused
/// at the handshake from then on).
async fn recheck_registrations(ctx: Arc<RelayContext>, every: Duration) {
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        for cluster in ctx.admission.clusters() {
            match ctx.tokens.is_registered(&cluster).await {
                Ok(registered) => {
                    if ctx.admission.record(&cluster, registered) {
                        tracing::info!(%cluster, "cluster deregistered: its stream is ended and its certificate refused");
                        ctx.registry.end_deregistered(&cluster);
                    }
                }
                Err(e) => {
                    tracing::warn!(%cluster, error = %e, "re-checking the cluster's registration failed; keeping what is known");
                    break;
                }
            }
        }
    }
}
