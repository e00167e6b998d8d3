//! The agent's Prometheus metrics.

use crate::exposition::{self, Format};
use crate::license::Product;
use crate::relay::entitlements::AnnouncedEntitlements;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::Mutex;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LicenseInfoLabels {
    pub state: String,
    pub modules: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProductLabel {
    pub product: String,
}

pub struct AgentMetrics {
    registry: Mutex<Registry>,
    pub connected: Gauge,
    pub reconnects: Counter,
    pub snapshot_resources_sent: Counter,
    pub snapshot_bytes_sent: Counter,
    pub snapshot_resources_rejected: Counter,
    pub config_resources_received: Counter,
    pub config_apply_errors: Counter,
    pub config_version: Gauge,
    pub cert_not_after: Gauge,
    pub bootstraps: Counter,
    pub renewals: Counter,
    pub license_info: Family<LicenseInfoLabels, Gauge>,
    pub license_product: Family<ProductLabel, Gauge>,
    pub license_expires_at: Gauge,
}

impl std::fmt::Debug for AgentMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AgentMetrics")
    }
}

impl Default for AgentMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl AgentMetrics {
    pub fn new() -> Self {
        let m = Self {
            registry: Mutex::new(Registry::default()),
            connected: Gauge::default(),
            reconnects: Counter::default(),
            snapshot_resources_sent: Counter::default(),
            snapshot_bytes_sent: Counter::default(),
            snapshot_resources_rejected: Counter::default(),
            config_resources_received: Counter::default(),
            config_apply_errors: Counter::default(),
            config_version: Gauge::default(),
            cert_not_after: Gauge::default(),
            bootstraps: Counter::default(),
            renewals: Counter::default(),
            license_info: Family::default(),
            license_product: Family::default(),
            license_expires_at: Gauge::default(),
        };
        if let Ok(mut r) = m.registry.lock() {
            r.register(
                "meshctl_agent_connected",
                "1 while the relay stream is up",
                m.connected.clone(),
            );
            r.register(
                "meshctl_agent_reconnects",
                "Relay stream attempts after the first",
                m.reconnects.clone(),
            );
            r.register(
                "meshctl_agent_snapshot_resources_sent",
                "Snapshot resources sent (upserts)",
                m.snapshot_resources_sent.clone(),
            );
            r.register(
                "meshctl_agent_snapshot_bytes_sent",
                "Bytes of snapshot resource bodies sent",
                m.snapshot_bytes_sent.clone(),
            );
            r.register(
                "meshctl_agent_snapshot_resources_rejected",
                "Snapshot resources the server rejected",
                m.snapshot_resources_rejected.clone(),
            );
            r.register(
                "meshctl_agent_config_resources_received",
                "Configuration resources received (upserts)",
                m.config_resources_received.clone(),
            );
            r.register(
                "meshctl_agent_config_apply_errors",
                "Configuration resources that failed to apply",
                m.config_apply_errors.clone(),
            );
            r.register(
                "meshctl_agent_config_version",
                "Last acknowledged configuration version",
                m.config_version.clone(),
            );
            r.register(
                "meshctl_agent_cert_not_after_seconds",
                "Unix time at which the client certificate expires",
                m.cert_not_after.clone(),
            );
            r.register(
                "meshctl_agent_bootstraps",
                "Successful bootstraps",
                m.bootstraps.clone(),
            );
            r.register(
                "meshctl_agent_renewals",
                "Successful certificate renewals",
                m.renewals.clone(),
            );
            r.register(
                "meshctl_agent_license_info",
                "The management server's license as announced when the stream opened (1 for its state and modules)",
                m.license_info.clone(),
            );
            r.register(
                "meshctl_agent_license_product",
                "1 when the management server's license is usable and grants the product",
                m.license_product.clone(),
            );
            r.register(
                "meshctl_agent_license_expires_at_seconds",
                "Unix time at which the management server's license expires (0: unknown)",
                m.license_expires_at.clone(),
            );
        }
        m
    }

    /// Records the license the server announced in Welcome.
    pub fn set_license(&self, announced: &AnnouncedEntitlements) {
        self.license_info.clear();
        self.license_info
            .get_or_create(&LicenseInfoLabels {
                state: announced.license.as_str().to_owned(),
                modules: exposition::label_value(&announced.modules_text()),
            })
            .set(1);
        self.license_product.clear();
        let known = Product::ALL.iter().map(|p| p.as_str().to_owned());
        for product in known.chain(announced.products.iter().cloned()) {
            let granted = i64::from(announced.grants(&product));
            self.license_product
                .get_or_create(&ProductLabel {
                    product: exposition::label_value(&product),
                })
                .set(granted);
        }
        self.license_expires_at
            .set(announced.expires_at.map_or(0, |t| t.as_second()));
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
mod tests {
    use super::*;

    #[test]
    fn announced_names_are_escaped_in_labels() {
        let m = AgentMetrics::new();
        let announced =
            AnnouncedEntitlements::decode(&["license:valid", "product:a\"b\\c", "module:x\"y"]);
        m.set_license(&announced);
        let text = m.encode(Format::Text);
        assert!(
            text.contains("meshctl_agent_license_product{product=\"a\\\"b\\\\c\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("meshctl_agent_license_info{state=\"valid\",modules=\"x\\\"y\"} 1"),
            "{text}"
        );
    }

    #[test]
    fn unknown_is_the_state_of_a_server_that_announced_none() {
        let m = AgentMetrics::new();
        m.set_license(&AnnouncedEntitlements::decode::<&str>(&[]));
        assert!(
            m.encode(Format::OpenMetrics)
                .contains("meshctl_agent_license_info{state=\"unknown\",modules=\"-\"} 1")
        );
    }
}
