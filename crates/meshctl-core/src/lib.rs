//! meshctl's pure core: the platform's custom resource types (`api`), license keys and entitlements
//! (`license`) and the translation of platform resources into Istio and Cilium resources
//! (`translate`). No I/O, no async runtime, no Kubernetes client: everything here is unit-tested
//! directly, and the binary crate (`meshctl`) wires it to the network and the clusters.

pub mod api;
pub mod license;
pub mod translate;
