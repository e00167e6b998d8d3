//! End-to-end translation against a real Kubernetes API server (envtest-style: no nodes, so
//! `meshctl serve mgmt-server --kubernetes` and `meshctl serve agent` run as local processes with
//! the kubeconfig). Runs when `MESHCTL_E2E_KUBECONFIG` names a kubeconfig; one API server (the
//! management context, `MESHCTL_E2E_MGMT_CONTEXT`) plays both the management and the workload
//! cluster. Skips with a printed reason otherwise.
//!
//! Setup: Istio's ServiceEntry and DestinationRule CRDs (tests/fixtures/istio/networking-crds.yaml)
//! and meshctl's CRDs (templates/crds) applied with server-side apply (idempotent, shared with other
//! tests, never deleted) and waited for until Established; a management namespace with the relay
//! bootstrap token, a license with Mesh in the `meshctl-license` Secret, a KubernetesCluster and a
//! Workspace; a workload namespace with the backing Service.
//!
//! Covers: the agent is told the license (Welcome entitlements, `GET /api/v1/license`); a
//! VirtualDestination created in the management namespace becomes a ServiceEntry and a
//! DestinationRule in the workload namespace, server-side applied by the agent (field manager
//! `meshctl-agent`) with the translator's owner labels; the VirtualDestination's status is ACCEPTED
//! with its observedGeneration; deleting it prunes both objects.

// support::E2eEnv prints the reason for a skip on stderr.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod support;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use meshctl::api::{KubernetesCluster, TranslationState, VirtualDestination, Workspace};
use meshctl::license::{IssuerKeyPair, LicenseRequest, LicenseType, Product, issue};
use meshctl::server::admin::ClusterList;
use serde_json::{Value, json};
use support::{E2eEnv, Running, TestNamespace};

const WAIT: Duration = Duration::from_secs(90);
const CLUSTER: &str = "c1";
/// Field manager of the tests' CRD applies (never `meshctl`, whose applies prune what they omit).
const CRD_MANAGER: &str = "meshctl-e2e";
/// The Istio CRDs the translator's outputs need (served at networking.istio.io/v1).
const ISTIO_CRDS: &str = include_str!("fixtures/istio/networking-crds.yaml");
const VD_NAME: &str = "reviews";
const HOST: &str = "reviews.e2e.global";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// The address after "listening on " in a log line (src/server/run.rs, src/agent/run.rs).
fn address_in(line: &str) -> String {
    line.split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("an address after 'listening on'")
        .to_string()
}

/// `GET path` on a local admin endpoint: (status, body), or `None` when it does not answer.
fn http_get(address: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .ok()?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

/// The server's view of `CLUSTER` (`GET /api/v1/clusters`, src/server/admin.rs).
fn cluster_view(admin: &str) -> Option<Value> {
    let (status, body) = http_get(admin, "/api/v1/clusters")?;
    if status != 200 {
        return None;
    }
    let list: ClusterList = serde_json::from_str(&body).ok()?;
    let c = list.clusters.into_iter().find(|c| c.name == CLUSTER)?;
    serde_json::to_value(c).ok()
}

/// Polls `f` until it returns `Some`, or panics with `what`, the server's view of the cluster and
/// the processes' logs.
fn wait_until<T>(
    what: &str,
    admin: &str,
    procs: &mut [&mut Running],
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let view = cluster_view(admin).map(|v| v.to_string());
    let logs: Vec<String> = procs.iter_mut().map(|p| p.logs()).collect();
    panic!(
        "timed out waiting for {what}; the server's view of {CLUSTER}: {}; logs:\n{}",
        view.as_deref().unwrap_or("(none)"),
        logs.join("\n-----\n")
    );
}

/// Server-side applies `crd` unless another manager holds its fields with other values (then the
/// CRD is someone else's and is used as it is). Returns the CRD's name.
async fn apply_crd(api: &Api<CustomResourceDefinition>, crd: &CustomResourceDefinition) -> String {
    let name = crd.metadata.name.clone().expect("a CRD has a name");
    match api
        .patch(&name, &PatchParams::apply(CRD_MANAGER), &Patch::Apply(crd))
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {
            eprintln!("note: CRD {name} is held by another field manager; using it as it is");
        }
        Err(e) => panic!("applying CRD {name}: {e}"),
    }
    name
}

/// Applies the Istio fixture and meshctl's CRDs and waits until all are Established.
async fn install_crds(client: &kube::Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut names = Vec::new();
    let istio: Vec<CustomResourceDefinition> =
        serde_saphyr::from_multiple(ISTIO_CRDS).expect("the Istio CRD fixture parses");
    assert_eq!(istio.len(), 2);
    for crd in &istio {
        names.push(apply_crd(&api, crd).await);
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/crds");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 6, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let crd: CustomResourceDefinition = serde_saphyr::from_str(&text)
            .unwrap_or_else(|e| panic!("{} parses: {e}", file.display()));
        names.push(apply_crd(&api, &crd).await);
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    meshctl::kube::wait::crds_established(client, &names, WAIT)
        .await
        .expect("the CRDs become Established");
    // A CRD installed by someone else must still serve the version the translator emits.
    for name in &names[..2] {
        let crd = api.get(name).await.unwrap();
        assert!(
            crd.spec.versions.iter().any(|v| v.name == "v1" && v.served),
            "CRD {name} does not serve v1"
        );
    }
}

/// A Mesh license for 30 days, signed by a fresh issuer: (key, issuer public key PEM).
fn mesh_license() -> (String, String) {
    let pair = IssuerKeyPair::generate();
    let now = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second()).unwrap();
    let key = issue(
        &LicenseRequest {
            issuer: "e2e".into(),
            licensee: "e2e-translate".into(),
            license_type: LicenseType::Trial,
            products: vec![Product::Mesh],
            modules: vec![],
            max_clusters: Some(5),
            issued_at: now,
            expires_at: now
                .checked_add(jiff::SignedDuration::from_hours(24 * 30))
                .unwrap(),
        },
        &pair,
    )
    .unwrap();
    (key, pair.public_key().to_spki_pem().unwrap())
}

fn from_json<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

fn istio_api(
    client: &kube::Client,
    namespace: &str,
    kind: &str,
    plural: &str,
) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("networking.istio.io", "v1", kind);
    Api::namespaced_with(
        client.clone(),
        namespace,
        &ApiResource::from_gvk_with_plural(&gvk, plural),
    )
}

#[test]
fn a_virtual_destination_becomes_istio_objects_in_the_workload_namespace() {
    let Some(env) =
        E2eEnv::from_env("a_virtual_destination_becomes_istio_objects_in_the_workload_namespace")
    else {
        return;
    };
    let rt = runtime();
    let client = rt.block_on(env.client(false));
    rt.block_on(install_crds(&client));
    let mgmt = rt.block_on(TestNamespace::create(client.clone(), "e2e-tr-mgmt"));
    let workload = rt.block_on(TestNamespace::create(client.clone(), "e2e-tr-wl"));
    let pp = PostParams::default();

    // What `meshctl cluster register` leaves behind (one API server plays both sides): the token
    // for the server (`relay-identity-token-<cluster>`) and for the agent (`relay-identity-token`),
    // src/server/kube/token_store.rs and the agent's --token-secret default. Plus the license
    // (`meshctl-license`, key `license-key`: src/license/mod.rs) and its issuer's key in a file.
    let token = format!("e2e-token-{}", rand::random::<u64>());
    let (license_key, issuer_pem) = mesh_license();
    let files = tempfile::tempdir().unwrap();
    let issuer_file = files.path().join("issuer.pub.pem");
    std::fs::write(&issuer_file, issuer_pem).unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &mgmt.name);
    let secret = |name: &str, data: Value| -> Secret {
        from_json(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "meshctl"}},
            "stringData": data,
        }))
    };
    rt.block_on(async {
        for (name, data) in [
            (
                format!("relay-identity-token-{CLUSTER}"),
                json!({"token": token}),
            ),
            ("relay-identity-token".to_string(), json!({"token": token})),
            (
                "meshctl-license".to_string(),
                json!({"license-key": license_key}),
            ),
        ] {
            secrets.create(&pp, &secret(&name, data)).await.unwrap();
        }
    });

    // The backing Service, in the workload namespace the agent reports.
    let services: Api<Service> = Api::namespaced(client.clone(), &workload.name);
    let service: Service = from_json(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "reviews", "labels": {"app": "reviews"}},
        "spec": {"selector": {"app": "reviews"}, "ports": [{"name": "http", "port": 9080, "targetPort": 9080}]},
    }));
    rt.block_on(services.create(&pp, &service)).unwrap();

    // The cluster and a workspace spanning its workload namespace (src/translate/scope.rs: the
    // outputs of a resource in the management namespace land in the first namespace of the
    // workspace that exists in the cluster's snapshot, here the workload namespace).
    let clusters: Api<KubernetesCluster> = Api::namespaced(client.clone(), &mgmt.name);
    let workspaces: Api<Workspace> = Api::namespaced(client.clone(), &mgmt.name);
    rt.block_on(async {
        clusters
            .create(
                &pp,
                &from_json(json!({
                    "apiVersion": "admin.meshctl.dev/v1alpha1", "kind": "KubernetesCluster",
                    "metadata": {"name": CLUSTER}, "spec": {},
                })),
            )
            .await
            .unwrap();
        workspaces
            .create(
                &pp,
                &from_json(json!({
                    "apiVersion": "admin.meshctl.dev/v1alpha1", "kind": "Workspace",
                    "metadata": {"name": "e2e"},
                    "spec": {"workloadClusters": [{"name": CLUSTER, "namespaces": [workload.name]}]},
                })),
            )
            .await
            .unwrap();
    });

    // The management server, translating the platform resources of the management namespace.
    let kube_args = env.mgmt_args();
    let mut server_args: Vec<&str> = kube_args.iter().map(String::as_str).collect();
    server_args.extend([
        "-n",
        &mgmt.name,
        "serve",
        "mgmt-server",
        "--relay-listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--kubernetes",
        "--license-secret",
        "meshctl-license",
        "--trusted-issuer",
        issuer_file.to_str().unwrap(),
    ]);
    let mut server = Running::start(&server_args, &[]);
    let relay = address_in(&server.wait_for_line("relay listening on", WAIT));
    let admin = address_in(&server.wait_for_line("admin listening on", WAIT));

    // The agent: the workload namespace (and the Istio CRDs) as its source, server-side apply as
    // its sink; credentials in Secrets of the management namespace.
    let mut agent_args: Vec<&str> = kube_args.iter().map(String::as_str).collect();
    let source = format!("kube:{}", workload.name);
    agent_args.extend([
        "-n",
        &mgmt.name,
        "serve",
        "agent",
        "--cluster",
        CLUSTER,
        "--relay-address",
        &relay,
        "--source",
        &source,
        "--sink",
        "kube",
        "--admin-listen",
        "127.0.0.1:0",
    ]);
    let mut agent = Running::start(&agent_args, &[]);
    let agent_admin = address_in(&agent.wait_for_line("agent admin listening on", WAIT));

    // Connected, with the namespace, the Service and the two Istio CRDs in the snapshot.
    wait_until(
        "the agent to connect with its snapshot",
        &admin,
        &mut [&mut server, &mut agent],
        || {
            cluster_view(&admin).filter(|c| {
                c["connected"] == true && c["snapshot_resources"].as_u64().unwrap_or(0) >= 4
            })
        },
    );
    // The agent was told the server's license (Welcome entitlements, src/agent/admin.rs).
    let license = wait_until(
        "the agent's view of the license",
        &admin,
        &mut [&mut server, &mut agent],
        || {
            http_get(&agent_admin, "/api/v1/license")
                .filter(|(status, _)| *status == 200)
                .and_then(|(_, body)| serde_json::from_str::<Value>(&body).ok())
        },
    );
    assert_eq!(license["products"], json!(["mesh"]), "{license}");
    assert!(
        matches!(license["license"].as_str(), Some("valid" | "expiring_soon")),
        "{license}"
    );

    // The VirtualDestination.
    let vds: Api<VirtualDestination> = Api::namespaced(client.clone(), &mgmt.name);
    rt.block_on(vds.create(
        &pp,
        &from_json(json!({
            "apiVersion": "networking.meshctl.dev/v1alpha1", "kind": "VirtualDestination",
            "metadata": {"name": VD_NAME},
            "spec": {
                "hosts": [HOST],
                "ports": [{"number": 9080, "protocol": "HTTP"}],
                "services": [{"labels": {"app": "reviews"}}],
                "outlierDetection": {"consecutiveErrors": 3},
            },
        })),
    ))
    .unwrap();

    // Its outputs (src/translate/virtual_destination.rs): one ServiceEntry and, with outlier
    // detection set, one DestinationRule, both named `<name>.<namespace>` of the VirtualDestination
    // (src/translate/naming.rs owner_name).
    let output_name = format!("{VD_NAME}.{}", mgmt.name);
    let service_entries = istio_api(&client, &workload.name, "ServiceEntry", "serviceentries");
    let destination_rules = istio_api(
        &client,
        &workload.name,
        "DestinationRule",
        "destinationrules",
    );
    let se = wait_until(
        "the ServiceEntry in the workload namespace",
        &admin,
        &mut [&mut server, &mut agent],
        || {
            rt.block_on(service_entries.get_opt(&output_name))
                .ok()
                .flatten()
        },
    );
    let dr = wait_until(
        "the DestinationRule in the workload namespace",
        &admin,
        &mut [&mut server, &mut agent],
        || {
            rt.block_on(destination_rules.get_opt(&output_name))
                .ok()
                .flatten()
        },
    );
    for object in [&se, &dr] {
        let labels = object.metadata.labels.clone().unwrap_or_default();
        let label = |k: &str| labels.get(k).map(String::as_str);
        // The translator's owner labels (src/translate/naming.rs owner_labels) and the agent's
        // (src/agent/kube/ownership.rs prepare).
        assert_eq!(
            label("meshctl.dev/owner-kind"),
            Some("VirtualDestination"),
            "{labels:?}"
        );
        assert_eq!(label("meshctl.dev/owner-name"), Some(VD_NAME), "{labels:?}");
        assert_eq!(
            label("meshctl.dev/owner-namespace"),
            Some(mgmt.name.as_str()),
            "{labels:?}"
        );
        assert_eq!(
            label("app.kubernetes.io/managed-by"),
            Some("meshctl"),
            "{labels:?}"
        );
        assert_eq!(label("meshctl.dev/owner"), Some("agent"), "{labels:?}");
        let managers: Vec<String> = object
            .metadata
            .managed_fields
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| m.manager)
            .collect();
        assert!(
            managers.iter().any(|m| m == "meshctl-agent"),
            "{managers:?}"
        );
    }
    assert_eq!(se.data["spec"]["hosts"], json!([HOST]), "{:?}", se.data);
    assert_eq!(
        se.data["spec"]["location"], "MESH_INTERNAL",
        "{:?}",
        se.data
    );
    let endpoint = format!("reviews.{}.svc.cluster.local", workload.name);
    assert_eq!(
        se.data["spec"]["endpoints"][0]["address"], endpoint,
        "{:?}",
        se.data
    );
    assert_eq!(dr.data["spec"]["host"], HOST, "{:?}", dr.data);
    assert_eq!(
        dr.data["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"], 3,
        "{:?}",
        dr.data
    );

    // The status the server wrote back (src/server/platform_kube.rs).
    let status = wait_until(
        "the VirtualDestination's status",
        &admin,
        &mut [&mut server, &mut agent],
        || {
            let vd = rt.block_on(vds.get_status(VD_NAME)).ok()?;
            let generation = vd.metadata.generation;
            vd.status.filter(|s| {
                s.state == TranslationState::Accepted && s.observed_generation == generation
            })
        },
    );
    assert!(status.observed_generation.is_some(), "{status:?}");

    // Deleted: the server withdraws both objects and the agent prunes them.
    rt.block_on(vds.delete(VD_NAME, &DeleteParams::default()))
        .unwrap();
    wait_until(
        "the ServiceEntry and DestinationRule to be pruned",
        &admin,
        &mut [&mut server, &mut agent],
        || {
            let se = rt.block_on(service_entries.get_opt(&output_name)).ok()?;
            let dr = rt.block_on(destination_rules.get_opt(&output_name)).ok()?;
            (se.is_none() && dr.is_none()).then_some(())
        },
    );

    agent.stop();
    server.stop();
    drop(workload);
    drop(mgmt);
}

/// Runs without an API server: the fixture is what the e2e test needs (two namespaced CRDs of
/// networking.istio.io serving v1 with one storage version and structural schemas), and the meshctl
/// CRD files parse.
#[test]
fn the_crd_fixtures_are_usable() {
    let istio: Vec<CustomResourceDefinition> = serde_saphyr::from_multiple(ISTIO_CRDS).unwrap();
    let mut kinds: Vec<String> = istio.iter().map(|c| c.spec.names.kind.clone()).collect();
    kinds.sort();
    assert_eq!(kinds, ["DestinationRule", "ServiceEntry"]);
    for crd in &istio {
        let name = crd.metadata.name.as_deref().unwrap();
        assert_eq!(
            name,
            format!("{}.networking.istio.io", crd.spec.names.plural)
        );
        assert_eq!(crd.spec.group, "networking.istio.io");
        assert_eq!(crd.spec.scope, "Namespaced");
        // The version the translator emits (src/translate/output.rs ISTIO_NETWORKING).
        assert_eq!(
            meshctl::translate::output::ISTIO_NETWORKING,
            "networking.istio.io/v1"
        );
        assert!(
            crd.spec.versions.iter().any(|v| v.name == "v1" && v.served),
            "{name}"
        );
        assert_eq!(
            crd.spec.versions.iter().filter(|v| v.storage).count(),
            1,
            "{name}"
        );
        for v in &crd.spec.versions {
            let schema = v
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref())
                .unwrap();
            assert_eq!(schema.type_.as_deref(), Some("object"));
            let spec = &schema.properties.as_ref().unwrap()["spec"];
            assert_eq!(spec.x_kubernetes_preserve_unknown_fields, Some(true));
        }
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/crds");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let crd: CustomResourceDefinition = serde_saphyr::from_str(&text).unwrap();
        names.push(crd.metadata.name.unwrap());
    }
    names.sort();
    assert_eq!(
        names,
        [
            "accesspolicies.security.meshctl.dev",
            "kubernetesclusters.admin.meshctl.dev",
            "routetables.networking.meshctl.dev",
            "virtualdestinations.networking.meshctl.dev",
            "virtualgateways.networking.meshctl.dev",
            "workspaces.admin.meshctl.dev",
        ]
    );
}
