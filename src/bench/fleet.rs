//! The fleet of simulated agents. It runs in a child process (`meshctl x bench
//! relay-fleet`) so that the server's memory and CPU can be read from the harness
//! process alone. Each simulated agent is the real `Agent` (tokio tasks, its own
//! key, bootstrap token, client certificate and mTLS stream) with a static source of
//! synthetic resources and an in-memory sink.
//!
//! Protocol on the child's stdin/stdout, one line each: the harness sends the spec
//! (JSON); the child answers `prepared`; `go` starts every agent at once (`started`);
//! `stats` answers one JSON line of [`FleetStats`]; closing stdin stops the fleet.

use crate::agent::sink::MemorySink;
use crate::agent::source::StaticSource;
use crate::agent::{Agent, AgentSettings, RunningAgent, TokenSource};
use crate::bench::synthetic;
use crate::relay::client::RelayTarget;
use crate::relay::resource::ResourceError;
use crate::relay::token::BootstrapToken;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// How long the harness waits for one answer of the fleet process (the fleet may
/// need a while to generate the synthetic snapshots of many agents).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("starting the fleet process {exe}: {source}")]
    Spawn {
        exe: PathBuf,
        source: std::io::Error,
    },
    #[error("talking to the fleet process: {0}")]
    Io(#[from] std::io::Error),
    #[error("the fleet process did not answer {what} within {timeout:?}")]
    Timeout { what: String, timeout: Duration },
    #[error("the fleet process ended before answering {0}")]
    Ended(String),
    #[error("unexpected answer from the fleet process to {what}: {answer:?}")]
    Unexpected { what: String, answer: String },
    #[error("the fleet spec is invalid: {0}")]
    Spec(String),
    #[error("generating synthetic resources: {0}")]
    Synthetic(#[from] ResourceError),
    #[error("starting agent {cluster}: {message}")]
    Agent { cluster: String, message: String },
}

/// One simulated agent: its cluster and clear-text bootstrap token.
#[derive(Clone, Serialize, Deserialize)]
pub struct FleetAgent {
    pub cluster: String,
    pub token: String,
}

impl std::fmt::Debug for FleetAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetAgent")
            .field("cluster", &self.cluster)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// What the fleet process runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FleetSpec {
    pub relay_address: String,
    pub ca_pem: String,
    /// The agents; the position seeds each one's synthetic snapshot.
    pub agents: Vec<FleetAgent>,
    pub resources: usize,
    pub resource_bytes: usize,
    /// Each agent keeps its credentials in `<state_dir>/<cluster>`.
    pub state_dir: PathBuf,
}

/// Sums over the fleet's agents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetStats {
    pub agents: u64,
    pub connected: u64,
    pub bootstraps: u64,
    pub reconnects: u64,
    pub snapshot_resources_sent: u64,
    pub snapshot_bytes_sent: u64,
    pub config_resources_received: u64,
    pub rss_bytes: u64,
}

/// The running fleet inside the child process.
pub struct Fleet {
    agents: Vec<RunningAgent>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("agents", &self.agents.len())
            .finish()
    }
}

/// Agents built but not started (snapshots generated up front so that the storm
/// measures connecting, not generating).
pub struct PreparedFleet {
    agents: Vec<Agent>,
}

impl std::fmt::Debug for PreparedFleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedFleet")
            .field("agents", &self.agents.len())
            .finish()
    }
}

impl PreparedFleet {
    pub fn new(spec: &FleetSpec) -> Result<Self, FleetError> {
        let mut agents = Vec::with_capacity(spec.agents.len());
        for (i, a) in spec.agents.iter().enumerate() {
            let resources = synthetic::snapshot(i, spec.resources, spec.resource_bytes)?;
            let mut settings = AgentSettings::new(
                &a.cluster,
                RelayTarget::new(spec.relay_address.clone()),
                spec.ca_pem.clone(),
                spec.state_dir.join(&a.cluster),
            );
            settings.token = Some(TokenSource::Literal(BootstrapToken::from_text(&a.token)));
            agents.push(Agent {
                settings,
                source: Arc::new(StaticSource::new(resources)),
                sink: Arc::new(MemorySink::new()),
            });
        }
        Ok(Self { agents })
    }

    /// Starts every agent at once.
    pub async fn start(self) -> Result<Fleet, FleetError> {
        let mut running = Vec::with_capacity(self.agents.len());
        for agent in self.agents {
            let cluster = agent.settings.cluster.clone();
            running.push(agent.start().await.map_err(|e| FleetError::Agent {
                cluster,
                message: e.to_string(),
            })?);
        }
        Ok(Fleet { agents: running })
    }
}

impl Fleet {
    pub fn stats(&self) -> FleetStats {
        let mut s = FleetStats {
            agents: self.agents.len() as u64,
            rss_bytes: crate::bench::measure::rss_bytes().unwrap_or(0),
            ..FleetStats::default()
        };
        for a in &self.agents {
            let m = &a.metrics;
            s.connected += u64::from(m.connected.get() > 0);
            s.bootstraps += m.bootstraps.get();
            s.reconnects += m.reconnects.get();
            s.snapshot_resources_sent += m.snapshot_resources_sent.get();
            s.snapshot_bytes_sent += m.snapshot_bytes_sent.get();
            s.config_resources_received += m.config_resources_received.get();
        }
        s
    }

    /// Stops every agent (each closes its stream), waiting up to `grace`.
    pub async fn shutdown(self, grace: Duration) {
        futures::future::join_all(self.agents.into_iter().map(|a| a.shutdown(grace))).await;
    }
}

/// The harness's handle on the fleet process. Dropping it kills the process.
pub struct FleetProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl std::fmt::Debug for FleetProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetProcess")
            .field("pid", &self.child.id())
            .finish()
    }
}

impl FleetProcess {
    /// Starts `exe x bench relay-fleet`, hands it `spec` and waits until it has
    /// prepared its agents.
    pub async fn spawn(exe: &Path, spec: &FleetSpec) -> Result<Self, FleetError> {
        let mut child = Command::new(exe)
            .args(["x", "bench", "relay-fleet"])
            .env("RUST_LOG", "error")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| FleetError::Spawn {
                exe: exe.to_path_buf(),
                source,
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(FleetError::Ended("the spec".into()));
        };
        let mut p = Self {
            child,
            stdin: Some(stdin),
            stdout: BufReader::new(stdout).lines(),
        };
        let mut line = serde_json::to_string(spec).map_err(|e| FleetError::Spec(e.to_string()))?;
        line.push('\n');
        p.expect(&line, "prepared").await?;
        Ok(p)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    async fn ask(&mut self, line: &str, what: &str) -> Result<String, FleetError> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(FleetError::Ended(what.into()));
        };
        stdin.write_all(line.as_bytes()).await?;
        stdin.flush().await?;
        match tokio::time::timeout(ANSWER_TIMEOUT, self.stdout.next_line()).await {
            Err(_) => Err(FleetError::Timeout {
                what: what.into(),
                timeout: ANSWER_TIMEOUT,
            }),
            Ok(Err(e)) => Err(e.into()),
            Ok(Ok(None)) => Err(FleetError::Ended(what.into())),
            Ok(Ok(Some(answer))) => Ok(answer),
        }
    }

    async fn expect(&mut self, line: &str, answer: &str) -> Result<(), FleetError> {
        let got = self.ask(line, answer).await?;
        if got.trim() == answer {
            Ok(())
        } else {
            Err(FleetError::Unexpected {
                what: answer.into(),
                answer: got,
            })
        }
    }

    /// Starts every agent.
    pub async fn go(&mut self) -> Result<(), FleetError> {
        self.expect("go\n", "started").await
    }

    pub async fn stats(&mut self) -> Result<FleetStats, FleetError> {
        let answer = self.ask("stats\n", "stats").await?;
        serde_json::from_str(&answer).map_err(|_| FleetError::Unexpected {
            what: "stats".into(),
            answer,
        })
    }

    /// Closes stdin (the fleet stops its agents and exits); kills it after `grace`.
    pub async fn stop(mut self, grace: Duration) {
        self.stdin = None;
        if tokio::time::timeout(grace, self.child.wait())
            .await
            .is_err()
        {
            tracing::warn!("the fleet process did not stop in time; killing it");
            let _ = self.child.kill().await;
        }
    }
}

/// The child side: reads the spec, prepares, then serves `go`/`stats` until stdin
/// closes. `answer` writes one line to stdout.
pub async fn serve_fleet(
    mut answer: impl FnMut(&str) -> std::io::Result<()>,
) -> Result<(), FleetError> {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let first = match tokio::time::timeout(ANSWER_TIMEOUT, lines.next_line()).await {
        Err(_) => {
            return Err(FleetError::Timeout {
                what: "the spec".into(),
                timeout: ANSWER_TIMEOUT,
            });
        }
        Ok(r) => r?.ok_or_else(|| FleetError::Spec("no spec on stdin".into()))?,
    };
    let spec: FleetSpec =
        serde_json::from_str(&first).map_err(|e| FleetError::Spec(e.to_string()))?;
    let crate::bench::nofile::NofileLimit { soft, .. } =
        crate::bench::nofile::raise_nofile(spec.agents.len() as u64 * 2 + 256);
    tracing::debug!(?soft, "fleet open-file limit");
    let mut prepared = Some(PreparedFleet::new(&spec)?);
    answer("prepared")?;
    let mut fleet: Option<Fleet> = None;
    while let Some(line) = lines.next_line().await? {
        match line.trim() {
            "go" => {
                if let Some(p) = prepared.take() {
                    fleet = Some(p.start().await?);
                }
                answer("started")?;
            }
            "stats" => {
                let stats = fleet.as_ref().map(Fleet::stats).unwrap_or_default();
                let text =
                    serde_json::to_string(&stats).map_err(|e| FleetError::Spec(e.to_string()))?;
                answer(&text)?;
            }
            other => {
                return Err(FleetError::Spec(format!("unknown command {other:?}")));
            }
        }
    }
    if let Some(f) = fleet {
        f.shutdown(Duration::from_secs(10)).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_tokens() {
        let spec = FleetSpec {
            relay_address: "127.0.0.1:1".into(),
            ca_pem: String::new(),
            agents: vec![FleetAgent {
                cluster: "bench-00000".into(),
                token: "SECRET-TOKEN".into(),
            }],
            resources: 1,
            resource_bytes: 16,
            state_dir: PathBuf::from("/nonexistent"),
        };
        assert!(!format!("{spec:?}").contains("SECRET-TOKEN"));
    }
}
