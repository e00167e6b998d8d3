//! Collects a support bundle: the objects, events and logs of a namespace, meshctl's custom
//! resources, the server's admin API. Every call has a timeout; whatever fails is recorded as a
//! problem of the bundle and collection goes on. Everything passes through [`redact`] first.

use std::fmt::Debug;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Pod, Secret, Service};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, LogParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::bundle::Bundle;
use super::redact;
use crate::check::relay_source::AdminEndpoint;
use crate::manifests::labels;

/// The API group suffix of meshctl's custom resources.
const GROUP_SUFFIX: &str = "meshctl.dev";

/// One namespace of one cluster to collect, into directory `dir` of the bundle.
#[derive(Clone)]
pub struct NamespaceTarget {
    pub dir: String,
    pub client: kube::Client,
    pub namespace: String,
    pub timeout: Duration,
    /// Log lines kept per container.
    pub tail_lines: i64,
}

async fn timed<T, E: std::fmt::Display>(
    timeout: Duration,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "no answer within {}",
            crate::check::cluster::humanize(timeout)
        )),
    }
}

/// Lists `api` as JSON objects (each with its apiVersion and kind).
async fn list<K>(api: &Api<K>, params: &ListParams, timeout: Duration) -> Result<Vec<Value>, String>
where
    K: kube::Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    let list = timed(timeout, api.list(params)).await?;
    list.items
        .iter()
        .map(|o| serde_json::to_value(o).map_err(|e| e.to_string()))
        .collect()
}

fn list_document(items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": "List", "items": items})
}

/// The API server's version (`GET /version`).
pub async fn api_server_version(client: &kube::Client, timeout: Duration) -> Result<Value, String> {
    let info = timed(timeout, client.apiserver_version()).await?;
    serde_json::to_value(&info).map_err(|e| e.to_string())
}

/// Deployments, StatefulSets, Pods, Services, Events, meshctl's ConfigMaps and every Secret
/// (redacted) of the namespace, and the logs of its pods.
pub async fn namespace(bundle: &mut Bundle, t: &NamespaceTarget) {
    let all = ListParams::default();
    let ours = ListParams::default().labels(&format!("{}={}", labels::PART_OF, labels::MESHCTL));
    let ns = t.namespace.as_str();
    let client = &t.client;

    kind_file::<Deployment>(bundle, t, "deployments", &all, redact::workload).await;
    kind_file::<StatefulSet>(bundle, t, "statefulsets", &all, redact::workload).await;
    let pods = kind_file::<Pod>(bundle, t, "pods", &all, redact::workload).await;
    kind_file::<Service>(bundle, t, "services", &all, redact::strip_noise).await;
    kind_file::<ConfigMap>(bundle, t, "configmaps", &ours, redact::strip_noise).await;
    kind_file::<Secret>(bundle, t, "secrets", &all, redact::secret).await;

    let path = format!("{}/events.yaml", t.dir);
    match list(
        &Api::<Event>::namespaced(client.clone(), ns),
        &all,
        t.timeout,
    )
    .await
    {
        Ok(mut events) => {
            events.iter_mut().for_each(redact::strip_noise);
            events.sort_by_key(event_time);
            bundle.add_yaml(path, &list_document(events));
        }
        Err(e) => bundle.problem(path, e),
    }

    for pod in pods.unwrap_or_default() {
        pod_logs(bundle, t, &pod).await;
    }
}

/// Lists kind `K` of the namespace into `<dir>/<file>.yaml`, each object passed through
/// `clean`; returns the cleaned objects.
async fn kind_file<K>(
    bundle: &mut Bundle,
    t: &NamespaceTarget,
    file: &str,
    params: &ListParams,
    clean: fn(&mut Value),
) -> Option<Vec<Value>>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Serialize
        + Debug,
    <K as kube::Resource>::DynamicType: Default,
{
    let path = format!("{}/{file}.yaml", t.dir);
    let api: Api<K> = Api::namespaced(t.client.clone(), &t.namespace);
    match list(&api, params, t.timeout).await {
        Ok(mut items) => {
            items.iter_mut().for_each(clean);
            bundle.add_yaml(path, &list_document(items.clone()));
            Some(items)
        }
        Err(e) => {
            bundle.problem(path, e);
            None
        }
    }
}

/// The time an event happened, for ordering (RFC 3339 strings sort in time order).
fn event_time(event: &Value) -> String {
    [
        "/lastTimestamp",
        "/eventTime",
        "/firstTimestamp",
        "/metadata/creationTimestamp",
    ]
    .iter()
    .find_map(|p| event.pointer(p).and_then(Value::as_str))
    .unwrap_or_default()
    .to_owned()
}

/// The last lines of every container of `pod`, and of its previous run after a restart.
async fn pod_logs(bundle: &mut Bundle, t: &NamespaceTarget, pod: &Value) {
    let Some(name) = pod.pointer("/metadata/name").and_then(Value::as_str) else {
        return;
    };
    let api: Api<Pod> = Api::namespaced(t.client.clone(), &t.namespace);
    let restarts = |container: &str| {
        pod.pointer("/status/containerStatuses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|s| s["name"] == container)
            .and_then(|s| s["restartCount"].as_i64())
            .unwrap_or(0)
    };
    let containers: Vec<String> = ["initContainers", "containers"]
        .iter()
        .filter_map(|list| {
            pod.pointer(&format!("/spec/{list}"))
                .and_then(Value::as_array)
        })
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect();
    for container in containers {
        let runs: &[bool] = if restarts(&container) > 0 {
            &[false, true]
        } else {
            &[false]
        };
        for &previous in runs {
            let suffix = if previous { ".previous" } else { "" };
            let path = format!("{}/logs/{name}/{container}{suffix}.log", t.dir);
            let params = LogParams {
                container: Some(container.clone()),
                tail_lines: Some(t.tail_lines),
                previous,
                timestamps: true,
                ..LogParams::default()
            };
            match timed(t.timeout, api.logs(name, &params)).await {
                Ok(text) => bundle.add(path, redact::urls_in_text(&text).into_bytes()),
                Err(e) => bundle.problem(path, e),
            }
        }
    }
}

/// meshctl's CRDs (`<dir>/crds.yaml`, without their schemas) and every object of each, in all
/// namespaces (`<dir>/resources/<plural>.<group>.yaml`).
pub async fn custom_resources(
    bundle: &mut Bundle,
    dir: &str,
    client: &kube::Client,
    timeout: Duration,
) {
    let path = format!("{dir}/crds.yaml");
    let crds = match list(
        &Api::<CustomResourceDefinition>::all(client.clone()),
        &ListParams::default(),
        timeout,
    )
    .await
    {
        Ok(crds) => crds,
        Err(e) => {
            bundle.problem(path, e);
            return;
        }
    };
    let mut ours: Vec<Value> = crds
        .into_iter()
        .filter(|c| {
            c.pointer("/spec/group")
                .and_then(Value::as_str)
                .is_some_and(|g| g == GROUP_SUFFIX || g.ends_with(&format!(".{GROUP_SUFFIX}")))
        })
        .collect();
    for crd in &mut ours {
        redact::strip_noise(crd);
        if let Some(versions) = crd
            .pointer_mut("/spec/versions")
            .and_then(Value::as_array_mut)
        {
            for v in versions {
                if let Some(v) = v.as_object_mut() {
                    v.remove("schema");
                }
            }
        }
    }
    bundle.add_yaml(path, &list_document(ours.clone()));
    for crd in &ours {
        let Some(resource) = api_resource(crd) else {
            continue;
        };
        let path = format!(
            "{dir}/resources/{}.{}.yaml",
            resource.plural, resource.group
        );
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        match list(&api, &ListParams::default(), timeout).await {
            Ok(mut items) => {
                items.iter_mut().for_each(redact::strip_noise);
                bundle.add_yaml(path, &list_document(items));
            }
            Err(e) => bundle.problem(path, e),
        }
    }
}

/// The served storage version of a CRD as an API resource.
fn api_resource(crd: &Value) -> Option<ApiResource> {
    let group = crd.pointer("/spec/group")?.as_str()?;
    let kind = crd.pointer("/spec/names/kind")?.as_str()?;
    let plural = crd.pointer("/spec/names/plural")?.as_str()?;
    let versions = crd.pointer("/spec/versions")?.as_array()?;
    let version = versions
        .iter()
        .find(|v| v["storage"] == true && v["served"] == true)
        .or_else(|| versions.iter().find(|v| v["served"] == true))?["name"]
        .as_str()?;
    Some(ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(group, version, kind),
        plural,
    ))
}

/// What the management server's admin API holds: relay view, platform statuses, metrics.
pub const SERVER_ADMIN_FILES: [(&str, &str); 3] = [
    ("/api/v1/clusters", "clusters.json"),
    ("/api/v1/statuses", "statuses.json"),
    ("/metrics", "metrics.txt"),
];

/// What an agent's admin API holds: the license it was told of, metrics.
pub const AGENT_ADMIN_FILES: [(&str, &str); 2] = [
    ("/api/v1/license", "license.json"),
    ("/metrics", "metrics.txt"),
];

/// The admin API's `files` ((API path, file name)), into `dir`.
pub async fn admin(bundle: &mut Bundle, dir: &str, reader: &AdminEndpoint, files: &[(&str, &str)]) {
    for &(api_path, file) in files {
        let path = format!("{dir}/{file}");
        match reader.get(api_path).await {
            Ok(body) => bundle.add(path, body),
            Err(e) => bundle.problem(path, e.to_string()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::check::testing::{MockApi, empty_list, list as list_of, status, text};

    const LICENSE: &str = "eyJsaWNlbnNlIjoic2VjcmV0In0";
    const REDIS_PASSWORD: &str = "hunter2";

    /// An installation in mesh-system: the server Deployment (a license key in its env and a
    /// Redis password in its args), its pod (restarted once), the license Secret, an event, a
    /// CRD with one object; Services fail with 500.
    fn installation(method: &str, path: &str, _: &Value) -> (u16, Value) {
        assert_eq!(method, "GET", "{path}");
        let container = json!({"name": "server", "image": "meshctl:1",
            "args": ["serve", "mgmt-server", format!("--redis-url=redis://:{REDIS_PASSWORD}@mesh-redis:6379")],
            "env": [{"name": "MESHCTL_LICENSE_KEY", "value": LICENSE}]});
        let ns = "/api/v1/namespaces/mesh-system";
        match path {
            "/apis/apps/v1/namespaces/mesh-system/deployments" => (
                200,
                list_of(
                    "DeploymentList",
                    vec![
                        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "mesh-mgmt-server",
                    "managedFields": [{"manager": "meshctl"}]},
                    "spec": {"selector": {}, "template": {"spec": {"containers": [container.clone()]}}}}),
                    ],
                ),
            ),
            "/apis/apps/v1/namespaces/mesh-system/statefulsets" => {
                (200, empty_list("StatefulSetList"))
            }
            p if p == format!("{ns}/pods") => (
                200,
                list_of(
                    "PodList",
                    vec![
                        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "mesh-mgmt-server-abc"},
                    "spec": {"containers": [container.clone()]},
                    "status": {"containerStatuses": [{"name": "server", "restartCount": 1, "ready": true,
                        "image": "meshctl:1", "imageID": "", "started": true, "state": {}}]}}),
                    ],
                ),
            ),
            p if p == format!("{ns}/services") => {
                (500, status(500, "InternalError", "etcd is sad"))
            }
            p if p.starts_with(&format!("{ns}/configmaps")) => (200, empty_list("ConfigMapList")),
            p if p == format!("{ns}/secrets") => (
                200,
                list_of(
                    "SecretList",
                    vec![
                        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "meshctl-license"},
                    "data": {"license-key": "ZXlKc2FXTmxibk5sSWpvaWMyVmpjbVYwSW4w"}}),
                    ],
                ),
            ),
            p if p == format!("{ns}/events") => (
                200,
                list_of(
                    "EventList",
                    vec![
                        json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e1"},
                    "involvedObject": {"name": "mesh-mgmt-server-abc"}, "reason": "BackOff",
                    "lastTimestamp": "2026-11-22T10:00:00Z"}),
                    ],
                ),
            ),
            p if p.starts_with(&format!("{ns}/pods/mesh-mgmt-server-abc/log")) => {
                let run = if p.contains("previous=true") {
                    "previous"
                } else {
                    "current"
                };
                (
                    200,
                    text(&format!(
                        "{run} run: connecting to redis://:{REDIS_PASSWORD}@mesh-redis:6379\n"
                    )),
                )
            }
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions" => (
                200,
                list_of(
                    "CustomResourceDefinitionList",
                    vec![
                        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                    "metadata": {"name": "kubernetesclusters.admin.meshctl.dev"},
                    "spec": {"group": "admin.meshctl.dev", "scope": "Namespaced",
                        "names": {"kind": "KubernetesCluster", "plural": "kubernetesclusters"},
                        "versions": [{"name": "v1alpha1", "served": true, "storage": true,
                            "schema": {"openAPIV3Schema": {"type": "object"}}}]}}),
                        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                    "metadata": {"name": "other.example.com"},
                    "spec": {"group": "example.com", "scope": "Namespaced",
                        "names": {"kind": "Other", "plural": "others"},
                        "versions": [{"name": "v1", "served": true, "storage": true}]}}),
                    ],
                ),
            ),
            "/apis/admin.meshctl.dev/v1alpha1/kubernetesclusters" => (
                200,
                list_of(
                    "KubernetesClusterList",
                    vec![
                        json!({"apiVersion": "admin.meshctl.dev/v1alpha1", "kind": "KubernetesCluster",
                    "metadata": {"name": "east", "namespace": "mesh-system"}, "spec": {}}),
                    ],
                ),
            ),
            other => panic!("unexpected request {other}"),
        }
    }

    fn file<'a>(entries: &'a [(String, Vec<u8>)], name: &str) -> &'a str {
        let found = entries
            .iter()
            .find(|(n, _)| n == &format!("b/{name}"))
            .unwrap_or_else(|| {
                panic!(
                    "no {name} in {:?}",
                    entries.iter().map(|e| &e.0).collect::<Vec<_>>()
                )
            });
        std::str::from_utf8(&found.1).unwrap()
    }

    #[tokio::test]
    async fn a_namespace_and_its_custom_resources_are_collected_redacted() {
        let api = MockApi::start(installation);
        let mut bundle = Bundle::new("b");
        let target = NamespaceTarget {
            dir: "mgmt/mesh-system".into(),
            client: api.client(),
            namespace: "mesh-system".into(),
            timeout: Duration::from_secs(5),
            tail_lines: 100,
        };
        namespace(&mut bundle, &target).await;
        custom_resources(&mut bundle, "mgmt", &api.client(), Duration::from_secs(5)).await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.tar.gz");
        bundle.write(&path, jiff::Timestamp::UNIX_EPOCH).unwrap();
        let entries = crate::debug::bundle::read(&path).unwrap();

        // No secret survives anywhere, in any file.
        for (name, bytes) in &entries {
            let content = String::from_utf8_lossy(bytes);
            for secret in [
                LICENSE,
                REDIS_PASSWORD,
                "ZXlKc2FXTmxibk5sSWpvaWMyVmpjbVYwSW4w",
            ] {
                assert!(!content.contains(secret), "{secret} in {name}:\n{content}");
            }
        }
        let deployments = file(&entries, "mgmt/mesh-system/deployments.yaml");
        assert!(deployments.contains("MESHCTL_LICENSE_KEY"), "{deployments}");
        assert!(
            deployments.contains("redis://:<redacted>@mesh-redis:6379"),
            "{deployments}"
        );
        assert!(!deployments.contains("managedFields"), "{deployments}");
        let secrets = file(&entries, "mgmt/mesh-system/secrets.yaml");
        assert!(
            secrets.contains("license-key: \"<redacted: 27 bytes>\""),
            "{secrets}"
        );
        assert!(file(&entries, "mgmt/mesh-system/events.yaml").contains("BackOff"));
        // Restarted once: the current and the previous run.
        let logs = "mgmt/mesh-system/logs/mesh-mgmt-server-abc/server";
        assert!(
            file(&entries, &format!("{logs}.log"))
                .starts_with("current run: connecting to redis://:<redacted>@")
        );
        assert!(file(&entries, &format!("{logs}.previous.log")).starts_with("previous run"));
        // meshctl's CRDs only, without schemas, and their objects.
        let crds = file(&entries, "mgmt/crds.yaml");
        assert!(
            crds.contains("kubernetesclusters.admin.meshctl.dev") && !crds.contains("example.com"),
            "{crds}"
        );
        assert!(!crds.contains("openAPIV3Schema"), "{crds}");
        assert!(
            file(
                &entries,
                "mgmt/resources/kubernetesclusters.admin.meshctl.dev.yaml"
            )
            .contains("name: east")
        );
        // What failed is a problem, not an abort.
        assert_eq!(bundle.problems().len(), 1, "{:?}", bundle.problems());
        assert_eq!(bundle.problems()[0].what, "mgmt/mesh-system/services.yaml");
        assert!(bundle.problems()[0].error.contains("etcd is sad"));
        let manifest: Value = serde_json::from_str(file(&entries, "manifest.json")).unwrap();
        assert_eq!(
            manifest["problems"][0]["what"],
            "mgmt/mesh-system/services.yaml"
        );
        // The label selector of the ConfigMaps: meshctl's only.
        assert!(api.requests().iter().any(|r| r.starts_with("GET /api/v1/namespaces/mesh-system/configmaps?labelSelector=app.kubernetes.io%2Fpart-of%3Dmeshctl")), "{:?}", api.requests());
    }

    #[tokio::test]
    async fn a_silent_api_server_costs_one_timeout_per_call() {
        let api = MockApi::silent();
        let mut bundle = Bundle::new("b");
        let target = NamespaceTarget {
            dir: "mgmt/ns".into(),
            client: api.client(),
            namespace: "ns".into(),
            timeout: Duration::from_millis(50),
            tail_lines: 10,
        };
        namespace(&mut bundle, &target).await;
        let problems: Vec<&str> = bundle.problems().iter().map(|p| p.what.as_str()).collect();
        assert_eq!(
            problems,
            [
                "mgmt/ns/deployments.yaml",
                "mgmt/ns/statefulsets.yaml",
                "mgmt/ns/pods.yaml",
                "mgmt/ns/services.yaml",
                "mgmt/ns/configmaps.yaml",
                "mgmt/ns/secrets.yaml",
                "mgmt/ns/events.yaml"
            ]
        );
        assert!(
            bundle.problems()[0].error.starts_with("no answer within"),
            "{:?}",
            bundle.problems()
        );
    }

    #[test]
    fn api_resources_of_crds() {
        let crd = json!({"spec": {"group": "networking.meshctl.dev", "names": {"kind": "VirtualDestination", "plural": "virtualdestinations"},
            "versions": [{"name": "v1alpha1", "served": true, "storage": false}, {"name": "v1beta1", "served": true, "storage": true}]}});
        let r = api_resource(&crd).unwrap();
        assert_eq!(r.api_version, "networking.meshctl.dev/v1beta1");
        assert_eq!(r.plural, "virtualdestinations");
        assert!(api_resource(&json!({"spec": {}})).is_none());
    }

    #[test]
    fn events_order_by_their_time() {
        let mut events = [
            json!({"lastTimestamp": "2026-11-22T10:00:02Z"}),
            json!({"eventTime": "2026-11-22T10:00:01Z"}),
            json!({"metadata": {"creationTimestamp": "2026-11-22T10:00:03Z"}}),
        ];
        events.sort_by_key(event_time);
        assert_eq!(events[0]["eventTime"], "2026-11-22T10:00:01Z");
        assert_eq!(
            events[2]["metadata"]["creationTimestamp"],
            "2026-11-22T10:00:03Z"
        );
    }
}
