//! The table form of the global service catalog (`meshctl get destinations`).

use crate::translate::catalog::ServiceCatalog;

use super::{Render, Style, table};

impl Render for ServiceCatalog {
    fn render_table(&self, _style: &Style) -> String {
        let rows = self.services.iter().map(|s| {
            let clusters: Vec<&str> = s.instances.iter().map(|i| i.cluster.as_str()).collect();
            let mut ports: Vec<String> = s
                .instances
                .iter()
                .flat_map(|i| i.ports.iter().map(|p| format!("{}/{}", p.port, p.protocol)))
                .collect();
            ports.sort();
            ports.dedup();
            let vds = if s.virtual_destinations.is_empty() {
                "-".to_owned()
            } else {
                s.virtual_destinations.join(",")
            };
            [
                s.namespace.clone(),
                s.name.clone(),
                clusters.join(","),
                ports.join(","),
                vds,
            ]
        });
        let mut out = table::table(
            [
                "NAMESPACE",
                "NAME",
                "CLUSTERS",
                "PORTS",
                "VIRTUAL DESTINATIONS",
            ],
            rows,
        );
        if !self.virtual_destinations.is_empty() {
            out.push('\n');
            let rows = self.virtual_destinations.iter().map(|v| {
                [
                    format!("{}/{}", v.namespace, v.name),
                    v.hosts.join(","),
                    v.backends.len().to_string(),
                    v.state.as_str().to_owned(),
                ]
            });
            out.push_str(&table::table(
                ["VIRTUAL DESTINATION", "HOSTS", "BACKENDS", "STATE"],
                rows,
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn renders_a_table() {
        let catalog: ServiceCatalog = serde_json::from_value(json!({
            "services": [{
                "namespace": "bookinfo", "name": "reviews",
                "instances": [
                    {"cluster": "cluster-1", "hostname": "reviews.bookinfo.svc.cluster.local",
                     "ports": [{"name": "http", "port": 9080, "protocol": "TCP"}], "labels": {}},
                    {"cluster": "cluster-2", "hostname": "reviews.bookinfo.svc.cluster.local",
                     "ports": [{"name": "http", "port": 9080, "protocol": "TCP"}], "labels": {}}
                ],
                "virtual_destinations": ["bookinfo-config/reviews"]
            }],
            "virtual_destinations": [{
                "namespace": "bookinfo-config", "name": "reviews", "hosts": ["reviews.global"],
                "backends": [
                    {"cluster": "cluster-1", "namespace": "bookinfo", "name": "reviews"},
                    {"cluster": "cluster-2", "namespace": "bookinfo", "name": "reviews"}
                ],
                "state": "ACCEPTED"
            }]
        }))
        .unwrap();
        let text = catalog.render_table(&Style::new(false));
        assert!(text.starts_with("NAMESPACE"), "{text}");
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>()
                    == [
                        "bookinfo",
                        "reviews",
                        "cluster-1,cluster-2",
                        "9080/TCP",
                        "bookinfo-config/reviews"
                    ]),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>()
                    == ["bookinfo-config/reviews", "reviews.global", "2", "ACCEPTED"]),
            "{text}"
        );
    }
}
