//! `cluster deregister`: removes exactly what register created, found by name and labels (never by
//! name alone): on the workload cluster the agent manifests, the copied Secrets and the agent's client
//! certificate; on the management cluster the token Secret and the KubernetesCluster.

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams};
use serde::Serialize;

use super::api::Cluster;
use super::{
    AGENT_NAMESPACE_ANNOTATION, CLIENT_TLS_SECRET, ClusterError, Side, is_managed,
    labelled_cluster, remote_selector, token_secret_name,
};
use crate::api::KubernetesCluster;
use crate::kube::resources::{Resolved, builtin};
use crate::output::{Render, Style, table};

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Removal {
    Deleted,
    /// Already gone.
    Absent,
}

/// One removed object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removed {
    pub cluster: Side,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    pub result: Removal,
}

/// The deregistration report.
#[derive(Debug, Clone, Serialize)]
pub struct Deregistration {
    pub name: String,
    pub removed: Vec<Removed>,
    /// What could not be cleaned (with `--mgmt-only`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_cleaned: Vec<String>,
}

impl Render for Deregistration {
    fn render_table(&self, _: &Style) -> String {
        let rows = self.removed.iter().map(|r| {
            [
                match r.cluster {
                    Side::Mgmt => "mgmt".to_owned(),
                    Side::Remote => "remote".to_owned(),
                },
                r.kind.clone(),
                r.namespace.clone().unwrap_or_else(|| "-".into()),
                r.name.clone(),
                match r.result {
                    Removal::Deleted => "deleted".to_owned(),
                    Removal::Absent => "absent".to_owned(),
                },
            ]
        });
        let mut out = if self.removed.is_empty() {
            String::new()
        } else {
            table::table(["CLUSTER", "KIND", "NAMESPACE", "NAME", "RESULT"], rows)
        };
        let deleted = self
            .removed
            .iter()
            .filter(|r| r.result == Removal::Deleted)
            .count();
        out.push_str(&format!(
            "\ncluster {} deregistered: {deleted} object(s) deleted\n",
            self.name
        ));
        out
    }
}

/// Kinds register writes to the workload cluster, deleted in this order (the agent first).
const REMOTE_KINDS: [&str; 9] = [
    "Deployment",
    "Service",
    "RoleBinding",
    "Role",
    "ClusterRoleBinding",
    "ClusterRole",
    "ServiceAccount",
    "Secret",
    "Namespace",
];

fn resolved(kind: &str) -> Option<Resolved> {
    builtin().into_iter().find(|r| r.resource.kind == kind)
}

async fn delete(
    cluster: &Cluster,
    kind: &Resolved,
    namespace: Option<&str>,
    name: &str,
) -> Result<Removal, ClusterError> {
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(cluster.client.clone(), ns, &kind.resource),
        None => Api::all_with(cluster.client.clone(), &kind.resource),
    };
    let what = match namespace {
        Some(ns) => format!("delete {} {ns}/{name}", kind.resource.kind),
        None => format!("delete {} {name}", kind.resource.kind),
    };
    match cluster
        .call_opt(what, api.delete(name, &DeleteParams::background()))
        .await?
    {
        Some(_) => Ok(Removal::Deleted),
        None => Ok(Removal::Absent),
    }
}

/// Removes the workload cluster's objects of `cluster`: everything labelled for it (component
/// agent), and the agent's client certificate Secret in the agent namespace(s) when it names it.
pub async fn remote(
    remote: &Cluster,
    cluster: &str,
    agent_namespace: Option<&str>,
) -> Result<Vec<Removed>, ClusterError> {
    let selector = remote_selector(cluster);
    let mut found: Vec<(Resolved, Option<String>, String)> = Vec::new();
    let mut namespaces: Vec<String> = agent_namespace.map(str::to_owned).into_iter().collect();
    for kind in REMOTE_KINDS {
        let Some(resolved) = resolved(kind) else {
            continue;
        };
        let api: Api<DynamicObject> = Api::all_with(remote.client.clone(), &resolved.resource);
        let list = remote
            .call(
                format!("list {} labelled {selector}", resolved.rbac_name()),
                api.list_metadata(&ListParams::default().labels(&selector)),
            )
            .await?;
        for item in list.items {
            let ns = item.metadata.namespace.clone();
            if let Some(ns) = &ns
                && !namespaces.contains(ns)
            {
                namespaces.push(ns.clone());
            }
            found.push((resolved.clone(), ns, item.metadata.name.unwrap_or_default()));
        }
    }
    // The agent's own certificate Secret carries no registration labels: delete it when it names this cluster.
    let secret_kind = resolved("Secret");
    let mut extra = Vec::new();
    for ns in &namespaces {
        let api: Api<Secret> = Api::namespaced(remote.client.clone(), ns);
        if let Some(secret) = remote
            .call_opt(
                format!("get Secret {ns}/{CLIENT_TLS_SECRET}"),
                api.get(CLIENT_TLS_SECRET),
            )
            .await?
            && super::remote::certificate_cluster(&secret).as_deref() == Some(cluster)
            && let Some(kind) = &secret_kind
            && !found.iter().any(|(k, n, name)| {
                k.resource.kind == "Secret" && n.as_deref() == Some(ns) && name == CLIENT_TLS_SECRET
            })
        {
            extra.push((kind.clone(), Some(ns.clone()), CLIENT_TLS_SECRET.to_owned()));
        }
    }
    // Delete the Namespace last.
    let namespace_rank = |k: &Resolved| usize::from(k.resource.kind == "Namespace");
    found.extend(extra);
    found.sort_by_key(|(k, _, _)| namespace_rank(k));
    let mut removed = Vec::new();
    for (kind, ns, name) in found {
        let result = delete(remote, &kind, ns.as_deref(), &name).await?;
        removed.push(Removed {
            cluster: Side::Remote,
            kind: kind.resource.kind.clone(),
            namespace: ns,
            name,
            result,
        });
    }
    Ok(removed)
}

/// The agent namespace recorded on the KubernetesCluster, if it exists.
pub async fn recorded_agent_namespace(
    mgmt: &Cluster,
    namespace: &str,
    cluster: &str,
) -> Result<Option<String>, ClusterError> {
    let api: Api<KubernetesCluster> = Api::namespaced(mgmt.client.clone(), namespace);
    let kc = mgmt
        .call_opt(
            format!("get KubernetesCluster {namespace}/{cluster}"),
            api.get(cluster),
        )
        .await?;
    Ok(kc.and_then(|kc| {
        kc.metadata
            .annotations
            .and_then(|a| a.get(AGENT_NAMESPACE_ANNOTATION).cloned())
    }))
}

/// Removes the token Secret and the KubernetesCluster of `cluster` from the management cluster, when
/// meshctl manages them for this cluster.
pub async fn mgmt(
    mgmt: &Cluster,
    namespace: &str,
    cluster: &str,
) -> Result<Vec<Removed>, ClusterError> {
    let mut removed = Vec::new();
    let secrets: Api<Secret> = Api::namespaced(mgmt.client.clone(), namespace);
    let token_name = token_secret_name(cluster);
    let targets = [
        ("Secret", token_name.clone()),
        ("KubernetesCluster", cluster.to_owned()),
    ];
    for (kind, name) in targets {
        let metadata = if kind == "Secret" {
            mgmt.call_opt(
                format!("get Secret {namespace}/{name}"),
                secrets.get_metadata(&name),
            )
            .await?
            .map(|o| o.metadata)
        } else {
            let api: Api<KubernetesCluster> = Api::namespaced(mgmt.client.clone(), namespace);
            mgmt.call_opt(
                format!("get KubernetesCluster {namespace}/{name}"),
                api.get_metadata(&name),
            )
            .await?
            .map(|o| o.metadata)
        };
        let Some(metadata) = metadata else {
            removed.push(Removed {
                cluster: Side::Mgmt,
                kind: kind.into(),
                namespace: Some(namespace.into()),
                name,
                result: Removal::Absent,
            });
            continue;
        };
        let labels = metadata.labels.as_ref();
        if !is_managed(labels) || labelled_cluster(labels).is_some_and(|c| c != cluster) {
            return Err(ClusterError::NotManaged {
                side: Side::Mgmt,
                objects: vec![format!("{kind} {namespace}/{name}")],
            });
        }
        let result = if kind == "Secret" {
            mgmt.call_opt(
                format!("delete Secret {namespace}/{name}"),
                secrets.delete(&name, &DeleteParams::default()),
            )
            .await?
            .map_or(Removal::Absent, |_| Removal::Deleted)
        } else {
            let api: Api<KubernetesCluster> = Api::namespaced(mgmt.client.clone(), namespace);
            mgmt.call_opt(
                format!("delete KubernetesCluster {namespace}/{name}"),
                api.delete(&name, &DeleteParams::default()),
            )
            .await?
            .map_or(Removal::Absent, |_| Removal::Deleted)
        };
        removed.push(Removed {
            cluster: Side::Mgmt,
            kind: kind.into(),
            namespace: Some(namespace.into()),
            name,
            result,
        });
    }
    Ok(removed)
}

/// What `--mgmt-only` leaves on the workload cluster, and how to remove it there.
pub fn left_behind(cluster: &str, agent_namespace: Option<&str>) -> Vec<String> {
    let ns = agent_namespace.unwrap_or("<agent namespace>");
    vec![
        format!(
            "the agent (Deployment, Service, ServiceAccount, Role, RoleBinding in {ns}; ClusterRole and ClusterRoleBinding meshctl:{ns}:agent)"
        ),
        format!(
            "Secrets {ns}/relay-root-tls-secret, {ns}/relay-identity-token and {ns}/relay-client-tls-secret"
        ),
        format!(
            "remove them later with: kubectl --context <remote> delete deploy,svc,sa,role,rolebinding,clusterrole,clusterrolebinding,secret -A -l {}, and kubectl -n {ns} delete secret relay-client-tls-secret",
            remote_selector(cluster)
        ),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::cluster::Side;
    use crate::cluster::testing::*;

    #[tokio::test]
    async fn remote_removal_selects_by_label_and_deletes_the_agent_first() {
        let api = MockApi::start(|method, path, _| match method {
            "GET" if path.starts_with("/apis/apps/v1/deployments?") => {
                assert!(path.contains("labelSelector=app.kubernetes.io%2Fmanaged-by%3Dmeshctl%2Cmeshctl.dev%2Fcluster%3Deast%2Capp.kubernetes.io%2Fcomponent%3Dagent"), "{path}");
                (
                    200,
                    list(
                        "DeploymentList",
                        vec![json!({"metadata": {"name": "mesh-agent", "namespace": "agents"}})],
                    ),
                )
            }
            "GET" if path.starts_with("/api/v1/secrets?") => (
                200,
                list(
                    "SecretList",
                    vec![
                        json!({"metadata": {"name": "relay-identity-token", "namespace": "agents"}}),
                    ],
                ),
            ),
            "GET" if path.starts_with("/api/v1/namespaces?") => (
                200,
                list(
                    "NamespaceList",
                    vec![json!({"metadata": {"name": "agents"}})],
                ),
            ),
            "GET" if path == "/api/v1/namespaces/agents/secrets/relay-client-tls-secret" => (
                200,
                secret(
                    "agents",
                    "relay-client-tls-secret",
                    Some(agent_labels("east")),
                    &[],
                ),
            ),
            "GET" => (200, list("List", vec![])),
            "DELETE" => (
                200,
                json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
            ),
            _ => not_found(),
        });
        let removed = remote(&cluster(&api, Side::Remote), "east", None)
            .await
            .unwrap();
        let names: Vec<String> = removed
            .iter()
            .map(|r| format!("{} {}", r.kind, r.name))
            .collect();
        assert_eq!(
            names,
            [
                "Deployment mesh-agent",
                "Secret relay-identity-token",
                "Secret relay-client-tls-secret",
                "Namespace agents"
            ]
        );
        let deletes: Vec<String> = api
            .requests()
            .into_iter()
            .filter(|r| r.starts_with("DELETE"))
            .collect();
        assert_eq!(
            deletes[0],
            "DELETE /apis/apps/v1/namespaces/agents/deployments/mesh-agent"
        );
        assert_eq!(deletes[3], "DELETE /api/v1/namespaces/agents");
    }

    #[tokio::test]
    async fn mgmt_removal_checks_labels_and_reports_absent_objects() {
        let api = MockApi::start(|method, path, _| match (method, path) {
            ("GET", "/api/v1/namespaces/mesh-system/secrets/relay-identity-token-east") => (
                200,
                secret(
                    "mesh-system",
                    "relay-identity-token-east",
                    Some(agent_labels("east")),
                    &[],
                ),
            ),
            ("DELETE", "/api/v1/namespaces/mesh-system/secrets/relay-identity-token-east") => (
                200,
                json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
            ),
            _ => not_found(),
        });
        let removed = mgmt(&cluster(&api, Side::Mgmt), "mesh-system", "east")
            .await
            .unwrap();
        assert_eq!(removed[0].result, Removal::Deleted);
        assert_eq!(
            (removed[1].kind.as_str(), removed[1].result),
            ("KubernetesCluster", Removal::Absent)
        );
        let api = MockApi::start(|_, _, _| {
            (
                200,
                secret("mesh-system", "relay-identity-token-east", None, &[]),
            )
        });
        assert!(matches!(
            mgmt(&cluster(&api, Side::Mgmt), "mesh-system", "east").await,
            Err(ClusterError::NotManaged { .. })
        ));
        assert!(!api.requests().iter().any(|r| r.starts_with("DELETE")));
    }

    #[test]
    fn mgmt_only_says_what_is_left() {
        let left = left_behind("east", Some("agents"));
        assert!(left[1].contains("agents/relay-identity-token"));
        assert!(left[2].contains("meshctl.dev/cluster=east"));
    }
}
