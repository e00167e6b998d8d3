//! The relay protocol's rules, without I/O: the messages (generated from
//! `proto/relay/v1/relay.proto`), the size limits, resource identity, validation and hashing, the
//! delta between what a peer holds and what it should hold, the chunker that cuts a delta into
//! messages and the reassembler that puts chunks back together (in order, within bounds, whole
//! or not at all). Both roles use these; the binary crate drives them over gRPC.

pub mod delta;
pub mod entitlements;
pub mod hash;
pub mod limits;
pub mod reassembly;
pub mod resource;

/// The relay's messages, generated from `proto/relay/v1/relay.proto` (package `meshctl.relay.v1`).
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/meshctl.relay.v1.rs"));
}

/// The relay protocol version spoken by this build (sent in Hello and Welcome).
pub const PROTOCOL_VERSION: u32 = 1;
