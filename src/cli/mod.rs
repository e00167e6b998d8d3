//! The command line: clap types, one file per verb. Each command resolves its flags and
//! calls the domain code; only the Printer writes to stdout.

pub mod agents;
pub mod check;
pub mod cluster;
pub mod completion;
mod context;
pub mod dashboard;
pub mod debug;
pub mod demo;
pub mod duration;
pub mod get;
pub mod global;
pub mod install;
pub mod license;
pub mod release;
pub mod serve;
pub mod uninstall;
pub mod upgrade;
pub mod version;
pub mod x;

use clap::{Parser, Subcommand};

pub use context::Context;
pub use global::{GlobalArgs, LogFormat};

use crate::exit::{ExitKind, Outcome, ResultExt};
use crate::output::OutputFormat;

/// meshctl installs, connects, diagnoses and licenses a multi-cluster application-networking
/// platform on Kubernetes, and runs as its management server and agent.
#[derive(Debug, Parser)]
#[command(
    name = "meshctl",
    version,
    disable_help_subcommand = true,
    max_term_width = 100,
    after_help = "Exit codes: 0 success, 1 a failure was found, 2 usage error, 3 environment error (cluster unreachable, permission denied, timeout), 4 internal error.\nDocumentation: docs/README.md and docs/cli/."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Install(install::Args),
    Upgrade(upgrade::Args),
    Uninstall(uninstall::Args),
    Check(check::Args),
    /// Register workload clusters with the management server, deregister and list them
    #[command(subcommand)]
    Cluster(cluster::Command),
    Demo(demo::Args),
    /// Show what the management server knows (read from its admin API)
    #[command(subcommand)]
    Get(get::Command),
    /// Run the management server or the agent (long-running)
    #[command(subcommand)]
    Serve(serve::Command),
    /// Manage license keys: check, show and apply them; keygen and issue for issuers
    #[command(subcommand)]
    License(license::Command),
    Dashboard(dashboard::Args),
    /// Collect what support needs: a redacted bundle of an installation
    #[command(subcommand)]
    Debug(debug::Command),
    Version(version::Args),
    Completion(completion::Args),
    /// Developer and experimental tools
    #[command(hide = true, subcommand)]
    X(x::Command),
}

impl Command {
    /// Long-running commands log at info by default; the others only warn.
    pub fn default_log_level(&self) -> tracing::Level {
        match self {
            Command::Serve(_) => tracing::Level::INFO,
            _ => tracing::Level::WARN,
        }
    }

    /// Commands that only print build a single-threaded runtime (faster start-up); the
    /// others get a worker per core.
    fn needs_worker_threads(&self) -> bool {
        !matches!(self, Command::Version(_) | Command::Completion(_))
    }

    /// `-o junit` is a report format of `meshctl check`; every other command refuses it before
    /// doing anything.
    fn check_output(&self, format: OutputFormat) -> anyhow::Result<()> {
        if format == OutputFormat::Junit && !matches!(self, Command::Check(_)) {
            return Err(anyhow::anyhow!(
                "-o junit is only supported by `meshctl check`; use -o json or -o yaml"
            ))
            .exit_kind(ExitKind::Usage);
        }
        Ok(())
    }

    /// Runs the command.
    pub async fn run(self, ctx: &Context) -> anyhow::Result<Outcome> {
        match self {
            Command::Install(args) => install::run(args, ctx).await,
            Command::Upgrade(args) => upgrade::run(args, ctx).await,
            Command::Uninstall(args) => uninstall::run(args, ctx).await,
            Command::License(cmd) => license::run(cmd, ctx).await,
            Command::Version(args) => version::run(args, ctx).await,
            Command::Check(args) => check::run(args, ctx).await,
            Command::Cluster(cmd) => cluster::run(cmd, ctx).await,
            Command::Demo(args) => demo::run(args, ctx).await,
            Command::Get(cmd) => get::run(cmd, ctx).await,
            Command::Debug(cmd) => debug::run(cmd, ctx).await,
            Command::Dashboard(args) => dashboard::run(args, ctx).await,
            Command::Serve(cmd) => serve::run(cmd, ctx).await,
            Command::Completion(args) => completion::run(args, ctx).await,
            Command::X(cmd) => x::run(cmd, ctx, <Cli as clap::CommandFactory>::command()).await,
        }
    }
}

impl Cli {
    /// Sets up logging and the runtime, runs the command, and reports a failure on stderr.
    pub fn run(self) -> anyhow::Result<Outcome> {
        crate::logging::init(
            &crate::logging::LogSettings {
                verbose: self.global.verbose,
                quiet: self.global.quiet,
                no_color: self.global.no_color,
                format: self.global.log_format,
            },
            self.command.default_log_level(),
        );
        let mut runtime = if self.command.needs_worker_threads() {
            tokio::runtime::Builder::new_multi_thread()
        } else {
            tokio::runtime::Builder::new_current_thread()
        };
        let result = self
            .command
            .check_output(self.global.output)
            .and_then(|()| runtime.enable_all().build().map_err(anyhow::Error::from))
            .and_then(|runtime| {
                let ctx = Context::from_global(self.global);
                runtime.block_on(self.command.run(&ctx))
            });
        if let Err(e) = &result {
            crate::output::report_error(e);
        }
        result
    }
}
