//! Kubernetes backends of the management server: bootstrap tokens in Secrets and the
//! relay state written to each KubernetesCluster's status. (The PKI in Secrets is
//! `server::pki_secrets`.)

pub mod call;
pub mod status;
pub mod status_writer;
pub mod token_store;

pub use status_writer::ClusterStatusWriter;
pub use token_store::SecretTokenStore;
