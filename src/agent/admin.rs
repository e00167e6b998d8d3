//! The agent's admin HTTP endpoint (port 9093 by default): `/healthz`, `/readyz`
//! (ready while the relay stream is up), `/metrics`, and `/api/v1/license` (the management
//! server's license as announced when the stream last opened, JSON).

use crate::agent::metrics::AgentMetrics;
use crate::exposition;
use crate::relay::entitlements::AnnouncedEntitlements;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::{Arc, Mutex};

/// The license the management server announced; `None` until the first Welcome.
pub type ServerLicense = Arc<Mutex<Option<AnnouncedEntitlements>>>;

#[derive(Clone)]
struct AdminState {
    metrics: Arc<AgentMetrics>,
    license: ServerLicense,
}

pub fn router(metrics: Arc<AgentMetrics>, license: ServerLicense) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/api/v1/license", get(license_json))
        .with_state(AdminState { metrics, license })
}

async fn readyz(State(s): State<AdminState>) -> impl IntoResponse {
    if s.metrics.connected.get() == 1 {
        (StatusCode::OK, "ready\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not connected to the management server\n",
        )
    }
}

/// OpenMetrics or the Prometheus text format, by the request's `Accept` header.
async fn metrics_text(State(s): State<AdminState>, headers: HeaderMap) -> Response {
    exposition::response(&headers, |format| s.metrics.encode(format))
}

async fn license_json(State(s): State<AdminState>) -> Response {
    let current = s.license.lock().ok().and_then(|g| g.clone());
    match current {
        Some(l) => axum::Json(l).into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "no Welcome from the management server yet\n",
        )
            .into_response(),
    }
}
