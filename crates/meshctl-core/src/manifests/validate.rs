//! Every rendered document is parsed back into its k8s-openapi type, and a field the type does not know
//! is an error: a typo in a template (`readinessProbes:`, `imagePullPolicy` at the wrong level) fails
//! tests instead of being silently dropped by the API server.
//!
//! k8s-openapi's types ignore unknown fields when deserialising, so the check is a round trip: the
//! document is deserialised, serialised again, and every field of the original must still be there
//! with the same value. No extra dependency is needed.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::document::Document;

/// A rendered document that does not match its Kubernetes type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{document} (from {source_name}): {message}")]
pub struct ValidationError {
    /// `Kind namespace/name`.
    pub document: String,
    /// Template it came from.
    pub source_name: String,
    /// What is wrong.
    pub message: String,
}

/// Checks every document; returns every problem found.
pub fn validate_all(documents: &[Document]) -> Result<(), Vec<ValidationError>> {
    let errors: Vec<ValidationError> = documents
        .iter()
        .filter_map(|doc| validate(doc).err())
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Checks one document against the k8s-openapi type of its `apiVersion` and `kind`.
pub fn validate(doc: &Document) -> Result<(), ValidationError> {
    let result = match (doc.api_version.as_str(), doc.kind.as_str()) {
        ("v1", "Namespace") => round_trip::<Namespace>(&doc.object),
        ("v1", "ServiceAccount") => round_trip::<ServiceAccount>(&doc.object),
        ("v1", "ConfigMap") => round_trip::<ConfigMap>(&doc.object),
        ("v1", "Secret") => round_trip::<Secret>(&doc.object),
        ("v1", "Service") => round_trip::<Service>(&doc.object),
        ("apps/v1", "Deployment") => round_trip::<Deployment>(&doc.object),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => round_trip::<ClusterRole>(&doc.object),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            round_trip::<ClusterRoleBinding>(&doc.object)
        }
        ("rbac.authorization.k8s.io/v1", "Role") => round_trip::<Role>(&doc.object),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => round_trip::<RoleBinding>(&doc.object),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition") => {
            round_trip::<CustomResourceDefinition>(&doc.object)
        }
        (api_version, kind) => Err(format!("no Kubernetes type known for {api_version} {kind}")),
    };
    result.map_err(|message| ValidationError {
        document: doc.display_name(),
        source_name: doc.source.clone(),
        message,
    })
}

fn round_trip<T: DeserializeOwned + Serialize>(object: &Value) -> Result<(), String> {
    let typed: T = serde_json::from_value(object.clone())
        .map_err(|err| format!("does not match its type: {err}"))?;
    let back =
        serde_json::to_value(&typed).map_err(|err| format!("cannot be serialised again: {err}"))?;
    let mut problems = Vec::new();
    compare(object, &back, "", &mut problems);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Collects the fields of `original` that `typed` lost or changed. `null` in the original counts as absent.
fn compare(original: &Value, typed: &Value, path: &str, problems: &mut Vec<String>) {
    match (original, typed) {
        (Value::Object(original), Value::Object(typed)) => {
            for (key, value) in original {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match typed.get(key) {
                    _ if value.is_null() => {}
                    Some(typed_value) => compare(value, typed_value, &child, problems),
                    None => problems.push(format!("unknown field {child}")),
                }
            }
        }
        (Value::Array(original), Value::Array(typed)) => {
            for (index, value) in original.iter().enumerate() {
                let child = format!("{path}[{index}]");
                match typed.get(index) {
                    Some(typed_value) => compare(value, typed_value, &child, problems),
                    None => problems.push(format!("field {child} was dropped")),
                }
            }
        }
        (original, typed) if original == typed => {}
        (original, typed) => {
            problems.push(format!("field {path} = {original} reads back as {typed}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::manifests::profile::Component;

    fn doc(api_version: &str, kind: &str, object: Value) -> Document {
        Document {
            api_version: api_version.into(),
            kind: kind.into(),
            name: "x".into(),
            namespace: Some("ns".into()),
            component: Component::MgmtServer,
            source: "mgmt-server/test.yaml.tera".into(),
            object,
        }
    }

    fn deployment(container: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "x", "namespace": "ns"},
            "spec": {"selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [container]}}}
        })
    }

    #[test]
    fn a_correct_deployment_passes() {
        let object = deployment(
            json!({"name": "c", "image": "i", "ports": [{"containerPort": 9091, "name": "admin"}],
            "readinessProbe": {"httpGet": {"path": "/readyz", "port": "admin"}},
            "resources": {"requests": {"cpu": "100m"}}}),
        );
        validate(&doc("apps/v1", "Deployment", object)).unwrap();
    }

    #[test]
    fn a_misspelt_field_is_named_with_its_path() {
        let object = deployment(json!({"name": "c", "image": "i", "readinessProbes": {}}));
        let err = validate(&doc("apps/v1", "Deployment", object)).unwrap_err();
        assert_eq!(
            err.message,
            "unknown field spec.template.spec.containers[0].readinessProbes"
        );
        assert_eq!(err.document, "Deployment ns/x");
    }

    #[test]
    fn a_field_at_the_wrong_level_is_an_error() {
        let mut object = deployment(json!({"name": "c", "image": "i"}));
        object["spec"]["imagePullPolicy"] = json!("Always");
        let err = validate(&doc("apps/v1", "Deployment", object)).unwrap_err();
        assert_eq!(err.message, "unknown field spec.imagePullPolicy");
    }

    #[test]
    fn a_wrong_type_is_an_error() {
        let mut object = deployment(json!({"name": "c", "image": "i"}));
        object["spec"]["replicas"] = json!("two");
        let err = validate(&doc("apps/v1", "Deployment", object)).unwrap_err();
        assert!(
            err.message.starts_with("does not match its type"),
            "{}",
            err.message
        );
    }

    #[test]
    fn nulls_count_as_absent() {
        let object = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "x", "labels": null}});
        validate(&doc("v1", "ServiceAccount", object)).unwrap();
    }

    #[test]
    fn unknown_kinds_are_an_error() {
        let err = validate(&doc("example.com/v1", "Widget", json!({}))).unwrap_err();
        assert_eq!(
            err.message,
            "no Kubernetes type known for example.com/v1 Widget"
        );
    }
}
