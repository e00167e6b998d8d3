//! Parameters of a relay benchmark run and their validation.

use crate::relay::limits::MAX_DELTA_RESOURCES;
use serde::Serialize;
use std::time::Duration;

/// What the restarted server's state store holds in the reconnect storm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RestartStore {
    /// The same store (a persistent/shared store such as Redis): nothing is resent
    /// but what changed.
    Kept,
    /// An empty store (the embedded memory store after a process restart): every
    /// agent sends its snapshot once; configuration still travels as a delta.
    Fresh,
}

/// Everything a run is shaped by.
#[derive(Debug, Clone, Serialize)]
pub struct BenchParams {
    /// Simulated agents (clusters).
    pub agents: usize,
    /// Snapshot resources each agent reports.
    pub resources: usize,
    /// Approximate body size of each synthetic resource.
    pub resource_bytes: usize,
    /// Configuration resources the server pushes to each cluster.
    pub config_resources: usize,
    /// Configuration changes measured for propagation.
    pub changes: usize,
    #[serde(serialize_with = "millis")]
    pub change_interval: Duration,
    /// Window over which idle CPU is measured.
    #[serde(serialize_with = "millis")]
    pub duration: Duration,
    /// Bound on the whole run.
    #[serde(serialize_with = "millis")]
    pub timeout: Duration,
    pub max_new_streams_per_second: f64,
    pub restart_store: RestartStore,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Default for BenchParams {
    fn default() -> Self {
        Self {
            agents: 100,
            resources: 100,
            resource_bytes: 256,
            config_resources: 10,
            changes: 5,
            change_interval: Duration::from_secs(1),
            duration: Duration::from_secs(30),
            timeout: Duration::from_secs(600),
            max_new_streams_per_second: 1000.0,
            restart_store: RestartStore::Kept,
        }
    }
}

/// Most agents one run accepts (each needs a file descriptor in the server and one in
/// the fleet process).
pub const MAX_AGENTS: usize = 20_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    #[error("--agents must be between 1 and {MAX_AGENTS}")]
    Agents,
    #[error("--resources must be at most {MAX_DELTA_RESOURCES} (the protocol's per-delta bound)")]
    Resources,
    #[error("--resource-bytes must be between 16 and 1048576")]
    ResourceBytes,
    #[error("--config-resources must be between 1 and 10000")]
    ConfigResources,
    #[error("--changes must be between 1 and 1000")]
    Changes,
    #[error("--timeout must be positive")]
    Timeout,
    #[error("--max-new-streams-per-second must be positive")]
    Rate,
}

impl BenchParams {
    pub fn validate(&self) -> Result<(), ParamsError> {
        if self.agents == 0 || self.agents > MAX_AGENTS {
            return Err(ParamsError::Agents);
        }
        if self.resources > MAX_DELTA_RESOURCES {
            return Err(ParamsError::Resources);
        }
        if !(16..=1024 * 1024).contains(&self.resource_bytes) {
            return Err(ParamsError::ResourceBytes);
        }
        if !(1..=10_000).contains(&self.config_resources) {
            return Err(ParamsError::ConfigResources);
        }
        if !(1..=1000).contains(&self.changes) {
            return Err(ParamsError::Changes);
        }
        if self.timeout.is_zero() {
            return Err(ParamsError::Timeout);
        }
        if self.max_new_streams_per_second.is_nan() || self.max_new_streams_per_second <= 0.0 {
            return Err(ParamsError::Rate);
        }
        Ok(())
    }

    /// File descriptors one process of the run needs: one connection per agent plus
    /// room for bootstrap connections, listeners and files.
    pub fn fds_needed(&self) -> u64 {
        (self.agents as u64) * 2 + 256
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bounds_are_enforced() {
        assert_eq!(BenchParams::default().validate(), Ok(()));
        let bad = |f: fn(&mut BenchParams)| {
            let mut p = BenchParams::default();
            f(&mut p);
            p.validate()
        };
        assert_eq!(bad(|p| p.agents = 0), Err(ParamsError::Agents));
        assert_eq!(bad(|p| p.agents = MAX_AGENTS + 1), Err(ParamsError::Agents));
        assert_eq!(
            bad(|p| p.resources = MAX_DELTA_RESOURCES + 1),
            Err(ParamsError::Resources)
        );
        assert_eq!(
            bad(|p| p.resource_bytes = 1),
            Err(ParamsError::ResourceBytes)
        );
        assert_eq!(bad(|p| p.changes = 0), Err(ParamsError::Changes));
        assert_eq!(
            bad(|p| p.timeout = Duration::ZERO),
            Err(ParamsError::Timeout)
        );
        assert_eq!(
            bad(|p| p.max_new_streams_per_second = 0.0),
            Err(ParamsError::Rate)
        );
        assert_eq!(bad(|p| p.resources = 0), Ok(()));
    }

    #[test]
    fn fds_scale_with_agents() {
        let p = BenchParams {
            agents: 1000,
            ..BenchParams::default()
        };
        assert_eq!(p.fds_needed(), 2256);
    }
}
