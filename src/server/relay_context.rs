//! What the relay service and its streams share: the context of every call, the settings of a
//! stream and the verified identity of a caller (below both service.rs and session.rs).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::relay::pki::CertAuthority;
use crate::relay::reassembly::Bounds;
use crate::server::cluster_admission::ClusterAdmission;
use crate::server::config_source::ConfigSource;
use crate::server::license_source::EntitlementsFeed;
use crate::server::limiter::StreamLimiter;
use crate::server::metrics::RelayMetrics;
use crate::server::registry::ClusterRegistry;
use crate::server::store::StateStore;
use crate::server::tokens::TokenStore;

/// Everything the relay service shares between calls and streams.
pub struct RelayContext {
    /// Shared with the server certificate's rotation (`server::server_cert`).
    pub ca: Arc<CertAuthority>,
    pub tokens: Arc<dyn TokenStore>,
    pub store: Arc<dyn StateStore>,
    pub config: Arc<dyn ConfigSource>,
    pub registry: Arc<ClusterRegistry>,
    pub metrics: Arc<RelayMetrics>,
    pub limiter: StreamLimiter,
    pub session: SessionSettings,
    /// What the token store last said about each cluster that presented a certificate.
    pub admission: Arc<ClusterAdmission>,
    pub client_cert_ttl: Duration,
    pub hello_timeout: Duration,
    pub shutdown: CancellationToken,
}

impl std::fmt::Debug for RelayContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RelayContext")
    }
}

/// The verified identity of a caller.
#[derive(Debug, Clone)]
pub struct Peer {
    pub cluster: String,
    pub not_before: i64,
    pub not_after: i64,
}

/// Per-stream timing settings.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// The agent must send something (at least a heartbeat) this often.
    pub heartbeat_interval: Duration,
    /// The stream is closed after this many missed heartbeat intervals.
    pub missed_heartbeats: u32,
    /// A slow agent that does not read for this long is disconnected.
    pub send_timeout: Duration,
    /// The license announced in `Welcome.entitlements`.
    pub entitlements: EntitlementsFeed,
    /// What one snapshot version may hold while it is reassembled (the protocol's bounds).
    pub snapshot_bounds: Bounds,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_secs(10),
            missed_heartbeats: 3,
            send_timeout: Duration::from_secs(30),
            entitlements: EntitlementsFeed::none(),
            snapshot_bounds: Bounds::default(),
        }
    }
}
