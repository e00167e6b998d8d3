//! The report of a run: the `-o json`/`yaml` document (schema in docs/troubleshooting.md) and the
//! human form grouped by category.

use std::time::Duration;

use serde::Serialize;

use super::engine::RunResult;
use super::model::{CheckRecord, CheckResult};
use crate::output::{Render, Style};

/// `{success, summary, categories: [{name, checks: [{id, description, result, message, hint,
/// docs, duration_ms}]}]}`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// False when any check failed, or (with `--fail-on-warnings`) warned.
    pub success: bool,
    pub summary: Summary,
    pub categories: Vec<CategoryReport>,
    #[serde(skip)]
    pub duration: Duration,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub passed: usize,
    pub warnings: usize,
    pub failed: usize,
    pub skipped: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct CategoryReport {
    pub name: String,
    pub checks: Vec<CheckReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub id: String,
    pub description: String,
    pub result: CheckResult,
    pub message: String,
    pub hint: Option<String>,
    /// `docs/troubleshooting.md#<id>`.
    pub docs: String,
    pub duration_ms: u64,
}

impl Report {
    /// The failed `kubernetes-api` check of the management cluster, if it failed: the API server
    /// did not answer or refused the credentials. That is an environment error (exit 3), not a
    /// finding about the installation (exit 1); every check that needs the API was skipped.
    pub fn unreachable_api(&self) -> Option<&CheckReport> {
        self.categories
            .iter()
            .flat_map(|c| &c.checks)
            .find(|c| c.id == super::checks::category::KUBERNETES_API)
            .filter(|c| c.result == CheckResult::Failed)
    }
}

impl CheckReport {
    fn from_record(record: &CheckRecord) -> Self {
        Self {
            id: record.spec.id.to_string(),
            description: record.spec.description.to_string(),
            result: record.result,
            message: record.message.clone(),
            hint: record.hint.clone(),
            docs: record.spec.docs(),
            duration_ms: u64::try_from(record.duration.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

impl Report {
    pub fn new(run: &RunResult, fail_on_warnings: bool) -> Self {
        let mut summary = Summary::default();
        let categories: Vec<CategoryReport> = run
            .categories
            .iter()
            .map(|(name, records)| CategoryReport {
                name: name.clone(),
                checks: records.iter().map(CheckReport::from_record).collect(),
            })
            .collect();
        for check in categories.iter().flat_map(|c| &c.checks) {
            match check.result {
                CheckResult::Passed => summary.passed += 1,
                CheckResult::Warning => summary.warnings += 1,
                CheckResult::Failed => summary.failed += 1,
                CheckResult::Skipped => summary.skipped += 1,
            }
        }
        // A skip only follows a failure, so it never makes a run successful on its own; it is
        // still counted as not-successful in case a plan ever skips without a failure.
        let success = summary.failed == 0
            && summary.skipped == 0
            && (!fail_on_warnings || summary.warnings == 0);
        Self {
            success,
            summary,
            categories,
            duration: run.duration,
        }
    }

    pub fn checks(&self) -> impl Iterator<Item = (&str, &CheckReport)> {
        self.categories
            .iter()
            .flat_map(|c| c.checks.iter().map(move |k| (c.name.as_str(), k)))
    }
}

/// The mark shown before a check in the human report.
pub fn mark(result: CheckResult) -> &'static str {
    match result {
        CheckResult::Passed => "√",
        CheckResult::Warning => "‼",
        CheckResult::Failed => "×",
        CheckResult::Skipped => "-",
    }
}

impl Render for Report {
    fn render_table(&self, style: &Style) -> String {
        let mut out = String::new();
        for category in &self.categories {
            out.push_str(&style.bold(&category.name));
            out.push('\n');
            out.push_str(&"-".repeat(category.name.chars().count()));
            out.push('\n');
            for check in &category.checks {
                let symbol = mark(check.result);
                let painted = match check.result {
                    CheckResult::Passed => style.ok(symbol),
                    CheckResult::Warning => style.warning(symbol),
                    CheckResult::Failed => style.error(symbol),
                    CheckResult::Skipped => style.dim(symbol),
                };
                out.push_str(&format!("{painted} {}: {}\n", check.id, check.message));
                // A skipped check's hint only repeats which check to fix first.
                if let Some(hint) = check
                    .hint
                    .as_ref()
                    .filter(|_| check.result != CheckResult::Skipped)
                {
                    out.push_str(&format!("    {} {hint}\n", style.dim("hint:")));
                }
                if matches!(check.result, CheckResult::Warning | CheckResult::Failed) {
                    out.push_str(&format!("    {} {}\n", style.dim("see:"), check.docs));
                }
            }
            out.push('\n');
        }
        let s = &self.summary;
        let verdict = if self.success {
            style.ok("Status check results are √")
        } else {
            style.error("Status check results are ×")
        };
        out.push_str(&format!(
            "{verdict}: {} passed, {} warning{}, {} failed, {} skipped in {:.1}s\n",
            s.passed,
            s.warnings,
            if s.warnings == 1 { "" } else { "s" },
            s.failed,
            s.skipped,
            self.duration.as_secs_f64()
        ));
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::check::model::{CheckSpec, Severity};

    pub fn record(
        id: &'static str,
        category: &str,
        result: CheckResult,
        message: &str,
        hint: Option<&str>,
        ms: u64,
    ) -> CheckRecord {
        CheckRecord {
            spec: CheckSpec::new(id, category, "what it checks", Severity::Error),
            result,
            message: message.to_string(),
            hint: hint.map(str::to_string),
            duration: Duration::from_millis(ms),
            attempts: 1,
        }
    }

    pub fn sample_run() -> RunResult {
        RunResult {
            categories: vec![
                (
                    "kubernetes-api".to_string(),
                    vec![record(
                        "kubernetes-api",
                        "kubernetes-api",
                        CheckResult::Passed,
                        "reachable at https://10.0.0.1:6443 (v1.31.2) in 12ms",
                        None,
                        12,
                    )],
                ),
                (
                    "install".to_string(),
                    vec![
                        record(
                            "install-available",
                            "install",
                            CheckResult::Failed,
                            "Deployment mesh-system/mesh-mgmt-server: 0 of 1 replicas available",
                            Some(
                                "kubectl -n mesh-system describe deployment mesh-mgmt-server (status.availableReplicas)",
                            ),
                            60000,
                        ),
                        record(
                            "install-images",
                            "install",
                            CheckResult::Warning,
                            "image tag 0.0.9 differs from meshctl 0.1.0",
                            Some("run `meshctl upgrade`"),
                            1,
                        ),
                        record(
                            "install-pods",
                            "install",
                            CheckResult::Skipped,
                            "skipped because install failed",
                            Some("fix install first"),
                            0,
                        ),
                    ],
                ),
            ],
            duration: Duration::from_millis(60_250),
        }
    }

    #[test]
    fn only_a_failed_api_check_makes_the_environment_the_failure() {
        // A failing install check is a finding (exit 1), not an environment error.
        assert!(
            Report::new(&sample_run(), false)
                .unreachable_api()
                .is_none()
        );
        let mut run = sample_run();
        run.categories[0].1[0] = record(
            "kubernetes-api",
            "kubernetes-api",
            CheckResult::Failed,
            "https://127.0.0.1:1 did not answer",
            None,
            3,
        );
        let report = Report::new(&run, false);
        assert_eq!(
            report.unreachable_api().map(|c| c.message.as_str()),
            Some("https://127.0.0.1:1 did not answer")
        );
    }

    #[test]
    fn summary_and_success() {
        let report = Report::new(&sample_run(), false);
        assert!(!report.success);
        assert_eq!(
            report.summary,
            Summary {
                passed: 1,
                warnings: 1,
                failed: 1,
                skipped: 1
            }
        );
        let only_warning = RunResult {
            categories: vec![(
                "x".into(),
                vec![record("a", "x", CheckResult::Warning, "m", Some("h"), 1)],
            )],
            duration: Duration::ZERO,
        };
        assert!(Report::new(&only_warning, false).success);
        assert!(!Report::new(&only_warning, true).success);
    }

    #[test]
    fn human_report() {
        let report = Report::new(&sample_run(), false);
        insta::assert_snapshot!(report.render_table(&Style::new(false)));
    }

    #[test]
    fn json_report_follows_the_documented_schema() {
        let report = Report::new(&sample_run(), false);
        let json = serde_json::to_value(&report).unwrap();
        insta::assert_json_snapshot!(json);
        // The fields docs/troubleshooting.md promises.
        let check = &json["categories"][1]["checks"][0];
        for field in [
            "id",
            "description",
            "result",
            "message",
            "hint",
            "docs",
            "duration_ms",
        ] {
            assert!(check.get(field).is_some(), "{field} missing in {check}");
        }
        assert_eq!(check["result"], "failed");
        assert_eq!(
            json["categories"][0]["checks"][0]["hint"],
            serde_json::Value::Null
        );
    }
}
