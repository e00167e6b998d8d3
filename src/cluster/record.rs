//! The KubernetesCluster resource of a registration, on the management cluster: named after the
//! cluster, labelled, annotated with the workload cluster's identity and agent namespace.

use std::collections::BTreeMap;

use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::api::Cluster;
use super::{AGENT_NAMESPACE_ANNOTATION, CLUSTER_ID_ANNOTATION, ClusterError};
use crate::api::KubernetesCluster;
use crate::kube::apply::{Applied, ApplyAction, FIELD_MANAGER};

/// Server-side applies KubernetesCluster `name` in `namespace`.
pub async fn apply(
    mgmt: &Cluster,
    namespace: &str,
    name: &str,
    labels: &BTreeMap<String, String>,
    cluster_id: &str,
    agent_namespace: &str,
) -> Result<Applied, ClusterError> {
    let api: Api<KubernetesCluster> = Api::namespaced(mgmt.client.clone(), namespace);
    let body = json!({
        "apiVersion": "admin.meshctl.dev/v1alpha1",
        "kind": "KubernetesCluster",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": {
                CLUSTER_ID_ANNOTATION: cluster_id,
                AGENT_NAMESPACE_ANNOTATION: agent_namespace,
            },
        },
        "spec": {},
    });
    let what = format!("KubernetesCluster {namespace}/{name}");
    let before = mgmt
        .call_opt(format!("get {what}"), api.get_metadata(name))
        .await?;
    let after = mgmt
        .call(
            format!("apply {what}"),
            api.patch(
                name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&body),
            ),
        )
        .await?;
    let action = match before {
        None => ApplyAction::Created,
        Some(b) if b.metadata.resource_version == after.metadata.resource_version => {
            ApplyAction::Unchanged
        }
        Some(_) => ApplyAction::Configured,
    };
    Ok(Applied {
        kind: "KubernetesCluster".into(),
        namespace: Some(namespace.to_owned()),
        name: name.to_owned(),
        component: super::REGISTRATION_COMPONENT.to_owned(),
        action,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Side;
    use crate::cluster::testing::*;

    #[tokio::test]
    async fn applies_the_resource_with_identity_annotations() {
        let api = MockApi::start(|method, _, body| match method {
            "GET" => not_found(),
            _ => echo(body),
        });
        let applied = apply(
            &cluster(&api, Side::Mgmt),
            "mesh-system",
            "east",
            &agent_labels("east"),
            "kube-system-uid:u1",
            "agents",
        )
        .await
        .unwrap();
        assert_eq!(applied.action, ApplyAction::Created);
        let (request, body) = &api.calls()[1];
        assert!(request.starts_with("PATCH /apis/admin.meshctl.dev/v1alpha1/namespaces/mesh-system/kubernetesclusters/east?"), "{request}");
        assert!(request.contains("fieldManager=meshctl"), "{request}");
        assert_eq!(
            body["metadata"]["annotations"]["meshctl.dev/cluster-id"],
            "kube-system-uid:u1"
        );
        assert_eq!(
            body["metadata"]["annotations"]["meshctl.dev/agent-namespace"],
            "agents"
        );
        assert_eq!(body["spec"], json!({}));
    }
}
