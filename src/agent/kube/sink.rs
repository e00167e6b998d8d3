//! The agent's config sink on Kubernetes: server-side apply (field manager
//! `meshctl-agent`, forced: the management server is the authority for what it pushes)
//! of each received resource through `DynamicObject` and cached discovery, with owner
//! labels and the hash annotation added. `held()` lists the objects the agent owns, by
//! label, for every kind it knows; deletes touch only objects carrying the owner
//! labels. Every failure is a per-resource error for the Ack (a kind whose CRD is
//! missing included), never a crash.

use crate::agent::kube::ownership::{
    FIELD_MANAGER, applied_hash, is_owned, owned_selector, prepare,
};
use crate::agent::sink::{ApplyError, ConfigSink, SinkError};
use crate::kube::resources::{Resolved, Resolver};
use crate::relay::proto;
use crate::relay::resource::{body_json, key_of, key_string, parse_key};
use crate::server::kube::call::{DEFAULT_CALL_TIMEOUT, timed};
use async_trait::async_trait;
use futures::StreamExt;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// Concurrent applies of one delta.
const APPLY_CONCURRENCY: usize = 8;

/// Kinds the management server pushes (translator outputs and plain config), listed by
/// `held()` even before this process applied one.
pub const DEFAULT_KINDS: [(&str, &str); 7] = [
    ("v1", "ConfigMap"),
    ("networking.istio.io/v1", "ServiceEntry"),
    ("networking.istio.io/v1", "DestinationRule"),
    ("networking.istio.io/v1", "VirtualService"),
    ("networking.istio.io/v1", "Gateway"),
    ("security.istio.io/v1", "AuthorizationPolicy"),
    ("cilium.io/v2", "CiliumNetworkPolicy"),
];

/// Why a kind could not be resolved.
struct ResolveFailure {
    /// The cluster does not serve the kind (404 from discovery, or the group version
    /// has no such kind).
    not_served: bool,
    message: String,
}

/// Applies configuration to the cluster the agent runs in.
pub struct KubeConfigSink {
    client: kube::Client,
    resolver: Resolver,
    kinds: Mutex<BTreeSet<(String, String)>>,
    timeout: Duration,
}

impl std::fmt::Debug for KubeConfigSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeConfigSink")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

fn api_for(client: &kube::Client, r: &Resolved, namespace: &str) -> Api<DynamicObject> {
    if r.namespaced {
        Api::namespaced_with(client.clone(), namespace, &r.resource)
    } else {
        Api::all_with(client.clone(), &r.resource)
    }
}

impl KubeConfigSink {
    pub fn new(client: kube::Client) -> Self {
        Self {
            resolver: Resolver::new(client.clone()),
            client,
            kinds: Mutex::new(
                DEFAULT_KINDS
                    .iter()
                    .map(|(a, k)| (a.to_string(), k.to_string()))
                    .collect(),
            ),
            timeout: DEFAULT_CALL_TIMEOUT,
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn remember(&self, api_version: &str, kind: &str) {
        let mut g = match self.kinds.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.insert((api_version.to_string(), kind.to_string()));
    }

    fn kinds(&self) -> Vec<(String, String)> {
        match self.kinds.lock() {
            Ok(g) => g.iter().cloned().collect(),
            Err(p) => p.into_inner().iter().cloned().collect(),
        }
    }

    /// Discovery with the call timeout; the error is the message for the Ack.
    async fn resolve(&self, api_version: &str, kind: &str) -> Result<Resolved, ResolveFailure> {
        match tokio::time::timeout(self.timeout, self.resolver.resolve(api_version, kind)).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(ResolveFailure {
                not_served: matches!(
                    &e.source,
                    kube::Error::Api(s) if s.code == 404
                ) || matches!(&e.source, kube::Error::Discovery(_)),
                message: e.to_string(),
            }),
            Err(_) => Err(ResolveFailure {
                not_served: false,
                message: format!(
                    "discovering {api_version} {kind}: the Kubernetes API did not answer within {}s",
                    self.timeout.as_secs()
                ),
            }),
        }
    }

    async fn apply_one(&self, r: &proto::Resource) -> Result<(), String> {
        let body = body_json(r).map_err(|e| e.to_string())?;
        let resolved = self
            .resolve(&r.api_version, &r.kind)
            .await
            .map_err(|e| format!("not applied: {}", e.message))?;
        if resolved.namespaced && r.namespace.is_empty() {
            return Err(format!(
                "not applied: {} is namespaced but the resource has no namespace",
                r.kind
            ));
        }
        let mut object = prepare(&body, &r.hash);
        object["apiVersion"] = r.api_version.clone().into();
        object["kind"] = r.kind.clone().into();
        if resolved.namespaced {
            object["metadata"]["namespace"] = r.namespace.clone().into();
        } else if let Some(meta) = object["metadata"].as_object_mut() {
            meta.remove("namespace");
        }
        let api = api_for(&self.client, &resolved, &r.namespace);
        let params = PatchParams::apply(FIELD_MANAGER).force();
        timed(
            format!("applying {}", key_of(r)),
            self.timeout,
            api.patch(&r.name, &params, &Patch::Apply(&object)),
        )
        .await
        .map_err(|e| e.to_string())?;
        self.remember(&r.api_version, &r.kind);
        Ok(())
    }

    async fn delete_one(&self, key: &str) -> Result<(), String> {
        let k = parse_key(key).map_err(|e| e.to_string())?;
        let resolved = match self.resolve(&k.api_version, &k.kind).await {
            Ok(r) => r,
            // The kind is gone from the cluster, so is the object.
            Err(e) if e.not_served => return Ok(()),
            Err(e) => return Err(e.message),
        };
        let api = api_for(&self.client, &resolved, &k.namespace);
        let live = timed(format!("reading {key}"), self.timeout, api.get_opt(&k.name))
            .await
            .map_err(|e| e.to_string())?;
        let Some(live) = live else { return Ok(()) };
        let live = serde_json::to_value(&live).map_err(|e| e.to_string())?;
        if !is_owned(&live) {
            tracing::warn!(%key, "not deleting an object the agent does not own (no meshctl owner labels)");
            return Err("not deleted: the object does not carry meshctl's owner labels".into());
        }
        match timed(
            format!("deleting {key}"),
            self.timeout,
            api.delete(&k.name, &DeleteParams::default()),
        )
        .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

#[async_trait]
impl ConfigSink for KubeConfigSink {
    async fn held(&self) -> Result<HashMap<String, String>, SinkError> {
        let mut held = HashMap::new();
        let selector = owned_selector();
        for (api_version, kind) in self.kinds() {
            let resolved = match self.resolve(&api_version, &kind).await {
                Ok(r) => r,
                Err(e) if e.not_served => {
                    tracing::debug!(%api_version, %kind, error = %e.message, "kind not served; nothing held");
                    continue;
                }
                Err(e) => {
                    return Err(SinkError::Io {
                        path: PathBuf::from(format!("{api_version}/{kind}")),
                        message: e.message,
                    });
                }
            };
            let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &resolved.resource);
            let list = timed(
                format!("listing {kind} owned by the agent"),
                self.timeout,
                api.list(&ListParams::default().labels(&selector)),
            )
            .await;
            let list = match list {
                Ok(l) => l,
                Err(e) if e.is_not_found() => continue,
                Err(e) => {
                    return Err(SinkError::Io {
                        path: PathBuf::from(format!("{api_version}/{kind}")),
                        message: e.to_string(),
                    });
                }
            };
            for o in list.items {
                let Ok(v) = serde_json::to_value(&o) else {
                    continue;
                };
                let (Some(name), Some(hash)) = (o.metadata.name.as_deref(), applied_hash(&v))
                else {
                    continue;
                };
                let namespace = o.metadata.namespace.as_deref().unwrap_or_default();
                held.insert(key_string(&api_version, &kind, namespace, name), hash);
            }
        }
        Ok(held)
    }

    async fn apply(&self, upserts: Vec<proto::Resource>, deletes: Vec<String>) -> Vec<ApplyError> {
        let applied: Vec<Option<ApplyError>> = futures::stream::iter(upserts)
            .map(|r| async move {
                self.apply_one(&r).await.err().map(|message| ApplyError {
                    key: key_of(&r),
                    message,
                })
            })
            .buffer_unordered(APPLY_CONCURRENCY)
            .collect()
            .await;
        let deleted: Vec<Option<ApplyError>> = futures::stream::iter(deletes)
            .map(|key| async move {
                self.delete_one(&key)
                    .await
                    .err()
                    .map(|message| ApplyError { key, message })
            })
            .buffer_unordered(APPLY_CONCURRENCY)
            .collect()
            .await;
        let errors: Vec<ApplyError> = applied.into_iter().chain(deleted).flatten().collect();
        for e in &errors {
            tracing::warn!(key = %e.key, message = %e.message, "configuration not applied");
        }
        errors
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::check::testing::{MockApi, list, status};
    use crate::relay::resource::from_json;
    use serde_json::{Value, json};
    use std::sync::{Arc, Mutex};

    fn cm(name: &str) -> proto::Resource {
        from_json(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "shop", "labels": {"team": "a"}}, "data": {"k": "v"}}))
        .unwrap()
    }

    fn owned(name: &str, hash: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "shop",
            "labels": {"app.kubernetes.io/managed-by": "meshctl", "meshctl.dev/owner": "agent"},
            "annotations": {"meshctl.dev/config-hash": hash}}})
    }

    #[tokio::test]
    async fn applies_with_server_side_apply_as_meshctl_agent() {
        let bodies: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        let seen = bodies.clone();
        let api = MockApi::start(move |method, path, body| {
            seen.lock()
                .unwrap()
                .push((format!("{method} {path}"), body.clone()));
            (200, body.clone())
        });
        let sink = KubeConfigSink::new(api.client());
        let r = cm("a");
        assert!(sink.apply(vec![r.clone()], vec![]).await.is_empty());
        let bodies = bodies.lock().unwrap().clone();
        assert_eq!(bodies.len(), 1);
        let (target, body) = &bodies[0];
        assert_eq!(
            target,
            "PATCH /api/v1/namespaces/shop/configmaps/a?force=true&fieldManager=meshctl-agent"
        );
        assert_eq!(
            body["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "meshctl"
        );
        assert_eq!(body["metadata"]["labels"]["meshctl.dev/owner"], "agent");
        assert_eq!(body["metadata"]["labels"]["team"], "a");
        assert_eq!(
            body["metadata"]["annotations"]["meshctl.dev/config-hash"],
            r.hash.as_str()
        );
        assert_eq!(body["data"]["k"], "v");
    }

    #[tokio::test]
    async fn a_missing_crd_is_a_per_resource_error_and_the_rest_applies() {
        let api = MockApi::start(move |method, path, body| match method {
            "GET" if path.starts_with("/apis/networking.istio.io") => (
                404,
                status(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                ),
            ),
            "PATCH" => (200, body.clone()),
            _ => (404, status(404, "NotFound", "not found")),
        });
        let sink = KubeConfigSink::new(api.client());
        let se = from_json(
            &json!({"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
            "metadata": {"name": "s", "namespace": "shop"}, "spec": {}}),
        )
        .unwrap();
        let errors = sink.apply(vec![se.clone(), cm("a")], vec![]).await;
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].key, key_of(&se));
        assert!(
            errors[0].message.contains("does not serve"),
            "{}",
            errors[0].message
        );
        assert!(
            api.requests()
                .iter()
                .any(|r| r.starts_with("PATCH /api/v1/namespaces/shop/configmaps/a"))
        );
    }

    #[tokio::test]
    async fn deletes_only_objects_carrying_the_owner_labels() {
        let api = MockApi::start(move |method, path, _| match (method, path) {
            ("GET", "/api/v1/namespaces/shop/configmaps/mine") => (200, owned("mine", "h")),
            ("GET", "/api/v1/namespaces/shop/configmaps/theirs") => (
                200,
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "theirs", "namespace": "shop"}}),
            ),
            ("DELETE", _) => (200, owned("mine", "h")),
            _ => (404, status(404, "NotFound", "not found")),
        });
        let sink = KubeConfigSink::new(api.client());
        let errors = sink
            .apply(
                vec![],
                vec![
                    "v1/ConfigMap/shop/mine".into(),
                    "v1/ConfigMap/shop/theirs".into(),
                    "v1/ConfigMap/shop/gone".into(),
                ],
            )
            .await;
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].key, "v1/ConfigMap/shop/theirs");
        let deletes: Vec<String> = api
            .requests()
            .into_iter()
            .filter(|r| r.starts_with("DELETE"))
            .collect();
        assert_eq!(deletes, ["DELETE /api/v1/namespaces/shop/configmaps/mine"]);
    }

    #[tokio::test]
    async fn held_lists_owned_objects_by_label_with_their_hashes() {
        let api = MockApi::start(move |method, path, _| match method {
            "GET" if path.starts_with("/api/v1/configmaps?") => {
                assert!(path.contains("labelSelector=app.kubernetes.io%2Fmanaged-by%3Dmeshctl%2Cmeshctl.dev%2Fowner%3Dagent"), "{path}");
                (
                    200,
                    list("ConfigMapList", vec![owned("a", "h1"), owned("b", "h2")]),
                )
            }
            _ => (404, status(404, "NotFound", "not found")),
        });
        let sink = KubeConfigSink::new(api.client());
        let held = sink.held().await.unwrap();
        assert_eq!(held.len(), 2, "{held:?}");
        assert_eq!(held["v1/ConfigMap/shop/a"], "h1");
        assert_eq!(held["v1/ConfigMap/shop/b"], "h2");
    }
}
