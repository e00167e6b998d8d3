//! `meshctl get destinations`: the global service catalog (`GET /api/v1/destinations` on the
//! management server's admin API): every Service the agents reported, across clusters, and every
//! VirtualDestination with its hosts, state and backends.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::check::cluster::ClusterAccess;
use crate::check::relay_source::{AdminAddressSource, ServiceProxySource};
use crate::cli::Context;
use crate::cli::duration::parse_duration;
use crate::cluster::{ADMIN_PORT, ADMIN_SERVICE};
use crate::exit::{ExitKind, Outcome, ResultExt};
use crate::server::translation_admin::DESTINATIONS_PATH;
use crate::translate::ServiceCatalog;

/// List every Service discovered across clusters and the VirtualDestinations they back
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Reach the management server admin API at HOST:PORT (e.g. a port-forward) instead of
    /// through the Kubernetes API server's service proxy (Service mesh-mgmt-server-admin:9091
    /// in -n NAMESPACE)
    #[arg(long, value_name = "HOST:PORT")]
    pub mgmt_admin_address: Option<String>,

    /// How long to wait for the management server
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let body = match &args.mgmt_admin_address {
        Some(address) => {
            let source = AdminAddressSource::new(address.clone(), args.timeout);
            source.get(DESTINATIONS_PATH).await
        }
        None => {
            let client = ctx.kube().client().await.map_err(|e| e.to_string());
            let access = Arc::new(ClusterAccess::new(
                "management cluster".to_owned(),
                client,
                args.timeout,
            ));
            let source =
                ServiceProxySource::new(access, ctx.namespace(), ADMIN_SERVICE, ADMIN_PORT);
            source.get(DESTINATIONS_PATH).await
        }
    };
    let body = body
        .map_err(anyhow::Error::new)
        .context("reading the service catalog")
        .exit_kind(ExitKind::Environment)?;
    let catalog: ServiceCatalog = serde_json::from_slice(&body)
        .context("the management server sent a catalog meshctl cannot read")
        .exit_kind(ExitKind::Environment)?;
    ctx.printer().data(&catalog)?;
    Ok(Outcome::Success)
}
