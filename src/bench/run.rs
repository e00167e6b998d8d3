//! The benchmark run: server in this process, fleet in a child process, phases one
//! after the other, every wait bounded by the run's deadline.

use crate::bench::fleet::{FleetAgent, FleetError, FleetProcess, FleetSpec};
use crate::bench::measure::{cpu_time, load_average, percentiles, rss_bytes};
use crate::bench::nofile::raise_nofile;
use crate::bench::params::{BenchParams, ParamsError, RestartStore};
use crate::bench::report::{
    BenchReport, Environment, Idle, Memory, Messages, Propagation, Reconnect, Storm,
};
use crate::bench::synthetic::{self, cluster_name};
use crate::relay::limits::MAX_MESSAGE_BYTES;
use crate::relay::pki::{self, default_server_sans};
use crate::relay::resource::ResourceError;
use crate::server::config_source::{ConfigSource, StaticConfigSource};
use crate::server::metrics::{ReasonLabel, RelayMetrics, ResultLabel};
use crate::server::pki_store::{MemoryPkiStore, PkiStore};
use crate::server::registry::{ClusterRegistry, ClusterStatus};
use crate::server::run::ServerError;
use crate::server::store::{MemoryStateStore, StateStore};
use crate::server::tokens::{LocalTokenStore, TokenStore};
use crate::server::{RelayServer, RunningServer, ServerSettings};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(20);
/// Time given to the server's memory to settle before reading RSS.
const SETTLE: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Params(#[from] ParamsError),
    #[error(
        "the open-file limit ({soft:?}) is below the {needed} descriptors this run needs; raise it with `ulimit -n`"
    )]
    Nofile { soft: Option<u64>, needed: u64 },
    #[error(transparent)]
    Fleet(#[from] FleetError),
    #[error("starting the server: {0}")]
    Server(#[from] ServerError),
    #[error("setting up the server: {0}")]
    Setup(String),
    #[error(transparent)]
    Synthetic(#[from] ResourceError),
    #[error("creating the state directory {path}: {source}")]
    StateDir {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The parts of the server that survive a restart (PKI and tokens; the state store
/// is kept or replaced as the run says).
struct ServerParts {
    pki: Arc<MemoryPkiStore>,
    tokens: Arc<LocalTokenStore>,
    store: Arc<MemoryStateStore>,
    config: Arc<StaticConfigSource>,
}

impl ServerParts {
    async fn start(&self, settings: ServerSettings) -> Result<RunningServer, ServerError> {
        RelayServer {
            settings,
            pki: self.pki.clone(),
            tokens: self.tokens.clone(),
            store: self.store.clone(),
            config: self.config.clone(),
        }
        .start()
        .await
    }
}

fn settings(params: &BenchParams, listen: SocketAddr) -> ServerSettings {
    ServerSettings {
        relay_listen: listen,
        admin_listen: None,
        max_streams: (params.agents * 2).max(ServerSettings::default().max_streams),
        max_new_streams_per_second: params.max_new_streams_per_second,
        // every simulated agent connects from 127.0.0.1
        max_pending_connections_per_source: 0,
        ..ServerSettings::default()
    }
}

/// Removes the state directory when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir() -> Result<TempDir, BenchError> {
    let path = std::env::temp_dir().join(format!(
        "meshctl-bench-{}-{}",
        std::process::id(),
        jiff::Timestamp::now().as_millisecond()
    ));
    std::fs::create_dir_all(&path).map_err(|source| BenchError::StateDir {
        path: path.clone(),
        source,
    })?;
    Ok(TempDir(path))
}

/// Polls `registry` until `n` clusters satisfy `f` or `deadline` passes; returns the
/// count reached. `on_progress` sees each count (for half-way times).
async fn wait_for(
    registry: &ClusterRegistry,
    n: usize,
    deadline: Instant,
    f: impl Fn(&ClusterStatus) -> bool,
    mut on_progress: impl FnMut(usize),
) -> usize {
    loop {
        let count = registry.count_where(&f);
        on_progress(count);
        if count >= n || Instant::now() >= deadline {
            return count;
        }
        tokio::time::sleep(POLL).await;
    }
}

fn rejected(m: &RelayMetrics, reason: &str) -> u64 {
    m.streams_rejected
        .get_or_create(&ReasonLabel {
            reason: reason.into(),
        })
        .get()
}

fn note_messages(messages: &mut Messages, m: &RelayMetrics) {
    messages.largest_received_bytes = messages
        .largest_received_bytes
        .max(u64::try_from(m.largest_message_received.get()).unwrap_or(0));
    messages.largest_sent_bytes = messages
        .largest_sent_bytes
        .max(u64::try_from(m.largest_message_sent.get()).unwrap_or(0));
    messages.received += m.messages_received.get();
    messages.sent += m.messages_sent.get();
}

/// Runs the benchmark. `fleet_exe` is the meshctl binary that runs the agents.
pub async fn run_bench(params: &BenchParams, fleet_exe: &Path) -> Result<BenchReport, BenchError> {
    params.validate()?;
    let deadline = Instant::now() + params.timeout;
    let nofile = raise_nofile(params.fds_needed());
    if !nofile.allows(params.fds_needed()) {
        return Err(BenchError::Nofile {
            soft: nofile.soft,
            needed: params.fds_needed(),
        });
    }
    let mut report = BenchReport {
        params: params.clone(),
        environment: Environment {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            load_average_start: load_average(),
            load_average_end: None,
            nofile,
            server: "in-process (this process, the command's multi-thread tokio runtime); agents in a child process",
            rss_method: "VmRSS of this process (/proc/self/status); the agents live in another process",
            cpu_method: "utime+stime of this process (/proc/self/stat) over the idle window",
        },
        storm: Storm {
            agents: params.agents,
            ..Storm::default()
        },
        memory: Memory::default(),
        propagation: None,
        idle: None,
        reconnect: None,
        messages: Messages {
            limit_bytes: MAX_MESSAGE_BYTES,
            ..Messages::default()
        },
        fleet: None,
        completed: false,
        failure: None,
    };
    report.memory.rss_before_server_bytes = rss_bytes().unwrap_or(0);

    let material = pki::generate(&default_server_sans(), time::OffsetDateTime::now_utc())
        .map_err(|e| BenchError::Setup(e.to_string()))?;
    let pki_store = Arc::new(MemoryPkiStore::default());
    pki_store
        .create(&material)
        .await
        .map_err(|e| BenchError::Setup(e.to_string()))?;
    let mut parts = ServerParts {
        pki: pki_store,
        tokens: Arc::new(LocalTokenStore::memory()),
        store: Arc::new(MemoryStateStore::new()),
        config: Arc::new(StaticConfigSource::new()),
    };
    let clusters: Vec<String> = (0..params.agents).map(cluster_name).collect();
    let mut agents = Vec::with_capacity(clusters.len());
    for c in &clusters {
        let token = parts
            .tokens
            .issue(c)
            .await
            .map_err(|e| BenchError::Setup(e.to_string()))?;
        agents.push(FleetAgent {
            cluster: c.clone(),
            token: token.expose().to_string(),
        });
    }
    let mut round = 0u64;
    let initial = synthetic::config(round, params.config_resources)?;
    parts
        .config
        .set_many(clusters.iter().map(|c| (c.clone(), initial.clone())));

    let server = parts
        .start(settings(
            params,
            "127.0.0.1:0"
                .parse()
                .map_err(|_| BenchError::Setup("loopback address".into()))?,
        ))
        .await?;
    let relay_addr = server.relay_addr;
    report.memory.rss_server_started_bytes = rss_bytes().unwrap_or(0);

    let state = temp_dir()?;
    let spec = FleetSpec {
        relay_address: relay_addr.to_string(),
        ca_pem: server.root_ca_pem.clone(),
        agents,
        resources: params.resources,
        resource_bytes: params.resource_bytes,
        state_dir: state.0.clone(),
    };
    let mut fleet = FleetProcess::spawn(fleet_exe, &spec).await?;
    drop(spec);

    // Phase 1: bootstrap storm.
    let n = params.agents;
    let m = params.resources as u64;
    let t0 = Instant::now();
    fleet.go().await?;
    let mut half = None;
    let connected = wait_for(
        &server.registry,
        n,
        deadline,
        |s| s.connected,
        |c| {
            if half.is_none() && c * 2 >= n {
                half = Some(t0.elapsed().as_secs_f64());
            }
        },
    )
    .await;
    report.storm.connected = connected;
    report.storm.seconds_to_connect_half = half;
    if connected == n {
        report.storm.seconds_to_connect_all = Some(t0.elapsed().as_secs_f64());
    }
    // Versions are clock-based and differ per cluster: each is compared with its own.
    let config = parts.config.clone();
    let current =
        |s: &ClusterStatus| s.applied_config_version == Some(config.desired(&s.name).generation);
    let synced = wait_for(
        &server.registry,
        n,
        deadline,
        |s| s.connected && s.snapshot_resources == m && current(s),
        |_| {},
    )
    .await;
    report.storm.synced = synced;
    let sm = &server.metrics;
    report.storm.bootstraps_issued = sm
        .bootstraps
        .get_or_create(&ResultLabel {
            result: "issued".into(),
        })
        .get();
    report.storm.rate_limited = rejected(sm, "rate_limited");
    report.storm.handshake_failures = server
        .handshakes
        .failed
        .load(std::sync::atomic::Ordering::Relaxed);
    report.storm.snapshot_resources_received = sm.snapshot_resources_received.get();
    report.storm.wire_bytes_received = sm.wire_bytes_received.get();
    report.storm.wire_bytes_sent = sm.wire_bytes_sent.get();
    if synced < n {
        report.failure = Some(format!(
            "bootstrap storm: {connected}/{n} connected, {synced}/{n} synced before the deadline"
        ));
        return Ok(finish(report, server, fleet, state).await);
    }
    report.storm.seconds_to_sync_all = Some(t0.elapsed().as_secs_f64());

    tokio::time::sleep(SETTLE).await;
    report.memory.rss_all_connected_bytes = rss_bytes().unwrap_or(0);
    report.memory.rss_per_agent_bytes = report
        .memory
        .rss_all_connected_bytes
        .saturating_sub(report.memory.rss_server_started_bytes)
        / n as u64;
    let mut stored = 0;
    for c in &clusters {
        stored += parts
            .store
            .snapshot_summary(c)
            .await
            .map(|s| s.bytes)
            .unwrap_or(0);
    }
    report.memory.snapshot_bytes_stored = stored;

    // Phase 2: configuration propagation.
    let mut prop = Propagation {
        changes: params.changes,
        expected: n * params.changes,
        ..Propagation::default()
    };
    let mut samples = Vec::with_capacity(n * params.changes);
    for _ in 0..params.changes {
        round += 1;
        let cfg = synthetic::config(round, params.config_resources)?;
        let changed_at = jiff::Timestamp::now();
        parts
            .config
            .set_many(clusters.iter().map(|c| (c.clone(), cfg.clone())));
        let acked = wait_for(&server.registry, n, deadline, |s| current(s), |_| {}).await;
        prop.acked += acked;
        let mut round_max = Duration::ZERO;
        for s in server.registry.list() {
            if current(&s)
                && let Some(at) = s.applied_config_at
            {
                let d = at.duration_since(changed_at).unsigned_abs();
                round_max = round_max.max(d);
                samples.push(d);
            }
        }
        prop.max_ms_per_change
            .push(round_max.as_secs_f64() * 1000.0);
        if acked < n {
            prop.latency = percentiles(&samples);
            report.propagation = Some(prop);
            report.failure = Some(format!(
                "propagation: change {round} acknowledged by {acked}/{n} agents before the deadline"
            ));
            return Ok(finish(report, server, fleet, state).await);
        }
        tokio::time::sleep(params.change_interval).await;
    }
    prop.latency = percentiles(&samples);
    report.propagation = Some(prop);

    // Phase 3: idle CPU (agents only send heartbeats).
    let window = params
        .duration
        .min(deadline.saturating_duration_since(Instant::now()));
    let msgs_before = server.metrics.messages_received.get();
    let (cpu0, w0) = (cpu_time(), Instant::now());
    tokio::time::sleep(window).await;
    let (cpu1, elapsed) = (cpu_time(), w0.elapsed());
    if let (Some(a), Some(b)) = (cpu0, cpu1) {
        let used = b.saturating_sub(a).as_secs_f64();
        report.idle = Some(Idle {
            window_seconds: elapsed.as_secs_f64(),
            server_cpu_seconds: used,
            server_cpu_percent: used / elapsed.as_secs_f64().max(1e-9) * 100.0,
            messages_received: server.metrics.messages_received.get() - msgs_before,
        });
    }
    report.memory.rss_after_idle_bytes = rss_bytes().unwrap_or(0);

    // Phase 4: reconnect storm. The server stops (agents get SHUTTING_DOWN), the
    // configuration changes by one resource per cluster meanwhile, and a new server
    // starts on the same port with the same PKI and tokens.
    let before = fleet.stats().await?;
    note_messages(&mut report.messages, &server.metrics);
    let stop_at = Instant::now();
    server.shutdown(Duration::from_secs(10)).await;
    round += 1;
    let cfg = synthetic::config(round, params.config_resources)?;
    parts
        .config
        .set_many(clusters.iter().map(|c| (c.clone(), cfg.clone())));
    if params.restart_store == RestartStore::Fresh {
        parts.store = Arc::new(MemoryStateStore::new());
    }
    let server = parts.start(settings(params, relay_addr)).await?;
    let t1 = Instant::now();
    let mut rc = Reconnect {
        store: match params.restart_store {
            RestartStore::Kept => "kept".into(),
            RestartStore::Fresh => "fresh".into(),
        },
        seconds_restart_gap: stop_at.elapsed().as_secs_f64(),
        snapshot_resources_total: n as u64 * m,
        config_resources_total: (n * params.config_resources) as u64,
        ..Reconnect::default()
    };
    let synced = wait_for(
        &server.registry,
        n,
        deadline,
        |s| s.connected && s.snapshot_resources == m && current(s),
        |_| {},
    )
    .await;
    if synced == n {
        rc.seconds_to_resync_all = Some(t1.elapsed().as_secs_f64());
    }
    rc.synced = synced;
    rc.connected = server.registry.connected_count();
    let sm = &server.metrics;
    rc.snapshot_resources_resent = sm.snapshot_resources_received.get();
    rc.config_resources_resent = sm.config_resources_sent.get();
    rc.config_bytes_sent = sm.config_bytes_sent.get();
    rc.wire_bytes_received = sm.wire_bytes_received.get();
    rc.wire_bytes_sent = sm.wire_bytes_sent.get();
    let after = fleet.stats().await?;
    rc.agent_snapshot_resources_sent = after
        .snapshot_resources_sent
        .saturating_sub(before.snapshot_resources_sent);
    rc.agent_config_resources_received = after
        .config_resources_received
        .saturating_sub(before.config_resources_received);
    report.memory.fleet_rss_bytes = after.rss_bytes;
    report.fleet = Some(after);
    report.reconnect = Some(rc);
    if synced < n {
        report.failure = Some(format!(
            "reconnect storm: {synced}/{n} agents resynced before the deadline"
        ));
    } else {
        report.completed = true;
    }
    Ok(finish(report, server, fleet, state).await)
}

async fn finish(
    mut report: BenchReport,
    server: RunningServer,
    fleet: FleetProcess,
    state: TempDir,
) -> BenchReport {
    note_messages(&mut report.messages, &server.metrics);
    fleet.stop(Duration::from_secs(20)).await;
    server.shutdown(Duration::from_secs(5)).await;
    drop(state);
    report.environment.load_average_end = load_average();
    report
}
