//! `meshctl x bench relay`: the relay load harness (and its hidden fleet process,
//! `meshctl x bench relay-fleet`).

use std::time::Duration;

use anyhow::Context as _;

use crate::bench::{BenchParams, RestartStore, run_bench};
use crate::cli::Context;
use crate::cli::duration::parse_duration;
use crate::exit::{ExitKind, Outcome, ResultExt};

/// Benchmarks and load tools
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    Relay(Args),
    #[command(hide = true)]
    RelayFleet(FleetArgs),
}

pub async fn run(cmd: BenchCommand, ctx: &Context) -> anyhow::Result<Outcome> {
    match cmd {
        BenchCommand::Relay(args) => run_relay(args, ctx).await,
        BenchCommand::RelayFleet(args) => run_fleet(args, ctx).await,
    }
}

/// Load-test the relay on loopback: an in-process management server and N simulated
/// agents (bootstrap, mTLS stream, snapshot of M resources each) in a child process;
/// reports the bootstrap storm, server memory, config propagation, idle CPU and a
/// reconnect storm
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Simulated agents (clusters)
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub agents: usize,

    /// Snapshot resources per agent
    #[arg(long, value_name = "M", default_value_t = 100)]
    pub resources: usize,

    /// Approximate body size of each synthetic resource, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = 256)]
    pub resource_bytes: usize,

    /// Configuration resources pushed to each cluster
    #[arg(long, value_name = "COUNT", default_value_t = 10)]
    pub config_resources: usize,

    /// Configuration changes to measure (each one changes one resource for every cluster)
    #[arg(long, value_name = "K", default_value_t = 5)]
    pub changes: usize,

    /// Pause between configuration changes
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub change_interval: Duration,

    /// Window over which the server's idle CPU is measured
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,

    /// Bound on the whole run; an unfinished run reports how far it got and fails
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub timeout: Duration,

    /// The server's admission rate for new streams, bootstraps and renewals
    #[arg(long, value_name = "RATE", default_value_t = 1000.0)]
    pub max_new_streams_per_second: f64,

    /// The state store of the restarted server: kept (persistent store) or fresh (embedded memory store)
    #[arg(long, value_enum, default_value_t = RestartStore::Kept)]
    pub restart_store: RestartStore,
}

impl Args {
    pub fn params(&self) -> BenchParams {
        BenchParams {
            agents: self.agents,
            resources: self.resources,
            resource_bytes: self.resource_bytes,
            config_resources: self.config_resources,
            changes: self.changes,
            change_interval: self.change_interval,
            duration: self.duration,
            timeout: self.timeout,
            max_new_streams_per_second: self.max_new_streams_per_second,
            restart_store: self.restart_store,
        }
    }
}

async fn run_relay(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let params = args.params();
    params.validate().exit_kind(ExitKind::Usage)?;
    let exe = std::env::current_exe()
        .context("locating the meshctl binary to run the agent fleet")
        .exit_kind(ExitKind::Environment)?;
    let report = run_bench(&params, &exe)
        .await
        .context("running the relay benchmark")
        .exit_kind(ExitKind::Environment)?;
    let printer = ctx.printer();
    printer.data(&report)?;
    if let Some(f) = &report.failure {
        printer.warn(format!("the benchmark did not complete: {f}"));
        return Ok(Outcome::Failure);
    }
    Ok(Outcome::Success)
}

/// Internal: the agent fleet of `x bench relay` (spec on stdin)
#[derive(Debug, Clone, clap::Args)]
pub struct FleetArgs {}

async fn run_fleet(_args: FleetArgs, ctx: &Context) -> anyhow::Result<Outcome> {
    let printer = ctx.printer();
    crate::bench::fleet::serve_fleet(|line| {
        printer
            .line(line)
            .map_err(|e| std::io::Error::other(e.to_string()))
    })
    .await
    .context("running the agent fleet")
    .exit_kind(ExitKind::Environment)?;
    Ok(Outcome::Success)
}
