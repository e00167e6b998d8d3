//! The platform's custom resources (DESIGN.md §3).
//!
//! Every kind is namespaced, version `v1alpha1`, and lives in one of the `*.meshctl.dev` groups. The CRD
//! YAML under `templates/crds/` is generated from these types (see [`crds`]); a test fails when the
//! checked-in files differ from the generated ones.

pub mod access_policy;
pub mod common;
pub mod crds;
pub mod kubernetes_cluster;
pub mod route_table;
pub mod virtual_destination;
pub mod virtual_gateway;
pub mod workspace;

pub use access_policy::{AccessPolicy, AccessPolicySpec};
pub use common::{TranslationState, TranslationStatus};
pub use kubernetes_cluster::{KubernetesCluster, KubernetesClusterSpec, KubernetesClusterStatus};
pub use route_table::{RouteTable, RouteTableSpec};
pub use virtual_destination::{VirtualDestination, VirtualDestinationSpec};
pub use virtual_gateway::{VirtualGateway, VirtualGatewaySpec};
pub use workspace::{Workspace, WorkspaceSpec};

/// API group of the administrative kinds (clusters, workspaces).
pub const ADMIN_GROUP: &str = "admin.meshctl.dev";
/// API group of the traffic kinds (destinations, routes, gateways).
pub const NETWORKING_GROUP: &str = "networking.meshctl.dev";
/// API group of the policy kinds.
pub const SECURITY_GROUP: &str = "security.meshctl.dev";
/// The one version every kind is served at.
pub const VERSION: &str = "v1alpha1";
/// The `kubectl get <category>` name that lists every meshctl resource.
pub const CATEGORY: &str = "meshctl";
