//! A small-N scale smoke test (issue 9): a `meshctl serve mgmt-server` process and N
//! agents as tokio tasks, each with its own bootstrap, certificate and mTLS stream.
//! Asserts correctness only (all connected, every change acknowledged by every agent,
//! configuration not resent after a restart), never timings.
//!
//! MESHCTL_RELAY_SCALE_AGENTS (default 20) and MESHCTL_RELAY_SCALE_RESOURCES (default
//! 10) size it; with MESHCTL_RELAY_SCALE_REPORT=1 it prints measurements on stderr.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod common;
mod support;

use common::{RecordingSink, resource, set_of};
use meshctl::agent::source::StaticSource;
use meshctl::agent::{Agent, AgentSettings, TokenSource};
use meshctl::relay::client::RelayTarget;
use meshctl::server::admin_client;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::Running;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn address_in(line: &str) -> String {
    line.split("listening on ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_string()
}

fn start_server(
    state: &str,
    config: &str,
    relay: &str,
    clusters: &[String],
) -> (Running, String, String) {
    let mut args: Vec<String> = [
        "serve",
        "mgmt-server",
        "--relay-listen",
        relay,
        "--admin-listen",
        "127.0.0.1:0",
        "--state-dir",
        state,
        "--raw-config-dir",
        config,
        "--max-new-streams-per-second",
        "100000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for c in clusters {
        args.push("--cluster".into());
        args.push(c.clone());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut s = Running::start(&refs, &[("RUST_LOG", "warn,meshctl::server::run=info")]);
    let relay = address_in(&s.wait_for_line("relay listening on", Duration::from_secs(120)));
    let admin = address_in(&s.wait_for_line("admin listening on", Duration::from_secs(120)));
    (s, relay, admin)
}

async fn wait_all(
    admin: &str,
    what: &str,
    f: impl Fn(&meshctl::server::registry::ClusterStatus) -> bool,
    n: usize,
) {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if let Ok(list) = admin_client::clusters(admin, Duration::from_secs(30)).await
            && list.clusters.iter().filter(|c| f(c)).count() == n
        {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn metric(admin: &str, name: &str) -> u64 {
    let (_, body) = admin_client::get(admin, "/metrics", Duration::from_secs(30))
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&body).to_string();
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn many_agents_connect_ack_and_resync_with_deltas() {
    let n = env_usize("MESHCTL_RELAY_SCALE_AGENTS", 20);
    let m = env_usize("MESHCTL_RELAY_SCALE_RESOURCES", 10);
    let report = std::env::var_os("MESHCTL_RELAY_SCALE_REPORT").is_some();
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("server");
    let config = tmp.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let clusters: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
    let (mut server, relay, admin) = start_server(
        state.to_str().unwrap(),
        config.to_str().unwrap(),
        "127.0.0.1:0",
        &clusters,
    );
    let rss_idle = rss_kib(server.pid());
    let ca = std::fs::read_to_string(state.join("pki/root-ca.crt")).unwrap();

    let started = Instant::now();
    let mut agents = Vec::new();
    for c in &clusters {
        let resources: Vec<_> = (0..m)
            .map(|i| resource("ConfigMap", &format!("{c}-r{i}"), "v"))
            .collect();
        let mut settings = AgentSettings::new(
            c,
            RelayTarget::new(relay.clone()),
            ca.clone(),
            tmp.path().join("agents").join(c),
        );
        settings.token = Some(TokenSource::File(state.join(format!("tokens/{c}.token"))));
        settings.backoff_max = Duration::from_secs(5);
        agents.push(
            Agent {
                settings,
                source: Arc::new(StaticSource::new(set_of(&resources))),
                sink: Arc::new(RecordingSink::default()),
            }
            .start()
            .await
            .unwrap(),
        );
    }
    wait_all(
        &admin,
        "all agents connected",
        |c| c.connected && c.snapshot_resources == m as u64,
        n,
    )
    .await;
    let connect_all = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_connected = rss_kib(server.pid());

    // one configuration change for every cluster
    let changed = Instant::now();
    for c in &clusters {
        std::fs::create_dir_all(config.join(c)).unwrap();
        std::fs::write(
            config.join(c).join("cfg.yaml"),
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cfg, namespace: shop}}\ndata: {{cluster: {c}}}\n"),
        )
        .unwrap();
    }
    wait_all(
        &admin,
        "every change acknowledged",
        |c| {
            // the change arrived: the agent holds the content that was sent (versions are
            // clock-based, so only their equality means anything)
            c.connected
                && c.applied_config_version.is_some()
                && c.applied_config_version == c.desired_config_version
                && c.desired_config_hash
                    .as_ref()
                    .is_some_and(|h| !h.is_empty())
                && c.applied_config_hash == c.desired_config_hash
        },
        n,
    )
    .await;
    let propagation = changed.elapsed();

    // restart: agents hold state; configuration must not travel again
    server.stop();
    let restarted = Instant::now();
    let (mut server, _, admin) = start_server(
        state.to_str().unwrap(),
        config.to_str().unwrap(),
        &relay,
        &clusters,
    );
    wait_all(
        &admin,
        "all agents resynced",
        |c| {
            c.connected
                && c.snapshot_resources == m as u64
                && c.applied_config_version.is_some()
                && c.applied_config_version == c.desired_config_version
                && c.desired_config_hash
                    .as_ref()
                    .is_some_and(|h| !h.is_empty())
                && c.applied_config_hash == c.desired_config_hash
        },
        n,
    )
    .await;
    let resync = restarted.elapsed();
    assert_eq!(
        metric(&admin, "meshctl_relay_config_resources_sent_total").await,
        0,
        "config resent after restart"
    );
    assert_eq!(
        metric(&admin, "meshctl_relay_bootstraps_total").await,
        0,
        "agents re-bootstrapped"
    );
    if report {
        eprintln!(
            "{}",
            serde_json::json!({
                "agents": n,
                "resources_per_agent": m,
                "connect_all_seconds": connect_all.as_secs_f64(),
                "server_rss_idle_kib": rss_idle,
                "server_rss_connected_kib": rss_connected,
                "server_rss_per_agent_kib": (rss_connected.saturating_sub(rss_idle)) as f64 / n as f64,
                "propagation_all_acked_seconds": propagation.as_secs_f64(),
                "restart_resync_seconds": resync.as_secs_f64(),
                "snapshot_bytes_received_after_restart": metric(&admin, "meshctl_relay_snapshot_bytes_received_total").await,
                "config_resources_sent_after_restart": 0,
            })
        );
    }
    for a in agents {
        a.shutdown(Duration::from_secs(5)).await;
    }
    server.stop();
}
