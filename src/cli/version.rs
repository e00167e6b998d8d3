//! `meshctl version`: what this binary is. Touches no network and no file, unless `--server`
//! asks for the installed management server's version and its agents'.

use std::time::Duration;

use serde::Serialize;

use crate::check::relay_source::{AdminAddressSource, ClusterRelayStatus, RelayStatusSource};
use crate::cli::Context;
use crate::cli::cluster::{admin_source, connect};
use crate::cli::duration::parse_duration;
use crate::cluster::list::skew;
use crate::cluster::{Side, preflight};
use crate::exit::Outcome;
use crate::output::{Render, Style, table};
use crate::version::BuildInfo;

/// Print the version, git commit, build date and target of meshctl
///
/// Touches no network and no file. With --server it also reads the management server's version
/// (from its Deployment in -n) and its agents' (from the server's relay view), and warns about
/// version skew between them and this meshctl.
///
/// Examples:
///   meshctl version
///   meshctl version --server -o json
#[derive(Debug, Clone, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Also report the installed management server's version and its agents' (reads the cluster)
    #[arg(long)]
    pub server: bool,

    /// Kubeconfig context of the management cluster [default: --context]
    #[arg(long, value_name = "CONTEXT", requires = "server")]
    pub mgmt_context: Option<String>,

    /// Read the agents' versions from the admin API at HOST:PORT instead of through the
    /// Kubernetes API server's service proxy
    #[arg(long, value_name = "HOST:PORT", requires = "server")]
    pub mgmt_admin_address: Option<String>,

    /// Timeout of each call to the admin API
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration, requires = "server")]
    pub timeout: Duration,
}

/// The installed management server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerVersion {
    pub namespace: String,
    /// `null` when its Deployment carries no version label.
    pub version: Option<String>,
    pub image: Option<String>,
    /// `same`, `older` or `newer` than this meshctl.
    pub skew: Option<String>,
}

/// One agent, as the server sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentVersion {
    pub cluster: String,
    pub connected: bool,
    pub version: Option<String>,
    /// `same`, `older` or `newer` than the server (than this meshctl when the server's version
    /// is unknown).
    pub skew: Option<String>,
}

/// The `version` report (`-o json` schema: `{"client": {version, git_commit, build_date,
/// target}}`, with `--server` also `server`, `agents` and `warnings`).
#[derive(Debug, Serialize)]
pub struct VersionReport {
    pub client: BuildInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<ServerVersion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agents: Option<Vec<AgentVersion>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Render for VersionReport {
    fn render_table(&self, _: &Style) -> String {
        let mut rows = vec![
            ("Client version", self.client.version.clone()),
            ("Git commit", self.client.git_commit.clone()),
            ("Build date", self.client.build_date.clone()),
            ("Target", self.client.target.clone()),
        ];
        if let Some(server) = &self.server {
            rows.push((
                "Server version",
                format!(
                    "{} (namespace {})",
                    server.version.as_deref().unwrap_or("unknown"),
                    server.namespace
                ),
            ));
        }
        if let Some(agents) = &self.agents {
            let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
            for a in agents {
                *counts
                    .entry(a.version.as_deref().unwrap_or("unknown"))
                    .or_default() += 1;
            }
            let summary = if counts.is_empty() {
                "none connected yet".to_owned()
            } else {
                counts
                    .iter()
                    .map(|(v, n)| format!("{v} ({n})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            rows.push(("Agent versions", summary));
        }
        table::key_values(rows)
    }
}

/// The report from what could be read; warns about every skew.
pub fn assemble(
    client: BuildInfo,
    server: Option<ServerVersion>,
    relay: Option<Vec<ClusterRelayStatus>>,
    mut warnings: Vec<String>,
) -> VersionReport {
    let server = server.map(|mut s| {
        s.skew = s.version.as_deref().and_then(|v| skew(v, &client.version));
        if let (Some(v), Some(how)) = (&s.version, &s.skew)
            && how != "same"
        {
            warnings.push(format!(
                "the management server runs {v}, {how} than this meshctl {}: use the matching meshctl, or `meshctl upgrade` to move the server to {}",
                client.version, client.version
            ));
        }
        s
    });
    let reference = server
        .as_ref()
        .and_then(|s| s.version.clone())
        .unwrap_or_else(|| client.version.clone());
    let than = if server.as_ref().is_some_and(|s| s.version.is_some()) {
        "the server"
    } else {
        "this meshctl"
    };
    let agents = relay.map(|clusters| {
        clusters
            .into_iter()
            .filter(|c| c.agent_version.is_some() || c.connected)
            .map(|c| {
                let skew = c.agent_version.as_deref().and_then(|v| skew(v, &reference));
                if let (Some(v), Some(how)) = (&c.agent_version, &skew)
                    && how != "same"
                {
                    warnings.push(format!(
                        "the agent of cluster {} runs {v}, {how} than {than} ({reference}): re-run `meshctl cluster register {}` to upgrade it",
                        c.name, c.name
                    ));
                }
                AgentVersion {
                    cluster: c.name,
                    connected: c.connected,
                    version: c.agent_version,
                    skew,
                }
            })
            .collect()
    });
    VersionReport {
        client,
        server,
        agents,
        warnings,
    }
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let client = BuildInfo::current();
    if !args.server {
        ctx.printer().data(&VersionReport {
            client,
            server: None,
            agents: None,
            warnings: Vec::new(),
        })?;
        return Ok(Outcome::Success);
    }
    let namespace = ctx.namespace().to_owned();
    let mut warnings = Vec::new();
    let mgmt = match connect(ctx, args.mgmt_context.clone(), Side::Mgmt).await {
        Ok(connected) => Some(connected.cluster),
        // The admin API alone still gives the agents' versions.
        Err(err) if args.mgmt_admin_address.is_some() => {
            warnings.push(format!(
                "{}: the server's version is unknown",
                crate::output::one_line(&err)
            ));
            None
        }
        Err(err) => return Err(err),
    };
    let server = match &mgmt {
        Some(mgmt) => match preflight::server(mgmt, &namespace).await {
            Ok(info) => Some(ServerVersion {
                namespace: namespace.clone(),
                version: info.version,
                image: info.image,
                skew: None,
            }),
            Err(e) => {
                warnings.push(format!("{e}"));
                None
            }
        },
        None => None,
    };
    let source: Option<std::sync::Arc<dyn RelayStatusSource>> =
        match (&args.mgmt_admin_address, &mgmt) {
            (Some(address), _) => Some(std::sync::Arc::new(AdminAddressSource::new(
                address.clone(),
                args.timeout,
            ))),
            (None, Some(mgmt)) if server.is_some() => Some(admin_source(mgmt, &namespace, None)),
            _ => None,
        };
    let relay = match source {
        Some(source) => match tokio::time::timeout(args.timeout, source.clusters()).await {
            Ok(Ok(clusters)) => Some(clusters),
            Ok(Err(e)) => {
                warnings.push(format!("{e}: the agents' versions are unknown"));
                None
            }
            Err(_) => {
                warnings.push(format!(
                    "{} did not answer: the agents' versions are unknown",
                    source.describe()
                ));
                None
            }
        },
        None => None,
    };
    let report = assemble(client, server, relay, warnings);
    for w in &report.warnings {
        ctx.printer().warn(w);
    }
    ctx.printer().data(&report)?;
    Ok(Outcome::Success)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn client(version: &str) -> BuildInfo {
        BuildInfo {
            version: version.into(),
            git_commit: "abc".into(),
            build_date: "2026-11-22".into(),
            target: "x86_64-unknown-linux-gnu".into(),
        }
    }

    fn agent(name: &str, version: Option<&str>, connected: bool) -> ClusterRelayStatus {
        serde_json::from_value(serde_json::json!({"name": name, "connected": connected,
            "agent_version": version, "snapshot_version": 0, "snapshot_resources": 0, "snapshot_bytes": 0}))
        .unwrap()
    }

    #[test]
    fn skew_is_judged_against_the_server_and_warned_about() {
        let report = assemble(
            client("1.2.0"),
            Some(ServerVersion {
                namespace: "mesh-system".into(),
                version: Some("1.1.0".into()),
                image: None,
                skew: None,
            }),
            Some(vec![
                agent("east", Some("1.1.0"), true),
                agent("west", Some("1.0.0"), true),
                agent("never", None, false),
            ]),
            vec![],
        );
        assert_eq!(
            report.server.as_ref().unwrap().skew.as_deref(),
            Some("older")
        );
        let agents = report.agents.as_ref().unwrap();
        assert_eq!(
            agents.len(),
            2,
            "a cluster whose agent never connected is left out"
        );
        assert_eq!(agents[0].skew.as_deref(), Some("same"));
        assert_eq!(agents[1].skew.as_deref(), Some("older"));
        assert_eq!(report.warnings.len(), 2, "{:?}", report.warnings);
        assert!(
            report.warnings[0]
                .starts_with("the management server runs 1.1.0, older than this meshctl 1.2.0")
        );
        assert!(
            report.warnings[1]
                .starts_with("the agent of cluster west runs 1.0.0, older than the server (1.1.0)")
        );
        let table = report.render_table(&Style::new(false));
        assert!(
            table.contains("Server version:  1.1.0 (namespace mesh-system)"),
            "{table}"
        );
        assert!(
            table.contains("Agent versions:  1.0.0 (1), 1.1.0 (1)"),
            "{table}"
        );
    }

    #[test]
    fn without_a_server_version_agents_are_compared_with_the_client() {
        let report = assemble(
            client("1.2.0"),
            None,
            Some(vec![agent("east", Some("1.3.0"), true)]),
            vec!["unreachable".into()],
        );
        assert_eq!(
            report.agents.as_ref().unwrap()[0].skew.as_deref(),
            Some("newer")
        );
        assert_eq!(report.warnings[0], "unreachable");
        assert!(
            report.warnings[1].contains("newer than this meshctl (1.2.0)"),
            "{:?}",
            report.warnings
        );
        let json = serde_json::to_value(&report).unwrap();
        assert!(json.get("server").is_none());
        assert_eq!(json["agents"][0]["cluster"], "east");
    }
}
