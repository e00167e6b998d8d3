//! The agent's admin HTTP endpoint (port 9093 by default): `/healthz`, `/readyz`
//! (ready while the relay stream is up), `/metrics`.

use crate::agent::metrics::AgentMetrics;
use crate::server::admin::METRICS_CONTENT_TYPE;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use std::sync::Arc;

pub fn router(metrics: Arc<AgentMetrics>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(metrics)
}

async fn readyz(State(m): State<Arc<AgentMetrics>>) -> impl IntoResponse {
    if m.connected.get() == 1 {
        (StatusCode::OK, "ready\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not connected to the management server\n",
        )
    }
}

async fn metrics_text(State(m): State<Arc<AgentMetrics>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)], m.encode())
}
