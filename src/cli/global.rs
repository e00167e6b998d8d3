use std::path::PathBuf;
use std::time::Duration;

use crate::cli::duration::parse_duration;
use crate::output::OutputFormat;

/// Flags accepted by every command.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Path to the kubeconfig file [default: $KUBECONFIG, then ~/.kube/config, or in-cluster]
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context to use [default: the current context]
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,

    /// Namespace meshctl is installed in
    #[arg(
        short = 'n',
        long,
        global = true,
        value_name = "NAMESPACE",
        env = "MESHCTL_NAMESPACE",
        default_value = "mesh-system"
    )]
    pub namespace: String,

    /// Output format for commands that print data
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,

    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides
    #[arg(short = 'v', long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr; no progress, hints or warnings
    #[arg(short = 'q', long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Disable colour (also when NO_COLOR is set)
    #[arg(long, global = true)]
    pub no_color: bool,

    /// Never prompt: answer confirmations with yes, fail if a value is required
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,

    /// Log format on stderr (json suits the long-running serve commands)
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Plain)]
    pub log_format: LogFormat,

    /// Timeout for each Kubernetes API request (e.g. 10s, 1m)
    #[arg(long, global = true, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,
}

pub use crate::logging::LogFormat;
