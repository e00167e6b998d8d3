//! `meshctl serve ...`: the long-running roles, management server and agent.

pub mod agent;
mod agent_backends;
pub mod mgmt_server;
mod server_backends;

use clap::Subcommand;

use crate::cli::Context;
use crate::exit::Outcome;

/// Run the management server or the agent (long-running)
#[derive(Debug, Subcommand)]
pub enum Command {
    MgmtServer(Box<mgmt_server::Args>),
    Agent(Box<agent::Args>),
}

pub async fn run(cmd: Command, ctx: &Context) -> anyhow::Result<Outcome> {
    match cmd {
        Command::MgmtServer(args) => mgmt_server::run(*args, ctx).await,
        Command::Agent(args) => agent::run(*args, ctx).await,
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutdown requested");
}
