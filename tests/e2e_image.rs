//! The image, run as a pod runs it, against the real control plane (scripts/e2e-cluster.sh): the
//! management server and an agent start from the unpacked image's root filesystem
//! (`MESHCTL_E2E_IMAGE_ROOTFS`, set by .ci/run after `scripts/image.sh build` and `unpack`) under
//! `scripts/image.sh run` (uid 65532, read-only root, tmpfs /tmp, only the image's environment), with
//! what the kubelet gives their pods: `KUBERNETES_SERVICE_HOST`/`_PORT` of the API server, and the
//! ServiceAccount token (TokenRequest API), `ca.crt` and `namespace` mounted read-only at
//! /var/run/secrets/kubernetes.io/serviceaccount. No kubeconfig: the client is the in-cluster one.
//! Their arguments are the installed Deployments' own (`meshctl install`, `meshctl cluster
//! register`), with `$(POD_NAMESPACE)` expanded and the listeners moved to 127.0.0.1 port 0 (the pods
//! would have network namespaces of their own). The agent connects to the server through the relay:
//! in-cluster configuration, the manifests' RBAC and the image are proven together. Then both stop
//! on SIGTERM with exit status 0 within the pods' grace period: the server first, with the agent's
//! stream open, then the agent.
//!
//! Runs when `MESHCTL_E2E_KUBECONFIG` and `MESHCTL_E2E_IMAGE_ROOTFS` are set; otherwise skips with a
//! printed reason, except under `CI`, where a skip is a failure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Container;
use kube::Api;
use support::mesh::{
    Installation, LocalAgent, LocalServer, Registration, TestIssuer, WAIT, address_in,
    wait_connected,
};
use support::{E2eEnv, PodIdentity, Running, TestNamespace};

/// The grace period of the pods (Kubernetes' default `terminationGracePeriodSeconds`).
const GRACE: Duration = Duration::from_secs(30);
/// The user the image runs as.
const IMAGE_UID: u32 = 65532;
const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// Where the test's license issuer key is mounted in the server's sandbox.
const ISSUER_MOUNT: &str = "/var/run/meshctl-e2e/issuer.pub.pem";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// The unpacked image's root filesystem, or `None` after printing why the test is skipped.
fn image_rootfs(test: &str) -> Option<PathBuf> {
    match std::env::var_os("MESHCTL_E2E_IMAGE_ROOTFS").filter(|v| !v.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            assert!(
                dir.join("usr/local/bin/meshctl").is_file(),
                "MESHCTL_E2E_IMAGE_ROOTFS={} holds no usr/local/bin/meshctl",
                dir.display()
            );
            Some(dir)
        }
        None => {
            if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0") {
                panic!(
                    "{test}: MESHCTL_E2E_IMAGE_ROOTFS is unset under CI; .ci/run builds the image \
                     (scripts/image.sh build), unpacks it and exports it (an e2e test never skips in CI)"
                );
            }
            eprintln!(
                "skipped {test}: MESHCTL_E2E_IMAGE_ROOTFS is unset (scripts/image.sh build, then \
                 scripts/image.sh unpack DIR, and set it to DIR/rootfs; running it needs root, \
                 bubblewrap and setpriv)"
            );
            None
        }
    }
}

/// The single container of Deployment `namespace/name`.
async fn container(client: &kube::Client, namespace: &str, name: &str) -> (Container, String) {
    let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let deployment = api
        .get(name)
        .await
        .unwrap_or_else(|e| panic!("Deployment {namespace}/{name}: {e}"));
    let spec = deployment.spec.template.spec.expect("a pod spec");
    let service_account = spec
        .service_account_name
        .clone()
        .expect("the pod names its ServiceAccount");
    assert_eq!(spec.containers.len(), 1, "one container in {name}");
    (spec.containers[0].clone(), service_account)
}

/// The container's arguments as the kubelet passes them (`$(POD_NAMESPACE)` expanded), with every
/// `--*-listen=` moved to 127.0.0.1 port 0.
fn pod_args(container: &Container, namespace: &str) -> Vec<String> {
    container
        .args
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|arg| arg.replace("$(POD_NAMESPACE)", namespace))
        .map(|arg| match arg.split_once("-listen=") {
            Some((flag, _)) if flag.starts_with("--") => format!("{flag}-listen=127.0.0.1:0"),
            _ => arg,
        })
        .collect()
}

/// The container's literal environment plus `POD_NAMESPACE` (a field reference in the manifests).
fn pod_env(container: &Container, namespace: &str) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for var in container.env.clone().unwrap_or_default() {
        match (var.value, var.value_from) {
            (Some(value), _) => env.push((var.name, value)),
            (None, Some(from))
                if from
                    .field_ref
                    .as_ref()
                    .is_some_and(|f| f.field_path == "metadata.namespace") =>
            {
                env.push((var.name, namespace.to_owned()))
            }
            (None, from) => panic!("no test value for env {} ({from:?})", var.name),
        }
    }
    env
}

/// `scripts/image.sh run ROOTFS` with the pod's identity and environment, then `args`.
fn pod_command(
    rootfs: &Path,
    identity: &PodIdentity,
    env: &[(String, String)],
    mounts: &[(PathBuf, &str)],
    args: &[String],
) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/image.sh"))
        .arg("run")
        .arg(rootfs)
        .arg("--ro-bind")
        .arg(&identity.dir)
        .arg(SERVICE_ACCOUNT_DIR);
    for (source, target) in mounts {
        cmd.arg("--ro-bind").arg(source).arg(target);
    }
    let service = [
        ("KUBERNETES_SERVICE_HOST".to_owned(), identity.host.clone()),
        ("KUBERNETES_SERVICE_PORT".to_owned(), identity.port.clone()),
    ];
    for (name, value) in service.iter().chain(env) {
        cmd.arg("--setenv").arg(name).arg(value);
    }
    cmd.arg("--").args(args);
    cmd
}

/// The host PID of the meshctl process below `pid` (bwrap forks, then execs meshctl).
fn meshctl_pid(pid: u32) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut queue = vec![pid];
        while let Some(p) = queue.pop() {
            let comm = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
            if comm.trim() == "meshctl" {
                return p;
            }
            let tasks = std::fs::read_dir(format!("/proc/{p}/task"))
                .into_iter()
                .flatten();
            for task in tasks.flatten() {
                let children =
                    std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
                queue.extend(
                    children
                        .split_whitespace()
                        .filter_map(|c| c.parse::<u32>().ok()),
                );
            }
        }
        assert!(
            Instant::now() < deadline,
            "no meshctl process below pid {pid}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Real, effective, saved and filesystem uid of `pid`, as the kernel sees them.
fn uids(pid: u32) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .expect("a Uid line")
        .split_whitespace()
        .map(|u| u.parse().unwrap())
        .collect()
}

/// SIGTERM to meshctl (PID 1 of its sandbox, as in a container), then its exit status, which must
/// be 0 within the grace period.
fn terminate(process: &mut Running, pid: u32, what: &str) -> Duration {
    let start = Instant::now();
    let target = rustix::process::Pid::from_raw(i32::try_from(pid).unwrap()).unwrap();
    rustix::process::kill_process(target, rustix::process::Signal::TERM)
        .unwrap_or_else(|e| panic!("SIGTERM to the {what} (pid {pid}): {e}"));
    let Some(status) = process.wait_exit(GRACE) else {
        panic!(
            "the {what} still runs {GRACE:?} after SIGTERM; it logged:\n{}",
            process.logs()
        );
    };
    assert!(
        status.success(),
        "the {what} exited with {status} after SIGTERM; it logged:\n{}",
        process.logs()
    );
    process.wait_for_line("shutdown requested", Duration::from_secs(1));
    start.elapsed()
}

#[test]
fn server_and_agent_run_from_the_image_with_their_pods_identity() {
    let test = "server_and_agent_run_from_the_image_with_their_pods_identity";
    let Some(env) = E2eEnv::from_env(test) else {
        return;
    };
    let Some(rootfs) = image_rootfs(test) else {
        return;
    };
    let rt = runtime();
    let mgmt = rt.block_on(env.client(false));
    let remote = rt.block_on(env.client(true));
    let mgmt_ns = format!("e2e-img-mgmt-{:06}", rand::random::<u32>() % 1_000_000);
    let agent_ns = rt.block_on(TestNamespace::create(remote.clone(), "e2e-img-agent"));
    let cluster = format!("img-{:06}", rand::random::<u32>() % 1_000_000);

    // The manifests: CRDs, the license Secret, the server's Deployment, ServiceAccount and RBAC.
    let dir = tempfile::tempdir().unwrap();
    let issuer = TestIssuer::new(dir.path());
    let license = issuer.valid_license("e2e image");
    let installation = Installation::install(&env, &mgmt_ns, &issuer, &license);

    // The management server's pod.
    let (server_container, server_account) =
        rt.block_on(container(&mgmt, &mgmt_ns, "mesh-mgmt-server"));
    let image = server_container.image.clone().unwrap_or_default();
    assert!(
        image.ends_with(&format!(":{}", env!("CARGO_PKG_VERSION"))),
        "the installed image is tagged with this meshctl's version: {image}"
    );
    let server_identity = rt.block_on(env.pod_identity(
        false,
        &mgmt_ns,
        &server_account,
        &dir.path().join("server-serviceaccount"),
    ));
    // Trust in the test's license issuer (the installed server trusts only the built-in keys).
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut server_args = pod_args(&server_container, &mgmt_ns);
    server_args.push(format!("--trusted-issuer={ISSUER_MOUNT}"));
    let mut server_process = Running::start_command(pod_command(
        &rootfs,
        &server_identity,
        &pod_env(&server_container, &mgmt_ns),
        &[(issuer.trust_file.clone(), ISSUER_MOUNT)],
        &server_args,
    ));
    let relay = address_in(&server_process.wait_for_line("relay listening on", WAIT));
    let admin = address_in(&server_process.wait_for_line("admin listening on", WAIT));
    server_process.wait_for_line("management server ready", WAIT);
    let server_pid = meshctl_pid(server_process.pid());
    assert_eq!(
        uids(server_pid),
        vec![IMAGE_UID; 4],
        "the server runs as uid {IMAGE_UID}"
    );
    let mut server = LocalServer {
        process: server_process,
        namespace: mgmt_ns.clone(),
        relay: relay.clone(),
        admin,
    };

    // The real register: token and CA to the workload cluster, the agent's Deployment,
    // ServiceAccount and RBAC there, pointed at the server's relay.
    let mut registration = Registration::new(&env, &mgmt_ns, &agent_ns.name, &cluster);
    registration.register(&relay);

    // The agent's pod.
    let (agent_container, agent_account) =
        rt.block_on(container(&remote, &agent_ns.name, "mesh-agent"));
    assert_eq!(
        agent_container.image, server_container.image,
        "register gives the agent the server's image"
    );
    let agent_identity = rt.block_on(env.pod_identity(
        true,
        &agent_ns.name,
        &agent_account,
        &dir.path().join("agent-serviceaccount"),
    ));
    let agent_process = Running::start_command(pod_command(
        &rootfs,
        &agent_identity,
        &pod_env(&agent_container, &agent_ns.name),
        &[],
        &pod_args(&agent_container, &agent_ns.name),
    ));
    let mut agent = LocalAgent {
        process: agent_process,
        cluster: cluster.clone(),
        namespace: agent_ns.name.clone(),
        admin: String::new(),
    };
    agent.admin = address_in(
        &agent
            .process
            .wait_for_line("agent admin listening on", WAIT),
    );
    let agent_pid = meshctl_pid(agent.process.pid());
    assert_eq!(
        uids(agent_pid),
        vec![IMAGE_UID; 4],
        "the agent runs as uid {IMAGE_UID}"
    );

    // Connected through the relay, with a snapshot of the workload cluster (read with the agent's
    // RBAC).
    let row = wait_connected(&env, &mut server, &mut agent);
    eprintln!("connected: {row}");
    assert_eq!(row["agent_version"], env!("CARGO_PKG_VERSION"), "{row}");

    // Graceful shutdown, both roles: the server with the agent's stream open, then the agent
    // (reconnecting by then).
    let took = terminate(&mut server.process, server_pid, "management server");
    eprintln!("management server: SIGTERM -> exit 0 in {took:?}");
    let took = terminate(&mut agent.process, agent_pid, "agent");
    eprintln!("agent: SIGTERM -> exit 0 in {took:?}");

    drop(registration);
    drop(installation);
    drop(agent_ns);
}
