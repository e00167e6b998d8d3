//! `meshctl debug report`: writes a support bundle (see `crate::debug`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;
use serde_json::json;

use crate::check::cluster::ClusterAccess;
use crate::check::relay_source::{AdminAddressSource, AdminEndpoint, ServiceProxySource};
use crate::cli::Context;
use crate::cli::agents::AgentTargets;
use crate::cli::cluster::connect;
use crate::cli::duration::parse_duration;
use crate::cluster::{ADMIN_PORT, ADMIN_SERVICE, Side};
use crate::debug::bundle::{Bundle, BundleFile, Problem};
use crate::debug::collect::{self, NamespaceTarget};
use crate::exit::{ExitKind, Outcome, ResultExt};
use crate::output::{Render, Style};

/// The agent's Service and its admin port (values: agent.ports.admin).
const AGENT_SERVICE: &str = "mesh-agent";
const AGENT_ADMIN_PORT: u16 = 9093;

/// Write a support bundle of the installation: objects, events, logs and relay state, with
/// every secret redacted
///
/// Collects from the management cluster's namespace (-n): Deployments, StatefulSets, Pods,
/// Services, Events, meshctl's ConfigMaps, Secrets (names, key names and sizes only: values are
/// never written), the last --tail lines of every container's log (and of its previous run after
/// a restart); meshctl's CRDs and all their objects; the management server's relay view,
/// platform statuses and metrics from its admin API; and with --remote-context the agent
/// namespace of each workload cluster, with the agent's license view and metrics. Literal
/// values of secret-looking environment variables and flags, and passwords in URLs, are
/// redacted. Writes one .tar.gz (mode 0600) with a manifest.json listing its files and what
/// could not be collected; each such item is also a warning. Exit codes: 0 the bundle was
/// written, 3 the management cluster cannot be reached.
///
/// Examples:
///   meshctl debug report
///   meshctl debug report --file /tmp/mesh.tar.gz --remote-context east --remote-context west
///   meshctl debug report --mgmt-admin-address 127.0.0.1:9091 -o json
#[derive(Debug, Clone, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Where to write the bundle [default: meshctl-debug-<UTC time>.tar.gz in the current directory]
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,

    /// Log lines kept per container
    #[arg(long, value_name = "LINES", default_value_t = 2000, value_parser = clap::value_parser!(i64).range(1..=100_000))]
    pub tail: i64,

    /// Kubeconfig context of the management cluster [default: --context]
    #[arg(long, value_name = "CONTEXT")]
    pub mgmt_context: Option<String>,

    /// Reach the management server admin API at HOST:PORT (e.g. a port-forward) instead of
    /// through the Kubernetes API server's service proxy
    #[arg(long, value_name = "HOST:PORT")]
    pub mgmt_admin_address: Option<String>,

    #[command(flatten)]
    pub agents: AgentTargets,

    /// Timeout of each call to an API server or the admin API
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// What `debug report` prints.
#[derive(Debug, Serialize)]
pub struct ReportSummary {
    pub file: PathBuf,
    pub bytes: u64,
    pub files: Vec<BundleFile>,
    /// What could not be collected.
    pub problems: Vec<Problem>,
}

impl Render for ReportSummary {
    fn render_table(&self, _: &Style) -> String {
        let mut out = format!(
            "Wrote {} ({} files, {} KiB). Secret values are redacted; review it before sharing.\n",
            self.file.display(),
            self.files.len() + 1,
            self.bytes.div_ceil(1024)
        );
        if !self.problems.is_empty() {
            out.push_str(&format!(
                "{} items could not be collected (listed in manifest.json).\n",
                self.problems.len()
            ));
        }
        out
    }
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let namespace = ctx.namespace().to_owned();
    let mgmt = connect(ctx, args.mgmt_context.clone(), Side::Mgmt)
        .await?
        .cluster;
    let started = jiff::Timestamp::now();
    let stamp = started.strftime("%Y%m%dT%H%M%SZ").to_string();
    let root = format!("meshctl-debug-{stamp}");
    let file = args
        .file
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{root}.tar.gz")));
    let progress = ctx
        .printer()
        .progress()
        .spinner("collecting the support bundle");
    let mut bundle = Bundle::new(root);

    let mut versions = json!({"meshctl": crate::version::VERSION, "namespace": namespace});
    match collect::api_server_version(&mgmt.client, args.timeout).await {
        Ok(v) => versions["mgmt_api_server"] = v,
        Err(e) => bundle.problem("version.json: mgmt API server version", e),
    }
    let mgmt_dir = "mgmt".to_owned();
    collect::namespace(
        &mut bundle,
        &NamespaceTarget {
            dir: format!("{mgmt_dir}/{namespace}"),
            client: mgmt.client.clone(),
            namespace: namespace.clone(),
            timeout: args.timeout,
            tail_lines: args.tail,
        },
    )
    .await;
    collect::custom_resources(&mut bundle, &mgmt_dir, &mgmt.client, args.timeout).await;
    let reader = match &args.mgmt_admin_address {
        Some(address) => AdminEndpoint::Address(AdminAddressSource::new(address, args.timeout)),
        None => AdminEndpoint::Proxy(ServiceProxySource::new(
            Arc::new(ClusterAccess::new(
                mgmt.context.clone(),
                Ok(mgmt.client.clone()),
                args.timeout,
            )),
            namespace.as_str(),
            ADMIN_SERVICE,
            ADMIN_PORT,
        )),
    };
    collect::admin(
        &mut bundle,
        &format!("{mgmt_dir}/admin"),
        &reader,
        &collect::SERVER_ADMIN_FILES,
    )
    .await;

    let agent_namespace = args.agents.namespace(&namespace);
    for context in &args.agents.remote_context {
        let dir = format!("remote/{context}");
        let target = ctx.kube().with_context(Some(context.clone()));
        let client = match target.client().await {
            Ok(c) => c,
            Err(e) => {
                bundle.problem(dir, crate::output::error_chain(&e));
                continue;
            }
        };
        match collect::api_server_version(&client, args.timeout).await {
            Ok(v) => versions["remote_api_servers"][context] = v,
            Err(e) => {
                bundle.problem(format!("{dir}: API server version"), e);
                continue;
            }
        }
        collect::namespace(
            &mut bundle,
            &NamespaceTarget {
                dir: format!("{dir}/{agent_namespace}"),
                client: client.clone(),
                namespace: agent_namespace.clone(),
                timeout: args.timeout,
                tail_lines: args.tail,
            },
        )
        .await;
        let agent_admin = AdminEndpoint::Proxy(ServiceProxySource::new(
            Arc::new(ClusterAccess::new(
                context.clone(),
                Ok(client),
                args.timeout,
            )),
            agent_namespace.as_str(),
            AGENT_SERVICE,
            AGENT_ADMIN_PORT,
        ));
        collect::admin(
            &mut bundle,
            &format!("{dir}/agent-admin"),
            &agent_admin,
            &collect::AGENT_ADMIN_FILES,
        )
        .await;
    }
    bundle.add(
        "version.json",
        serde_json::to_vec_pretty(&versions).context("encoding version.json")?,
    );
    let bytes = bundle
        .write(&file, started)
        .exit_kind(ExitKind::Environment)?;
    progress.finish_and_clear();
    for p in bundle.problems() {
        ctx.printer()
            .warn(format!("not collected: {}: {}", p.what, p.error));
    }
    ctx.printer()
        .data(&ReportSummary {
            file,
            bytes,
            files: bundle.files(),
            problems: bundle.problems().to_vec(),
        })
        .context("writing the summary")?;
    Ok(Outcome::Success)
}
