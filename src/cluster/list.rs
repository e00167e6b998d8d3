//! `cluster list`: the KubernetesCluster registrations joined with the server's live relay view
//! (`GET /api/v1/clusters`). A listing never fails on what it finds: an unreachable admin API leaves
//! the registrations with a warning.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use crate::api::KubernetesCluster;
use crate::check::relay_source::ClusterRelayStatus;
use crate::output::{Render, Style, table};

/// One cluster row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClusterRow {
    pub name: String,
    /// A KubernetesCluster exists for it; `null` when the registrations could not be read (no
    /// Kubernetes API, e.g. `meshctl demo` through `--admin-address`): unknown, not "no". The
    /// server's relay view says nothing about registrations.
    pub registered: Option<bool>,
    /// The server holds its relay stream (`null`: unknown).
    pub connected: Option<bool>,
    pub agent_version: Option<String>,
    /// `same`, `older`, `newer` than the server, or `null` when unknown.
    pub version_skew: Option<String>,
    pub connected_since: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
    /// Version of the last snapshot received.
    pub snapshot_version: Option<u64>,
    /// Seconds since the last snapshot, when known.
    pub snapshot_age_seconds: Option<i64>,
    pub snapshot_resources: Option<u64>,
    pub snapshot_bytes: Option<u64>,
    pub desired_config_version: Option<u64>,
    pub applied_config_version: Option<u64>,
    /// Expiry of the agent's relay client certificate.
    pub cert_not_after: Option<Timestamp>,
    pub last_disconnect_reason: Option<String>,
    /// The management server replica holding the agent's stream (`null` without a shared Redis
    /// state store, or when not connected).
    pub replica: Option<String>,
}

/// The listing.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterListing {
    pub server_version: Option<String>,
    pub clusters: Vec<ClusterRow>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// `same`/`older`/`newer` of `agent` against `server`.
pub fn skew(agent: &str, server: &str) -> Option<String> {
    let a = semver::Version::parse(agent.trim_start_matches('v')).ok()?;
    let s = semver::Version::parse(server.trim_start_matches('v')).ok()?;
    Some(
        match a.cmp(&s) {
            std::cmp::Ordering::Equal => "same",
            std::cmp::Ordering::Less => "older",
            std::cmp::Ordering::Greater => "newer",
        }
        .to_owned(),
    )
}

fn time(t: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> Option<Timestamp> {
    t.as_ref().map(|t| t.0)
}

/// Joins registrations (`None`: they could not be read) with the relay view. Pure: `now` for ages.
pub fn join(
    registered: Option<&[KubernetesCluster]>,
    relay: Option<&[ClusterRelayStatus]>,
    server_version: Option<&str>,
    now: Timestamp,
) -> Vec<ClusterRow> {
    let mut rows: BTreeMap<String, ClusterRow> = BTreeMap::new();
    for kc in registered.unwrap_or_default() {
        let name = kc.metadata.name.clone().unwrap_or_default();
        let status = kc.status.clone().unwrap_or_default();
        let snapshot_at = status
            .conditions
            .iter()
            .find(|c| c.type_ == "SnapshotReceived" && c.status == "True")
            .map(|c| c.last_transition_time.0);
        rows.insert(
            name.clone(),
            ClusterRow {
                name,
                registered: Some(true),
                connected: kc.status.as_ref().map(|s| s.connected),
                agent_version: status.agent_version.clone(),
                connected_since: time(&status.connected_since),
                last_seen: time(&status.last_seen),
                snapshot_version: status.snapshot_version.and_then(|v| u64::try_from(v).ok()),
                snapshot_age_seconds: snapshot_at.map(|t| now.as_second() - t.as_second()),
                snapshot_resources: status.resources.and_then(|r| u64::try_from(r).ok()),
                cert_not_after: time(&status.cert_expiry),
                ..ClusterRow::default()
            },
        );
    }
    for live in relay.unwrap_or_default() {
        let row = rows.entry(live.name.clone()).or_insert_with(|| ClusterRow {
            name: live.name.clone(),
            registered: registered.map(|_| false),
            ..ClusterRow::default()
        });
        row.connected = Some(live.connected);
        row.agent_version = live.agent_version.clone().or(row.agent_version.take());
        row.connected_since = live.connected_since.or(row.connected_since);
        row.last_seen = live.last_seen.or(row.last_seen);
        row.snapshot_version = Some(live.snapshot_version);
        row.snapshot_resources = Some(live.snapshot_resources);
        row.snapshot_bytes = Some(live.snapshot_bytes);
        row.desired_config_version = live.desired_config_version;
        row.applied_config_version = live.applied_config_version;
        row.cert_not_after = live.cert_not_after.or(row.cert_not_after);
        row.last_disconnect_reason = live.last_disconnect_reason.clone();
        row.replica = live.replica.clone();
    }
    for row in rows.values_mut() {
        row.version_skew = match (&row.agent_version, server_version) {
            (Some(a), Some(s)) => skew(a, s),
            _ => None,
        };
    }
    rows.into_values().collect()
}

fn ago(t: Option<Timestamp>, now: Timestamp) -> String {
    match t {
        None => "-".into(),
        Some(t) => seconds(now.as_second() - t.as_second()) + " ago",
    }
}

fn seconds(s: i64) -> String {
    match s.max(0) {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn yes_no(v: Option<bool>) -> String {
    match v {
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
        None => "unknown".into(),
    }
}

impl Render for ClusterListing {
    fn render_table(&self, _: &Style) -> String {
        if self.clusters.is_empty() {
            return "No clusters registered (register one with meshctl cluster register NAME --remote-context CONTEXT).\n".into();
        }
        let now = Timestamp::now();
        let rows = self.clusters.iter().map(|c| {
            [
                c.name.clone(),
                yes_no(c.registered),
                yes_no(c.connected),
                c.agent_version.clone().unwrap_or_else(|| "-".into()),
                c.version_skew.clone().unwrap_or_else(|| "-".into()),
                ago(c.last_seen, now),
                c.snapshot_age_seconds
                    .map(seconds)
                    .unwrap_or_else(|| "-".into()),
                c.snapshot_resources
                    .map(|r| r.to_string())
                    .unwrap_or_else(|| "-".into()),
                c.cert_not_after
                    .map(|t| t.strftime("%Y-%m-%d").to_string())
                    .unwrap_or_else(|| "-".into()),
            ]
        });
        table::table(
            [
                "NAME",
                "REGISTERED",
                "CONNECTED",
                "AGENT",
                "SKEW",
                "LAST SEEN",
                "SNAPSHOT AGE",
                "RESOURCES",
                "CERT EXPIRY",
            ],
            rows,
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn kc(name: &str, status: serde_json::Value) -> KubernetesCluster {
        serde_json::from_value(
            json!({"apiVersion": "admin.meshctl.dev/v1alpha1", "kind": "KubernetesCluster",
            "metadata": {"name": name}, "spec": {}, "status": status}),
        )
        .unwrap()
    }

    #[test]
    fn registrations_join_the_live_view() {
        let now: Timestamp = "2026-11-22T06:00:00Z".parse().unwrap();
        let registered = [
            kc(
                "east",
                json!({"connected": false, "agentVersion": "0.1.0", "resources": 4,
                "conditions": [{"type": "SnapshotReceived", "status": "True", "lastTransitionTime": "2026-11-22T05:59:00Z", "reason": "r", "message": ""}]}),
            ),
            kc("west", json!(null)),
        ];
        let live = [
            ClusterRelayStatus {
                name: "east".into(),
                connected: true,
                agent_version: Some("0.2.0".into()),
                snapshot_version: 3,
                snapshot_resources: 9,
                ..Default::default()
            },
            ClusterRelayStatus {
                name: "ghost".into(),
                connected: false,
                ..Default::default()
            },
        ];
        let rows = join(Some(&registered), Some(&live), Some("0.2.0"), now);
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["east", "ghost", "west"]);
        assert_eq!(rows[0].connected, Some(true));
        assert_eq!(rows[0].version_skew.as_deref(), Some("same"));
        assert_eq!(rows[0].snapshot_resources, Some(9));
        assert_eq!(rows[0].snapshot_age_seconds, Some(60));
        assert_eq!(rows[0].registered, Some(true));
        assert_eq!(rows[1].registered, Some(false));
        assert_eq!(rows[2].connected, None);
        let only_registered = join(Some(&registered), None, Some("0.2.0"), now);
        assert_eq!(only_registered[0].version_skew.as_deref(), Some("older"));
        assert_eq!(only_registered[0].connected, Some(false));
    }

    /// `meshctl demo` through `--admin-address`: no Kubernetes API, so no registrations to read.
    /// The server's clusters are connected, and whether they are registered is unknown, not "no".
    #[test]
    fn without_registrations_registered_is_unknown() {
        let now: Timestamp = "2026-11-22T06:00:00Z".parse().unwrap();
        let live = [ClusterRelayStatus {
            name: "cluster-1".into(),
            connected: true,
            ..Default::default()
        }];
        let rows = join(None, Some(&live), None, now);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].registered, None);
        assert_eq!(rows[0].connected, Some(true));
        let listing = ClusterListing {
            clusters: rows,
            ..ClusterListing::default()
        };
        let text = listing.render_table(&Style::new(false));
        let row = text.lines().nth(1).unwrap();
        let columns: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(columns[..3], ["cluster-1", "unknown", "yes"], "{text}");
        let json = serde_json::to_value(&listing).unwrap();
        assert!(json["clusters"][0]["registered"].is_null(), "{json}");
    }

    #[test]
    fn table_and_empty_listing() {
        let listing = ClusterListing {
            server_version: None,
            clusters: vec![ClusterRow {
                name: "east".into(),
                registered: Some(true),
                connected: Some(true),
                ..Default::default()
            }],
            warnings: vec![],
        };
        let text = listing.render_table(&Style::new(false));
        assert!(text.starts_with("NAME"), "{text}");
        assert!(text.contains("east"));
        assert!(
            ClusterListing::default()
                .render_table(&Style::new(false))
                .contains("No clusters registered")
        );
    }
}
