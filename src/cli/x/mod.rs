//! `meshctl x ...`: hidden developer and experimental tools.

pub mod bench_relay;
mod generate_reference;

use clap::Subcommand;

use crate::cli::Context;
use crate::exit::Outcome;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Regenerate (or check) docs/cli, docs/man and completions/ from the CLI definitions
    GenerateReference(generate_reference::Args),
    /// Benchmarks and load tools
    #[command(subcommand)]
    Bench(bench_relay::BenchCommand),
}

/// `cli` is meshctl's whole command line (clap's `Command`), which the reference is generated from.
pub async fn run(cmd: Command, ctx: &Context, cli: clap::Command) -> anyhow::Result<Outcome> {
    match cmd {
        Command::GenerateReference(args) => generate_reference::run(args, ctx, cli).await,
        Command::Bench(cmd) => bench_relay::run(cmd, ctx).await,
    }
}
