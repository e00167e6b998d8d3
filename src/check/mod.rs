//! `meshctl check`: the check engine and the checks (DESIGN.md §7).
//!
//! - [`model`]: ids, categories, severities, findings, results.
//! - [`engine`]: runs a [`Plan`]: categories concurrently, checks in order, dependants of fatal
//!   failures skipped, retryable checks retried until `--wait` ends.
//! - [`cluster`]: one cluster's API access with a per-call timeout and a shared cache (one LIST
//!   per kind per cluster per attempt).
//! - [`report`], [`junit`]: the human, JSON/YAML and JUnit forms of a run.
//! - [`checks`]: the checks themselves; [`plan`] assembles them for a run.
//! - [`relay_source`], [`license_source`]: the inputs the relay and license checks read, behind
//!   traits so the server's admin API and the license verifier plug in.

pub mod checks;
pub mod cluster;
pub mod engine;
pub mod junit;
pub mod license_source;
pub mod license_verifier;
mod memo;
pub mod model;
pub mod plan;
pub mod relay_source;
pub mod report;
#[cfg(test)]
pub(crate) mod testing;

pub use cluster::{ApiError, ClusterAccess};
pub use engine::{Check, Plan, PlanError, RunOptions, RunResult};
pub use model::{CheckResult, CheckSpec, Finding, Severity, Verdict};
pub use report::Report;
