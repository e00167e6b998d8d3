//! Kubernetes access: clients built lazily from a kubeconfig and context.

mod client;

pub use client::{KubeError, KubeTarget};
