//! `meshctl cluster list`: registrations joined with the server's live relay view.

use kube::api::{Api, ListParams};

use crate::api::KubernetesCluster;
use crate::cli::Context;
use crate::cluster::list::{ClusterListing, join};
use crate::cluster::{Side, preflight};
use crate::exit::Outcome;

use super::{admin_source, connect};

/// List registered clusters: registered, connected, agent version and skew, last seen, snapshot
/// age and size, certificate expiry
///
/// Reads the KubernetesCluster resources and the management server's GET /api/v1/clusters
/// (through the API server's service proxy, or --mgmt-admin-address). Always exits 0: it is a
/// listing; `meshctl check` judges.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Kubeconfig context of the management cluster [default: --context]
    #[arg(long, value_name = "CONTEXT")]
    pub mgmt_context: Option<String>,

    /// Reach the server's admin API at HOST:PORT (e.g. a port-forward) instead of through the
    /// Kubernetes API server's service proxy
    #[arg(long, value_name = "HOST:PORT")]
    pub mgmt_admin_address: Option<String>,
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let namespace = ctx.namespace().to_owned();
    let mgmt = connect(ctx, args.mgmt_context.clone(), Side::Mgmt)
        .await?
        .cluster;
    let mut listing = ClusterListing::default();
    let api: Api<KubernetesCluster> = Api::namespaced(mgmt.client.clone(), &namespace);
    let registered = match mgmt
        .call("list KubernetesClusters", api.list(&ListParams::default()))
        .await
    {
        Ok(list) => list.items,
        Err(err) => {
            listing
                .warnings
                .push(format!("cannot list the registrations: {err}"));
            Vec::new()
        }
    };
    let source = admin_source(&mgmt, &namespace, args.mgmt_admin_address.as_deref());
    let relay = match tokio::time::timeout(mgmt.timeout, source.clusters()).await {
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
    listing.server_version = preflight::server(&mgmt, &namespace)
        .await
        .ok()
        .and_then(|s| s.version);
    listing.clusters = join(
        &registered,
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
