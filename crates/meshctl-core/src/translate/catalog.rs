//! The global service catalog: every Service the agents reported, grouped by namespace and name across
//! clusters, with the VirtualDestinations they back. Served as JSON at `GET /api/v1/destinations` and
//! printed by `meshctl get destinations`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::TranslationState;

use super::inputs::Inputs;
use super::inventory::ServicePort;

/// One Service in one cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogInstance {
    /// Cluster.
    pub cluster: String,
    /// Cluster-local hostname.
    pub hostname: String,
    /// Ports.
    pub ports: Vec<ServicePort>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// A Service (namespace/name) across every cluster that has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogService {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The clusters that have it.
    pub instances: Vec<CatalogInstance>,
    /// VirtualDestinations (`namespace/name`) it backs in at least one cluster.
    pub virtual_destinations: Vec<String>,
}

/// A Service backing a VirtualDestination.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BackendRef {
    /// Cluster.
    pub cluster: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

/// A VirtualDestination and what backs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualDestinationSummary {
    /// Namespace (management cluster).
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Global hosts.
    pub hosts: Vec<String>,
    /// Translation state.
    pub state: TranslationState,
    /// Backing Services.
    pub backends: Vec<BackendRef>,
}

/// The catalog.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceCatalog {
    /// Every discovered Service, by namespace and name.
    pub services: Vec<CatalogService>,
    /// Every VirtualDestination, by namespace and name.
    pub virtual_destinations: Vec<VirtualDestinationSummary>,
}

impl ServiceCatalog {
    /// Builds the catalog from the inventories and the translated VirtualDestinations.
    pub fn build(inputs: &Inputs, mut vds: Vec<VirtualDestinationSummary>) -> Self {
        vds.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        let mut services: BTreeMap<(String, String), CatalogService> = BTreeMap::new();
        for (cluster, inv) in inputs.inventories() {
            for svc in inv.services() {
                let entry = services
                    .entry((svc.namespace.clone(), svc.name.clone()))
                    .or_insert_with(|| CatalogService {
                        namespace: svc.namespace.clone(),
                        name: svc.name.clone(),
                        instances: Vec::new(),
                        virtual_destinations: Vec::new(),
                    });
                entry.instances.push(CatalogInstance {
                    cluster: cluster.clone(),
                    hostname: svc.hostname.clone(),
                    ports: svc.ports.clone(),
                    labels: svc.labels.clone(),
                });
            }
        }
        for vd in &vds {
            let id = format!("{}/{}", vd.namespace, vd.name);
            for b in &vd.backends {
                if let Some(entry) = services.get_mut(&(b.namespace.clone(), b.name.clone()))
                    && !entry.virtual_destinations.contains(&id)
                {
                    entry.virtual_destinations.push(id.clone());
                }
            }
        }
        Self {
            services: services.into_values().collect(),
            virtual_destinations: vds,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::translate::engine::InputChange;
    use crate::translate::testing::{resource, two_cluster_translator};

    fn catalog() -> ServiceCatalog {
        let mut t = two_cluster_translator();
        t.apply([InputChange::Upsert(resource(
            "VirtualDestination",
            "bookinfo-config",
            "reviews",
            json!({"hosts": ["reviews.global"], "ports": [{"number": 9080}],
                   "services": [{"namespace": "bookinfo", "name": "reviews"}]}),
        ))]);
        t.catalog()
    }

    #[test]
    fn lists_every_service_across_clusters_with_the_destinations_it_backs() {
        let c = catalog();
        let reviews = c
            .services
            .iter()
            .find(|s| s.namespace == "bookinfo" && s.name == "reviews")
            .unwrap();
        let clusters: Vec<&str> = reviews
            .instances
            .iter()
            .map(|i| i.cluster.as_str())
            .collect();
        assert_eq!(clusters, ["cluster-1", "cluster-2"]);
        assert_eq!(reviews.virtual_destinations, ["bookinfo-config/reviews"]);
        let ratings = c.services.iter().find(|s| s.name == "ratings").unwrap();
        assert_eq!(ratings.instances.len(), 1);
        assert!(ratings.virtual_destinations.is_empty());
        assert_eq!(c.virtual_destinations[0].backends.len(), 2);
        assert_eq!(c.virtual_destinations[0].state, TranslationState::Accepted);

        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(
            json["services"][0]["instances"][0]["hostname"],
            "ratings.bookinfo.svc.cluster.local"
        );
        assert_eq!(
            json["virtual_destinations"][0]["hosts"],
            json!(["reviews.global"])
        );
    }
}
