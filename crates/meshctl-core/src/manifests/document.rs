//! One rendered Kubernetes object and the multi-document YAML of a rendering.

use serde_json::Value;

use super::profile::Component;
use super::yaml;

/// A rendered object, ready to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// `apiVersion`, e.g. `apps/v1`.
    pub api_version: String,
    /// `kind`, e.g. `Deployment`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`; `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    /// The component it belongs to (also its `app.kubernetes.io/component` label).
    pub component: Component,
    /// The template (or CRD file) it came from, relative to `templates/`.
    pub source: String,
    /// The whole object.
    pub object: Value,
}

/// Keys printed first, in this order; the rest follow sorted.
const LEADING_KEYS: [&str; 3] = ["apiVersion", "kind", "metadata"];

impl Document {
    /// `kind/name` or `kind namespace/name`, for messages.
    pub fn display_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }

    /// The API group (empty for the core group).
    pub fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map(|(group, _)| group)
            .unwrap_or("")
    }

    /// The object as YAML with `apiVersion`, `kind`, `metadata` first. No trailing newline.
    pub fn to_yaml(&self) -> Result<String, serde_saphyr::SerializeError> {
        let Value::Object(map) = &self.object else {
            return yaml::to_string(&self.object);
        };
        let mut parts = Vec::with_capacity(map.len());
        let leading = LEADING_KEYS
            .iter()
            .filter_map(|key| map.get_key_value(*key));
        let rest = map
            .iter()
            .filter(|(key, _)| !LEADING_KEYS.contains(&key.as_str()));
        for (key, value) in leading.chain(rest) {
            let mut single = serde_json::Map::new();
            single.insert(key.clone(), value.clone());
            parts.push(yaml::to_string(&Value::Object(single))?);
        }
        Ok(parts.join("\n"))
    }
}

/// A multi-document YAML stream of `documents`, each preceded by `---` and a `# Source:` comment.
pub fn to_yaml_stream(documents: &[Document]) -> Result<String, serde_saphyr::SerializeError> {
    let mut out = String::new();
    for doc in documents {
        out.push_str("---\n# Source: ");
        out.push_str(&doc.source);
        out.push('\n');
        out.push_str(&doc.to_yaml()?);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc() -> Document {
        Document {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: "c".into(),
            namespace: Some("ns".into()),
            component: Component::Prometheus,
            source: "prometheus/configmap.yaml.tera".into(),
            object: json!({"data": {"k": "v"}, "metadata": {"name": "c", "namespace": "ns"}, "kind": "ConfigMap", "apiVersion": "v1"}),
        }
    }

    #[test]
    fn prints_api_version_kind_metadata_first() {
        assert_eq!(
            doc().to_yaml().unwrap(),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: ns\ndata:\n  k: v"
        );
    }

    #[test]
    fn stream_round_trips() {
        let text = to_yaml_stream(&[doc(), doc()]).unwrap();
        assert!(
            text.starts_with("---\n# Source: prometheus/configmap.yaml.tera\napiVersion: v1\n")
        );
        let back = yaml::parse_multi("t", &text).unwrap();
        assert_eq!(back, vec![doc().object, doc().object]);
    }

    #[test]
    fn names_and_groups() {
        assert_eq!(doc().display_name(), "ConfigMap ns/c");
        assert_eq!(doc().group(), "");
        let crd = Document {
            api_version: "apiextensions.k8s.io/v1".into(),
            namespace: None,
            kind: "CustomResourceDefinition".into(),
            ..doc()
        };
        assert_eq!(crd.group(), "apiextensions.k8s.io");
        assert_eq!(crd.display_name(), "CustomResourceDefinition c");
    }
}
