//! `meshctl x ...`: hidden developer and experimental tools.

mod generate_reference;

use clap::Subcommand;

use crate::cli::Context;
use crate::exit::Outcome;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Regenerate (or check) docs/cli, docs/man and completions/ from the CLI definitions
    GenerateReference(generate_reference::Args),
}

pub async fn run(cmd: Command, ctx: &Context) -> anyhow::Result<Outcome> {
    match cmd {
        Command::GenerateReference(args) => generate_reference::run(args, ctx).await,
    }
}
