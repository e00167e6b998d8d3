//! The agent: dials the management server's relay, proves its cluster identity with a
//! client certificate obtained by bootstrap, pushes snapshot deltas of its cluster and
//! applies the configuration it receives.

pub mod admin;
pub mod backoff;
pub mod bootstrap;
pub mod credentials;
pub mod kube;
pub mod metrics;
pub mod run;
pub mod session;
pub mod shared;
pub mod sink;
pub mod source;

pub use run::{Agent, AgentSettings, RunningAgent, TokenSource};
