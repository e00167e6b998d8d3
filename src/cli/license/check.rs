//! `meshctl license check`: verify a license key and report what it grants.

use jiff::Timestamp;

use super::key_source::KeyArgs;
use super::trust::TrustArgs;
use super::{installed_key, print_report, print_report_from};
use crate::cli::Context;
use crate::exit::Outcome;
use crate::license::{CheckOptions, LicenseReport};

/// Verify a license key and report licensee, products, modules and expiry
///
/// The key comes from the first of: --key, --key-file, MESHCTL_LICENSE_KEY, the cluster's
/// Secret meshctl-license (key license-key) in the install namespace.
/// Exit 0: valid (a warning when it expires within 30 days). Exit 1: invalid, tampered,
/// unknown issuer, expired, not yet valid, or expiring within --fail-within-days.
///
/// Examples:
///   meshctl license check --key-file acme.license
///   MESHCTL_LICENSE_KEY=... meshctl license check -o json
///   meshctl license check --fail-within-days 30    # in CI: fail a month ahead
#[derive(Debug, Clone, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(flatten)]
    pub key: KeyArgs,

    #[command(flatten)]
    pub trust: TrustArgs,

    /// Also fail (exit 1) when the license expires within N days
    #[arg(long, value_name = "N")]
    pub fail_within_days: Option<u32>,
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let trusted = args.trust.load()?;
    let options = CheckOptions {
        fail_within_days: args.fail_within_days,
    };
    let (key, from) = match args.key.resolve()? {
        Some(local) => {
            tracing::debug!(source = %local.source, "checking license key");
            (local.key, Some(local.source.to_string()))
        }
        None => match installed_key(ctx, true).await? {
            Ok(key) => (key, None),
            Err(missing) => {
                let report = LicenseReport::refused(None, &missing, &trusted);
                return print_report(ctx.printer(), &report);
            }
        },
    };
    let report = LicenseReport::check(&key, &trusted, Timestamp::now(), options);
    print_report_from(ctx.printer(), &report, from.as_deref())
}
