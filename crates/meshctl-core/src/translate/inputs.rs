//! The translation input: the platform's custom resources, the per-cluster inventories built from the
//! agents' snapshots (see [`super::inventory`]), and which products the license covers.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::api::{
    AccessPolicy, KubernetesCluster, RouteTable, VirtualDestination, VirtualGateway, Workspace,
};
use crate::license::Entitlements;

use super::inventory::ClusterInventory;

pub use crate::license::Product;

/// Display name of a product in status messages (`Mesh`, `Gateway`, `Network`).
pub fn product_title(product: Product) -> &'static str {
    match product {
        Product::Mesh => "Mesh",
        Product::Gateway => "Gateway",
        Product::Network => "Network",
    }
}

/// What the current license allows, as far as translation cares.
///
/// * Not expired: resources of a licensed product are translated; those of other products are
///   `UNLICENSED` and produce nothing.
/// * Expired: nothing new is translated. A resource unchanged since it was last translated keeps its
///   outputs (the data plane is left alone); a new or changed resource is `UNLICENSED` (a changed one
///   keeps the outputs translated before expiry).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EntitlementView {
    products: BTreeSet<Product>,
    expired: bool,
}

impl EntitlementView {
    /// A valid (unexpired) license covering `products`.
    pub fn licensed(products: impl IntoIterator<Item = Product>) -> Self {
        Self {
            products: products.into_iter().collect(),
            expired: false,
        }
    }

    /// Every product, unexpired (tests, demos, benchmarks).
    pub fn all() -> Self {
        Self::licensed(Product::ALL)
    }

    /// No license at all: every product-gated resource is `UNLICENSED`.
    pub fn none() -> Self {
        Self::default()
    }

    /// An expired license that covered `products`. Also the view to use when a license is removed or
    /// becomes invalid after a valid one (`EntitlementView::expired([])`): the configuration translated
    /// before stays in place (docs/licensing.md).
    pub fn expired(products: impl IntoIterator<Item = Product>) -> Self {
        Self {
            products: products.into_iter().collect(),
            expired: true,
        }
    }

    /// The view of a verified license at `now`: its products, expired unless usable at `now`
    /// (valid or expiring soon; a not-yet-valid license counts as expired).
    pub fn from_license(license: &Entitlements, now: jiff::Timestamp) -> Self {
        let products = license.products();
        if license.expiry_state(now).is_usable() {
            Self::licensed(products)
        } else {
            Self::expired(products)
        }
    }

    /// Whether new translations of `product` are allowed now.
    pub fn allows(&self, product: Product) -> bool {
        !self.expired && self.products.contains(&product)
    }

    /// Whether the license has expired (outputs are frozen, see the type's documentation).
    pub fn is_expired(&self) -> bool {
        self.expired
    }

    /// The products the license names (whether or not it expired).
    pub fn products(&self) -> &BTreeSet<Product> {
        &self.products
    }
}

/// Kind of a platform resource.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InputKind {
    /// admin.meshctl.dev KubernetesCluster.
    KubernetesCluster,
    /// admin.meshctl.dev Workspace.
    Workspace,
    /// networking.meshctl.dev VirtualDestination.
    VirtualDestination,
    /// networking.meshctl.dev RouteTable.
    RouteTable,
    /// networking.meshctl.dev VirtualGateway.
    VirtualGateway,
    /// security.meshctl.dev AccessPolicy.
    AccessPolicy,
}

impl InputKind {
    /// The Kubernetes kind.
    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::KubernetesCluster => "KubernetesCluster",
            InputKind::Workspace => "Workspace",
            InputKind::VirtualDestination => "VirtualDestination",
            InputKind::RouteTable => "RouteTable",
            InputKind::VirtualGateway => "VirtualGateway",
            InputKind::AccessPolicy => "AccessPolicy",
        }
    }

    /// Parses a Kubernetes kind.
    pub fn from_kind(kind: &str) -> Option<Self> {
        [
            InputKind::KubernetesCluster,
            InputKind::Workspace,
            InputKind::VirtualDestination,
            InputKind::RouteTable,
            InputKind::VirtualGateway,
            InputKind::AccessPolicy,
        ]
        .into_iter()
        .find(|k| k.as_str() == kind)
    }
}

impl fmt::Display for InputKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identity of a platform resource in the management cluster.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InputRef {
    /// Kind of the resource.
    pub kind: InputKind,
    /// Namespace in the management cluster.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl InputRef {
    /// A reference from its parts.
    pub fn new(kind: InputKind, namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            kind,
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for InputRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// One platform resource, as read from the management cluster (or a config directory).
#[derive(Clone, Debug)]
pub enum PlatformResource {
    /// A registered cluster.
    KubernetesCluster(KubernetesCluster),
    /// A workspace.
    Workspace(Workspace),
    /// A virtual destination.
    VirtualDestination(VirtualDestination),
    /// A route table.
    RouteTable(RouteTable),
    /// A virtual gateway.
    VirtualGateway(VirtualGateway),
    /// An access policy.
    AccessPolicy(AccessPolicy),
}

/// Errors turning a JSON document into a [`PlatformResource`].
#[derive(Debug, thiserror::Error)]
pub enum PlatformResourceError {
    /// The kind is not one of the platform's.
    #[error("{0:?} is not a meshctl kind")]
    UnknownKind(String),
    /// The body does not match the kind's schema.
    #[error("invalid {kind} {namespace}/{name}: {source}")]
    Body {
        /// Kind.
        kind: InputKind,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// Cause.
        source: serde_json::Error,
    },
}

impl PlatformResource {
    /// Parses a resource from its kind and JSON body (as stored by the server or read from a directory).
    pub fn from_json(kind: &str, body: &[u8]) -> Result<Self, PlatformResourceError> {
        let input_kind = InputKind::from_kind(kind)
            .ok_or_else(|| PlatformResourceError::UnknownKind(kind.to_owned()))?;
        let err = |source: serde_json::Error| {
            let meta: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            let text = |k: &str| {
                meta["metadata"][k]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_default()
            };
            PlatformResourceError::Body {
                kind: input_kind,
                namespace: text("namespace"),
                name: text("name"),
                source,
            }
        };
        Ok(match input_kind {
            InputKind::KubernetesCluster => {
                Self::KubernetesCluster(serde_json::from_slice(body).map_err(err)?)
            }
            InputKind::Workspace => Self::Workspace(serde_json::from_slice(body).map_err(err)?),
            InputKind::VirtualDestination => {
                Self::VirtualDestination(serde_json::from_slice(body).map_err(err)?)
            }
            InputKind::RouteTable => Self::RouteTable(serde_json::from_slice(body).map_err(err)?),
            InputKind::VirtualGateway => {
                Self::VirtualGateway(serde_json::from_slice(body).map_err(err)?)
            }
            InputKind::AccessPolicy => {
                Self::AccessPolicy(serde_json::from_slice(body).map_err(err)?)
            }
        })
    }

    /// Identity of the resource (a missing namespace reads as empty).
    pub fn input_ref(&self) -> InputRef {
        let (kind, meta) = match self {
            Self::KubernetesCluster(r) => (InputKind::KubernetesCluster, &r.metadata),
            Self::Workspace(r) => (InputKind::Workspace, &r.metadata),
            Self::VirtualDestination(r) => (InputKind::VirtualDestination, &r.metadata),
            Self::RouteTable(r) => (InputKind::RouteTable, &r.metadata),
            Self::VirtualGateway(r) => (InputKind::VirtualGateway, &r.metadata),
            Self::AccessPolicy(r) => (InputKind::AccessPolicy, &r.metadata),
        };
        InputRef::new(
            kind,
            meta.namespace.clone().unwrap_or_default(),
            meta.name.clone().unwrap_or_default(),
        )
    }
}

/// Key of a namespaced platform resource inside [`Inputs`]: (namespace, name).
pub type ObjectKey = (String, String);

/// The scopes a RouteTable's hosts are claimed in: `mesh`, or `<namespace>/<name>` of each gateway.
pub fn route_scopes(rt: &RouteTable) -> Vec<String> {
    let own_ns = rt.metadata.namespace.as_deref().unwrap_or_default();
    if rt.spec.virtual_gateways.is_empty() {
        return vec!["mesh".to_owned()];
    }
    let mut scopes: Vec<String> = rt
        .spec
        .virtual_gateways
        .iter()
        .map(|g| format!("{}/{}", g.namespace.as_deref().unwrap_or(own_ns), g.name))
        .collect();
    scopes.sort();
    scopes.dedup();
    scopes
}

/// Hosts are compared case-insensitively.
pub fn normalize_host(host: &str) -> String {
    host.to_ascii_lowercase()
}

fn vd_hosts(vd: &VirtualDestination) -> Vec<String> {
    vd.spec.hosts.iter().map(|h| normalize_host(h)).collect()
}

fn route_claims(rt: &RouteTable) -> Vec<(String, String)> {
    let scopes = route_scopes(rt);
    scopes
        .iter()
        .flat_map(|s| {
            rt.spec
                .hosts
                .iter()
                .map(move |h| (s.clone(), normalize_host(h)))
        })
        .collect()
}

/// Every input of a translation, indexed for the translators. Change it only through
/// [`Inputs::upsert`], [`Inputs::remove`] and the inventory/entitlement setters, which keep the
/// indexes (who claims which host) current.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    clusters: BTreeMap<String, KubernetesCluster>,
    workspaces: BTreeMap<ObjectKey, Workspace>,
    virtual_destinations: BTreeMap<ObjectKey, VirtualDestination>,
    route_tables: BTreeMap<ObjectKey, RouteTable>,
    virtual_gateways: BTreeMap<ObjectKey, VirtualGateway>,
    access_policies: BTreeMap<ObjectKey, AccessPolicy>,
    inventories: BTreeMap<String, ClusterInventory>,
    entitlements: EntitlementView,
    vd_host_claims: BTreeMap<String, BTreeSet<ObjectKey>>,
    route_host_claims: BTreeMap<(String, String), BTreeSet<ObjectKey>>,
}

impl Inputs {
    /// Inserts or replaces a platform resource.
    pub fn upsert(&mut self, resource: PlatformResource) {
        let r = resource.input_ref();
        let key = (r.namespace.clone(), r.name.clone());
        self.unindex(&r);
        match resource {
            PlatformResource::KubernetesCluster(c) => {
                self.clusters.insert(key.1, c);
            }
            PlatformResource::Workspace(w) => {
                self.workspaces.insert(key, w);
            }
            PlatformResource::VirtualDestination(v) => {
                for host in vd_hosts(&v) {
                    self.vd_host_claims
                        .entry(host)
                        .or_default()
                        .insert(key.clone());
                }
                self.virtual_destinations.insert(key, v);
            }
            PlatformResource::RouteTable(v) => {
                for claim in route_claims(&v) {
                    self.route_host_claims
                        .entry(claim)
                        .or_default()
                        .insert(key.clone());
                }
                self.route_tables.insert(key, v);
            }
            PlatformResource::VirtualGateway(v) => {
                self.virtual_gateways.insert(key, v);
            }
            PlatformResource::AccessPolicy(v) => {
                self.access_policies.insert(key, v);
            }
        }
    }

    fn unindex(&mut self, r: &InputRef) {
        let key = (r.namespace.clone(), r.name.clone());
        match r.kind {
            InputKind::VirtualDestination => {
                if let Some(old) = self.virtual_destinations.get(&key) {
                    for host in vd_hosts(old) {
                        if let Some(set) = self.vd_host_claims.get_mut(&host) {
                            set.remove(&key);
                            if set.is_empty() {
                                self.vd_host_claims.remove(&host);
                            }
                        }
                    }
                }
            }
            InputKind::RouteTable => {
                if let Some(old) = self.route_tables.get(&key) {
                    for claim in route_claims(old) {
                        if let Some(set) = self.route_host_claims.get_mut(&claim) {
                            set.remove(&key);
                            if set.is_empty() {
                                self.route_host_claims.remove(&claim);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// Removes a platform resource; true when it was present.
    pub fn remove(&mut self, r: &InputRef) -> bool {
        self.unindex(r);
        let key = (r.namespace.clone(), r.name.clone());
        match r.kind {
            InputKind::KubernetesCluster => self.clusters.remove(&r.name).is_some(),
            InputKind::Workspace => self.workspaces.remove(&key).is_some(),
            InputKind::VirtualDestination => self.virtual_destinations.remove(&key).is_some(),
            InputKind::RouteTable => self.route_tables.remove(&key).is_some(),
            InputKind::VirtualGateway => self.virtual_gateways.remove(&key).is_some(),
            InputKind::AccessPolicy => self.access_policies.remove(&key).is_some(),
        }
    }

    /// The resource `r` refers to, when present.
    pub fn get(&self, r: &InputRef) -> Option<PlatformResource> {
        let key = (r.namespace.clone(), r.name.clone());
        Some(match r.kind {
            InputKind::KubernetesCluster => {
                PlatformResource::KubernetesCluster(self.clusters.get(&r.name)?.clone())
            }
            InputKind::Workspace => PlatformResource::Workspace(self.workspaces.get(&key)?.clone()),
            InputKind::VirtualDestination => {
                PlatformResource::VirtualDestination(self.virtual_destinations.get(&key)?.clone())
            }
            InputKind::RouteTable => {
                PlatformResource::RouteTable(self.route_tables.get(&key)?.clone())
            }
            InputKind::VirtualGateway => {
                PlatformResource::VirtualGateway(self.virtual_gateways.get(&key)?.clone())
            }
            InputKind::AccessPolicy => {
                PlatformResource::AccessPolicy(self.access_policies.get(&key)?.clone())
            }
        })
    }

    /// Replaces a cluster's inventory; returns the previous one.
    pub fn set_inventory(&mut self, inventory: ClusterInventory) -> Option<ClusterInventory> {
        self.inventories
            .insert(inventory.cluster.clone(), inventory)
    }

    /// Forgets a cluster's inventory; returns it.
    pub fn remove_inventory(&mut self, cluster: &str) -> Option<ClusterInventory> {
        self.inventories.remove(cluster)
    }

    /// Replaces the entitlements; returns the previous ones.
    pub fn set_entitlements(&mut self, entitlements: EntitlementView) -> EntitlementView {
        std::mem::replace(&mut self.entitlements, entitlements)
    }

    /// Registered clusters by name.
    pub fn clusters(&self) -> &BTreeMap<String, KubernetesCluster> {
        &self.clusters
    }
    /// Workspaces by (namespace, name).
    pub fn workspaces(&self) -> &BTreeMap<ObjectKey, Workspace> {
        &self.workspaces
    }
    /// VirtualDestinations by (namespace, name).
    pub fn virtual_destinations(&self) -> &BTreeMap<ObjectKey, VirtualDestination> {
        &self.virtual_destinations
    }
    /// RouteTables by (namespace, name).
    pub fn route_tables(&self) -> &BTreeMap<ObjectKey, RouteTable> {
        &self.route_tables
    }
    /// VirtualGateways by (namespace, name).
    pub fn virtual_gateways(&self) -> &BTreeMap<ObjectKey, VirtualGateway> {
        &self.virtual_gateways
    }
    /// AccessPolicies by (namespace, name).
    pub fn access_policies(&self) -> &BTreeMap<ObjectKey, AccessPolicy> {
        &self.access_policies
    }
    /// Inventories by cluster name.
    pub fn inventories(&self) -> &BTreeMap<String, ClusterInventory> {
        &self.inventories
    }
    /// The license view.
    pub fn entitlements(&self) -> &EntitlementView {
        &self.entitlements
    }
    /// VirtualDestinations claiming `host` (normalized).
    pub fn virtual_destinations_claiming(&self, host: &str) -> impl Iterator<Item = &ObjectKey> {
        self.vd_host_claims.get(host).into_iter().flatten()
    }
    /// RouteTables claiming `host` (normalized) in `scope` (see [`route_scopes`]).
    pub fn route_tables_claiming(
        &self,
        scope: &str,
        host: &str,
    ) -> impl Iterator<Item = &ObjectKey> {
        self.route_host_claims
            .get(&(scope.to_owned(), host.to_owned()))
            .into_iter()
            .flatten()
    }

    /// Every translatable input (everything but clusters), in a stable order.
    pub fn translatable_refs(&self) -> Vec<InputRef> {
        let mut refs = Vec::new();
        let mut add = |kind: InputKind, keys: &mut dyn Iterator<Item = &ObjectKey>| {
            refs.extend(keys.map(|(ns, n)| InputRef::new(kind, ns.clone(), n.clone())));
        };
        add(InputKind::Workspace, &mut self.workspaces.keys());
        add(
            InputKind::VirtualDestination,
            &mut self.virtual_destinations.keys(),
        );
        add(InputKind::RouteTable, &mut self.route_tables.keys());
        add(InputKind::VirtualGateway, &mut self.virtual_gateways.keys());
        add(InputKind::AccessPolicy, &mut self.access_policies.keys());
        refs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_license_allows_nothing_but_remembers_products() {
        let view = EntitlementView::expired([Product::Mesh]);
        assert!(!view.allows(Product::Mesh));
        assert!(view.is_expired());
        assert!(view.products().contains(&Product::Mesh));
        let valid = EntitlementView::licensed([Product::Mesh]);
        assert!(valid.allows(Product::Mesh));
        assert!(!valid.allows(Product::Network));
    }

    #[test]
    fn a_verified_license_maps_to_a_view_that_expires_with_it() {
        let fixture = crate::license::testing::Fixture::shared();
        let license = crate::license::verify(&fixture.valid_key(), &fixture.trusted).unwrap();
        let now = EntitlementView::from_license(license.entitlements(), fixture.now());
        assert_eq!(now, EntitlementView::licensed([Product::Mesh]));
        let later = EntitlementView::from_license(license.entitlements(), fixture.exp());
        assert_eq!(later, EntitlementView::expired([Product::Mesh]));
        assert!(!later.allows(Product::Mesh));
    }

    #[test]
    fn parses_platform_resources_and_reports_bad_bodies() {
        let body = serde_json::json!({
            "apiVersion": "networking.meshctl.dev/v1alpha1", "kind": "VirtualDestination",
            "metadata": {"name": "reviews", "namespace": "bookinfo"},
            "spec": {"hosts": ["reviews.global"], "ports": [{"number": 9080}], "services": [{}]}
        });
        let parsed =
            PlatformResource::from_json("VirtualDestination", body.to_string().as_bytes()).unwrap();
        assert_eq!(
            parsed.input_ref(),
            InputRef::new(InputKind::VirtualDestination, "bookinfo", "reviews")
        );

        let bad =
            serde_json::json!({"metadata": {"name": "x", "namespace": "y"}, "spec": {"hosts": 3}});
        let err = PlatformResource::from_json("VirtualDestination", bad.to_string().as_bytes())
            .unwrap_err();
        assert!(err.to_string().contains("VirtualDestination y/x"), "{err}");
        assert!(matches!(
            PlatformResource::from_json("Pod", b"{}"),
            Err(PlatformResourceError::UnknownKind(_))
        ));
    }

    #[test]
    fn upsert_and_remove_by_reference() {
        let mut inputs = Inputs::default();
        let body = serde_json::json!({
            "metadata": {"name": "ws", "namespace": "cfg"},
            "spec": {"workloadClusters": [{"name": "*", "namespaces": ["a"]}]}
        });
        let ws = PlatformResource::from_json("Workspace", body.to_string().as_bytes()).unwrap();
        let r = ws.input_ref();
        inputs.upsert(ws);
        assert_eq!(inputs.translatable_refs(), vec![r.clone()]);
        assert!(inputs.remove(&r));
        assert!(!inputs.remove(&r));
    }
}
