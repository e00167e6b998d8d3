//! What register writes to the workload cluster: the relay root CA (`ca.crt` only) as
//! `relay-root-tls-secret`, the bootstrap token as `relay-identity-token`, and the agent manifests
//! rendered for this cluster at the management server's version. Objects of those names that meshctl
//! does not manage are never overwritten.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

use super::api::Cluster;
use super::preflight::ServerInfo;
use super::{
    CA_KEY, CLIENT_TLS_SECRET, CLUSTER_LABEL, ClusterError, REMOTE_TOKEN_SECRET, ROOT_CA_SECRET,
    TOKEN_KEY, is_managed, labelled_cluster,
};
use crate::kube::apply::{Applied, Applier, ApplyAction, ApplyOptions, FIELD_MANAGER};
use crate::kube::resources::Resolver;
use crate::manifests::image::ImageRef;
use crate::manifests::{self, Document, ManifestError, Profile, RenderOptions, ValuesInput};
use crate::relay::identity::cluster_from_cert_der;
use crate::relay::pki::certs_from_pem;
use crate::relay::token::BootstrapToken;

/// Renders the agent profile for `cluster`: the user's values (`-f/--set`), with the server's image
/// underneath them and the cluster name and relay address on top; every object labelled with the
/// cluster. Rendered at the server's version so agent and server match.
pub fn render_agent(
    user: &ValuesInput,
    cluster: &str,
    relay_address: &str,
    server: &ServerInfo,
) -> Result<Vec<Document>, ManifestError> {
    let mut input = user.clone();
    if let Some((repository, tag, digest)) = server.image.as_deref().and_then(split_image) {
        // The server's digest pins the agent to the very same image, unless the user picks
        // another image (repository or tag) without a digest of its own: the digest would
        // silently win over their choice.
        let digest = digest.filter(|_| !user_picks_image(user));
        let mut layer = format!("image:\n  repository: {repository:?}\n  tag: {tag:?}\n");
        if let Some(digest) = digest {
            layer.push_str(&format!("  digest: {digest:?}\n"));
        }
        let at = input.files.len().min(1);
        input
            .files
            .insert(at, ("the management server's image".to_owned(), layer));
    }
    input.set.push(format!("cluster.name={cluster}"));
    input
        .set_string
        .push(format!("agent.relayAddress={relay_address}"));
    let mut options = RenderOptions::new(Profile::Agent);
    if let Some(version) = &server.version {
        options.version = version.clone();
    }
    let mut documents = manifests::build(&input, &options)?;
    for doc in &mut documents {
        if let Some(labels) = doc
            .object
            .pointer_mut("/metadata/labels")
            .and_then(Value::as_object_mut)
        {
            labels.insert(CLUSTER_LABEL.to_owned(), Value::String(cluster.to_owned()));
            // Registrations belong to deregister, never to an installation's upgrade or uninstall.
            labels.remove(crate::manifests::labels::INSTALL_NAMESPACE);
        }
    }
    Ok(documents)
}

/// Repository, tag and digest of a tagged image (`repository:tag[@digest]`); `None` without a tag.
fn split_image(image: &str) -> Option<(&str, &str, Option<&str>)> {
    let reference = ImageRef::parse(image);
    let tag = reference.tag.filter(|t| !t.is_empty())?;
    (!reference.repository.is_empty()).then_some((reference.repository, tag, reference.digest))
}

/// Whether the user's values choose an image repository or tag other than the defaults without
/// giving a digest.
fn user_picks_image(user: &ValuesInput) -> bool {
    let Ok(defaults) = manifests::values::embedded_defaults() else {
        return false;
    };
    // Values that do not resolve are reported by the render that follows.
    let Ok(values) = manifests::values::resolve(&defaults, user) else {
        return false;
    };
    let differs = |pointer: &str| values.pointer(pointer) != defaults.pointer(pointer);
    (differs("/image/repository") || differs("/image/tag")) && !differs("/image/digest")
}

/// The agent namespace of rendered documents.
pub fn agent_namespace(documents: &[Document]) -> Option<String> {
    documents.iter().find_map(|d| d.namespace.clone())
}

/// What is already on the workload cluster under the names register writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteState {
    /// The agent namespace exists already (register then leaves it alone, and so does deregister).
    pub namespace_exists: bool,
    /// Objects register would overwrite that meshctl does not manage.
    pub unmanaged: Vec<String>,
}

/// Reads each object register would write; refuses none yet, but lists the unmanaged ones.
pub async fn inspect(
    remote: &Cluster,
    documents: &[Document],
    namespace: &str,
    copy_ca: bool,
) -> Result<RemoteState, ClusterError> {
    let resolver = Resolver::new(remote.client.clone());
    let mut state = RemoteState::default();
    let mut secret_names = vec![REMOTE_TOKEN_SECRET];
    if copy_ca {
        secret_names.push(ROOT_CA_SECRET);
    }
    let mut targets: Vec<(String, String, Option<String>, String)> = documents
        .iter()
        .map(|d| {
            (
                d.api_version.clone(),
                d.kind.clone(),
                d.namespace.clone(),
                d.name.clone(),
            )
        })
        .collect();
    for name in secret_names {
        targets.push((
            "v1".into(),
            "Secret".into(),
            Some(namespace.to_owned()),
            name.to_owned(),
        ));
    }
    for (api_version, kind, ns, name) in targets {
        let resolved =
            resolver
                .resolve(&api_version, &kind)
                .await
                .map_err(|e| ClusterError::Api {
                    side: remote.side,
                    what: format!("resolve {kind}"),
                    message: e.to_string(),
                    source: e.source,
                })?;
        let api: Api<DynamicObject> = match &ns {
            Some(ns) => Api::namespaced_with(remote.client.clone(), ns, &resolved.resource),
            None => Api::all_with(remote.client.clone(), &resolved.resource),
        };
        let display = match &ns {
            Some(ns) => format!("{kind} {ns}/{name}"),
            None => format!("{kind} {name}"),
        };
        let found = remote
            .call_opt(format!("get {display}"), api.get_metadata(&name))
            .await?;
        let Some(found) = found else { continue };
        if kind == "Namespace" {
            state.namespace_exists = true;
            continue;
        }
        if !is_managed(found.metadata.labels.as_ref()) {
            state.unmanaged.push(display);
        }
    }
    Ok(state)
}

/// Whether the agent already holds a client certificate for `cluster` (Secret
/// `relay-client-tls-secret` whose `tls.crt` names it).
pub async fn has_client_certificate(
    remote: &Cluster,
    namespace: &str,
    cluster: &str,
) -> Result<bool, ClusterError> {
    let api: Api<Secret> = Api::namespaced(remote.client.clone(), namespace);
    let secret = remote
        .call_opt(
            format!("get Secret {namespace}/{CLIENT_TLS_SECRET}"),
            api.get(CLIENT_TLS_SECRET),
        )
        .await?;
    Ok(secret.is_some_and(|s| certificate_cluster(&s).as_deref() == Some(cluster)))
}

/// The cluster identity in a `relay-client-tls-secret`'s `tls.crt`, or its label.
pub fn certificate_cluster(secret: &Secret) -> Option<String> {
    let from_cert = secret
        .data
        .as_ref()
        .and_then(|d| d.get("tls.crt"))
        .and_then(|pem| std::str::from_utf8(&pem.0).ok())
        .and_then(|pem| certs_from_pem(pem).ok())
        .and_then(|certs| {
            certs
                .first()
                .and_then(|der| cluster_from_cert_der(der.as_ref()).ok())
        });
    from_cert.or_else(|| labelled_cluster(secret.metadata.labels.as_ref()).map(str::to_owned))
}

/// Server-side applies the two Secrets to `namespace`: the token always, the root CA unless
/// `ca_pem` is `None` (the agent shares the management server's namespace).
pub async fn copy_secrets(
    remote: &Cluster,
    namespace: &str,
    ca_pem: Option<&str>,
    token: &BootstrapToken,
    labels: &BTreeMap<String, String>,
) -> Result<Vec<Applied>, ClusterError> {
    let mut secrets = Vec::new();
    if let Some(ca) = ca_pem {
        secrets.push((ROOT_CA_SECRET, CA_KEY, ca.as_bytes().to_vec()));
    }
    secrets.push((
        REMOTE_TOKEN_SECRET,
        TOKEN_KEY,
        token.expose().as_bytes().to_vec(),
    ));
    let api: Api<Secret> = Api::namespaced(remote.client.clone(), namespace);
    let mut applied = Vec::new();
    for (name, key, value) in secrets {
        let body = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "type": "Opaque",
            "data": {key: ByteString(value)},
        });
        let before = remote
            .call_opt(
                format!("get Secret {namespace}/{name}"),
                api.get_metadata(name),
            )
            .await?;
        let after = remote
            .call(
                format!("apply Secret {namespace}/{name}"),
                api.patch(
                    name,
                    &PatchParams::apply(FIELD_MANAGER).force(),
                    &Patch::Apply(&body),
                ),
            )
            .await?;
        let action = match before {
            None => ApplyAction::Created,
            Some(b) if b.metadata.resource_version == after.metadata.resource_version => {
                ApplyAction::Unchanged
            }
            Some(_) => ApplyAction::Configured,
        };
        applied.push(Applied {
            kind: "Secret".into(),
            namespace: Some(namespace.to_owned()),
            name: name.to_owned(),
            component: super::AGENT_COMPONENT.to_owned(),
            action,
        });
    }
    Ok(applied)
}

/// Applies the agent manifests (minus the Namespace when it exists already).
pub async fn apply_agent(
    remote: &Cluster,
    documents: &[Document],
    state: &RemoteState,
    on_applied: &(dyn Fn(&Applied) + Send + Sync),
) -> Result<Vec<Applied>, ClusterError> {
    let documents: Vec<Document> = documents
        .iter()
        .filter(|d| !(state.namespace_exists && d.kind == "Namespace"))
        .cloned()
        .collect();
    let applier = Applier::new(
        remote.client.clone(),
        ApplyOptions {
            crd_wait: None,
            force_conflicts: true,
            ..ApplyOptions::default()
        },
    );
    Ok(applier.apply_all(&documents, on_applied).await?)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::cluster::Side;
    use crate::cluster::testing::*;
    use crate::kube::wait::Readiness;

    fn server(version: Option<&str>, image: Option<&str>) -> ServerInfo {
        ServerInfo {
            version: version.map(Into::into),
            image: image.map(Into::into),
            readiness: Readiness {
                ready: true,
                reason: String::new(),
            },
        }
    }

    fn user(set: &[&str]) -> ValuesInput {
        ValuesInput {
            files: vec![("--namespace".into(), "namespace: agents\n".into())],
            set: set.iter().map(|s| (*s).to_owned()).collect(),
            set_string: vec![],
        }
    }

    #[test]
    fn agent_is_rendered_for_the_cluster_at_the_server_version() {
        let docs = render_agent(
            &user(&[]),
            "east",
            "relay.example.com:9900",
            &server(Some("9.8.7"), Some("reg.example.com:5000/meshctl:9.8.7")),
        )
        .unwrap();
        assert_eq!(agent_namespace(&docs).as_deref(), Some("agents"));
        let deployment = docs.iter().find(|d| d.kind == "Deployment").unwrap();
        let container = &deployment.object["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["image"], "reg.example.com:5000/meshctl:9.8.7");
        let args: Vec<&str> = container["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert!(
            args.contains(&"--cluster=east")
                && args.contains(&"--relay-address=relay.example.com:9900"),
            "{args:?}"
        );
        for doc in &docs {
            assert_eq!(
                doc.object["metadata"]["labels"]["meshctl.dev/cluster"],
                "east",
                "{}",
                doc.display_name()
            );
            assert_eq!(
                doc.object["metadata"]["labels"]["meshctl.dev/version"],
                "9.8.7"
            );
        }
        // The selector stays stable (never carries the cluster label).
        assert!(
            deployment.object["spec"]["selector"]["matchLabels"]
                .get("meshctl.dev/cluster")
                .is_none()
        );
    }

    #[test]
    fn user_values_win_over_the_server_image_but_not_over_the_name() {
        let docs = render_agent(
            &user(&["image.tag=custom", "cluster.name=other"]),
            "east",
            "r:1",
            &server(None, Some("reg/meshctl:1.0.0")),
        )
        .unwrap();
        let deployment = docs.iter().find(|d| d.kind == "Deployment").unwrap();
        let container = &deployment.object["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["image"], "reg/meshctl:custom");
        assert!(
            container["args"]
                .as_array()
                .unwrap()
                .contains(&json!("--cluster=east"))
        );
        assert!(
            render_agent(
                &user(&["agent.bogus=1"]),
                "east",
                "r:1",
                &server(None, None)
            )
            .is_err()
        );
        assert_eq!(split_image("reg:5000/meshctl"), None);
        assert_eq!(split_image("meshctl@sha256:abc"), None);
        assert_eq!(
            split_image("reg:5000/m/meshctl:1.0.0@sha256:abc"),
            Some(("reg:5000/m/meshctl", "1.0.0", Some("sha256:abc")))
        );
    }

    #[test]
    fn the_agent_gets_the_servers_digest_unless_the_user_picks_another_image() {
        let digest = format!("sha256:{}", "0f".repeat(32));
        let pinned = format!("mirror.local/meshctl:1.0.0@{digest}");
        let image = |set: &[&str]| {
            let docs =
                render_agent(&user(set), "east", "r:1", &server(None, Some(&pinned))).unwrap();
            let deployment = docs.iter().find(|d| d.kind == "Deployment").unwrap();
            deployment.object["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        assert_eq!(image(&[]), pinned);
        assert_eq!(image(&["image.tag=custom"]), "mirror.local/meshctl:custom");
        assert_eq!(
            image(&["image.repository=other/meshctl"]),
            "other/meshctl:1.0.0"
        );
        let own = format!("sha256:{}", "1e".repeat(32));
        assert_eq!(
            image(&["image.tag=custom", &format!("image.digest={own}")]),
            format!("mirror.local/meshctl:custom@{own}")
        );
    }

    #[tokio::test]
    async fn inspect_lists_unmanaged_objects_and_an_existing_namespace() {
        let docs = render_agent(&user(&[]), "east", "r:1", &server(None, None)).unwrap();
        let api = MockApi::start(|_, path, _| {
            if path == "/api/v1/namespaces/agents" {
                (
                    200,
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "agents"}}),
                )
            } else if path == "/api/v1/namespaces/agents/secrets/relay-identity-token" {
                (200, secret("agents", "relay-identity-token", None, &[]))
            } else if path == "/apis/apps/v1/namespaces/agents/deployments/mesh-agent" {
                (
                    200,
                    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "mesh-agent", "labels": agent_labels("east")}}),
                )
            } else {
                not_found()
            }
        });
        let state = inspect(&cluster(&api, Side::Remote), &docs, "agents", true)
            .await
            .unwrap();
        assert!(state.namespace_exists);
        assert_eq!(state.unmanaged, ["Secret agents/relay-identity-token"]);
        let requests = api.requests();
        assert!(
            requests.contains(
                &"GET /api/v1/namespaces/agents/secrets/relay-root-tls-secret".to_owned()
            ),
            "{requests:?}"
        );
        assert_eq!(requests.len(), docs.len() + 2);
    }

    #[tokio::test]
    async fn secrets_are_server_side_applied_with_only_the_ca_certificate() {
        let api = MockApi::start(|method, _, body| match method {
            "GET" => not_found(),
            _ => echo(body),
        });
        let token = BootstrapToken::from_text("tok");
        let applied = copy_secrets(
            &cluster(&api, Side::Remote),
            "agents",
            Some("-----BEGIN CERTIFICATE-----\n"),
            &token,
            &agent_labels("east"),
        )
        .await
        .unwrap();
        assert_eq!(applied.len(), 2);
        assert!(applied.iter().all(|a| a.action == ApplyAction::Created));
        let calls = api.calls();
        let (request, ca) = &calls[1];
        assert_eq!(
            request,
            "PATCH /api/v1/namespaces/agents/secrets/relay-root-tls-secret?force=true&fieldManager=meshctl"
        );
        assert_eq!(
            ca["data"].as_object().unwrap().keys().collect::<Vec<_>>(),
            ["ca.crt"]
        );
        let (request, tok) = &calls[3];
        assert!(
            request.starts_with("PATCH /api/v1/namespaces/agents/secrets/relay-identity-token?"),
            "{request}"
        );
        assert_eq!(tok["data"]["token"], "dG9r");
        assert_eq!(tok["metadata"]["labels"]["meshctl.dev/cluster"], "east");
        // Without the CA (shared namespace) only the token is written.
        let api = MockApi::start(|method, _, body| match method {
            "GET" => not_found(),
            _ => echo(body),
        });
        copy_secrets(
            &cluster(&api, Side::Remote),
            "agents",
            None,
            &token,
            &agent_labels("east"),
        )
        .await
        .unwrap();
        assert_eq!(api.requests().len(), 2);
    }

    #[tokio::test]
    async fn an_existing_namespace_is_not_applied() {
        let docs = render_agent(&user(&[]), "east", "r:1", &server(None, None)).unwrap();
        let api = MockApi::start(|method, _, body| match method {
            "GET" => not_found(),
            _ => echo(body),
        });
        let state = RemoteState {
            namespace_exists: true,
            unmanaged: vec![],
        };
        let applied = apply_agent(&cluster(&api, Side::Remote), &docs, &state, &|_| {})
            .await
            .unwrap();
        assert_eq!(applied.len(), docs.len() - 1);
        assert!(
            !api.requests()
                .iter()
                .any(|r| r.contains("/api/v1/namespaces/agents?")),
            "{:?}",
            api.requests()
        );
        assert!(api.requests().iter().any(|r| {
            r.starts_with("PATCH /apis/apps/v1/namespaces/agents/deployments/mesh-agent?")
        }));
    }
}
