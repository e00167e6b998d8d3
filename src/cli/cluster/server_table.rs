//! The table of the server's own cluster list (`ClusterList`, as `meshctl demo` prints it): state,
//! versions, snapshot and config sync per cluster.

use crate::output::{Render, Style, table};
use crate::server::admin::ClusterList;
use crate::server::registry::ClusterStatus;

fn ago(t: Option<jiff::Timestamp>) -> String {
    match t {
        None => "-".into(),
        Some(t) => {
            let secs = jiff::Timestamp::now().as_second() - t.as_second();
            match secs {
                s if s < 0 => "now".into(),
                s if s < 120 => format!("{s}s ago"),
                s if s < 7200 => format!("{}m ago", s / 60),
                s if s < 172_800 => format!("{}h ago", s / 3600),
                s => format!("{}d ago", s / 86_400),
            }
        }
    }
}

fn until(t: Option<jiff::Timestamp>) -> String {
    match t {
        None => "-".into(),
        Some(t) => {
            let secs = t.as_second() - jiff::Timestamp::now().as_second();
            if secs <= 0 {
                "expired".into()
            } else if secs < 7200 {
                format!("in {}m", secs / 60)
            } else if secs < 172_800 {
                format!("in {}h", secs / 3600)
            } else {
                format!("in {}d", secs / 86_400)
            }
        }
    }
}

fn row(c: &ClusterStatus) -> Vec<String> {
    let config = match (c.applied_config_version, c.desired_config_version) {
        (Some(a), Some(d)) if a == d && c.config_errors.is_empty() => format!("{a} (in sync)"),
        (Some(a), Some(d)) if a == d => format!("{a} ({} errors)", c.config_errors.len()),
        (Some(a), Some(d)) => format!("{a}/{d}"),
        (None, Some(d)) => format!("-/{d}"),
        (a, None) => a.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
    };
    vec![
        c.name.clone(),
        if c.connected {
            "yes".into()
        } else {
            "no".into()
        },
        c.agent_version.clone().unwrap_or_else(|| "-".into()),
        ago(c.last_seen),
        format!("{} ({} B)", c.snapshot_resources, c.snapshot_bytes),
        config,
        until(c.cert_not_after),
    ]
}

impl Render for ClusterList {
    fn render_table(&self, _: &Style) -> String {
        if self.clusters.is_empty() {
            return "No clusters registered.\n".into();
        }
        table::table(
            [
                "NAME",
                "CONNECTED",
                "AGENT",
                "LAST SEEN",
                "SNAPSHOT",
                "CONFIG",
                "CERT EXPIRES",
            ],
            self.clusters.iter().map(row),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_shows_state_and_sync() {
        let list = ClusterList {
            clusters: vec![ClusterStatus {
                name: "cluster-1".into(),
                connected: true,
                agent_version: Some("0.1.0".into()),
                snapshot_resources: 3,
                snapshot_bytes: 120,
                applied_config_version: Some(2),
                desired_config_version: Some(2),
                ..ClusterStatus::default()
            }],
        };
        let text = list.render_table(&Style::new(false));
        assert!(text.contains("cluster-1"));
        assert!(text.contains("yes"));
        assert!(text.contains("2 (in sync)"));
        assert!(text.contains("3 (120 B)"));
    }
}
