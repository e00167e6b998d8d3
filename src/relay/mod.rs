//! The relay between the management server and its agents, on the network side: the gRPC
//! service, PKI (CA, CSR signing), identities, TLS configuration, bootstrap tokens and resource
//! files. The protocol's rules (messages, limits, hashing, deltas, chunking, reassembly) are
//! meshctl-core's `relay`. Everything here is shared by `server` and `agent`.

pub mod client;
pub mod identity;
pub mod pki;
pub mod resource_files;
pub mod tls;
pub mod token;

// The protocol's rules live in the core crate (no I/O); they are re-exported here so that the
// server and the agent name one relay.
pub use meshctl_core::relay::{
    PROTOCOL_VERSION, delta, entitlements, hash, limits, reassembly, resource,
};

/// The relay's messages (meshctl-core's) and the gRPC service generated for them from
/// `crates/meshctl-core/proto/relay/v1/relay.proto`.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod proto {
    pub use meshctl_core::relay::proto::*;
    tonic::include_proto!("meshctl.relay.v1");
}

/// The version of this binary, reported as agent and server version.
pub const BUILD_VERSION: &str = env!("CARGO_PKG_VERSION");
