//! Size limits of the relay protocol.

/// No relay message may exceed this many bytes (DESIGN.md §4).
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// Budget for the resources of one chunk: the maximum message size minus room for
/// the envelope (version, flags, hashes).
pub const CHUNK_BUDGET_BYTES: usize = MAX_MESSAGE_BYTES - 64 * 1024;

/// The largest single resource body accepted; a resource must fit in one chunk.
pub const MAX_RESOURCE_BYTES: usize = CHUNK_BUDGET_BYTES - 4 * 1024;

/// Upper bound on the resources one complete delta version may carry (all chunks).
pub const MAX_DELTA_RESOURCES: usize = 200_000;

/// Upper bound on the encoded resources of one complete delta version (all chunks): what a
/// receiver holds while it reassembles a version, per stream. 256 MiB is [`MAX_DELTA_RESOURCES`]
/// resources of about 1.3 KiB each (translated Istio and Cilium resources are 1–3 KiB).
pub const MAX_DELTA_BYTES: usize = 256 * 1024 * 1024;

/// Upper bound on the chunks of one delta version. The chunker starts a new chunk only when the
/// next resource does not fit, so any two consecutive chunks together hold more than the budget
/// and a version within [`MAX_DELTA_BYTES`] needs at most 2 × 64 + 1 chunks; the rest is room.
/// The bound also ends a stream of empty chunks.
pub const MAX_DELTA_CHUNKS: u32 = 1024;
