//! Why a command could not run to completion: the documented exit codes 1 to 4 (0 is success).
//! Here, below every domain, so that each domain error can say its kind once; `meshctl`'s exit.rs
//! is the one place that turns an error into a code.

/// The exit kinds of the documented table (docs/README.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// 1: the operation ran and found a failure.
    Failure = 1,
    /// 2: usage error (bad flag, bad value, a values or key file too large or not text).
    Usage = 2,
    /// 3: environment error (cluster unreachable, permission denied, timeout, unreadable file).
    Environment = 3,
    /// 4: internal error (a bug in meshctl).
    Internal = 4,
}

impl ExitKind {
    /// The process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }
}
