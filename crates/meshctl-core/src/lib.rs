//! meshctl's pure core: the platform's custom resource types (`api`), license keys and entitlements
//! (`license`), the embedded manifests with their values and rendering (`manifests`), the translation
//! of platform resources into Istio and Cilium resources (`translate`), and the relay protocol's
//! messages and rules as sans-I/O state (`relay`). No I/O, no async runtime, no Kubernetes client: everything here is unit-tested
//! directly, and the binary crate (`meshctl`) wires it to the network and the clusters.

pub mod api;
pub mod error_text;
pub mod exit_kind;
pub mod license;
pub mod manifests;
pub mod relay;
pub mod translate;
