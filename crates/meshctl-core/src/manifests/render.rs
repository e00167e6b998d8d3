//! Rendering: values + profile -> ordered Kubernetes documents. Pure and deterministic: the same values,
//! profile and version always give byte-identical output.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};
use tera::{Context, Tera};

use super::document::Document;
use super::embed::{self, EmbeddedFile};
use super::labels;
use super::order;
use super::profile::{Component, Profile};
use super::yaml::{self, YamlError};
use crate::error_text::error_chain;

/// Cluster name the single-cluster profile uses when `cluster.name` is empty.
pub const DEFAULT_SINGLE_CLUSTER_NAME: &str = "mgmt-cluster";

/// What to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderOptions {
    /// Which components.
    pub profile: Profile,
    /// meshctl version: the default image tag and the `meshctl.dev/version` label.
    pub version: String,
}

impl RenderOptions {
    /// Options for `profile` at this binary's version.
    pub fn new(profile: Profile) -> Self {
        Self {
            profile,
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// Why rendering failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The profile needs a value the user did not give.
    #[error("the {profile} profile needs {key}: {hint}")]
    MissingValue {
        /// Profile being rendered.
        profile: Profile,
        /// The values key, `--set` syntax.
        key: &'static str,
        /// How to give it.
        hint: &'static str,
    },
    /// A value is syntactically fine but not usable.
    #[error("values key {key}: {message}")]
    InvalidValue {
        /// The values key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A template failed to compile or render (a bug in the templates, or a value they cannot use).
    #[error("template {template}: {message}")]
    Template {
        /// Template path under `templates/`.
        template: String,
        /// Tera's message, with causes.
        message: String,
    },
    /// A template rendered text that is not YAML.
    #[error("template output is not YAML: {0}")]
    Yaml(#[from] YamlError),
    /// A rendered document is not a Kubernetes object.
    #[error("{source_name}: {message}")]
    BadDocument {
        /// Template or CRD file.
        source_name: String,
        /// What is missing.
        message: String,
    },
    /// The embedded files are incomplete (a bug in this build).
    #[error("embedded templates are incomplete: {0}")]
    Embedded(String),
}

/// Settings derived from values that templates use, under `meshctl.` in the template context.
#[derive(Debug, Clone, Serialize)]
struct Derived {
    version: String,
    profile: &'static str,
    namespace: String,
    image: String,
    cluster_name: String,
    relay_address: String,
    relay_server_sans: Vec<String>,
    store: String,
    pull_secrets: Vec<BTreeMap<&'static str, String>>,
}

/// Renders `values` (already resolved against the defaults) for `options`, in apply order.
pub fn render(values: &Value, options: &RenderOptions) -> Result<Vec<Document>, RenderError> {
    let derived = derive(values, options)?;
    let extra_labels = string_map(values, "extraLabels")?;
    let extra_annotations = string_map(values, "extraAnnotations")?;
    if let Some(key) = extra_labels
        .keys()
        .find(|key| labels::RESERVED.contains(&key.as_str()))
    {
        return Err(RenderError::InvalidValue {
            key: format!("extraLabels.{}", key.replace('.', "\\.")),
            message: "meshctl sets this label itself".to_owned(),
        });
    }
    let tera = load_templates()?;
    let templates = embed::templates();
    let mut documents = Vec::new();
    for &component in options.profile.components() {
        if !enabled(component, values) {
            continue;
        }
        let mut standard = labels::standard(component, &options.version, &derived.namespace);
        for (key, value) in &extra_labels {
            standard.insert(key.clone(), value.clone());
        }
        let mut rendered = if component == Component::Crds {
            crd_documents()?
        } else {
            let context = context(values, &derived, component, &standard)?;
            let folder = format!("{}/", component.as_str());
            let mut docs = Vec::new();
            for template in templates.iter().filter(|t| t.path.starts_with(&folder)) {
                docs.extend(render_template(&tera, template, &context)?);
            }
            if docs.is_empty() {
                return Err(RenderError::Embedded(format!(
                    "no templates for component {component}"
                )));
            }
            docs
        };
        for (source, object) in &mut rendered {
            add_metadata(object, &standard, &extra_annotations);
            documents.push(to_document(component, source, std::mem::take(object))?);
        }
    }
    order::sort(&mut documents);
    Ok(documents)
}

fn enabled(component: Component, values: &Value) -> bool {
    match component {
        Component::Redis => values["redis"]["enabled"].as_bool().unwrap_or(false),
        Component::Prometheus => values["prometheus"]["enabled"].as_bool().unwrap_or(false),
        _ => true,
    }
}

fn str_value<'a>(values: &'a Value, pointer: &str) -> &'a str {
    values
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn string_map(values: &Value, key: &str) -> Result<BTreeMap<String, String>, RenderError> {
    let mut out = BTreeMap::new();
    if let Some(map) = values.get(key).and_then(Value::as_object) {
        for (k, v) in map {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Bool(_) | Value::Number(_) => v.to_string(),
                _ => {
                    return Err(RenderError::InvalidValue {
                        key: format!("{key}.{}", k.replace('.', "\\.")),
                        message: "must be a string".to_owned(),
                    });
                }
            };
            out.insert(k.clone(), text);
        }
    }
    Ok(out)
}

/// A DNS-1123 label: lowercase alphanumerics and `-`, at most 63, starting and ending alphanumeric.
pub fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

fn derive(values: &Value, options: &RenderOptions) -> Result<Derived, RenderError> {
    let profile = options.profile;
    let namespace = str_value(values, "/namespace").to_owned();
    if !is_dns_label(&namespace) {
        return Err(RenderError::InvalidValue {
            key: "namespace".to_owned(),
            message: format!(
                "{namespace:?} is not a valid namespace name (lowercase letters, digits and '-', at most 63)"
            ),
        });
    }
    let repository = str_value(values, "/image/repository");
    let tag = match str_value(values, "/image/tag") {
        "" => options.version.replace('+', "-"),
        tag => tag.to_owned(),
    };
    let digest = match str_value(values, "/image/digest") {
        "" => None,
        digest => {
            super::image::check_digest(digest).map_err(|message| RenderError::InvalidValue {
                key: "image.digest".to_owned(),
                message,
            })?;
            Some(digest)
        }
    };
    let mut cluster_name = str_value(values, "/cluster/name").to_owned();
    let mut relay_address = str_value(values, "/agent/relayAddress").to_owned();
    let relay_port = values
        .pointer("/mgmtServer/ports/relay")
        .and_then(Value::as_i64)
        .unwrap_or(9900);
    if profile == Profile::SingleCluster {
        if cluster_name.is_empty() {
            cluster_name = DEFAULT_SINGLE_CLUSTER_NAME.to_owned();
        }
        if relay_address.is_empty() {
            relay_address = format!("mesh-mgmt-server.{namespace}.svc:{relay_port}");
        }
    }
    if profile.has_agent() {
        if cluster_name.is_empty() {
            return Err(RenderError::MissingValue {
                profile,
                key: "cluster.name",
                hint: "the name this cluster is registered under; give it with --set cluster.name=NAME",
            });
        }
        if relay_address.is_empty() {
            return Err(RenderError::MissingValue {
                profile,
                key: "agent.relayAddress",
                hint: "HOST:PORT of the management server's relay as reachable from this cluster; give it with --set agent.relayAddress=HOST:PORT",
            });
        }
    }
    if !cluster_name.is_empty() && !is_dns_label(&cluster_name) {
        return Err(RenderError::InvalidValue {
            key: "cluster.name".to_owned(),
            message: format!(
                "{cluster_name:?} is not a DNS label (lowercase letters, digits and '-', at most 63)"
            ),
        });
    }
    if !relay_address.is_empty() {
        let port_ok = relay_address.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !port_ok {
            return Err(RenderError::InvalidValue {
                key: "agent.relayAddress".to_owned(),
                message: format!("{relay_address:?} is not HOST:PORT"),
            });
        }
    }
    let mut relay_server_sans = vec![
        "mesh-mgmt-server".to_owned(),
        format!("mesh-mgmt-server.{namespace}"),
        format!("mesh-mgmt-server.{namespace}.svc"),
        format!("mesh-mgmt-server.{namespace}.svc.cluster.local"),
    ];
    if let Some(extra) = values
        .pointer("/mgmtServer/relay/serverSans")
        .and_then(Value::as_array)
    {
        for san in extra {
            let Some(san) = san.as_str().filter(|s| !s.is_empty()) else {
                return Err(RenderError::InvalidValue {
                    key: "mgmtServer.relay.serverSans".to_owned(),
                    message: "every entry must be a non-empty string".to_owned(),
                });
            };
            if !relay_server_sans.iter().any(|s| s == san) {
                relay_server_sans.push(san.to_owned());
            }
        }
    }
    let replicas = values
        .pointer("/mgmtServer/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    if profile.has_mgmt_server() && replicas > 1 && !enabled(Component::Redis, values) {
        return Err(RenderError::InvalidValue {
            key: "mgmtServer.replicas".to_owned(),
            message: format!(
                "{replicas} replicas need a shared state store: also set redis.enabled=true"
            ),
        });
    }
    if replicas < 1 {
        return Err(RenderError::InvalidValue {
            key: "mgmtServer.replicas".to_owned(),
            message: "must be at least 1".to_owned(),
        });
    }
    let store = if enabled(Component::Redis, values) {
        let port = values
            .pointer("/redis/port")
            .and_then(Value::as_i64)
            .unwrap_or(6379);
        format!("redis://mesh-redis.{namespace}.svc:{port}")
    } else {
        "memory".to_owned()
    };
    let pull_secrets = values
        .pointer("/image/pullSecrets")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(|name| BTreeMap::from([("name", name.to_owned())]))
                .collect()
        })
        .unwrap_or_default();
    Ok(Derived {
        version: options.version.clone(),
        profile: profile.as_str(),
        namespace,
        image: super::image::reference(repository, &tag, digest),
        cluster_name,
        relay_address,
        relay_server_sans,
        store,
        pull_secrets,
    })
}

fn load_templates() -> Result<Tera, RenderError> {
    let mut tera = Tera::new();
    tera.autoescape_on(Vec::<&str>::new());
    tera.register_filter("to_yaml", super::filters::to_yaml);
    let templates = embed::templates();
    tera.add_raw_templates(templates.iter().map(|t| (t.path.as_str(), t.text.as_str())))
        .map_err(|err| RenderError::Template {
            template: "(loading)".to_owned(),
            message: error_chain(&err),
        })?;
    Ok(tera)
}

fn context(
    values: &Value,
    derived: &Derived,
    component: Component,
    standard: &BTreeMap<String, String>,
) -> Result<Context, RenderError> {
    let mut context = Context::new();
    context.insert("values", values);
    context.insert("meshctl", derived);
    context.insert("component", component.as_str());
    context.insert("labels", standard);
    if let Some(workload) = component.workload_name() {
        let selector = labels::selector(workload);
        let mut pod_labels = standard.clone();
        pod_labels.extend(selector.clone());
        context.insert("name", workload);
        context.insert("selector", &selector);
        context.insert("pod_labels", &pod_labels);
    }
    context.insert("run_as_user", &component.run_as_user());
    Ok(context)
}

fn render_template(
    tera: &Tera,
    template: &EmbeddedFile,
    context: &Context,
) -> Result<Vec<(String, Value)>, RenderError> {
    let text = tera
        .render(&template.path, context)
        .map_err(|err| RenderError::Template {
            template: template.path.clone(),
            message: error_chain(&err),
        })?;
    let docs = yaml::parse_multi(&template.path, &text)?;
    Ok(docs
        .into_iter()
        .map(|doc| (template.path.clone(), doc))
        .collect())
}

fn crd_documents() -> Result<Vec<(String, Value)>, RenderError> {
    let files = embed::crds();
    if files.is_empty() {
        return Err(RenderError::Embedded(
            "no CRDs under templates/crds".to_owned(),
        ));
    }
    let mut docs = Vec::new();
    for file in files {
        let source = format!("crds/{}", file.path.trim_start_matches(embed::CRD_DIR));
        for doc in yaml::parse_multi(&source, &file.text)? {
            docs.push((source.clone(), doc));
        }
    }
    Ok(docs)
}

/// Merges the standard labels (and extra annotations) into `metadata`; labels meshctl sets win.
fn add_metadata(
    object: &mut Value,
    standard: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) {
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let labels = metadata
        .entry("labels")
        .or_insert_with(|| Value::Object(Map::new()));
    if !labels.is_object() {
        *labels = Value::Object(Map::new());
    }
    if let Some(labels) = labels.as_object_mut() {
        for (key, value) in standard {
            labels.insert(key.clone(), Value::String(value.clone()));
        }
    }
    if !annotations.is_empty() {
        let existing = metadata
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        if !existing.is_object() {
            *existing = Value::Object(Map::new());
        }
        if let Some(existing) = existing.as_object_mut() {
            for (key, value) in annotations {
                existing
                    .entry(key.clone())
                    .or_insert_with(|| Value::String(value.clone()));
            }
        }
    }
}

fn to_document(component: Component, source: &str, object: Value) -> Result<Document, RenderError> {
    let bad = |message: &str| RenderError::BadDocument {
        source_name: source.to_owned(),
        message: message.to_owned(),
    };
    let field = |pointer: &str| {
        object
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let api_version = field("/apiVersion").ok_or_else(|| bad("document has no apiVersion"))?;
    let kind = field("/kind").ok_or_else(|| bad("document has no kind"))?;
    let name = field("/metadata/name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| bad("document has no metadata.name"))?;
    let namespace = field("/metadata/namespace");
    Ok(Document {
        api_version,
        kind,
        name,
        namespace,
        component,
        source: source.to_owned(),
        object,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifests::values;

    fn defaults() -> Value {
        values::embedded_defaults().unwrap()
    }

    fn with(set: &[&str]) -> Value {
        let input = values::ValuesInput {
            set: set.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        };
        values::resolve(&defaults(), &input).unwrap()
    }

    /// The error resolving `--set` expressions gives.
    fn resolve_err(set: &[&str]) -> String {
        let input = values::ValuesInput {
            set: set.iter().map(|s| (*s).to_owned()).collect(),
            ..Default::default()
        };
        values::resolve(&defaults(), &input)
            .unwrap_err()
            .to_string()
    }

    fn options(profile: Profile) -> RenderOptions {
        RenderOptions {
            profile,
            version: "1.2.3".to_owned(),
        }
    }

    fn kinds(docs: &[Document]) -> Vec<String> {
        docs.iter().map(Document::display_name).collect()
    }

    #[test]
    fn every_object_carries_the_standard_labels() {
        let docs = render(
            &with(&["redis.enabled=true", "prometheus.enabled=true"]),
            &options(Profile::SingleCluster),
        )
        .unwrap();
        for doc in &docs {
            let labels = &doc.object["metadata"]["labels"];
            assert_eq!(
                labels[labels::MANAGED_BY],
                "meshctl",
                "{}",
                doc.display_name()
            );
            assert_eq!(labels[labels::PART_OF], "meshctl");
            assert_eq!(labels[labels::COMPONENT], doc.component.as_str());
            assert_eq!(labels[labels::VERSION], "1.2.3");
            assert_eq!(labels[labels::INSTALL_NAMESPACE], "mesh-system");
        }
    }

    #[test]
    fn profiles_choose_components() {
        let mgmt = render(&defaults(), &options(Profile::Mgmt)).unwrap();
        assert!(mgmt.iter().any(|d| d.kind == "CustomResourceDefinition"));
        assert!(mgmt.iter().all(|d| d.component != Component::Agent));
        assert!(
            mgmt.iter()
                .all(|d| d.component != Component::Redis && d.component != Component::Prometheus)
        );

        let agent = render(
            &with(&[
                "cluster.name=c1",
                "agent.relayAddress=relay.example.com:9900",
            ]),
            &options(Profile::Agent),
        )
        .unwrap();
        let components: std::collections::BTreeSet<Component> =
            agent.iter().map(|d| d.component).collect();
        assert_eq!(components, [Component::Namespace, Component::Agent].into());

        let single = render(&defaults(), &options(Profile::SingleCluster)).unwrap();
        assert!(single.iter().any(|d| d.component == Component::Agent));
        assert!(single.iter().any(|d| d.component == Component::MgmtServer));
        assert_eq!(single.iter().filter(|d| d.kind == "Namespace").count(), 1);
    }

    #[test]
    fn optional_components_follow_values() {
        let docs = render(
            &with(&["redis.enabled=true", "prometheus.enabled=true"]),
            &options(Profile::Mgmt),
        )
        .unwrap();
        let names = kinds(&docs);
        assert!(
            names.contains(&"Deployment mesh-system/mesh-redis".to_owned()),
            "{names:?}"
        );
        assert!(
            names.contains(&"Deployment mesh-system/mesh-prometheus".to_owned()),
            "{names:?}"
        );
        // The server has no Redis store yet (a later issue), so its arguments do not name one;
        // tests/manifests_golden.rs checks every rendered argument against the CLI.
    }

    #[test]
    fn documents_come_in_apply_order() {
        let docs = render(
            &with(&["prometheus.enabled=true"]),
            &options(Profile::SingleCluster),
        )
        .unwrap();
        let ranks: Vec<u8> = docs.iter().map(|d| order::rank(&d.kind)).collect();
        assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{:?}", kinds(&docs));
        assert_eq!(docs[0].kind, "CustomResourceDefinition");
    }

    #[test]
    fn empty_tag_means_the_binary_version() {
        let docs = render(&defaults(), &options(Profile::Mgmt)).unwrap();
        let server = docs.iter().find(|d| d.kind == "Deployment").unwrap();
        assert_eq!(
            server.object["spec"]["template"]["spec"]["containers"][0]["image"],
            "ghcr.io/meshctl/meshctl:1.2.3"
        );
        let docs = render(&with(&["image.tag=dev"]), &options(Profile::Mgmt)).unwrap();
        let server = docs.iter().find(|d| d.kind == "Deployment").unwrap();
        assert_eq!(
            server.object["spec"]["template"]["spec"]["containers"][0]["image"],
            "ghcr.io/meshctl/meshctl:dev"
        );
    }

    #[test]
    fn a_digest_pins_both_roles_beside_the_tag() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let docs = render(
            &with(&[
                "image.repository=reg.local:5000/mirror/meshctl",
                &format!("image.digest={digest}"),
            ]),
            &options(Profile::SingleCluster),
        )
        .unwrap();
        let images: Vec<&Value> = docs
            .iter()
            .filter(|d| d.kind == "Deployment")
            .map(|d| &d.object["spec"]["template"]["spec"]["containers"][0]["image"])
            .collect();
        assert_eq!(images.len(), 2, "server and agent");
        for image in images {
            assert_eq!(
                image,
                &Value::String(format!("reg.local:5000/mirror/meshctl:1.2.3@{digest}"))
            );
        }
    }

    #[test]
    fn a_malformed_digest_is_refused_naming_the_key() {
        for bad in ["abc", "sha256:ABC", "sha256:0123", "sha512:00"] {
            let err = render(
                &with(&[&format!("image.digest={bad}")]),
                &options(Profile::Mgmt),
            )
            .unwrap_err();
            let text = err.to_string();
            assert!(text.starts_with("values key image.digest: "), "{text}");
            assert!(text.contains("64 lowercase hexadecimal digits"), "{text}");
        }
    }

    #[test]
    fn namespace_value_moves_everything() {
        let docs = render(
            &with(&["namespace=platform"]),
            &options(Profile::SingleCluster),
        )
        .unwrap();
        for doc in &docs {
            match doc.kind.as_str() {
                "CustomResourceDefinition" | "ClusterRole" | "ClusterRoleBinding" => {
                    assert_eq!(doc.namespace, None)
                }
                "Namespace" => assert_eq!(doc.name, "platform"),
                _ => assert_eq!(
                    doc.namespace.as_deref(),
                    Some("platform"),
                    "{}",
                    doc.display_name()
                ),
            }
        }
    }

    #[test]
    fn agent_profile_requires_cluster_name_and_relay_address() {
        let err = render(&defaults(), &options(Profile::Agent)).unwrap_err();
        assert!(err.to_string().contains("cluster.name"), "{err}");
        let err = render(&with(&["cluster.name=c1"]), &options(Profile::Agent)).unwrap_err();
        assert!(err.to_string().contains("agent.relayAddress"), "{err}");
        let err = render(
            &with(&["cluster.name=c1", "agent.relayAddress=nohost"]),
            &options(Profile::Agent),
        )
        .unwrap_err();
        assert!(err.to_string().contains("not HOST:PORT"), "{err}");
        // a cluster name that is no DNS label is refused before rendering (values.yaml's schema)
        let err = resolve_err(&["cluster.name=Bad_Name", "agent.relayAddress=a:1"]);
        assert!(
            err.contains("values key cluster.name must be a DNS label"),
            "{err}"
        );
    }

    #[test]
    fn several_server_replicas_need_redis() {
        let err = render(&with(&["mgmtServer.replicas=3"]), &options(Profile::Mgmt)).unwrap_err();
        assert!(err.to_string().contains("redis.enabled=true"), "{err}");
        render(
            &with(&["mgmtServer.replicas=3", "redis.enabled=true"]),
            &options(Profile::Mgmt),
        )
        .unwrap();
        let err = resolve_err(&["mgmtServer.replicas=0"]);
        assert!(
            err.contains("values key mgmtServer.replicas must be an integer from 1 to 100"),
            "{err}"
        );
    }

    #[test]
    fn namespace_names_that_look_like_other_yaml_types_stay_strings() {
        for name in [
            "123", "true", "yes", "no", "on", "null", "0x10", "0o17", "1e3", "y", "n",
        ] {
            let mut input = values::ValuesInput::default();
            input.set_string.push(format!("namespace={name}"));
            let values = values::resolve(&defaults(), &input).unwrap();
            let docs = render(&values, &options(Profile::SingleCluster))
                .unwrap_or_else(|e| panic!("namespace {name}: {e}"));
            for doc in &docs {
                match doc.kind.as_str() {
                    "Namespace" => assert_eq!(doc.name, name),
                    "CustomResourceDefinition" | "ClusterRole" | "ClusterRoleBinding" => {}
                    _ => assert_eq!(
                        doc.namespace.as_deref(),
                        Some(name),
                        "{}",
                        doc.display_name()
                    ),
                }
            }
        }
    }

    /// Every `{{ ... }}` in a template goes through `to_yaml`, so no value can change the YAML type
    /// or structure of what the template writes.
    #[test]
    fn every_template_expression_is_quoted_with_to_yaml() {
        let mut unquoted = Vec::new();
        for template in embed::templates() {
            let mut rest = template.text.as_str();
            while let Some(start) = rest.find("{{") {
                let after = &rest[start + 2..];
                let Some(end) = after.find("}}") else { break };
                let expression = after[..end]
                    .trim()
                    .trim_start_matches('-')
                    .trim_end_matches('-')
                    .trim();
                let last = expression.rsplit('|').next().unwrap_or_default().trim();
                if !expression.contains('|') || !last.starts_with("to_yaml") {
                    unquoted.push(format!("{}: {{{{ {expression} }}}}", template.path));
                }
                rest = &after[end + 2..];
            }
        }
        assert!(
            unquoted.is_empty(),
            "not piped through to_yaml:\n{}",
            unquoted.join("\n")
        );
    }

    #[test]
    fn bad_namespace_is_rejected() {
        let err = resolve_err(&["namespace=Mesh_System"]);
        assert!(
            err.starts_with("values key namespace must be a DNS label"),
            "{err}"
        );
    }

    #[test]
    fn extra_labels_and_annotations_reach_every_object_but_not_selectors() {
        let docs = render(
            &with(&["extraLabels.team=net", "extraAnnotations.owner=ops"]),
            &options(Profile::Mgmt),
        )
        .unwrap();
        for doc in &docs {
            assert_eq!(
                doc.object["metadata"]["labels"]["team"],
                "net",
                "{}",
                doc.display_name()
            );
            assert_eq!(
                doc.object["metadata"]["annotations"]["owner"],
                "ops",
                "{}",
                doc.display_name()
            );
        }
        let deployment = docs.iter().find(|d| d.kind == "Deployment").unwrap();
        assert!(
            deployment.object["spec"]["selector"]["matchLabels"]
                .get("team")
                .is_none()
        );
    }

    #[test]
    fn extra_labels_cannot_override_meshctl_labels() {
        let err = render(
            &with(&[r"extraLabels.app\.kubernetes\.io/managed-by=helm"]),
            &options(Profile::Mgmt),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("meshctl sets this label itself"),
            "{err}"
        );
    }

    #[test]
    fn rendering_is_deterministic() {
        let values = with(&[
            "redis.enabled=true",
            "prometheus.enabled=true",
            "extraLabels.a=1",
            "extraLabels.b=2",
            "nodeSelector.z=1",
            "nodeSelector.y=2",
        ]);
        let first = super::super::document::to_yaml_stream(
            &render(&values, &options(Profile::SingleCluster)).unwrap(),
        )
        .unwrap();
        for _ in 0..5 {
            let again = super::super::document::to_yaml_stream(
                &render(&values, &options(Profile::SingleCluster)).unwrap(),
            )
            .unwrap();
            assert_eq!(first, again);
        }
    }

    #[test]
    fn single_cluster_agent_dials_the_in_cluster_relay() {
        let docs = render(&defaults(), &options(Profile::SingleCluster)).unwrap();
        let agent = docs
            .iter()
            .find(|d| d.kind == "Deployment" && d.name == "mesh-agent")
            .unwrap();
        let args = agent.object["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
        assert!(
            args.contains("--relay-address=mesh-mgmt-server.mesh-system.svc:9900"),
            "{args}"
        );
        assert!(args.contains("--cluster=mgmt-cluster"), "{args}");
    }
}
