//! `meshctl license show`: the license installed in the cluster.

use jiff::Timestamp;

use super::trust::TrustArgs;
use super::{installed_key, print_report};
use crate::cli::Context;
use crate::exit::Outcome;
use crate::license::{CheckOptions, LicenseReport};

/// Show the license installed in the cluster (Secret meshctl-license in the install namespace)
///
/// Prints the same report as `license check`, with the same exit codes; exit 1 also when
/// no license is installed.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub trust: TrustArgs,

    /// Also fail (exit 1) when the license expires within N days
    #[arg(long, value_name = "N")]
    pub fail_within_days: Option<u32>,
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let trusted = args.trust.load()?;
    let report = match installed_key(ctx, false).await? {
        Ok(key) => LicenseReport::check(
            &key,
            &trusted,
            Timestamp::now(),
            CheckOptions {
                fail_within_days: args.fail_within_days,
            },
        ),
        Err(missing) => LicenseReport::refused(None, &missing, &trusted),
    };
    print_report(ctx.printer(), &report)
}
