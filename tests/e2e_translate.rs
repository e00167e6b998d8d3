//! End-to-end translation against a real Kubernetes API server (envtest-style: no nodes, so
//! `meshctl serve mgmt-server --kubernetes` and `meshctl serve agent` run as local processes with
//! the kubeconfig, tests/support/mesh.rs). Runs when `MESHCTL_E2E_KUBECONFIG` names a kubeconfig
//! (contexts `MESHCTL_E2E_MGMT_CONTEXT` / `MESHCTL_E2E_REMOTE_CONTEXT`, possibly the same API
//! server); skips with a printed reason otherwise.
//!
//! Setup: Istio's ServiceEntry and DestinationRule CRDs (tests/fixtures/istio/networking-crds.yaml)
//! applied to the workload cluster with server-side apply (idempotent, shared with other tests,
//! never deleted) and waited for until Established; `meshctl install --wait=false` with a Mesh
//! license (meshctl's CRDs from templates/crds, Established, and the `meshctl-license` Secret); the
//! local server as the Deployment runs it (`--kubernetes --license-secret meshctl-license`); the real
//! `meshctl cluster register` (KubernetesCluster, tokens, CA); a Workspace spanning a workload
//! namespace that holds the backing Service; the local agent reporting that namespace.
//!
//! Covers: the agent is told the license (Welcome entitlements, `GET /api/v1/license`); a
//! VirtualDestination created in the management namespace becomes a ServiceEntry and a
//! DestinationRule in the workload namespace, server-side applied by the agent (field manager
//! `meshctl-agent`) with the translator's owner labels; the VirtualDestination's status is ACCEPTED
//! with its observedGeneration; deleting it prunes both objects.

// support::E2eEnv prints the reason for a skip on stderr.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod support;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use meshctl::api::{TranslationState, VirtualDestination, Workspace};
use serde_json::{Value, json};
use support::mesh::{
    AgentOptions, Installation, LocalAgent, LocalServer, Registration, ServerOptions, TestIssuer,
    WAIT, http_get, wait_connected, wait_until,
};
use support::{E2eEnv, TestNamespace};

const CLUSTER: &str = "e2e-tr";
/// The ServiceAccounts the manifests give the server and the agent (templates/*/serviceaccount.yaml.tera).
const SERVER_SERVICE_ACCOUNT: &str = "mesh-mgmt-server";
const AGENT_SERVICE_ACCOUNT: &str = "mesh-agent";
/// Field manager of the test's CRD applies (not `meshctl`: install's applies would then drop
/// what this one sets, and the other way round).
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

/// Server-side applies the Istio fixture (a CRD whose fields another manager holds with other
/// values, e.g. real Istio CRDs, is used as it is) and waits until both CRDs are Established and
/// serve v1.
async fn install_istio_crds(client: &kube::Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crds: Vec<CustomResourceDefinition> =
        serde_saphyr::from_multiple(ISTIO_CRDS).expect("the Istio CRD fixture parses");
    let mut names = Vec::new();
    for crd in &crds {
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
        names.push(name);
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    meshctl::kube::wait::crds_established(client, &names, WAIT)
        .await
        .expect("the Istio CRDs become Established");
    for name in names {
        let crd = api.get(name).await.unwrap();
        assert!(
            crd.spec.versions.iter().any(|v| v.name == "v1" && v.served),
            "CRD {name} does not serve v1"
        );
    }
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
    for (who, logs) in [("server", &server_logs), ("agent", &agent_logs)] {
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

/// install, server, register, agent, a VirtualDestination translated into the workload namespace,
/// its status, its deletion; returns the server's and the agent's logs.
fn round_trip(env: &E2eEnv, credentials: Credentials, cluster: &str) -> (String, String) {
    let rt = runtime();
    let mgmt = rt.block_on(env.client(false));
    let remote = rt.block_on(env.client(true));
    rt.block_on(install_istio_crds(&remote));
    let mgmt_ns = format!("e2e-tr-mgmt-{:06}", rand::random::<u32>() % 1_000_000);
    let agent_ns = rt.block_on(TestNamespace::create(remote.clone(), "e2e-tr-agent"));
    let workload = rt.block_on(TestNamespace::create(remote.clone(), "e2e-tr-wl"));
    let pp = PostParams::default();

    // The backing Service, in the workload namespace the agent reports.
    let services: Api<Service> = Api::namespaced(remote.clone(), &workload.name);
    let service: Service = from_json(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "reviews", "labels": {"app": "reviews"}},
        "spec": {"selector": {"app": "reviews"}, "ports": [{"name": "http", "port": 9080, "targetPort": 9080}]},
    }));
    rt.block_on(services.create(&pp, &service)).unwrap();

    // install (CRDs, license Secret), the server as installed, the real register.
    let dir = tempfile::tempdir().unwrap();
    let issuer = TestIssuer::new(dir.path());
    let installation = Installation::install(
        env,
        &mgmt_ns,
        &issuer,
        &issuer.valid_license("e2e translate"),
    );
    let server_env = match credentials {
        Credentials::Admin => env.clone(),
        Credentials::ServiceAccounts | Credentials::ServiceAccountsWithoutIstioRule => {
            rt.block_on(env.as_service_account(false, &mgmt_ns, SERVER_SERVICE_ACCOUNT, dir.path()))
        }
    };
    let mut server = LocalServer::start(
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
        Credentials::ServiceAccounts | Credentials::ServiceAccountsWithoutIstioRule => rt.block_on(
            env.as_service_account(true, &agent_ns.name, AGENT_SERVICE_ACCOUNT, dir.path()),
        ),
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

    // The agent reports the workload namespace (and, whatever the filter, the Istio CRDs).
    let mut agent = LocalAgent::start(
        &agent_env,
        &agent_ns.name,
        cluster,
        &server.relay,
        &AgentOptions {
            source: Some(format!("kube:{}", workload.name)),
            ..AgentOptions::default()
        },
    );
    if credentials == Credentials::ServiceAccountsWithoutIstioRule {
        // The agent reads what it applied before it takes configuration: refused, it says so.
        agent.process.wait_for_line("permission denied", WAIT);
        agent.stop();
        server.stop();
        let logs = (server.process.logs(), agent.process.logs());
        drop(registration);
        drop(installation);
        drop(workload);
        drop(agent_ns);
        return logs;
    }
    wait_connected(env, &mut server, &mut agent);

    // The agent was told the server's license (Welcome entitlements, src/agent/admin.rs).
    let agent_admin = agent.admin.clone();
    let license = wait_until(
        "the agent's view of the license",
        WAIT,
        &mut [&mut server.process, &mut agent.process],
        || {
            http_get(&agent_admin, "/api/v1/license")
                .filter(|(status, _)| *status == 200)
                .and_then(|(_, body)| serde_json::from_str::<Value>(&body).ok())
        },
    );
    assert_eq!(license["products"], json!(["mesh"]), "{license}");
    assert_eq!(license["license"], "valid", "{license}");

    // The VirtualDestination.
    let vds: Api<VirtualDestination> = Api::namespaced(mgmt.clone(), &mgmt_ns);
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
    let output_name = format!("{VD_NAME}.{mgmt_ns}");
    let service_entries = istio_api(&remote, &workload.name, "ServiceEntry", "serviceentries");
    let destination_rules = istio_api(
        &remote,
        &workload.name,
        "DestinationRule",
        "destinationrules",
    );
    let mut procs = [&mut server.process, &mut agent.process];
    let se = wait_until(
        "the ServiceEntry in the workload namespace",
        WAIT,
        &mut procs,
        || {
            rt.block_on(service_entries.get_opt(&output_name))
                .ok()
                .flatten()
        },
    );
    let dr = wait_until(
        "the DestinationRule in the workload namespace",
        WAIT,
        &mut procs,
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
            Some(mgmt_ns.as_str()),
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
    let status = wait_until("the VirtualDestination ACCEPTED", WAIT, &mut procs, || {
        let vd = rt.block_on(vds.get_status(VD_NAME)).ok()?;
        let generation = vd.metadata.generation;
        vd.status.filter(|s| {
            s.state == TranslationState::Accepted && s.observed_generation == generation
        })
    });
    assert!(status.observed_generation.is_some(), "{status:?}");

    // Deleted: the server withdraws both objects and the agent prunes them.
    rt.block_on(vds.delete(VD_NAME, &DeleteParams::default()))
        .unwrap();
    wait_until(
        "the ServiceEntry and DestinationRule to be pruned",
        WAIT,
        &mut procs,
        || {
            let se = rt.block_on(service_entries.get_opt(&output_name)).ok()?;
            let dr = rt.block_on(destination_rules.get_opt(&output_name)).ok()?;
            (se.is_none() && dr.is_none()).then_some(())
        },
    );

    agent.stop();
    server.stop();
    let logs = (server.process.logs(), agent.process.logs());
    drop(registration);
    drop(installation);
    drop(workload);
    drop(agent_ns);
    logs
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

/// Runs without an API server: the fixture is what the e2e test needs (two namespaced CRDs of
/// networking.istio.io serving v1 with one storage version and structural schemas).
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
}
