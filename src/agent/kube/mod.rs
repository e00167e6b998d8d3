//! Kubernetes backends of the agent: a cluster source built from kube-runtime
//! watchers, a config sink that server-side applies what the server pushes, and the
//! agent's credentials and bootstrap token in Secrets of its namespace.

pub mod credentials;
pub mod ownership;
pub mod sanitize;
pub mod sink;
pub mod source;

pub use credentials::{SecretCredentialsStore, SecretTokenSource};
pub use sink::KubeConfigSink;
pub use source::KubeClusterSource;
