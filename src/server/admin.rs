//! The server's admin HTTP endpoint (port 9091 by default): the dashboard page at `/`, `/healthz`, `/readyz`,
//! `/metrics` and `GET /api/v1/clusters` (merged with the other replicas' relay view when the
//! state store shares one).

use crate::exposition;
use crate::server::metrics::RelayMetrics;
use crate::server::registry::{ClusterRegistry, ClusterStatus};
use crate::server::relay_view;
use crate::server::store::StateStore;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Body of `GET /api/v1/clusters`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClusterList {
    pub clusters: Vec<ClusterStatus>,
}

#[derive(Clone)]
struct AdminState {
    registry: Arc<ClusterRegistry>,
    store: Arc<dyn StateStore>,
    metrics: Arc<RelayMetrics>,
    ready: Arc<AtomicBool>,
}

/// The server's admin routes. `store` supplies the other replicas' relay view, if it shares one.
pub fn router(
    registry: Arc<ClusterRegistry>,
    store: Arc<dyn StateStore>,
    metrics: Arc<RelayMetrics>,
    ready: Arc<AtomicBool>,
) -> Router {
    Router::new()
        .route("/", get(dashboard))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/api/v1/clusters", get(clusters))
        .with_state(AdminState {
            registry,
            store,
            metrics,
            ready,
        })
}

/// The dashboard page (`meshctl dashboard`): static, reads the JSON routes with relative URLs.
pub const DASHBOARD_HTML: &str = include_str!("../../ui/dashboard.html");

async fn dashboard() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        DASHBOARD_HTML,
    )
}

async fn readyz(State(s): State<AdminState>) -> impl IntoResponse {
    if s.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
    }
}

/// OpenMetrics or the Prometheus text format, by the request's `Accept` header.
async fn metrics_text(State(s): State<AdminState>, headers: HeaderMap) -> Response {
    exposition::response(&headers, |format| s.metrics.encode(format))
}

async fn clusters(State(s): State<AdminState>) -> Json<ClusterList> {
    Json(ClusterList {
        clusters: relay_view::clusters(&s.registry, s.store.as_ref()).await,
    })
}

/// Serves `router` on `listener` until `cancel`.
pub async fn serve(listener: TcpListener, router: Router, cancel: CancellationToken) {
    let addr = listener.local_addr().ok();
    if let Err(e) = axum::serve(listener, router)
        .with_graceful_shutdown(cancel.cancelled_owned())
        .await
    {
        tracing::error!(?addr, error = %e, "admin HTTP server failed");
    }
}
