//! Smoke test of the relay load harness (`meshctl x bench relay`) with a small fleet.
//! Asserts correctness only, never timings: every agent connected and synced, every
//! configuration change acknowledged by every agent, and after the server restart
//! only deltas travelled.
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use serde_json::Value;

fn run_bench(extra: &[&str]) -> Value {
    let mut args = vec![
        "-o",
        "json",
        "x",
        "bench",
        "relay",
        "--agents",
        "20",
        "--resources",
        "50",
        "--changes",
        "3",
        "--change-interval",
        "50ms",
        "--duration",
        "1s",
        "--timeout",
        "300s",
    ];
    args.extend_from_slice(extra);
    let out = Command::cargo_bin("meshctl")
        .unwrap()
        .args(&args)
        .timeout(std::time::Duration::from_secs(360))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench failed: {}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap()
}

fn u(v: &Value, path: &str) -> u64 {
    v.pointer(path)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{path} missing in {v}"))
}

#[test]
fn twenty_agents_connect_ack_every_change_and_resync_with_deltas() {
    let r = run_bench(&[]);
    assert_eq!(r["completed"], Value::Bool(true), "{r}");
    assert_eq!(u(&r, "/storm/connected"), 20);
    assert_eq!(u(&r, "/storm/synced"), 20);
    assert_eq!(u(&r, "/storm/bootstraps_issued"), 20);
    // the initial storm carried every snapshot resource once
    assert_eq!(u(&r, "/storm/snapshot_resources_received"), 20 * 50);

    // every change acknowledged by every agent
    assert_eq!(u(&r, "/propagation/expected"), 60);
    assert_eq!(u(&r, "/propagation/acked"), 60);
    assert_eq!(u(&r, "/propagation/latency/samples"), 60);

    // restart with the store kept: nothing of the snapshots is resent, and of the
    // configuration only the one changed resource per cluster
    assert_eq!(r["reconnect"]["store"], "kept");
    assert_eq!(u(&r, "/reconnect/synced"), 20);
    let total = u(&r, "/reconnect/snapshot_resources_total");
    assert_eq!(total, 1000);
    assert_eq!(u(&r, "/reconnect/snapshot_resources_resent"), 0);
    assert_eq!(u(&r, "/reconnect/agent_snapshot_resources_sent"), 0);
    assert_eq!(u(&r, "/reconnect/config_resources_total"), 200);
    assert_eq!(u(&r, "/reconnect/config_resources_resent"), 20);
    assert_eq!(u(&r, "/reconnect/agent_config_resources_received"), 20);
    assert!(u(&r, "/reconnect/wire_bytes_received") > 0);
    // agents kept their certificates: no new bootstrap
    assert_eq!(u(&r, "/fleet/bootstraps"), 20);

    let limit = u(&r, "/messages/limit_bytes");
    assert!(u(&r, "/messages/largest_received_bytes") <= limit);
    assert!(u(&r, "/messages/largest_sent_bytes") <= limit);
}

#[test]
fn a_fresh_store_rebuilds_snapshots_but_config_still_travels_as_a_delta() {
    let r = run_bench(&["--restart-store", "fresh"]);
    assert_eq!(r["completed"], Value::Bool(true), "{r}");
    assert_eq!(r["reconnect"]["store"], "fresh");
    assert_eq!(u(&r, "/reconnect/synced"), 20);
    // each agent sends its snapshot once to rebuild the empty store
    assert_eq!(u(&r, "/reconnect/snapshot_resources_resent"), 1000);
    // configuration: only the changed resource per cluster
    assert_eq!(u(&r, "/reconnect/config_resources_resent"), 20);
}
