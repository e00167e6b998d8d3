//! The management server: relay service, cluster registry, state store, config
//! source, PKI persistence and admin HTTP.

pub mod admin;
pub mod admin_client;
pub mod cluster_admission;
pub mod config_source;
pub mod connection_gate;
pub mod kube;
pub mod license_source;
pub mod limiter;
pub mod listener;
pub mod metrics;
pub mod pki_secrets;
pub mod pki_store;
pub mod platform_kube;
pub mod platform_source;
pub mod redis_store;
pub mod registry;
pub mod relay_context;
pub mod relay_view;
pub mod run;
pub mod server_cert;
pub mod service;
pub mod session;
pub mod store;
pub mod tokens;
pub mod translation;
pub mod translation_admin;
pub mod wire_counter;

pub use run::{RelayServer, RunningServer, ServerSettings};
