//! `config`: every platform resource was translated: `status.state` is ACCEPTED and
//! `status.observedGeneration` equals `metadata.generation`. One LIST per kind in the install
//! namespace (the installed server watches and writes statuses there only: `--kubernetes`
//! without `--all-namespaces`); INVALID and UNLICENSED resources are listed with their messages.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::{BoxFuture, join_all};
use kube::api::{ApiResource, DynamicObject};

use super::{api_failure, join_limited, plural};
use crate::api::{AccessPolicy, RouteTable, VirtualDestination, VirtualGateway, Workspace};
use crate::check::cluster::{ApiError, ClusterAccess};
use crate::check::engine::Check;
use crate::check::model::{CheckSpec, Finding, Severity};

/// The kinds whose status the management server writes (KubernetesCluster carries relay state
/// instead and is covered by the relay checks).
pub fn translated_kinds() -> Vec<ApiResource> {
    vec![
        ApiResource::erase::<Workspace>(&()),
        ApiResource::erase::<VirtualDestination>(&()),
        ApiResource::erase::<RouteTable>(&()),
        ApiResource::erase::<VirtualGateway>(&()),
        ApiResource::erase::<AccessPolicy>(&()),
    ]
}

pub struct Config {
    spec: CheckSpec,
    cluster: Arc<ClusterAccess>,
    namespace: String,
    kinds: Vec<ApiResource>,
}

impl Config {
    pub fn new(
        category: impl Into<String>,
        cluster: Arc<ClusterAccess>,
        namespace: impl Into<String>,
    ) -> Self {
        Self {
            spec: CheckSpec::new(
                "config",
                category,
                "every platform resource is ACCEPTED and current",
                Severity::Error,
            )
            .depends_on(&["kubernetes-api"])
            .retryable()
            // Without an installation no server translates the resources.
            .retry_while(&["install"]),
            cluster,
            namespace: namespace.into(),
            kinds: translated_kinds(),
        }
    }

    async fn evaluate(&self, attempt: u32) -> Finding {
        let lists = join_all(self.kinds.iter().map(|kind| {
            self.cluster
                .list_dynamic_namespaced(kind, &self.namespace, attempt)
        }))
        .await;
        let mut per_kind = Vec::new();
        for (kind, list) in self.kinds.iter().zip(lists) {
            match list {
                Ok(objects) => per_kind.push((kind, objects)),
                Err(ApiError::NotFound { .. }) => {
                    return Finding::fail(
                        format!(
                            "kind {} is not served: CRD {}.{} is missing",
                            kind.kind, kind.plural, kind.group
                        ),
                        "see the crds check: install the CRDs with `meshctl install` or `meshctl upgrade`",
                    );
                }
                Err(e) => return api_failure(&e),
            }
        }
        let mut total = 0;
        let mut rejected = Vec::new();
        let mut pending = Vec::new();
        let mut first: Option<(String, String, String)> = None;
        for (kind, objects) in &per_kind {
            for object in objects.iter() {
                total += 1;
                if let Some(problem) = problem(&kind.kind, object) {
                    first.get_or_insert_with(|| {
                        (
                            kind.kind.to_lowercase(),
                            object.metadata.namespace.clone().unwrap_or_default(),
                            object.metadata.name.clone().unwrap_or_default(),
                        )
                    });
                    match problem {
                        Problem::Rejected(text) => rejected.push(text),
                        Problem::Pending(text) => pending.push(text),
                    }
                }
            }
        }
        let hint = |(kind, ns, name): (String, String, String), extra: &str| {
            format!(
                "kubectl -n {ns} get {kind} {name} -o yaml shows status.state and status.message; {extra}"
            )
        };
        if !rejected.is_empty() {
            let count = rejected.len() + pending.len();
            rejected.extend(pending);
            return Finding::fail(
                format!(
                    "{} of {total} not accepted: {}",
                    plural(count, "resource"),
                    join_limited(&rejected, 5)
                ),
                hint(
                    first.unwrap_or_default(),
                    "fix the spec for INVALID, extend the license for UNLICENSED (meshctl license show)",
                ),
            )
            .permanent();
        }
        if !pending.is_empty() {
            return Finding::fail(
                format!(
                    "{} of {total} not processed yet: {}",
                    plural(pending.len(), "resource"),
                    join_limited(&pending, 5)
                ),
                hint(
                    first.unwrap_or_default(),
                    "the management server has not translated them: check the install and relay checks and its logs (kubectl -n mesh-system logs deploy/mesh-mgmt-server)",
                ),
            );
        }
        if total == 0 {
            return Finding::pass("no platform resources yet");
        }
        Finding::pass(format!(
            "{} ACCEPTED and current",
            plural(total, "resource")
        ))
    }
}

impl Check for Config {
    fn spec(&self) -> &CheckSpec {
        &self.spec
    }
    fn run(&self, attempt: u32) -> BoxFuture<'_, Finding> {
        self.evaluate(attempt).boxed()
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Problem {
    /// INVALID or UNLICENSED: waiting will not help.
    Rejected(String),
    /// No status yet, PENDING, or a status for an older generation.
    Pending(String),
}

/// What is wrong with one object's translation status, if anything.
pub fn problem(kind: &str, object: &DynamicObject) -> Option<Problem> {
    let name = format!(
        "{kind} {}/{}",
        object.metadata.namespace.as_deref().unwrap_or(""),
        object.metadata.name.as_deref().unwrap_or("")
    );
    let status = object.data.get("status");
    let state = status
        .and_then(|s| s.get("state"))
        .and_then(|s| s.as_str())
        .unwrap_or("");
    let message = status
        .and_then(|s| s.get("message"))
        .and_then(|s| s.as_str())
        .unwrap_or("");
    let observed = status
        .and_then(|s| s.get("observedGeneration"))
        .and_then(|g| g.as_i64());
    let generation = object.metadata.generation;
    let with_message = |text: String| {
        if message.is_empty() {
            text
        } else {
            format!("{text}: {message}")
        }
    };
    match state {
        "ACCEPTED" => match (observed, generation) {
            (Some(o), Some(g)) if o < g => Some(Problem::Pending(format!(
                "{name} status.observedGeneration {o} < metadata.generation {g}"
            ))),
            (None, Some(g)) => Some(Problem::Pending(format!(
                "{name} status.observedGeneration unset (metadata.generation {g})"
            ))),
            _ => None,
        },
        "INVALID" | "UNLICENSED" => {
            Some(Problem::Rejected(with_message(format!("{name} {state}"))))
        }
        "" => Some(Problem::Pending(format!("{name} has no status.state"))),
        other => Some(Problem::Pending(with_message(format!(
            "{name} status.state {other}"
        )))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::check::model::Verdict;
    use crate::check::testing::{MockApi, empty_list, list, status};

    const PATHS: [&str; 5] = [
        "/apis/admin.meshctl.dev/v1alpha1/namespaces/apps/workspaces",
        "/apis/networking.meshctl.dev/v1alpha1/namespaces/apps/virtualdestinations",
        "/apis/networking.meshctl.dev/v1alpha1/namespaces/apps/routetables",
        "/apis/networking.meshctl.dev/v1alpha1/namespaces/apps/virtualgateways",
        "/apis/security.meshctl.dev/v1alpha1/namespaces/apps/accesspolicies",
    ];

    fn object(kind: &str, name: &str, generation: i64, status: Value) -> Value {
        json!({"apiVersion": "networking.meshctl.dev/v1alpha1", "kind": kind,
               "metadata": {"name": name, "namespace": "apps", "generation": generation},
               "spec": {}, "status": status})
    }

    fn serve(route_tables: Vec<Value>) -> MockApi {
        MockApi::start(move |method, path, _| {
            assert_eq!(method, "GET");
            assert!(PATHS.contains(&path), "unexpected {path}");
            if path.ends_with("/routetables") {
                (200, list("RouteTableList", route_tables.clone()))
            } else {
                (200, empty_list("List"))
            }
        })
    }

    #[tokio::test]
    async fn accepted_resources_pass_with_one_list_per_kind() {
        let api = serve(vec![object(
            "RouteTable",
            "reviews",
            3,
            json!({"state": "ACCEPTED", "observedGeneration": 3}),
        )]);
        let f = Config::new("config", Arc::new(api.cluster()), "apps")
            .run(0)
            .await;
        assert_eq!(f.verdict, Verdict::Pass, "{f:?}");
        assert_eq!(f.message, "1 resource ACCEPTED and current");
        let mut requests = api.requests();
        requests.sort();
        let mut want: Vec<String> = PATHS.iter().map(|p| format!("GET {p}")).collect();
        want.sort();
        assert_eq!(requests, want);
    }

    #[tokio::test]
    async fn invalid_unlicensed_and_stale_are_listed() {
        let api = serve(vec![
            object(
                "RouteTable",
                "a",
                1,
                json!({"state": "INVALID", "message": "host missing", "observedGeneration": 1}),
            ),
            object(
                "RouteTable",
                "b",
                1,
                json!({"state": "UNLICENSED", "message": "product gateway not licensed", "observedGeneration": 1}),
            ),
            object(
                "RouteTable",
                "c",
                4,
                json!({"state": "ACCEPTED", "observedGeneration": 3}),
            ),
        ]);
        let f = Config::new("config", Arc::new(api.cluster()), "apps")
            .run(0)
            .await;
        assert_eq!(f.verdict, Verdict::Fail);
        assert!(f.permanent);
        assert_eq!(
            f.message,
            "3 resources of 3 not accepted: RouteTable apps/a INVALID: host missing, RouteTable apps/b UNLICENSED: product gateway not licensed, RouteTable apps/c status.observedGeneration 3 < metadata.generation 4"
        );
        assert!(
            f.hint
                .unwrap()
                .starts_with("kubectl -n apps get routetable a -o yaml")
        );
    }

    #[tokio::test]
    async fn pending_only_is_retryable() {
        let api = serve(vec![object("RouteTable", "a", 1, json!(null))]);
        let f = Config::new("config", Arc::new(api.cluster()), "apps")
            .run(0)
            .await;
        assert_eq!(f.verdict, Verdict::Fail);
        assert!(!f.permanent);
        assert_eq!(
            f.message,
            "1 resource of 1 not processed yet: RouteTable apps/a has no status.state"
        );
    }

    #[tokio::test]
    async fn a_missing_crd_points_at_crds() {
        let api = MockApi::start(|_, path, _| {
            if path.ends_with("/virtualgateways") {
                (
                    404,
                    status(
                        404,
                        "NotFound",
                        "the server could not find the requested resource",
                    ),
                )
            } else {
                (200, empty_list("List"))
            }
        });
        let f = Config::new("config", Arc::new(api.cluster()), "apps")
            .run(0)
            .await;
        assert_eq!(f.verdict, Verdict::Fail);
        assert_eq!(
            f.message,
            "kind VirtualGateway is not served: CRD virtualgateways.networking.meshctl.dev is missing"
        );
        assert!(f.hint.unwrap().contains("crds"));
    }

    #[tokio::test]
    async fn nothing_yet_passes() {
        let api = serve(vec![]);
        let f = Config::new("config", Arc::new(api.cluster()), "apps")
            .run(0)
            .await;
        assert_eq!(f.verdict, Verdict::Pass);
        assert_eq!(f.message, "no platform resources yet");
    }
}
