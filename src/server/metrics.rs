//! The server's Prometheus metrics (DESIGN.md §4).

use crate::exposition::{self, Format};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Mutex;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterLabel {
    pub cluster: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: String,
}

/// All server metrics; counters are also read by tests and benchmarks.
pub struct RelayMetrics {
    registry: Mutex<Registry>,
    pub agents_connected: Family<ClusterLabel, Gauge>,
    pub last_seen: Family<ClusterLabel, Gauge>,
    pub push_latency: Histogram,
    pub ack_latency: Histogram,
    pub streams_rejected: Family<ReasonLabel, Counter>,
    pub connections_refused: Family<ReasonLabel, Counter>,
    pub bootstraps: Family<ResultLabel, Counter>,
    pub renewals: Family<ResultLabel, Counter>,
    pub snapshot_resources_received: Counter,
    pub snapshot_bytes_received: Counter,
    pub snapshot_resources_rejected: Counter,
    pub config_resources_sent: Counter,
    pub config_bytes_sent: Counter,
    pub config_apply_errors: Counter,
    pub metric_samples_received: Counter,
    pub streams_opened: Counter,
    /// Bytes read from / written to relay connections (TCP payload: TLS records,
    /// handshakes included).
    pub wire_bytes_received: Counter,
    pub wire_bytes_sent: Counter,
    /// Relay messages received / sent on Connect streams.
    pub messages_received: Counter,
    pub messages_sent: Counter,
    /// The largest encoded (uncompressed) message received / sent so far.
    pub largest_message_received: Gauge,
    pub largest_message_sent: Gauge,
    /// When the relay server certificate served now expires (Unix seconds).
    pub server_cert_not_after: Gauge,
}

impl std::fmt::Debug for RelayMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RelayMetrics")
    }
}

fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Default for RelayMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl RelayMetrics {
    pub fn new() -> Self {
        let m = Self {
            registry: Mutex::new(Registry::default()),
            agents_connected: Family::default(),
            last_seen: Family::default(),
            push_latency: latency(),
            ack_latency: latency(),
            streams_rejected: Family::default(),
            connections_refused: Family::default(),
            bootstraps: Family::default(),
            renewals: Family::default(),
            snapshot_resources_received: Counter::default(),
            snapshot_bytes_received: Counter::default(),
            snapshot_resources_rejected: Counter::default(),
            config_resources_sent: Counter::default(),
            config_bytes_sent: Counter::default(),
            config_apply_errors: Counter::default(),
            metric_samples_received: Counter::default(),
            streams_opened: Counter::default(),
            wire_bytes_received: Counter::default(),
            wire_bytes_sent: Counter::default(),
            messages_received: Counter::default(),
            messages_sent: Counter::default(),
            largest_message_received: Gauge::default(),
            largest_message_sent: Gauge::default(),
            server_cert_not_after: Gauge::default(),
        };
        if let Ok(mut r) = m.registry.lock() {
            r.register(
                "meshctl_relay_agents_connected",
                "1 while the cluster's agent holds a relay stream, else 0",
                m.agents_connected.clone(),
            );
            r.register(
                "meshctl_relay_last_seen_seconds",
                "Unix time of the last message from the cluster's agent",
                m.last_seen.clone(),
            );
            r.register(
                "meshctl_relay_config_push_seconds",
                "Time from a configuration change to its delta being sent to an agent",
                m.push_latency.clone(),
            );
            r.register(
                "meshctl_relay_config_ack_seconds",
                "Time from sending a configuration delta to the agent's acknowledgement",
                m.ack_latency.clone(),
            );
            r.register(
                "meshctl_relay_streams_rejected",
                "Relay streams and calls refused, by reason",
                m.streams_rejected.clone(),
            );
            r.register(
                "meshctl_relay_connections_refused",
                "Relay connections closed before they were established, by reason (pending_cap, source_cap, connection_cap, client_hello_timeout, handshake_timeout, handshake_failed)",
                m.connections_refused.clone(),
            );
            r.register(
                "meshctl_relay_bootstraps",
                "Bootstrap calls by result",
                m.bootstraps.clone(),
            );
            r.register(
                "meshctl_relay_renewals",
                "Certificate renewals by result",
                m.renewals.clone(),
            );
            r.register(
                "meshctl_relay_snapshot_resources_received",
                "Snapshot resources received from agents (upserts)",
                m.snapshot_resources_received.clone(),
            );
            r.register(
                "meshctl_relay_snapshot_bytes_received",
                "Bytes of snapshot resource bodies received from agents",
                m.snapshot_bytes_received.clone(),
            );
            r.register(
                "meshctl_relay_snapshot_resources_rejected",
                "Snapshot resources rejected as invalid",
                m.snapshot_resources_rejected.clone(),
            );
            r.register(
                "meshctl_relay_config_resources_sent",
                "Configuration resources sent to agents (upserts)",
                m.config_resources_sent.clone(),
            );
            r.register(
                "meshctl_relay_config_bytes_sent",
                "Bytes of configuration resource bodies sent to agents",
                m.config_bytes_sent.clone(),
            );
            r.register(
                "meshctl_relay_config_apply_errors",
                "Per-resource errors reported in agents' acknowledgements",
                m.config_apply_errors.clone(),
            );
            r.register(
                "meshctl_relay_metric_samples_received",
                "Metric samples forwarded by agents",
                m.metric_samples_received.clone(),
            );
            r.register(
                "meshctl_relay_streams_opened",
                "Relay streams accepted",
                m.streams_opened.clone(),
            );
            r.register(
                "meshctl_relay_wire_bytes_received",
                "Bytes read from relay connections (TLS included)",
                m.wire_bytes_received.clone(),
            );
            r.register(
                "meshctl_relay_wire_bytes_sent",
                "Bytes written to relay connections (TLS included)",
                m.wire_bytes_sent.clone(),
            );
            r.register(
                "meshctl_relay_messages_received",
                "Messages received on agent streams",
                m.messages_received.clone(),
            );
            r.register(
                "meshctl_relay_messages_sent",
                "Messages sent on agent streams",
                m.messages_sent.clone(),
            );
            r.register(
                "meshctl_relay_largest_message_received_bytes",
                "Largest encoded message received on an agent stream",
                m.largest_message_received.clone(),
            );
            r.register(
                "meshctl_relay_largest_message_sent_bytes",
                "Largest encoded message sent on an agent stream",
                m.largest_message_sent.clone(),
            );
            r.register(
                "meshctl_relay_server_cert_not_after_seconds",
                "When the relay server certificate served now expires (Unix time); it is rotated after two thirds of its lifetime",
                m.server_cert_not_after.clone(),
            );
        }
        m
    }

    /// Counts a message of `encoded_len` bytes received on an agent stream.
    pub fn message_received(&self, encoded_len: usize) {
        self.messages_received.inc();
        let n = i64::try_from(encoded_len).unwrap_or(i64::MAX);
        self.largest_message_received
            .inner()
            .fetch_max(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// Counts a message of `encoded_len` bytes sent on an agent stream.
    pub fn message_sent(&self, encoded_len: usize) {
        self.messages_sent.inc();
        let n = i64::try_from(encoded_len).unwrap_or(i64::MAX);
        self.largest_message_sent
            .inner()
            .fetch_max(n, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn reject(&self, reason: &str) {
        self.streams_rejected
            .get_or_create(&ReasonLabel {
                reason: reason.to_string(),
            })
            .inc();
    }

    pub fn connection_refused(&self, reason: &str) {
        self.connections_refused
            .get_or_create(&ReasonLabel {
                reason: reason.to_string(),
            })
            .inc();
    }

    pub fn connections_refused(&self, reason: &str) -> u64 {
        self.connections_refused
            .get_or_create(&ReasonLabel {
                reason: reason.to_string(),
            })
            .get()
    }

    pub fn rejected(&self, reason: &str) -> u64 {
        self.streams_rejected
            .get_or_create(&ReasonLabel {
                reason: reason.to_string(),
            })
            .get()
    }

    pub fn set_connected(&self, cluster: &str, connected: bool) {
        self.agents_connected
            .get_or_create(&ClusterLabel {
                cluster: exposition::label_value(cluster),
            })
            .set(i64::from(connected));
    }

    pub fn seen(&self, cluster: &str, unix_seconds: i64) {
        self.last_seen
            .get_or_create(&ClusterLabel {
                cluster: exposition::label_value(cluster),
            })
            .set(unix_seconds);
    }

    /// The registry in `format` (see [`crate::exposition`]).
    pub fn encode(&self, format: Format) -> String {
        self.registry
            .lock()
            .map(|r| exposition::encode(&r, format))
            .unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_documented_names() {
        let m = RelayMetrics::new();
        m.set_connected("c1", true);
        m.seen("c1", 42);
        m.push_latency.observe(0.01);
        let text = m.encode(Format::Text);
        assert!(
            text.contains("meshctl_relay_agents_connected{cluster=\"c1\"} 1"),
            "{text}"
        );
        assert!(text.contains("meshctl_relay_last_seen_seconds{cluster=\"c1\"} 42"));
        assert!(text.contains("meshctl_relay_config_push_seconds_bucket"));
        assert!(text.contains("meshctl_relay_config_ack_seconds_count 0"));
    }

    #[test]
    fn largest_message_keeps_the_maximum() {
        let m = RelayMetrics::new();
        m.message_sent(10);
        m.message_sent(300);
        m.message_sent(20);
        m.message_received(7);
        assert_eq!(m.largest_message_sent.get(), 300);
        assert_eq!(m.largest_message_received.get(), 7);
        assert_eq!(m.messages_sent.get(), 3);
        assert!(
            m.encode(Format::OpenMetrics)
                .contains("meshctl_relay_largest_message_sent_bytes 300")
        );
    }
}
