//! `meshctl cluster ...`: register, deregister and list workload clusters (domain code in
//! `crate::cluster`).

pub mod deregister;
pub mod list;
pub mod register;
pub mod server_table;

use std::sync::Arc;
use std::time::Duration;

use clap::Subcommand;

use crate::check::ClusterAccess;
use crate::check::relay_source::{AdminAddressSource, RelayStatusSource, ServiceProxySource};
use crate::cli::Context;
use crate::cluster::api::Cluster;
use crate::cluster::preflight::{ClusterIdentity, ca_fingerprint};
use crate::cluster::{ADMIN_PORT, ADMIN_SERVICE, ClusterError, Side};
use crate::exit::{ExitKind, Outcome, classify};
use crate::kube::KubeTarget;

/// Register workload clusters with the management server, deregister them, list them
#[derive(Debug, Subcommand)]
pub enum Command {
    Register(register::Args),
    Deregister(deregister::Args),
    List(list::Args),
}

pub async fn run(cmd: Command, ctx: &Context) -> anyhow::Result<Outcome> {
    match cmd {
        Command::Register(args) => register::run(args, ctx).await,
        Command::Deregister(args) => deregister::run(args, ctx).await,
        Command::List(args) => list::run(args, ctx).await,
    }
}

/// Tags a domain error with its exit code.
pub fn fail(err: ClusterError) -> anyhow::Error {
    let kind = err.exit_kind();
    classify(kind, err)
}

/// The management and remote contexts.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ContextArgs {
    /// Kubeconfig context of the management cluster [default: --context]
    #[arg(long, value_name = "CONTEXT")]
    pub mgmt_context: Option<String>,

    /// Kubeconfig context of the workload cluster [default: --context]
    #[arg(long, value_name = "CONTEXT")]
    pub remote_context: Option<String>,
}

/// A connected cluster and its identity.
pub struct Connected {
    pub cluster: Cluster,
    pub identity: ClusterIdentity,
}

/// Resolves every context first, so that a missing one is reported (with the available ones) before
/// any cluster is contacted.
pub async fn resolve_contexts(ctx: &Context, contexts: &[Option<String>]) -> anyhow::Result<()> {
    for context in contexts {
        ctx.kube()
            .with_context(context.clone())
            .config()
            .await
            .map_err(|e| classify(ExitKind::Environment, e))?;
    }
    Ok(())
}

/// Builds the client of `context` (a context missing from the kubeconfig lists the available ones,
/// exit 3), checks the API server answers, and reads its identity.
pub async fn connect(
    ctx: &Context,
    context: Option<String>,
    side: Side,
) -> anyhow::Result<Connected> {
    let target: KubeTarget = ctx.kube().with_context(context);
    let label = target
        .context()
        .map_or_else(|| "current context".to_owned(), str::to_owned);
    let config = target
        .config()
        .await
        .map_err(|e| classify(ExitKind::Environment, e))?;
    let server = config.cluster_url.to_string();
    let ca = config.root_cert.as_deref().and_then(ca_fingerprint);
    let client = target
        .client()
        .await
        .map_err(|e| classify(ExitKind::Environment, e))?;
    let timeout = target.timeout();
    let cluster = Cluster::new(client.clone(), side, label.clone(), timeout);
    match tokio::time::timeout(timeout, client.apiserver_version()).await {
        Ok(Ok(_)) => {}
        Ok(Err(err)) => {
            return Err(classify(
                ExitKind::Environment,
                anyhow::Error::new(err)
                    .context(format!("cannot reach the {side} ({label}) at {server}")),
            ));
        }
        Err(_) => {
            return Err(classify(
                ExitKind::Environment,
                anyhow::anyhow!(
                    "the {side} ({label}) at {server} did not answer within {}s",
                    timeout.as_secs()
                ),
            ));
        }
    }
    let identity = crate::cluster::preflight::identity(&cluster, server, ca)
        .await
        .map_err(fail)?;
    Ok(Connected { cluster, identity })
}

/// The server's admin API: at `--mgmt-admin-address`, else through the API server's service proxy.
pub fn admin_source(
    cluster: &Cluster,
    namespace: &str,
    address: Option<&str>,
) -> Arc<dyn RelayStatusSource> {
    match address {
        Some(address) => Arc::new(AdminAddressSource::new(address, cluster.timeout)),
        None => Arc::new(ServiceProxySource::new(
            Arc::new(ClusterAccess::new(
                cluster.context.clone(),
                Ok(cluster.client.clone()),
                cluster.timeout,
            )),
            namespace,
            ADMIN_SERVICE,
            ADMIN_PORT,
        )),
    }
}

/// Default of `--timeout` for register.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(120);
