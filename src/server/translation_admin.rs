//! Admin routes of the translation: `GET /api/v1/destinations` (the global service catalog) and
//! `GET /api/v1/statuses` (the status of every translated input and the platform resources that
//! could not be read; with `--config-dir` this is where the statuses are visible).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::api::TranslationStatus;
use crate::server::platform_source::SourceProblem;
use crate::translate::{InputKind, InputRef, ServiceCatalog};
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

/// What the routes read of the running translation (implemented by the translating config source,
/// which owns the routes: this module does not depend on it).
pub trait TranslationView: Clone + Send + Sync + 'static {
    /// The global service catalog.
    fn catalog(&self) -> ServiceCatalog;
    /// The status of every translated input.
    fn statuses(&self) -> Arc<BTreeMap<InputRef, TranslationStatus>>;
    /// The platform resources that could not be read.
    fn problems(&self) -> Arc<Vec<SourceProblem>>;
}

/// The translation's admin routes.
pub fn router<V: TranslationView>(view: V) -> Router {
    Router::new()
        .route(DESTINATIONS_PATH, get(destinations::<V>))
        .route(STATUSES_PATH, get(statuses::<V>))
        .with_state(view)
}

async fn destinations<V: TranslationView>(State(s): State<V>) -> Json<ServiceCatalog> {
    Json(s.catalog())
}

async fn statuses<V: TranslationView>(State(s): State<V>) -> Json<StatusReport> {
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
