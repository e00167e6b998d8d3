//! The management server.
