//! How the agent marks the objects it applies, and recognises them again: owner labels
//! (only objects carrying them are ever deleted) and the wire hash of the applied
//! resource as an annotation (reported as held configuration in Hello). Pure.

use crate::manifests::labels::{MANAGED_BY, MESHCTL};
use serde_json::{Map, Value};

/// Field manager of the agent's server-side applies.
pub const FIELD_MANAGER: &str = "meshctl-agent";
/// Label naming the meshctl role that owns an object.
pub const OWNER_LABEL: &str = "meshctl.dev/owner";
/// Value of [`OWNER_LABEL`] on objects the agent applied.
pub const OWNER_AGENT: &str = "agent";
/// Annotation holding the wire hash of the resource the object was applied from.
pub const HASH_ANNOTATION: &str = "meshctl.dev/config-hash";

/// Label selector of the objects the agent owns.
pub fn owned_selector() -> String {
    format!("{MANAGED_BY}={MESHCTL},{OWNER_LABEL}={OWNER_AGENT}")
}

/// Whether an object's labels mark it as the agent's.
pub fn is_owned(object: &Value) -> bool {
    let labels = &object["metadata"]["labels"];
    labels[MANAGED_BY] == MESHCTL && labels[OWNER_LABEL] == OWNER_AGENT
}

/// The body to apply: `body` with the owner labels and the hash annotation added
/// (labels the server sent are kept) and server-populated fields removed.
pub fn prepare(body: &Value, hash: &str) -> Value {
    let mut out = body.clone();
    if let Some(obj) = out.as_object_mut() {
        obj.remove("status");
        let meta = obj
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(meta) = meta.as_object_mut() {
            for noise in [
                "resourceVersion",
                "uid",
                "managedFields",
                "creationTimestamp",
                "generation",
                "selfLink",
            ] {
                meta.remove(noise);
            }
            let labels = meta
                .entry("labels")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(labels) = labels.as_object_mut() {
                labels.insert(MANAGED_BY.into(), MESHCTL.into());
                labels.insert(OWNER_LABEL.into(), OWNER_AGENT.into());
            }
            let annotations = meta
                .entry("annotations")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(annotations) = annotations.as_object_mut() {
                annotations.insert(HASH_ANNOTATION.into(), hash.into());
            }
        }
    }
    out
}

/// The hash annotation of an object, when it has one.
pub fn applied_hash(object: &Value) -> Option<String> {
    object["metadata"]["annotations"][HASH_ANNOTATION]
        .as_str()
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prepare_marks_ownership_and_keeps_server_labels() {
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "n", "labels": {"team": "x"}, "resourceVersion": "9"},
            "status": {"x": 1}, "data": {"k": "v"}});
        let out = prepare(&body, "abc");
        assert!(is_owned(&out));
        assert_eq!(out["metadata"]["labels"]["team"], "x");
        assert_eq!(applied_hash(&out).as_deref(), Some("abc"));
        assert!(out.get("status").is_none());
        assert!(out["metadata"].get("resourceVersion").is_none());
        assert_eq!(out["data"]["k"], "v");
        assert!(!is_owned(&body));
        assert_eq!(
            owned_selector(),
            "app.kubernetes.io/managed-by=meshctl,meshctl.dev/owner=agent"
        );
    }
}
