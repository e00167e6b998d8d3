//! `/metrics` of the management server and of the agent, linted by `promtool check metrics` in both
//! exposition formats, chosen by the `Accept` header (issue 17 item 10).
//!
//! promtool parses only the Prometheus text format 0.0.4: the 0.0.4 body must be clean. Fed the
//! OpenMetrics body, promtool reports two things that are not faults of an OpenMetrics exposition
//! but of reading it as 0.0.4 (a counter family `x` is `# TYPE x counter` with samples `x_total`):
//! `x_total no help text` and, for a family without samples yet, `x counter metrics should have
//! "_total" suffix`. Those, and only those, are accepted for the OpenMetrics body, each checked
//! against the body's own `# TYPE x counter` line; anything else fails.
//!
//! Without `promtool` on PATH the tests print why and skip, except under CI (env `CI` set), where
//! they fail (.ci/run installs Debian's `prometheus` package, which ships promtool).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod common;

use common::*;
use meshctl::relay::entitlements::AnnouncedState;
use std::collections::BTreeSet;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// What Prometheus 2.x/3.x sends when scraping (OpenMetrics preferred, 0.0.4 as fallback).
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const TEXT_004: &str = "text/plain; version=0.0.4; charset=utf-8";

fn promtool_bin() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("promtool"))
            .find(|p| p.is_file())
    })
}

/// The promtool binary, or None when the test must skip (panics under CI).
fn require_promtool(test: &str) -> Option<PathBuf> {
    match promtool_bin() {
        Some(bin) => Some(bin),
        None if std::env::var_os("CI").is_some() => {
            panic!("{test}: promtool is not on PATH, and CI is set (.ci/run installs it)")
        }
        None => {
            eprintln!(
                "skipping {test}: promtool is not on PATH (apt-get install prometheus ships it)"
            );
            None
        }
    }
}

/// `promtool check metrics` on `body`: (exit code, one finding per line).
fn promtool_check(bin: &PathBuf, body: &str) -> (i32, Vec<String>) {
    let mut child = Command::new(bin)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let findings = String::from_utf8_lossy(&out.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&out.stderr).lines())
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect();
    (out.status.code().unwrap_or(-1), findings)
}

/// GET `path` over HTTP/1.0 with an optional Accept header: (status, Content-Type, body).
async fn get(addr: SocketAddr, path: &str, accept: Option<&str>) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n{accept}\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.unwrap();
    let (head, body) = buf.split_once("\r\n\r\n").unwrap();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let content_type = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

/// The names the body declares as counter families (`# TYPE x counter`).
fn counter_families(body: &str) -> BTreeSet<String> {
    body.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .map(str::to_owned)
        .collect()
}

/// Lints `/metrics` at `addr` in both formats; returns every finding not explained above, labelled.
async fn lint(bin: &PathBuf, what: &str, addr: SocketAddr) -> Vec<String> {
    let mut unexplained = Vec::new();
    for (accept, want_type) in [
        (None, TEXT_004),
        (Some("text/plain"), TEXT_004),
        (Some("*/*"), TEXT_004),
        (Some(PROMETHEUS_ACCEPT), OPENMETRICS),
        (Some("application/openmetrics-text"), OPENMETRICS),
    ] {
        let (status, content_type, body) = get(addr, "/metrics", accept).await;
        assert_eq!(status, 200, "{what} /metrics, Accept {accept:?}");
        assert_eq!(
            content_type, want_type,
            "{what} /metrics, Accept {accept:?}"
        );
        assert!(body.contains("# HELP meshctl_"), "{what}: {body}");
        let openmetrics = want_type == OPENMETRICS;
        assert_eq!(
            body.ends_with("# EOF\n"),
            openmetrics,
            "{what}, Accept {accept:?}: `# EOF` ends OpenMetrics and only OpenMetrics\n{body}"
        );
        let (code, findings) = promtool_check(bin, &body);
        let counters = counter_families(&body);
        let explained = |f: &str| {
            openmetrics
                && (f
                    .strip_suffix("_total no help text")
                    .is_some_and(|n| counters.contains(n))
                    || f.strip_suffix(" counter metrics should have \"_total\" suffix")
                        .is_some_and(|n| counters.contains(n)))
        };
        let rest: Vec<_> = findings.iter().filter(|f| !explained(f)).collect();
        eprintln!(
            "{what}, Accept {accept:?}: promtool exit {code}, {} finding(s), {} not explained by OpenMetrics-as-0.0.4",
            findings.len(),
            rest.len()
        );
        if !openmetrics {
            assert_eq!(code == 0, findings.is_empty(), "{findings:?}");
        }
        unexplained.extend(
            rest.into_iter()
                .map(|f| format!("{what} (Accept {accept:?}): {f}")),
        );
    }
    unexplained
}

#[tokio::test]
async fn server_and_agent_metrics_pass_promtool_in_both_formats() {
    let Some(bin) = require_promtool("server_and_agent_metrics_pass_promtool_in_both_formats")
    else {
        return;
    };
    let parts = ServerParts::new().await;
    let server = parts.start().await;
    let admin = server.admin_addr.unwrap();
    // Before any agent: labelled families without samples yet.
    let mut findings = lint(&bin, "server (no agent)", admin).await;

    let dir = tempfile::tempdir().unwrap();
    let sink = dir_sink(&dir.path().join("sink")).await;
    let agent = start_agent(
        &server,
        "lint-1",
        Some(parts.token("lint-1").await),
        &dir.path().join("state"),
        &[resource("ConfigMap", "a", "1")],
        sink,
    )
    .await;
    let agent_admin = agent.running.admin_addr.unwrap();
    let mut connected = false;
    for _ in 0..1500 {
        let (_, _, body) = get(agent_admin, "/metrics", None).await;
        if body.contains("meshctl_agent_connected 1") {
            connected = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(connected, "the agent never connected");
    // A refused call, so the labelled counter families have samples too.
    let mut bad = client(server.relay_addr, &server.root_ca_pem, None).await;
    let _ = open_stream(&mut bad, hello("lint-1")).await;
    eventually("the agent's snapshot counted", || {
        server.metrics.snapshot_resources_received.get() > 0
    })
    .await;

    findings.extend(lint(&bin, "server", admin).await);
    findings.extend(lint(&bin, "agent", agent_admin).await);
    // This server announces no license (it does not translate): the documented `unknown`.
    let (_, _, body) = get(agent_admin, "/metrics", None).await;
    assert!(
        body.contains("meshctl_agent_license_info{state=\"unknown\",modules=\"-\"} 1"),
        "{body}"
    );
    agent
        .running
        .shutdown(std::time::Duration::from_secs(5))
        .await;
    assert!(
        findings.is_empty(),
        "promtool check metrics:\n{}",
        findings.join("\n")
    );
}

/// Every `state` an agent can put in `meshctl_agent_license_info` is listed where docs/relay.md
/// describes that metric.
#[test]
fn every_license_state_an_agent_shows_is_documented() {
    let docs = include_str!("../docs/relay.md");
    let paragraph = docs
        .split("\n\n")
        .find(|p| p.contains("`meshctl_agent_license_info{state,modules}`"))
        .expect("docs/relay.md describes meshctl_agent_license_info");
    let missing: Vec<_> = AnnouncedState::ALL
        .iter()
        .map(|s| s.as_str())
        .filter(|s| !paragraph.contains(&format!("`{s}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "states not documented with meshctl_agent_license_info: {missing:?}\n{paragraph}"
    );
}
