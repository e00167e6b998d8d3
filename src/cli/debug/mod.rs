//! `meshctl debug ...`: help for support.

pub mod report;

use clap::Subcommand;

use crate::cli::Context;
use crate::exit::Outcome;

/// Collect what support needs: a redacted bundle of an installation
#[derive(Debug, Subcommand)]
pub enum Command {
    Report(report::Args),
}

pub async fn run(cmd: Command, ctx: &Context) -> anyhow::Result<Outcome> {
    match cmd {
        Command::Report(args) => report::run(args, ctx).await,
    }
}
