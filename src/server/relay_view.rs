//! The relay view shared by server replicas (through a shared state store, i.e. Redis): each
//! replica publishes the clusters whose agent stream it holds, and `GET /api/v1/clusters`
//! answers with its own view merged with the other replicas'. Without it, `meshctl check` and
//! `meshctl cluster list`, which reach one replica through the Service, would report every agent
//! held by another replica as not connected.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::server::registry::{ClusterRegistry, ClusterStatus};
use crate::server::store::StateStore;

/// How often a replica republishes the streams it holds (and withdraws those it lost).
pub const PUBLISH_INTERVAL: Duration = Duration::from_secs(2);
/// How long a published entry lives without being republished: a replica that dies stops
/// claiming its clusters after this.
pub const ENTRY_TTL: Duration = Duration::from_secs(10);
/// Time allowed to read the other replicas' view while answering `GET /api/v1/clusters`.
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);

pub use crate::server::store::PeerClusterStatus;

/// This replica's clusters (`local`, from its registry) merged with the other replicas'
/// (`peers`): a cluster connected here is shown as seen here; otherwise a replica that holds its
/// stream wins (the most recent connection if several claim it, as happens for a moment when an
/// agent moves). Connected entries name the replica that holds them. Sorted by name.
pub fn merge(
    local: Vec<ClusterStatus>,
    peers: Vec<PeerClusterStatus>,
    own_replica: &str,
) -> Vec<ClusterStatus> {
    let mut by_name: BTreeMap<String, ClusterStatus> = BTreeMap::new();
    for mut status in local {
        if status.connected {
            status.replica = Some(own_replica.to_owned());
        }
        by_name.insert(status.name.clone(), status);
    }
    for peer in peers {
        let mut status = peer.status;
        // An earlier process of this replica (a restarted container keeps its name) claims
        // nothing this one does not hold.
        if !status.connected || peer.replica == own_replica {
            continue;
        }
        status.replica = Some(peer.replica);
        match by_name.get(&status.name) {
            Some(held) if held.connected && held.replica.as_deref() == Some(own_replica) => {}
            Some(other) if other.connected && other.connected_since >= status.connected_since => {}
            _ => {
                by_name.insert(status.name.clone(), status);
            }
        }
    }
    by_name.into_values().collect()
}

/// Publishes this replica's held streams every [`PUBLISH_INTERVAL`] until `cancel`, then
/// withdraws them. Does nothing when the store shares no relay view.
pub async fn publish(
    registry: Arc<ClusterRegistry>,
    store: Arc<dyn StateStore>,
    cancel: CancellationToken,
) {
    if store.relay_view_replica().is_none() {
        return;
    }
    let mut published: BTreeSet<String> = BTreeSet::new();
    let mut failing = false;
    let mut tick = tokio::time::interval(PUBLISH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let held: Vec<ClusterStatus> = registry
            .list()
            .into_iter()
            .filter(|s| s.connected)
            .collect();
        let now: BTreeSet<String> = held.iter().map(|s| s.name.clone()).collect();
        let released: Vec<String> = published.difference(&now).cloned().collect();
        match store.publish_relay_view(&held, &released).await {
            Ok(()) => {
                if failing {
                    tracing::info!("relay view published to the state store again");
                }
                failing = false;
                published = now;
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "cannot publish this replica's relay view; other replicas will show its agents as disconnected until it can");
                }
                failing = true;
            }
        }
    }
    if !published.is_empty() {
        let released: Vec<String> = published.into_iter().collect();
        if let Err(e) = store.publish_relay_view(&[], &released).await {
            tracing::warn!(error = %e, "cannot withdraw this replica's relay view; its entries expire by themselves");
        }
    }
}

/// The view served at `GET /api/v1/clusters`: this replica's, merged with the other replicas'
/// when the store shares them. If they cannot be read in time, this replica's view is served
/// (and the failure logged).
pub async fn clusters(registry: &ClusterRegistry, store: &dyn StateStore) -> Vec<ClusterStatus> {
    let local = registry.list();
    let Some(replica) = store.relay_view_replica() else {
        return local;
    };
    match tokio::time::timeout(READ_TIMEOUT, store.peer_relay_view()).await {
        Ok(Ok(peers)) => merge(local, peers, replica),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot read the other replicas' relay view; serving this replica's");
            merge(local, Vec::new(), replica)
        }
        Err(_) => {
            tracing::warn!(
                "reading the other replicas' relay view took over {READ_TIMEOUT:?}; serving this replica's"
            );
            merge(local, Vec::new(), replica)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::relay::proto;
    use crate::server::metrics::RelayMetrics;
    use crate::server::registry::AttachInfo;
    use crate::server::store::{SnapshotSummary, StoreError};
    use std::collections::HashMap;

    /// A store sharing a relay view whose peers answer `peers` (an error, or never).
    struct SharedView {
        peers: Option<Result<Vec<PeerClusterStatus>, String>>,
    }

    #[async_trait::async_trait]
    impl StateStore for SharedView {
        async fn snapshot_hashes(&self, _: &str) -> Result<HashMap<String, String>, StoreError> {
            Ok(HashMap::new())
        }
        async fn snapshot_summary(&self, _: &str) -> Result<SnapshotSummary, StoreError> {
            Ok(SnapshotSummary::default())
        }
        async fn apply_snapshot_delta(
            &self,
            _: &str,
            _: u64,
            _: Vec<proto::Resource>,
            _: Vec<String>,
        ) -> Result<SnapshotSummary, StoreError> {
            Ok(SnapshotSummary::default())
        }
        async fn snapshot(&self, _: &str) -> Result<Vec<proto::Resource>, StoreError> {
            Ok(Vec::new())
        }
        async fn clusters(&self) -> Result<Vec<String>, StoreError> {
            Ok(Vec::new())
        }
        fn relay_view_replica(&self) -> Option<&str> {
            Some("a")
        }
        async fn peer_relay_view(&self) -> Result<Vec<PeerClusterStatus>, StoreError> {
            match &self.peers {
                Some(Ok(p)) => Ok(p.clone()),
                Some(Err(e)) => Err(StoreError::Unavailable(e.clone())),
                None => std::future::pending().await,
            }
        }
    }

    /// A registry knowing `idle` and holding `cluster`'s stream (while the handle lives).
    fn registry_holding(cluster: &str) -> (ClusterRegistry, crate::server::registry::StreamHandle) {
        let registry = ClusterRegistry::new(Arc::new(RelayMetrics::new()));
        registry.register("idle");
        let (handle, _) = registry.attach(
            cluster,
            AttachInfo {
                agent_version: "1.0.0".into(),
                cert_not_after: None,
                remote_address: None,
            },
        );
        (registry, handle)
    }

    fn names(view: &[ClusterStatus]) -> Vec<(&str, bool, Option<&str>)> {
        view.iter()
            .map(|s| (s.name.as_str(), s.connected, s.replica.as_deref()))
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn the_served_view_falls_back_to_this_replicas_own() {
        let (registry, _stream) = registry_holding("east");
        let peers = vec![peer(
            "b",
            status("west", true, Some("2026-11-22T10:00:00Z")),
        )];
        let ok = SharedView {
            peers: Some(Ok(peers)),
        };
        assert_eq!(
            names(&clusters(&registry, &ok).await),
            [
                ("east", true, Some("a")),
                ("idle", false, None),
                ("west", true, Some("b"))
            ]
        );
        let own = [("east", true, Some("a")), ("idle", false, None)];
        let failing = SharedView {
            peers: Some(Err("connection refused".into())),
        };
        assert_eq!(names(&clusters(&registry, &failing).await), own);
        // A store that never answers costs READ_TIMEOUT (virtual time here), not the request.
        let hanging = SharedView { peers: None };
        assert_eq!(names(&clusters(&registry, &hanging).await), own);
    }

    fn status(name: &str, connected: bool, since: Option<&str>) -> ClusterStatus {
        ClusterStatus {
            name: name.into(),
            connected,
            connected_since: since.map(|s| s.parse().unwrap()),
            ..ClusterStatus::default()
        }
    }

    fn peer(replica: &str, s: ClusterStatus) -> PeerClusterStatus {
        PeerClusterStatus {
            replica: replica.into(),
            status: s,
        }
    }

    fn view(merged: &[ClusterStatus]) -> Vec<(String, bool, Option<String>)> {
        merged
            .iter()
            .map(|s| (s.name.clone(), s.connected, s.replica.clone()))
            .collect()
    }

    #[test]
    fn peers_fill_in_what_this_replica_does_not_hold() {
        let local = vec![
            status("east", true, Some("2026-11-22T10:00:00Z")),
            status("west", false, None),
        ];
        let peers = vec![
            peer("b", status("west", true, Some("2026-11-22T10:01:00Z"))),
            peer("b", status("north", true, Some("2026-11-22T10:02:00Z"))),
        ];
        let merged = merge(local, peers, "a");
        assert_eq!(
            view(&merged),
            [
                ("east".into(), true, Some("a".into())),
                ("north".into(), true, Some("b".into())),
                ("west".into(), true, Some("b".into())),
            ]
        );
    }

    #[test]
    fn a_stream_held_here_wins_and_the_newest_claim_wins_among_peers() {
        let local = vec![status("east", true, Some("2026-11-22T10:00:00Z"))];
        let peers = vec![
            // A newer claim by another replica does not hide the stream this replica holds.
            peer("b", status("east", true, Some("2026-11-22T11:00:00Z"))),
            peer("b", status("west", true, Some("2026-11-22T10:00:00Z"))),
            peer("c", status("west", true, Some("2026-11-22T10:05:00Z"))),
            peer("d", status("west", true, Some("2026-11-22T10:01:00Z"))),
        ];
        let merged = merge(local, peers, "a");
        assert_eq!(
            view(&merged),
            [
                ("east".into(), true, Some("a".into())),
                ("west".into(), true, Some("c".into())),
            ]
        );
    }

    #[test]
    fn entries_of_an_earlier_process_of_this_replica_are_ignored() {
        let local = vec![status("east", false, None)];
        let merged = merge(
            local.clone(),
            vec![peer(
                "a",
                status("east", true, Some("2026-11-22T10:00:00Z")),
            )],
            "a",
        );
        assert_eq!(merged, local);
    }

    #[test]
    fn disconnected_peer_entries_and_an_empty_view_change_nothing() {
        let local = vec![status("east", false, None)];
        let merged = merge(
            local.clone(),
            vec![peer("b", status("east", false, None))],
            "a",
        );
        assert_eq!(merged, local);
        assert!(merge(vec![], vec![], "a").is_empty());
    }
}
