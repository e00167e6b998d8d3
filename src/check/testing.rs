//! Request-level test support: a `kube::Client` over `tower_test::mock`, answered by a function
//! of (method, path?query, body), recording every request.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use kube::client::Body;
use serde_json::{Value, json};

use super::cluster::ClusterAccess;

type Responder = dyn Fn(&str, &str, &Value) -> (u16, Value) + Send + Sync;

/// A fake API server. Dropping it stops its task.
pub struct MockApi {
    client: kube::Client,
    requests: Arc<Mutex<Vec<String>>>,
    bodies: Arc<Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `path` plus `?query` when there is a query, without kube's leading `&`.
fn target(uri: &http::Uri) -> String {
    match uri.query().map(|q| q.trim_start_matches('&')) {
        Some(q) if !q.is_empty() => format!("{}?{q}", uri.path()),
        _ => uri.path().to_string(),
    }
}

impl MockApi {
    /// Answers every request with `respond(method, path?query, json body or null)`.
    pub fn start(
        respond: impl Fn(&str, &str, &Value) -> (u16, Value) + Send + Sync + 'static,
    ) -> Self {
        Self::serve(Arc::new(respond), false)
    }

    /// Like [`MockApi::start`], but requests with `watch=true` are recorded and held
    /// open without an answer (a watch on which nothing happens), for watcher tests.
    pub fn start_holding_watches(
        respond: impl Fn(&str, &str, &Value) -> (u16, Value) + Send + Sync + 'static,
    ) -> Self {
        Self::serve(Arc::new(respond), true)
    }

    fn serve(respond: Arc<Responder>, hold_watches: bool) -> Self {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        let body_log = Arc::clone(&bodies);
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Some((request, send)) = handle.next_request().await {
                let method = request.method().to_string();
                let target = target(request.uri());
                log.lock().unwrap().push(format!("{method} {target}"));
                if hold_watches && target.contains("watch=true") {
                    held.push(send);
                    continue;
                }
                let bytes = request.into_body().collect_bytes().await.unwrap();
                let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                body_log.lock().unwrap().push(body.clone());
                let (status, reply) = respond(&method, &target, &body);
                let (content_type, bytes) = match reply.get(TEXT_REPLY).and_then(Value::as_str) {
                    Some(text) => ("text/plain", text.as_bytes().to_vec()),
                    None => ("application/json", serde_json::to_vec(&reply).unwrap()),
                };
                let response = Response::builder()
                    .status(status)
                    .header("content-type", content_type)
                    .body(Body::from(bytes))
                    .unwrap();
                send.send_response(response);
            }
        });
        Self {
            client: kube::Client::new(service, "default"),
            requests,
            bodies,
            task,
        }
    }

    /// A server that never answers (for timeouts).
    pub fn silent() -> Self {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Some((request, send)) = handle.next_request().await {
                log.lock()
                    .unwrap()
                    .push(format!("{} {}", request.method(), target(request.uri())));
                held.push(send);
            }
        });
        Self {
            client: kube::Client::new(service, "default"),
            requests,
            bodies: Arc::default(),
            task,
        }
    }

    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// A cluster over this server with a 5 s call timeout.
    pub fn cluster(&self) -> ClusterAccess {
        ClusterAccess::new("test", Ok(self.client()), Duration::from_secs(5))
    }

    /// Every request so far, as `METHOD path?query`.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// Every request so far with its JSON body (`null` when it had none), in order.
    pub fn calls(&self) -> Vec<(String, Value)> {
        let requests = self.requests();
        let bodies = self.bodies.lock().unwrap().clone();
        requests.into_iter().zip(bodies).collect()
    }
}

/// Key of the reply [`text`] makes.
const TEXT_REPLY: &str = "$mock-text-reply";

/// A reply sent as plain text (e.g. pod logs) rather than JSON.
pub fn text(body: &str) -> Value {
    json!({ TEXT_REPLY: body })
}

/// An empty `<kind>` list.
pub fn empty_list(kind: &str) -> Value {
    list(kind, vec![])
}

/// A `<kind>` list of `items`.
pub fn list(kind: &str, items: Vec<Value>) -> Value {
    json!({"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items})
}

/// A Kubernetes `Status` error body.
pub fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason, "message": message})
}

/// The `/version` body of a server at `major.minor`.
pub fn version(major: &str, minor: &str) -> Value {
    json!({
        "major": major, "minor": minor, "gitVersion": format!("v{major}.{minor}.2"),
        "gitCommit": "abc", "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64"
    })
}
