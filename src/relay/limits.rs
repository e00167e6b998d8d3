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
