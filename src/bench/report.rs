//! The benchmark report (`-o json` is the machine form) and its human form.

use crate::bench::fleet::FleetStats;
use crate::bench::measure::Percentiles;
use crate::bench::nofile::NofileLimit;
use crate::bench::params::BenchParams;
use crate::output::{Render, Style, table};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    pub cores: usize,
    pub load_average_start: Option<[f64; 3]>,
    pub load_average_end: Option<[f64; 3]>,
    pub nofile: NofileLimit,
    pub server: &'static str,
    pub rss_method: &'static str,
    pub cpu_method: &'static str,
}

/// Phase 1: every agent bootstraps (token + CSR) and connects with mTLS at once.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Storm {
    pub agents: usize,
    pub connected: usize,
    pub synced: usize,
    /// From `go` to half / all agents holding a stream.
    pub seconds_to_connect_half: Option<f64>,
    pub seconds_to_connect_all: Option<f64>,
    /// Until every agent's snapshot is stored and its configuration acknowledged.
    pub seconds_to_sync_all: Option<f64>,
    pub bootstraps_issued: u64,
    pub rate_limited: u64,
    pub handshake_failures: u64,
    pub snapshot_resources_received: u64,
    pub wire_bytes_received: u64,
    pub wire_bytes_sent: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Memory {
    pub rss_before_server_bytes: u64,
    pub rss_server_started_bytes: u64,
    pub rss_all_connected_bytes: u64,
    pub rss_after_idle_bytes: u64,
    /// (all connected - server started) / connected agents.
    pub rss_per_agent_bytes: u64,
    /// Snapshot bodies the server stores (part of the per-agent figure).
    pub snapshot_bytes_stored: u64,
    /// The fleet process (agents), for comparison.
    pub fleet_rss_bytes: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Propagation {
    pub changes: usize,
    pub acked: usize,
    pub expected: usize,
    /// From the change at the server to each agent's acknowledgement received.
    pub latency: Option<Percentiles>,
    pub max_ms_per_change: Vec<f64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Idle {
    pub window_seconds: f64,
    pub server_cpu_seconds: f64,
    /// Percent of one core.
    pub server_cpu_percent: f64,
    pub messages_received: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Reconnect {
    pub store: String,
    pub seconds_restart_gap: f64,
    pub connected: usize,
    pub synced: usize,
    /// From the restarted server listening to every agent reconnected, its snapshot
    /// in place and the changed configuration acknowledged.
    pub seconds_to_resync_all: Option<f64>,
    pub snapshot_resources_total: u64,
    pub snapshot_resources_resent: u64,
    pub config_resources_total: u64,
    pub config_resources_resent: u64,
    pub config_bytes_sent: u64,
    pub wire_bytes_received: u64,
    pub wire_bytes_sent: u64,
    pub agent_snapshot_resources_sent: u64,
    pub agent_config_resources_received: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Messages {
    pub limit_bytes: usize,
    pub largest_received_bytes: u64,
    pub largest_sent_bytes: u64,
    pub received: u64,
    pub sent: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub params: BenchParams,
    pub environment: Environment,
    pub storm: Storm,
    pub memory: Memory,
    pub propagation: Option<Propagation>,
    pub idle: Option<Idle>,
    pub reconnect: Option<Reconnect>,
    pub messages: Messages,
    pub fleet: Option<FleetStats>,
    pub completed: bool,
    pub failure: Option<String>,
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

fn kib(b: u64) -> String {
    format!("{:.1} KiB", b as f64 / 1024.0)
}

fn secs(s: Option<f64>) -> String {
    s.map(|s| format!("{s:.2} s")).unwrap_or_else(|| "-".into())
}

impl Render for BenchReport {
    fn render_table(&self, _: &Style) -> String {
        let p = &self.params;
        let s = &self.storm;
        let m = &self.memory;
        let mut rows: Vec<(&str, String)> = vec![
            (
                "Run",
                format!(
                    "{} agents x {} resources (~{} B), {} config resources, {} changes",
                    p.agents, p.resources, p.resource_bytes, p.config_resources, p.changes
                ),
            ),
            (
                "Load average",
                format!(
                    "{:?} -> {:?}",
                    self.environment.load_average_start, self.environment.load_average_end
                ),
            ),
            (
                "Connected",
                format!("{}/{} (synced {})", s.connected, s.agents, s.synced),
            ),
            (
                "Storm",
                format!(
                    "half {} / all {} / synced {}; {} rate-limited",
                    secs(s.seconds_to_connect_half),
                    secs(s.seconds_to_connect_all),
                    secs(s.seconds_to_sync_all),
                    s.rate_limited
                ),
            ),
            (
                "Server RSS",
                format!(
                    "{} idle -> {} with agents ({} per agent, of which snapshots {})",
                    mib(m.rss_server_started_bytes),
                    mib(m.rss_all_connected_bytes),
                    kib(m.rss_per_agent_bytes),
                    kib(m.snapshot_bytes_stored / (s.connected.max(1) as u64))
                ),
            ),
        ];
        if let Some(pr) = &self.propagation {
            rows.push((
                "Propagation",
                match &pr.latency {
                    Some(l) => format!(
                        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({}/{} acks)",
                        l.p50_ms, l.p99_ms, l.max_ms, pr.acked, pr.expected
                    ),
                    None => format!("{}/{} acks", pr.acked, pr.expected),
                },
            ));
        }
        if let Some(i) = &self.idle {
            rows.push((
                "Idle CPU",
                format!(
                    "{:.2}% of a core over {:.0} s",
                    i.server_cpu_percent, i.window_seconds
                ),
            ));
        }
        if let Some(r) = &self.reconnect {
            rows.push((
                "Reconnect",
                format!(
                    "{} ({} store); snapshot resources resent {}/{}, config resent {}/{}, wire in {} out {}",
                    secs(r.seconds_to_resync_all),
                    r.store,
                    r.snapshot_resources_resent,
                    r.snapshot_resources_total,
                    r.config_resources_resent,
                    r.config_resources_total,
                    kib(r.wire_bytes_received),
                    kib(r.wire_bytes_sent)
                ),
            ));
        }
        rows.push((
            "Largest message",
            format!(
                "in {} / out {} (limit {})",
                self.messages.largest_received_bytes,
                self.messages.largest_sent_bytes,
                self.messages.limit_bytes
            ),
        ));
        rows.push((
            "Result",
            match &self.failure {
                None => "completed".into(),
                Some(f) => format!("incomplete: {f}"),
            },
        ));
        table::key_values(rows)
    }
}
