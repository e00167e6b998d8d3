//! Admin routes of the translation: `GET /api/v1/destinations` (the global service catalog) and
//! `GET /api/v1/statuses` (the status of every translated input and the platform resources that
//! could not be read; with `--config-dir` this is where the statuses are visible).

use crate::api::TranslationStatus;
use crate::server::platform_source::SourceProblem;
use crate::server::translation::TranslatingConfigSource;
use crate::translate::{InputKind, ServiceCatalog};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

/// Path of the catalog.
pub const DESTINATIONS_PATH: &str = "/api/v1/destinations";
/// Path of the statuses.
pub const STATUSES_PATH: &str = "/api/v1/statuses";

/// One input's status.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InputStatus {
    pub kind: InputKind,
    pub namespace: String,
    pub name: String,
    #[serde(flatten)]
    pub status: TranslationStatus,
}

/// Body of `GET /api/v1/statuses`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReport {
    pub statuses: Vec<InputStatus>,
    pub problems: Vec<SourceProblem>,
}

/// The translation's admin routes.
pub fn router(source: TranslatingConfigSource) -> Router {
    Router::new()
        .route(DESTINATIONS_PATH, get(destinations))
        .route(STATUSES_PATH, get(statuses))
        .with_state(source)
}

async fn destinations(State(s): State<TranslatingConfigSource>) -> Json<ServiceCatalog> {
    Json(s.catalog())
}

async fn statuses(State(s): State<TranslatingConfigSource>) -> Json<StatusReport> {
    let statuses = s
        .statuses()
        .iter()
        .map(|(r, status)| InputStatus {
            kind: r.kind,
            namespace: r.namespace.clone(),
            name: r.name.clone(),
            status: status.clone(),
        })
        .collect();
    Json(StatusReport {
        statuses,
        problems: s.problems().as_ref().clone(),
    })
}
