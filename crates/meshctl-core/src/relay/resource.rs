//! Resources on the wire: their key strings, construction from JSON and validation
//! of untrusted input.
//!
//! A key string is `<apiVersion>/<kind>/<namespace>/<name>` (namespace empty for
//! cluster-scoped objects), e.g. `apps/v1/Deployment/default/web` or `v1/Namespace//prod`.

use crate::relay::hash::hash_value;
use crate::relay::limits::MAX_RESOURCE_BYTES;
use crate::relay::proto;
use serde_json::Value;

/// Why a resource was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResourceError {
    #[error("{field} is empty")]
    Empty { field: &'static str },
    #[error("{field} {value:?} is not valid: {reason}")]
    InvalidField {
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("body is not a JSON object")]
    BodyNotObject,
    #[error("body is {size} bytes, over the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("hash {claimed} does not match the body (sha256 of canonical JSON is {actual})")]
    HashMismatch { claimed: String, actual: String },
    #[error("body {field} {body:?} does not match the resource's {field} {wire:?}")]
    BodyMismatch {
        field: &'static str,
        body: String,
        wire: String,
    },
    #[error("key {0:?} is not <apiVersion>/<kind>/<namespace>/<name>")]
    BadKey(String),
}

/// The key string of a resource.
pub fn key_of(r: &proto::Resource) -> String {
    key_string(&r.api_version, &r.kind, &r.namespace, &r.name)
}

/// The key string of a resource key.
pub fn key_of_ref(k: &proto::ResourceKey) -> String {
    key_string(&k.api_version, &k.kind, &k.namespace, &k.name)
}

/// Builds a key string.
pub fn key_string(api_version: &str, kind: &str, namespace: &str, name: &str) -> String {
    format!("{api_version}/{kind}/{namespace}/{name}")
}

/// Parses a key string back into its parts.
pub fn parse_key(key: &str) -> Result<proto::ResourceKey, ResourceError> {
    let mut parts = key.rsplitn(4, '/');
    let (Some(name), Some(namespace), Some(kind), Some(api_version)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ResourceError::BadKey(key.to_string()));
    };
    let k = proto::ResourceKey {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        namespace: namespace.to_string(),
        name: name.to_string(),
    };
    validate_identity(&k.api_version, &k.kind, &k.namespace, &k.name)
        .map_err(|_| ResourceError::BadKey(key.to_string()))?;
    Ok(k)
}

/// Builds a wire resource from a Kubernetes-style JSON object (`apiVersion`, `kind`,
/// `metadata.name`, optional `metadata.namespace`) and validates it.
pub fn from_json(body: &Value) -> Result<proto::Resource, ResourceError> {
    let obj = body.as_object().ok_or(ResourceError::BodyNotObject)?;
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
    let meta = obj.get("metadata");
    let bytes = serde_json::to_vec(body).map_err(|_| ResourceError::BodyNotObject)?;
    let r = proto::Resource {
        api_version: text(obj.get("apiVersion")),
        kind: text(obj.get("kind")),
        namespace: text(meta.and_then(|m| m.get("namespace"))),
        name: text(meta.and_then(|m| m.get("name"))),
        hash: hash_value(body),
        body: bytes.into(),
    };
    validate(&r)?;
    Ok(r)
}

/// Parses the body of a wire resource as JSON.
pub fn body_json(r: &proto::Resource) -> Result<Value, ResourceError> {
    let v: Value = serde_json::from_slice(&r.body).map_err(|_| ResourceError::BodyNotObject)?;
    if !v.is_object() {
        return Err(ResourceError::BodyNotObject);
    }
    Ok(v)
}

/// Validates an untrusted wire resource: identity fields, size, JSON body, hash and
/// that the body describes the same object as the envelope.
pub fn validate(r: &proto::Resource) -> Result<(), ResourceError> {
    validate_identity(&r.api_version, &r.kind, &r.namespace, &r.name)?;
    if r.body.len() > MAX_RESOURCE_BYTES {
        return Err(ResourceError::TooLarge {
            size: r.body.len(),
            limit: MAX_RESOURCE_BYTES,
        });
    }
    let body = body_json(r)?;
    let actual = hash_value(&body);
    if actual != r.hash {
        return Err(ResourceError::HashMismatch {
            claimed: r.hash.clone(),
            actual,
        });
    }
    let meta = body.get("metadata");
    let checks: [(&'static str, Option<&Value>, &str); 4] = [
        ("apiVersion", body.get("apiVersion"), &r.api_version),
        ("kind", body.get("kind"), &r.kind),
        ("metadata.name", meta.and_then(|m| m.get("name")), &r.name),
        (
            "metadata.namespace",
            meta.and_then(|m| m.get("namespace")),
            &r.namespace,
        ),
    ];
    for (field, body_value, wire) in checks {
        let body_text = match body_value {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        // A body may omit apiVersion/kind/namespace; when present it must agree.
        if (body_value.is_some() || field == "metadata.name") && body_text != wire {
            return Err(ResourceError::BodyMismatch {
                field,
                body: body_text,
                wire: wire.to_string(),
            });
        }
    }
    Ok(())
}

/// Validates the identifying fields of a resource.
pub fn validate_identity(
    api_version: &str,
    kind: &str,
    namespace: &str,
    name: &str,
) -> Result<(), ResourceError> {
    if api_version.is_empty() {
        return Err(ResourceError::Empty {
            field: "apiVersion",
        });
    }
    if kind.is_empty() {
        return Err(ResourceError::Empty { field: "kind" });
    }
    if name.is_empty() {
        return Err(ResourceError::Empty {
            field: "metadata.name",
        });
    }
    let invalid = |field, value: &str, reason| ResourceError::InvalidField {
        field,
        value: value.to_string(),
        reason,
    };
    let slashes = api_version.matches('/').count();
    if slashes > 1
        || api_version.len() > 253
        || !api_version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '/'))
    {
        return Err(invalid(
            "apiVersion",
            api_version,
            "expected [group/]version",
        ));
    }
    if kind.len() > 63 || !kind.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(invalid("kind", kind, "expected an alphanumeric kind"));
    }
    let name_ok = |s: &str| {
        s.len() <= 253
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
            && s != "."
            && s != ".."
    };
    if !name_ok(name) {
        return Err(invalid(
            "metadata.name",
            name,
            "expected letters, digits, '.', '-', '_' or ':' (at most 253)",
        ));
    }
    if !namespace.is_empty()
        && (namespace.len() > 63
            || !namespace
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
    {
        return Err(invalid(
            "metadata.namespace",
            namespace,
            "expected a DNS label",
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc() -> Value {
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "web", "namespace": "shop"}, "spec": {"ports": [{"port": 80}]}})
    }

    #[test]
    fn from_json_builds_a_valid_resource() {
        let r = from_json(&svc()).unwrap();
        assert_eq!(key_of(&r), "v1/Service/shop/web");
        assert!(validate(&r).is_ok());
    }

    #[test]
    fn keys_round_trip_including_groups_and_cluster_scope() {
        for key in ["apps/v1/Deployment/default/web", "v1/Namespace//prod"] {
            let k = parse_key(key).unwrap();
            assert_eq!(key_of_ref(&k), key);
        }
        assert!(parse_key("Namespace/prod").is_err());
        assert!(parse_key("v1/Service/../x").is_err());
    }

    #[test]
    fn hash_mismatch_is_rejected() {
        let mut r = from_json(&svc()).unwrap();
        r.hash = "0".repeat(64);
        assert!(matches!(
            validate(&r),
            Err(ResourceError::HashMismatch { .. })
        ));
    }

    #[test]
    fn non_json_body_is_rejected() {
        let mut r = from_json(&svc()).unwrap();
        r.body = b"not json".to_vec().into();
        assert_eq!(validate(&r), Err(ResourceError::BodyNotObject));
    }

    #[test]
    fn envelope_must_match_body() {
        let mut r = from_json(&svc()).unwrap();
        r.name = "other".into();
        assert!(matches!(
            validate(&r),
            Err(ResourceError::BodyMismatch {
                field: "metadata.name",
                ..
            })
        ));
    }

    #[test]
    fn bad_names_are_rejected() {
        let mut v = svc();
        v["metadata"]["name"] = json!("a/b");
        assert!(from_json(&v).is_err());
        v["metadata"]["name"] = json!("");
        assert!(from_json(&v).is_err());
        let mut v = svc();
        v["metadata"]["namespace"] = json!("UPPER");
        assert!(from_json(&v).is_err());
    }
}
