//! End-to-end translation against a real Kubernetes API server (envtest-style: no nodes, so
//! `meshctl serve mgmt-server --kubernetes` and `meshctl serve agent` run as local processes with
//! the kubeconfig, tests/support/mesh.rs). Runs when `MESHCTL_E2E_KUBECONFIG` names a kubeconfig
//! (contexts `MESHCTL_E2E_MGMT_CONTEXT` / `MESHCTL_E2E_REMOTE_CONTEXT`, possibly the same API
//! server); skips with a printed reason otherwise.
//!
//! Setup ([`Platform::start`]): the CRDs of every kind the translator emits, Istio's
//! (tests/fixtures/istio/) and Cilium's (tests/fixtures/cilium/), applied to the workload cluster
//! with server-side apply (idempotent, shared with other tests, never deleted) and waited for until
//! Established; `meshctl install --wait=false` with a license for the test's products (meshctl's
//! CRDs from templates/crds, Established, and the `meshctl-license` Secret); the local server as the
//! Deployment runs it (`--kubernetes --license-secret meshctl-license`); the real `meshctl cluster
//! register` (KubernetesCluster, tokens, CA); a Workspace spanning a workload namespace that holds
//! the backing Service; the local agent reporting that namespace.
//!
//! Covers: the agent is told the license (Welcome entitlements, `GET /api/v1/license`); a
//! VirtualDestination created in the management namespace becomes a ServiceEntry and a
//! DestinationRule in the workload namespace, server-side applied by the agent (field manager
//! `meshctl-agent`) with the translator's owner labels; the VirtualDestination's status is ACCEPTED
//! with its observedGeneration; deleting it prunes both objects. With Mesh and Network licensed, a
//! RouteTable becomes a VirtualService and an AccessPolicy an Istio AuthorizationPolicy and a
//! CiliumNetworkPolicy, ACCEPTED, a spec change observed at generation 2, pruned on delete; a
//! VirtualGateway and a RouteTable bound to it (Gateway product) are UNLICENSED with nothing in the
//! workload cluster until `meshctl license apply` adds the Gateway product, when they become an Istio
//! Gateway and VirtualService without a restart.

// support::E2eEnv prints the reason for a skip on stderr.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod support;

use std::fmt::Debug;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
    PostParams,
};
use kube::core::object::HasStatus;
use kube::{Api, Resource};
use meshctl::api::{
    AccessPolicy, RouteTable, TranslationState, TranslationStatus, VirtualDestination,
    VirtualGateway, Workspace,
};
use meshctl::license::Product;
use meshctl::translate::output::{CILIUM, ISTIO_NETWORKING, ISTIO_SECURITY};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use support::mesh::{
    AgentOptions, Installation, LocalAgent, LocalServer, Registration, ServerOptions, TestIssuer,
    WAIT, http_get, meshctl, ok, wait_connected, wait_until,
};
use support::{E2eEnv, TestNamespace};
use tokio::runtime::Runtime;

const CLUSTER: &str = "e2e-tr";
/// The ServiceAccounts the manifests give the server and the agent (templates/*/serviceaccount.yaml.tera).
const SERVER_SERVICE_ACCOUNT: &str = "mesh-mgmt-server";
const AGENT_SERVICE_ACCOUNT: &str = "mesh-agent";
/// Field manager of the test's CRD applies (not `meshctl`: install's applies would then drop
/// what this one sets, and the other way round).
const CRD_MANAGER: &str = "meshctl-e2e";
/// The CRDs of the kinds the translator emits, each fixture with the apiVersion the translator
/// emits its kinds at (src/translate/output.rs): every CRD of a fixture is of that group and serves
/// that version.
const CRD_FIXTURES: [(&str, &str); 3] = [
    (
        ISTIO_NETWORKING,
        include_str!("fixtures/istio/networking-crds.yaml"),
    ),
    (
        ISTIO_SECURITY,
        include_str!("fixtures/istio/security-crds.yaml"),
    ),
    (
        CILIUM,
        include_str!("fixtures/cilium/network-policy-crds.yaml"),
    ),
];
const VD_NAME: &str = "reviews";
const HOST: &str = "reviews.e2e.global";
/// The backing Service in the workload namespace, and the labels of its pods.
const SERVICE: &str = "reviews";
const RT_NAME: &str = "reviews-routes";
const AP_NAME: &str = "reviews-access";
const VG_NAME: &str = "ingress";
const GATEWAY_RT_NAME: &str = "ingress-routes";
const GATEWAY_HOST: &str = "bookinfo.e2e.example";

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// Every CRD of [`CRD_FIXTURES`], with the apiVersion its fixture is for.
fn fixture_crds() -> Vec<(&'static str, CustomResourceDefinition)> {
    CRD_FIXTURES
        .iter()
        .flat_map(|(api_version, yaml)| {
            let crds: Vec<CustomResourceDefinition> = serde_saphyr::from_multiple(yaml)
                .unwrap_or_else(|e| panic!("the CRD fixture for {api_version} parses: {e}"));
            crds.into_iter().map(move |crd| (*api_version, crd))
        })
        .collect()
}

/// Server-side applies every CRD fixture (a CRD whose fields another manager holds with other
/// values, e.g. real Istio or Cilium CRDs, is used as it is) and waits until all are Established
/// and serve the version the translator emits.
async fn install_crds(client: &kube::Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crds = fixture_crds();
    for (_, crd) in &crds {
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
    }
    let names: Vec<String> = crds
        .iter()
        .map(|(_, crd)| crd.metadata.name.clone().unwrap())
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    meshctl::kube::wait::crds_established(client, &names, WAIT)
        .await
        .expect("the fixture CRDs become Established");
    for (api_version, fixture) in &crds {
        let name = fixture.metadata.name.as_deref().unwrap();
        let version = api_version.split_once('/').unwrap().1;
        let crd = api.get(name).await.unwrap();
        assert!(
            crd.spec
                .versions
                .iter()
                .any(|v| v.name == version && v.served),
            "CRD {name} does not serve {version}"
        );
    }
}

fn from_json<T: DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

/// The objects of one output kind (`api_version` as the translator emits it) in a namespace.
fn output_api(
    client: &kube::Client,
    namespace: &str,
    api_version: &str,
    kind: &str,
    plural: &str,
) -> Api<DynamicObject> {
    let (group, version) = api_version.split_once('/').unwrap();
    let gvk = GroupVersionKind::gvk(group, version, kind);
    Api::namespaced_with(
        client.clone(),
        namespace,
        &ApiResource::from_gvk_with_plural(&gvk, plural),
    )
}

/// The names of every object of `api` (of every owner: the namespace is the test's own).
fn names_in(rt: &Runtime, api: &Api<DynamicObject>) -> Vec<String> {
    let list = rt.block_on(api.list(&ListParams::default())).unwrap();
    let mut names: Vec<String> = list
        .items
        .into_iter()
        .filter_map(|o| o.metadata.name)
        .collect();
    names.sort();
    names
}

/// An output the agent applied: the translator's owner labels (src/translate/naming.rs
/// owner_labels) naming its platform resource, the agent's (src/agent/kube/ownership.rs prepare),
/// and the agent's field manager.
fn assert_applied_by_agent(object: &DynamicObject, owner_kind: &str, owner: &str, mgmt_ns: &str) {
    let labels = object.metadata.labels.clone().unwrap_or_default();
    let label = |k: &str| labels.get(k).map(String::as_str);
    assert_eq!(
        label("meshctl.dev/owner-kind"),
        Some(owner_kind),
        "{labels:?}"
    );
    assert_eq!(label("meshctl.dev/owner-name"), Some(owner), "{labels:?}");
    assert_eq!(
        label("meshctl.dev/owner-namespace"),
        Some(mgmt_ns),
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

/// Logs of a server and an agent run with their ServiceAccounts: no permission error, so every
/// read, watch, Secret write, status write and server-side apply they did was allowed.
fn assert_no_permission_errors(server_logs: &str, agent_logs: &str) {
    for (who, logs) in [("server", server_logs), ("agent", agent_logs)] {
        for needle in [
            "forbidden",
            "Forbidden",
            "permission denied",
            "Unauthorized",
        ] {
            assert!(
                !logs.contains(needle),
                "the {who} ran into {needle:?} with its ServiceAccount's RBAC:\n{logs}"
            );
        }
    }
}

#[test]
fn a_virtual_destination_becomes_istio_objects_in_the_workload_namespace() {
    let Some(env) =
        E2eEnv::from_env("a_virtual_destination_becomes_istio_objects_in_the_workload_namespace")
    else {
        return;
    };
    round_trip(&env, Credentials::Admin, CLUSTER);
}

/// The least-privilege RBAC of the rendered manifests, proven: the same round trip with the server
/// and the agent running as their own ServiceAccounts (tokens from the TokenRequest API, as their
/// pods would get them), not as the administrator. Every read, watch, Secret write, status write and
/// server-side apply they do must be allowed, and nothing they log may be a permission error.
#[test]
fn the_server_and_agent_need_nothing_beyond_their_service_accounts() {
    let Some(env) =
        E2eEnv::from_env("the_server_and_agent_need_nothing_beyond_their_service_accounts")
    else {
        return;
    };
    let (server_logs, agent_logs) = round_trip(&env, Credentials::ServiceAccounts, "e2e-tr-sa");
    assert_no_permission_errors(&server_logs, &agent_logs);
}

/// And the test of that proof: one rule fewer (the agent's right to write Istio's networking kinds)
/// and the agent says loudly, naming the object, the verb and the resource, what it may not do.
#[test]
fn a_missing_rbac_rule_is_a_loud_named_permission_error() {
    let Some(env) = E2eEnv::from_env("a_missing_rbac_rule_is_a_loud_named_permission_error") else {
        return;
    };
    let (_, agent_logs) = round_trip(
        &env,
        Credentials::ServiceAccountsWithoutIstioRule,
        "e2e-tr-norbac",
    );
    let line = agent_logs
        .lines()
        .find(|l| l.contains("permission denied"))
        .unwrap_or_else(|| panic!("no permission error in the agent's logs:\n{agent_logs}"));
    // Names the verb, the resource and the identity, in one line without the Status dump.
    assert!(line.contains("cannot list resource"), "{line}");
    assert!(line.contains("networking.istio.io"), "{line}");
    assert!(line.contains("system:serviceaccount:"), "{line}");
    assert!(!line.contains("Status {"), "{line}");
}

/// Who the server and the agent are to their API servers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Credentials {
    /// The e2e kubeconfig's administrator.
    Admin,
    /// ServiceAccounts `mesh-mgmt-server` (install namespace) and `mesh-agent` (agent namespace).
    ServiceAccounts,
    /// As `ServiceAccounts`, with the networking.istio.io rule taken out of the agent's
    /// ClusterRole: the round trip stops once the agent has been refused.
    ServiceAccountsWithoutIstioRule,
}

/// install, server, register, agent (see [`Platform`]), then [`virtual_destination_round_trip`];
/// returns the server's and the agent's logs.
fn round_trip(env: &E2eEnv, credentials: Credentials, cluster: &str) -> (String, String) {
    let mut platform = Platform::start(env, credentials, cluster, vec![Product::Mesh]);
    if credentials == Credentials::ServiceAccountsWithoutIstioRule {
        // The agent reads what it applied before it takes configuration: refused, it says so.
        platform
            .agent
            .process
            .wait_for_line("permission denied", WAIT);
        return platform.finish();
    }
    platform.connect(env);
    virtual_destination_round_trip(&mut platform);
    platform.finish()
}

/// The platform of one test, running: the fixture CRDs in the workload cluster, meshctl installed
/// in a fresh management namespace with a license for `products`, the local server, the cluster
/// registered, a Workspace spanning the workload namespace (which holds Service `reviews`), the
/// local agent reporting that namespace. Torn down in field order when dropped: the processes, the
/// registration, the installation, the namespaces, then the runtime and the directory.
struct Platform {
    agent: LocalAgent,
    server: LocalServer,
    _registration: Registration,
    _installation: Installation,
    /// The workload namespace of the workload cluster, where the outputs land.
    workload: TestNamespace,
    _agent_ns: TestNamespace,
    mgmt: kube::Client,
    remote: kube::Client,
    /// The management namespace (meshctl's install namespace), where the platform resources live.
    mgmt_ns: String,
    cluster: String,
    products: Vec<Product>,
    issuer: TestIssuer,
    rt: Runtime,
    /// The issuer's trust file, license keys and the ServiceAccounts' kubeconfigs.
    _dir: tempfile::TempDir,
}

impl Platform {
    /// Everything up to the agent's start; [`Platform::connect`] waits for its connection.
    fn start(
        env: &E2eEnv,
        credentials: Credentials,
        cluster: &str,
        products: Vec<Product>,
    ) -> Self {
        let rt = runtime();
        let mgmt = rt.block_on(env.client(false));
        let remote = rt.block_on(env.client(true));
        rt.block_on(install_crds(&remote));
        let mgmt_ns = format!("e2e-tr-mgmt-{:06}", rand::random::<u32>() % 1_000_000);
        let agent_ns = rt.block_on(TestNamespace::create(remote.clone(), "e2e-tr-agent"));
        let workload = rt.block_on(TestNamespace::create(remote.clone(), "e2e-tr-wl"));
        let pp = PostParams::default();

        // The backing Service, in the workload namespace the agent reports.
        let services: Api<Service> = Api::namespaced(remote.clone(), &workload.name);
        let service: Service = from_json(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": SERVICE, "labels": {"app": SERVICE}},
            "spec": {"selector": {"app": SERVICE}, "ports": [{"name": "http", "port": 9080, "targetPort": 9080}]},
        }));
        rt.block_on(services.create(&pp, &service)).unwrap();

        // install (CRDs, license Secret), the server as installed, the real register.
        let dir = tempfile::tempdir().unwrap();
        let issuer = TestIssuer::new(dir.path());
        let (license, _) = issuer.license_for(
            "e2e translate",
            "e2e-valid.license",
            jiff::SignedDuration::from_hours(1),
            jiff::SignedDuration::from_hours(24 * 365),
            products.clone(),
        );
        let installation = Installation::install(env, &mgmt_ns, &issuer, &license);
        let server_env = match credentials {
            Credentials::Admin => env.clone(),
            Credentials::ServiceAccounts | Credentials::ServiceAccountsWithoutIstioRule => rt
                .block_on(env.as_service_account(
                    false,
                    &mgmt_ns,
                    SERVER_SERVICE_ACCOUNT,
                    dir.path(),
                )),
        };
        let server = LocalServer::start(
            &server_env,
            &mgmt_ns,
            &ServerOptions::installed(&issuer.trust_file),
        );
        let mut registration = Registration::new(env, &mgmt_ns, &agent_ns.name, cluster);
        registration.register(&server.relay);
        if credentials == Credentials::ServiceAccountsWithoutIstioRule {
            rt.block_on(remove_rule(&remote, &agent_ns.name, "networking.istio.io"));
        }
        let agent_env = match credentials {
            Credentials::Admin => env.clone(),
            Credentials::ServiceAccounts | Credentials::ServiceAccountsWithoutIstioRule => rt
                .block_on(env.as_service_account(
                    true,
                    &agent_ns.name,
                    AGENT_SERVICE_ACCOUNT,
                    dir.path(),
                )),
        };

        // A workspace spanning the workload namespace of the cluster (src/translate/scope.rs: the
        // outputs of a resource in the management namespace land in the first namespace of its
        // workspace that exists in the cluster's snapshot, here the workload namespace).
        let workspaces: Api<Workspace> = Api::namespaced(mgmt.clone(), &mgmt_ns);
        rt.block_on(workspaces.create(
            &pp,
            &from_json(json!({
                "apiVersion": "admin.meshctl.dev/v1alpha1", "kind": "Workspace",
                "metadata": {"name": "e2e"},
                "spec": {"workloadClusters": [{"name": cluster, "namespaces": [workload.name]}]},
            })),
        ))
        .unwrap();

        // The agent reports the workload namespace (and, whatever the filter, the Istio and Cilium
        // CRDs).
        let agent = LocalAgent::start(
            &agent_env,
            &agent_ns.name,
            cluster,
            &server.relay,
            &AgentOptions {
                source: Some(format!("kube:{}", workload.name)),
                ..AgentOptions::default()
            },
        );
        Self {
            agent,
            server,
            _registration: registration,
            _installation: installation,
            workload,
            _agent_ns: agent_ns,
            mgmt,
            remote,
            mgmt_ns,
            cluster: cluster.to_owned(),
            products,
            issuer,
            rt,
            _dir: dir,
        }
    }

    /// Waits until the agent is connected with a snapshot and was told the license: its products
    /// (Welcome entitlements, src/agent/admin.rs).
    fn connect(&mut self, env: &E2eEnv) {
        wait_connected(env, &mut self.server, &mut self.agent);
        let agent_admin = self.agent.admin.clone();
        let license = self.wait_for("the agent's view of the license", |_| {
            http_get(&agent_admin, "/api/v1/license")
                .filter(|(status, _)| *status == 200)
                .and_then(|(_, body)| serde_json::from_str::<Value>(&body).ok())
        });
        let mut told: Vec<&str> = license["products"]
            .as_array()
            .unwrap_or_else(|| panic!("no products in {license}"))
            .iter()
            .filter_map(Value::as_str)
            .collect();
        told.sort_unstable();
        let mut licensed: Vec<&str> = self.products.iter().map(|p| p.as_str()).collect();
        licensed.sort_unstable();
        assert_eq!(told, licensed, "{license}");
        assert_eq!(license["license"], "valid", "{license}");
    }

    /// [`wait_until`] with the platform's runtime, and the server's and agent's logs on a timeout.
    fn wait_for<T>(&mut self, what: &str, mut f: impl FnMut(&Runtime) -> Option<T>) -> T {
        let rt = &self.rt;
        wait_until(
            what,
            WAIT,
            &mut [&mut self.server.process, &mut self.agent.process],
            || f(rt),
        )
    }

    /// Waits until the status the server wrote back to `name` (src/server/platform_kube.rs) is
    /// `state` for the resource's current generation; returns it.
    fn wait_for_state<K>(
        &mut self,
        api: &Api<K>,
        name: &str,
        state: TranslationState,
    ) -> TranslationStatus
    where
        K: Resource<DynamicType = ()>
            + HasStatus<Status = TranslationStatus>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        let what = format!("{} {name} {}", K::kind(&()), state.as_str());
        self.wait_for(&what, |rt| {
            let object = rt.block_on(api.get_status(name)).ok()?;
            let generation = object.meta().generation;
            object
                .status()
                .filter(|s| {
                    s.state == state && generation.is_some() && s.observed_generation == generation
                })
                .cloned()
        })
    }

    /// Waits until `api` holds `name`; returns it.
    fn wait_for_object(&mut self, api: &Api<DynamicObject>, name: &str) -> DynamicObject {
        let what = format!("{} {name} in the workload namespace", api.resource_url());
        self.wait_for(&what, |rt| rt.block_on(api.get_opt(name)).ok().flatten())
    }

    /// Waits until none of `objects` exists any more.
    fn wait_until_pruned(&mut self, objects: &[(&Api<DynamicObject>, &str)]) {
        self.wait_for("the outputs to be pruned", |rt| {
            for (api, name) in objects {
                if rt.block_on(api.get_opt(name)).ok()?.is_some() {
                    return None;
                }
            }
            Some(())
        });
    }

    /// Stops the agent and the server; returns their logs and tears the rest down.
    fn finish(mut self) -> (String, String) {
        self.agent.stop();
        self.server.stop();
        (self.server.process.logs(), self.agent.process.logs())
    }
}

/// A VirtualDestination in the management namespace, translated into the workload namespace, its
/// status, its deletion.
fn virtual_destination_round_trip(p: &mut Platform) {
    let mgmt_ns = p.mgmt_ns.clone();
    let workload = p.workload.name.clone();
    let vds: Api<VirtualDestination> = Api::namespaced(p.mgmt.clone(), &mgmt_ns);
    p.rt.block_on(vds.create(
        &PostParams::default(),
        &from_json(json!({
            "apiVersion": "networking.meshctl.dev/v1alpha1", "kind": "VirtualDestination",
            "metadata": {"name": VD_NAME},
            "spec": {
                "hosts": [HOST],
                "ports": [{"number": 9080, "protocol": "HTTP"}],
                "services": [{"labels": {"app": SERVICE}}],
                "outlierDetection": {"consecutiveErrors": 3},
            },
        })),
    ))
    .unwrap();

    // Its outputs (src/translate/virtual_destination.rs): one ServiceEntry and, with outlier
    // detection set, one DestinationRule, both named `<name>.<namespace>` of the VirtualDestination
    // (src/translate/naming.rs owner_name).
    let output_name = format!("{VD_NAME}.{mgmt_ns}");
    let service_entries = output_api(
        &p.remote,
        &workload,
        ISTIO_NETWORKING,
        "ServiceEntry",
        "serviceentries",
    );
    let destination_rules = output_api(
        &p.remote,
        &workload,
        ISTIO_NETWORKING,
        "DestinationRule",
        "destinationrules",
    );
    let se = p.wait_for_object(&service_entries, &output_name);
    let dr = p.wait_for_object(&destination_rules, &output_name);
    for object in [&se, &dr] {
        assert_applied_by_agent(object, "VirtualDestination", VD_NAME, &mgmt_ns);
    }
    assert_eq!(se.data["spec"]["hosts"], json!([HOST]), "{:?}", se.data);
    assert_eq!(
        se.data["spec"]["location"], "MESH_INTERNAL",
        "{:?}",
        se.data
    );
    let endpoint = format!("{SERVICE}.{workload}.svc.cluster.local");
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

    p.wait_for_state(&vds, VD_NAME, TranslationState::Accepted);

    // Deleted: the server withdraws both objects and the agent prunes them.
    p.rt.block_on(vds.delete(VD_NAME, &DeleteParams::default()))
        .unwrap();
    p.wait_until_pruned(&[
        (&service_entries, &output_name),
        (&destination_rules, &output_name),
    ]);
}

/// The other platform resources on the real API server, with the server and the agent as their
/// ServiceAccounts (so the manifests' RBAC covers the kinds they write): under a Mesh + Network
/// license, a RouteTable becomes an Istio VirtualService, an AccessPolicy an Istio
/// AuthorizationPolicy (Mesh) and a CiliumNetworkPolicy (Network, Cilium's CRD being present), all
/// ACCEPTED at their generation and pruned on delete. Gateway-product resources (a VirtualGateway, a
/// RouteTable bound to it) are UNLICENSED and produce nothing, until `meshctl license apply` adds the
/// Gateway product: the running server reloads it and the same resources then become an Istio Gateway
/// and VirtualService (so it was the license that held them back).
#[test]
fn route_tables_and_access_policies_translate_and_unlicensed_kinds_wait_for_their_product() {
    let Some(env) = E2eEnv::from_env(
        "route_tables_and_access_policies_translate_and_unlicensed_kinds_wait_for_their_product",
    ) else {
        return;
    };
    let mut p = Platform::start(
        &env,
        Credentials::ServiceAccounts,
        "e2e-tr-pol",
        vec![Product::Mesh, Product::Network],
    );
    p.connect(&env);
    let (mgmt_ns, workload, cluster) = (
        p.mgmt_ns.clone(),
        p.workload.name.clone(),
        p.cluster.clone(),
    );
    let pp = PostParams::default();
    let route_tables: Api<RouteTable> = Api::namespaced(p.mgmt.clone(), &mgmt_ns);
    let access_policies: Api<AccessPolicy> = Api::namespaced(p.mgmt.clone(), &mgmt_ns);
    let virtual_gateways: Api<VirtualGateway> = Api::namespaced(p.mgmt.clone(), &mgmt_ns);
    let virtual_services = output_api(
        &p.remote,
        &workload,
        ISTIO_NETWORKING,
        "VirtualService",
        "virtualservices",
    );
    let gateways = output_api(
        &p.remote,
        &workload,
        ISTIO_NETWORKING,
        "Gateway",
        "gateways",
    );
    let authorization_policies = output_api(
        &p.remote,
        &workload,
        ISTIO_SECURITY,
        "AuthorizationPolicy",
        "authorizationpolicies",
    );
    let cilium_policies = output_api(
        &p.remote,
        &workload,
        CILIUM,
        "CiliumNetworkPolicy",
        "ciliumnetworkpolicies",
    );
    // Output names (src/translate/naming.rs): `<name>.<namespace>` of the owner; an AccessPolicy's
    // per destination Service, `<name>.<namespace>.<service>`.
    let rt_output = format!("{RT_NAME}.{mgmt_ns}");
    let ap_output = format!("{AP_NAME}.{mgmt_ns}.{SERVICE}");
    let vg_output = format!("{VG_NAME}.{mgmt_ns}");
    let gateway_rt_output = format!("{GATEWAY_RT_NAME}.{mgmt_ns}");

    // A gateway workload in the workload namespace for the VirtualGateway to select (the agent
    // reports Deployments; src/translate/virtual_gateway.rs placements).
    let deployments: Api<Deployment> = Api::namespaced(p.remote.clone(), &workload);
    p.rt.block_on(deployments.create(
        &pp,
        &from_json(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "ingress-gateway"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"istio": "ingressgateway"}},
                "template": {
                    "metadata": {"labels": {"istio": "ingressgateway"}},
                    "spec": {"containers": [{"name": "istio-proxy", "image": "registry.invalid/proxyv2:e2e"}]},
                },
            },
        })),
    ))
    .unwrap();

    // Gateway-product resources first (src/translate/engine.rs products_for: a VirtualGateway, and
    // a RouteTable with virtualGateways): UNLICENSED under Mesh + Network.
    p.rt.block_on(virtual_gateways.create(
        &pp,
        &from_json(json!({
            "apiVersion": "networking.meshctl.dev/v1alpha1", "kind": "VirtualGateway",
            "metadata": {"name": VG_NAME},
            "spec": {
                "workloads": [{"labels": {"istio": "ingressgateway"}}],
                "listeners": [{"port": 80, "hosts": [GATEWAY_HOST]}],
            },
        })),
    ))
    .unwrap();
    let to_reviews =
        json!({"kind": "Service", "name": SERVICE, "namespace": workload, "port": 9080});
    p.rt.block_on(route_tables.create(
        &pp,
        &from_json(json!({
            "apiVersion": "networking.meshctl.dev/v1alpha1", "kind": "RouteTable",
            "metadata": {"name": GATEWAY_RT_NAME},
            "spec": {
                "hosts": [GATEWAY_HOST],
                "virtualGateways": [{"name": VG_NAME}],
                "http": [{"forwardTo": {"destinations": [to_reviews]}}],
            },
        })),
    ))
    .unwrap();
    let vg_status = p.wait_for_state(&virtual_gateways, VG_NAME, TranslationState::Unlicensed);
    let gateway_rt_status =
        p.wait_for_state(&route_tables, GATEWAY_RT_NAME, TranslationState::Unlicensed);
    for status in [&vg_status, &gateway_rt_status] {
        assert_eq!(
            status.message.as_deref(),
            Some("requires the Gateway product, which the license does not cover"),
            "{status:?}"
        );
    }

    // A RouteTable for mesh traffic (Mesh) and an AccessPolicy (Mesh or Network).
    p.rt.block_on(route_tables.create(
        &pp,
        &from_json(json!({
            "apiVersion": "networking.meshctl.dev/v1alpha1", "kind": "RouteTable",
            "metadata": {"name": RT_NAME},
            "spec": {
                "hosts": [HOST],
                "http": [{
                    "name": "api",
                    "matchers": [{"uri": {"prefix": "/api"}, "methods": ["get"]}],
                    "forwardTo": {"destinations": [to_reviews]},
                    "retries": {"attempts": 2, "perTryTimeout": "3s"},
                    "timeout": "10s",
                }],
            },
        })),
    ))
    .unwrap();
    p.rt.block_on(access_policies.create(
        &pp,
        &from_json(json!({
            "apiVersion": "security.meshctl.dev/v1alpha1", "kind": "AccessPolicy",
            "metadata": {"name": AP_NAME},
            "spec": {
                "applyToDestinations": [{"kind": "Service", "selector": {"namespace": workload, "labels": {"app": SERVICE}}}],
                "from": [
                    {"serviceAccounts": [{"name": "productpage", "namespace": workload, "cluster": cluster}]},
                    {"namespaces": ["monitoring"]},
                ],
                "allowedPorts": [9080],
                "allowedMethods": ["GET"],
            },
        })),
    ))
    .unwrap();

    // Their outputs (src/translate/route_table.rs, src/translate/access_policy.rs), applied by the
    // agent in the workload namespace.
    let vs = p.wait_for_object(&virtual_services, &rt_output);
    let authz = p.wait_for_object(&authorization_policies, &ap_output);
    let cnp = p.wait_for_object(&cilium_policies, &ap_output);
    assert_applied_by_agent(&vs, "RouteTable", RT_NAME, &mgmt_ns);
    assert_applied_by_agent(&authz, "AccessPolicy", AP_NAME, &mgmt_ns);
    assert_applied_by_agent(&cnp, "AccessPolicy", AP_NAME, &mgmt_ns);
    let reviews_host = format!("{SERVICE}.{workload}.svc.cluster.local");
    assert_eq!(
        vs.data["spec"],
        json!({
            "hosts": [HOST],
            "http": [{
                "name": "api",
                "match": [{"uri": {"prefix": "/api"}, "method": {"exact": "GET"}}],
                "route": [{"destination": {"host": reviews_host, "port": {"number": 9080}}}],
                "retries": {"attempts": 2, "perTryTimeout": "3s"},
                "timeout": "10s",
            }],
        }),
        "{:?}",
        vs.data
    );
    assert_eq!(
        authz.data["spec"],
        json!({
            "selector": {"matchLabels": {"app": SERVICE}},
            "action": "ALLOW",
            "rules": [{
                "from": [
                    {"source": {"principals": [format!("{cluster}/ns/{workload}/sa/productpage")]}},
                    {"source": {"namespaces": ["monitoring"]}},
                ],
                "to": [{"operation": {"ports": ["9080"], "methods": ["GET"]}}],
            }],
        }),
        "{:?}",
        authz.data
    );
    assert_eq!(
        cnp.data["spec"],
        json!({
            "endpointSelector": {"matchLabels": {"app": SERVICE}},
            "ingress": [{
                "fromEndpoints": [
                    {"matchLabels": {
                        "io.cilium.k8s.policy.cluster": cluster,
                        "io.cilium.k8s.policy.serviceaccount": "productpage",
                        "io.kubernetes.pod.namespace": workload,
                    }},
                    {"matchLabels": {"io.kubernetes.pod.namespace": "monitoring"}},
                ],
                "toPorts": [{"ports": [{"port": "9080", "protocol": "TCP"}]}],
            }],
        }),
        "{:?}",
        cnp.data
    );
    p.wait_for_state(&route_tables, RT_NAME, TranslationState::Accepted);
    let ap_status = p.wait_for_state(&access_policies, AP_NAME, TranslationState::Accepted);
    // Both enforcement points were licensed and present: no "not enforced" warning.
    assert_eq!(ap_status.message, None, "{ap_status:?}");

    // The Gateway-product resources were translated before these, whose outputs are applied:
    // they produced nothing.
    assert_eq!(names_in(&p.rt, &gateways), Vec::<String>::new());
    assert_eq!(names_in(&p.rt, &virtual_services), [rt_output.as_str()]);

    // A spec change is translated and observed at the new generation.
    let mut changed = p.rt.block_on(route_tables.get(RT_NAME)).unwrap();
    changed.spec.http[0].timeout = Some("5s".to_owned());
    let changed =
        p.rt.block_on(route_tables.replace(RT_NAME, &pp, &changed))
            .unwrap();
    assert_eq!(changed.metadata.generation, Some(2));
    p.wait_for("the VirtualService with the new timeout", |rt| {
        let vs = rt.block_on(virtual_services.get_opt(&rt_output)).ok()??;
        (vs.data["spec"]["http"][0]["timeout"] == "5s").then_some(())
    });
    let status = p.wait_for_state(&route_tables, RT_NAME, TranslationState::Accepted);
    assert_eq!(status.observed_generation, Some(2), "{status:?}");

    // The Gateway product licensed, with the real `license apply`: the running server reloads the
    // Secret (src/server/license_source.rs) and translates what it held back.
    let (upgrade, _) = p.issuer.license_for(
        "e2e translate",
        "e2e-gateway.license",
        jiff::SignedDuration::from_hours(1),
        jiff::SignedDuration::from_hours(24 * 365),
        vec![Product::Mesh, Product::Network, Product::Gateway],
    );
    let trust = p.issuer.trust_file.display().to_string();
    ok(meshctl(
        &env,
        false,
        &mgmt_ns,
        &[
            "license",
            "apply",
            "--key-file",
            &upgrade.display().to_string(),
            "--trusted-issuer",
            &trust,
        ],
    ));
    p.wait_for_state(&virtual_gateways, VG_NAME, TranslationState::Accepted);
    p.wait_for_state(&route_tables, GATEWAY_RT_NAME, TranslationState::Accepted);
    let gateway = p.wait_for_object(&gateways, &vg_output);
    let gateway_vs = p.wait_for_object(&virtual_services, &gateway_rt_output);
    assert_applied_by_agent(&gateway, "VirtualGateway", VG_NAME, &mgmt_ns);
    assert_applied_by_agent(&gateway_vs, "RouteTable", GATEWAY_RT_NAME, &mgmt_ns);
    assert_eq!(
        gateway.data["spec"],
        json!({
            "selector": {"istio": "ingressgateway"},
            "servers": [{"port": {"number": 80, "name": "http-80", "protocol": "HTTP"}, "hosts": [GATEWAY_HOST]}],
        }),
        "{:?}",
        gateway.data
    );
    assert_eq!(
        gateway_vs.data["spec"]["gateways"],
        json!([format!("{workload}/{vg_output}")]),
        "{:?}",
        gateway_vs.data
    );
    assert_eq!(
        gateway_vs.data["spec"]["hosts"],
        json!([GATEWAY_HOST]),
        "{:?}",
        gateway_vs.data
    );

    // Deleted: every output is withdrawn and pruned.
    let dp = DeleteParams::default();
    p.rt.block_on(route_tables.delete(RT_NAME, &dp)).unwrap();
    p.rt.block_on(route_tables.delete(GATEWAY_RT_NAME, &dp))
        .unwrap();
    p.rt.block_on(access_policies.delete(AP_NAME, &dp)).unwrap();
    p.rt.block_on(virtual_gateways.delete(VG_NAME, &dp))
        .unwrap();
    p.wait_until_pruned(&[
        (&virtual_services, &rt_output),
        (&virtual_services, &gateway_rt_output),
        (&authorization_policies, &ap_output),
        (&cilium_policies, &ap_output),
        (&gateways, &vg_output),
    ]);

    let (server_logs, agent_logs) = p.finish();
    assert_no_permission_errors(&server_logs, &agent_logs);
}

/// Takes every rule of `api_group` out of the agent's ClusterRole (`meshctl:<agent namespace>:agent`,
/// templates/agent/rbac.yaml.tera).
async fn remove_rule(remote: &kube::Client, agent_namespace: &str, api_group: &str) {
    use k8s_openapi::api::rbac::v1::ClusterRole;
    let roles: Api<ClusterRole> = Api::all(remote.clone());
    let name = format!("meshctl:{agent_namespace}:agent");
    let mut role = roles.get(&name).await.unwrap();
    let rules = role.rules.take().unwrap_or_default();
    let before = rules.len();
    let kept: Vec<_> = rules
        .into_iter()
        .filter(|r| !r.api_groups.iter().flatten().any(|g| g == api_group))
        .collect();
    assert!(
        kept.len() < before,
        "ClusterRole {name} has no {api_group} rule"
    );
    role.rules = Some(kept);
    roles
        .replace(&name, &PostParams::default(), &role)
        .await
        .unwrap();
}

/// Runs without an API server: the fixtures are what the e2e tests need. Together they define
/// exactly the kinds the agent applies for the translator (src/agent/kube/sink.rs DEFAULT_KINDS,
/// ConfigMaps aside), each of the group and served at the version the translator emits
/// (src/translate/output.rs), namespaced, with the upstream CRD's name, one storage version, a
/// status subresource and structural schemas that keep any spec and status.
#[test]
fn the_crd_fixtures_are_usable() {
    let crds = fixture_crds();
    let mut kinds: Vec<(String, String)> = crds
        .iter()
        .map(|(api_version, crd)| ((*api_version).to_owned(), crd.spec.names.kind.clone()))
        .collect();
    kinds.sort();
    let mut applied: Vec<(String, String)> = meshctl::agent::kube::sink::DEFAULT_KINDS
        .iter()
        .filter(|(api_version, _)| *api_version != "v1")
        .map(|(api_version, kind)| ((*api_version).to_owned(), (*kind).to_owned()))
        .collect();
    applied.sort();
    assert_eq!(kinds, applied);
    let mut names: Vec<&str> = kinds.iter().map(|(_, k)| k.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "AuthorizationPolicy",
            "CiliumNetworkPolicy",
            "DestinationRule",
            "Gateway",
            "ServiceEntry",
            "VirtualService"
        ]
    );
    for (api_version, crd) in &crds {
        let (group, version) = api_version.split_once('/').unwrap();
        let name = crd.metadata.name.as_deref().unwrap();
        assert_eq!(name, format!("{}.{group}", crd.spec.names.plural));
        assert_eq!(crd.spec.group, group, "{name}");
        assert_eq!(crd.spec.scope, "Namespaced", "{name}");
        assert_eq!(
            crd.spec.names.list_kind.as_deref(),
            Some(format!("{}List", crd.spec.names.kind).as_str()),
            "{name}"
        );
        assert!(
            crd.spec
                .versions
                .iter()
                .any(|v| v.name == version && v.served),
            "{name} does not serve {version}"
        );
        assert_eq!(
            crd.spec.versions.iter().filter(|v| v.storage).count(),
            1,
            "{name}"
        );
        for v in &crd.spec.versions {
            assert!(
                v.subresources.as_ref().is_some_and(|s| s.status.is_some()),
                "{name} {}",
                v.name
            );
            let schema = v
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref())
                .unwrap();
            assert_eq!(schema.type_.as_deref(), Some("object"), "{name}");
            let properties = schema.properties.as_ref().unwrap();
            for field in ["spec", "status"] {
                let open = &properties[field];
                assert_eq!(open.type_.as_deref(), Some("object"), "{name} {field}");
                assert_eq!(
                    open.x_kubernetes_preserve_unknown_fields,
                    Some(true),
                    "{name} {field}"
                );
            }
        }
    }
}
