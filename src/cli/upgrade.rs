//! `meshctl upgrade`: install over an existing installation, then prune what the new version no longer
//! renders.

use tokio::time::Instant;

use crate::cli::Context;
use crate::cli::release::{self, ApplyArgs, ProfileArg, ReleaseReport, ValuesArgs};
use crate::exit::{ExitKind, Outcome, classify};
use crate::kube::inventory::{self, Deletion, PRUNABLE_KINDS};
use crate::manifests::{Profile, labels};

/// Upgrade an existing installation to this meshctl's version
///
/// Applies the manifests of this version like install (CRDs first), then deletes the objects of the
/// installation (found by meshctl's labels) that this version no longer renders. The profile defaults
/// to the installed one. Refuses to downgrade unless --force.
///
/// Examples:
///   meshctl upgrade
///   meshctl upgrade -f values.yaml --set redis.enabled=true
#[derive(Debug, Clone, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Profile to render [default: the installed one]
    #[arg(long, value_enum)]
    pub profile: Option<ProfileArg>,

    #[command(flatten)]
    pub values: ValuesArgs,

    /// Allow installing an older version than the one installed
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub apply: ApplyArgs,
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let deadline = Instant::now() + args.apply.timeout;
    let input = release::values_input(&args.values, ctx.namespace())?;
    // The namespace does not depend on the profile; the mgmt profile renders without extra values.
    let namespace =
        release::namespace_of(&release::render(&input, Profile::Mgmt)?, ctx.namespace());
    let client = release::connect(ctx, args.apply.timeout).await?;

    let kinds = inventory::resources_of(&PRUNABLE_KINDS);
    let live = inventory::list(
        &client,
        &kinds,
        &namespace,
        &labels::install_selector(&namespace),
    )
    .await
    .map_err(|err| classify(ExitKind::Environment, err))?;
    if live.is_empty() {
        return Err(classify(
            ExitKind::Failure,
            anyhow::anyhow!(
                "no meshctl installation found in namespace {namespace}; use `meshctl install` (or -n to name the namespace)"
            ),
        ));
    }
    let ours = semver::Version::parse(crate::version::VERSION)
        .map_err(|err| classify(ExitKind::Internal, err))?;
    if let Some(installed) = inventory::installed_version(&live)
        && installed > ours
        && !args.force
    {
        return Err(classify(
            ExitKind::Usage,
            anyhow::anyhow!(
                "namespace {namespace} runs meshctl {installed}, newer than this meshctl ({ours}); refusing to downgrade (use meshctl {installed} or later, or pass --force)"
            ),
        ));
    }
    let profile = args
        .profile
        .map(Profile::from)
        .unwrap_or_else(|| inventory::installed_profile(&live));
    let documents = release::render(&input, profile)?;
    let applied = release::apply(ctx, &client, &documents, &args.apply, deadline).await?;

    let candidates = inventory::prune_candidates(&live, &documents);
    let remaining = deadline.saturating_duration_since(Instant::now());
    let mut pruned = Vec::new();
    let mut failures = Vec::new();
    for (object, result) in inventory::delete_all(&client, &candidates, remaining, |_| true).await {
        match result {
            Ok(Deletion::Deleted | Deletion::Absent | Deletion::Terminating) => pruned.push(object),
            Err(err) => failures.push(format!("  - {err}")),
        }
    }
    let report = ReleaseReport {
        namespace,
        profile: profile.as_str().to_owned(),
        version: crate::version::VERSION.to_owned(),
        objects: applied,
        pruned,
    };
    ctx.printer().data(&report)?;
    if !failures.is_empty() {
        return Err(classify(
            ExitKind::Environment,
            anyhow::anyhow!(
                "upgraded, but pruning failed:\n{}\nre-run `meshctl upgrade` to retry",
                failures.join("\n")
            ),
        ));
    }
    if args.apply.wait {
        release::wait_for_deployments(ctx, &client, &documents, deadline).await?;
        ctx.printer().note("all deployments are available");
    }
    Ok(Outcome::Success)
}
