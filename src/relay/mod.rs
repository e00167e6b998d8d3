//! The relay between the management server and its agents: the generated protocol,
//! PKI (CA, CSR signing), identities, TLS configuration, bootstrap tokens, resource
//! hashing and delta computation. Everything here is shared by `server` and `agent`.

pub mod client;
pub mod delta;
pub mod entitlements;
pub mod hash;
pub mod identity;
pub mod limits;
pub mod pki;
pub mod resource;
pub mod resource_files;
pub mod tls;
pub mod token;

/// Code generated from `proto/relay/v1/relay.proto`.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod proto {
    tonic::include_proto!("meshctl.relay.v1");
}

/// The relay protocol version spoken by this build (sent in Hello and Welcome).
pub const PROTOCOL_VERSION: u32 = 1;

/// The version of this binary, reported as agent and server version.
pub const BUILD_VERSION: &str = env!("CARGO_PKG_VERSION");
