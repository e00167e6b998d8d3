//! What meshctl installed in a cluster, found by label (never by name alone), and its deletion.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{StreamExt, stream};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams};
use serde::Serialize;

use super::resources::Resolved;
use super::wait::{self, WaitError};

/// An installed object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveObject {
    /// Kind.
    pub kind: String,
    /// Namespace, for namespaced kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// UID (to tell a deleted object from a re-created one).
    #[serde(skip)]
    pub uid: String,
    /// Labels.
    #[serde(skip)]
    pub labels: BTreeMap<String, String>,
    /// The resource, for further calls.
    #[serde(skip)]
    pub resource: Resolved,
}

impl LiveObject {
    /// `Kind namespace/name`.
    pub fn display_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }

    /// `(kind, namespace, name)`, to compare with rendered documents.
    pub fn key(&self) -> (String, Option<String>, String) {
        (self.kind.clone(), self.namespace.clone(), self.name.clone())
    }

    fn api(&self, client: &kube::Client) -> Api<DynamicObject> {
        match &self.namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &self.resource.resource),
            None => Api::all_with(client.clone(), &self.resource.resource),
        }
    }
}

/// Why the inventory could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// Listing a kind failed.
    #[error("cannot list {resource}{}: {source}", scope(.namespace))]
    List {
        /// `plural.group`.
        resource: String,
        /// Namespace listed, if any.
        namespace: Option<String>,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// Deleting an object failed.
    #[error("cannot delete {object}: {source}")]
    Delete {
        /// `Kind namespace/name`.
        object: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// The object did not go away in time.
    #[error(transparent)]
    Wait(#[from] WaitError),
}

fn scope(namespace: &Option<String>) -> String {
    namespace
        .as_ref()
        .map(|ns| format!(" in namespace {ns}"))
        .unwrap_or_default()
}

/// Lists the objects of `kinds` carrying `selector`: namespaced kinds in `namespace`, cluster-scoped
/// kinds cluster-wide. One LIST per kind (metadata only), sorted by kind order given then name.
pub async fn list(
    client: &kube::Client,
    kinds: &[Resolved],
    namespace: &str,
    selector: &str,
) -> Result<Vec<LiveObject>, InventoryError> {
    let params = ListParams::default().labels(selector);
    let mut found = Vec::new();
    for kind in kinds {
        let api: Api<DynamicObject> = if kind.namespaced {
            Api::namespaced_with(client.clone(), namespace, &kind.resource)
        } else {
            Api::all_with(client.clone(), &kind.resource)
        };
        let list = api
            .list_metadata(&params)
            .await
            .map_err(|source| InventoryError::List {
                resource: kind.rbac_name(),
                namespace: kind.namespaced.then(|| namespace.to_owned()),
                source,
            })?;
        let mut objects: Vec<LiveObject> = list
            .items
            .into_iter()
            .map(|item| LiveObject {
                kind: kind.resource.kind.clone(),
                namespace: item.metadata.namespace.clone(),
                name: item.metadata.name.clone().unwrap_or_default(),
                uid: item.metadata.uid.clone().unwrap_or_default(),
                labels: item.metadata.labels.clone().unwrap_or_default(),
                resource: kind.clone(),
            })
            .collect();
        objects.sort_by(|a, b| a.name.cmp(&b.name));
        found.extend(objects);
    }
    Ok(found)
}

/// How a deletion ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Deletion {
    /// Gone.
    Deleted,
    /// Deletion requested, not waited for (namespaces finalise asynchronously).
    Terminating,
    /// Already gone when meshctl tried.
    Absent,
}

/// Deletes `objects` concurrently (background propagation), waiting up to `timeout` for each to be gone
/// unless `wait` is false for its kind (see [`Deletion::Terminating`]).
pub async fn delete_all(
    client: &kube::Client,
    objects: &[LiveObject],
    timeout: Duration,
    wait_for: fn(&LiveObject) -> bool,
) -> Vec<(LiveObject, Result<Deletion, InventoryError>)> {
    stream::iter(objects.iter().cloned())
        .map(|object| async move {
            let result = delete_one(client, &object, timeout, wait_for(&object)).await;
            (object, result)
        })
        .buffered(8)
        .collect()
        .await
}

async fn delete_one(
    client: &kube::Client,
    object: &LiveObject,
    timeout: Duration,
    wait: bool,
) -> Result<Deletion, InventoryError> {
    let api = object.api(client);
    match api.delete(&object.name, &DeleteParams::background()).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 404 => return Ok(Deletion::Absent),
        // Already being deleted: a Terminating namespace answers a second DELETE with 409 Conflict
        // ("The system is ensuring all content is removed from this namespace"). That is the state
        // asked for, not a failure (a re-run of uninstall must not fail on it).
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        Err(source) => {
            return Err(InventoryError::Delete {
                object: object.display_name(),
                source,
            });
        }
    }
    if !wait {
        return Ok(Deletion::Terminating);
    }
    wait::wait_deleted(
        api,
        &object.display_name(),
        &object.name,
        &object.uid,
        timeout,
    )
    .await?;
    Ok(Deletion::Deleted)
}

/// Namespaces other than `namespace` that hold a meshctl installation: labelled
/// `app.kubernetes.io/managed-by=meshctl` (install applies the Namespace with meshctl's labels) and not
/// being deleted. Sorted. The CRDs are shared by all of them, so purging one installation keeps the CRDs
/// while another remains.
pub async fn other_installations(
    client: &kube::Client,
    namespace: &str,
) -> Result<Vec<String>, InventoryError> {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let params = ListParams::default().labels(&crate::manifests::labels::managed_selector());
    let list = api
        .list_metadata(&params)
        .await
        .map_err(|source| InventoryError::List {
            resource: "namespaces".to_owned(),
            namespace: None,
            source,
        })?;
    let mut others: Vec<String> = list
        .items
        .into_iter()
        .filter(|ns| ns.metadata.deletion_timestamp.is_none())
        .filter_map(|ns| ns.metadata.name)
        .filter(|name| name != namespace)
        .collect();
    others.sort();
    Ok(others)
}

/// Kinds install renders and upgrade may prune. Never CRDs (their deletion deletes every custom
/// resource), the namespace, or Secrets (relay PKI, tokens, license live there).
pub const PRUNABLE_KINDS: [&str; 8] = [
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "ConfigMap",
    "Service",
    "Deployment",
];

/// The built-in resources of `kinds`, in apply order.
pub fn resources_of(kinds: &[&str]) -> Vec<Resolved> {
    let mut found: Vec<Resolved> = super::resources::builtin()
        .into_iter()
        .filter(|r| kinds.contains(&r.resource.kind.as_str()))
        .collect();
    found.sort_by_key(|r| crate::manifests::order::rank(&r.resource.kind));
    found
}

/// Installed objects that `rendered` no longer contains (only prunable kinds).
pub fn prune_candidates(
    live: &[LiveObject],
    rendered: &[crate::manifests::Document],
) -> Vec<LiveObject> {
    let keep: std::collections::HashSet<(String, Option<String>, String)> = rendered
        .iter()
        .map(|d| (d.kind.clone(), d.namespace.clone(), d.name.clone()))
        .collect();
    live.iter()
        .filter(|o| PRUNABLE_KINDS.contains(&o.kind.as_str()) && !keep.contains(&o.key()))
        .cloned()
        .collect()
}

/// The newest `meshctl.dev/version` among installed objects (label values use `_` for `+`).
pub fn installed_version(live: &[LiveObject]) -> Option<semver::Version> {
    live.iter()
        .filter_map(|o| o.labels.get(crate::manifests::labels::VERSION))
        .filter_map(|v| semver::Version::parse(&v.replacen('_', "+", 1)).ok())
        .max()
}

/// The profile an installation was made with, from the components found.
pub fn installed_profile(live: &[LiveObject]) -> crate::manifests::Profile {
    use crate::manifests::Profile;
    let has = |component: &str| {
        live.iter().any(|o| {
            o.labels
                .get(crate::manifests::labels::COMPONENT)
                .is_some_and(|c| c == component)
        })
    };
    match (has("mgmt-server"), has("agent")) {
        (true, true) => Profile::SingleCluster,
        (false, true) => Profile::Agent,
        _ => Profile::Mgmt,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::{MockApi, list, status};
    use crate::manifests::labels;

    fn object(kind: &str, name: &str, component: &str, version: &str) -> LiveObject {
        let resource = super::super::resources::builtin()
            .into_iter()
            .find(|r| r.resource.kind == kind)
            .unwrap();
        LiveObject {
            kind: kind.into(),
            namespace: resource.namespaced.then(|| "mesh-system".to_owned()),
            name: name.into(),
            uid: "u".into(),
            labels: BTreeMap::from([
                (labels::COMPONENT.to_owned(), component.to_owned()),
                (labels::VERSION.to_owned(), version.to_owned()),
            ]),
            resource,
        }
    }

    fn meta(name: &str, deleting: bool) -> serde_json::Value {
        let mut metadata = serde_json::json!({"name": name});
        if deleting {
            metadata["deletionTimestamp"] = serde_json::json!("2026-01-01T00:00:00Z");
        }
        serde_json::json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": metadata})
    }

    #[tokio::test]
    async fn other_installations_are_meshctl_namespaces_not_being_deleted() {
        let api = MockApi::start(|method, path, _| {
            assert_eq!(method, "GET");
            assert_eq!(
                path,
                "/api/v1/namespaces?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dmeshctl"
            );
            (
                200,
                list(
                    "PartialObjectMetadataList",
                    vec![
                        meta("mesh-system", false),
                        meta("zeta", false),
                        meta("gone", true),
                        meta("alpha", false),
                    ],
                ),
            )
        });
        let others = other_installations(&api.client(), "mesh-system")
            .await
            .unwrap();
        assert_eq!(others, ["alpha", "zeta"]);
    }

    #[tokio::test]
    async fn deleting_what_is_already_terminating_or_gone_is_not_a_failure() {
        // A Terminating namespace answers DELETE with 409 Conflict; a deleted object with 404.
        let api = MockApi::start(|method, path, _| {
            assert_eq!(method, "DELETE");
            match path.split('?').next().unwrap() {
                "/api/v1/namespaces/mesh-system" => (
                    409,
                    status(
                        409,
                        "Conflict",
                        "Operation cannot be fulfilled on namespaces \"mesh-system\": The system is ensuring all content is removed from this namespace.",
                    ),
                ),
                _ => (404, status(404, "NotFound", "not found")),
            }
        });
        let objects = [
            object("Namespace", "mesh-system", "namespace", "1.0.0"),
            object("Secret", "meshctl-license", "license", "1.0.0"),
        ];
        let results = delete_all(&api.client(), &objects, Duration::from_secs(5), |o| {
            o.kind != "Namespace"
        })
        .await;
        let results: Vec<(String, Deletion)> = results
            .into_iter()
            .map(|(o, r)| (o.display_name(), r.unwrap()))
            .collect();
        assert_eq!(
            results,
            [
                ("Namespace mesh-system".to_owned(), Deletion::Terminating),
                (
                    "Secret mesh-system/meshctl-license".to_owned(),
                    Deletion::Absent
                ),
            ]
        );
    }

    #[test]
    fn newest_version_wins_and_build_metadata_is_restored() {
        let live = [
            object("Service", "a", "agent", "1.2.0"),
            object("Deployment", "b", "agent", "1.10.0_build.3"),
            object("Role", "c", "agent", "junk"),
        ];
        assert_eq!(
            installed_version(&live),
            Some(semver::Version::parse("1.10.0+build.3").unwrap())
        );
        assert_eq!(installed_version(&[]), None);
    }

    #[test]
    fn profile_follows_components() {
        assert_eq!(
            installed_profile(&[object("Deployment", "m", "mgmt-server", "1.0.0")]),
            crate::manifests::Profile::Mgmt
        );
        assert_eq!(
            installed_profile(&[object("Deployment", "a", "agent", "1.0.0")]),
            crate::manifests::Profile::Agent
        );
        assert_eq!(
            installed_profile(&[
                object("Deployment", "a", "agent", "1.0.0"),
                object("Deployment", "m", "mgmt-server", "1.0.0")
            ]),
            crate::manifests::Profile::SingleCluster
        );
    }

    #[test]
    fn prune_keeps_rendered_objects_and_never_touches_crds_namespaces_or_secrets() {
        let rendered = crate::manifests::build(
            &Default::default(),
            &crate::manifests::RenderOptions::new(crate::manifests::Profile::Mgmt),
        )
        .unwrap();
        let live = [
            object("Deployment", "mesh-mgmt-server", "mgmt-server", "1.0.0"),
            object("Deployment", "mesh-redis", "redis", "1.0.0"),
            object("Service", "mesh-redis", "redis", "1.0.0"),
            object("Secret", "relay-root-tls-secret", "mgmt-server", "1.0.0"),
            object("Namespace", "mesh-system", "namespace", "1.0.0"),
            object(
                "CustomResourceDefinition",
                "old.admin.meshctl.dev",
                "crds",
                "1.0.0",
            ),
        ];
        let names: Vec<String> = prune_candidates(&live, &rendered)
            .iter()
            .map(LiveObject::display_name)
            .collect();
        assert_eq!(
            names,
            [
                "Deployment mesh-system/mesh-redis",
                "Service mesh-system/mesh-redis"
            ]
        );
    }
}
