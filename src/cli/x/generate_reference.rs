//! `meshctl x generate-reference [--out DIR] [--check]`.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::cli::Context;
use crate::exit::Outcome;
use crate::reference::generated_files;

/// Regenerate (or check) docs/cli, docs/man and completions/ from the CLI definitions
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Repository root to write into
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,

    /// Only report stale files (exit 1 if any), write nothing
    #[arg(long)]
    pub check: bool,
}

pub async fn run(args: Args, ctx: &Context, cli: clap::Command) -> anyhow::Result<Outcome> {
    let mut stale = Vec::new();
    for file in generated_files(cli) {
        let path = args.out.join(&file.path);
        let current = std::fs::read(&path).ok();
        if current.as_deref() == Some(file.contents.as_slice()) {
            continue;
        }
        stale.push(file.path.display().to_string());
        if !args.check {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            std::fs::write(&path, &file.contents)
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    let printer = ctx.printer();
    if stale.is_empty() {
        printer.line("all generated files are up to date")?;
        return Ok(Outcome::Success);
    }
    for path in &stale {
        printer.line(if args.check {
            format!("stale: {path}")
        } else {
            format!("wrote: {path}")
        })?;
    }
    if args.check {
        printer.hint("run `cargo run -- x generate-reference` to regenerate them");
        return Ok(Outcome::Failure);
    }
    Ok(Outcome::Success)
}
