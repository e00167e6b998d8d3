//! The relay checks, read from the management server's view of its clusters
//! ([`SharedRelayStatus`]): `relay-admin` (reachable), `relay-clusters-connected`,
//! `relay-snapshot-age`, `relay-cert-expiry`, `relay-version-skew`. With no cluster
//! registered yet they pass with a hint: nothing is wrong.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use jiff::{SignedDuration, Timestamp};

use kube::api::ApiResource;

use super::{api_failure, join_limited, plural};
use crate::api::KubernetesCluster;
use crate::check::cluster::{ApiError, ClusterAccess};
use crate::check::engine::Check;
use crate::check::model::{CheckSpec, Finding, Severity};
use crate::check::relay_source::{ClusterRelayStatus, SharedRelayStatus};

/// A connected cluster not heard from for this long is reported.
pub const STALE_AFTER: SignedDuration = SignedDuration::from_secs(120);
/// A client certificate expiring within this time is reported (agents renew well before).
pub const CERT_WARNING: SignedDuration = SignedDuration::from_hours(24);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayCheck {
    Admin,
    Connected,
    SnapshotAge,
    CertExpiry,
    VersionSkew,
}

pub struct Relay {
    spec: CheckSpec,
    which: RelayCheck,
    status: Arc<SharedRelayStatus>,
    /// Where KubernetesCluster registrations are listed (cluster, install namespace), to catch
    /// clusters the server does not know; `None` trusts the server's list alone.
    registrations: Option<(Arc<ClusterAccess>, String)>,
    now: Timestamp,
}

const REGISTER_HINT: &str =
    "register a workload cluster with `meshctl cluster register NAME --remote-context CONTEXT`";

impl Relay {
    /// `admin_depends_on` are the checks reaching the admin API needs (`kubernetes-api` when it
    /// goes through the API server). `now` is the run's clock reading.
    pub fn new(
        which: RelayCheck,
        category: impl Into<String>,
        status: Arc<SharedRelayStatus>,
        admin_depends_on: &[&'static str],
        now: Timestamp,
    ) -> Self {
        let spec = match which {
            RelayCheck::Admin => CheckSpec::new(
                "relay-admin",
                category,
                "the management server admin API answers",
                Severity::Fatal,
            )
            .depends_on(admin_depends_on)
            .retryable()
            // Reached through the install namespace's Service: with no installation there,
            // waiting will not make it answer. (An admin address may be a server elsewhere.)
            .retry_while(if admin_depends_on.is_empty() {
                &[]
            } else {
                &["install"]
            }),
            RelayCheck::Connected => CheckSpec::new(
                "relay-clusters-connected",
                category,
                "every registered cluster is connected",
                Severity::Error,
            )
            .depends_on(&["relay-admin"])
            .retryable(),
            RelayCheck::SnapshotAge => CheckSpec::new(
                "relay-snapshot-age",
                category,
                "connected agents send snapshots and heartbeats",
                Severity::Warning,
            )
            .depends_on(&["relay-admin"]),
            RelayCheck::CertExpiry => CheckSpec::new(
                "relay-cert-expiry",
                category,
                "agent client certificates are valid",
                Severity::Error,
            )
            .depends_on(&["relay-admin"]),
            RelayCheck::VersionSkew => CheckSpec::new(
                "relay-version-skew",
                category,
                "agents run this meshctl version",
                Severity::Warning,
            )
            .depends_on(&["relay-admin"]),
        };
        Self {
            spec,
            which,
            status,
            registrations: None,
            now,
        }
    }

    /// Also compares the server's clusters with the KubernetesCluster resources in `namespace`
    /// of `cluster` (one LIST): a registration the server does not list is a cluster that never
    /// connected. Only the install namespace: `cluster register` writes registrations there, the
    /// server keeps its tokens and writes relay status there, and a KubernetesCluster of another
    /// installation (another namespace) is not this server's.
    pub fn with_registrations(
        mut self,
        cluster: Arc<ClusterAccess>,
        namespace: impl Into<String>,
    ) -> Self {
        if !self.spec.depends_on.contains(&"kubernetes-api") {
            self.spec.depends_on.push("kubernetes-api");
        }
        self.registrations = Some((cluster, namespace.into()));
        self
    }

    /// `(namespace, name)` of every KubernetesCluster; empty when the kind is not served (the
    /// crds check reports that).
    async fn registered(&self, attempt: u32) -> Result<Vec<(String, String)>, Finding> {
        let Some((cluster, namespace)) = &self.registrations else {
            return Ok(Vec::new());
        };
        let kind = ApiResource::erase::<KubernetesCluster>(&());
        match cluster
            .list_dynamic_namespaced(&kind, namespace, attempt)
            .await
        {
            Ok(objects) => Ok(objects
                .iter()
                .map(|o| {
                    (
                        o.metadata.namespace.clone().unwrap_or_default(),
                        o.metadata.name.clone().unwrap_or_default(),
                    )
                })
                .collect()),
            Err(ApiError::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(api_failure(&e)),
        }
    }

    async fn evaluate(&self, attempt: u32) -> Finding {
        let source = self.status.source();
        let clusters = match self.status.clusters(attempt).await {
            Ok(c) => c,
            Err(e) => return Finding::fail(e.to_string(), source.unreachable_hint()),
        };
        match self.which {
            RelayCheck::Admin => {
                // What the server knows is its relay view (clusters whose agents connected, and
                // in a cluster the registrations it lists): not what is registered, which only
                // the KubernetesCluster resources say (relay-clusters-connected, cluster list).
                let message = format!(
                    "{} answers: {} known, {} connected",
                    capitalize(&source.describe()),
                    plural(clusters.len(), "cluster"),
                    clusters.iter().filter(|c| c.connected).count()
                );
                Finding::pass(message)
            }
            RelayCheck::Connected => match self.registered(attempt).await {
                Ok(registered) => connected(&clusters, &registered, self.now),
                Err(f) => f,
            },
            RelayCheck::SnapshotAge => snapshot_age(&clusters, self.now),
            RelayCheck::CertExpiry => cert_expiry(&clusters, self.now),
            RelayCheck::VersionSkew => version_skew(&clusters, crate::version::VERSION),
        }
    }
}

impl Check for Relay {
    fn spec(&self) -> &CheckSpec {
        &self.spec
    }
    fn run(&self, attempt: u32) -> BoxFuture<'_, Finding> {
        self.evaluate(attempt).boxed()
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `3m12s ago`, `2d ago`.
pub fn ago(then: Timestamp, now: Timestamp) -> String {
    format!("{} ago", span(now.duration_since(then)))
}

/// A coarse human duration: `45s`, `3m12s`, `5h`, `2d`.
pub fn span(d: SignedDuration) -> String {
    let s = d.as_secs().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        3600..172_800 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

fn no_clusters() -> Finding {
    Finding::pass_with_hint("no workload cluster registered yet", REGISTER_HINT)
}

fn agent_hint(cluster: &str) -> String {
    format!(
        "check the agent of cluster {cluster}: meshctl check --remote-context <its context>; kubectl --context <its context> -n mesh-system logs deploy/mesh-agent"
    )
}

/// Every cluster the server lists is connected, and every registration (`(namespace, name)`
/// of a KubernetesCluster) is one the server lists.
pub fn connected(
    clusters: &[ClusterRelayStatus],
    registered: &[(String, String)],
    now: Timestamp,
) -> Finding {
    let unknown: Vec<&(String, String)> = registered
        .iter()
        .filter(|(_, name)| !clusters.iter().any(|c| &c.name == name))
        .collect();
    if clusters.is_empty() && unknown.is_empty() {
        return no_clusters();
    }
    let down: Vec<&ClusterRelayStatus> = clusters.iter().filter(|c| !c.connected).collect();
    let total = clusters.len() + unknown.len();
    if down.is_empty() && unknown.is_empty() {
        return Finding::pass(format!("all {} connected", plural(total, "cluster")));
    }
    let mut described: Vec<String> = down
        .iter()
        .map(|c| {
            let mut text = format!("{} (", c.name);
            text.push_str(&match c.last_seen {
                Some(t) => format!("last seen {}", ago(t, now)),
                None => "never connected".to_string(),
            });
            if let Some(reason) = &c.last_disconnect_reason {
                text.push_str(&format!(", last disconnect: {reason}"));
            }
            text.push(')');
            text
        })
        .collect();
    described.extend(unknown.iter().map(|(ns, name)| {
        format!("{name} (KubernetesCluster {ns}/{name} exists but the management server has never seen its agent)")
    }));
    let first = down
        .first()
        .map(|c| c.name.clone())
        .or_else(|| unknown.first().map(|(_, n)| n.clone()))
        .unwrap_or_default();
    Finding::fail(
        format!(
            "{} of {total} not connected: {}",
            plural(down.len() + unknown.len(), "cluster"),
            join_limited(&described, 6)
        ),
        agent_hint(&first),
    )
}

pub fn snapshot_age(clusters: &[ClusterRelayStatus], now: Timestamp) -> Finding {
    if clusters.is_empty() {
        return no_clusters();
    }
    let mut problems = Vec::new();
    let mut first = None;
    for c in clusters.iter().filter(|c| c.connected) {
        let problem = match c.last_seen {
            Some(t) if now.duration_since(t) > STALE_AFTER => {
                Some(format!("{}: last message {}", c.name, ago(t, now)))
            }
            None => Some(format!("{}: no message received", c.name)),
            _ if c.snapshot_version == 0 => Some(format!("{}: no snapshot received yet", c.name)),
            _ => None,
        };
        if let Some(p) = problem {
            first.get_or_insert_with(|| c.name.clone());
            problems.push(p);
        }
    }
    if let Some(name) = first {
        return Finding::fail(
            format!("stale relay streams: {}", join_limited(&problems, 6)),
            agent_hint(&name),
        );
    }
    let connected = clusters.iter().filter(|c| c.connected).count();
    if connected == 0 {
        return Finding::pass("no connected cluster to look at (see relay-clusters-connected)");
    }
    Finding::pass(format!(
        "{} sent a snapshot and spoke within {}",
        plural(connected, "connected cluster"),
        span(STALE_AFTER)
    ))
}

pub fn cert_expiry(clusters: &[ClusterRelayStatus], now: Timestamp) -> Finding {
    if clusters.is_empty() {
        return no_clusters();
    }
    let mut expired = Vec::new();
    let mut soon = Vec::new();
    let mut known = 0;
    for c in clusters {
        let Some(not_after) = c.cert_not_after else {
            continue;
        };
        known += 1;
        let left = not_after.duration_since(now);
        if left <= SignedDuration::ZERO {
            expired.push((
                c.name.clone(),
                format!("{}: expired {}", c.name, ago(not_after, now)),
            ));
        } else if left < CERT_WARNING {
            soon.push((
                c.name.clone(),
                format!("{}: expires in {}", c.name, span(left)),
            ));
        }
    }
    let hint = |name: &str| {
        format!(
            "the agent of {name} renews its certificate over the relay; if it cannot, re-run `meshctl cluster register {name}` to bootstrap it again (Secret relay-client-tls-secret in the workload cluster)"
        )
    };
    if let Some((name, _)) = expired.first() {
        let texts: Vec<String> = expired
            .iter()
            .chain(&soon)
            .map(|(_, t)| t.clone())
            .collect();
        return Finding::fail(
            format!("client certificates expired: {}", join_limited(&texts, 6)),
            hint(name),
        );
    }
    if let Some((name, _)) = soon.first() {
        let texts: Vec<String> = soon.iter().map(|(_, t)| t.clone()).collect();
        return Finding::warn(
            format!(
                "client certificates expire soon: {}",
                join_limited(&texts, 6)
            ),
            hint(name),
        );
    }
    if known == 0 {
        return Finding::pass("no client certificate reported yet (no agent has connected)");
    }
    Finding::pass(format!(
        "{} valid for more than {}",
        plural(known, "client certificate"),
        span(CERT_WARNING)
    ))
}

/// `major.minor` of a version string (`v0.1.3` → (0, 1)).
fn major_minor(version: &str) -> Option<(u64, u64)> {
    let mut parts = version.trim_start_matches('v').split(['.', '-', '+']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

pub fn version_skew(clusters: &[ClusterRelayStatus], ours: &str) -> Finding {
    if clusters.is_empty() {
        return no_clusters();
    }
    let mut skewed = Vec::new();
    let mut patch = Vec::new();
    for c in clusters {
        let Some(v) = &c.agent_version else { continue };
        if v.trim_start_matches('v') == ours {
            continue;
        }
        if major_minor(v).is_some() && major_minor(v) == major_minor(ours) {
            patch.push(format!("{} ({v})", c.name));
        } else {
            skewed.push(format!("{} ({v})", c.name));
        }
    }
    if !skewed.is_empty() {
        return Finding::fail(
            format!(
                "agents on another minor version than meshctl {ours}: {}",
                join_limited(&skewed, 6)
            ),
            "upgrade the agents: re-run `meshctl cluster register NAME` with this meshctl (or upgrade the management server if it is the older one)",
        );
    }
    if !patch.is_empty() {
        return Finding::pass_with_hint(
            format!(
                "agents within the same minor version: {}",
                join_limited(&patch, 6)
            ),
            format!("patch versions differ from meshctl {ours}; upgrade when convenient"),
        );
    }
    Finding::pass(format!("all agents run meshctl {ours}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::engine::{Plan, RunOptions};
    use crate::check::model::{CheckResult, Verdict};
    use crate::check::relay_source::{RelaySourceError, RelayStatusSource};

    fn now() -> Timestamp {
        "2026-11-22T05:00:00Z".parse().unwrap()
    }

    fn cluster(name: &str, connected: bool) -> ClusterRelayStatus {
        ClusterRelayStatus {
            name: name.into(),
            connected,
            agent_version: Some(crate::version::VERSION.into()),
            last_seen: Some("2026-11-22T04:59:50Z".parse().unwrap()),
            snapshot_version: 3,
            cert_not_after: Some("2026-12-22T00:00:00Z".parse().unwrap()),
            ..Default::default()
        }
    }

    #[test]
    fn no_cluster_is_not_an_alarm() {
        for f in [
            connected(&[], &[], now()),
            snapshot_age(&[], now()),
            cert_expiry(&[], now()),
            version_skew(&[], "0.1.0"),
        ] {
            assert_eq!(f.verdict, Verdict::Pass);
            assert_eq!(f.message, "no workload cluster registered yet");
            assert!(f.hint.unwrap().contains("meshctl cluster register"));
        }
    }

    #[test]
    fn disconnected_clusters_are_named() {
        let mut west = cluster("west", false);
        west.last_seen = Some("2026-11-22T04:55:00Z".parse().unwrap());
        west.last_disconnect_reason = Some("stream reset".into());
        let f = connected(&[cluster("east", true), west], &[], now());
        assert_eq!(f.verdict, Verdict::Fail);
        assert_eq!(
            f.message,
            "1 cluster of 2 not connected: west (last seen 5m0s ago, last disconnect: stream reset)"
        );
        assert!(f.hint.unwrap().contains("cluster west"));
        let f = connected(&[cluster("east", true)], &[], now());
        assert_eq!(f.message, "all 1 cluster connected");
    }

    #[test]
    fn registrations_the_server_does_not_know_are_named() {
        let registered = vec![
            ("mesh-system".to_string(), "east".to_string()),
            ("mesh-system".to_string(), "north".to_string()),
        ];
        let f = connected(&[cluster("east", true)], &registered, now());
        assert_eq!(f.verdict, Verdict::Fail);
        assert_eq!(
            f.message,
            "1 cluster of 2 not connected: north (KubernetesCluster mesh-system/north exists but the management server has never seen its agent)"
        );
        assert!(f.hint.unwrap().contains("cluster north"));
        let f = connected(&[], &registered[1..], now());
        assert_eq!(f.verdict, Verdict::Fail);
    }

    #[tokio::test]
    async fn registrations_are_listed_once_in_the_install_namespace() {
        use crate::check::testing::{MockApi, list, status};
        let api = MockApi::start(|method, path, _| {
            assert_eq!(method, "GET");
            match path {
                "/apis/admin.meshctl.dev/v1alpha1/namespaces/mesh-system/kubernetesclusters" => (
                    200,
                    list(
                        "KubernetesClusterList",
                        vec![
                            serde_json::json!({"apiVersion": "admin.meshctl.dev/v1alpha1",
                            "kind": "KubernetesCluster", "metadata": {"name": "west", "namespace": "mesh-system"},
                            "spec": {}}),
                        ],
                    ),
                ),
                other => (404, status(404, "NotFound", other)),
            }
        });
        let shared = Arc::new(SharedRelayStatus::new(Arc::new(Fixed(Ok(vec![cluster(
            "east", true,
        )])))));
        let check = Relay::new(RelayCheck::Connected, "relay", shared, &[], now())
            .with_registrations(Arc::new(api.cluster()), "mesh-system");
        assert_eq!(check.spec().depends_on, ["relay-admin", "kubernetes-api"]);
        let f = check.run(0).await;
        assert_eq!(f.verdict, Verdict::Fail, "{f:?}");
        assert!(
            f.message
                .contains("west (KubernetesCluster mesh-system/west"),
            "{}",
            f.message
        );
        assert_eq!(
            api.requests(),
            ["GET /apis/admin.meshctl.dev/v1alpha1/namespaces/mesh-system/kubernetesclusters"]
        );
    }

    #[test]
    fn stale_streams_and_missing_snapshots() {
        let mut old = cluster("old", true);
        old.last_seen = Some("2026-11-22T04:50:00Z".parse().unwrap());
        let mut fresh = cluster("fresh", true);
        fresh.snapshot_version = 0;
        let f = snapshot_age(&[old, fresh, cluster("ok", true)], now());
        assert_eq!(f.verdict, Verdict::Fail);
        assert_eq!(
            f.message,
            "stale relay streams: old: last message 10m0s ago, fresh: no snapshot received yet"
        );
        assert_eq!(
            snapshot_age(&[cluster("ok", true)], now()).verdict,
            Verdict::Pass
        );
    }

    #[test]
    fn certificate_expiry() {
        let mut expired = cluster("a", true);
        expired.cert_not_after = Some("2026-11-21T05:00:00Z".parse().unwrap());
        let mut soon = cluster("b", true);
        soon.cert_not_after = Some("2026-11-22T08:00:00Z".parse().unwrap());
        let f = cert_expiry(&[expired, soon.clone()], now());
        assert_eq!(f.verdict, Verdict::Fail);
        assert_eq!(
            f.message,
            "client certificates expired: a: expired 24h ago, b: expires in 3h"
        );
        let f = cert_expiry(&[soon], now());
        assert_eq!(f.verdict, Verdict::Warn);
        assert_eq!(
            cert_expiry(&[cluster("c", true)], now()).verdict,
            Verdict::Pass
        );
    }

    #[test]
    fn version_skew_by_minor() {
        let mut old = cluster("old", true);
        old.agent_version = Some("0.0.9".into());
        let f = version_skew(&[old], "0.1.0");
        assert_eq!(f.verdict, Verdict::Fail);
        assert_eq!(
            f.message,
            "agents on another minor version than meshctl 0.1.0: old (0.0.9)"
        );
        let mut patch = cluster("p", true);
        patch.agent_version = Some("v0.1.2".into());
        let f = version_skew(&[patch], "0.1.0");
        assert_eq!(f.verdict, Verdict::Pass);
        assert!(f.hint.is_some());
    }

    struct Fixed(Result<Vec<ClusterRelayStatus>, RelaySourceError>);

    impl RelayStatusSource for Fixed {
        fn describe(&self) -> String {
            "the fixed source".into()
        }
        fn unreachable_hint(&self) -> String {
            "start it".into()
        }
        fn clusters(&self) -> BoxFuture<'_, Result<Vec<ClusterRelayStatus>, RelaySourceError>> {
            let answer = self.0.clone();
            async move { answer }.boxed()
        }
    }

    fn plan(source: Fixed) -> Plan {
        let shared = Arc::new(SharedRelayStatus::new(Arc::new(source)));
        let checks: Vec<Box<dyn Check>> = [
            RelayCheck::Admin,
            RelayCheck::Connected,
            RelayCheck::SnapshotAge,
            RelayCheck::CertExpiry,
            RelayCheck::VersionSkew,
        ]
        .into_iter()
        .map(|w| {
            Box::new(Relay::new(w, "relay", Arc::clone(&shared), &[], now())) as Box<dyn Check>
        })
        .collect();
        Plan::new(checks).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn unreachable_admin_skips_the_rest() {
        let run = plan(Fixed(Err(RelaySourceError::Unreachable {
            source_name: "the fixed source".into(),
            message: "connection refused".into(),
        })))
        .run(RunOptions {
            wait: std::time::Duration::ZERO,
            ..RunOptions::default()
        })
        .await;
        let results: Vec<CheckResult> = run.categories[0].1.iter().map(|r| r.result).collect();
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
        assert_eq!(run.categories[0].1[0].hint.as_deref(), Some("start it"));
    }

    #[tokio::test(start_paused = true)]
    async fn healthy_relay_passes() {
        let run = plan(Fixed(Ok(vec![cluster("east", true)])))
            .run(RunOptions::default())
            .await;
        for r in &run.categories[0].1 {
            assert_eq!(r.result, CheckResult::Passed, "{r:?}");
        }
        assert_eq!(
            run.categories[0].1[0].message,
            "The fixed source answers: 1 cluster known, 1 connected"
        );
    }
}
