//! `meshctl demo`: a management server and two agents (cluster-1, cluster-2) on
//! loopback with real bootstrap and mTLS, directory-backed sample clusters, and the
//! relay table. No Kubernetes needed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::agent::sink::DirSink;
use crate::agent::source::DirSource;
use crate::agent::{Agent, AgentSettings, RunningAgent, TokenSource};
use crate::cli::Context;
use crate::cli::duration::parse_duration;
use crate::exit::{ExitKind, Outcome, ResultExt};
use crate::relay::client::RelayTarget;
use crate::server::admin::ClusterList;
use crate::server::config_source::{StaticConfigSource, watch_config_dir};
use crate::server::pki_store::DirPkiStore;
use crate::server::store::MemoryStateStore;
use crate::server::tokens::{LocalTokenStore, TokenStore};
use crate::server::{RelayServer, RunningServer, ServerSettings};

const CLUSTERS: [&str; 2] = ["cluster-1", "cluster-2"];

/// Run a management server and two agents on loopback with sample clusters (no Kubernetes needed)
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Directory for the demo's state, sample clusters and applied configuration
    /// [default: a temporary directory removed on exit]
    #[arg(long, value_name = "PATH")]
    pub dir: Option<PathBuf>,

    /// Exit after one successful round: 0 only if both agents connected and their
    /// configuration was acknowledged
    #[arg(long)]
    pub once: bool,

    /// How long to wait for the agents to connect and acknowledge their configuration
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
}

fn sample_source(cluster: &str, index: usize) -> String {
    format!(
        r#"apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels:
    topology.meshctl.dev/cluster: {cluster}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  labels:
    app: web
spec:
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels:
    app: web
spec:
  replicas: {index}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
        version: v{index}
    spec:
      containers:
      - name: web
        image: ghcr.io/example/web:1.{index}
        ports:
        - containerPort: 8080
"#
    )
}

fn sample_config(cluster: &str) -> String {
    format!(
        r#"apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: web-global
  namespace: shop
  labels:
    app.kubernetes.io/managed-by: meshctl
spec:
  hosts:
  - web.shop.global
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - number: 80
    name: http
    protocol: HTTP
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: web-global
  namespace: shop
  labels:
    app.kubernetes.io/managed-by: meshctl
spec:
  host: web.shop.global
  trafficPolicy:
    loadBalancer:
      localityLbSetting:
        enabled: true
    outlierDetection:
      consecutive5xxErrors: 5
      interval: 10s
  exportTo:
  - "{cluster}"
"#
    )
}

fn write_if_absent(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if !path.exists() {
        std::fs::write(path, text)?;
    }
    Ok(())
}

/// A temporary directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn create() -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(format!(
            "meshctl-demo-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Layout {
    root: PathBuf,
}

impl Layout {
    fn server_state(&self) -> PathBuf {
        self.root.join("mgmt-server")
    }
    fn config_dir(&self) -> PathBuf {
        self.root.join("mgmt-server/config")
    }
    fn source(&self, c: &str) -> PathBuf {
        self.root.join(c).join("cluster")
    }
    fn sink(&self, c: &str) -> PathBuf {
        self.root.join(c).join("applied")
    }
    fn agent_state(&self, c: &str) -> PathBuf {
        self.root.join(c).join("agent-state")
    }

    fn write_samples(&self) -> std::io::Result<()> {
        for (i, c) in CLUSTERS.iter().enumerate() {
            write_if_absent(&self.source(c).join("shop.yaml"), &sample_source(c, i + 1))?;
            write_if_absent(
                &self.config_dir().join(c).join("web-global.yaml"),
                &sample_config(c),
            )?;
            std::fs::create_dir_all(self.sink(c))?;
        }
        Ok(())
    }
}

/// Whether every demo cluster is connected and has acknowledged the configuration
/// the server last sent it, without errors.
pub fn round_trip_done(list: &ClusterList) -> bool {
    CLUSTERS.iter().all(|name| {
        list.clusters.iter().any(|c| {
            &c.name == name
                && c.connected
                && c.desired_config_version.is_some()
                && c.applied_config_version == c.desired_config_version
                && c.config_errors.is_empty()
                && c.snapshot_resources > 0
        })
    })
}

async fn start_agent(
    server: &RunningServer,
    layout: &Layout,
    cluster: &str,
    token: Option<TokenSource>,
) -> anyhow::Result<RunningAgent> {
    let cancel = tokio_util::sync::CancellationToken::new();
    let source = DirSource::start(layout.source(cluster), Duration::from_secs(1), cancel)
        .await
        .with_context(|| format!("reading {}", layout.source(cluster).display()))?;
    let sink = DirSink::open(layout.sink(cluster)).await?;
    let mut settings = AgentSettings::new(
        cluster,
        RelayTarget::new(server.relay_addr.to_string()),
        server.root_ca_pem.clone(),
        layout.agent_state(cluster),
    );
    settings.token = token;
    settings.admin_listen = Some("127.0.0.1:0".parse()?);
    Ok(Agent {
        settings,
        source,
        sink: Arc::new(sink),
    }
    .start()
    .await?)
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let printer = ctx.printer();
    let (_tmp, root) = match &args.dir {
        Some(d) => (None, d.clone()),
        None => {
            let t = TempDir::create().exit_kind(ExitKind::Environment)?;
            let p = t.0.clone();
            (Some(t), p)
        }
    };
    let layout = Layout { root: root.clone() };
    layout
        .write_samples()
        .with_context(|| format!("writing the sample clusters under {}", root.display()))
        .exit_kind(ExitKind::Environment)?;

    let tokens = Arc::new(
        LocalTokenStore::open_dir(&layout.server_state()).exit_kind(ExitKind::Environment)?,
    );
    let mut agent_tokens = Vec::new();
    for c in CLUSTERS {
        // a cluster whose agent already holds a certificate (a re-run) needs no token
        let has_cert = crate::agent::credentials::CredentialsStore::new(&layout.agent_state(c))
            .load(c)
            .ok()
            .flatten()
            .is_some_and(|creds| creds.not_after > jiff::Timestamp::now().as_second() + 300);
        if has_cert && tokens.is_registered(c).await? {
            agent_tokens.push(None);
        } else {
            let t = tokens.issue(c).await?;
            agent_tokens.push(Some(TokenSource::Literal(t)));
        }
    }
    let config = Arc::new(StaticConfigSource::pending());
    let server = RelayServer {
        settings: ServerSettings {
            relay_listen: "127.0.0.1:0".parse()?,
            admin_listen: Some("127.0.0.1:0".parse()?),
            ..ServerSettings::default()
        },
        pki: Arc::new(DirPkiStore::new(&layout.server_state())),
        tokens,
        store: Arc::new(MemoryStateStore::new()),
        config: config.clone(),
    }
    .start()
    .await
    .context("starting the management server")
    .exit_kind(ExitKind::Environment)?;
    let cancel = server.shutdown_token();
    tokio::spawn(watch_config_dir(
        layout.config_dir(),
        config.clone(),
        Duration::from_secs(1),
        cancel.clone(),
    ));

    let admin = server.admin_addr.map(|a| a.to_string()).unwrap_or_default();
    printer.line(
        "meshctl demo: a management server and two agents on loopback (real bootstrap, mTLS relay)",
    )?;
    printer.line(format!("  directory        {}", root.display()))?;
    printer.line(format!(
        "  relay            {}  (root CA {})",
        server.relay_addr,
        layout.server_state().join("pki/root-ca.crt").display()
    ))?;
    printer.line(format!(
        "  admin            http://{admin}  (/metrics, /api/v1/clusters)"
    ))?;
    printer.line(format!(
        "  pushed config    {}/<cluster>/",
        layout.config_dir().display()
    ))?;

    let mut agents = Vec::new();
    for (c, token) in CLUSTERS.iter().zip(agent_tokens) {
        let agent = start_agent(&server, &layout, c, token)
            .await
            .with_context(|| format!("starting the agent of {c}"))
            .exit_kind(ExitKind::Environment)?;
        printer.line(format!(
            "  agent {c}  admin http://{}  cluster {}  applied {}",
            agent.admin_addr.map(|a| a.to_string()).unwrap_or_default(),
            layout.source(c).display(),
            layout.sink(c).display()
        ))?;
        agents.push(agent);
    }
    printer.line("")?;

    let deadline = tokio::time::Instant::now() + args.timeout;
    let mut done = false;
    while tokio::time::Instant::now() < deadline {
        let list = ClusterList {
            clusters: server.registry.list(),
        };
        if round_trip_done(&list) {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let list = ClusterList {
        clusters: server.registry.list(),
    };
    printer.data(&list)?;
    if done {
        printer.line("")?;
        printer.line(
            "Both agents connected; their configuration was pushed, applied and acknowledged.",
        )?;
    } else {
        for a in &agents {
            if let Some(f) = a.last_failure() {
                printer.warn(format!("agent: {f}"));
            }
        }
        printer.warn(format!(
            "the agents did not connect and acknowledge their configuration within {:?}",
            args.timeout
        ));
    }
    if !args.once && done {
        printer.line(format!(
            "Running until Ctrl-C. Try: meshctl cluster list --admin-address {admin}"
        ))?;
        crate::cli::serve::shutdown_signal().await;
    }
    for a in agents {
        a.shutdown(Duration::from_secs(5)).await;
    }
    server.shutdown(Duration::from_secs(5)).await;
    Ok(if done {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}
