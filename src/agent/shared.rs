//! What the agent's loop (run.rs) and its relay sessions (session.rs) share: the settings, where
//! the bootstrap token comes from, and the state of the running agent (below both, so neither
//! imports the other's types).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::agent::admin;
use crate::agent::credentials::{Credentials, CredentialsBackend};
use crate::agent::metrics::AgentMetrics;
use crate::agent::sink::ConfigSink;
use crate::agent::source::ClusterSource;
use crate::relay::client::RelayTarget;
use crate::relay::token::BootstrapToken;

/// A bootstrap token read from somewhere else (a Kubernetes Secret), at each attempt.
#[async_trait::async_trait]
pub trait TokenProvider: Send + Sync + 'static {
    async fn read(&self) -> Result<BootstrapToken, String>;
    /// Names the place in messages; never the token.
    fn describe(&self) -> String;
}

/// Where the bootstrap token comes from. Debug never shows the token.
#[derive(Clone)]
pub enum TokenSource {
    Literal(BootstrapToken),
    /// Read at each bootstrap attempt, so a re-issued token is picked up.
    File(PathBuf),
    /// Read at each bootstrap attempt from a provider (e.g. a Secret).
    Provider(Arc<dyn TokenProvider>),
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::Literal(_) => f.write_str("TokenSource::Literal(<redacted>)"),
            TokenSource::File(p) => write!(f, "TokenSource::File({})", p.display()),
            TokenSource::Provider(p) => write!(f, "TokenSource::Provider({})", p.describe()),
        }
    }
}

impl TokenSource {
    pub async fn read(&self) -> Result<BootstrapToken, String> {
        match self {
            TokenSource::Literal(t) => Ok(t.clone()),
            TokenSource::File(p) => crate::input::read_file(p, crate::input::BOOTSTRAP_TOKEN)
                .map(|t| BootstrapToken::from_text(&t))
                .map_err(|e| meshctl_core::error_text::error_chain(&e)),
            TokenSource::Provider(p) => p.read().await,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AgentSettings {
    pub cluster: String,
    pub target: RelayTarget,
    /// The relay's root CA (PEM): the agent trusts only this.
    pub ca_pem: String,
    pub token: Option<TokenSource>,
    pub state_dir: PathBuf,
    /// Where the client credentials are kept; `None`: in `state_dir`.
    pub credentials: Option<Arc<dyn CredentialsBackend>>,
    /// `None`: no admin HTTP.
    pub admin_listen: Option<SocketAddr>,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
}

impl AgentSettings {
    pub fn new(cluster: &str, target: RelayTarget, ca_pem: String, state_dir: PathBuf) -> Self {
        Self {
            cluster: cluster.to_string(),
            target,
            ca_pem,
            token: None,
            state_dir,
            credentials: None,
            admin_listen: None,
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
        }
    }
}

/// State shared by the agent's loop and its sessions.
pub struct AgentShared {
    pub settings: AgentSettings,
    pub source: Arc<dyn ClusterSource>,
    pub sink: Arc<dyn ConfigSink>,
    pub metrics: Arc<AgentMetrics>,
    pub credentials: Arc<dyn CredentialsBackend>,
    pub current: Mutex<Option<Credentials>>,
    pub snapshot_version: AtomicU64,
    pub cancel: CancellationToken,
    pub last_failure: Arc<Mutex<Option<String>>>,
    /// The license the server announced in the last Welcome.
    pub server_license: admin::ServerLicense,
}
