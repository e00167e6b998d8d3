//! JUnit XML for CI systems (`meshctl check --junit PATH`): one testsuite per category, one
//! testcase per check. Failures are `<failure>`, skips `<skipped>`; warnings pass with the
//! message in `<system-out>`, or are failures with `--fail-on-warnings`.

use std::fmt::Write as _;

use super::model::CheckResult;
use super::report::{CheckReport, Report};

/// The report as a JUnit XML document.
pub fn to_junit(report: &Report, fail_on_warnings: bool) -> String {
    let failed = |c: &CheckReport| {
        c.result == CheckResult::Failed || (fail_on_warnings && c.result == CheckResult::Warning)
    };
    let all: Vec<&CheckReport> = report.checks().map(|(_, c)| c).collect();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"meshctl check\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        all.len(),
        all.iter().filter(|c| failed(c)).count(),
        all.iter()
            .filter(|c| c.result == CheckResult::Skipped)
            .count(),
        report.duration.as_secs_f64()
    );
    for category in &report.categories {
        let time: u64 = category.checks.iter().map(|c| c.duration_ms).sum();
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{}\">",
            escape(&category.name),
            category.checks.len(),
            category.checks.iter().filter(|c| failed(c)).count(),
            category
                .checks
                .iter()
                .filter(|c| c.result == CheckResult::Skipped)
                .count(),
            seconds(time)
        );
        for check in &category.checks {
            let _ = write!(
                xml,
                "    <testcase classname=\"meshctl.check.{}\" name=\"{}\" time=\"{}\"",
                escape(&category.name),
                escape(&check.id),
                seconds(check.duration_ms)
            );
            let detail = detail(check);
            match check.result {
                CheckResult::Passed => xml.push_str("/>\n"),
                CheckResult::Skipped => {
                    let _ = writeln!(
                        xml,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                        escape(&check.message)
                    );
                }
                CheckResult::Warning if !fail_on_warnings => {
                    let _ = writeln!(
                        xml,
                        ">\n      <system-out>warning: {}</system-out>\n    </testcase>",
                        escape(&detail)
                    );
                }
                CheckResult::Warning | CheckResult::Failed => {
                    let kind = if check.result == CheckResult::Warning {
                        "warning"
                    } else {
                        "failure"
                    };
                    let _ = writeln!(
                        xml,
                        ">\n      <failure type=\"{kind}\" message=\"{}\">{}</failure>\n    </testcase>",
                        escape(&check.message),
                        escape(&detail)
                    );
                }
            }
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

fn detail(check: &CheckReport) -> String {
    let mut text = check.message.clone();
    if let Some(hint) = &check.hint {
        text.push_str("\nhint: ");
        text.push_str(hint);
    }
    text.push_str("\nsee: ");
    text.push_str(&check.docs);
    text
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Escapes text for XML attributes and content; drops characters XML 1.0 cannot carry.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::report::tests::sample_run;

    #[test]
    fn junit_document() {
        let report = Report::new(&sample_run(), false);
        insta::assert_snapshot!(to_junit(&report, false));
    }

    #[test]
    fn warnings_become_failures_with_fail_on_warnings() {
        let report = Report::new(&sample_run(), true);
        let xml = to_junit(&report, true);
        assert!(xml.contains("failures=\"2\""), "{xml}");
        assert!(xml.contains("<failure type=\"warning\""), "{xml}");
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("a<b & \"c\"\n"), "a&lt;b &amp; &quot;c&quot;&#10;");
        assert_eq!(escape("bell\u{7}"), "bell");
    }
}
