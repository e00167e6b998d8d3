//! Exit codes, and the one place that maps an error to one.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the operation ran and found a failure (a failing check, an invalid license) |
//! | 2 | usage error (bad flag, bad value, missing argument, a values or key file too large or not text) |
//! | 3 | environment error (cluster unreachable, permission denied, timeout, unreadable file) |
//! | 4 | internal error (a bug in meshctl) |

use std::fmt;

/// What a command that ran to completion found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything the command set out to do or verify is fine.
    Success,
    /// The command ran and found a failure; it has already reported it.
    Failure,
}

/// Why a command could not run to completion (defined in the core, so that domain errors can say
/// their kind without depending on this module). Attached to an error with
/// [`ResultExt::exit_kind`]; errors without a kind are mapped by [`exit_code`].
pub use meshctl_core::exit_kind::ExitKind;

/// An error tagged with the exit code it must produce. Displays as the error it wraps.
#[derive(Debug)]
pub struct Classified {
    kind: ExitKind,
    inner: anyhow::Error,
}

impl fmt::Display for Classified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl std::error::Error for Classified {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source()
    }
}

/// Tags an error with its exit kind.
pub fn classify(kind: ExitKind, error: impl Into<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(Classified {
        kind,
        inner: error.into(),
    })
}

/// A usage error: exit code 2.
pub fn usage(message: impl fmt::Display) -> anyhow::Error {
    classify(ExitKind::Usage, anyhow::anyhow!("{message}"))
}

pub trait ResultExt<T> {
    /// Tags the error (if any) with the exit kind it must produce.
    fn exit_kind(self, kind: ExitKind) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> ResultExt<T> for Result<T, E> {
    fn exit_kind(self, kind: ExitKind) -> anyhow::Result<T> {
        self.map_err(|e| classify(kind, e))
    }
}

/// The exit kind of an error: the outermost explicit tag wins, then known error types,
/// then "the operation failed" (1).
pub fn exit_kind_of(error: &anyhow::Error) -> ExitKind {
    for cause in error.chain() {
        if let Some(c) = cause.downcast_ref::<Classified>() {
            return c.kind;
        }
        if let Some(kind) = kind_of_known(cause) {
            return kind;
        }
    }
    ExitKind::Failure
}

fn kind_of_known(cause: &(dyn std::error::Error + 'static)) -> Option<ExitKind> {
    if cause.is::<clap::Error>() {
        return Some(ExitKind::Usage);
    }
    if let Some(input) = cause.downcast_ref::<crate::input::InputError>() {
        return Some(input.exit_kind());
    }
    if cause.is::<crate::kube::KubeError>()
        || cause.is::<kube::Error>()
        || cause.is::<std::io::Error>()
        || cause.is::<tokio::time::error::Elapsed>()
    {
        return Some(ExitKind::Environment);
    }
    None
}

/// The process exit code for a command's result.
pub fn exit_code(result: &anyhow::Result<Outcome>) -> u8 {
    match result {
        Ok(Outcome::Success) => 0,
        Ok(Outcome::Failure) => ExitKind::Failure.code(),
        Err(e) => exit_kind_of(e).code(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    #[test]
    fn outcomes_map_to_zero_and_one() {
        assert_eq!(exit_code(&Ok(Outcome::Success)), 0);
        assert_eq!(exit_code(&Ok(Outcome::Failure)), 1);
    }

    #[test]
    fn untagged_errors_are_failures() {
        assert_eq!(exit_code(&Err(anyhow::anyhow!("boom"))), 1);
    }

    #[test]
    fn tags_survive_added_context() {
        let r: anyhow::Result<Outcome> = Err(usage("bad --output"));
        let r = r.context("while parsing");
        assert_eq!(exit_code(&r), 2);
        let r: Result<(), std::fmt::Error> = Err(std::fmt::Error);
        let r = r.exit_kind(ExitKind::Internal).context("outer");
        assert_eq!(exit_kind_of(&r.unwrap_err()), ExitKind::Internal);
    }

    #[test]
    fn io_errors_are_environment_errors() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let e = anyhow::Error::new(io).context("reading /etc/x");
        assert_eq!(exit_kind_of(&e), ExitKind::Environment);
    }

    #[test]
    fn outer_tag_wins_over_inner_type() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let e = classify(ExitKind::Failure, anyhow::Error::new(io));
        assert_eq!(exit_kind_of(&e), ExitKind::Failure);
    }

    #[test]
    fn classified_displays_as_its_inner_error() {
        let e = usage("expected one of table, json, yaml");
        assert_eq!(e.to_string(), "expected one of table, json, yaml");
    }
}
