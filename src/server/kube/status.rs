//! The KubernetesCluster `.status` the server writes for one cluster, computed from its
//! registry entry. Pure: deciding what to write, and whether a write is due.

use crate::api::kubernetes_cluster::KubernetesClusterStatus;
use crate::server::registry::ClusterStatus;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::time::Duration;

/// The status of `s` as written to its KubernetesCluster.
pub fn status_of(s: &ClusterStatus) -> KubernetesClusterStatus {
    KubernetesClusterStatus {
        connected: s.connected,
        agent_version: s.agent_version.clone(),
        last_seen: s.last_seen.map(Time),
        connected_since: s.connected_since.map(Time),
        snapshot_version: i64::try_from(s.snapshot_version).ok().filter(|v| *v > 0),
        resources: i64::try_from(s.snapshot_resources)
            .ok()
            .filter(|_| s.snapshot_version > 0),
        cert_expiry: s.cert_not_after.map(Time),
        conditions: Vec::new(),
    }
}

/// Whether `next` must be written when `written` is what the object holds. Any change
/// but `lastSeen` is written at once; `lastSeen` alone only once it moved by at least
/// `last_seen_resolution` (heartbeats would otherwise write every few seconds).
pub fn write_due(
    written: Option<&KubernetesClusterStatus>,
    next: &KubernetesClusterStatus,
    last_seen_resolution: Duration,
) -> bool {
    let Some(written) = written else { return true };
    let without_seen = |s: &KubernetesClusterStatus| KubernetesClusterStatus {
        last_seen: None,
        ..s.clone()
    };
    if without_seen(written) != without_seen(next) {
        return true;
    }
    match (&written.last_seen, &next.last_seen) {
        (Some(a), Some(b)) => {
            let moved = b.0.as_second().saturating_sub(a.0.as_second());
            moved >= i64::try_from(last_seen_resolution.as_secs()).unwrap_or(i64::MAX)
        }
        (a, b) => a != b,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use jiff::Timestamp;

    fn cluster(connected: bool, seen: i64) -> ClusterStatus {
        ClusterStatus {
            name: "c1".into(),
            connected,
            agent_version: Some("0.1.0".into()),
            last_seen: Some(Timestamp::from_second(seen).unwrap()),
            snapshot_version: 3,
            snapshot_resources: 12,
            ..ClusterStatus::default()
        }
    }

    #[test]
    fn status_carries_the_relay_state_in_camel_case() {
        let s = status_of(&cluster(true, 1_800_000_000));
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["connected"], true);
        assert_eq!(json["agentVersion"], "0.1.0");
        assert_eq!(json["snapshotVersion"], 3);
        assert_eq!(json["resources"], 12);
        assert_eq!(json["lastSeen"], "2027-01-15T08:00:00Z");
        let never = status_of(&ClusterStatus::default());
        assert_eq!(
            serde_json::to_value(&never).unwrap(),
            serde_json::json!({"connected": false})
        );
    }

    #[test]
    fn last_seen_alone_is_written_coarsely_everything_else_at_once() {
        let res = Duration::from_secs(60);
        let a = status_of(&cluster(true, 1_800_000_000));
        assert!(write_due(None, &a, res));
        assert!(!write_due(Some(&a), &a, res));
        let b = status_of(&cluster(true, 1_800_000_030));
        assert!(!write_due(Some(&a), &b, res));
        let c = status_of(&cluster(true, 1_800_000_060));
        assert!(write_due(Some(&a), &c, res));
        let gone = status_of(&cluster(false, 1_800_000_001));
        assert!(
            write_due(Some(&a), &gone, res),
            "a disconnect is written at once"
        );
    }
}
