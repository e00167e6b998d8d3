//! `meshctl cluster deregister NAME`: exactly undoes register, on both clusters.

use crate::cli::Context;
use crate::cluster::Side;
use crate::cluster::deregister::{self, Deregistration};
use crate::exit::Outcome;
use crate::relay::identity::validate_cluster_name;

use super::{ContextArgs, connect, fail, resolve_contexts};

/// Remove a workload cluster: the agent, the copied Secrets and the agent's certificate on the
/// workload cluster, the token and the KubernetesCluster on the management cluster
///
/// Objects are found by name and labels, never by name alone; each removal is reported. When the
/// workload cluster is gone, --mgmt-only removes the management side and lists what is left.
///
/// Examples:
///   meshctl cluster deregister east --mgmt-context mgmt --remote-context east
///   meshctl cluster deregister east --mgmt-only
#[derive(Debug, Clone, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Name the cluster was registered under
    pub name: String,

    #[command(flatten)]
    pub contexts: ContextArgs,

    /// Only clean the management cluster (the workload cluster is unreachable or gone)
    #[arg(long, conflicts_with = "remote_context")]
    pub mgmt_only: bool,
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    validate_cluster_name(&args.name).map_err(|e| fail(e.into()))?;
    let namespace = ctx.namespace().to_owned();
    let mut contexts = vec![args.contexts.mgmt_context.clone()];
    if !args.mgmt_only {
        contexts.push(args.contexts.remote_context.clone());
    }
    resolve_contexts(ctx, &contexts).await?;
    let mgmt = connect(ctx, args.contexts.mgmt_context.clone(), Side::Mgmt)
        .await?
        .cluster;
    let agent_namespace = deregister::recorded_agent_namespace(&mgmt, &namespace, &args.name)
        .await
        .map_err(fail)?;
    let mut report = Deregistration {
        name: args.name.clone(),
        removed: Vec::new(),
        not_cleaned: Vec::new(),
    };
    if args.mgmt_only {
        report.not_cleaned = deregister::left_behind(&args.name, agent_namespace.as_deref());
    } else {
        let remote = connect(ctx, args.contexts.remote_context.clone(), Side::Remote)
            .await
            .map_err(|e| e.context("the workload cluster is needed to remove the agent; if it is gone, re-run with --mgmt-only"))?
            .cluster;
        report.removed = deregister::remote(&remote, &args.name, agent_namespace.as_deref())
            .await
            .map_err(fail)?;
    }
    report.removed.extend(
        deregister::mgmt(&mgmt, &namespace, &args.name)
            .await
            .map_err(fail)?,
    );
    if !report.not_cleaned.is_empty() {
        ctx.printer().warn(format!(
            "--mgmt-only: the workload cluster was not cleaned; left there:\n  - {}",
            report.not_cleaned.join("\n  - ")
        ));
    }
    ctx.printer().data(&report)?;
    Ok(Outcome::Success)
}
