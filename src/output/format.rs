use std::fmt;

/// How a command prints its data (`-o/--output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// Human-readable text and tables.
    #[default]
    Table,
    /// JSON with stable snake_case field names.
    Json,
    /// YAML with the same fields as JSON.
    Yaml,
    /// JUnit XML for CI systems (`meshctl check` only).
    Junit,
}

impl OutputFormat {
    pub fn is_machine_readable(self) -> bool {
        !matches!(self, OutputFormat::Table)
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OutputFormat::Table => "table",
            OutputFormat::Json => "json",
            OutputFormat::Yaml => "yaml",
            OutputFormat::Junit => "junit",
        })
    }
}
