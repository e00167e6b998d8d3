//! Build script: stamps the binary with its git commit and build date, and compiles
//! the relay protocol.
//!
//! The build date is the commit date (not the wall clock) so that builds of the
//! same commit are reproducible.

use std::process::Command;

fn main() {
    emit_version_info();
    compile_protos();
}

/// Generates the relay's gRPC service (client and server) from
/// `crates/meshctl-core/proto/relay/v1/relay.proto` with tonic-prost-build (protox: no protoc
/// needed). The messages themselves are meshctl-core's (`meshctl_core::relay::proto`).
fn compile_protos() {
    const PROTO_ROOT: &str = "crates/meshctl-core/proto";
    println!("cargo:rerun-if-changed={PROTO_ROOT}");
    let files = [format!("{PROTO_ROOT}/relay/v1/relay.proto")];
    let fds = match protox::compile(files, [PROTO_ROOT]) {
        Ok(fds) => fds,
        Err(err) => panic!("compiling proto/relay/v1/relay.proto failed: {err:?}"),
    };
    if let Err(err) = tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .bytes(".")
        .extern_path(".meshctl.relay.v1", "::meshctl_core::relay::proto")
        // the generated `connect` constructor would clash with the Connect rpc;
        // channels are built by relay::client instead
        .build_transport(false)
        .compile_fds(fds)
    {
        panic!("generating Rust from relay.proto failed: {err}");
    }
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn emit_version_info() {
    let commit = std::env::var("MESHCTL_GIT_COMMIT")
        .ok()
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    let date = std::env::var("MESHCTL_BUILD_DATE")
        .ok()
        .or_else(|| git(&["log", "-1", "--format=%cs"]))
        .unwrap_or_else(|| "unknown".into());
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=MESHCTL_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=MESHCTL_BUILD_DATE={date}");
    println!("cargo:rustc-env=MESHCTL_TARGET={target}");
    println!("cargo:rerun-if-env-changed=MESHCTL_GIT_COMMIT");
    println!("cargo:rerun-if-env-changed=MESHCTL_BUILD_DATE");
    println!("cargo:rerun-if-changed=build.rs");
    let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])];
    if let Some(head_ref) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(git(&["rev-parse", "--git-path", &head_ref]));
    }
    for path in watched.into_iter().flatten() {
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
