//! `meshctl license ...`: issue, check and install license keys (docs/licensing.md).

pub mod apply;
pub mod check;
pub mod issue;
pub mod key_source;
pub mod keygen;
mod render;
pub mod secret;
pub mod show;
pub mod trust;

use anyhow::Context as _;
use clap::Subcommand;

use crate::cli::Context;
use crate::exit::Outcome;
use crate::license::{LICENSE_SECRET_NAME, LicenseReport};
use crate::output::Printer;

/// Manage license keys: check, show and apply them; keygen and issue for issuers
#[derive(Debug, Subcommand)]
pub enum Command {
    Check(check::Args),
    Show(show::Args),
    Apply(apply::Args),
    Keygen(keygen::Args),
    Issue(issue::Args),
}

pub async fn run(cmd: Command, ctx: &Context) -> anyhow::Result<Outcome> {
    match cmd {
        Command::Check(args) => check::run(args, ctx).await,
        Command::Show(args) => show::run(args, ctx).await,
        Command::Apply(args) => apply::run(args, ctx).await,
        Command::Keygen(args) => keygen::run(args, ctx).await,
        Command::Issue(args) => issue::run(args, ctx).await,
    }
}

/// Prints a report (stdout: it is data, in the chosen format), then its warnings and the error
/// that failed it (stderr: for people, never mixed into the data); the outcome follows the report.
pub(crate) fn print_report(printer: &Printer, report: &LicenseReport) -> anyhow::Result<Outcome> {
    print_report_from(printer, report, None)
}

/// [`print_report`] for a key the user handed over: the error names where it came from
/// (`--key-file FILE`, stdin, `--key`, `MESHCTL_LICENSE_KEY`).
pub(crate) fn print_report_from(
    printer: &Printer,
    report: &LicenseReport,
    from: Option<&str>,
) -> anyhow::Result<Outcome> {
    printer.data(report)?;
    for warning in &report.warnings {
        printer.warn(warning);
    }
    match (&report.error, from) {
        (Some(error), Some(from)) => printer.error(format!("{error} (from {from})")),
        (Some(error), None) => printer.error(error),
        (None, _) => {}
    }
    Ok(if report.passed() {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}

/// The license key installed in the cluster; `Ok(Err(message))` when there is none.
/// `fallback` says that no local key was given (for the error context).
pub(crate) async fn installed_key(
    ctx: &Context,
    fallback: bool,
) -> anyhow::Result<Result<String, String>> {
    let why = if fallback {
        "no --key, --key-file or MESHCTL_LICENSE_KEY given, so reading the installed license from the cluster"
    } else {
        "reading the installed license from the cluster"
    };
    let client = ctx.kube().client().await.context(why)?;
    let key = secret::read(client, ctx.namespace(), ctx.kube().timeout())
        .await
        .context(why)?;
    Ok(key.ok_or_else(|| {
        format!(
            "no license installed: Secret {}/{LICENSE_SECRET_NAME} not found",
            ctx.namespace()
        )
    }))
}
