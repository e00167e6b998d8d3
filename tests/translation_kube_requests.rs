//! Kubernetes mode of the translation at the request level (tower_test mock API server): the six
//! kinds are listed and watched in the install namespace, and a translated input's status is
//! merge-patched on its status subresource, once.
#![allow(clippy::unwrap_used)]

use http::{Request, Response};
use kube::client::Body;
use meshctl::server::config_source::ConfigSource;
use meshctl::server::platform_kube::{KubePlatformSource, StatusLedger, StatusWriter};
use meshctl::server::platform_source::PLATFORM;
use meshctl::server::store::{MemoryStateStore, StateStore};
use meshctl::server::translation::{TranslatingConfigSource, TranslationSettings};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tower_test::mock;

fn ok(value: &Value) -> Response<Body> {
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(value).unwrap()))
        .unwrap()
}

fn items_for(plural: &str) -> (&'static str, Vec<Value>) {
    match plural {
        "virtualdestinations" => (
            "networking.meshctl.dev/v1alpha1",
            vec![
                json!({"apiVersion": "networking.meshctl.dev/v1alpha1", "kind": "VirtualDestination",
                "metadata": {"name": "reviews", "namespace": "mesh-system", "generation": 4, "resourceVersion": "7"},
                "spec": {"hosts": ["reviews.global"], "ports": [{"number": 9080}], "services": [{"labels": {"app": "reviews"}}]}}),
            ],
        ),
        "workspaces" | "kubernetesclusters" => ("admin.meshctl.dev/v1alpha1", vec![]),
        "accesspolicies" => ("security.meshctl.dev/v1alpha1", vec![]),
        _ => ("networking.meshctl.dev/v1alpha1", vec![]),
    }
}

#[derive(Debug, Clone)]
struct Patch {
    path: String,
    content_type: String,
    body: Value,
}

#[tokio::test]
async fn platform_resources_are_watched_and_statuses_patched_once() {
    let (service, mut handle) = mock::pair::<Request<Body>, Response<Body>>();
    let (patch_tx, mut patches) = mpsc::channel::<Patch>(16);
    let listed = Arc::new(Mutex::new(Vec::<String>::new()));
    let listed_by_server = listed.clone();
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Some((request, send)) = handle.next_request().await {
            let (parts, body) = request.into_parts();
            let path = parts.uri.path().to_owned();
            let query = parts.uri.query().unwrap_or_default().to_owned();
            if parts.method == "PATCH" {
                let bytes = body.collect_bytes().await.unwrap();
                let body: Value = serde_json::from_slice(&bytes).unwrap();
                let content_type = parts
                    .headers
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                patch_tx
                    .send(Patch {
                        path,
                        content_type,
                        body: body.clone(),
                    })
                    .await
                    .unwrap();
                send.send_response(ok(&json!({"apiVersion": "networking.meshctl.dev/v1alpha1",
                    "kind": "VirtualDestination", "metadata": {"name": "reviews", "namespace": "mesh-system"},
                    "status": body["status"]})));
                continue;
            }
            if query.contains("watch=true") {
                held.push(send);
                continue;
            }
            let plural = path.rsplit('/').next().unwrap().to_owned();
            assert!(
                path.contains("/namespaces/mesh-system/"),
                "listed outside the install namespace: {path}"
            );
            listed_by_server.lock().unwrap().push(plural.clone());
            let (api_version, items) = items_for(&plural);
            send.send_response(ok(&json!({"apiVersion": api_version, "kind": "List",
                "metadata": {"resourceVersion": "7"}, "items": items})));
        }
    });
    let client = kube::Client::new(service, "default");
    let cancel = CancellationToken::new();
    let translation = TranslatingConfigSource::new(TranslationSettings {
        wait_for: vec![PLATFORM],
        ..TranslationSettings::default()
    });
    let memory: Arc<dyn StateStore> = Arc::new(MemoryStateStore::new());
    let main = translation.start(memory, cancel.clone()).unwrap();
    let ledger = Arc::new(Mutex::new(StatusLedger::default()));
    let watchers = tokio::spawn(
        KubePlatformSource {
            client: client.clone(),
            namespace: Some("mesh-system".into()),
            ledger: ledger.clone(),
        }
        .run(translation.events(), cancel.clone()),
    );
    let writer = tokio::spawn(
        StatusWriter {
            client,
            source: translation.clone(),
            ledger,
        }
        .run(cancel.clone()),
    );

    let patch = tokio::time::timeout(Duration::from_secs(20), patches.recv())
        .await
        .expect("no status patch")
        .unwrap();
    assert_eq!(
        patch.path,
        "/apis/networking.meshctl.dev/v1alpha1/namespaces/mesh-system/virtualdestinations/reviews/status"
    );
    assert_eq!(patch.content_type, "application/merge-patch+json");
    let status = &patch.body["status"];
    // No license was given: UNLICENSED, for generation 4.
    assert_eq!(status["state"], "UNLICENSED", "{status}");
    assert_eq!(status["observedGeneration"], 4);
    assert!(status["message"].as_str().unwrap().contains("Mesh"));
    assert!(translation.is_ready());
    let mut kinds = listed.lock().unwrap().clone();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "accesspolicies",
            "kubernetesclusters",
            "routetables",
            "virtualdestinations",
            "virtualgateways",
            "workspaces"
        ]
    );
    // The status is not written again while it stays the same.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), patches.recv())
            .await
            .is_err(),
        "status patched twice"
    );
    cancel.cancel();
    main.await.unwrap();
    watchers.await.unwrap();
    writer.await.unwrap();
    server.abort();
}
