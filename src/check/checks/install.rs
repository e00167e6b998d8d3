//! `install`, `install-available`, `install-pods`, `install-images`: the meshctl Deployments in
//! the install namespace exist, are available, their pods are not crash-looping, and their
//! images are this binary's version. One LIST of Deployments and one of Pods, shared.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;

use super::{PART_OF_LABEL, PART_OF_SELECTOR, api_failure, join_limited, plural};
use crate::check::cluster::ClusterAccess;
use crate::check::engine::Check;
use crate::check::model::{CheckSpec, Finding, Severity};
use crate::manifests::image::ImageRef;

/// A container restarted at least this often is reported even when it runs now.
pub const RESTART_WARNING: i32 = 3;

/// Which install check a value of [`Install`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallCheck {
    /// `install`: meshctl Deployments exist (fatal: the others need them).
    Present,
    /// `install-available`: every Deployment has its replicas available.
    Available,
    /// `install-pods`: no pod crash-loops, fails to pull, or cannot be scheduled.
    Pods,
    /// `install-images`: the images are tagged with this binary's version.
    Images,
}

pub struct Install {
    spec: CheckSpec,
    which: InstallCheck,
    cluster: Arc<ClusterAccess>,
    namespace: String,
}

impl Install {
    pub fn new(
        which: InstallCheck,
        category: impl Into<String>,
        cluster: Arc<ClusterAccess>,
        namespace: impl Into<String>,
    ) -> Self {
        let spec = match which {
            InstallCheck::Present => CheckSpec::new(
                "install",
                category,
                "meshctl is installed in the namespace",
                Severity::Fatal,
            )
            .depends_on(&["kubernetes-api"]),
            InstallCheck::Available => CheckSpec::new(
                "install-available",
                category,
                "the meshctl Deployments are available",
                Severity::Error,
            )
            .depends_on(&["install"])
            .retryable(),
            InstallCheck::Pods => CheckSpec::new(
                "install-pods",
                category,
                "the meshctl pods are not crash-looping",
                Severity::Error,
            )
            .depends_on(&["install"])
            .retryable(),
            InstallCheck::Images => CheckSpec::new(
                "install-images",
                category,
                "the meshctl images match this meshctl version",
                Severity::Warning,
            )
            .depends_on(&["install"]),
        };
        Self {
            spec,
            which,
            cluster,
            namespace: namespace.into(),
        }
    }

    async fn evaluate(&self, attempt: u32) -> Finding {
        let deployments = match self
            .cluster
            .list_namespaced::<Deployment>(&self.namespace, None, attempt)
            .await
        {
            Ok(d) => d,
            Err(e) => return api_failure(&e),
        };
        let ours = meshctl_deployments(&deployments);
        match self.which {
            InstallCheck::Present => present(&self.namespace, &ours),
            InstallCheck::Available => available(&self.namespace, &ours),
            InstallCheck::Images => images(&self.namespace, &ours, crate::version::VERSION),
            InstallCheck::Pods => {
                match self
                    .cluster
                    .list_namespaced::<Pod>(&self.namespace, Some(PART_OF_SELECTOR), attempt)
                    .await
                {
                    Ok(pods) => pod_health(&self.namespace, &pods),
                    Err(e) => api_failure(&e),
                }
            }
        }
    }
}

impl Check for Install {
    fn spec(&self) -> &CheckSpec {
        &self.spec
    }
    fn run(&self, attempt: u32) -> BoxFuture<'_, Finding> {
        self.evaluate(attempt).boxed()
    }
}

fn name_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or("<unnamed>")
}

/// The Deployments labelled `app.kubernetes.io/part-of=meshctl`, by name.
pub fn meshctl_deployments(all: &[Deployment]) -> Vec<&Deployment> {
    let mut ours: Vec<&Deployment> = all
        .iter()
        .filter(|d| {
            d.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(PART_OF_LABEL))
                .is_some_and(|v| v == "meshctl")
        })
        .collect();
    ours.sort_by(|a, b| name_of(&a.metadata).cmp(name_of(&b.metadata)));
    ours
}

pub fn present(namespace: &str, ours: &[&Deployment]) -> Finding {
    if ours.is_empty() {
        return Finding::fail(
            format!("no meshctl Deployments (label {PART_OF_SELECTOR}) in namespace {namespace}"),
            format!(
                "install with `meshctl install`, or point at the namespace of the installation with -n (now: {namespace})"
            ),
        );
    }
    let names: Vec<String> = ours
        .iter()
        .map(|d| name_of(&d.metadata).to_string())
        .collect();
    Finding::pass(format!(
        "{} in {namespace}: {}",
        plural(ours.len(), "Deployment"),
        join_limited(&names, 6)
    ))
}

/// Why a Deployment is not available, or `None` when it is.
pub fn unavailable_reason(d: &Deployment) -> Option<String> {
    let wanted = d.spec.replicas.unwrap_or(1);
    let status = d.status.clone().unwrap_or_default();
    let available = status.available_replicas.unwrap_or(0);
    let updated = status.updated_replicas.unwrap_or(0);
    let generation = d.metadata.generation.unwrap_or(0);
    let observed = status.observed_generation.unwrap_or(0);
    if observed < generation {
        return Some(format!(
            "rollout not observed yet (status.observedGeneration {observed} < metadata.generation {generation})"
        ));
    }
    if available < wanted {
        let condition = status
            .conditions
            .unwrap_or_default()
            .into_iter()
            .find(|c| {
                c.type_.as_deref() == Some("Available") && c.status.as_deref() != Some("True")
            })
            .map(|c| {
                format!(
                    "; Available={} {}",
                    c.status.unwrap_or_default(),
                    c.message.or(c.reason).unwrap_or_default()
                )
            })
            .unwrap_or_default();
        return Some(format!(
            "{available} of {wanted} replicas available (status.availableReplicas){condition}"
        ));
    }
    if updated < wanted {
        return Some(format!(
            "rollout in progress: {updated} of {wanted} replicas updated (status.updatedReplicas)"
        ));
    }
    None
}

pub fn available(namespace: &str, ours: &[&Deployment]) -> Finding {
    let problems: Vec<String> = ours
        .iter()
        .filter_map(|d| {
            unavailable_reason(d)
                .map(|why| format!("Deployment {namespace}/{}: {why}", name_of(&d.metadata)))
        })
        .collect();
    if let Some(first) = problems.first() {
        let name = first
            .split(':')
            .next()
            .and_then(|s| s.rsplit('/').next())
            .unwrap_or("");
        return Finding::fail(
            join_limited(&problems, 4),
            format!(
                "kubectl -n {namespace} describe deployment {name} and kubectl -n {namespace} get pods -l {PART_OF_SELECTOR}; install-pods shows crash loops and scheduling problems"
            ),
        );
    }
    Finding::pass(format!("{} available", plural(ours.len(), "Deployment")))
}

/// A problem found in one pod, and whether it is only worth a warning.
fn pod_problems(pod: &Pod) -> Vec<(bool, String)> {
    let name = name_of(&pod.metadata);
    let mut found = Vec::new();
    let status = pod.status.clone().unwrap_or_default();
    if status.phase.as_deref() == Some("Pending")
        && let Some(c) = status.conditions.as_ref().and_then(|cs| {
            cs.iter()
                .find(|c| c.type_ == "PodScheduled" && c.status == "False")
        })
    {
        found.push((
            false,
            format!(
                "pod {name} cannot be scheduled ({}: {})",
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default()
            ),
        ));
    }
    let containers = status
        .init_container_statuses
        .unwrap_or_default()
        .into_iter()
        .chain(status.container_statuses.unwrap_or_default());
    for c in containers {
        let waiting = c
            .state
            .as_ref()
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| w.reason.clone());
        let last = c
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .map(|t| {
                let reason = t.reason.clone().unwrap_or_else(|| "Error".into());
                format!(", last exit {} ({reason})", t.exit_code)
            })
            .unwrap_or_default();
        match waiting.as_deref() {
            Some(
                reason @ ("CrashLoopBackOff" | "ImagePullBackOff" | "ErrImagePull"
                | "CreateContainerConfigError" | "InvalidImageName" | "RunContainerError"),
            ) => found.push((
                false,
                format!(
                    "pod {name} container {}: {reason}, {} restarts (status.containerStatuses[].restartCount){last}",
                    c.name,
                    c.restart_count
                ),
            )),
            _ if c.restart_count >= RESTART_WARNING => found.push((
                true,
                format!(
                    "pod {name} container {} restarted {} times{last}",
                    c.name, c.restart_count
                ),
            )),
            _ => {}
        }
    }
    found
}

pub fn pod_health(namespace: &str, pods: &[Pod]) -> Finding {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut first_pod = None;
    for pod in pods {
        for (warning_only, text) in pod_problems(pod) {
            first_pod.get_or_insert_with(|| name_of(&pod.metadata).to_string());
            if warning_only {
                warnings.push(text);
            } else {
                errors.push(text);
            }
        }
    }
    let hint = |pod: &str| {
        format!(
            "kubectl -n {namespace} describe pod {pod}; kubectl -n {namespace} logs {pod} --previous"
        )
    };
    if !errors.is_empty() {
        errors.extend(warnings);
        return Finding::fail(
            join_limited(&errors, 4),
            hint(first_pod.as_deref().unwrap_or("")),
        );
    }
    if !warnings.is_empty() {
        return Finding::warn(
            join_limited(&warnings, 4),
            hint(first_pod.as_deref().unwrap_or("")),
        );
    }
    if pods.is_empty() {
        return Finding::pass(format!("no pods labelled {PART_OF_SELECTOR} yet"));
    }
    Finding::pass(format!(
        "{} without crash loops or restarts",
        plural(pods.len(), "pod")
    ))
}

/// The tag of an image reference (`None` for digest-only or untagged references); the tag of a
/// digest-pinned `repository:tag@sha256:...` (as `image.digest` renders it) is still its tag.
pub fn image_tag(image: &str) -> Option<&str> {
    ImageRef::parse(image).tag
}

/// Whether `image` is meshctl's own (`<registry>/<path>/meshctl[:tag][@digest]`, a mirror
/// included): only those run this binary and must match its version. The third-party images the
/// chart can add (Redis, Prometheus) have versions of their own.
pub fn is_meshctl_image(image: &str) -> bool {
    ImageRef::parse(image).name() == "meshctl"
}

pub fn images(namespace: &str, ours: &[&Deployment], version: &str) -> Finding {
    let mut mismatched = Vec::new();
    let mut untagged = Vec::new();
    let mut first = None;
    for d in ours {
        let containers = d
            .spec
            .template
            .spec
            .as_ref()
            .map(|s| s.containers.clone())
            .unwrap_or_default();
        for c in containers {
            let image = c.image.unwrap_or_default();
            if !is_meshctl_image(&image) {
                continue;
            }
            let object = format!(
                "Deployment {namespace}/{} container {}",
                name_of(&d.metadata),
                c.name
            );
            match image_tag(&image) {
                Some(tag) if tag.trim_start_matches('v') == version => {}
                Some(tag) => {
                    first.get_or_insert_with(|| name_of(&d.metadata).to_string());
                    mismatched.push(format!("{object}: image {image} (tag {tag})"));
                }
                None => untagged.push(format!("{object}: image {image} has no tag")),
            }
        }
    }
    if !mismatched.is_empty() {
        return Finding::fail(
            format!(
                "images differ from meshctl {version}: {}",
                join_limited(&mismatched, 4)
            ),
            format!(
                "run `meshctl upgrade` with this meshctl to move the installation to {version}, or use the meshctl that matches the installed version (spec.template.spec.containers[].image)"
            ),
        );
    }
    if !untagged.is_empty() {
        return Finding::fail(
            format!(
                "cannot tell the installed version: {}",
                join_limited(&untagged, 4)
            ),
            "images pinned by digest or without a tag cannot be compared with the meshctl version",
        );
    }
    Finding::pass(format!("all meshctl images are tagged {version}"))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::check::model::Verdict;
    use crate::check::testing::{MockApi, list, status};

    pub fn deployment(name: &str, image: &str, wanted: i32, available: i32) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": "mesh-system", "generation": 2,
                "labels": {"app.kubernetes.io/part-of": "meshctl", "app.kubernetes.io/managed-by": "meshctl"}},
            "spec": {"replicas": wanted, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "server", "image": image}]}}},
            "status": {"observedGeneration": 2, "replicas": wanted, "updatedReplicas": wanted,
                "availableReplicas": available,
                "conditions": [{"type": "Available", "status": if available >= wanted {"True"} else {"False"},
                    "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability."}]}
        })
    }

    fn crash_pod(name: &str, restarts: i32, waiting: &str) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "mesh-system", "labels": {"app.kubernetes.io/part-of": "meshctl"}},
            "status": {"phase": "Running", "containerStatuses": [{
                "name": "server", "image": "x", "imageID": "", "ready": false, "restartCount": restarts,
                "state": {"waiting": {"reason": waiting}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}
            }]}
        })
    }

    fn image(version: &str) -> String {
        format!("ghcr.io/meshctl/meshctl:{version}")
    }

    fn serve(deployments: Vec<Value>, pods: Vec<Value>) -> MockApi {
        MockApi::start(move |method, path, _| {
            assert_eq!(method, "GET");
            match path {
                "/apis/apps/v1/namespaces/mesh-system/deployments" => {
                    (200, list("DeploymentList", deployments.clone()))
                }
                "/api/v1/namespaces/mesh-system/pods?labelSelector=app.kubernetes.io%2Fpart-of%3Dmeshctl" => {
                    (200, list("PodList", pods.clone()))
                }
                other => panic!("unexpected request {other}"),
            }
        })
    }

    async fn run_all(api: &MockApi) -> Vec<Finding> {
        let cluster = Arc::new(api.cluster());
        let mut out = Vec::new();
        for which in [
            InstallCheck::Present,
            InstallCheck::Available,
            InstallCheck::Pods,
            InstallCheck::Images,
        ] {
            out.push(
                Install::new(which, "install", Arc::clone(&cluster), "mesh-system")
                    .run(0)
                    .await,
            );
        }
        out
    }

    #[tokio::test]
    async fn healthy_install_passes_with_one_list_per_kind() {
        let v = crate::version::VERSION;
        let api = serve(
            vec![
                deployment("mesh-mgmt-server", &image(v), 1, 1),
                deployment("mesh-redis", &format!("ghcr.io/meshctl/meshctl:v{v}"), 1, 1),
            ],
            vec![],
        );
        let findings = run_all(&api).await;
        for f in &findings {
            assert_eq!(f.verdict, Verdict::Pass, "{f:?}");
        }
        assert_eq!(
            findings[0].message,
            "2 Deployments in mesh-system: mesh-mgmt-server, mesh-redis"
        );
        assert_eq!(api.requests().len(), 2, "{:?}", api.requests());
    }

    #[tokio::test]
    async fn unavailable_crashing_and_old_images_are_named() {
        let api = serve(
            vec![deployment("mesh-mgmt-server", &image("0.0.9"), 1, 0)],
            vec![crash_pod("mesh-mgmt-server-abc", 7, "CrashLoopBackOff")],
        );
        let findings = run_all(&api).await;
        assert_eq!(findings[0].verdict, Verdict::Pass);
        assert_eq!(findings[1].verdict, Verdict::Fail);
        assert_eq!(
            findings[1].message,
            "Deployment mesh-system/mesh-mgmt-server: 0 of 1 replicas available (status.availableReplicas); Available=False Deployment does not have minimum availability."
        );
        assert!(
            findings[1]
                .hint
                .as_ref()
                .unwrap()
                .contains("describe deployment mesh-mgmt-server")
        );
        assert_eq!(findings[2].verdict, Verdict::Fail);
        assert_eq!(
            findings[2].message,
            "pod mesh-mgmt-server-abc container server: CrashLoopBackOff, 7 restarts (status.containerStatuses[].restartCount), last exit 1 (Error)"
        );
        assert_eq!(findings[3].verdict, Verdict::Fail);
        assert!(
            findings[3].message.contains("tag 0.0.9"),
            "{}",
            findings[3].message
        );
    }

    #[tokio::test]
    async fn nothing_installed_fails() {
        let mut other = deployment("web", "nginx:1", 1, 1);
        other["metadata"]["labels"] = json!({});
        let api = serve(vec![other], vec![]);
        let f = run_all(&api).await.remove(0);
        assert_eq!(f.verdict, Verdict::Fail);
        assert!(
            f.message.starts_with("no meshctl Deployments"),
            "{}",
            f.message
        );
    }

    #[tokio::test]
    async fn forbidden_list_is_a_failure_naming_the_request() {
        let api = MockApi::start(|_, _, _| {
            (
                403,
                status(403, "Forbidden", "deployments.apps is forbidden"),
            )
        });
        let f = Install::new(
            InstallCheck::Present,
            "install",
            Arc::new(api.cluster()),
            "mesh-system",
        )
        .run(0)
        .await;
        assert_eq!(f.verdict, Verdict::Fail);
        assert!(
            f.message
                .contains("LIST /apis/apps/v1/namespaces/mesh-system/deployments"),
            "{}",
            f.message
        );
    }

    #[tokio::test(start_paused = true)]
    async fn wait_retries_with_a_fresh_list_until_available() {
        use std::sync::atomic::{AtomicU32, Ordering};

        use crate::check::engine::{Plan, RunOptions};
        use crate::check::model::CheckResult;

        let v = crate::version::VERSION;
        let lists = Arc::new(AtomicU32::new(0));
        let seen = Arc::clone(&lists);
        let (not_yet, ready) = (
            deployment("mesh-mgmt-server", &image(v), 1, 0),
            deployment("mesh-mgmt-server", &image(v), 1, 1),
        );
        let api = MockApi::start(move |_, path, _| {
            if path == "/version" {
                return (200, crate::check::testing::version("1", "31"));
            }
            assert_eq!(path, "/apis/apps/v1/namespaces/mesh-system/deployments");
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let item = if n == 0 {
                not_yet.clone()
            } else {
                ready.clone()
            };
            (200, list("DeploymentList", vec![item]))
        });
        let cluster = Arc::new(api.cluster());
        let mut checks: Vec<Box<dyn Check>> = vec![Box::new(
            crate::check::checks::kubernetes::KubernetesApi::new(
                "kubernetes-api",
                "kubernetes-api",
                Arc::clone(&cluster),
            ),
        )];
        for w in [InstallCheck::Present, InstallCheck::Available] {
            checks.push(Box::new(Install::new(
                w,
                "install",
                Arc::clone(&cluster),
                "mesh-system",
            )));
        }
        let run = Plan::new(checks)
            .unwrap()
            .run(RunOptions {
                wait: std::time::Duration::from_secs(60),
                retry_interval: std::time::Duration::from_secs(2),
            })
            .await;
        let available = &run.categories[1].1[1];
        assert_eq!(available.result, CheckResult::Passed, "{available:?}");
        assert_eq!(available.attempts, 2);
        // One LIST shared by `install` and the first attempt, one more for the retry.
        assert_eq!(lists.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn restarts_warn_and_unschedulable_fails() {
        let mut running: Pod = serde_json::from_value(crash_pod("p", 4, "x")).unwrap();
        running
            .status
            .as_mut()
            .unwrap()
            .container_statuses
            .as_mut()
            .unwrap()[0]
            .state = None;
        let f = pod_health("ns", &[running]);
        assert_eq!(f.verdict, Verdict::Warn);
        assert_eq!(
            f.message,
            "pod p container server restarted 4 times, last exit 1 (Error)"
        );

        let pending: Pod = serde_json::from_value(json!({"metadata": {"name": "q"},
            "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                "reason": "Unschedulable", "message": "no nodes available to schedule pods"}]}})).unwrap();
        let f = pod_health("ns", &[pending]);
        assert_eq!(f.verdict, Verdict::Fail);
        assert_eq!(
            f.message,
            "pod q cannot be scheduled (Unschedulable: no nodes available to schedule pods)"
        );
    }

    #[test]
    fn only_meshctl_images_are_compared_with_the_version() {
        assert!(is_meshctl_image("ghcr.io/meshctl/meshctl:0.1.0"));
        assert!(is_meshctl_image(
            "registry.local:5000/mirror/meshctl@sha256:abc"
        ));
        assert!(!is_meshctl_image("docker.io/library/redis:7.4-alpine"));
        assert!(!is_meshctl_image("quay.io/prometheus/prometheus:v3.1.0"));
        let d: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "mesh-redis"},
            "spec": {"selector": {}, "template": {"spec": {"containers": [
                {"name": "redis", "image": "docker.io/library/redis:7.4-alpine"}]}}}
        }))
        .unwrap();
        let f = images("mesh-system", &[&d], "0.1.0");
        assert_eq!(f.verdict, Verdict::Pass, "{f:?}");
    }

    #[test]
    fn image_tags() {
        assert_eq!(image_tag("ghcr.io/meshctl/meshctl:0.1.0"), Some("0.1.0"));
        assert_eq!(image_tag("localhost:5000/meshctl:v0.1.0"), Some("v0.1.0"));
        assert_eq!(image_tag("localhost:5000/meshctl"), None);
        assert_eq!(image_tag("meshctl@sha256:abc"), None);
        assert_eq!(image_tag("meshctl:0.1.0@sha256:abc"), Some("0.1.0"));
        assert_eq!(
            image_tag("reg.local:5000/mirror/meshctl:0.1.0@sha256:abc"),
            Some("0.1.0")
        );
        assert!(is_meshctl_image(
            "reg.local:5000/mirror/meshctl:0.1.0@sha256:abc"
        ));
    }
}
