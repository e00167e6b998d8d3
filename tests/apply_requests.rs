//! Request-level tests of server-side apply: a `kube::Client` over `tower_test::mock`, asserting the
//! apply order, the PATCH paths, `fieldManager=meshctl`, the apply content type, and how answers from
//! the API server become created / configured / unchanged and errors.

#![allow(clippy::unwrap_used)] // tests may unwrap

use std::sync::{Arc, Mutex};

use http::{Request, Response, StatusCode};
use kube::client::Body;
use meshctl::kube::apply::{Applier, ApplyAction, ApplyError, ApplyOptions};
use meshctl::manifests::{self, Document, Profile, RenderOptions, ValuesInput, order};
use serde_json::{Value, json};
use tower_test::mock;

#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    query: String,
    content_type: String,
    body: Value,
}

/// How the fake API server answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cluster {
    /// Nothing exists yet.
    Empty,
    /// Everything exists; applying changes nothing.
    Unchanged,
    /// Everything exists; applying changes everything.
    Changed,
    /// Deployments are owned by another field manager.
    DeploymentConflict,
    /// The user may not patch ClusterRoles.
    ForbiddenClusterRoles,
}

fn status(code: u16, reason: &str, message: &str) -> Response<Body> {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": message, "reason": reason, "code": code});
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap())
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap()
}

fn ok(value: &Value) -> Response<Body> {
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(value).unwrap()))
        .unwrap()
}

fn with_rv(mut object: Value, rv: &str) -> Value {
    object["metadata"]["resourceVersion"] = json!(rv);
    object["metadata"]["uid"] = json!("uid-1");
    object
}

fn established(mut crd: Value) -> Value {
    crd["status"] = json!({"conditions": [{"type": "Established", "status": "True"}, {"type": "NamesAccepted", "status": "True"}]});
    with_rv(crd, "1")
}

fn respond(cluster: Cluster, documents: &[Document], request: &Recorded) -> Response<Body> {
    let name = request.path.rsplit('/').next().unwrap_or_default();
    let doc = documents
        .iter()
        .find(|d| request.path.ends_with(&format!("/{}", d.name)));
    match request.method.as_str() {
        "GET" if request.query.contains("fieldSelector") => {
            // The CRD watch: answer the initial list with established CRDs.
            let items: Vec<Value> = documents
                .iter()
                .filter(|d| d.kind == "CustomResourceDefinition" && request.query.contains(&d.name))
                .map(|d| established(d.object.clone()))
                .collect();
            ok(
                &json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinitionList",
                       "metadata": {"resourceVersion": "1"}, "items": items}),
            )
        }
        "GET" => match (cluster, doc) {
            (Cluster::Empty, _) | (_, None) => {
                status(404, "NotFound", &format!("{name} not found"))
            }
            (_, Some(doc)) => ok(&with_rv(doc.object.clone(), "5")),
        },
        "PATCH" => {
            let kind = request.body["kind"].as_str().unwrap_or_default();
            match cluster {
                Cluster::DeploymentConflict if kind == "Deployment" => status(
                    409,
                    "Conflict",
                    "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.replicas",
                ),
                Cluster::ForbiddenClusterRoles if kind == "ClusterRole" => status(
                    403,
                    "Forbidden",
                    "clusterroles.rbac.authorization.k8s.io is forbidden: User \"dev\" cannot patch resource \"clusterroles\"",
                ),
                Cluster::Changed => ok(&with_rv(request.body.clone(), "6")),
                _ => ok(&with_rv(request.body.clone(), "5")),
            }
        }
        other => status(405, "MethodNotAllowed", &format!("unexpected {other}")),
    }
}

fn fake_cluster(
    cluster: Cluster,
    documents: Vec<Document>,
) -> (
    kube::Client,
    Arc<Mutex<Vec<Recorded>>>,
    tokio::task::JoinHandle<()>,
) {
    let (service, mut handle) = mock::pair::<Request<Body>, Response<Body>>();
    let log = Arc::new(Mutex::new(Vec::new()));
    let server_log = log.clone();
    let server = tokio::spawn(async move {
        while let Some((request, send)) = handle.next_request().await {
            let (parts, body) = request.into_parts();
            let bytes = body.collect_bytes().await.unwrap();
            let recorded = Recorded {
                method: parts.method.to_string(),
                path: parts.uri.path().to_owned(),
                query: parts.uri.query().unwrap_or_default().to_owned(),
                content_type: parts
                    .headers
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default(),
                body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            };
            server_log.lock().unwrap().push(recorded.clone());
            send.send_response(respond(cluster, &documents, &recorded));
        }
    });
    (kube::Client::new(service, "default"), log, server)
}

fn documents() -> Vec<Document> {
    manifests::build(
        &ValuesInput::default(),
        &RenderOptions {
            profile: Profile::Mgmt,
            version: "0.0.0-test".to_owned(),
        },
    )
    .unwrap()
}

async fn apply(
    cluster: Cluster,
    options: ApplyOptions,
) -> (
    Result<Vec<meshctl::kube::apply::Applied>, meshctl::kube::apply::ApplyFailure>,
    Vec<Recorded>,
) {
    let docs = documents();
    let (client, log, server) = fake_cluster(cluster, docs.clone());
    let applier = Applier::new(client, options);
    let result = applier.apply_all(&docs, &|_| {}).await;
    drop(applier);
    server.abort();
    let log = log.lock().unwrap().clone();
    (result, log)
}

fn kind_of(request: &Recorded) -> String {
    request.body["kind"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn patches_follow_the_apply_order_and_crds_are_awaited_first() {
    let (result, log) = apply(Cluster::Empty, ApplyOptions::default()).await;
    let applied = result.unwrap();
    assert_eq!(applied.len(), documents().len());
    assert!(
        applied.iter().all(|a| a.action == ApplyAction::Created),
        "{applied:?}"
    );

    let patches: Vec<&Recorded> = log.iter().filter(|r| r.method == "PATCH").collect();
    assert_eq!(patches.len(), documents().len());
    let ranks: Vec<u8> = patches.iter().map(|r| order::rank(&kind_of(r))).collect();
    assert!(
        ranks.windows(2).all(|w| w[0] <= w[1]),
        "out of order: {:?}",
        patches.iter().map(|r| kind_of(r)).collect::<Vec<_>>()
    );

    // The CRD wait (a watch list of CRDs) sits between the last CRD patch and the first other patch.
    let position = |pred: &dyn Fn(&Recorded) -> bool| log.iter().position(pred).unwrap();
    let last_crd_patch = log
        .iter()
        .rposition(|r| r.method == "PATCH" && kind_of(r) == "CustomResourceDefinition")
        .unwrap();
    let first_crd_watch = position(&|r| r.method == "GET" && r.query.contains("fieldSelector"));
    let first_other_patch =
        position(&|r| r.method == "PATCH" && kind_of(r) != "CustomResourceDefinition");
    assert!(last_crd_patch < first_crd_watch && first_crd_watch < first_other_patch);
}

#[tokio::test]
async fn every_patch_is_a_server_side_apply_by_meshctl() {
    let (result, log) = apply(Cluster::Empty, ApplyOptions::default()).await;
    result.unwrap();
    for patch in log.iter().filter(|r| r.method == "PATCH") {
        assert_eq!(
            patch.content_type, "application/apply-patch+yaml",
            "{}",
            patch.path
        );
        assert!(
            patch.query.split('&').any(|p| p == "fieldManager=meshctl"),
            "{}",
            patch.query
        );
        assert!(
            patch
                .query
                .split('&')
                .any(|p| p == "fieldValidation=Strict"),
            "{}",
            patch.query
        );
        assert!(
            !patch.query.contains("force=true"),
            "no force without --force-conflicts: {}",
            patch.query
        );
        assert!(!patch.query.contains("dryRun"), "{}", patch.query);
    }
    let paths: Vec<&str> = log
        .iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| r.path.as_str())
        .collect();
    for expected in [
        "/api/v1/namespaces/mesh-system",
        "/api/v1/namespaces/mesh-system/serviceaccounts/mesh-mgmt-server",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/mesh-system/roles/mesh-mgmt-server",
        "/api/v1/namespaces/mesh-system/services/mesh-mgmt-server",
        "/apis/apps/v1/namespaces/mesh-system/deployments/mesh-mgmt-server",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/kubernetesclusters.admin.meshctl.dev",
    ] {
        assert!(
            paths.contains(&expected),
            "{expected} not patched; got {paths:#?}"
        );
    }
    assert!(
        paths
            .iter()
            .any(|p| p.starts_with("/apis/rbac.authorization.k8s.io/v1/clusterroles/meshctl")),
        "{paths:#?}"
    );
}

#[tokio::test]
async fn force_conflicts_sets_force() {
    let options = ApplyOptions {
        force_conflicts: true,
        ..ApplyOptions::default()
    };
    let (result, log) = apply(Cluster::Empty, options).await;
    result.unwrap();
    assert!(
        log.iter()
            .filter(|r| r.method == "PATCH")
            .all(|r| r.query.split('&').any(|p| p == "force=true"))
    );
}

#[tokio::test]
async fn resource_versions_decide_unchanged_and_configured() {
    let (result, _) = apply(Cluster::Unchanged, ApplyOptions::default()).await;
    assert!(
        result
            .unwrap()
            .iter()
            .all(|a| a.action == ApplyAction::Unchanged)
    );
    let (result, _) = apply(Cluster::Changed, ApplyOptions::default()).await;
    assert!(
        result
            .unwrap()
            .iter()
            .all(|a| a.action == ApplyAction::Configured)
    );
}

#[tokio::test]
async fn a_conflict_is_explained_with_the_force_conflicts_hint_and_nothing_later_is_attempted() {
    let (result, log) = apply(Cluster::DeploymentConflict, ApplyOptions::default()).await;
    let failure = result.unwrap_err();
    assert_eq!(failure.errors.len(), 1);
    assert!(failure.errors[0].is_conflict());
    let text = failure.to_string();
    assert!(
        text.contains(
            "Deployment mesh-system/mesh-mgmt-server: conflict with another field manager"
        ),
        "{text}"
    );
    assert!(text.contains("kubectl-edit"), "{text}");
    assert!(text.contains("--force-conflicts"), "{text}");
    assert!(text.contains("re-run the same command"), "{text}");
    // Everything before the deployments was applied and is listed.
    assert_eq!(failure.applied.len(), documents().len() - 1);
    assert!(
        text.contains("Service mesh-system/mesh-mgmt-server (unchanged)"),
        "{text}"
    );
    assert_eq!(
        log.iter()
            .filter(|r| r.method == "PATCH" && kind_of(r) == "Deployment")
            .count(),
        1
    );
}

#[tokio::test]
async fn missing_permission_names_verb_and_resource_and_stops_before_the_next_rank() {
    let (result, log) = apply(Cluster::ForbiddenClusterRoles, ApplyOptions::default()).await;
    let failure = result.unwrap_err();
    assert!(matches!(
        failure.errors[0],
        ApplyError::Forbidden { verb: "patch", .. }
    ));
    let text = failure.to_string();
    assert!(
        text.contains(
            "permission denied: cannot patch clusterroles.rbac.authorization.k8s.io (cluster-wide)"
        ),
        "{text}"
    );
    assert!(!failure.not_attempted.is_empty());
    assert!(
        failure
            .not_attempted
            .iter()
            .any(|n| n == "Deployment mesh-system/mesh-mgmt-server")
    );
    assert!(!log.iter().any(|r| r.method == "PATCH"
        && ["RoleBinding", "Service", "Deployment"].contains(&kind_of(r).as_str())));
}

#[tokio::test]
async fn waiting_for_a_deployment_reports_why_it_is_not_ready() {
    let (service, mut handle) = mock::pair::<Request<Body>, Response<Body>>();
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Some((request, send)) = handle.next_request().await {
            let query = request.uri().query().unwrap_or_default().to_owned();
            assert_eq!(
                request.uri().path(),
                "/apis/apps/v1/namespaces/mesh-system/deployments"
            );
            assert!(
                query.contains("fieldSelector=metadata.name%3Dmesh-mgmt-server"),
                "{query}"
            );
            if query.contains("watch=true") {
                // Keep the watch open and silent: the deployment never becomes ready.
                held.push(send);
                continue;
            }
            let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "mesh-mgmt-server", "namespace": "mesh-system", "generation": 1, "resourceVersion": "3"},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                         "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}},
                "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 0,
                           "conditions": [{"type": "Available", "status": "False", "message": "Deployment does not have minimum availability."}]}});
            send.send_response(ok(
                &json!({"apiVersion": "apps/v1", "kind": "DeploymentList",
                "metadata": {"resourceVersion": "3"}, "items": [deployment]}),
            ));
        }
    });
    let client = kube::Client::new(service, "default");
    let errors = meshctl::kube::wait::deployments_available(
        &client,
        &[("mesh-system".to_owned(), "mesh-mgmt-server".to_owned())],
        std::time::Duration::from_millis(300),
    )
    .await;
    server.abort();
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].to_string(),
        "Deployment mesh-system/mesh-mgmt-server not ready after 300ms: 0/1 replicas available, 1/1 updated; Available: Deployment does not have minimum availability."
    );
}

#[tokio::test]
async fn waiting_without_permission_to_watch_fails_at_once_naming_the_object() {
    let (service, mut handle) = mock::pair::<Request<Body>, Response<Body>>();
    let server = tokio::spawn(async move {
        while let Some((_, send)) = handle.next_request().await {
            send.send_response(status(
                403,
                "Forbidden",
                "deployments.apps is forbidden: User \"dev\" cannot list resource \"deployments\"",
            ));
        }
    });
    let client = kube::Client::new(service, "default");
    let errors = meshctl::kube::wait::deployments_available(
        &client,
        &[("mesh-system".to_owned(), "mesh-agent".to_owned())],
        std::time::Duration::from_secs(600),
    )
    .await;
    server.abort();
    assert_eq!(errors.len(), 1);
    let text = errors[0].to_string();
    assert!(
        text.starts_with("cannot watch Deployment mesh-system/mesh-agent:"),
        "{text}"
    );
    assert!(text.contains("forbidden"), "{text}");
}
