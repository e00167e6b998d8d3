//! Resolving `apiVersion` + `kind` to the API resource to call: a static table for the kinds meshctl
//! installs (no discovery round trip), discovery for anything else, cached.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::Scope;
use tokio::sync::Mutex;

/// An API resource and whether its objects live in namespaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Group, version, kind and plural.
    pub resource: ApiResource,
    /// `true` for namespaced kinds.
    pub namespaced: bool,
}

impl Resolved {
    /// `plural.group` (`deployments.apps`), or `plural` for the core group: how RBAC names it.
    pub fn rbac_name(&self) -> String {
        if self.resource.group.is_empty() {
            self.resource.plural.clone()
        } else {
            format!("{}.{}", self.resource.plural, self.resource.group)
        }
    }
}

fn known<K: kube::Resource<DynamicType = ()>>(namespaced: bool) -> Resolved {
    Resolved {
        resource: ApiResource::erase::<K>(&()),
        namespaced,
    }
}

/// The kinds meshctl's templates render, resolved without discovery.
pub fn builtin() -> Vec<Resolved> {
    vec![
        known::<CustomResourceDefinition>(false),
        known::<Namespace>(false),
        known::<ServiceAccount>(true),
        known::<ClusterRole>(false),
        known::<ClusterRoleBinding>(false),
        known::<Role>(true),
        known::<RoleBinding>(true),
        known::<ConfigMap>(true),
        known::<Secret>(true),
        known::<Service>(true),
        known::<Deployment>(true),
    ]
}

/// Why a kind could not be resolved.
#[derive(Debug, thiserror::Error)]
#[error("the cluster does not serve {api_version} {kind}: {source}")]
pub struct ResolveError {
    /// `apiVersion` asked for.
    pub api_version: String,
    /// `kind` asked for.
    pub kind: String,
    /// Discovery's error.
    #[source]
    pub source: kube::Error,
}

/// Resolves kinds, remembering discovery results.
#[derive(Clone)]
pub struct Resolver {
    client: kube::Client,
    cache: Arc<Mutex<HashMap<(String, String), Resolved>>>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver").finish_non_exhaustive()
    }
}

impl Resolver {
    /// A resolver preloaded with [`builtin`].
    pub fn new(client: kube::Client) -> Self {
        let cache = builtin()
            .into_iter()
            .map(|r| ((r.resource.api_version.clone(), r.resource.kind.clone()), r))
            .collect();
        Self {
            client,
            cache: Arc::new(Mutex::new(cache)),
        }
    }

    /// The resource for `api_version` and `kind`: from the table, or by discovery of its group version.
    pub async fn resolve(&self, api_version: &str, kind: &str) -> Result<Resolved, ResolveError> {
        let key = (api_version.to_owned(), kind.to_owned());
        if let Some(found) = self.cache.lock().await.get(&key) {
            return Ok(found.clone());
        }
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, capabilities) = kube::discovery::pinned_kind(&self.client, &gvk)
            .await
            .map_err(|source| ResolveError {
                api_version: api_version.to_owned(),
                kind: kind.to_owned(),
                source,
            })?;
        let resolved = Resolved {
            resource,
            namespaced: capabilities.scope == Scope::Namespaced,
        };
        self.cache.lock().await.insert(key, resolved.clone());
        Ok(resolved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_knows_scopes_and_plurals() {
        let table = builtin();
        let find = |kind: &str| {
            table
                .iter()
                .find(|r| r.resource.kind == kind)
                .unwrap()
                .clone()
        };
        assert!(!find("ClusterRole").namespaced);
        assert!(find("Deployment").namespaced);
        assert_eq!(find("Deployment").rbac_name(), "deployments.apps");
        assert_eq!(find("Service").rbac_name(), "services");
        assert_eq!(
            find("CustomResourceDefinition").resource.plural,
            "customresourcedefinitions"
        );
    }
}
