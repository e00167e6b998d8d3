//! Everything meshctl shows a person or a program: the [`Printer`] (the only writer to
//! stdout), output formats, tables, progress and prompts.

mod catalog;
mod format;
mod printer;
mod progress;
mod prompt;
mod report;
mod style;
pub mod table;

pub use format::OutputFormat;
pub use printer::{Printer, PrinterOptions};
pub use progress::Progress;
pub use prompt::PromptError;
pub use report::{error_chain, one_line, report_clap_error, report_error, report_panic};
pub use style::Style;

/// A value that has a human (table) form in addition to its serde form.
pub trait Render {
    /// The human form, ending with a newline.
    fn render_table(&self, style: &Style) -> String;
}
