//! `meshctl cluster list`: registrations joined with the server's live relay view.

use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, ListParams};

use crate::api::KubernetesCluster;
use crate::check::relay_source::{AdminAddressSource, RelayStatusSource};
use crate::cli::Context;
use crate::cli::duration::parse_duration;
use crate::cluster::list::{ClusterListing, join};
use crate::cluster::{Side, preflight};
use crate::exit::Outcome;

use super::{admin_source, connect};

/// List registered clusters: registered, connected, agent version and skew, last seen, snapshot
/// age and size, certificate expiry
///
/// Reads the KubernetesCluster resources and the management server's GET /api/v1/clusters
/// (through the API server's service proxy, or --mgmt-admin-address). Always exits 0 once it
/// could start: it is a listing; `meshctl check` judges. With --mgmt-admin-address and no
/// reachable Kubernetes API (e.g. `meshctl demo`), it lists what the server reports.
///
/// Examples:
///   meshctl cluster list
///   meshctl cluster list --mgmt-admin-address 127.0.0.1:9091 -o json
#[derive(Debug, Clone, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Kubeconfig context of the management cluster [default: --context]
    #[arg(long, value_name = "CONTEXT")]
    pub mgmt_context: Option<String>,

    /// Reach the server's admin API at HOST:PORT (e.g. a port-forward) instead of through the
    /// Kubernetes API server's service proxy
    #[arg(long, value_name = "HOST:PORT", visible_alias = "admin-address")]
    pub mgmt_admin_address: Option<String>,

    /// Timeout of each call to the admin API
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let namespace = ctx.namespace().to_owned();
    let mut listing = ClusterListing::default();
    let mgmt = match (
        connect(ctx, args.mgmt_context.clone(), Side::Mgmt).await,
        &args.mgmt_admin_address,
    ) {
        (Ok(connected), _) => Some(connected.cluster),
        // The admin API alone still gives the live view.
        (Err(err), Some(_)) => {
            listing.warnings.push(format!(
                "{}: showing the server's view only",
                crate::output::one_line(&err)
            ));
            None
        }
        (Err(err), None) => return Err(err),
    };
    // `None`: the registrations could not be read, so REGISTERED is unknown (not "no").
    let mut registered = None;
    if let Some(mgmt) = &mgmt {
        let api: Api<KubernetesCluster> = Api::namespaced(mgmt.client.clone(), &namespace);
        match mgmt
            .call("list KubernetesClusters", api.list(&ListParams::default()))
            .await
        {
            Ok(list) => registered = Some(list.items),
            Err(err) => listing
                .warnings
                .push(format!("cannot list the registrations: {err}")),
        }
    }
    let source: Arc<dyn RelayStatusSource> = match (&args.mgmt_admin_address, &mgmt) {
        (Some(address), _) => Arc::new(AdminAddressSource::new(address.clone(), args.timeout)),
        (None, Some(mgmt)) => admin_source(mgmt, &namespace, None),
        // Without a cluster `run` returned above unless an admin address was given.
        (None, None) => return Ok(Outcome::Success),
    };
    let relay = match tokio::time::timeout(args.timeout, source.clusters()).await {
        Ok(Ok(clusters)) => Some(clusters),
        Ok(Err(err)) => {
            listing.warnings.push(format!(
                "{err}: showing registrations only ({})",
                source.unreachable_hint()
            ));
            None
        }
        Err(_) => {
            listing.warnings.push(format!(
                "{} did not answer: showing registrations only",
                source.describe()
            ));
            None
        }
    };
    if let Some(mgmt) = &mgmt {
        listing.server_version = preflight::server(mgmt, &namespace)
            .await
            .ok()
            .and_then(|s| s.version);
    }
    listing.clusters = join(
        registered.as_deref(),
        relay.as_deref(),
        listing.server_version.as_deref(),
        jiff::Timestamp::now(),
    );
    for warning in &listing.warnings {
        ctx.printer().warn(warning);
    }
    ctx.printer().data(&listing)?;
    Ok(Outcome::Success)
}
