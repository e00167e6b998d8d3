//! What `cluster register` did: every object created or changed on both clusters, the token, the
//! relay address and the connection state (`-o json` schema in docs/clusters.md).

use serde::Serialize;

use super::Side;
use super::relay_address::RelayAddress;
use super::token::TokenAction;
use crate::kube::apply::{Applied, ApplyAction};
use crate::output::{Render, Style, table};

/// One object register wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Written {
    /// Which cluster.
    pub cluster: Side,
    #[serde(flatten)]
    pub object: Applied,
}

/// The registration summary.
#[derive(Debug, Clone, Serialize)]
pub struct Registration {
    pub name: String,
    pub mgmt_namespace: String,
    pub agent_namespace: String,
    pub relay_address: RelayAddress,
    pub server_version: Option<String>,
    pub token: TokenAction,
    pub objects: Vec<Written>,
    /// `true` once the server reported it connected with a snapshot; `null` without `--wait`.
    pub connected: Option<bool>,
}

impl Registration {
    /// Adds objects written to `side`.
    pub fn add(&mut self, side: Side, applied: impl IntoIterator<Item = Applied>) {
        self.objects
            .extend(applied.into_iter().map(|object| Written {
                cluster: side,
                object,
            }));
    }

    fn count(&self, action: ApplyAction) -> usize {
        self.objects
            .iter()
            .filter(|o| o.object.action == action)
            .count()
    }
}

impl Render for Registration {
    fn render_table(&self, _: &Style) -> String {
        let rows = self.objects.iter().map(|o| {
            [
                match o.cluster {
                    Side::Mgmt => "mgmt".to_owned(),
                    Side::Remote => "remote".to_owned(),
                },
                o.object.kind.clone(),
                o.object.namespace.clone().unwrap_or_else(|| "-".to_owned()),
                o.object.name.clone(),
                o.object.action.to_string(),
            ]
        });
        let mut out = table::table(["CLUSTER", "KIND", "NAMESPACE", "NAME", "RESULT"], rows);
        out.push_str(&format!(
            "\ncluster {} registered: {} created, {} configured, {} unchanged; token {}; relay address {}",
            self.name,
            self.count(ApplyAction::Created),
            self.count(ApplyAction::Configured),
            self.count(ApplyAction::Unchanged),
            self.token,
            self.relay_address.address,
        ));
        out.push_str(match self.connected {
            Some(true) => "; connected\n",
            Some(false) => "; not connected\n",
            None => "; not waited for (--wait=false): watch with meshctl cluster list\n",
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::relay_address::AddressSource;

    #[test]
    fn summary_table_and_json() {
        let mut r = Registration {
            name: "east".into(),
            mgmt_namespace: "mesh-system".into(),
            agent_namespace: "agents".into(),
            relay_address: RelayAddress {
                address: "r:1".into(),
                source: AddressSource::Flag,
                warnings: vec![],
            },
            server_version: Some("0.1.0".into()),
            token: TokenAction::Created,
            objects: vec![],
            connected: None,
        };
        r.add(
            Side::Mgmt,
            [Applied {
                kind: "Secret".into(),
                namespace: Some("mesh-system".into()),
                name: "relay-identity-token-east".into(),
                component: "cluster-registration".into(),
                action: ApplyAction::Created,
            }],
        );
        let text = r.render_table(&Style::new(false));
        let row: Vec<&str> = text.lines().nth(1).unwrap().split_whitespace().collect();
        assert_eq!(
            row,
            [
                "mgmt",
                "Secret",
                "mesh-system",
                "relay-identity-token-east",
                "created"
            ]
        );
        assert!(
            text.contains(
                "cluster east registered: 1 created, 0 configured, 0 unchanged; token created"
            ),
            "{text}"
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["objects"][0]["cluster"], "mgmt");
        assert_eq!(json["objects"][0]["kind"], "Secret");
        assert_eq!(json["relay_address"]["source"], "flag");
        assert_eq!(json["connected"], serde_json::Value::Null);
    }
}
