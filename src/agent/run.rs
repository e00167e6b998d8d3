//! Assembling and running the agent: credentials (bootstrap when needed), the
//! reconnect loop with jittered exponential backoff, and the admin endpoint.

use crate::agent::admin;
use crate::agent::backoff::Backoff;
use crate::agent::bootstrap::bootstrap;
use crate::agent::credentials::{Credentials, CredentialsStore};
use crate::agent::metrics::AgentMetrics;
use crate::agent::session::{self, SessionEnd};
pub use crate::agent::shared::{AgentSettings, AgentShared, TokenProvider, TokenSource};
use crate::agent::sink::ConfigSink;
use crate::agent::source::ClusterSource;
use crate::relay::entitlements::AnnouncedEntitlements;
use crate::relay::identity::{IdentityError, validate_cluster_name};
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Name(#[from] IdentityError),
    #[error("binding the admin endpoint on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the CA certificate is unusable: {0}")]
    Ca(String),
}

pub struct Agent {
    pub settings: AgentSettings,
    pub source: Arc<dyn ClusterSource>,
    pub sink: Arc<dyn ConfigSink>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// A started agent. Dropping it stops it; `shutdown` stops it and waits.
pub struct RunningAgent {
    pub admin_addr: Option<SocketAddr>,
    pub metrics: Arc<AgentMetrics>,
    last_failure: Arc<Mutex<Option<String>>>,
    server_license: admin::ServerLicense,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for RunningAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningAgent")
            .field("admin_addr", &self.admin_addr)
            .finish_non_exhaustive()
    }
}

impl Agent {
    pub async fn start(self) -> Result<RunningAgent, AgentError> {
        validate_cluster_name(&self.settings.cluster)?;
        crate::relay::tls::root_store(&self.settings.ca_pem)
            .map_err(|e| AgentError::Ca(e.to_string()))?;
        let cancel = CancellationToken::new();
        let metrics = Arc::new(AgentMetrics::new());
        let mut tasks = Vec::new();
        let mut admin_addr = None;
        let server_license: admin::ServerLicense = Arc::new(Mutex::new(None));
        if let Some(addr) = self.settings.admin_listen {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| AgentError::Bind { addr, source })?;
            let bound = listener
                .local_addr()
                .map_err(|source| AgentError::Bind { addr, source })?;
            admin_addr = Some(bound);
            tracing::info!(address = %bound, "agent admin listening on {bound}");
            tasks.push(tokio::spawn(crate::server::admin::serve(
                listener,
                admin::router(metrics.clone(), server_license.clone()),
                cancel.clone(),
            )));
        }
        let last_failure = Arc::new(Mutex::new(None));
        let shared = Arc::new(AgentShared {
            credentials: self
                .settings
                .credentials
                .clone()
                .unwrap_or_else(|| Arc::new(CredentialsStore::new(&self.settings.state_dir))),
            settings: self.settings,
            source: self.source,
            sink: self.sink,
            metrics: metrics.clone(),
            current: Mutex::new(None),
            snapshot_version: AtomicU64::new(0),
            cancel: cancel.clone(),
            last_failure: last_failure.clone(),
            server_license: server_license.clone(),
        });
        tasks.push(tokio::spawn(run_loop(shared)));
        Ok(RunningAgent {
            admin_addr,
            metrics,
            last_failure,
            server_license,
            cancel,
            tasks,
        })
    }
}

impl RunningAgent {
    /// The reason the last connection attempt or stream failed, if any.
    pub fn last_failure(&self) -> Option<String> {
        self.last_failure.lock().ok().and_then(|g| g.clone())
    }

    /// The license the management server announced when the stream last opened (`None` before
    /// the first Welcome).
    pub fn server_license(&self) -> Option<AnnouncedEntitlements> {
        self.server_license.lock().ok().and_then(|g| g.clone())
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    pub async fn shutdown(mut self, grace: Duration) {
        self.cancel.cancel();
        let tasks = std::mem::take(&mut self.tasks);
        let _ = tokio::time::timeout(grace, futures::future::join_all(tasks)).await;
    }

    pub async fn wait(mut self) {
        let tasks = std::mem::take(&mut self.tasks);
        futures::future::join_all(tasks).await;
    }
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        self.cancel.cancel();
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn record_failure(shared: &AgentShared, reason: &str) {
    if let Ok(mut g) = shared.last_failure.lock() {
        *g = Some(reason.to_string());
    }
}

/// Valid credentials: in memory, from the state dir, or by bootstrapping with the token.
async fn obtain_credentials(shared: &AgentShared) -> Result<Credentials, String> {
    let s = &shared.settings;
    let fresh = |c: &Credentials| c.not_after > jiff::Timestamp::now().as_second() + 60;
    if let Ok(g) = shared.current.lock()
        && let Some(c) = g.as_ref()
        && fresh(c)
    {
        return Ok(c.clone());
    }
    match shared.credentials.load(&s.cluster).await {
        Ok(Some(c)) if fresh(&c) => {
            shared.metrics.cert_not_after.set(c.not_after);
            if let Ok(mut g) = shared.current.lock() {
                *g = Some(c.clone());
            }
            return Ok(c);
        }
        Ok(Some(_)) => {
            tracing::warn!(cluster = %s.cluster, "the stored client certificate has expired; bootstrapping again")
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(cluster = %s.cluster, error = %e, "the stored client certificate is unusable; bootstrapping again")
        }
    }
    let Some(token_source) = &s.token else {
        return Err(format!(
            "no valid client certificate in {} and no bootstrap token (--token or --token-file)",
            shared.credentials.describe()
        ));
    };
    let token = token_source.read().await?;
    let (creds, ca) = bootstrap(&s.target, &s.ca_pem, &s.cluster, &token)
        .await
        .map_err(|e| format!("bootstrap failed: {e}"))?;
    shared
        .credentials
        .save(&creds, &ca)
        .await
        .map_err(|e| format!("storing the client certificate: {e}"))?;
    shared.metrics.bootstraps.inc();
    shared.metrics.cert_not_after.set(creds.not_after);
    tracing::info!(cluster = %s.cluster, not_after = creds.not_after, "bootstrapped: client certificate stored");
    if let Ok(mut g) = shared.current.lock() {
        *g = Some(creds.clone());
    }
    Ok(creds)
}

async fn run_loop(shared: Arc<AgentShared>) {
    let s = &shared.settings;
    let mut backoff = Backoff::new(s.backoff_initial, s.backoff_max);
    let mut attempts = 0u64;
    loop {
        if shared.cancel.is_cancelled() {
            break;
        }
        if attempts > 0 {
            shared.metrics.reconnects.inc();
        }
        attempts += 1;
        match obtain_credentials(&shared).await {
            Err(reason) => {
                tracing::warn!(cluster = %s.cluster, %reason, "cannot connect");
                record_failure(&shared, &reason);
            }
            Ok(creds) => match session::run(&shared, &creds).await {
                SessionEnd::Shutdown => break,
                SessionEnd::Failed { reason, welcomed } => {
                    tracing::warn!(cluster = %s.cluster, %reason, "relay stream ended; reconnecting");
                    record_failure(&shared, &reason);
                    if welcomed {
                        backoff.reset();
                    }
                }
            },
        }
        let delay = backoff.next_jittered();
        tracing::debug!(cluster = %s.cluster, delay_ms = delay.as_millis() as u64, "waiting before reconnecting");
        tokio::select! {
            _ = shared.cancel.cancelled() => break,
            _ = tokio::time::sleep(delay) => {}
        }
    }
    tracing::info!(cluster = %s.cluster, "agent stopped");
}
