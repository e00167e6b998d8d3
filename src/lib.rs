//! meshctl: the operator CLI, management server and agent of a multi-cluster
//! application-networking platform. See DESIGN.md for the architecture.

pub mod agent;
pub mod bench;
pub mod check;
pub mod cli;
pub mod cluster;
pub mod debug;
pub mod exit;
pub mod exposition;
pub mod input;
pub mod kube;
pub mod logging;
pub mod output;
pub mod reference;
pub mod relay;
pub mod server;
pub mod version;

// The pure core lives in its own crate (crates/meshctl-core); its modules keep their paths here.
pub use meshctl_core::{api, license, manifests, translate};

/// Installs rustls' ring provider as the process default. Must run before any TLS use
/// (kube, tonic); a second call is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Turns a panic into a short report and exit code 4 (internal error).
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        output::report_panic(info);
        std::process::exit(i32::from(exit::ExitKind::Internal.code()));
    }));
}
