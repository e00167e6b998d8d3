//! The human form of a license report.

use crate::license::{LicenseReport, ReportState};
use crate::output::{Render, Style, table};

impl Render for LicenseReport {
    fn render_table(&self, style: &Style) -> String {
        let mut rows = self.rows();
        if let Some((_, status)) = rows.first_mut() {
            *status = match self.state {
                ReportState::Valid => style.ok(status),
                ReportState::ExpiringSoon => style.warning(status),
                _ => style.error(status),
            };
        }
        // The error is not data: `print_report` writes it to stderr.
        table::key_values(rows.iter().map(|(k, v)| (*k, v.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::license::TrustedIssuers;

    #[test]
    fn an_invalid_report_shows_its_state_but_not_the_error() {
        let trusted = TrustedIssuers::builtin().unwrap();
        let report = LicenseReport::refused(None, &"license key is empty", &trusted);
        let text = report.render_table(&Style::new(false));
        assert!(text.starts_with("Status:"), "{text}");
        assert!(text.contains("INVALID"), "{text}");
        assert!(text.contains("(builtin)"), "{text}");
        // The error goes to stderr (print_report), never into the data on stdout.
        assert!(!text.contains("license key is empty"), "{text}");
    }
}
