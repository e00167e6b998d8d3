//! How a failed command is reported on stderr: one line naming the problem, with the
//! causes joined, and the exit code it maps to.

use std::io::Write;

use crate::exit::{ExitKind, exit_kind_of};

/// Writes `error: <problem>: <cause>: ...` on stderr. Internal errors add a request to
/// report the bug.
pub fn report_error(error: &anyhow::Error) {
    let mut text = format!("error: {}", one_line(error));
    if exit_kind_of(error) == ExitKind::Internal {
        text.push_str(
            "\nThis is a bug in meshctl. Please report it with the output of `meshctl debug report` or the command you ran.",
        );
    }
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}

/// The error and its causes on one line, without repeating a cause already shown.
pub fn one_line(error: &anyhow::Error) -> String {
    error_chain(error.as_ref())
}

/// One line per error, each cause once (the pure core's, shared by every crate).
pub use meshctl_core::error_text::error_chain;

/// Reports a command-line parsing error and returns its exit code: 0 for `--help` and
/// `--version`, 2 for usage errors. Usage errors are shown as the problem line plus clap's
/// tips, without repeating the whole usage block.
pub fn report_clap_error(error: clap::Error) -> u8 {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // clap writes help to stdout itself; it is the Printer's equivalent for --help.
            let _ = error.print();
            if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                2
            } else {
                0
            }
        }
        _ => {
            let rendered = error.render().to_string();
            let mut lines = Vec::new();
            for line in rendered.lines() {
                let trimmed = line.trim();
                if trimmed.starts_with("Usage:") || trimmed.starts_with("For more information") {
                    break;
                }
                if !trimmed.is_empty() {
                    lines.push(line.to_string());
                }
            }
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{}", lines.join("\n"));
            let _ = writeln!(err, "For more information, try '--help'.");
            2
        }
    }
}

/// Reports a panic as an internal error (exit code 4 follows).
pub fn report_panic(info: &std::panic::PanicHookInfo<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "error: internal error: {info}\nThis is a bug in meshctl. Please report it with the command you ran."
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    #[test]
    fn one_line_joins_causes() {
        let e = Err::<(), _>(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file",
        ))
        .context("reading kubeconfig /x")
        .unwrap_err();
        assert_eq!(one_line(&e), "reading kubeconfig /x: no such file");
    }

    /// An error that shows its source in its message and also returns it, like kube's.
    #[derive(Debug, thiserror::Error)]
    #[error("failed to read kubeconfig from '\"/x\"': {0}")]
    struct Repeats(#[source] std::io::Error);

    #[test]
    fn causes_already_shown_are_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = anyhow::Error::new(Repeats(io))
            .context(
                "cannot use kubeconfig /x: failed to read kubeconfig from '\"/x\"': no such file",
            )
            .context("listing clusters");
        // `{:#}` shows the same cause three times.
        assert_eq!(format!("{e:#}").matches("no such file").count(), 3);
        let text = one_line(&e);
        assert_eq!(
            text,
            "listing clusters: cannot use kubeconfig /x: failed to read kubeconfig from '\"/x\"': no such file"
        );
        assert_eq!(error_chain(e.as_ref()), text);
    }
}
