//! `meshctl license apply`: verify a key, then install it as the cluster's license.

use jiff::Timestamp;

use super::key_source::{KeyArgs, LICENSE_KEY_ENV};
use super::print_report;
use super::secret;
use super::trust::TrustArgs;
use crate::cli::Context;
use crate::exit::{Outcome, usage};
use crate::license::{CheckOptions, LICENSE_SECRET_NAME, LicenseReport};

/// Verify a license key, then install it (Secret meshctl-license in the install namespace)
///
/// The key is verified first, exactly like `license check`; an invalid, tampered, expired or
/// not yet valid key is refused (exit 1) and the license already installed stays in place.
/// The Secret is created or replaced with server-side apply (field manager meshctl); the
/// management server reloads it without a restart.
///
/// Examples:
///   meshctl license apply --key-file acme.license
///   meshctl license apply --key-file - < acme.license
#[derive(Debug, Clone, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(flatten)]
    pub key: KeyArgs,

    #[command(flatten)]
    pub trust: TrustArgs,
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let trusted = args.trust.load()?;
    let Some(local) = args.key.resolve()? else {
        return Err(usage(format!(
            "no license key given: pass --key, --key-file or set {LICENSE_KEY_ENV}"
        )));
    };
    let report = LicenseReport::check(
        &local.key,
        &trusted,
        Timestamp::now(),
        CheckOptions::default(),
    );
    if !report.passed() {
        print_report(ctx.printer(), &report)?;
        ctx.printer().hint(format!(
            "the key was not applied; the license installed in namespace {} (if any) is unchanged",
            ctx.namespace()
        ));
        return Ok(Outcome::Failure);
    }
    let client = ctx.kube().client().await?;
    secret::apply(client, ctx.namespace(), &local.key, ctx.kube().timeout()).await?;
    let outcome = print_report(ctx.printer(), &report)?;
    ctx.printer().line(format!(
        "applied: Secret {}/{LICENSE_SECRET_NAME}",
        ctx.namespace()
    ))?;
    Ok(outcome)
}
