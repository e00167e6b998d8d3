//! What this binary is: version, commit, build date, target.

use serde::Serialize;

/// The version of this binary (also the version of the server and agent it runs as).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const GIT_COMMIT: &str = env!("MESHCTL_GIT_COMMIT");
pub const BUILD_DATE: &str = env!("MESHCTL_BUILD_DATE");
pub const TARGET: &str = env!("MESHCTL_TARGET");

/// Build information of one meshctl binary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct BuildInfo {
    pub version: String,
    pub git_commit: String,
    pub build_date: String,
    pub target: String,
}

impl BuildInfo {
    /// This binary's build information.
    pub fn current() -> Self {
        Self {
            version: VERSION.to_string(),
            git_commit: GIT_COMMIT.to_string(),
            build_date: BUILD_DATE.to_string(),
            target: TARGET.to_string(),
        }
    }
}
