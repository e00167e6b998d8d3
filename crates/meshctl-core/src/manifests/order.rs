//! Apply order: what must exist before what. Objects of one rank do not depend on each other and may
//! be applied concurrently; deletion goes in the reverse order.

use super::document::Document;

/// Rank of a kind in the apply order (lower first).
pub fn rank(kind: &str) -> u8 {
    match kind {
        "CustomResourceDefinition" => 0,
        "Namespace" => 1,
        "ServiceAccount" => 2,
        "ClusterRole" | "Role" => 3,
        "ClusterRoleBinding" | "RoleBinding" => 4,
        "ConfigMap" | "Secret" => 5,
        "Service" => 6,
        "Deployment" | "StatefulSet" | "DaemonSet" => 7,
        "Job" | "CronJob" => 8,
        // Custom resources and anything else come last: their CRDs and namespaces exist by then.
        _ => 9,
    }
}

/// Sorts documents into apply order; stable, so documents of one rank keep their rendering order.
pub fn sort(documents: &mut [Document]) {
    documents.sort_by_key(|doc| rank(&doc.kind));
}

/// Consecutive groups of equal rank, in apply order (expects `documents` sorted by [`sort`]).
pub fn waves(documents: &[Document]) -> Vec<&[Document]> {
    documents
        .chunk_by(|a, b| rank(&a.kind) == rank(&b.kind))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifests::profile::Component;

    fn doc(kind: &str, name: &str) -> Document {
        Document {
            api_version: "v1".into(),
            kind: kind.into(),
            name: name.into(),
            namespace: None,
            component: Component::MgmtServer,
            source: "test".into(),
            object: serde_json::json!({}),
        }
    }

    #[test]
    fn crds_namespace_accounts_rbac_config_services_workloads() {
        let mut docs = vec![
            doc("Deployment", "d"),
            doc("Service", "s"),
            doc("RoleBinding", "rb"),
            doc("ConfigMap", "cm"),
            doc("Role", "r"),
            doc("ServiceAccount", "sa"),
            doc("Namespace", "ns"),
            doc("CustomResourceDefinition", "crd"),
            doc("KubernetesCluster", "kc"),
        ];
        sort(&mut docs);
        let kinds: Vec<&str> = docs.iter().map(|d| d.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "CustomResourceDefinition",
                "Namespace",
                "ServiceAccount",
                "Role",
                "RoleBinding",
                "ConfigMap",
                "Service",
                "Deployment",
                "KubernetesCluster"
            ]
        );
    }

    #[test]
    fn waves_group_equal_ranks_and_keep_order() {
        let mut docs = vec![
            doc("Service", "b"),
            doc("Role", "r"),
            doc("Service", "a"),
            doc("ClusterRole", "c"),
        ];
        sort(&mut docs);
        let waves: Vec<Vec<&str>> = waves(&docs)
            .iter()
            .map(|w| w.iter().map(|d| d.name.as_str()).collect())
            .collect();
        assert_eq!(waves, [vec!["r", "c"], vec!["b", "a"]]);
    }
}
