//! The dashboard as real processes: `serve mgmt-server --ui-listen` serves the page and the JSON
//! routes on its own port, and `meshctl dashboard --mgmt-admin-address` proxies a local port to it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::mesh::address_in;
use support::{Running, meshctl_bin};

const WAIT: Duration = Duration::from_secs(60);

/// A process killed and reaped when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(address: &str, path: &str) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (code, body) = rt
        .block_on(meshctl::server::admin_client::get(
            address,
            path,
            Duration::from_secs(10),
        ))
        .unwrap();
    (code, String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn the_server_serves_the_dashboard_and_meshctl_dashboard_proxies_it() {
    let state = tempfile::tempdir().unwrap();
    let mut server = Running::start(
        &[
            "serve",
            "mgmt-server",
            "--relay-listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--ui-listen",
            "127.0.0.1:0",
            "--state-dir",
            state.path().to_str().unwrap(),
            "--cluster",
            "east",
        ],
        &[],
    );
    let admin = address_in(&server.wait_for_line("admin listening on", WAIT));
    let ui = address_in(&server.wait_for_line("dashboard listening on", WAIT));
    assert_ne!(admin, ui);
    for address in [&admin, &ui] {
        let (code, page) = get(address, "/");
        assert_eq!(code, 200);
        assert!(page.contains("<title>meshctl dashboard</title>"), "{page}");
        // The page reads these, relative to wherever it is served.
        assert!(page.contains("\"api/v1/clusters\""), "{page}");
        let (code, clusters) = get(address, "/api/v1/clusters");
        assert_eq!(code, 200);
        let clusters: serde_json::Value = serde_json::from_str(&clusters).unwrap();
        assert_eq!(clusters["clusters"][0]["name"], "east", "{clusters}");
        assert_eq!(clusters["clusters"][0]["connected"], false, "{clusters}");
    }

    let mut dashboard = Killed(
        Command::new(meshctl_bin())
            .args([
                "dashboard",
                "--mgmt-admin-address",
                &admin,
                "--port",
                "0",
                "--no-browser",
            ])
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = dashboard.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("Dashboard: http://")
        .unwrap_or_else(|| panic!("{first}"));
    let local = url.trim_end_matches('/').to_owned();
    let (code, page) = get(&local, "/");
    assert_eq!(code, 200);
    assert!(page.contains("<title>meshctl dashboard</title>"));
    let (code, clusters) = get(&local, "/api/v1/clusters");
    assert_eq!(code, 200);
    assert!(clusters.contains("\"east\""), "{clusters}");
    // Without translation the server has no statuses: the status code passes through.
    let (code, _) = get(&local, "/api/v1/statuses");
    assert_eq!(code, 404);
    // Nothing outside the dashboard, nothing for another site's name, nothing but reads.
    assert_eq!(
        raw_status(&local, "GET /%2e%2e/x HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"),
        400
    );
    assert_eq!(
        raw_status(&local, "GET / HTTP/1.0\r\nHost: evil.example\r\n\r\n"),
        403
    );
    assert_eq!(
        raw_status(
            &local,
            "POST / HTTP/1.0\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n"
        ),
        405
    );
}

/// The status code of the answer to a raw HTTP/1.0 `request`.
fn raw_status(address: &str, request: &str) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer}"))
}
