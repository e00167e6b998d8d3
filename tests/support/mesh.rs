//! The platform run locally against the e2e clusters (`MESHCTL_E2E_KUBECONFIG`, from
//! scripts/e2e-cluster.sh): their pods become Ready through kwok but no container runs, so
//! `meshctl serve mgmt-server` and `meshctl serve agent` run here as processes with the kubeconfig, exactly as the installed Deployments would run them
//! (templates/mgmt-server/deployment.yaml.tera, templates/agent/deployment.yaml.tera), except that
//! they listen on 127.0.0.1 port 0 and the bound addresses are read from their logs.
//!
//! The usual sequence:
//! 1. [`Installation::install`]: `meshctl install --wait=false` with a test license: CRDs
//!    (Established), the license Secret, the server Deployment (its pod becomes Ready through kwok;
//!    no container runs) and its Services. `cluster register` needs that Deployment.
//! 2. [`LocalServer::start`] with [`ServerOptions::installed`]: the server creates the relay PKI
//!    Secrets (`relay-root-tls-secret`, ...) in the namespace.
//! 3. [`Registration::register`]: the real `meshctl cluster register NAME --wait=false
//!    --relay-address <the local relay>` (the API server's LoadBalancer never gets an address).
//! 4. [`LocalAgent::start`]: the agent with the Secrets register copied (token
//!    `relay-identity-token`, `ca.crt` of `relay-root-tls-secret`) in the agent namespace.
//! 5. [`wait_connected`]: polls `meshctl cluster list --mgmt-admin-address ADDR -o json`.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{E2eEnv, Running, meshctl_bin};

/// How long the helpers wait for a process or a state by default.
pub const WAIT: Duration = Duration::from_secs(90);

/// Environment variables meshctl reads that must not leak from the caller's environment into a
/// test's meshctl (they would change namespaces, licenses, trust or the server's state backend).
pub const MESHCTL_ENV: [&str; 9] = [
    "RUST_LOG",
    "MESHCTL_NAMESPACE",
    "MESHCTL_LICENSE_KEY",
    "MESHCTL_TRUSTED_ISSUERS",
    "MESHCTL_STATE_DIR",
    "MESHCTL_CLUSTER",
    "MESHCTL_RELAY_TOKEN",
    "MESHCTL_AGENT_STATE_DIR",
    "MESHCTL_REDIS_URL",
];

/// `meshctl --kubeconfig K [--context C] -n NAMESPACE ARGS` against the management cluster
/// (`remote`: the workload cluster), with a clean environment and no colour; not started yet.
fn meshctl_command<S: AsRef<OsStr>>(
    env: &E2eEnv,
    remote: bool,
    namespace: &str,
    args: &[S],
) -> Command {
    let kube = if remote {
        env.remote_args()
    } else {
        env.mgmt_args()
    };
    let mut cmd = Command::new(meshctl_bin());
    for var in MESHCTL_ENV {
        cmd.env_remove(var);
    }
    // The kubeconfig is always given with --kubeconfig.
    cmd.env_remove("KUBECONFIG");
    cmd.args(kube)
        .args(["-n", namespace])
        .args(args)
        .env("NO_COLOR", "1")
        .env("CI", "1");
    cmd
}

/// [`meshctl_command`] run to completion.
pub fn meshctl<S: AsRef<OsStr>>(env: &E2eEnv, remote: bool, namespace: &str, args: &[S]) -> Output {
    meshctl_command(env, remote, namespace, args)
        .output()
        .expect("run meshctl")
}

/// A meshctl command running in the background with stdout and stderr captured (keep its output
/// small: nothing reads the pipes before [`Background::wait`]); killed when dropped unfinished.
pub struct Background {
    child: Option<std::process::Child>,
}

impl Background {
    /// Waits for the command and returns its output.
    pub fn wait(mut self) -> Output {
        self.child
            .take()
            .expect("not waited for yet")
            .wait_with_output()
            .expect("wait for meshctl")
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Like [`meshctl`], but returns at once with the command running.
pub fn meshctl_background<S: AsRef<OsStr>>(
    env: &E2eEnv,
    remote: bool,
    namespace: &str,
    args: &[S],
) -> Background {
    let mut cmd = meshctl_command(env, remote, namespace, args);
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    Background {
        child: Some(cmd.spawn().expect("start meshctl")),
    }
}

/// The stdout of a successful run; panics with both streams otherwise.
pub fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "meshctl failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8 stdout")
}

/// The JSON stdout of a successful run.
pub fn ok_json(output: Output) -> Value {
    let text = ok(output);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// `--mgmt-context C --remote-context C` as the environment names them (multi-cluster commands).
/// `--self` when the management and the workload context name the same cluster (register
/// refuses that otherwise); nothing for two clusters, as an operator registers one.
pub fn self_flag(env: &E2eEnv) -> Option<String> {
    let same = match (&env.mgmt_context, &env.remote_context) {
        (_, None) => true,
        (Some(m), Some(r)) => m == r,
        (None, Some(_)) => false,
    };
    same.then(|| "--self".to_owned())
}

pub fn context_args(env: &E2eEnv) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(c) = &env.mgmt_context {
        args.extend(["--mgmt-context".to_owned(), c.clone()]);
    }
    if let Some(c) = &env.remote_context {
        args.extend(["--remote-context".to_owned(), c.clone()]);
    }
    args
}

/// The address after `listening on ` in a log line (`relay listening on 127.0.0.1:40123
/// address=...`, logged by src/server/run.rs and src/agent/run.rs).
pub fn address_in(line: &str) -> String {
    line.split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address after 'listening on' in {line:?}"))
        .to_string()
}

/// Polls `f` every 500 ms until it returns `Some`; panics with `what` and the processes' logs
/// after `timeout`.
pub fn wait_until<T>(
    what: &str,
    timeout: Duration,
    procs: &mut [&mut Running],
    mut f: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() >= deadline {
            let logs: Vec<String> = procs.iter_mut().map(|p| p.logs()).collect();
            panic!(
                "timed out after {timeout:?} waiting for {what}; logs:\n{}",
                logs.join("\n-----\n")
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A test license issuer: its public key file (for `--trusted-issuer`) and the keys it signs.
pub struct TestIssuer {
    pair: meshctl::license::IssuerKeyPair,
    dir: PathBuf,
    /// The issuer's public key (SPKI PEM).
    pub trust_file: PathBuf,
}

impl TestIssuer {
    /// A fresh issuer whose files live in `dir`.
    pub fn new(dir: &Path) -> Self {
        let pair = meshctl::license::IssuerKeyPair::generate();
        let trust_file = dir.join("e2e-issuer.pub.pem");
        std::fs::write(&trust_file, pair.public_key().to_spki_pem().unwrap()).unwrap();
        Self {
            pair,
            dir: dir.to_path_buf(),
            trust_file,
        }
    }

    /// A Mesh trial license for `licensee` issued `issued_ago` ago and valid until `expires_in`
    /// from now (negative: expired), written to `DIR/<file>`; returns (path, key).
    pub fn license(
        &self,
        licensee: &str,
        file: &str,
        issued_ago: jiff::SignedDuration,
        expires_in: jiff::SignedDuration,
    ) -> (PathBuf, String) {
        self.license_for(
            licensee,
            file,
            issued_ago,
            expires_in,
            vec![meshctl::license::Product::Mesh],
        )
    }

    /// [`TestIssuer::license`] for `products`.
    pub fn license_for(
        &self,
        licensee: &str,
        file: &str,
        issued_ago: jiff::SignedDuration,
        expires_in: jiff::SignedDuration,
        products: Vec<meshctl::license::Product>,
    ) -> (PathBuf, String) {
        use meshctl::license::{LicenseRequest, LicenseType, issue};
        let now = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second()).unwrap();
        let key = issue(
            &LicenseRequest {
                issuer: "e2e".into(),
                licensee: licensee.into(),
                license_type: LicenseType::Trial,
                products,
                modules: vec![],
                max_clusters: Some(5),
                issued_at: now.checked_sub(issued_ago).unwrap(),
                expires_at: now.checked_add(expires_in).unwrap(),
            },
            &self.pair,
        )
        .unwrap();
        let path = self.dir.join(file);
        std::fs::write(&path, &key).unwrap();
        (path, key)
    }

    /// A license valid for a year (the check's license warning starts 30 days before expiry).
    pub fn valid_license(&self, licensee: &str) -> PathBuf {
        self.license(
            licensee,
            "e2e-valid.license",
            jiff::SignedDuration::from_hours(1),
            jiff::SignedDuration::from_hours(24 * 365),
        )
        .0
    }
}

/// `meshctl install --wait=false` (mgmt profile) into a namespace with a license; when dropped,
/// runs `meshctl uninstall` (without --purge: the CRDs stay, shared with other tests; install
/// waits until they are Established) and then deletes the namespace, which stays Terminating on
/// an API server without a namespace controller (nothing waits for it). Its Secrets (license,
/// relay PKI) stay inside; nothing on the server counts a Terminating namespace as an
/// installation.
pub struct Installation {
    env: E2eEnv,
    pub namespace: String,
}

impl Installation {
    /// Installs into `namespace` (created by install when absent) with `license` from `issuer`.
    pub fn install(env: &E2eEnv, namespace: &str, issuer: &TestIssuer, license: &Path) -> Self {
        let installation = Self {
            env: env.clone(),
            namespace: namespace.to_owned(),
        };
        let trust = issuer.trust_file.display().to_string();
        let key = license.display().to_string();
        ok(meshctl(
            env,
            false,
            namespace,
            &[
                "install",
                "--wait=false",
                "--trusted-issuer",
                &trust,
                "--key-file",
                &key,
            ],
        ));
        installation
    }
}

impl Drop for Installation {
    fn drop(&mut self) {
        let out = meshctl(
            &self.env,
            false,
            &self.namespace,
            &["uninstall", "--yes", "--timeout", "60s"],
        );
        if !out.status.success() {
            eprintln!(
                "note: uninstall from {} failed ({:?}): {}",
                self.namespace,
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let env = self.env.clone();
        let name = self.namespace.clone();
        super::on_own_runtime(async move {
            super::delete_namespace(env.client(false).await, &name).await;
        });
    }
}

/// Where a [`LocalServer`] reads its license.
#[derive(Debug, Clone)]
pub enum LicenseLocation {
    /// None (`MESHCTL_LICENSE_KEY` is removed from its environment).
    None,
    /// `--license-secret NAME --license-secret-key KEY` in the server's namespace.
    Secret { name: String, key: String },
    /// `--license-file PATH`.
    File(PathBuf),
}

/// How a [`LocalServer`] runs, beyond the kube backend and the loopback listeners.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub license: LicenseLocation,
    /// `--trusted-issuer FILE` (repeated).
    pub trusted_issuers: Vec<PathBuf>,
    /// `--kubernetes`: translate the platform resources of the namespace.
    pub kubernetes: bool,
    /// `--config-dir PATH` (conflicts with `kubernetes` and `raw_config_dir`).
    pub config_dir: Option<PathBuf>,
    /// `--raw-config-dir PATH`.
    pub raw_config_dir: Option<PathBuf>,
    /// Anything else, verbatim.
    pub extra_args: Vec<String>,
}

impl Default for ServerOptions {
    /// The relay alone: no translation, no license.
    fn default() -> Self {
        Self {
            license: LicenseLocation::None,
            trusted_issuers: Vec::new(),
            kubernetes: false,
            config_dir: None,
            raw_config_dir: None,
            extra_args: Vec::new(),
        }
    }
}

impl ServerOptions {
    /// As the installed Deployment runs it: `--kubernetes --license-secret=meshctl-license
    /// --license-secret-key=license-key`, plus trust in the test issuer.
    pub fn installed(trusted_issuer: &Path) -> Self {
        Self {
            license: LicenseLocation::Secret {
                name: meshctl::license::LICENSE_SECRET_NAME.into(),
                key: meshctl::license::LICENSE_SECRET_KEY.into(),
            },
            trusted_issuers: vec![trusted_issuer.to_path_buf()],
            kubernetes: true,
            ..Self::default()
        }
    }
}

/// `meshctl serve mgmt-server` for a namespace, in Kubernetes mode (no `--state-dir`: relay PKI
/// and tokens in Secrets of the namespace, relay state in the KubernetesClusters' status), relay
/// and admin on 127.0.0.1 port 0. Killed when dropped.
pub struct LocalServer {
    pub process: Running,
    pub namespace: String,
    /// The bound relay address (`127.0.0.1:PORT`), what agents and `--relay-address` use.
    pub relay: String,
    /// The bound admin address, for `--mgmt-admin-address`.
    pub admin: String,
}

impl LocalServer {
    /// Starts the server and waits until it logged "management server ready" (the relay PKI
    /// Secrets exist then).
    pub fn start(env: &E2eEnv, namespace: &str, options: &ServerOptions) -> Self {
        let mut args = env.mgmt_args();
        args.extend(
            [
                "-n",
                namespace,
                "serve",
                "mgmt-server",
                "--relay-listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
            ]
            .map(String::from),
        );
        if options.kubernetes {
            args.push("--kubernetes".into());
        }
        match &options.license {
            LicenseLocation::None => {}
            LicenseLocation::Secret { name, key } => {
                args.extend([
                    "--license-secret".into(),
                    name.clone(),
                    "--license-secret-key".into(),
                    key.clone(),
                ]);
            }
            LicenseLocation::File(path) => {
                args.extend(["--license-file".into(), path.display().to_string()]);
            }
        }
        for issuer in &options.trusted_issuers {
            args.extend(["--trusted-issuer".into(), issuer.display().to_string()]);
        }
        if let Some(dir) = &options.config_dir {
            args.extend(["--config-dir".into(), dir.display().to_string()]);
        }
        if let Some(dir) = &options.raw_config_dir {
            args.extend(["--raw-config-dir".into(), dir.display().to_string()]);
        }
        args.extend(options.extra_args.iter().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut process = Running::start(&args, &[]);
        let relay = address_in(&process.wait_for_line("relay listening on", WAIT));
        let admin = address_in(&process.wait_for_line("admin listening on", WAIT));
        process.wait_for_line("management server ready", WAIT);
        Self {
            process,
            namespace: namespace.to_owned(),
            relay,
            admin,
        }
    }

    pub fn stop(&mut self) {
        self.process.stop();
    }
}

/// How a [`LocalAgent`] runs.
#[derive(Debug, Clone, Default)]
pub struct AgentOptions {
    /// `--source`; `None`: `kube:<agent namespace>` (only the test's namespace: the shared API
    /// server holds other tests' objects). `Some("kube")` watches the whole cluster as the
    /// installed agent does.
    pub source: Option<String>,
    /// `--sink`; `None`: `kube` (server-side apply, as installed).
    pub sink: Option<String>,
    /// Anything else, verbatim.
    pub extra_args: Vec<String>,
}

/// `meshctl serve agent` as the installed Deployment runs it (`--namespace`, `--cluster`,
/// `--relay-address`, `--token-secret=relay-identity-token`, and by default the CA from `ca.crt`
/// of Secret `relay-root-tls-secret` and its certificate in Secret `relay-client-tls-secret`, all
/// in the agent namespace), with the kubeconfig of the workload context and its admin endpoint on
/// 127.0.0.1 port 0. Killed when dropped.
pub struct LocalAgent {
    pub process: Running,
    pub cluster: String,
    pub namespace: String,
    /// The bound admin address.
    pub admin: String,
}

impl LocalAgent {
    /// Starts the agent and waits until its admin endpoint listens (it then bootstraps and
    /// connects in the background: use [`wait_connected`]).
    pub fn start(
        env: &E2eEnv,
        namespace: &str,
        cluster: &str,
        relay_address: &str,
        options: &AgentOptions,
    ) -> Self {
        let mut args = env.remote_args();
        args.extend([
            "serve".to_owned(),
            "agent".to_owned(),
            format!("--namespace={namespace}"),
            format!("--cluster={cluster}"),
            format!("--relay-address={relay_address}"),
            "--token-secret=relay-identity-token".to_owned(),
            "--admin-listen=127.0.0.1:0".to_owned(),
            "--source".to_owned(),
            options
                .source
                .clone()
                .unwrap_or_else(|| format!("kube:{namespace}")),
            "--sink".to_owned(),
            options.sink.clone().unwrap_or_else(|| "kube".to_owned()),
        ]);
        args.extend(options.extra_args.iter().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut process = Running::start(&args, &[]);
        let admin = address_in(&process.wait_for_line("agent admin listening on", WAIT));
        Self {
            process,
            cluster: cluster.to_owned(),
            namespace: namespace.to_owned(),
            admin,
        }
    }

    pub fn stop(&mut self) {
        self.process.stop();
    }
}

/// Serialises registrations against one API server between the test threads and processes of
/// this machine: `cluster register` refuses to register a workload cluster that holds another
/// cluster's `relay-identity-token` Secret in any namespace (src/cluster/preflight.rs
/// `not_registered_as_other`), and with one API server playing every workload cluster, two
/// tests registering different names at once would trip it. A lock file (created exclusively,
/// holding the owner's pid; a dead owner's file is taken over), removed when dropped.
pub struct RegistrationLock {
    path: PathBuf,
}

impl RegistrationLock {
    pub fn acquire(env: &E2eEnv) -> Self {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        env.kubeconfig.hash(&mut hasher);
        env.remote_context.hash(&mut hasher);
        let path = std::env::temp_dir().join(format!(
            "meshctl-e2e-register-{:016x}.lock",
            hasher.finish()
        ));
        // Five registering tests (e2e_check_mesh x3, e2e_cluster, e2e_translate) may queue here
        // (one process per test under nextest), each holding the lock for minutes on a slow API
        // server: 10 minutes could run out while every holder makes progress.
        let deadline = Instant::now() + Duration::from_secs(30 * 60);
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    use std::io::Write;
                    file.write_all(std::process::id().to_string().as_bytes())
                        .unwrap();
                    return Self { path };
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let owner = std::fs::read_to_string(&path).unwrap_or_default();
                    let alive = owner.trim().parse::<u32>().ok().is_none_or(|pid| {
                        pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists()
                    });
                    if !alive && !owner.trim().is_empty() {
                        let _ = std::fs::remove_file(&path);
                        continue;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "registration lock {} still held by pid {owner} after 30 minutes",
                        path.display()
                    );
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("cannot create {}: {e}", path.display()),
            }
        }
    }
}

impl Drop for RegistrationLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A workload cluster registered with the real `meshctl cluster register`; deregistered (real
/// `meshctl cluster deregister`) when dropped if it still is, so no labelled token Secret is left
/// behind in a namespace that never finishes deleting.
pub struct Registration {
    env: E2eEnv,
    pub cluster: String,
    pub mgmt_namespace: String,
    pub agent_namespace: String,
    registered: bool,
    _lock: RegistrationLock,
}

impl Registration {
    /// Takes the [`RegistrationLock`] and clears what dead runs left behind (see
    /// [`retire_stale_registrations`]); registers nothing yet.
    pub fn new(env: &E2eEnv, mgmt_namespace: &str, agent_namespace: &str, cluster: &str) -> Self {
        let lock = RegistrationLock::acquire(env);
        retire_stale_registrations(env, agent_namespace);
        Self {
            env: env.clone(),
            cluster: cluster.to_owned(),
            mgmt_namespace: mgmt_namespace.to_owned(),
            agent_namespace: agent_namespace.to_owned(),
            registered: false,
            _lock: lock,
        }
    }

    /// `meshctl cluster register NAME --wait=false --relay-address RELAY --set
    /// namespace=AGENT_NS -o json` (with the environment's contexts, and `--self` when both name
    /// one cluster); returns the summary. The relay address is the local
    /// server's: the API server's LoadBalancer Service never gets an address.
    pub fn register(&mut self, relay_address: &str) -> Value {
        let mut args = vec![
            "cluster".to_owned(),
            "register".to_owned(),
            self.cluster.clone(),
            "--wait=false".to_owned(),
            "--relay-address".to_owned(),
            relay_address.to_owned(),
            "--set".to_owned(),
            format!("namespace={}", self.agent_namespace),
            "-o".to_owned(),
            "json".to_owned(),
        ];
        args.extend(context_args(&self.env));
        args.extend(self_flag(&self.env));
        self.registered = true;
        ok_json(meshctl(&self.env, false, &self.mgmt_namespace, &args))
    }

    /// `meshctl cluster register NAME [--self] --relay-address RELAY --set namespace=AGENT_NS -o
    /// json EXTRA...` in the background, e.g. with `--wait --mgmt-admin-address ADMIN` to wait
    /// (as register does by default) until the agent, started by the test once register wrote
    /// its Secrets and Deployment, is connected.
    pub fn start_register(&mut self, relay_address: &str, extra: &[&str]) -> Background {
        let mut args = vec![
            "cluster".to_owned(),
            "register".to_owned(),
            self.cluster.clone(),
            "--relay-address".to_owned(),
            relay_address.to_owned(),
            "--set".to_owned(),
            format!("namespace={}", self.agent_namespace),
            "-o".to_owned(),
            "json".to_owned(),
        ];
        args.extend(context_args(&self.env));
        args.extend(self_flag(&self.env));
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        self.registered = true;
        meshctl_background(&self.env, false, &self.mgmt_namespace, &args)
    }

    /// `meshctl cluster deregister NAME -o json`; returns the report.
    pub fn deregister(&mut self) -> Value {
        let report = ok_json(meshctl(
            &self.env,
            false,
            &self.mgmt_namespace,
            &self.deregister_args(),
        ));
        self.registered = false;
        report
    }

    fn deregister_args(&self) -> Vec<String> {
        let mut args = vec![
            "cluster".to_owned(),
            "deregister".to_owned(),
            self.cluster.clone(),
            "-o".to_owned(),
            "json".to_owned(),
        ];
        args.extend(context_args(&self.env));
        args
    }
}

/// Deletes the e2e test namespaces (label `meshctl.dev/e2e=true`, made by `TestNamespace`) of
/// the workload cluster that still hold a `relay-identity-token` Secret labelled for a cluster:
/// every registration of these tests holds the [`RegistrationLock`] until it is deregistered, so
/// with the lock held such a Secret belongs to a run that died before its cleanup (killed by a
/// harness timeout, say). Left alone, it would make every later `cluster register` on this API
/// server fail ("registered as another cluster"); in a namespace being deleted it no longer
/// counts (src/cluster/preflight.rs `not_registered_as_other`). Best effort: failures are printed.
pub fn retire_stale_registrations(env: &E2eEnv, own_agent_namespace: &str) {
    use k8s_openapi::api::core::v1::{Namespace, Secret};
    use kube::api::{Api, ListParams};
    use meshctl::cluster::{AGENT_COMPONENT, CLUSTER_LABEL, REMOTE_TOKEN_SECRET};
    let env = env.clone();
    let own = own_agent_namespace.to_owned();
    // Callers may be inside a runtime.
    super::on_own_runtime(async move {
        let client = env.client(true).await;
        let secrets: Api<Secret> = Api::all(client.clone());
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let selector = format!(
            "app.kubernetes.io/managed-by=meshctl,app.kubernetes.io/component={AGENT_COMPONENT},{CLUSTER_LABEL}"
        );
        let listed = tokio::time::timeout(
            Duration::from_secs(30),
            secrets.list_metadata(&ListParams::default().labels(&selector)),
        )
        .await;
        let items = match listed {
            Ok(Ok(list)) => list.items,
            Ok(Err(e)) => {
                eprintln!("note: listing registration Secrets failed: {e}");
                return;
            }
            Err(_) => {
                eprintln!("note: listing registration Secrets timed out");
                return;
            }
        };
        for item in items {
            let Some(ns) = item.metadata.namespace.clone() else {
                continue;
            };
            if item.metadata.name.as_deref() != Some(REMOTE_TOKEN_SECRET) || ns == own {
                continue;
            }
            let Ok(Ok(Some(found))) =
                tokio::time::timeout(Duration::from_secs(30), namespaces.get_opt(&ns)).await
            else {
                continue;
            };
            let e2e = found
                .metadata
                .labels
                .as_ref()
                .is_some_and(|l| l.get("meshctl.dev/e2e").is_some_and(|v| v == "true"));
            if !e2e || found.metadata.deletion_timestamp.is_some() {
                continue;
            }
            eprintln!("note: deleting namespace {ns}: a dead e2e run left a registration there");
            super::delete_namespace(client.clone(), &ns).await;
        }
    });
}

impl Drop for Registration {
    fn drop(&mut self) {
        if self.registered {
            let _ = meshctl(
                &self.env,
                false,
                &self.mgmt_namespace,
                &self.deregister_args(),
            );
        }
    }
}

/// `meshctl cluster list --mgmt-admin-address ADMIN -o json` for the management namespace
/// (registrations joined with the server's relay view); `None` when it fails.
pub fn cluster_list(env: &E2eEnv, mgmt_namespace: &str, admin: &str) -> Option<Value> {
    let mut args = vec![
        "cluster".to_owned(),
        "list".to_owned(),
        "--mgmt-admin-address".to_owned(),
        admin.to_owned(),
        "--timeout".to_owned(),
        "5s".to_owned(),
        "-o".to_owned(),
        "json".to_owned(),
    ];
    if let Some(c) = &env.mgmt_context {
        args.extend(["--mgmt-context".to_owned(), c.clone()]);
    }
    let out = meshctl(env, false, mgmt_namespace, &args);
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// The row of `cluster` in [`cluster_list`].
pub fn cluster_row(
    env: &E2eEnv,
    mgmt_namespace: &str,
    admin: &str,
    cluster: &str,
) -> Option<Value> {
    cluster_list(env, mgmt_namespace, admin)?["clusters"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == cluster)
        .cloned()
}

/// Waits until `cluster list` shows `cluster` with `accept(row)`; returns the row.
pub fn wait_for_cluster(
    env: &E2eEnv,
    server: &mut LocalServer,
    cluster: &str,
    what: &str,
    procs: &mut [&mut Running],
    accept: impl Fn(&Value) -> bool,
) -> Value {
    let (namespace, admin) = (server.namespace.clone(), server.admin.clone());
    let mut all: Vec<&mut Running> = vec![&mut server.process];
    all.extend(procs.iter_mut().map(|p| &mut **p));
    wait_until(what, WAIT, &mut all, || {
        cluster_row(env, &namespace, &admin, cluster).filter(|row| accept(row))
    })
}

/// Waits until the server reports `cluster` connected with a snapshot received; returns its row.
pub fn wait_connected(env: &E2eEnv, server: &mut LocalServer, agent: &mut LocalAgent) -> Value {
    let cluster = agent.cluster.clone();
    wait_for_cluster(
        env,
        server,
        &cluster,
        &format!("cluster {cluster} connected with a snapshot"),
        &mut [&mut agent.process],
        |row| row["connected"] == true && row["snapshot_version"].as_u64().unwrap_or(0) > 0,
    )
}

/// Waits until the server reports `cluster` disconnected (e.g. after its agent stopped).
pub fn wait_disconnected(env: &E2eEnv, server: &mut LocalServer, cluster: &str) -> Value {
    wait_for_cluster(
        env,
        server,
        cluster,
        &format!("cluster {cluster} disconnected"),
        &mut [],
        |row| row["connected"] == false,
    )
}

/// `GET path` on a local admin endpoint: (status, body), or `None` when it does not answer.
pub fn http_get(address: &str, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
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
