//! `meshctl demo`: a management server and two agents (cluster-1, cluster-2) on
//! loopback with real bootstrap and mTLS, directory-backed sample clusters, a translation
//! round (a sample VirtualDestination becomes Istio objects in both clusters) and the relay
//! table. No Kubernetes needed.

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
use crate::server::config_source::ConfigSource;
use crate::server::pki_store::DirPkiStore;
use crate::server::platform_source::{DirPlatformSource, PLATFORM, SourceEvent};
use crate::server::store::MemoryStateStore;
use crate::server::store::StateStore;
use crate::server::tokens::{LocalTokenStore, TokenStore};
use crate::server::translation::{TranslatingConfigSource, TranslationSettings};
use crate::server::{RelayServer, RunningServer, ServerSettings};
use crate::translate::{EntitlementView, InputChange};

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

/// The platform resources the demo's server translates: the two clusters, a workspace over their
/// `shop` namespaces and a VirtualDestination with locality failover.
const SAMPLE_PLATFORM: &str = r#"apiVersion: admin.meshctl.dev/v1alpha1
kind: KubernetesCluster
metadata:
  name: cluster-1
  namespace: mesh-system
spec:
  region: us-east1
---
apiVersion: admin.meshctl.dev/v1alpha1
kind: KubernetesCluster
metadata:
  name: cluster-2
  namespace: mesh-system
spec:
  region: us-west1
---
apiVersion: admin.meshctl.dev/v1alpha1
kind: Workspace
metadata:
  name: shop
  namespace: shop-config
spec:
  workloadClusters:
  - name: "*"
    namespaces: [shop]
---
apiVersion: networking.meshctl.dev/v1alpha1
kind: VirtualDestination
metadata:
  name: web
  namespace: shop-config
spec:
  hosts: [web.shop.global]
  ports:
  - number: 80
    protocol: HTTP
  services:
  - labels:
      app: web
  failover:
    enabled: true
"#;

/// What tells the translation Istio runs in a sample cluster.
const SAMPLE_ISTIOD: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: istiod
  namespace: istio-system
spec:
  selector:
    matchLabels:
      app: istiod
  template:
    metadata:
      labels:
        app: istiod
    spec:
      containers:
      - name: discovery
        image: docker.io/istio/pilot:1.24.0
"#;

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
    fn platform_dir(&self) -> PathBuf {
        self.root.join("mgmt-server/platform")
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
            write_if_absent(&self.source(c).join("istio.yaml"), SAMPLE_ISTIOD)?;
            std::fs::create_dir_all(self.sink(c))?;
        }
        write_if_absent(&self.platform_dir().join("shop.yaml"), SAMPLE_PLATFORM)
    }

    /// The objects `cluster`'s agent applied: `Kind namespace/name` and the YAML of each.
    fn applied(&self, cluster: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = std::fs::read_dir(self.sink(cluster))
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
                    .filter_map(|e| {
                        let text = std::fs::read_to_string(e.path()).ok()?;
                        let v: serde_json::Value = serde_saphyr::from_str(&text).ok()?;
                        let title = format!(
                            "{} {}/{}",
                            v["kind"].as_str().unwrap_or_default(),
                            v["metadata"]["namespace"].as_str().unwrap_or_default(),
                            v["metadata"]["name"].as_str().unwrap_or_default()
                        );
                        Some((title, text))
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
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
    let translation = TranslatingConfigSource::new(TranslationSettings {
        wait_for: vec![PLATFORM],
        ..TranslationSettings::default()
    });
    let memory: Arc<dyn StateStore> = Arc::new(MemoryStateStore::new());
    let server = RelayServer {
        settings: ServerSettings {
            relay_listen: "127.0.0.1:0".parse()?,
            admin_listen: Some("127.0.0.1:0".parse()?),
            ..ServerSettings::default()
        },
        pki: Arc::new(DirPkiStore::new(&layout.server_state())),
        tokens,
        store: translation.observe(memory.clone()),
        config: Arc::new(translation.clone()),
    }
    .start()
    .await
    .context("starting the management server")
    .exit_kind(ExitKind::Environment)?;
    let cancel = server.shutdown_token();
    // The demo's clusters are directories on this machine: every product is enabled for them.
    // A real server translates only what its license covers.
    translation
        .events()
        .send(SourceEvent::Changes(vec![InputChange::Entitlements(
            EntitlementView::all(),
        )]))
        .await
        .context("starting the translation")
        .exit_kind(ExitKind::Internal)?;
    translation.start(memory, cancel.clone());
    tokio::spawn(
        DirPlatformSource::new(layout.platform_dir(), "mesh-system", Duration::from_secs(1))
            .run(translation.events(), cancel.clone()),
    );

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
        "  admin            http://{admin}  (dashboard at /; /metrics, /api/v1/clusters, /api/v1/destinations, /api/v1/statuses)"
    ))?;
    printer.line(format!(
        "  translated       {}  (platform resources; edit them and watch the agents' applied dirs)",
        layout.platform_dir().display()
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
        let translated = CLUSTERS.iter().all(|c| {
            let desired = translation.desired(c);
            !desired.resources.is_empty()
                && server
                    .registry
                    .get(c)
                    .is_some_and(|s| s.applied_config_version == Some(desired.generation))
        });
        if translated && round_trip_done(&list) {
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
            "Both agents connected; the VirtualDestination was translated, pushed, applied and acknowledged.",
        )?;
        for c in CLUSTERS {
            printer.line("")?;
            printer.line(format!("Objects the agent of {c} received:"))?;
            for (title, _) in layout.applied(c) {
                printer.line(format!("  {title}"))?;
            }
        }
        if let Some((title, yaml)) = layout
            .applied(CLUSTERS[0])
            .into_iter()
            .find(|(t, _)| t.starts_with("ServiceEntry"))
        {
            printer.line("")?;
            printer.line(format!("{title} in {}:", CLUSTERS[0]))?;
            printer.line(yaml.trim_end())?;
        }
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
