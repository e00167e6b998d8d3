//! `meshctl get ...`: what the management server knows, read from its admin API.

pub mod destinations;

use clap::Subcommand;

use crate::cli::Context;
use crate::exit::Outcome;

/// Show what the management server knows (read from its admin API)
#[derive(Debug, Subcommand)]
pub enum Command {
    Destinations(destinations::Args),
}

pub async fn run(cmd: Command, ctx: &Context) -> anyhow::Result<Outcome> {
    match cmd {
        Command::Destinations(args) => destinations::run(args, ctx).await,
    }
}
