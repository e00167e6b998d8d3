//! `meshctl dashboard`: serves the management server's dashboard on a local address, proxied to
//! its Service through the Kubernetes API server (no port-forward), or to an admin address.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::check::cluster::ClusterAccess;
use crate::check::relay_source::{
    AdminAddressSource, AdminEndpoint, RelaySourceError, ServiceProxySource,
};
use crate::cli::Context;
use crate::cli::cluster::connect;
use crate::cli::duration::parse_duration;
use crate::cluster::{ADMIN_SERVICE, Side};
use crate::exit::{ExitKind, Outcome, ResultExt};
use crate::output::{Render, Style};

/// Port of the dashboard on the `mesh-mgmt-server-admin` Service (values: mgmtServer.ports.ui).
pub const UI_PORT: u16 = 8090;

/// Open the management server's dashboard in a browser, through a local proxy
///
/// Serves http://127.0.0.1:PORT and forwards every GET to the dashboard port of Service
/// mesh-mgmt-server-admin through the Kubernetes API server's service proxy (with your
/// kubeconfig's credentials; no port-forward, no extra network path), or, with
/// --mgmt-admin-address, straight to that address (a port-forward, or `meshctl demo`'s admin
/// address). Opens the page in a browser when run on a terminal (not with --no-browser or CI).
/// Runs until Ctrl-C. The dashboard is read-only: clusters and their relay state, platform
/// resources and their statuses.
///
/// Examples:
///   meshctl dashboard
///   meshctl dashboard --port 0 --no-browser
///   meshctl dashboard --mgmt-admin-address 127.0.0.1:9091
#[derive(Debug, Clone, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Local port to serve on (0 picks a free one)
    #[arg(long, value_name = "PORT", default_value_t = UI_PORT)]
    pub port: u16,

    /// Local address to serve on
    #[arg(long, value_name = "IP", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub address: IpAddr,

    /// Do not open a browser; only print the address
    #[arg(long)]
    pub no_browser: bool,

    /// Kubeconfig context of the management cluster [default: --context]
    #[arg(long, value_name = "CONTEXT")]
    pub mgmt_context: Option<String>,

    /// Proxy to the server's admin API at HOST:PORT (which serves the dashboard too) instead of
    /// through the Kubernetes API server
    #[arg(long, value_name = "HOST:PORT")]
    pub mgmt_admin_address: Option<String>,

    /// Timeout of each request to the server
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// The content type of a dashboard path (the upstreams return bodies only).
fn content_type(path: &str) -> &'static str {
    let path = path.split('?').next().unwrap_or(path);
    if path == "/" || path.ends_with(".html") {
        "text/html; charset=utf-8"
    } else if path == "/metrics" {
        "text/plain; version=0.0.4; charset=utf-8"
    } else if path == "/healthz" || path == "/readyz" {
        "text/plain; charset=utf-8"
    } else {
        "application/json"
    }
}

/// Whether a forwarded path stays under the dashboard: no `.` or `..` segment (plain or
/// percent-encoded) and no encoded slash or backslash, which the API server could resolve to
/// another of its endpoints, to be read with the user's credentials.
fn confined(path_and_query: &str) -> bool {
    let path = path_and_query.split('?').next().unwrap_or(path_and_query);
    let lower = path.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") || path.contains('\\') {
        return false;
    }
    lower.split('/').all(|segment| {
        let segment = segment.replace("%2e", ".");
        segment != "." && segment != ".."
    })
}

/// Whether a request's Host header names this machine by `localhost` or an IP address. A page
/// of another site whose name was made to resolve to 127.0.0.1 (DNS rebinding) carries its own
/// name, and is refused.
fn local_host(host: Option<&str>) -> bool {
    let Some(host) = host else { return false };
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok()
}

/// Forwards one request: GET only; the upstream's status for HTTP errors, 502 when it cannot be
/// reached.
async fn forward(State(upstream): State<Arc<AdminEndpoint>>, request: Request<Body>) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            "the dashboard is read-only\n",
        )
            .into_response();
    }
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    if !local_host(host) {
        return (
            StatusCode::FORBIDDEN,
            "the dashboard answers only requests addressed to localhost or an IP address\n",
        )
            .into_response();
    }
    let path = request
        .uri()
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
    if !confined(&path) {
        return (
            StatusCode::BAD_REQUEST,
            "dot segments and encoded slashes are not forwarded\n",
        )
            .into_response();
    }
    match upstream.get(&path).await {
        Ok(body) => (
            [
                (header::CONTENT_TYPE, content_type(&path)),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body,
        )
            .into_response(),
        Err(RelaySourceError::Http { code, body, .. }) => (
            StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY),
            format!("{body}\n"),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, %path, "dashboard request failed");
            (StatusCode::BAD_GATEWAY, format!("{e}\n")).into_response()
        }
    }
}

/// The local proxy's routes.
pub fn router(upstream: AdminEndpoint) -> Router {
    Router::new()
        .fallback(forward)
        .with_state(Arc::new(upstream))
}

/// What `dashboard` prints once it serves.
#[derive(Debug, Serialize)]
pub struct Serving {
    pub url: String,
    pub upstream: String,
}

impl Render for Serving {
    fn render_table(&self, _: &Style) -> String {
        format!(
            "Dashboard: {}\n(proxied to {}; Ctrl-C to stop)\n",
            self.url, self.upstream
        )
    }
}

/// Opens `url` in the desktop's browser; false when no opener could be started.
fn open_browser(url: &str) -> bool {
    let mut command = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(windows) {
        let mut c = std::process::Command::new("cmd");
        c.args(["/C", "start", ""]);
        c
    } else {
        std::process::Command::new("xdg-open")
    };
    command
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let upstream = match &args.mgmt_admin_address {
        Some(address) => AdminEndpoint::Address(AdminAddressSource::new(address, args.timeout)),
        None => {
            let mgmt = connect(ctx, args.mgmt_context.clone(), Side::Mgmt)
                .await?
                .cluster;
            AdminEndpoint::Proxy(ServiceProxySource::new(
                Arc::new(ClusterAccess::new(
                    mgmt.context.clone(),
                    Ok(mgmt.client.clone()),
                    args.timeout,
                )),
                ctx.namespace(),
                ADMIN_SERVICE,
                UI_PORT,
            ))
        }
    };
    let listen = SocketAddr::new(args.address, args.port);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("--port {}: cannot listen on {listen}", args.port))
        .exit_kind(ExitKind::Environment)?;
    let bound = listener.local_addr().context("reading the local address")?;
    let url = format!("http://{bound}/");
    let serving = Serving {
        url: url.clone(),
        upstream: upstream.describe(),
    };
    let app = router(upstream);
    ctx.printer()
        .data(&serving)
        .context("writing the address")?;
    if !args.no_browser && ctx.printer().options().interactive && !open_browser(&url) {
        ctx.printer()
            .hint(format!("could not start a browser: open {url} yourself"));
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(crate::cli::serve::shutdown_signal())
        .await
        .context("serving the dashboard")
        .exit_kind(ExitKind::Environment)?;
    Ok(Outcome::Success)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::check::testing::{MockApi, status, text};

    #[test]
    fn only_paths_under_the_dashboard_are_forwarded() {
        for ok in ["/", "/api/v1/clusters?x=..", "/a.b/c..d", "/metrics"] {
            assert!(confined(ok), "{ok}");
        }
        for bad in [
            "/../../secrets",
            "/api/..",
            "/%2e%2e/secrets",
            "/%2E./x",
            "/a%2fb",
            "/a%5Cb",
            "/./x",
        ] {
            assert!(!confined(bad), "{bad}");
        }
    }

    #[test]
    fn only_local_hosts_are_answered() {
        for ok in [
            "localhost:8090",
            "127.0.0.1:8090",
            "[::1]:8090",
            "10.0.0.5:8090",
            "LOCALHOST",
        ] {
            assert!(local_host(Some(ok)), "{ok}");
        }
        for bad in [
            None,
            Some("evil.example:8090"),
            Some("localhost.evil.example"),
        ] {
            assert!(!local_host(bad), "{bad:?}");
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("/"), "text/html; charset=utf-8");
        assert_eq!(content_type("/api/v1/clusters?x=1"), "application/json");
        assert!(content_type("/metrics").starts_with("text/plain"));
    }

    /// Through the service proxy: the path maps onto the Service's dashboard port, HTTP errors
    /// keep their status, and only reads are forwarded.
    #[tokio::test]
    async fn requests_go_through_the_service_proxy() {
        let api = MockApi::start(|method, path, _| {
            assert_eq!(method, "GET");
            match path {
                "/api/v1/namespaces/mesh-system/services/http:mesh-mgmt-server-admin:8090/proxy/" => {
                    (200, text("<!doctype html><title>meshctl dashboard</title>"))
                }
                "/api/v1/namespaces/mesh-system/services/http:mesh-mgmt-server-admin:8090/proxy/api/v1/clusters" => {
                    (200, serde_json::json!({"clusters": []}))
                }
                other => (404, status(404, "NotFound", other)),
            }
        });
        let upstream = AdminEndpoint::Proxy(ServiceProxySource::new(
            Arc::new(api.cluster()),
            "mesh-system",
            ADMIN_SERVICE,
            UI_PORT,
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move {
            axum::serve(listener, router(upstream)).await.unwrap();
        });
        let get = |path: &'static str| {
            let address = address.clone();
            async move {
                crate::server::admin_client::get(&address, path, Duration::from_secs(5))
                    .await
                    .unwrap()
            }
        };
        let (code, body) = get("/").await;
        assert_eq!(code, 200);
        assert!(String::from_utf8_lossy(&body).contains("meshctl dashboard"));
        let (code, body) = get("/api/v1/clusters").await;
        assert_eq!(code, 200);
        assert_eq!(String::from_utf8_lossy(&body), r#"{"clusters":[]}"#);
        let (code, _) = get("/api/v1/statuses").await;
        assert_eq!(code, 404);
        server.abort();
    }
}
