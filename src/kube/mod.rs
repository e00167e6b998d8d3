//! Kubernetes access: clients built lazily from a kubeconfig and context, server-side apply and
//! watch-based waiting.

pub mod apply;
mod client;
pub mod diff;
pub mod inventory;
pub mod resources;
pub mod wait;

pub use client::{KubeError, KubeTarget, KubeconfigOrigin};
