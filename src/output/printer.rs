use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::progress::Progress;
use super::prompt::{self, PromptError};
use super::{OutputFormat, Render, Style};

/// How the printer behaves; resolved once from flags and the environment.
#[derive(Debug, Clone)]
pub struct PrinterOptions {
    pub format: OutputFormat,
    pub quiet: bool,
    pub color: bool,
    /// Prompts may be shown (stdin and stderr are terminals).
    pub interactive: bool,
    /// `--yes`: never prompt, answer confirmations with yes.
    pub assume_yes: bool,
    /// Progress bars may be drawn.
    pub progress: bool,
}

impl PrinterOptions {
    /// Resolves the options from flags and the process environment (terminals, `CI`, `NO_COLOR`).
    pub fn detect(format: OutputFormat, quiet: bool, no_color: bool, assume_yes: bool) -> Self {
        let stdout_tty = io::stdout().is_terminal();
        let stderr_tty = io::stderr().is_terminal();
        let stdin_tty = io::stdin().is_terminal();
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0");
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            format,
            quiet,
            color: !no_color && !no_color_env && stdout_tty,
            interactive: stdin_tty && stderr_tty && !ci,
            assume_yes,
            progress: stdout_tty && stderr_tty && !quiet && !ci && !format.is_machine_readable(),
        }
    }

    /// Options for tests and embedding: no terminal, no colour, no prompts, no progress.
    pub fn plain(format: OutputFormat) -> Self {
        Self {
            format,
            quiet: false,
            color: false,
            interactive: false,
            assume_yes: false,
            progress: false,
        }
    }
}

type Sink = Arc<Mutex<Box<dyn Write + Send>>>;

/// The only writer to stdout. Data goes to stdout in the chosen format; warnings and
/// hints for people go to stderr.
#[derive(Clone)]
pub struct Printer {
    options: PrinterOptions,
    out: Sink,
    err: Sink,
}

impl std::fmt::Debug for Printer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Printer")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Printer {
    /// A printer writing to the process's stdout and stderr.
    pub fn stdio(options: PrinterOptions) -> Self {
        Self::with_writers(options, Box::new(io::stdout()), Box::new(io::stderr()))
    }

    /// A printer writing to the given sinks (tests capture output this way).
    pub fn with_writers(
        options: PrinterOptions,
        out: Box<dyn Write + Send>,
        err: Box<dyn Write + Send>,
    ) -> Self {
        Self {
            options,
            out: Arc::new(Mutex::new(out)),
            err: Arc::new(Mutex::new(err)),
        }
    }

    pub fn format(&self) -> OutputFormat {
        self.options.format
    }

    pub fn style(&self) -> Style {
        Style::new(self.options.color)
    }

    pub fn is_quiet(&self) -> bool {
        self.options.quiet
    }

    pub fn options(&self) -> &PrinterOptions {
        &self.options
    }

    /// Prints a value in the chosen format: its table form, JSON or YAML.
    pub fn data<T: Serialize + Render>(&self, value: &T) -> io::Result<()> {
        let text = match self.options.format {
            OutputFormat::Table => value.render_table(&self.style()),
            OutputFormat::Json => to_json(value)?,
            OutputFormat::Yaml => to_yaml(value)?,
            // Refused for every command but check before it runs (Command::check_output).
            OutputFormat::Junit => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "-o junit is only supported by `meshctl check`",
                ));
            }
        };
        self.write_out(text.as_bytes())
    }

    /// Prints a value as JSON or YAML whatever the format (for `-o json` only paths and
    /// for commands whose output is itself a document).
    pub fn document<T: Serialize>(&self, value: &T, format: OutputFormat) -> io::Result<()> {
        let text = match format {
            OutputFormat::Yaml => to_yaml(value)?,
            _ => to_json(value)?,
        };
        self.write_out(text.as_bytes())
    }

    /// A line of human text on stdout; suppressed by `-q` and in JSON/YAML mode, where
    /// stdout carries only the document.
    pub fn line(&self, text: impl AsRef<str>) -> io::Result<()> {
        if self.options.quiet || self.options.format.is_machine_readable() {
            return Ok(());
        }
        self.write_out(format!("{}\n", text.as_ref()).as_bytes())
    }

    /// Raw bytes on stdout, whatever the mode (completion scripts, a license key, YAML).
    pub fn raw(&self, bytes: &[u8]) -> io::Result<()> {
        self.write_out(bytes)
    }

    /// A warning for people, on stderr; shown even with `-o json`, hidden by `-q`.
    pub fn warn(&self, text: impl AsRef<str>) {
        if self.options.quiet {
            return;
        }
        let style = self.style();
        self.write_err(&format!(
            "{} {}\n",
            style.warning("warning:"),
            text.as_ref()
        ));
    }

    /// A hint for people, on stderr; hidden by `-q`.
    pub fn hint(&self, text: impl AsRef<str>) {
        if self.options.quiet {
            return;
        }
        let style = self.style();
        self.write_err(&format!("{} {}\n", style.dim("hint:"), text.as_ref()));
    }

    /// A status note for people, on stderr (keeps stdout clean for data); hidden by `-q`.
    pub fn note(&self, text: impl AsRef<str>) {
        if self.options.quiet {
            return;
        }
        self.write_err(&format!("{}\n", text.as_ref()));
    }

    /// An error line on stderr; never hidden.
    pub fn error(&self, text: impl AsRef<str>) {
        let style = self.style();
        self.write_err(&format!("{} {}\n", style.error("error:"), text.as_ref()));
    }

    /// Progress bars, drawn only on a terminal without `-q`, `CI` or machine-readable output.
    pub fn progress(&self) -> Progress {
        Progress::new(self.options.progress)
    }

    /// Asks a yes/no question. `--yes` answers yes; without a terminal this fails with a
    /// message that says which flag answers it.
    pub fn confirm(&self, question: &str, default: bool) -> Result<bool, PromptError> {
        if self.options.assume_yes {
            return Ok(true);
        }
        if !self.options.interactive {
            return Err(PromptError::NotInteractive {
                question: question.to_string(),
                flag: "--yes".to_string(),
            });
        }
        prompt::confirm(question, default)
    }

    /// Asks for a secret (hidden input). Without a terminal, or with `--yes`, this fails
    /// and names the flag that provides the value.
    pub fn password(&self, question: &str, flag: &str) -> Result<String, PromptError> {
        if !self.options.interactive || self.options.assume_yes {
            return Err(PromptError::NotInteractive {
                question: question.to_string(),
                flag: flag.to_string(),
            });
        }
        prompt::password(question)
    }

    fn write_out(&self, bytes: &[u8]) -> io::Result<()> {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        ignore_broken_pipe(out.write_all(bytes).and_then(|_| out.flush()))
    }

    fn write_err(&self, text: &str) {
        let mut err = self.err.lock().unwrap_or_else(|p| p.into_inner());
        // Nothing sensible can be done when stderr itself is gone.
        let _ = err.write_all(text.as_bytes()).and_then(|_| err.flush());
    }
}

fn ignore_broken_pipe(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

fn to_json<T: Serialize>(value: &T) -> io::Result<String> {
    let mut text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    text.push('\n');
    Ok(text)
}

fn to_yaml<T: Serialize>(value: &T) -> io::Result<String> {
    serde_saphyr::to_string(value).map_err(io::Error::other)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A shared in-memory sink for capturing output in tests.
    #[derive(Clone, Default)]
    pub struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        pub fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    pub fn capture(options: PrinterOptions) -> (Printer, Captured, Captured) {
        let (out, err) = (Captured::default(), Captured::default());
        let p = Printer::with_writers(options, Box::new(out.clone()), Box::new(err.clone()));
        (p, out, err)
    }

    #[derive(Serialize)]
    struct Row {
        name: &'static str,
        connected: bool,
    }

    impl Render for Row {
        fn render_table(&self, _: &Style) -> String {
            format!("{} {}\n", self.name, self.connected)
        }
    }

    #[test]
    fn data_follows_the_output_format() {
        let row = Row {
            name: "c1",
            connected: true,
        };
        let (p, out, _) = capture(PrinterOptions::plain(OutputFormat::Table));
        p.data(&row).unwrap();
        assert_eq!(out.text(), "c1 true\n");

        let (p, out, _) = capture(PrinterOptions::plain(OutputFormat::Json));
        p.data(&row).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out.text()).unwrap();
        assert_eq!(v["name"], "c1");

        let (p, out, _) = capture(PrinterOptions::plain(OutputFormat::Yaml));
        p.data(&row).unwrap();
        assert!(out.text().contains("name: c1"), "{}", out.text());
    }

    #[test]
    fn human_lines_stay_off_stdout_in_json_mode_and_when_quiet() {
        let (p, out, _) = capture(PrinterOptions::plain(OutputFormat::Json));
        p.line("hello").unwrap();
        assert_eq!(out.text(), "");
        let mut quiet = PrinterOptions::plain(OutputFormat::Table);
        quiet.quiet = true;
        let (p, out, err) = capture(quiet);
        p.line("hello").unwrap();
        p.warn("careful");
        assert_eq!(out.text(), "");
        assert_eq!(err.text(), "");
    }

    #[test]
    fn warnings_go_to_stderr() {
        let (p, out, err) = capture(PrinterOptions::plain(OutputFormat::Json));
        p.warn("expires in 3 days");
        assert_eq!(out.text(), "");
        assert_eq!(err.text(), "warning: expires in 3 days\n");
    }

    #[test]
    fn prompts_never_block_without_a_terminal() {
        let (p, _, _) = capture(PrinterOptions::plain(OutputFormat::Table));
        let e = p.confirm("Delete everything?", false).unwrap_err();
        assert!(e.to_string().contains("--yes"), "{e}");
        let e = p.password("License key", "--license-key").unwrap_err();
        assert!(e.to_string().contains("--license-key"), "{e}");
    }

    #[test]
    fn yes_answers_confirmations_but_not_secrets() {
        let mut o = PrinterOptions::plain(OutputFormat::Table);
        o.assume_yes = true;
        o.interactive = true;
        let (p, _, _) = capture(o);
        assert!(p.confirm("Delete everything?", false).unwrap());
        assert!(p.password("License key", "--license-key").is_err());
    }
}
