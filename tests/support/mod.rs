//! Shared helpers for integration tests: meshctl processes that are killed when the
//! test ends, and the end-to-end environment (`MESHCTL_E2E_KUBECONFIG`).
//!
//! Include with `mod support;` from a test file; not every test uses every helper.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr
)]

pub mod mesh;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The meshctl binary under test.
pub fn meshctl_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_meshctl"))
}

/// A running meshctl process; killed and reaped when dropped, so no test leaves one behind.
pub struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    /// Starts `meshctl ARGS`, collecting its stderr (logs) line by line.
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(meshctl_bin());
        // Nothing from the caller's environment changes the process (the state backend, the
        // namespace, the license); `envs` sets what a test wants.
        for var in mesh::MESHCTL_ENV {
            cmd.env_remove(var);
        }
        cmd.args(args).env("NO_COLOR", "1");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        Self::start_command(cmd)
    }

    /// Starts `cmd` (e.g. meshctl inside a sandbox), collecting its stderr line by line.
    pub fn start_command(mut cmd: Command) -> Self {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start meshctl");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = mpsc::sync_channel(10_000);
        // Never blocks on a full queue (nobody reads the lines between two waits): a blocked
        // reader would fill the pipe and then block the process itself on its next log line.
        // Lines beyond the bound are dropped, and the drop is said once.
        std::thread::spawn(move || {
            let mut dropped = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                match tx.try_send(line) {
                    Ok(()) => dropped = false,
                    Err(mpsc::TrySendError::Full(_)) if !dropped => {
                        dropped = true;
                        let _ = tx.try_send("[test support: log lines dropped]".to_owned());
                    }
                    Err(mpsc::TrySendError::Full(_)) => {}
                    Err(mpsc::TrySendError::Disconnected(_)) => break,
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits until a log line contains `needle`, and returns it; panics with everything
    /// the process logged when it does not appear within `timeout`.
    pub fn wait_for_line(&mut self, needle: &str, timeout: Duration) -> String {
        if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no log line containing {needle:?} within {timeout:?}; the process logged:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Everything logged so far.
    pub fn logs(&mut self) -> String {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `timeout` for the process to exit; `None` when it still runs.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the process") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the process now.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where the end-to-end tests find their Kubernetes API server.
#[derive(Debug, Clone)]
pub struct E2eEnv {
    pub kubeconfig: PathBuf,
    pub mgmt_context: Option<String>,
    pub remote_context: Option<String>,
}

impl E2eEnv {
    /// The environment, or `None` after printing why the test is skipped.
    pub fn from_env(test: &str) -> Option<Self> {
        let Some(kubeconfig) = std::env::var_os("MESHCTL_E2E_KUBECONFIG") else {
            // Under CI the e2e tier must run: .ci/run brings the control plane up and exports
            // the variable, so its absence there is a broken pipeline, not a reason to skip.
            if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0") {
                panic!(
                    "{test}: MESHCTL_E2E_KUBECONFIG is unset under CI; .ci/run starts the control \
                     plane with scripts/e2e-cluster.sh up and exports it (an e2e test never skips in CI)"
                );
            }
            eprintln!(
                "skipped {test}: MESHCTL_E2E_KUBECONFIG is unset (set it to a kubeconfig of a test API server)"
            );
            return None;
        };
        let context = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Some(Self {
            kubeconfig: kubeconfig.into(),
            mgmt_context: context("MESHCTL_E2E_MGMT_CONTEXT"),
            remote_context: context("MESHCTL_E2E_REMOTE_CONTEXT"),
        })
    }

    /// The kubeconfig file, parsed.
    pub fn kubeconfig_file(&self) -> kube::config::Kubeconfig {
        let text = std::fs::read_to_string(&self.kubeconfig).expect("read MESHCTL_E2E_KUBECONFIG");
        kube::config::Kubeconfig::from_yaml(&text).expect("parse kubeconfig")
    }

    /// `--kubeconfig K [--context C]` for the management cluster.
    pub fn mgmt_args(&self) -> Vec<String> {
        self.args(self.mgmt_context.as_deref())
    }

    /// `--kubeconfig K [--context C]` for the workload cluster.
    pub fn remote_args(&self) -> Vec<String> {
        self.args(self.remote_context.as_deref())
    }

    fn args(&self, context: Option<&str>) -> Vec<String> {
        let mut args = vec![
            "--kubeconfig".to_string(),
            self.kubeconfig.display().to_string(),
        ];
        if let Some(c) = context {
            args.push("--context".into());
            args.push(c.into());
        }
        args
    }

    /// The name of the workload cluster's context, as `--remote-context` takes it:
    /// `MESHCTL_E2E_REMOTE_CONTEXT`, else the kubeconfig's current context.
    pub fn remote_context_name(&self) -> String {
        if let Some(c) = &self.remote_context {
            return c.clone();
        }
        let kubeconfig = self.kubeconfig_file();
        kubeconfig
            .current_context
            .expect("MESHCTL_E2E_KUBECONFIG has no current-context: set MESHCTL_E2E_REMOTE_CONTEXT")
    }

    /// A kube client for the management (or, with `remote`, the workload) context.
    pub async fn client(&self, remote: bool) -> kube::Client {
        let kubeconfig = self.kubeconfig_file();
        let context = if remote {
            self.remote_context.clone()
        } else {
            self.mgmt_context.clone()
        };
        let options = kube::config::KubeConfigOptions {
            context,
            ..Default::default()
        };
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .expect("kube config");
        kube::Client::try_from(config).expect("kube client")
    }
}

/// A namespace unique to one test, deleted (with everything in it) when dropped. The client must
/// come from a multi-thread runtime: its request worker has to run while `drop` blocks.
pub struct TestNamespace {
    pub name: String,
    client: kube::Client,
}

impl TestNamespace {
    pub async fn create(client: kube::Client, prefix: &str) -> Self {
        use k8s_openapi::api::core::v1::Namespace;
        let suffix: u32 = rand::random::<u32>() % 1_000_000;
        let name = format!("{prefix}-{suffix:06}");
        let api: kube::Api<Namespace> = kube::Api::all(client.clone());
        let ns: Namespace = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "labels": {"meshctl.dev/e2e": "true"}}
        }))
        .unwrap();
        api.create(&Default::default(), &ns)
            .await
            .expect("create test namespace");
        Self { name, client }
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let client = self.client.clone();
        let name = self.name.clone();
        on_own_runtime(async move { delete_namespace(client, &name).await });
    }
}

/// Runs `work` to completion on a thread with its own runtime and returns its output: for
/// `Drop`, which may run inside a test's runtime, where `block_on` would panic.
pub fn on_own_runtime<F>(work: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(work)
    })
    .join()
    .expect("the cleanup thread panicked")
}

/// Deletes namespace `name` (within 30 s), saying so on stderr when that fails. A namespace
/// already being deleted answers 409, which is no failure.
pub async fn delete_namespace(client: kube::Client, name: &str) {
    use k8s_openapi::api::core::v1::Namespace;
    let api: kube::Api<Namespace> = kube::Api::all(client);
    let params = kube::api::DeleteParams::default();
    match tokio::time::timeout(Duration::from_secs(30), api.delete(name, &params)).await {
        Ok(Ok(_)) => {}
        Ok(Err(kube::Error::Api(e))) if e.code == 409 => {}
        Ok(Err(e)) => eprintln!(
            "note: deleting namespace {name} failed: {e} (was the runtime of its kube client \
             dropped before it?)"
        ),
        Err(_) => eprintln!(
            "note: namespace {name} was not deleted within 30 s (a kube client made on a \
             current-thread runtime cannot answer while its thread drops this)"
        ),
    }
}

/// `--trusted-issuer FILE --key-file FILE` for a fresh test issuer and a valid 30-day Mesh
/// license for `licensee` (installing the management server needs one). The files live in `dir`.
pub fn license_args(dir: &tempfile::TempDir, licensee: &str) -> Vec<String> {
    use meshctl::license::{IssuerKeyPair, LicenseRequest, LicenseType, Product, issue};
    let pair = IssuerKeyPair::generate();
    let now = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second()).unwrap();
    let key = issue(
        &LicenseRequest {
            issuer: "e2e".into(),
            licensee: licensee.into(),
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
    let trust = dir.path().join("issuer.pub.pem");
    let key_file = dir.path().join("e2e.license");
    std::fs::write(&trust, pair.public_key().to_spki_pem().unwrap()).unwrap();
    std::fs::write(&key_file, key).unwrap();
    vec![
        "--trusted-issuer".into(),
        trust.display().to_string(),
        "--key-file".into(),
        key_file.display().to_string(),
    ]
}

impl E2eEnv {
    /// A token of ServiceAccount `namespace/name` of the management (or, with `remote`, the
    /// workload) cluster from the TokenRequest API, valid for one hour.
    pub async fn service_account_token(&self, remote: bool, namespace: &str, name: &str) -> String {
        use k8s_openapi::api::authentication::v1::TokenRequest;
        use k8s_openapi::api::core::v1::ServiceAccount;
        let client = self.client(remote).await;
        let api: kube::Api<ServiceAccount> = kube::Api::namespaced(client, namespace);
        let request: TokenRequest = serde_json::from_value(serde_json::json!({
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"audiences": [], "expirationSeconds": 3600}
        }))
        .unwrap();
        let issued: TokenRequest = api
            .create_subresource("token", name, &Default::default(), &request)
            .await
            .unwrap_or_else(|e| panic!("TokenRequest for ServiceAccount {namespace}/{name}: {e}"));
        issued
            .status
            .and_then(|s| s.token)
            .expect("a token in the TokenRequest status")
    }

    /// The name and the entry of the management (or, with `remote`, the workload) context's
    /// cluster in the kubeconfig.
    pub fn cluster_entry(&self, remote: bool) -> (String, kube::config::Cluster) {
        let admin = self.kubeconfig_file();
        let context_name = if remote {
            self.remote_context.clone()
        } else {
            self.mgmt_context.clone()
        }
        .or(admin.current_context.clone())
        .expect("a context");
        let cluster_name = admin
            .contexts
            .iter()
            .find(|c| c.name == context_name)
            .and_then(|c| c.context.as_ref())
            .map(|c| c.cluster.clone())
            .expect("the context's cluster");
        let cluster = admin
            .clusters
            .iter()
            .find(|c| c.name == cluster_name)
            .and_then(|c| c.cluster.clone())
            .expect("the context's cluster entry");
        (cluster_name, cluster)
    }

    /// What the kubelet gives a pod of ServiceAccount `namespace/name`: the files of the
    /// `kube-api-access` volume (`token` from the TokenRequest API, the cluster's `ca.crt`,
    /// `namespace`) written into `dir` (readable by every user: the pod's runs as 65532), and
    /// `KUBERNETES_SERVICE_HOST`/`_PORT` naming the API server.
    pub async fn pod_identity(
        &self,
        remote: bool,
        namespace: &str,
        name: &str,
        dir: &std::path::Path,
    ) -> PodIdentity {
        use base64::Engine as _;
        use std::os::unix::fs::PermissionsExt;
        let token = self.service_account_token(remote, namespace, name).await;
        let (_, cluster) = self.cluster_entry(remote);
        let ca = match (
            &cluster.certificate_authority_data,
            &cluster.certificate_authority,
        ) {
            (Some(data), _) => base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .expect("certificate-authority-data is base64"),
            (None, Some(file)) => std::fs::read(file).expect("read certificate-authority"),
            (None, None) => panic!("the kubeconfig's cluster has no certificate authority"),
        };
        let server: http::Uri = cluster
            .server
            .as_deref()
            .expect("the cluster's server")
            .parse()
            .expect("the cluster's server is a URL");
        let host = server.host().expect("a host in the server URL").to_owned();
        let port = server.port_u16().unwrap_or(443).to_string();
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("token"), token).unwrap();
        std::fs::write(dir.join("ca.crt"), ca).unwrap();
        std::fs::write(dir.join("namespace"), namespace).unwrap();
        for file in ["token", "ca.crt", "namespace"] {
            std::fs::set_permissions(dir.join(file), std::fs::Permissions::from_mode(0o644))
                .unwrap();
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        PodIdentity {
            dir: dir.to_path_buf(),
            host,
            port,
        }
    }

    /// An environment whose every context is ServiceAccount `namespace/name` of the management
    /// (or, with `remote`, the workload) cluster: a token from the TokenRequest API (one hour),
    /// the cluster's server and CA, written as a kubeconfig into `dir`. What a pod of that
    /// ServiceAccount gets, so a process run with it has exactly the RBAC of the manifests.
    pub async fn as_service_account(
        &self,
        remote: bool,
        namespace: &str,
        name: &str,
        dir: &std::path::Path,
    ) -> E2eEnv {
        let token = self.service_account_token(remote, namespace, name).await;
        let (cluster_name, cluster) = self.cluster_entry(remote);
        let context = format!("sa-{name}");
        let kubeconfig = serde_json::json!({
            "apiVersion": "v1", "kind": "Config", "current-context": context,
            "clusters": [{"name": cluster_name, "cluster": {
                "server": cluster.server,
                "certificate-authority-data": cluster.certificate_authority_data,
            }}],
            "users": [{"name": context, "user": {"token": token}}],
            "contexts": [{"name": context, "context": {"cluster": cluster_name, "user": context}}],
        });
        let path = dir.join(format!(
            "{context}-{}.kubeconfig",
            if remote { "remote" } else { "mgmt" }
        ));
        std::fs::write(&path, serde_json::to_vec_pretty(&kubeconfig).unwrap()).unwrap();
        E2eEnv {
            kubeconfig: path,
            mgmt_context: Some(context.clone()),
            remote_context: Some(context),
        }
    }
}

/// A pod's view of its ServiceAccount: the directory to mount at
/// `/var/run/secrets/kubernetes.io/serviceaccount` and the API server's address.
#[derive(Debug, Clone)]
pub struct PodIdentity {
    pub dir: PathBuf,
    /// `KUBERNETES_SERVICE_HOST`.
    pub host: String,
    /// `KUBERNETES_SERVICE_PORT`.
    pub port: String,
}

/// The Deployments of `namespace` matching `selector` whose rollout is not complete, as (name, why):
/// the Deployment controller has not observed the latest generation, or fewer replicas than wanted
/// are updated, ready or available (pods become Ready through kwok; no container runs).
pub async fn rollout_pending(
    client: &kube::Client,
    namespace: &str,
    selector: &str,
) -> Vec<(String, String)> {
    use k8s_openapi::api::apps::v1::Deployment;
    let api: kube::Api<Deployment> = kube::Api::namespaced(client.clone(), namespace);
    api.list(&kube::api::ListParams::default().labels(selector))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|d| {
            let want = d.spec.replicas.unwrap_or(1);
            let status = d.status.clone().unwrap_or_default();
            let updated = status.updated_replicas.unwrap_or(0);
            let ready = status.ready_replicas.unwrap_or(0);
            let available = status.available_replicas.unwrap_or(0);
            (status.observed_generation < d.metadata.generation
                || updated < want
                || ready < want
                || available < want)
                .then(|| {
                    (
                        d.metadata.name.clone().unwrap_or_default(),
                        format!("{available}/{want} available, {ready} ready, {updated} updated"),
                    )
                })
        })
        .collect()
}
