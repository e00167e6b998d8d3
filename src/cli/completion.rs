//! `meshctl completion SHELL`: prints a shell completion script.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, Context};
use crate::exit::Outcome;

/// Print the shell completion script for bash, zsh, fish, powershell or elvish
///
/// Examples:
///   meshctl completion bash > ~/.local/share/bash-completion/completions/meshctl
///   meshctl completion zsh > "${fpath[1]}/_meshctl"
///   meshctl completion fish > ~/.config/fish/completions/meshctl.fish
#[derive(Debug, Clone, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The shell to generate the script for
    #[arg(value_enum)]
    pub shell: Shell,
}

/// The completion script for `shell`.
pub fn script(shell: Shell) -> Vec<u8> {
    crate::reference::completion_script(Cli::command(), shell)
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    ctx.printer().raw(&script(args.shell))?;
    Ok(Outcome::Success)
}
