//! Pre-flight of `cluster register`: which cluster is which, the management server installed, the
//! name free, the workload cluster not registered under another name, and the permissions register
//! needs (SelfSubjectAccessReview, before anything is written).

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, ListParams, PostParams};
use sha2::{Digest, Sha256};

use super::api::Cluster;
use super::{
    AGENT_DEPLOYMENT, CA_KEY, CLUSTER_ID_ANNOTATION, CLUSTER_LABEL, ClusterError, MGMT_SERVER,
    REMOTE_TOKEN_SECRET, ROOT_CA_SECRET, labelled_cluster,
};
use crate::api::KubernetesCluster;
use crate::kube::wait::{Readiness, deployment_readiness};
use crate::manifests::labels;

/// What tells two clusters apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterIdentity {
    /// API server URL from the kubeconfig.
    pub server: String,
    /// sha256 of the API server CA bundle from the kubeconfig, if any.
    pub ca_sha256: Option<String>,
    /// UID of the `kube-system` namespace: stable for the life of a cluster, whatever URL reaches it.
    pub uid: Option<String>,
}

impl ClusterIdentity {
    /// The identity recorded on the KubernetesCluster: the kube-system UID, else the server URL.
    pub fn id(&self) -> String {
        match &self.uid {
            Some(uid) => format!("kube-system-uid:{uid}"),
            None => format!("server:{}", self.server),
        }
    }
}

/// sha256 (hex) of CA certificates (DER), as the kubeconfig gives them.
pub fn ca_fingerprint(certs: &[Vec<u8>]) -> Option<String> {
    if certs.is_empty() {
        return None;
    }
    let mut hasher = Sha256::new();
    for cert in certs {
        hasher.update(cert);
    }
    Some(hex::encode(hasher.finalize()))
}

/// Reads the identity of `cluster`; a kube-system namespace that cannot be read leaves `uid` empty.
pub async fn identity(
    cluster: &Cluster,
    server: String,
    ca_sha256: Option<String>,
) -> Result<ClusterIdentity, ClusterError> {
    let api: Api<Namespace> = Api::all(cluster.client.clone());
    let uid = match cluster
        .call_opt("get namespace kube-system", api.get("kube-system"))
        .await
    {
        Ok(ns) => ns.and_then(|ns| ns.metadata.uid),
        Err(ClusterError::Api {
            source: kube::Error::Api(s),
            ..
        }) if s.code == 403 => None,
        Err(err) => return Err(err),
    };
    Ok(ClusterIdentity {
        server,
        ca_sha256,
        uid,
    })
}

/// Whether two identities are the same cluster, and the evidence.
pub fn same_cluster(a: &ClusterIdentity, b: &ClusterIdentity) -> Option<&'static str> {
    if let (Some(x), Some(y)) = (&a.uid, &b.uid) {
        return (x == y).then_some("kube-system namespace UID");
    }
    (a.server == b.server && a.ca_sha256 == b.ca_sha256).then_some("API server URL and CA")
}

/// The installed management server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// Its meshctl version (label `meshctl.dev/version`, `_` back to `+`).
    pub version: Option<String>,
    /// Its container image.
    pub image: Option<String>,
    /// Whether its Deployment is available.
    pub readiness: Readiness,
}

/// The management server Deployment in `namespace`; absent is [`ClusterError::NotInstalled`].
pub async fn server(mgmt: &Cluster, namespace: &str) -> Result<ServerInfo, ClusterError> {
    let api: Api<Deployment> = Api::namespaced(mgmt.client.clone(), namespace);
    let deployment = mgmt
        .call_opt(
            format!("get Deployment {namespace}/{MGMT_SERVER}"),
            api.get(MGMT_SERVER),
        )
        .await?
        .ok_or_else(|| ClusterError::NotInstalled {
            namespace: namespace.to_owned(),
            context: mgmt.context.clone(),
        })?;
    let version = deployment
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(labels::VERSION))
        .map(|v| v.replacen('_', "+", 1));
    let image = deployment
        .spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .and_then(|c| c.image.clone());
    Ok(ServerInfo {
        version,
        image,
        readiness: deployment_readiness(&deployment),
    })
}

/// The relay root CA (`ca.crt` of `relay-root-tls-secret`) on the management cluster, PEM.
pub async fn root_ca(mgmt: &Cluster, namespace: &str) -> Result<String, ClusterError> {
    let api: Api<Secret> = Api::namespaced(mgmt.client.clone(), namespace);
    let secret = mgmt
        .call_opt(
            format!("get Secret {namespace}/{ROOT_CA_SECRET}"),
            api.get(ROOT_CA_SECRET),
        )
        .await?
        .ok_or_else(|| ClusterError::NoRootCa {
            namespace: namespace.to_owned(),
            context: mgmt.context.clone(),
        })?;
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(CA_KEY))
        .and_then(|b| String::from_utf8(b.0.clone()).ok())
        .filter(|pem| pem.contains("-----BEGIN CERTIFICATE-----"))
        .ok_or_else(|| ClusterError::BadRootCa {
            namespace: namespace.to_owned(),
        })
}

/// A permission register needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub verb: &'static str,
    pub group: &'static str,
    pub resource: &'static str,
    /// `None`: cluster-wide.
    pub namespace: Option<String>,
}

impl Access {
    fn describe(&self) -> String {
        let resource = if self.group.is_empty() {
            self.resource.to_owned()
        } else {
            format!("{}.{}", self.resource, self.group)
        };
        match &self.namespace {
            Some(ns) => format!("{} {resource} in namespace {ns}", self.verb),
            None => format!("{} {resource} (cluster-wide)", self.verb),
        }
    }
}

/// What register writes on the management cluster.
pub fn mgmt_access(namespace: &str) -> Vec<Access> {
    let ns = Some(namespace.to_owned());
    vec![
        access("create", "", "secrets", ns.clone()),
        access("patch", "", "secrets", ns.clone()),
        access("patch", crate::api::ADMIN_GROUP, "kubernetesclusters", ns),
    ]
}

/// What register writes on the workload cluster (the secrets, and the agent manifests).
pub fn remote_access(namespace: &str) -> Vec<Access> {
    let ns = Some(namespace.to_owned());
    vec![
        access("create", "", "secrets", ns.clone()),
        access("patch", "", "secrets", ns.clone()),
        access("patch", "apps", "deployments", ns.clone()),
        access("patch", "", "services", ns.clone()),
        access("patch", "", "serviceaccounts", ns.clone()),
        access("patch", "rbac.authorization.k8s.io", "roles", ns.clone()),
        access("patch", "rbac.authorization.k8s.io", "rolebindings", ns),
        access("patch", "rbac.authorization.k8s.io", "clusterroles", None),
        access(
            "patch",
            "rbac.authorization.k8s.io",
            "clusterrolebindings",
            None,
        ),
    ]
}

fn access(
    verb: &'static str,
    group: &'static str,
    resource: &'static str,
    namespace: Option<String>,
) -> Access {
    Access {
        verb,
        group,
        resource,
        namespace,
    }
}

/// Asks the API server (SelfSubjectAccessReview) about each permission; names every one missing.
pub async fn check_access(cluster: &Cluster, needed: &[Access]) -> Result<(), ClusterError> {
    let api: Api<SelfSubjectAccessReview> = Api::all(cluster.client.clone());
    let mut missing = Vec::new();
    for need in needed {
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(need.verb.to_owned()),
                    group: Some(need.group.to_owned()),
                    resource: Some(need.resource.to_owned()),
                    namespace: need.namespace.clone(),
                    ..ResourceAttributes::default()
                }),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        };
        let answer = cluster
            .call(
                format!("access review ({})", need.describe()),
                api.create(&PostParams::default(), &review),
            )
            .await?;
        if !answer.status.is_some_and(|s| s.allowed) {
            missing.push(need.describe());
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ClusterError::Forbidden {
            side: cluster.side,
            context: cluster.context.clone(),
            missing,
        })
    }
}

/// Fails when `name` is registered for another cluster than `remote`; returns whether it is
/// registered already (for this cluster).
pub async fn name_free(
    mgmt: &Cluster,
    namespace: &str,
    name: &str,
    remote: &ClusterIdentity,
) -> Result<bool, ClusterError> {
    let api: Api<KubernetesCluster> = Api::namespaced(mgmt.client.clone(), namespace);
    let Some(existing) = mgmt
        .call_opt(
            format!("get KubernetesCluster {namespace}/{name}"),
            api.get(name),
        )
        .await?
    else {
        return Ok(false);
    };
    let recorded = existing
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(CLUSTER_ID_ANNOTATION));
    match recorded {
        Some(id) if *id != remote.id() => Err(ClusterError::NameTaken {
            name: name.to_owned(),
            registered: id.clone(),
            this: remote.id(),
        }),
        _ => Ok(true),
    }
}

/// Whether `namespace` is being deleted (an agent left there is going away with it). A namespace
/// that cannot be read counts as not being deleted, so the registration found in it still stands.
async fn namespace_being_deleted(remote: &Cluster, namespace: &str) -> Result<bool, ClusterError> {
    let namespaces: Api<Namespace> = Api::all(remote.client.clone());
    match remote
        .call_opt(
            format!("get Namespace {namespace}"),
            namespaces.get(namespace),
        )
        .await
    {
        Ok(found) => Ok(found.is_some_and(|ns| ns.metadata.deletion_timestamp.is_some())),
        Err(ClusterError::Api {
            source: kube::Error::Api(s),
            ..
        }) if s.code == 403 => Ok(false),
        Err(err) => Err(err),
    }
}

/// Fails when the workload cluster is registered under another name than `name`: its token Secret
/// or agent Deployment names another cluster. A token Secret in a namespace being deleted does not
/// count (on a cluster without a namespace controller such a namespace never goes away).
pub async fn not_registered_as_other(
    remote: &Cluster,
    agent_namespace: &str,
    name: &str,
) -> Result<(), ClusterError> {
    let secrets: Api<Secret> = Api::all(remote.client.clone());
    let selector = format!(
        "{}={},{}={},{CLUSTER_LABEL}",
        labels::MANAGED_BY,
        labels::MESHCTL,
        labels::COMPONENT,
        super::AGENT_COMPONENT
    );
    match remote
        .call(
            "list registration Secrets",
            secrets.list_metadata(&ListParams::default().labels(&selector)),
        )
        .await
    {
        Ok(list) => {
            for item in list.items {
                let namespace = item.metadata.namespace.unwrap_or_default();
                if let Some(other) = labelled_cluster(item.metadata.labels.as_ref())
                    && other != name
                    && item.metadata.name.as_deref() == Some(REMOTE_TOKEN_SECRET)
                    && !namespace_being_deleted(remote, &namespace).await?
                {
                    return Err(ClusterError::RegisteredAs {
                        other: other.to_owned(),
                        evidence: format!(
                            "Secret {namespace}/{REMOTE_TOKEN_SECRET} is labelled {CLUSTER_LABEL}={other}"
                        ),
                    });
                }
            }
        }
        // Without cluster-wide list permission, the agent namespace below still tells.
        Err(ClusterError::Api {
            source: kube::Error::Api(s),
            ..
        }) if s.code == 403 => {}
        Err(err) => return Err(err),
    }
    let deployments: Api<Deployment> = Api::namespaced(remote.client.clone(), agent_namespace);
    let deployment = remote
        .call_opt(
            format!("get Deployment {agent_namespace}/{AGENT_DEPLOYMENT}"),
            deployments.get(AGENT_DEPLOYMENT),
        )
        .await?;
    if let Some(other) = deployment.as_ref().and_then(agent_cluster_arg)
        && other != name
    {
        return Err(ClusterError::RegisteredAs {
            evidence: format!(
                "Deployment {agent_namespace}/{AGENT_DEPLOYMENT} runs with --cluster={other}"
            ),
            other,
        });
    }
    Ok(())
}

/// The `--cluster=NAME` the agent Deployment runs with.
pub fn agent_cluster_arg(deployment: &Deployment) -> Option<String> {
    let containers = &deployment.spec.template.spec.as_ref()?.containers;
    containers
        .iter()
        .flat_map(|c| c.args.iter().flatten())
        .find_map(|arg| arg.strip_prefix("--cluster=").map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::cluster::Side;
    use crate::cluster::testing::*;

    fn id(server: &str, ca: Option<&str>, uid: Option<&str>) -> ClusterIdentity {
        ClusterIdentity {
            server: server.into(),
            ca_sha256: ca.map(Into::into),
            uid: uid.map(Into::into),
        }
    }

    #[test]
    fn same_cluster_by_uid_else_by_url_and_ca() {
        let a = id("https://a:6443", Some("x"), Some("u1"));
        assert_eq!(
            same_cluster(&a, &id("https://other:6443", None, Some("u1"))),
            Some("kube-system namespace UID")
        );
        assert_eq!(
            same_cluster(&a, &id("https://a:6443", Some("x"), Some("u2"))),
            None
        );
        assert_eq!(
            same_cluster(
                &id("https://a:6443", Some("x"), None),
                &id("https://a:6443", Some("x"), None)
            ),
            Some("API server URL and CA")
        );
        assert_eq!(
            same_cluster(
                &id("https://a:6443", Some("x"), None),
                &id("https://a:6443", Some("y"), None)
            ),
            None
        );
        assert_eq!(a.id(), "kube-system-uid:u1");
        assert_eq!(ca_fingerprint(&[]), None);
    }

    #[tokio::test]
    async fn identity_reads_the_kube_system_uid() {
        let api = MockApi::start(|method, path, _| {
            assert_eq!((method, path), ("GET", "/api/v1/namespaces/kube-system"));
            (
                200,
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system", "uid": "u-1"}}),
            )
        });
        let got = identity(&cluster(&api, Side::Remote), "https://x".into(), None)
            .await
            .unwrap();
        assert_eq!(got.uid.as_deref(), Some("u-1"));
    }

    #[tokio::test]
    async fn access_review_names_each_missing_permission() {
        let api = MockApi::start(|method, path, body| {
            assert_eq!(
                (method, path),
                (
                    "POST",
                    "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
                )
            );
            let attrs = &body["spec"]["resourceAttributes"];
            let allowed = !(attrs["resource"] == "secrets" && attrs["verb"] == "create");
            let mut answer = body.clone();
            answer["status"] = json!({"allowed": allowed});
            (201, answer)
        });
        let err = check_access(&cluster(&api, Side::Remote), &remote_access("agents"))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "missing permissions on the workload cluster (remote): create secrets in namespace agents. Ask for a Role/ClusterRole that grants them (check with: kubectl auth can-i --context remote VERB RESOURCE -n NAMESPACE)"
        );
        let calls = api.calls();
        assert_eq!(calls.len(), remote_access("agents").len());
        assert_eq!(
            calls[0].1["spec"]["resourceAttributes"]["namespace"],
            "agents"
        );
        assert_eq!(
            calls[7].1["spec"]["resourceAttributes"]["resource"],
            "clusterroles"
        );
        assert!(
            calls[7].1["spec"]["resourceAttributes"]
                .get("namespace")
                .is_none()
        );
    }

    #[tokio::test]
    async fn server_must_be_installed_and_gives_its_version() {
        let api = MockApi::start(|_, path, _| {
            assert_eq!(
                path,
                "/apis/apps/v1/namespaces/mesh-system/deployments/mesh-mgmt-server"
            );
            not_found()
        });
        let err = server(&cluster(&api, Side::Mgmt), "mesh-system")
            .await
            .unwrap_err();
        assert!(matches!(err, ClusterError::NotInstalled { .. }), "{err}");
        assert!(err.to_string().contains("meshctl install"), "{err}");
        let api = MockApi::start(|_, _, _| {
            (
                200,
                json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "mesh-mgmt-server", "labels": {"meshctl.dev/version": "1.2.0_b1"}, "generation": 1},
                "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "s", "image": "reg/meshctl:1.2.0"}]}}},
                "status": {"observedGeneration": 1, "availableReplicas": 1, "updatedReplicas": 1,
                    "conditions": [{"type": "Available", "status": "True"}]}}),
            )
        });
        let info = server(&cluster(&api, Side::Mgmt), "mesh-system")
            .await
            .unwrap();
        assert_eq!(info.version.as_deref(), Some("1.2.0+b1"));
        assert_eq!(info.image.as_deref(), Some("reg/meshctl:1.2.0"));
        assert!(info.readiness.ready);
    }

    #[tokio::test]
    async fn root_ca_is_read_or_explained() {
        let api = MockApi::start(|_, path, _| {
            assert_eq!(
                path,
                "/api/v1/namespaces/mesh-system/secrets/relay-root-tls-secret"
            );
            (
                200,
                secret(
                    "mesh-system",
                    "relay-root-tls-secret",
                    None,
                    &[("ca.crt", "-----BEGIN CERTIFICATE-----\nx\n")],
                ),
            )
        });
        let pem = root_ca(&cluster(&api, Side::Mgmt), "mesh-system")
            .await
            .unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
        let api = MockApi::start(|_, _, _| not_found());
        let err = root_ca(&cluster(&api, Side::Mgmt), "mesh-system")
            .await
            .unwrap_err();
        assert!(matches!(err, ClusterError::NoRootCa { .. }));
    }

    #[tokio::test]
    async fn a_name_registered_for_another_cluster_is_refused() {
        let api = MockApi::start(|_, path, _| {
            assert_eq!(
                path,
                "/apis/admin.meshctl.dev/v1alpha1/namespaces/mesh-system/kubernetesclusters/east"
            );
            (
                200,
                json!({"apiVersion": "admin.meshctl.dev/v1alpha1", "kind": "KubernetesCluster",
                "metadata": {"name": "east", "annotations": {"meshctl.dev/cluster-id": "kube-system-uid:old"}}, "spec": {}}),
            )
        });
        let mgmt = cluster(&api, Side::Mgmt);
        let err = name_free(&mgmt, "mesh-system", "east", &id("s", None, Some("new")))
            .await
            .unwrap_err();
        assert!(matches!(err, ClusterError::NameTaken { .. }), "{err}");
        assert!(
            name_free(&mgmt, "mesh-system", "east", &id("s", None, Some("old")))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_cluster_registered_under_another_name_is_refused() {
        let api = MockApi::start(|_, path, _| {
            if path.starts_with("/api/v1/secrets?") {
                assert!(path.contains("labelSelector=app.kubernetes.io%2Fmanaged-by%3Dmeshctl%2Capp.kubernetes.io%2Fcomponent%3Dagent%2Cmeshctl.dev%2Fcluster"), "{path}");
                (
                    200,
                    list(
                        "SecretList",
                        vec![secret(
                            "agents",
                            "relay-identity-token",
                            Some(agent_labels("west")),
                            &[],
                        )],
                    ),
                )
            } else {
                not_found()
            }
        });
        let err = not_registered_as_other(&cluster(&api, Side::Remote), "agents", "east")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ClusterError::RegisteredAs { other, .. } if other == "west"),
            "{err}"
        );
        assert!(
            not_registered_as_other(&cluster(&api, Side::Remote), "agents", "west")
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_registration_in_a_namespace_being_deleted_does_not_count() {
        let api = MockApi::start(|_, path, _| {
            if path.starts_with("/api/v1/secrets?") {
                (
                    200,
                    list(
                        "SecretList",
                        vec![secret(
                            "old-agents",
                            "relay-identity-token",
                            Some(agent_labels("west")),
                            &[],
                        )],
                    ),
                )
            } else if path == "/api/v1/namespaces/old-agents" {
                (
                    200,
                    json!({"apiVersion": "v1", "kind": "Namespace",
                           "metadata": {"name": "old-agents", "deletionTimestamp": "2026-11-22T08:00:00Z"},
                           "status": {"phase": "Terminating"}}),
                )
            } else {
                not_found()
            }
        });
        not_registered_as_other(&cluster(&api, Side::Remote), "agents", "east")
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn an_agent_deployment_for_another_cluster_is_refused() {
        let api = MockApi::start(|_, path, _| {
            if path.starts_with("/api/v1/secrets") {
                (403, status(403, "Forbidden", "no"))
            } else {
                assert_eq!(
                    path,
                    "/apis/apps/v1/namespaces/agents/deployments/mesh-agent"
                );
                (
                    200,
                    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "mesh-agent"},
                    "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "agent", "args": ["serve", "agent", "--cluster=west"]}]}}}}),
                )
            }
        });
        let err = not_registered_as_other(&cluster(&api, Side::Remote), "agents", "east")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("--cluster=west"), "{err}");
    }
}
