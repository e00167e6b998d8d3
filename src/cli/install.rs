//! `meshctl install`: render the embedded manifests with values and server-side apply them.

use futures::{StreamExt, stream};
use jiff::Timestamp;
use tokio::time::Instant;

use crate::cli::Context;
use crate::cli::license::key_source::{KeyArgs, LICENSE_KEY_ENV};
use crate::cli::license::trust::TrustArgs;
use crate::cli::license::{print_report, secret};
use crate::cli::release::{self, ApplyArgs, ProfileArg, ReleaseReport, ValuesArgs};
use crate::exit::{ExitKind, Outcome, classify, usage};
use crate::kube::apply::{Applier, ApplyOptions};
use crate::kube::diff;
use crate::license::{CheckOptions, LICENSE_SECRET_NAME, LicenseReport};
use crate::manifests::{self, Document, Profile};

/// Install the platform from the manifests embedded in this binary (no download: works air-gapped)
///
/// Renders the templates for a profile with your values, then applies them with server-side apply
/// (field manager `meshctl`): CRDs first (waiting until Established), then namespace, accounts, RBAC,
/// services and deployments. Re-running changes nothing when nothing changed.
///
/// The management server needs a license: give it with --key-file (or --license-key, or
/// MESHCTL_LICENSE_KEY); it is verified before anything is applied and installed as Secret
/// meshctl-license. Without one, install uses the license already in the cluster, or asks for it
/// on a terminal.
///
/// Examples:
///   meshctl install --key-file acme.license          # management cluster
///   meshctl install --dry-run > meshctl.yaml          # print the manifests, touch nothing
///   meshctl install --set mgmtServer.replicas=2 --set redis.enabled=true --diff
///   meshctl install --profile agent --set cluster.name=east --set agent.relayAddress=relay.example.com:9900
#[derive(Debug, Clone, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// What to install
    #[arg(long, value_enum, default_value_t = ProfileArg::Mgmt)]
    pub profile: ProfileArg,

    #[command(flatten)]
    pub values: ValuesArgs,

    /// Print the rendered manifests (multi-document YAML) and touch nothing, not even the cluster
    #[arg(long, conflicts_with = "diff")]
    pub dry_run: bool,

    /// Show what would change as a unified diff (server-side dry run); changes nothing
    #[arg(long)]
    pub diff: bool,

    #[command(flatten)]
    pub apply: ApplyArgs,

    #[command(flatten)]
    pub key: KeyArgs,

    #[command(flatten)]
    pub trust: TrustArgs,
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let deadline = Instant::now() + args.apply.timeout;
    let profile = Profile::from(args.profile);
    let input = release::values_input(&args.values, ctx.namespace())?;
    let documents = release::render(&input, profile)?;
    if args.dry_run {
        let text = manifests::to_yaml_stream(&documents)
            .map_err(|err| classify(ExitKind::Internal, err))?;
        ctx.printer().raw(text.as_bytes())?;
        return Ok(Outcome::Success);
    }
    // A key given on the command line is verified before the cluster is touched.
    let mut license = match (profile.has_mgmt_server(), args.key.resolve()?) {
        (true, Some(local)) if !args.diff => Some(local.key),
        _ => None,
    };
    if let Some(key) = &license
        && let Some(outcome) = refuse_invalid(ctx, &args.trust, key)?
    {
        return Ok(outcome);
    }
    let client = release::connect(ctx, args.apply.timeout).await?;
    if args.diff {
        return show_diff(ctx, &client, &documents, &args.apply).await;
    }
    let namespace = release::namespace_of(&documents, ctx.namespace());
    if profile.has_mgmt_server() && license.is_none() {
        let installed = secret::read(client.clone(), &namespace, ctx.kube().timeout())
            .await
            .map_err(|err| classify(ExitKind::Environment, err))?;
        if installed.is_none() {
            let key = ctx.printer().password("License key", "--key-file").map_err(|_| {
                usage(format!(
                    "the management server needs a license and namespace {namespace} has none: pass --key-file FILE (or --key, or set {LICENSE_KEY_ENV}), or install one first with `meshctl license apply`"
                ))
            })?;
            if let Some(outcome) = refuse_invalid(ctx, &args.trust, &key)? {
                return Ok(outcome);
            }
            license = Some(key);
        }
    }
    let applied = release::apply(ctx, &client, &documents, &args.apply, deadline).await?;
    if let Some(key) = &license {
        secret::apply(client.clone(), &namespace, key, ctx.kube().timeout())
            .await
            .map_err(|err| classify(ExitKind::Environment, err))?;
        ctx.printer().note(format!(
            "license installed: Secret {namespace}/{LICENSE_SECRET_NAME}"
        ));
    }
    let report = ReleaseReport {
        namespace,
        profile: profile.as_str().to_owned(),
        version: crate::version::VERSION.to_owned(),
        objects: applied,
        pruned: Vec::new(),
    };
    ctx.printer().data(&report)?;
    if args.apply.wait {
        release::wait_for_deployments(ctx, &client, &documents, deadline).await?;
        ctx.printer().note("all deployments are available");
    }
    Ok(Outcome::Success)
}

/// Server-side dry run of every document; prints a unified diff of each object that would change.
async fn show_diff(
    ctx: &Context,
    client: &kube::Client,
    documents: &[Document],
    args: &ApplyArgs,
) -> anyhow::Result<Outcome> {
    let applier = Applier::new(
        client.clone(),
        ApplyOptions {
            force_conflicts: args.force_conflicts,
            crd_wait: None,
            ..ApplyOptions::default()
        },
    );
    let planned_namespaces: Vec<String> = documents
        .iter()
        .filter(|d| d.kind == "Namespace")
        .map(|d| d.name.clone())
        .collect();
    let results: Vec<_> = stream::iter(documents)
        .map(|doc| {
            let namespace_planned = doc
                .namespace
                .as_ref()
                .is_some_and(|ns| planned_namespaces.contains(ns));
            let applier = &applier;
            async move { applier.dry_run_one(doc, namespace_planned).await }
        })
        .buffered(8)
        .collect()
        .await;
    let mut changed = 0;
    for result in results {
        let dry_run = result.map_err(|err| classify(ExitKind::Environment, err))?;
        if let Some(text) = diff::unified(&dry_run.object, dry_run.live.as_ref(), &dry_run.planned)
        {
            changed += 1;
            ctx.printer().raw(text.as_bytes())?;
        }
    }
    if changed == 0 {
        ctx.printer()
            .note("no changes: the cluster already matches the rendered manifests");
    } else {
        ctx.printer().note(format!(
            "{changed} object(s) would change; nothing was applied"
        ));
    }
    Ok(Outcome::Success)
}

/// Verifies a license key like `license check`; prints the report and returns `Failure` when it is not
/// usable (nothing has been applied then).
fn refuse_invalid(ctx: &Context, trust: &TrustArgs, key: &str) -> anyhow::Result<Option<Outcome>> {
    let trusted = trust.load()?;
    let report = LicenseReport::check(key, &trusted, Timestamp::now(), CheckOptions::default());
    if report.passed() {
        for warning in &report.warnings {
            ctx.printer().warn(warning);
        }
        return Ok(None);
    }
    print_report(ctx.printer(), &report)?;
    ctx.printer()
        .hint("nothing was installed: fix the license key and re-run");
    Ok(Some(Outcome::Failure))
}
