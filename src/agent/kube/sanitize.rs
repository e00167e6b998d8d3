//! Turning a watched object into the wire resource of a snapshot. Fields the API server
//! rewrites without a meaningful change (managedFields, resourceVersion, generation,
//! status of workloads, ...) are stripped so that a resource's hash changes only when
//! the object really did. Pure.

use crate::relay::proto;
use crate::relay::resource::{ResourceError, from_json};
use serde_json::Value;

/// Metadata fields that never travel.
const METADATA_NOISE: [&str; 6] = [
    "managedFields",
    "resourceVersion",
    "generation",
    "selfLink",
    "uid",
    "creationTimestamp",
];
/// Annotations that change without a meaningful change.
const ANNOTATION_NOISE: [&str; 3] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    "kubectl.kubernetes.io/restartedAt",
];

/// `object` without noise. A Service keeps `status.loadBalancer` (its external
/// address matters to other clusters); every other kind loses `status`.
pub fn sanitize(object: &Value) -> Value {
    let mut out = object.clone();
    let Some(obj) = out.as_object_mut() else {
        return out;
    };
    let is_service = obj.get("kind").and_then(Value::as_str) == Some("Service")
        && obj.get("apiVersion").and_then(Value::as_str) == Some("v1");
    match obj.remove("status") {
        Some(status) if is_service => {
            let lb = &status["loadBalancer"];
            if lb
                .get("ingress")
                .is_some_and(|i| i.as_array().is_some_and(|a| !a.is_empty()))
            {
                obj.insert("status".into(), serde_json::json!({"loadBalancer": lb}));
            }
        }
        _ => {}
    }
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        for f in METADATA_NOISE {
            meta.remove(f);
        }
        let mut empty = false;
        if let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            for f in ANNOTATION_NOISE {
                a.remove(f);
            }
            empty = a.is_empty();
        }
        if empty {
            meta.remove("annotations");
        }
    }
    out
}

/// The wire resource of a watched object.
pub fn to_resource(object: &Value) -> Result<proto::Resource, ResourceError> {
    from_json(&sanitize(object))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(rv: &str, ready: u32) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "resourceVersion": rv, "generation": 4,
                "uid": "u", "creationTimestamp": "2026-01-01T00:00:00Z",
                "managedFields": [{"manager": "kubectl"}],
                "annotations": {"deployment.kubernetes.io/revision": rv}, "labels": {"app": "web"}},
            "spec": {"replicas": 2}, "status": {"readyReplicas": ready}})
    }

    #[test]
    fn hashes_ignore_noise_but_not_spec_changes() {
        let a = to_resource(&deployment("1", 0)).unwrap();
        let b = to_resource(&deployment("2", 2)).unwrap();
        assert_eq!(a.hash, b.hash);
        let mut changed = deployment("3", 2);
        changed["spec"]["replicas"] = json!(3);
        assert_ne!(to_resource(&changed).unwrap().hash, a.hash);
        let body: Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(
            body["metadata"],
            json!({"name": "web", "namespace": "shop", "labels": {"app": "web"}})
        );
    }

    #[test]
    fn services_keep_their_load_balancer_address_only() {
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "gw", "namespace": "istio-system"},
            "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}, "conditions": []}});
        let out = sanitize(&svc);
        assert_eq!(
            out["status"],
            json!({"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}})
        );
        let pending = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "n"},
            "status": {"loadBalancer": {}}});
        assert!(sanitize(&pending).get("status").is_none());
    }
}
