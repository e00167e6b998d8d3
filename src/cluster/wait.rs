//! Waiting until the management server reports the cluster connected with a snapshot received
//! (KubernetesCluster status, or the server's `GET /api/v1/clusters`), step by step; on timeout,
//! saying which step is stuck and why.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod, Secret};
use kube::api::{Api, ListParams};
use tokio::time::Instant;

use super::api::Cluster;
use super::{AGENT_DEPLOYMENT, ClusterError, token_secret_name};
use crate::api::KubernetesCluster;
use crate::check::relay_source::RelayStatusSource;
use crate::kube::wait::{Readiness, deployment_readiness};
use crate::manifests::labels;

/// Pause between two observations.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// The server's view of the cluster's relay stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelayView {
    pub connected: bool,
    pub snapshot_received: bool,
    pub agent_version: Option<String>,
    pub last_disconnect_reason: Option<String>,
}

/// One look at both clusters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observation {
    /// The agent Deployment's readiness; `None` when it does not exist.
    pub deployment: Option<Readiness>,
    /// Why an agent pod is Pending, if one is.
    pub pod_pending: Option<String>,
    /// Nodes in the workload cluster (`None`: not read).
    pub nodes: Option<usize>,
    /// The server marked the bootstrap token used.
    pub token_consumed: bool,
    /// The agent wrote its client certificate.
    pub client_certificate: bool,
    /// The server's view (`None`: neither the status nor the admin API said anything).
    pub relay: Option<RelayView>,
}

/// The step a registration has reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Connected with a snapshot: done.
    Done,
    /// Still waiting; `message` says for what, and why when it is stuck.
    Waiting { step: &'static str, message: String },
}

/// Where the wait stands, from an observation. Pure.
pub fn diagnose(obs: &Observation, relay_address: &str, agent_namespace: &str) -> Step {
    let logs = format!("kubectl -n {agent_namespace} logs deploy/{AGENT_DEPLOYMENT}");
    if let Some(relay) = &obs.relay {
        if relay.connected && relay.snapshot_received {
            return Step::Done;
        }
        if relay.connected {
            return Step::Waiting {
                step: "snapshot",
                message: format!(
                    "the agent is connected but has sent no snapshot yet; check its logs: {logs}"
                ),
            };
        }
    }
    if obs.token_consumed || obs.client_certificate {
        let reason = obs
            .relay
            .as_ref()
            .and_then(|r| r.last_disconnect_reason.clone())
            .map(|r| format!(" (last disconnect: {r})"))
            .unwrap_or_default();
        return Step::Waiting {
            step: "connect",
            message: format!(
                "the agent bootstrapped (it holds a client certificate) but the server does not report it connected{reason}: check that {relay_address} is reachable from the workload cluster, and the agent's logs: {logs}"
            ),
        };
    }
    match &obs.deployment {
        None => Step::Waiting {
            step: "agent",
            message: format!(
                "the agent Deployment {agent_namespace}/{AGENT_DEPLOYMENT} does not exist on the workload cluster"
            ),
        },
        Some(readiness) if !readiness.ready => {
            let message = if obs.nodes == Some(0) {
                "the agent cannot run: the workload cluster has no nodes (pods stay Pending)"
                    .to_owned()
            } else if let Some(reason) = &obs.pod_pending {
                format!("the agent pod is Pending: {reason}")
            } else {
                format!(
                    "the agent Deployment {agent_namespace}/{AGENT_DEPLOYMENT} has no available replicas: {}; see kubectl -n {agent_namespace} describe deploy/{AGENT_DEPLOYMENT}",
                    readiness.reason
                )
            };
            Step::Waiting {
                step: "agent",
                message,
            }
        }
        Some(_) => Step::Waiting {
            step: "bootstrap",
            message: format!(
                "the agent is running but has not bootstrapped: its token is not used and it has no client certificate. Either the agent cannot reach the relay at {relay_address} (a firewall, or an address only reachable from the management side), or its token was rejected. The agent's logs say which: {logs}"
            ),
        },
    }
}

/// What to look at.
#[derive(Clone)]
pub struct Target {
    pub mgmt: Cluster,
    pub remote: Cluster,
    pub mgmt_namespace: String,
    pub agent_namespace: String,
    pub cluster: String,
    pub relay_address: String,
    /// The server's admin API, when reachable.
    pub admin: Option<Arc<dyn RelayStatusSource>>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("cluster", &self.cluster)
            .field("agent_namespace", &self.agent_namespace)
            .finish_non_exhaustive()
    }
}

/// The server's view from the KubernetesCluster status.
pub fn status_view(kc: &KubernetesCluster) -> Option<RelayView> {
    let status = kc.status.as_ref()?;
    let snapshot_condition = status
        .conditions
        .iter()
        .any(|c| c.type_ == "SnapshotReceived" && c.status == "True");
    Some(RelayView {
        connected: status.connected,
        snapshot_received: status.snapshot_version.is_some_and(|v| v > 0) || snapshot_condition,
        agent_version: status.agent_version.clone(),
        last_disconnect_reason: None,
    })
}

/// Looks at both clusters once. Failed reads leave their field at its default: the wait goes on.
pub async fn observe(target: &Target) -> Observation {
    let mut obs = Observation::default();
    let kcs: Api<KubernetesCluster> =
        Api::namespaced(target.mgmt.client.clone(), &target.mgmt_namespace);
    if let Ok(Some(kc)) = target
        .mgmt
        .call_opt("get KubernetesCluster", kcs.get(&target.cluster))
        .await
    {
        obs.relay = status_view(&kc);
    }
    if !obs
        .relay
        .as_ref()
        .is_some_and(|r| r.connected && r.snapshot_received)
        && let Some(admin) = &target.admin
        && let Ok(Ok(clusters)) = tokio::time::timeout(target.mgmt.timeout, admin.clusters()).await
        && let Some(c) = clusters.into_iter().find(|c| c.name == target.cluster)
    {
        obs.relay = Some(RelayView {
            connected: c.connected,
            snapshot_received: c.snapshot_version > 0,
            agent_version: c.agent_version,
            last_disconnect_reason: c.last_disconnect_reason,
        });
    }
    let secrets: Api<Secret> = Api::namespaced(target.mgmt.client.clone(), &target.mgmt_namespace);
    if let Ok(Some(secret)) = target
        .mgmt
        .call_opt(
            "get token Secret",
            secrets.get(&token_secret_name(&target.cluster)),
        )
        .await
    {
        obs.token_consumed = super::token::is_consumed(&secret);
    }
    obs.client_certificate = super::remote::has_client_certificate(
        &target.remote,
        &target.agent_namespace,
        &target.cluster,
    )
    .await
    .unwrap_or(false);
    let deployments: Api<Deployment> =
        Api::namespaced(target.remote.client.clone(), &target.agent_namespace);
    if let Ok(found) = target
        .remote
        .call_opt("get agent Deployment", deployments.get(AGENT_DEPLOYMENT))
        .await
    {
        obs.deployment = found.as_ref().map(deployment_readiness);
    }
    if obs.deployment.as_ref().is_some_and(|r| !r.ready) {
        let pods: Api<Pod> = Api::namespaced(target.remote.client.clone(), &target.agent_namespace);
        let selector = format!("{}={AGENT_DEPLOYMENT}", labels::NAME);
        if let Ok(list) = target
            .remote
            .call(
                "list agent pods",
                pods.list(&ListParams::default().labels(&selector)),
            )
            .await
        {
            obs.pod_pending = list.items.iter().find_map(pending_reason);
        }
        let nodes: Api<Node> = Api::all(target.remote.client.clone());
        if let Ok(list) = target
            .remote
            .call(
                "list nodes",
                nodes.list_metadata(&ListParams::default().limit(1)),
            )
            .await
        {
            obs.nodes = Some(list.items.len());
        }
    }
    obs
}

/// Why a Pending pod is pending (its PodScheduled condition), if it is.
fn pending_reason(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    if status.phase.as_deref() != Some("Pending") {
        return None;
    }
    let condition = status.conditions.as_ref().and_then(|cs| {
        cs.iter()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False")
    });
    Some(match condition {
        Some(c) => c
            .message
            .clone()
            .unwrap_or_else(|| "not scheduled".to_owned()),
        None => "containers not started yet (image pull?)".to_owned(),
    })
}

/// Observes every [`POLL_INTERVAL`] until done or `timeout`; `on_step` gets each new state.
pub async fn until_connected(
    target: &Target,
    timeout: Duration,
    on_step: &(dyn Fn(&Step) + Send + Sync),
) -> Result<Observation, ClusterError> {
    let deadline = Instant::now() + timeout;
    let mut last: Option<Step> = None;
    loop {
        let obs = observe(target).await;
        let step = diagnose(&obs, &target.relay_address, &target.agent_namespace);
        if last.as_ref() != Some(&step) {
            on_step(&step);
        }
        if step == Step::Done {
            return Ok(obs);
        }
        if Instant::now() + POLL_INTERVAL > deadline {
            let Step::Waiting { step, message } = step else {
                return Ok(obs);
            };
            return Err(ClusterError::NotConnected(format!(
                "cluster {} is not connected after {}s; stuck at step {step}: {message}. Registration itself is complete: once fixed, the agent connects on its own (watch with meshctl cluster list), or re-run register",
                target.cluster,
                timeout.as_secs()
            )));
        }
        last = Some(step);
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::cluster::Side;
    use crate::cluster::testing::*;

    fn waiting(obs: &Observation) -> (&'static str, String) {
        match diagnose(obs, "relay.example.com:9900", "agents") {
            Step::Waiting { step, message } => (step, message),
            Step::Done => panic!("done"),
        }
    }

    fn ready(ready: bool) -> Option<Readiness> {
        Some(Readiness {
            ready,
            reason: "0/1 replicas available, 0/1 updated".into(),
        })
    }

    #[test]
    fn every_stuck_step_is_named() {
        let mut obs = Observation {
            deployment: ready(false),
            nodes: Some(0),
            ..Default::default()
        };
        assert!(waiting(&obs).1.contains("no nodes"));
        obs.nodes = Some(3);
        obs.pod_pending = Some("0/3 nodes are available: insufficient cpu".into());
        assert_eq!(
            waiting(&obs),
            (
                "agent",
                "the agent pod is Pending: 0/3 nodes are available: insufficient cpu".into()
            )
        );
        obs.pod_pending = None;
        assert!(
            waiting(&obs)
                .1
                .contains("has no available replicas: 0/1 replicas available")
        );
        obs.deployment = None;
        assert!(waiting(&obs).1.contains("does not exist"));
        obs.deployment = ready(true);
        let (step, message) = waiting(&obs);
        assert_eq!(step, "bootstrap");
        assert!(
            message.contains("cannot reach the relay at relay.example.com:9900")
                && message.contains("token was rejected"),
            "{message}"
        );
        obs.client_certificate = true;
        obs.relay = Some(RelayView {
            last_disconnect_reason: Some("heartbeat timeout".into()),
            ..Default::default()
        });
        let (step, message) = waiting(&obs);
        assert_eq!(step, "connect");
        assert!(message.contains("heartbeat timeout"), "{message}");
        obs.relay = Some(RelayView {
            connected: true,
            ..Default::default()
        });
        assert_eq!(waiting(&obs).0, "snapshot");
        obs.relay = Some(RelayView {
            connected: true,
            snapshot_received: true,
            ..Default::default()
        });
        assert_eq!(diagnose(&obs, "r:1", "agents"), Step::Done);
    }

    fn kc(connected: bool, snapshot: Option<i64>) -> serde_json::Value {
        json!({"apiVersion": "admin.meshctl.dev/v1alpha1", "kind": "KubernetesCluster", "metadata": {"name": "east"}, "spec": {},
            "status": {"connected": connected, "snapshotVersion": snapshot, "agentVersion": "0.1.0"}})
    }

    fn target(mgmt: &MockApi, remote: &MockApi) -> Target {
        Target {
            mgmt: cluster(mgmt, Side::Mgmt),
            remote: cluster(remote, Side::Remote),
            mgmt_namespace: "mesh-system".into(),
            agent_namespace: "agents".into(),
            cluster: "east".into(),
            relay_address: "r:1".into(),
            admin: None,
        }
    }

    #[tokio::test]
    async fn observes_status_token_certificate_deployment_pods_and_nodes() {
        let mgmt = MockApi::start(|_, path, _| {
            if path.ends_with("/kubernetesclusters/east") {
                (200, kc(false, None))
            } else {
                assert_eq!(
                    path,
                    "/api/v1/namespaces/mesh-system/secrets/relay-identity-token-east"
                );
                (
                    200,
                    secret("mesh-system", "relay-identity-token-east", None, &[]),
                )
            }
        });
        let remote = MockApi::start(|_, path, _| {
            if path == "/apis/apps/v1/namespaces/agents/deployments/mesh-agent" {
                (
                    200,
                    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "mesh-agent", "generation": 1},
                    "spec": {"selector": {}, "template": {}}, "status": {"observedGeneration": 1}}),
                )
            } else if path.starts_with("/api/v1/namespaces/agents/pods") {
                assert!(
                    path.contains("labelSelector=app.kubernetes.io%2Fname%3Dmesh-agent"),
                    "{path}"
                );
                (
                    200,
                    list(
                        "PodList",
                        vec![
                            json!({"metadata": {"name": "p"}, "status": {"phase": "Pending",
                    "conditions": [{"type": "PodScheduled", "status": "False", "message": "no nodes available to schedule pods"}]}}),
                        ],
                    ),
                )
            } else if path.starts_with("/api/v1/nodes") {
                (200, list("NodeList", vec![]))
            } else {
                not_found()
            }
        });
        let obs = observe(&target(&mgmt, &remote)).await;
        assert_eq!(
            obs.relay,
            Some(RelayView {
                agent_version: Some("0.1.0".into()),
                ..Default::default()
            })
        );
        assert!(!obs.token_consumed && !obs.client_certificate);
        assert_eq!(
            obs.pod_pending.as_deref(),
            Some("no nodes available to schedule pods")
        );
        assert_eq!(obs.nodes, Some(0));
        assert!(
            remote.requests().contains(
                &"GET /api/v1/namespaces/agents/secrets/relay-client-tls-secret".to_owned()
            )
        );
    }

    #[tokio::test]
    async fn returns_once_connected_with_a_snapshot() {
        let mgmt = MockApi::start(|_, path, _| {
            if path.ends_with("/east") {
                (200, kc(true, Some(3)))
            } else {
                not_found()
            }
        });
        let remote = MockApi::start(|_, _, _| not_found());
        let steps = std::sync::Mutex::new(Vec::new());
        let obs = until_connected(&target(&mgmt, &remote), Duration::from_secs(30), &|s| {
            steps.lock().unwrap().push(s.clone())
        })
        .await
        .unwrap();
        assert!(obs.relay.unwrap().snapshot_received);
        assert_eq!(steps.lock().unwrap().as_slice(), [Step::Done]);
    }

    #[tokio::test]
    async fn a_timeout_names_the_stuck_step() {
        let mgmt = MockApi::start(|_, _, _| not_found());
        let remote = MockApi::start(|_, _, _| not_found());
        let err = until_connected(&target(&mgmt, &remote), Duration::ZERO, &|_| {})
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains(
                "stuck at step agent: the agent Deployment agents/mesh-agent does not exist"
            ),
            "{err}"
        );
        assert_eq!(err.exit_kind(), crate::exit::ExitKind::Environment);
    }
}
