//! One Markdown page per command under `docs/cli/`.

use std::fmt::Write as _;
use std::path::Path;

use super::{GeneratedFile, visible_commands};

pub(super) fn pages(root: &clap::Command) -> Vec<GeneratedFile> {
    let commands = visible_commands(root);
    let mut files: Vec<GeneratedFile> = commands
        .iter()
        .map(|(path, cmd)| GeneratedFile {
            path: Path::new("docs/cli").join(format!("{}.md", path.join("_"))),
            contents: page(path, cmd).into_bytes(),
        })
        .collect();
    files.push(GeneratedFile {
        path: Path::new("docs/cli/README.md").to_path_buf(),
        contents: index(&commands).into_bytes(),
    });
    files
}

fn index(commands: &[(Vec<String>, &clap::Command)]) -> String {
    let mut out = String::from(
        "# meshctl command reference\n\nGenerated from the CLI definitions by `meshctl x generate-reference`; do not edit.\n\n",
    );
    for (path, cmd) in commands {
        let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
        let _ = writeln!(
            out,
            "- [`{}`]({}.md): {}",
            path.join(" "),
            path.join("_"),
            about
        );
    }
    out
}

fn page(path: &[String], cmd: &clap::Command) -> String {
    let mut out = String::new();
    let title = path.join(" ");
    let _ = writeln!(out, "# {title}\n");
    if let Some(about) = cmd.get_long_about().or(cmd.get_about()) {
        let _ = writeln!(out, "{}\n", about.to_string().trim_end());
    }
    let usage = cmd.clone().render_usage().to_string();
    let usage = usage.trim_start_matches("Usage:").trim();
    let _ = writeln!(out, "## Usage\n\n```text\n{usage}\n```\n");

    let positionals: Vec<&clap::Arg> = cmd.get_positionals().filter(|a| !a.is_hide_set()).collect();
    if !positionals.is_empty() {
        let _ = writeln!(out, "## Arguments\n");
        for arg in positionals {
            let name = arg
                .get_value_names()
                .and_then(|v| v.first())
                .map(|n| n.to_string())
                .unwrap_or_else(|| arg.get_id().to_string().to_uppercase());
            let _ = writeln!(out, "- `<{name}>`: {}", describe(arg));
        }
        out.push('\n');
    }

    let is_root = path.len() == 1;
    let options: Vec<&clap::Arg> = cmd
        .get_arguments()
        .filter(|a| !a.is_positional() && !a.is_hide_set())
        .filter(|a| is_root || !a.is_global_set())
        .collect();
    if !options.is_empty() {
        let heading = if is_root { "Global options" } else { "Options" };
        let _ = writeln!(out, "## {heading}\n");
        for arg in options {
            let _ = writeln!(out, "- {}: {}", flag_names(arg), describe(arg));
        }
        out.push('\n');
    }
    if !is_root {
        let _ = writeln!(
            out,
            "Global options (`--kubeconfig`, `--context`, `-n`, `-o`, `-v`, `-q`, `--no-color`, `-y`, ...) are described in [meshctl](meshctl.md#global-options).\n"
        );
    }

    let subs: Vec<&clap::Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .collect();
    if !subs.is_empty() {
        let _ = writeln!(out, "## Commands\n");
        for sub in subs {
            let file = format!("{}_{}.md", path.join("_"), sub.get_name());
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            let _ = writeln!(out, "- [`{} {}`]({file}): {about}", title, sub.get_name());
        }
        out.push('\n');
    }
    let mut out = out.trim_end().to_string();
    out.push('\n');
    out
}

fn flag_names(arg: &clap::Arg) -> String {
    let mut names = Vec::new();
    if let Some(s) = arg.get_short() {
        names.push(format!("-{s}"));
    }
    if let Some(l) = arg.get_long() {
        names.push(format!("--{l}"));
    }
    // Visible aliases are flags people type (README's `install --license-key`): listed too.
    for alias in arg.get_visible_aliases().unwrap_or_default() {
        names.push(format!("--{alias}"));
    }
    let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values())
        && !matches!(
            arg.get_action(),
            clap::ArgAction::SetTrue | clap::ArgAction::SetFalse | clap::ArgAction::Count
        );
    let mut text = format!("`{}", names.join(", "));
    if takes_value {
        let value = arg
            .get_value_names()
            .and_then(|v| v.first())
            .map(|n| n.to_string())
            .unwrap_or_else(|| arg.get_id().to_string().to_uppercase());
        let _ = write!(text, " <{value}>");
    }
    text.push('`');
    text
}

fn describe(arg: &clap::Arg) -> String {
    let mut text = arg
        .get_long_help()
        .or(arg.get_help())
        .map(|h| h.to_string().replace('\n', " "))
        .unwrap_or_default();
    let possible: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| format!("`{}`", v.get_name()))
        .collect();
    if !possible.is_empty()
        && !matches!(
            arg.get_action(),
            clap::ArgAction::SetTrue | clap::ArgAction::SetFalse
        )
    {
        let _ = write!(text, " (one of {})", possible.join(", "));
    }
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    if !defaults.is_empty()
        && !matches!(
            arg.get_action(),
            clap::ArgAction::SetTrue | clap::ArgAction::Count
        )
    {
        let _ = write!(text, " [default: `{}`]", defaults.join(","));
    }
    if let Some(env) = arg.get_env() {
        let _ = write!(text, " [env: `{}`]", env.to_string_lossy());
    }
    text.trim().to_string()
}
