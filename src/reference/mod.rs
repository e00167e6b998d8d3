//! Files generated from the clap definitions: the CLI reference (`docs/cli/`), man pages
//! (`docs/man/`), shell completions (`completions/`), and the values' JSON Schema
//! (`templates/values.schema.json`, from `templates/values.yaml`). They are committed; a test fails
//! when they are stale, and `meshctl x generate-reference` rewrites them.

mod man;
mod markdown;

use std::path::{Path, PathBuf};

use clap_complete::Shell;

/// One generated file, relative to the repository root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    pub path: PathBuf,
    pub contents: Vec<u8>,
}

/// Every generated file of meshctl's command line `cli` (`meshctl::cli::Cli::command()`), in a
/// stable order.
pub fn generated_files(cli: clap::Command) -> Vec<GeneratedFile> {
    let mut cmd = cli.clone();
    cmd.build();
    let mut files = Vec::new();
    for shell in [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::PowerShell,
        Shell::Elvish,
    ] {
        files.push(GeneratedFile {
            path: Path::new("completions").join(completion_file_name(shell)),
            contents: completion_script(cli.clone(), shell),
        });
    }
    files.extend(markdown::pages(&cmd));
    files.extend(man::pages(&cmd));
    // A broken embedded values.yaml shows up as a stale file naming the error.
    let schema = crate::manifests::values::embedded_json_schema()
        .unwrap_or_else(|e| format!("values.schema.json could not be generated: {e}\n"));
    files.push(GeneratedFile {
        path: Path::new("templates").join("values.schema.json"),
        contents: schema.into_bytes(),
    });
    files
}

/// The completion script of `cli` for `shell` (what `meshctl completion SHELL` prints).
pub fn completion_script(mut cli: clap::Command, shell: Shell) -> Vec<u8> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cli, "meshctl", &mut buf);
    buf
}

/// The conventional file name of a completion script for `shell`.
pub fn completion_file_name(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "meshctl.bash",
        Shell::Zsh => "_meshctl",
        Shell::Fish => "meshctl.fish",
        Shell::PowerShell => "_meshctl.ps1",
        Shell::Elvish => "meshctl.elv",
        _ => "meshctl.unknown",
    }
}

/// The visible subcommands of `cmd` with their full names (`meshctl license check`), depth first.
pub(crate) fn visible_commands(cmd: &clap::Command) -> Vec<(Vec<String>, &clap::Command)> {
    fn walk<'a>(
        cmd: &'a clap::Command,
        path: Vec<String>,
        out: &mut Vec<(Vec<String>, &'a clap::Command)>,
    ) {
        out.push((path.clone(), cmd));
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            if sub.get_name() == "help" {
                continue;
            }
            let mut p = path.clone();
            p.push(sub.get_name().to_string());
            walk(sub, p, out);
        }
    }
    let mut out = Vec::new();
    walk(cmd, vec![cmd.get_name().to_string()], &mut out);
    out
}
