//! Translation: the platform's resources (DESIGN.md §3) plus what the agents report about their
//! clusters become Istio and Cilium objects per workload cluster. Pure functions, no I/O, no clock.
//!
//! The management server owns one [`Translator`], feeds it [`InputChange`]s (watch events of the
//! platform resources, rebuilt [`ClusterInventory`]s from agent snapshots, the license as an
//! [`EntitlementView`]), pushes the returned [`TranslationDelta`] when its [`Debouncer`] says so, and
//! writes the statuses back. See docs/translation.md.

pub mod access_policy;
pub mod catalog;
pub mod debounce;
pub mod deps;
pub mod engine;
pub mod inputs;
pub mod inventory;
pub mod naming;
pub mod output;
pub mod route_table;
pub mod scope;
pub mod status;
pub mod virtual_destination;
pub mod virtual_gateway;
pub mod workspace;

#[cfg(test)]
mod testing;

pub use catalog::ServiceCatalog;
pub use debounce::Debouncer;
pub use engine::{ClusterDelta, InputChange, TranslationDelta, Translator};
pub use inputs::{EntitlementView, InputKind, InputRef, Inputs, PlatformResource, Product};
pub use inventory::{ClusterInventory, InventoryIssue, SnapshotObject};
pub use output::{ClusterOutputs, Outputs, ResourceKey};
