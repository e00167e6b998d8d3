//! The relay load harness behind `meshctl x bench relay`: an in-process management
//! server, a fleet of simulated agents in a child process, and the measurements
//! (bootstrap storm, memory, config propagation, idle CPU, reconnect storm).

pub mod fleet;
pub mod measure;
pub mod nofile;
pub mod params;
pub mod report;
pub mod run;
pub mod synthetic;

pub use params::{BenchParams, RestartStore};
pub use report::BenchReport;
pub use run::{BenchError, run_bench};
