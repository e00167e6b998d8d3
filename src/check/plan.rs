//! Which checks a run has: the default (post-install) set, the `--pre` set, and the agent checks
//! of each `--remote-context`, in report order.

use std::sync::Arc;

use jiff::Timestamp;

use super::checks::agent::{Agent, AgentCheck};
use super::checks::category;
use super::checks::config::Config;
use super::checks::crds::Crds;
use super::checks::install::{Install, InstallCheck};
use super::checks::kubernetes::{KubernetesApi, KubernetesVersion};
use super::checks::license::License;
use super::checks::pre::{LoadBalancer, NoConflictingInstall, Permissions};
use super::checks::relay::{Relay, RelayCheck};
use super::cluster::ClusterAccess;
use super::engine::{Check, Plan, PlanError};
use super::license_source::LicenseSource;
use super::relay_source::{RelayStatusSource, SharedRelayStatus};

/// Where the relay checks read the management server's cluster list.
pub struct RelayInput {
    pub source: Arc<dyn RelayStatusSource>,
    /// The source goes through the Kubernetes API (service proxy): the relay checks then depend
    /// on `kubernetes-api`.
    pub via_kubernetes_api: bool,
}

/// Where the license check reads the installed license.
pub struct LicenseInput {
    pub source: Arc<dyn LicenseSource>,
    /// The source reads the cluster (the Secret): the check then depends on `kubernetes-api`.
    pub via_kubernetes_api: bool,
}

/// Everything a post-install run reads.
pub struct PostInstall {
    pub namespace: String,
    pub cluster: Arc<ClusterAccess>,
    pub relay: RelayInput,
    /// `None` leaves the license check out (no verifier available in this build).
    pub license: Option<LicenseInput>,
    /// One entry per `--remote-context`; each cluster's label is its context name.
    pub remotes: Vec<Arc<ClusterAccess>>,
    /// Namespace of the agent on every remote cluster.
    pub agent_namespace: String,
    pub now: Timestamp,
}

fn api_dependency(via_api: bool) -> &'static [&'static str] {
    if via_api { &["kubernetes-api"] } else { &[] }
}

/// The default checks, in report order.
pub fn post_install(input: PostInstall) -> Result<Plan, PlanError> {
    let c = &input.cluster;
    let ns = input.namespace.as_str();
    let mut checks: Vec<Box<dyn Check>> = vec![
        Box::new(KubernetesApi::new(
            "kubernetes-api",
            category::KUBERNETES_API,
            Arc::clone(c),
        )),
        Box::new(KubernetesVersion::new(
            category::KUBERNETES_VERSION,
            Arc::clone(c),
        )),
        Box::new(Crds::new(category::CRDS, Arc::clone(c))),
    ];
    for which in [
        InstallCheck::Present,
        InstallCheck::Available,
        InstallCheck::Pods,
        InstallCheck::Images,
    ] {
        checks.push(Box::new(Install::new(
            which,
            category::INSTALL,
            Arc::clone(c),
            ns,
        )));
    }
    if let Some(license) = input.license {
        checks.push(Box::new(License::new(
            category::LICENSE,
            license.source,
            api_dependency(license.via_kubernetes_api),
            input.now,
        )));
    }
    let relay = Arc::new(SharedRelayStatus::new(input.relay.source));
    for which in [
        RelayCheck::Admin,
        RelayCheck::Connected,
        RelayCheck::SnapshotAge,
        RelayCheck::CertExpiry,
        RelayCheck::VersionSkew,
    ] {
        let mut check = Relay::new(
            which,
            category::RELAY,
            Arc::clone(&relay),
            api_dependency(input.relay.via_kubernetes_api),
            input.now,
        );
        if which == RelayCheck::Connected {
            check = check.with_registrations(Arc::clone(c), ns);
        }
        checks.push(Box::new(check));
    }
    checks.push(Box::new(Config::new(category::CONFIG, Arc::clone(c), ns)));
    for remote in &input.remotes {
        let cat = category::agent(remote.label());
        checks.push(Box::new(KubernetesApi::new(
            "agent-kubernetes-api",
            cat.clone(),
            Arc::clone(remote),
        )));
        for which in [
            AgentCheck::Deployment,
            AgentCheck::ClientCert,
            AgentCheck::RelayAddress,
        ] {
            checks.push(Box::new(Agent::new(
                which,
                cat.clone(),
                Arc::clone(remote),
                input.agent_namespace.as_str(),
                input.now,
            )));
        }
    }
    Plan::new(checks)
}

/// The `--pre` checks, in report order.
pub fn pre_install(cluster: Arc<ClusterAccess>, namespace: &str) -> Result<Plan, PlanError> {
    let checks: Vec<Box<dyn Check>> = vec![
        Box::new(KubernetesApi::new(
            "kubernetes-api",
            category::KUBERNETES_API,
            Arc::clone(&cluster),
        )),
        Box::new(KubernetesVersion::new(
            category::KUBERNETES_VERSION,
            Arc::clone(&cluster),
        )),
        Box::new(Permissions::new(
            category::PERMISSIONS,
            Arc::clone(&cluster),
            namespace,
        )),
        Box::new(NoConflictingInstall::new(
            category::CONFLICTS,
            Arc::clone(&cluster),
            namespace,
        )),
        Box::new(LoadBalancer::new(category::LOAD_BALANCER, cluster)),
    ];
    Plan::new(checks)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::*;
    use crate::check::engine::RunOptions;
    use crate::check::license_source::{LicenseStatus, LicenseVerifier, SecretLicenseSource};
    use crate::check::model::CheckResult;
    use crate::check::relay_source::ServiceProxySource;
    use crate::check::report::Report;
    use crate::check::testing::{MockApi, empty_list, list, status, version};

    struct AcceptAll;

    impl LicenseVerifier for AcceptAll {
        fn verify(&self, _key: &str) -> Result<LicenseStatus, String> {
            Ok(LicenseStatus {
                licensee: "Acme".into(),
                license_type: "enterprise".into(),
                products: vec!["mesh".into()],
                expires_at: "2030-01-01T00:00:00Z".parse().unwrap(),
            })
        }
    }

    fn healthy_cluster() -> impl Fn(&str, &str, &Value) -> (u16, Value) + Send + Sync + 'static {
        let v = crate::version::VERSION.to_string();
        let crds: Vec<Value> = crate::api::crds::all()
            .into_iter()
            .map(|crd| {
                let mut c = serde_json::to_value(&crd).unwrap();
                c["status"] = json!({"conditions": [{"type": "Established", "status": "True"}],
                    "acceptedNames": {"kind": "", "plural": ""}});
                c
            })
            .collect();
        move |method, path, _| {
            assert_eq!(method, "GET", "{path}");
            match path {
                "/version" => (200, version("1", "31")),
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions" => {
                    (200, list("CustomResourceDefinitionList", crds.clone()))
                }
                "/apis/apps/v1/namespaces/mesh-system/deployments" => (
                    200,
                    list(
                        "DeploymentList",
                        vec![
                            json!({"metadata": {"name": "mesh-mgmt-server", "generation": 1,
                            "labels": {"app.kubernetes.io/part-of": "meshctl"}},
                            "spec": {"replicas": 1, "selector": {}, "template": {"spec": {"containers": [
                                {"name": "server", "image": format!("ghcr.io/meshctl/meshctl:{v}")}]}}},
                            "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}}),
                        ],
                    ),
                ),
                "/api/v1/namespaces/mesh-system/pods?labelSelector=app.kubernetes.io%2Fpart-of%3Dmeshctl" => {
                    (200, empty_list("PodList"))
                }
                "/api/v1/namespaces/mesh-system/secrets/meshctl-license" => (
                    200,
                    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "meshctl-license"},
                        "data": {"license-key": "a2V5"}}),
                ),
                "/api/v1/namespaces/mesh-system/services/http:mesh-mgmt-server:9091/proxy/api/v1/clusters" => {
                    (200, json!([]))
                }
                p if p.starts_with("/apis/") && p.contains(".meshctl.dev/v1alpha1/") => {
                    (200, empty_list("List"))
                }
                other => (404, status(404, "NotFound", other)),
            }
        }
    }

    /// Runs every check of `plan` once (no waiting) and reports.
    async fn run_once(plan: &Plan, fail_on_warnings: bool) -> Report {
        let run = plan
            .run(RunOptions {
                wait: Duration::ZERO,
                ..RunOptions::default()
            })
            .await;
        Report::new(&run, fail_on_warnings)
    }

    /// The admin API of mesh-system/mesh-mgmt-server through the API server's service proxy.
    fn relay_through_proxy(cluster: &Arc<ClusterAccess>) -> RelayInput {
        RelayInput {
            source: Arc::new(ServiceProxySource::new(
                Arc::clone(cluster),
                "mesh-system",
                "mesh-mgmt-server",
                9091,
            )),
            via_kubernetes_api: true,
        }
    }

    #[tokio::test]
    async fn healthy_install_passes_with_one_request_per_kind() {
        let api = MockApi::start(healthy_cluster());
        let cluster = Arc::new(api.cluster());
        let plan = post_install(PostInstall {
            namespace: "mesh-system".into(),
            cluster: Arc::clone(&cluster),
            relay: relay_through_proxy(&cluster),
            license: Some(LicenseInput {
                source: Arc::new(SecretLicenseSource::new(
                    Arc::clone(&cluster),
                    "mesh-system",
                    Arc::new(AcceptAll),
                )),
                via_kubernetes_api: true,
            }),
            remotes: vec![],
            agent_namespace: "mesh-system".into(),
            now: "2026-11-22T05:00:00Z".parse().unwrap(),
        })
        .unwrap();
        let report = run_once(&plan, true).await;
        for (_, check) in report.checks() {
            assert_eq!(check.result, CheckResult::Passed, "{check:?}");
        }
        assert!(report.success);
        let names: Vec<&str> = report.categories.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "kubernetes-api",
                "kubernetes-version",
                "crds",
                "install",
                "license",
                "relay",
                "config"
            ]
        );
        // Exactly one request per kind (and per well-known object), whatever the number of
        // checks that read it.
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for r in api.requests() {
            *counts.entry(r).or_default() += 1;
        }
        for (request, n) in &counts {
            assert_eq!(*n, 1, "{request} sent {n} times");
        }
        assert_eq!(counts.len(), 12, "{counts:#?}");
    }

    /// `--agent-namespace`: the agent checks of a remote cluster look there, not in the
    /// management namespace.
    #[tokio::test]
    async fn agent_checks_look_in_the_agent_namespace() {
        let mgmt = MockApi::start(healthy_cluster());
        let remote = MockApi::start(|method, path, _| {
            assert_eq!(method, "GET", "{path}");
            match path {
                "/version" => (200, version("1", "31")),
                "/apis/apps/v1/namespaces/agents/deployments" => (
                    200,
                    list(
                        "DeploymentList",
                        vec![json!({"metadata": {"name": "mesh-agent", "generation": 1},
                            "spec": {"replicas": 1, "selector": {}, "template": {"spec": {"containers": [
                                {"name": "agent", "image": "x", "args": ["--relay-address=127.0.0.1:9900"]}]}}},
                            "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}})],
                    ),
                ),
                other => (404, status(404, "NotFound", other)),
            }
        });
        let cluster = Arc::new(mgmt.cluster());
        let plan = post_install(PostInstall {
            namespace: "mesh-system".into(),
            cluster: Arc::clone(&cluster),
            relay: relay_through_proxy(&cluster),
            license: None,
            remotes: vec![Arc::new(remote.cluster())],
            agent_namespace: "agents".into(),
            now: "2026-11-22T05:00:00Z".parse().unwrap(),
        })
        .unwrap();
        let report = run_once(&plan, false).await;
        let checks: BTreeMap<&str, _> = report.checks().map(|(_, c)| (c.id.as_str(), c)).collect();
        for id in [
            "agent-kubernetes-api",
            "agent-deployment",
            "agent-relay-address",
        ] {
            assert_eq!(checks[id].result, CheckResult::Passed, "{:?}", checks[id]);
        }
        assert_eq!(
            checks["agent-deployment"].message,
            "Deployment agents/mesh-agent available"
        );
        let cert = checks["agent-client-cert"];
        assert_eq!(cert.result, CheckResult::Failed);
        assert!(
            cert.message
                .starts_with("Secret agents/relay-client-tls-secret does not exist"),
            "{cert:?}"
        );
        assert!(
            remote
                .requests()
                .iter()
                .all(|r| r == "GET /version" || r.contains("/namespaces/agents/")),
            "{:?}",
            remote.requests()
        );
    }

    /// `meshctl check` where nothing is installed (an empty or missing namespace): a definite
    /// answer, reported at once with the install hint instead of after the whole `--wait`.
    #[tokio::test(start_paused = true)]
    async fn nothing_installed_fails_fast_with_the_install_hint() {
        let api = MockApi::start(|method, path, _| {
            assert_eq!(method, "GET", "{path}");
            match path {
                "/version" => (200, version("1", "31")),
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions" => {
                    (200, empty_list("CustomResourceDefinitionList"))
                }
                "/apis/apps/v1/namespaces/mesh-system/deployments" => {
                    (200, empty_list("DeploymentList"))
                }
                // No Secret, no Service, no CRDs: 404s, as from a real API server.
                other => (404, status(404, "NotFound", other)),
            }
        });
        let cluster = Arc::new(api.cluster());
        let plan = post_install(PostInstall {
            namespace: "mesh-system".into(),
            cluster: Arc::clone(&cluster),
            relay: relay_through_proxy(&cluster),
            license: Some(LicenseInput {
                source: Arc::new(SecretLicenseSource::new(
                    Arc::clone(&cluster),
                    "mesh-system",
                    Arc::new(AcceptAll),
                )),
                via_kubernetes_api: true,
            }),
            remotes: vec![],
            agent_namespace: "mesh-system".into(),
            now: "2026-11-22T05:00:00Z".parse().unwrap(),
        })
        .unwrap();
        let run = plan.run(RunOptions::default()).await;
        assert!(
            run.duration < Duration::from_secs(2),
            "waited {:?} for what waiting cannot change",
            run.duration
        );
        let report = Report::new(&run, false);
        assert!(!report.success);
        let checks: BTreeMap<&str, _> = report.checks().map(|(_, c)| (c.id.as_str(), c)).collect();
        let install = checks["install"];
        assert_eq!(install.result, CheckResult::Failed);
        assert!(
            install
                .hint
                .as_deref()
                .is_some_and(|h| h.contains("meshctl install")),
            "{install:?}"
        );
        for id in ["install-available", "install-pods", "install-images"] {
            assert_eq!(checks[id].result, CheckResult::Skipped, "{id}");
        }
        // Still run and reported (not skipped), each once.
        for id in ["crds", "relay-admin", "config"] {
            assert_eq!(checks[id].result, CheckResult::Failed, "{:?}", checks[id]);
        }
        for record in run.categories.iter().flat_map(|(_, r)| r) {
            assert!(record.attempts <= 1, "{record:?}");
        }
    }

    #[tokio::test]
    async fn unreachable_api_fails_fast_and_skips_the_rest() {
        let api = MockApi::start(|_, _, _| (401, status(401, "Unauthorized", "Unauthorized")));
        let cluster = Arc::new(api.cluster());
        let plan = pre_install(cluster, "mesh-system").unwrap();
        let run = plan.run(RunOptions::default()).await;
        let report = Report::new(&run, false);
        assert!(!report.success);
        let results: Vec<CheckResult> = report.checks().map(|(_, c)| c.result).collect();
        assert_eq!(
            results,
            [
                CheckResult::Failed,
                CheckResult::Skipped,
                CheckResult::Skipped,
                CheckResult::Skipped,
                CheckResult::Skipped
            ]
        );
        // 401 is permanent: one request, no retries for the default 60 s.
        assert_eq!(api.requests(), ["GET /version"]);
    }

    /// Every check id of every plan has its section in docs/troubleshooting.md.
    #[test]
    fn every_check_is_documented() {
        let docs = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/troubleshooting.md"),
        )
        .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let api = MockApi::start(|_, _, _| (404, json!({})));
        let cluster = Arc::new(api.cluster());
        let post = post_install(PostInstall {
            namespace: "ns".into(),
            cluster: Arc::clone(&cluster),
            relay: RelayInput {
                source: Arc::new(ServiceProxySource::new(Arc::clone(&cluster), "ns", "s", 1)),
                via_kubernetes_api: true,
            },
            license: Some(LicenseInput {
                source: Arc::new(SecretLicenseSource::new(
                    Arc::clone(&cluster),
                    "ns",
                    Arc::new(AcceptAll),
                )),
                via_kubernetes_api: true,
            }),
            remotes: vec![Arc::clone(&cluster)],
            agent_namespace: "ns".into(),
            now: Timestamp::UNIX_EPOCH,
        })
        .unwrap();
        let pre = pre_install(cluster, "ns").unwrap();
        let mut missing = Vec::new();
        for id in post.ids().into_iter().chain(pre.ids()) {
            if !docs.contains(&format!("\n## {id}\n")) {
                missing.push(id);
            }
        }
        assert!(
            missing.is_empty(),
            "no `## <id>` section in docs/troubleshooting.md for {missing:?}"
        );
    }
}
