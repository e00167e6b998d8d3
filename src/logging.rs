//! Logs go to stderr through `tracing`: `-v` raises the level, `-q` lowers it, `RUST_LOG`
//! overrides both, `--log-format json` writes one JSON object per line.

use tracing::Level;
use tracing_subscriber::EnvFilter;

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines
    Plain,
    /// One JSON object per line
    Json,
}

/// The logging flags, resolved (`-v`, `-q`, `--no-color`, `--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSettings {
    pub verbose: u8,
    pub quiet: bool,
    pub no_color: bool,
    pub format: LogFormat,
}

/// The filter for the given flags when `RUST_LOG` is unset.
pub fn default_filter(verbose: u8, quiet: bool, base: Level) -> String {
    if quiet {
        return "error".into();
    }
    let level = match (base, verbose) {
        (base, 0) => base,
        (Level::WARN | Level::ERROR, 1) => Level::INFO,
        (_, 1) | (_, 2) => Level::DEBUG,
        _ => Level::TRACE,
    };
    if level == Level::DEBUG && verbose < 3 {
        // Debug for meshctl itself; the HTTP and TLS stacks stay at info.
        return "info,meshctl=debug".into();
    }
    let level = level.as_str().to_ascii_lowercase();
    if verbose == 0 {
        // kube's client builder logs every failed connection at ERROR; meshctl reports
        // those failures itself, once, with a hint.
        return format!("{level},kube_client::client::builder=off");
    }
    level
}

/// Installs the global subscriber. Safe to call once per process.
pub fn init(global: &LogSettings, base: Level) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(default_filter(global.verbose, global.quiet, base)));
    let no_color = global.no_color || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let ansi = !no_color && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true);
    let result = match global.format {
        LogFormat::Plain => builder.with_ansi(ansi).try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
    // A subscriber may already be installed (tests); logging then goes there.
    let _ = result;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_maps_to_levels() {
        assert_eq!(
            default_filter(0, false, Level::WARN),
            "warn,kube_client::client::builder=off"
        );
        assert_eq!(default_filter(1, false, Level::WARN), "info");
        assert_eq!(default_filter(2, false, Level::WARN), "info,meshctl=debug");
        assert_eq!(default_filter(3, false, Level::WARN), "trace");
        assert_eq!(default_filter(0, true, Level::WARN), "error");
        assert_eq!(
            default_filter(0, false, Level::INFO),
            "info,kube_client::client::builder=off"
        );
        assert_eq!(default_filter(1, false, Level::INFO), "info,meshctl=debug");
    }
}
