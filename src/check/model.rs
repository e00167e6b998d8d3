//! What a check is and what it can find: ids, categories, severities, verdicts and results.

use std::time::Duration;

use serde::Serialize;

/// Where every check is documented; the anchor is the check id.
pub const TROUBLESHOOTING_DOC: &str = "docs/troubleshooting.md";

/// How much a failure of a check matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Nothing that depends on this check can be evaluated when it fails: its dependants are skipped.
    Fatal,
    /// A failure is reported as failed; dependants still run.
    Error,
    /// A failure is only reported as a warning.
    Warning,
}

/// The static description of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSpec {
    /// Stable kebab-case id; also the anchor in docs/troubleshooting.md.
    pub id: &'static str,
    /// The category (report group) this check belongs to.
    pub category: String,
    /// What the check verifies, in a few words.
    pub description: &'static str,
    pub severity: Severity,
    /// Ids of checks that must not have failed fatally (or been skipped) for this one to run.
    /// An id resolves to the check of that id in the same category, else to the only check of
    /// that id in the run.
    pub depends_on: Vec<&'static str>,
    /// Whether the check can become healthy by waiting (`--wait` retries it).
    pub retryable: bool,
    /// Ids of checks without which waiting cannot make this one pass: once one of them has
    /// failed (or was skipped), a failure of this check is final and it is not retried. Resolved
    /// like `depends_on`; an id that is not part of the run gates nothing. Unlike `depends_on`,
    /// the check still runs (and reports what it found) when one of them fails.
    pub retry_while: Vec<&'static str>,
}

impl CheckSpec {
    pub fn new(
        id: &'static str,
        category: impl Into<String>,
        description: &'static str,
        severity: Severity,
    ) -> Self {
        Self {
            id,
            category: category.into(),
            description,
            severity,
            depends_on: Vec::new(),
            retryable: false,
            retry_while: Vec::new(),
        }
    }

    pub fn depends_on(mut self, ids: &[&'static str]) -> Self {
        self.depends_on.extend_from_slice(ids);
        self
    }

    pub fn retryable(mut self) -> Self {
        self.retryable = true;
        self
    }

    /// Retries (see [`CheckSpec::retryable`]) only while none of `ids` has failed: e.g. nothing
    /// that needs an installation becomes healthy by waiting when there is no installation.
    pub fn retry_while(mut self, ids: &[&'static str]) -> Self {
        self.retry_while.extend_from_slice(ids);
        self
    }

    /// `docs/troubleshooting.md#<id>`.
    pub fn docs(&self) -> String {
        docs_anchor(self.id)
    }
}

/// `docs/troubleshooting.md#<id>`.
pub fn docs_anchor(id: &str) -> String {
    format!("{TROUBLESHOOTING_DOC}#{id}")
}

/// What one run of a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

/// A verdict with a message and, for anything but a pass, a hint naming the object and field to
/// look at and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub verdict: Verdict,
    pub message: String,
    pub hint: Option<String>,
    /// Waiting cannot change this finding (bad credentials, a missing kubeconfig context): the
    /// engine does not retry it.
    pub permanent: bool,
}

impl Finding {
    pub fn pass(message: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Pass,
            message: message.into(),
            hint: None,
            permanent: false,
        }
    }

    /// A pass that still carries advice (e.g. "no cluster registered yet").
    pub fn pass_with_hint(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Pass,
            message: message.into(),
            hint: Some(hint.into()),
            permanent: false,
        }
    }

    pub fn warn(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Warn,
            message: message.into(),
            hint: Some(hint.into()),
            permanent: false,
        }
    }

    /// Marks the finding as one that waiting cannot change.
    pub fn permanent(mut self) -> Self {
        self.permanent = true;
        self
    }

    pub fn fail(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Fail,
            message: message.into(),
            hint: Some(hint.into()),
            permanent: false,
        }
    }
}

/// The reported result of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckResult {
    Passed,
    Warning,
    Failed,
    /// Not run because a check it depends on failed fatally (or was itself skipped).
    Skipped,
}

impl CheckResult {
    /// The result of a finding under a check's severity: a failed warning-level check is a warning.
    pub fn from_finding(verdict: Verdict, severity: Severity) -> Self {
        match (verdict, severity) {
            (Verdict::Pass, _) => CheckResult::Passed,
            (Verdict::Warn, _) | (Verdict::Fail, Severity::Warning) => CheckResult::Warning,
            (Verdict::Fail, _) => CheckResult::Failed,
        }
    }
}

/// The outcome of one check in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRecord {
    pub spec: CheckSpec,
    pub result: CheckResult,
    pub message: String,
    pub hint: Option<String>,
    /// Time spent, retries included.
    pub duration: Duration,
    /// How many times the check ran (0 when skipped).
    pub attempts: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_severity_turns_failures_into_warnings() {
        assert_eq!(
            CheckResult::from_finding(Verdict::Fail, Severity::Warning),
            CheckResult::Warning
        );
        assert_eq!(
            CheckResult::from_finding(Verdict::Fail, Severity::Fatal),
            CheckResult::Failed
        );
        assert_eq!(
            CheckResult::from_finding(Verdict::Warn, Severity::Error),
            CheckResult::Warning
        );
        assert_eq!(
            CheckResult::from_finding(Verdict::Pass, Severity::Warning),
            CheckResult::Passed
        );
    }

    #[test]
    fn docs_anchor_is_the_id() {
        let spec = CheckSpec::new("crds", "crds", "CRDs installed", Severity::Error);
        assert_eq!(spec.docs(), "docs/troubleshooting.md#crds");
    }
}
