//! `meshctl cluster ...`: workload clusters and their relay state.

pub mod list;

use clap::Subcommand;

use crate::cli::Context;
use crate::exit::Outcome;

/// Workload clusters and their relay state
#[derive(Debug, Subcommand)]
pub enum Command {
    List(list::Args),
}

pub async fn run(cmd: Command, ctx: &Context) -> anyhow::Result<Outcome> {
    match cmd {
        Command::List(args) => list::run(args, ctx).await,
    }
}
