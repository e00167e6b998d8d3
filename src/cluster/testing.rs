//! Test support: clusters over the request-level mock API server of `check::testing`, and objects.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

pub use crate::check::testing::{MockApi, list, status};

use super::api::Cluster;
use super::{Side, registration_labels};

/// A cluster over `api`.
pub fn cluster(api: &MockApi, side: Side) -> Cluster {
    Cluster::new(
        api.client(),
        side,
        format!("{side:?}").to_lowercase(),
        Duration::from_secs(5),
    )
}

/// A Secret with string `data` (base64-encoded in the object).
pub fn secret(
    namespace: &str,
    name: &str,
    labels: Option<BTreeMap<String, String>>,
    data: &[(&str, &str)],
) -> Value {
    let engine = base64::engine::general_purpose::STANDARD;
    let data: serde_json::Map<String, Value> = data
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String(engine.encode(v))))
        .collect();
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "resourceVersion": "1", "uid": format!("uid-{name}")},
        "data": data,
    })
}

/// Labels of an agent-side object of `cluster`.
pub fn agent_labels(cluster: &str) -> BTreeMap<String, String> {
    registration_labels(cluster, super::AGENT_COMPONENT, "0.1.0")
}

/// A 404 answer.
pub fn not_found() -> (u16, Value) {
    (404, status(404, "NotFound", "not found"))
}

/// Echoes a written object back as the server would.
pub fn echo(body: &Value) -> (u16, Value) {
    let mut body = body.clone();
    body["metadata"]["resourceVersion"] = json!("2");
    (200, body)
}
