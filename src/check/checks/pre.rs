//! The `--pre` checks, run before `meshctl install`: `permissions` (a SelfSubjectAccessReview per
//! verb and resource install needs), `no-conflicting-install`, and `load-balancer` (a hint: an
//! API server cannot say whether a load-balancer controller exists).

use std::sync::Arc;

use futures::FutureExt;
use futures::future::{BoxFuture, join_all};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::Node;

use super::{
    MANAGED_BY_LABEL, MGMT_SERVER, PART_OF_SELECTOR, VERSION_LABEL, api_failure, join_limited,
    plural,
};
use crate::check::cluster::{ApiError, ClusterAccess};
use crate::check::engine::Check;
use crate::check::model::{CheckSpec, Finding, Severity};

/// One permission install needs: `verb` on `resource` of `group` (core is ""), in the install
/// namespace when `namespaced`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    pub verb: &'static str,
    pub group: &'static str,
    pub resource: &'static str,
    pub namespaced: bool,
}

/// Server-side apply creates and patches: both verbs for everything install writes.
pub fn install_permissions() -> Vec<Permission> {
    let resources: [(&str, &str, bool); 8] = [
        ("", "namespaces", false),
        ("apiextensions.k8s.io", "customresourcedefinitions", false),
        ("rbac.authorization.k8s.io", "clusterroles", false),
        ("rbac.authorization.k8s.io", "clusterrolebindings", false),
        ("apps", "deployments", true),
        ("", "services", true),
        ("", "secrets", true),
        ("", "serviceaccounts", true),
    ];
    let mut out = Vec::new();
    for (group, resource, namespaced) in resources {
        for verb in ["create", "patch"] {
            out.push(Permission {
                verb,
                group,
                resource,
                namespaced,
            });
        }
    }
    out
}

impl Permission {
    /// `create customresourcedefinitions.apiextensions.k8s.io` / `patch secrets in mesh-system`.
    pub fn describe(&self, namespace: &str) -> String {
        let mut text = format!("{} {}", self.verb, self.resource);
        if !self.group.is_empty() {
            text.push('.');
            text.push_str(self.group);
        }
        if self.namespaced {
            text.push_str(&format!(" in {namespace}"));
        }
        text
    }

    fn review(&self, namespace: &str) -> SelfSubjectAccessReview {
        SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(self.verb.into()),
                    group: Some(self.group.into()),
                    resource: Some(self.resource.into()),
                    namespace: self.namespaced.then(|| namespace.to_string()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        }
    }
}

pub struct Permissions {
    spec: CheckSpec,
    cluster: Arc<ClusterAccess>,
    namespace: String,
}

impl Permissions {
    pub fn new(
        category: impl Into<String>,
        cluster: Arc<ClusterAccess>,
        namespace: impl Into<String>,
    ) -> Self {
        Self {
            spec: CheckSpec::new(
                "permissions",
                category,
                "you may create what install creates",
                Severity::Error,
            )
            .depends_on(&["kubernetes-api"]),
            cluster,
            namespace: namespace.into(),
        }
    }

    async fn evaluate(&self) -> Finding {
        let wanted = install_permissions();
        let reviews: Vec<SelfSubjectAccessReview> =
            wanted.iter().map(|p| p.review(&self.namespace)).collect();
        let answers = join_all(
            reviews
                .iter()
                .map(|r| self.cluster.create_cluster_scoped(r)),
        )
        .await;
        let mut denied = Vec::new();
        for (permission, answer) in wanted.iter().zip(answers) {
            match answer {
                Ok(review) => {
                    let status = review.status.unwrap_or_default();
                    if !status.allowed {
                        let mut text = permission.describe(&self.namespace);
                        if let Some(reason) = status.reason.filter(|r| !r.is_empty()) {
                            text.push_str(&format!(" ({reason})"));
                        }
                        denied.push(text);
                    }
                }
                Err(e) => return api_failure(&e),
            }
        }
        if let Some(first) = denied.first() {
            let first_plain = first.split(" (").next().unwrap_or(first);
            return Finding::fail(
                format!(
                    "{} missing: {}",
                    plural(denied.len(), "permission"),
                    join_limited(&denied, 8)
                ),
                format!(
                    "install needs cluster-admin-like rights; check with `kubectl auth can-i {}` and ask an administrator for a role that grants them",
                    can_i(first_plain)
                ),
            )
            .permanent();
        }
        Finding::pass(format!(
            "all {} permissions install needs are granted",
            wanted.len()
        ))
    }
}

/// `patch secrets in ns` → `patch secrets -n ns` (kubectl auth can-i syntax).
fn can_i(described: &str) -> String {
    match described.split_once(" in ") {
        Some((what, ns)) => format!("{what} -n {ns}"),
        None => described.to_string(),
    }
}

impl Check for Permissions {
    fn spec(&self) -> &CheckSpec {
        &self.spec
    }
    fn run(&self, _attempt: u32) -> BoxFuture<'_, Finding> {
        self.evaluate().boxed()
    }
}

pub struct NoConflictingInstall {
    spec: CheckSpec,
    cluster: Arc<ClusterAccess>,
    namespace: String,
}

impl NoConflictingInstall {
    pub fn new(
        category: impl Into<String>,
        cluster: Arc<ClusterAccess>,
        namespace: impl Into<String>,
    ) -> Self {
        Self {
            spec: CheckSpec::new(
                "no-conflicting-install",
                category,
                "no other installation is in the way",
                Severity::Error,
            )
            .depends_on(&["kubernetes-api"]),
            cluster,
            namespace: namespace.into(),
        }
    }

    async fn evaluate(&self, attempt: u32) -> Finding {
        let (labelled, server) = tokio::join!(
            self.cluster
                .list_all::<Deployment>(Some(PART_OF_SELECTOR), attempt),
            self.cluster
                .get_namespaced::<Deployment>(&self.namespace, MGMT_SERVER, attempt),
        );
        let labelled = match labelled {
            Ok(l) => l,
            Err(e) => return api_failure(&e),
        };
        let server = match server {
            Ok(s) => s,
            Err(e) => return api_failure(&e),
        };
        conflicts(
            &self.namespace,
            &labelled,
            server.as_deref(),
            crate::version::VERSION,
        )
    }
}

impl Check for NoConflictingInstall {
    fn spec(&self) -> &CheckSpec {
        &self.spec
    }
    fn run(&self, attempt: u32) -> BoxFuture<'_, Finding> {
        self.evaluate(attempt).boxed()
    }
}

fn label<'a>(d: &'a Deployment, key: &str) -> Option<&'a str> {
    d.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(key))
        .map(String::as_str)
}

/// Finds what would fight with an install of `version` into `namespace`: meshctl Deployments of
/// another version or in another namespace, and a `mesh-mgmt-server` not managed by meshctl.
pub fn conflicts(
    namespace: &str,
    labelled: &[Deployment],
    server: Option<&Deployment>,
    version: &str,
) -> Finding {
    let mut problems = Vec::new();
    let mut upgrade = false;
    for d in labelled {
        let ns = d.metadata.namespace.as_deref().unwrap_or("");
        let name = d.metadata.name.as_deref().unwrap_or("");
        let theirs = label(d, VERSION_LABEL).unwrap_or("unknown");
        if ns != namespace {
            problems.push(format!(
                "Deployment {ns}/{name} belongs to another meshctl installation (namespace {ns}, {VERSION_LABEL}={theirs})"
            ));
        } else if theirs != version {
            upgrade = true;
            problems.push(format!(
                "Deployment {ns}/{name} is meshctl {theirs} (label {VERSION_LABEL}), not {version}"
            ));
        }
    }
    if let Some(d) = server {
        let managed_by = label(d, MANAGED_BY_LABEL);
        if managed_by != Some("meshctl") {
            problems.push(format!(
                "Deployment {namespace}/{MGMT_SERVER} exists but is not managed by meshctl (label {MANAGED_BY_LABEL}={})",
                managed_by.unwrap_or("<unset>")
            ));
        }
    }
    if problems.is_empty() {
        let here = labelled.len();
        if here > 0 {
            return Finding::pass(format!(
                "meshctl {version} is already installed in {namespace}; install re-applies it"
            ));
        }
        return Finding::pass(format!(
            "no other installation found (namespace {namespace} is free)"
        ));
    }
    let hint = if upgrade && problems.len() == 1 {
        format!("use `meshctl upgrade` to move the installation in {namespace} to {version}")
    } else {
        "remove the other installation (`meshctl uninstall -n NAMESPACE` with its version, or the tool that manages it), or install into another namespace with -n".to_string()
    };
    Finding::fail(join_limited(&problems, 5), hint)
}

pub struct LoadBalancer {
    spec: CheckSpec,
    cluster: Arc<ClusterAccess>,
}

impl LoadBalancer {
    pub fn new(category: impl Into<String>, cluster: Arc<ClusterAccess>) -> Self {
        Self {
            spec: CheckSpec::new(
                "load-balancer",
                category,
                "Services of type LoadBalancer can get an address",
                Severity::Warning,
            )
            .depends_on(&["kubernetes-api"]),
            cluster,
        }
    }
}

impl Check for LoadBalancer {
    fn spec(&self) -> &CheckSpec {
        &self.spec
    }
    fn run(&self, attempt: u32) -> BoxFuture<'_, Finding> {
        async move {
            match self.cluster.list_all::<Node>(None, attempt).await {
                Ok(nodes) => load_balancer(&nodes),
                Err(ApiError::Forbidden { .. }) => Finding::warn(
                    "cannot list nodes, so cannot guess whether LoadBalancer Services get an address",
                    NODE_PORT_HINT,
                ),
                Err(e) => api_failure(&e),
            }
        }
        .boxed()
    }
}

const NODE_PORT_HINT: &str = "the relay Service mesh-mgmt-server (port 9900) is of type LoadBalancer: without a cloud provider or a load-balancer controller (e.g. MetalLB) it stays <pending>; then install with --set relay.service.type=NodePort and give agents a reachable address";

/// A guess from the nodes' `spec.providerID`: the API server cannot tell whether a
/// load-balancer controller runs, so the finding explains instead of asserting.
pub fn load_balancer(nodes: &[Node]) -> Finding {
    if nodes.is_empty() {
        return Finding::warn(
            "the cluster has no nodes: cannot tell whether LoadBalancer Services get an address",
            NODE_PORT_HINT,
        );
    }
    let providers: Vec<String> = nodes
        .iter()
        .filter_map(|n| n.spec.as_ref().and_then(|s| s.provider_id.clone()))
        .filter_map(|id| id.split_once("://").map(|(p, _)| p.to_string()))
        .collect();
    let cloud = [
        "aws",
        "gce",
        "azure",
        "digitalocean",
        "oci",
        "ibm",
        "alicloud",
        "hcloud",
        "linode",
        "vsphere",
        "openstack",
    ];
    if let Some(p) = providers.iter().find(|p| cloud.contains(&p.as_str())) {
        return Finding::pass(format!(
            "nodes run on cloud provider '{p}' (spec.providerID), which usually provisions LoadBalancer Services"
        ));
    }
    let what = providers
        .first()
        .map(|p| format!("nodes report provider '{p}' (spec.providerID)"))
        .unwrap_or_else(|| {
            format!(
                "{} without spec.providerID (no cloud provider)",
                plural(nodes.len(), "node")
            )
        });
    Finding::warn(
        format!("{what}: LoadBalancer Services need a load-balancer controller here"),
        NODE_PORT_HINT,
    )
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::check::model::Verdict;
    use crate::check::testing::{MockApi, list, status};

    fn deployment(ns: &str, name: &str, labels: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"selector": {}, "template": {}}})
    }

    fn ours(ns: &str, version: &str) -> Value {
        deployment(
            ns,
            MGMT_SERVER,
            json!({"app.kubernetes.io/part-of": "meshctl",
            "app.kubernetes.io/managed-by": "meshctl", "meshctl.dev/version": version}),
        )
    }

    #[tokio::test]
    async fn one_review_per_verb_and_resource_and_denials_are_named() {
        let api = MockApi::start(|method, path, body| {
            assert_eq!(
                (method, path),
                (
                    "POST",
                    "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
                )
            );
            let attrs = &body["spec"]["resourceAttributes"];
            let denied = attrs["resource"] == "secrets" && attrs["verb"] == "patch";
            if attrs["resource"] == "secrets" {
                assert_eq!(attrs["namespace"], "mesh-system");
            }
            if attrs["resource"] == "namespaces" {
                assert!(attrs.get("namespace").is_none());
            }
            let mut answer = body.clone();
            answer["status"] = json!({"allowed": !denied, "reason": if denied {"no RBAC policy matched"} else {""}});
            (201, answer)
        });
        let f = Permissions::new("permissions", Arc::new(api.cluster()), "mesh-system")
            .run(0)
            .await;
        assert_eq!(api.requests().len(), 16);
        assert_eq!(f.verdict, Verdict::Fail);
        assert_eq!(
            f.message,
            "1 permission missing: patch secrets in mesh-system (no RBAC policy matched)"
        );
        assert!(
            f.hint
                .unwrap()
                .contains("kubectl auth can-i patch secrets -n mesh-system")
        );
    }

    #[tokio::test]
    async fn all_allowed_passes() {
        let api = MockApi::start(|_, _, body| {
            let mut answer = body.clone();
            answer["status"] = json!({"allowed": true});
            (201, answer)
        });
        let f = Permissions::new("permissions", Arc::new(api.cluster()), "mesh-system")
            .run(0)
            .await;
        assert_eq!(f.verdict, Verdict::Pass, "{f:?}");
    }

    fn serve_conflicts(labelled: Vec<Value>, server: Option<Value>) -> MockApi {
        MockApi::start(move |method, path, _| {
            assert_eq!(method, "GET");
            match path {
                "/apis/apps/v1/deployments?labelSelector=app.kubernetes.io%2Fpart-of%3Dmeshctl" => {
                    (200, list("DeploymentList", labelled.clone()))
                }
                "/apis/apps/v1/namespaces/mesh-system/deployments/mesh-mgmt-server" => {
                    match &server {
                        Some(s) => (200, s.clone()),
                        None => (404, status(404, "NotFound", "not found")),
                    }
                }
                other => panic!("unexpected {other}"),
            }
        })
    }

    #[tokio::test]
    async fn conflicts_are_found() {
        let v = crate::version::VERSION;
        let api = serve_conflicts(vec![], None);
        let f = NoConflictingInstall::new("conflicts", Arc::new(api.cluster()), "mesh-system")
            .run(0)
            .await;
        assert_eq!(f.verdict, Verdict::Pass, "{f:?}");
        assert_eq!(api.requests().len(), 2);

        let api = serve_conflicts(vec![ours("mesh-system", v)], Some(ours("mesh-system", v)));
        let f = NoConflictingInstall::new("conflicts", Arc::new(api.cluster()), "mesh-system")
            .run(0)
            .await;
        assert_eq!(f.verdict, Verdict::Pass, "{f:?}");

        let api = serve_conflicts(
            vec![ours("mesh-system", "0.0.1")],
            Some(ours("mesh-system", "0.0.1")),
        );
        let f = NoConflictingInstall::new("conflicts", Arc::new(api.cluster()), "mesh-system")
            .run(0)
            .await;
        assert_eq!(f.verdict, Verdict::Fail);
        assert!(f.hint.unwrap().contains("meshctl upgrade"));

        let helm = deployment(
            "mesh-system",
            MGMT_SERVER,
            json!({"app.kubernetes.io/managed-by": "Helm"}),
        );
        let api = serve_conflicts(vec![ours("other", v)], Some(helm));
        let f = NoConflictingInstall::new("conflicts", Arc::new(api.cluster()), "mesh-system")
            .run(0)
            .await;
        assert_eq!(f.verdict, Verdict::Fail);
        assert_eq!(
            f.message,
            format!(
                "Deployment other/mesh-mgmt-server belongs to another meshctl installation (namespace other, meshctl.dev/version={v}), Deployment mesh-system/mesh-mgmt-server exists but is not managed by meshctl (label app.kubernetes.io/managed-by=Helm)"
            )
        );
    }

    #[tokio::test]
    async fn load_balancer_guesses_from_nodes() {
        let api = MockApi::start(|_, path, _| {
            assert_eq!(path, "/api/v1/nodes");
            (200, list("NodeList", vec![]))
        });
        let f = LoadBalancer::new("load-balancer", Arc::new(api.cluster()))
            .run(0)
            .await;
        assert_eq!(f.verdict, Verdict::Warn);
        assert!(f.message.starts_with("the cluster has no nodes"));

        let node = |provider: Option<&str>| -> Node {
            serde_json::from_value(
                json!({"metadata": {"name": "n"}, "spec": {"providerID": provider}}),
            )
            .unwrap()
        };
        assert_eq!(
            load_balancer(&[node(Some("aws:///eu-west-1a/i-123"))]).verdict,
            Verdict::Pass
        );
        let f = load_balancer(&[node(Some("kind://docker/kind/kind-control-plane"))]);
        assert_eq!(f.verdict, Verdict::Warn);
        assert!(f.message.contains("provider 'kind'"));
        assert_eq!(load_balancer(&[node(None)]).verdict, Verdict::Warn);
    }
}
