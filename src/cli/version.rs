//! `meshctl version`: what this binary is. Touches no network and no file.

use serde::Serialize;

use crate::cli::Context;
use crate::exit::Outcome;
use crate::output::{Render, Style, table};
use crate::version::BuildInfo;

/// Print the version, git commit, build date and target of meshctl
#[derive(Debug, Clone, clap::Args)]
pub struct Args {}

/// The `version` report (`-o json` schema: `{"client": {version, git_commit, build_date, target}}`).
#[derive(Debug, Serialize)]
pub struct VersionReport {
    pub client: BuildInfo,
}

impl Render for VersionReport {
    fn render_table(&self, _: &Style) -> String {
        table::key_values([
            ("Client version", self.client.version.clone()),
            ("Git commit", self.client.git_commit.clone()),
            ("Build date", self.client.build_date.clone()),
            ("Target", self.client.target.clone()),
        ])
    }
}

pub async fn run(_args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let report = VersionReport {
        client: BuildInfo::current(),
    };
    ctx.printer().data(&report)?;
    Ok(Outcome::Success)
}
