use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use tokio::sync::OnceCell;

/// Why a Kubernetes client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// The kubeconfig file to use does not exist: one message naming it and what to do (the
    /// "No such file" cause adds nothing, and kube's own errors repeat it several times).
    #[error("kubeconfig {} does not exist ({}): {}", .path.display(), .origin, .origin.remedy())]
    KubeconfigMissing {
        path: PathBuf,
        origin: KubeconfigOrigin,
    },
    #[error("cannot read kubeconfig {path}: {source}")]
    ReadKubeconfig {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The kubeconfig is larger than [`crate::input::KUBECONFIG`] allows, or not text.
    #[error(transparent)]
    KubeconfigInput(crate::input::InputError),
    #[error("invalid kubeconfig {origin}: {source}")]
    ParseKubeconfig {
        origin: String,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("context '{context}' not found in {origin}; available contexts: {}", list_or_none(.available))]
    ContextNotFound {
        context: String,
        origin: String,
        available: Vec<String>,
    },
    #[error(
        "no Kubernetes configuration found (not in a cluster, and no kubeconfig): {0}; pass --kubeconfig or set KUBECONFIG"
    )]
    NoConfig(#[source] kube::config::InferConfigError),
    /// In a pod (`KUBERNETES_SERVICE_HOST` set) without a kubeconfig, the in-cluster configuration
    /// failed: said as such, not as a missing `~/.kube/config` nobody in a pod has.
    #[error(
        "in-cluster Kubernetes configuration failed (KUBERNETES_SERVICE_HOST is set, no kubeconfig): {0}; the pod needs its ServiceAccount token, ca.crt and namespace under /var/run/secrets/kubernetes.io/serviceaccount (automountServiceAccountToken must not be false)"
    )]
    InCluster(#[source] kube::config::InClusterError),
    #[error("cannot use kubeconfig {origin}: {source}")]
    Config {
        origin: String,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("cannot create a Kubernetes client for {cluster}: {source}")]
    Client {
        cluster: String,
        #[source]
        source: kube::Error,
    },
}

/// Who chose a kubeconfig file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KubeconfigOrigin {
    /// `--kubeconfig FILE`.
    Flag,
    /// The `KUBECONFIG` environment variable.
    Env,
    /// Nobody: the default `~/.kube/config`.
    Default,
}

impl KubeconfigOrigin {
    /// The origin of the default kubeconfig in this environment (`KUBECONFIG` or `~/.kube/config`).
    fn of_default() -> Self {
        if std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty()) {
            KubeconfigOrigin::Env
        } else {
            KubeconfigOrigin::Default
        }
    }

    fn remedy(self) -> &'static str {
        match self {
            KubeconfigOrigin::Flag => {
                "pass --kubeconfig the path of an existing kubeconfig file, or leave it out to use KUBECONFIG or ~/.kube/config"
            }
            KubeconfigOrigin::Env => {
                "point KUBECONFIG at an existing kubeconfig file (or unset it to use ~/.kube/config), or pass --kubeconfig FILE"
            }
            KubeconfigOrigin::Default => {
                "create it (e.g. with your cloud's get-credentials command), set KUBECONFIG, or pass --kubeconfig FILE"
            }
        }
    }
}

impl std::fmt::Display for KubeconfigOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KubeconfigOrigin::Flag => "given with --kubeconfig",
            KubeconfigOrigin::Env => "named by KUBECONFIG",
            KubeconfigOrigin::Default => "the default; KUBECONFIG is not set",
        })
    }
}

impl KubeError {
    /// The kubeconfig file to use does not exist (nothing to connect to: not a cluster problem).
    pub fn is_missing_kubeconfig(&self) -> bool {
        matches!(self, KubeError::KubeconfigMissing { .. })
    }

    /// Whether the missing kubeconfig was named explicitly (`--kubeconfig` or `KUBECONFIG`).
    pub fn is_missing_named_kubeconfig(&self) -> bool {
        matches!(
            self,
            KubeError::KubeconfigMissing {
                origin: KubeconfigOrigin::Flag | KubeconfigOrigin::Env,
                ..
            }
        )
    }
}

/// The kubeconfig file that does not exist, when that is what `error` (a kube error) comes down to.
fn missing_kubeconfig(error: &(dyn std::error::Error + 'static)) -> Option<PathBuf> {
    let mut next = Some(error);
    while let Some(cause) = next {
        if let Some(kube::config::KubeconfigError::ReadConfig(io, path)) = cause.downcast_ref()
            && io.kind() == std::io::ErrorKind::NotFound
        {
            return Some(path.clone());
        }
        next = cause.source();
    }
    None
}

/// A kube error about the default kubeconfig (`KUBECONFIG` or `~/.kube/config`) as ours: a missing
/// file becomes [`KubeError::KubeconfigMissing`], anything else `other(error)`.
fn default_kubeconfig_error<E: std::error::Error + 'static>(
    error: E,
    other: impl FnOnce(E) -> KubeError,
) -> KubeError {
    match missing_kubeconfig(&error) {
        Some(path) => KubeError::KubeconfigMissing {
            path,
            origin: KubeconfigOrigin::of_default(),
        },
        None => other(error),
    }
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// Where to find a Kubernetes cluster: an optional kubeconfig path and context. The
/// client is built on first use only, so commands that never talk to a cluster never
/// read a kubeconfig.
pub struct KubeTarget {
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    timeout: Duration,
    /// The client and the URL of the API server it talks to, built on first use.
    client: OnceCell<(kube::Client, String)>,
}

impl std::fmt::Debug for KubeTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeTarget")
            .field("kubeconfig", &self.kubeconfig)
            .field("context", &self.context)
            .field("timeout", &self.timeout)
            .field("client_built", &self.client.initialized())
            .finish()
    }
}

impl KubeTarget {
    pub fn new(kubeconfig: Option<PathBuf>, context: Option<String>, timeout: Duration) -> Self {
        Self {
            kubeconfig,
            context,
            timeout,
            client: OnceCell::new(),
        }
    }

    /// The same kubeconfig with another context (for multi-cluster commands).
    pub fn with_context(&self, context: Option<String>) -> Self {
        Self::new(
            self.kubeconfig.clone(),
            context.or_else(|| self.context.clone()),
            self.timeout,
        )
    }

    pub fn context(&self) -> Option<&str> {
        self.context.as_deref()
    }

    pub fn kubeconfig(&self) -> Option<&Path> {
        self.kubeconfig.as_deref()
    }

    /// The per-request timeout applied to API calls.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The client, built on first call.
    pub async fn client(&self) -> Result<kube::Client, KubeError> {
        Ok(self.built().await?.0.clone())
    }

    /// The URL of the API server the client talks to (builds the client on first call).
    pub async fn cluster_url(&self) -> Result<String, KubeError> {
        Ok(self.built().await?.1.clone())
    }

    async fn built(&self) -> Result<&(kube::Client, String), KubeError> {
        self.client
            .get_or_try_init(|| async {
                let config = self.config().await?;
                let cluster = config.cluster_url.to_string();
                kube::Client::try_from(config)
                    .map(|client| (client, cluster.clone()))
                    .map_err(|source| KubeError::Client { cluster, source })
            })
            .await
    }

    /// The client configuration, with timeouts set.
    pub async fn config(&self) -> Result<kube::Config, KubeError> {
        let mut config = match (&self.kubeconfig, &self.context) {
            // The default kubeconfig is read here, with the size cap, rather than by kube (which
            // reads it whole: `KUBECONFIG=/dev/zero` ran out of memory, and a binary or garbage
            // file was reported as "no kubeconfig"). kube's inference decides only when a file
            // cannot be read at all (none there: in-cluster, or "does not exist").
            (None, None) => match read_default_kubeconfig()? {
                Some((kubeconfig, origin)) => {
                    let mut config = kube::Config::from_custom_kubeconfig(
                        kubeconfig,
                        &KubeConfigOptions::default(),
                    )
                    .await
                    .map_err(|source| KubeError::Config { origin, source })?;
                    config.apply_debug_overrides();
                    config
                }
                None => Self::infer().await?,
            },
            (path, context) => {
                let (kubeconfig, origin) = load_kubeconfig(path.as_deref())?;
                if let Some(context) = context {
                    ensure_context(&kubeconfig, context, &origin)?;
                }
                let options = KubeConfigOptions {
                    context: context.clone(),
                    ..KubeConfigOptions::default()
                };
                kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|source| KubeError::Config { origin, source })?
            }
        };
        config.connect_timeout = Some(self.timeout);
        config.write_timeout = Some(self.timeout);
        Ok(config)
    }

    /// kube's inference (kubeconfig, then in-cluster) when no default kubeconfig could be read.
    async fn infer() -> Result<kube::Config, KubeError> {
        match kube::Config::infer().await {
            Ok(config) => Ok(config),
            Err(error)
                if missing_kubeconfig(&error).is_some()
                    && std::env::var_os("KUBERNETES_SERVICE_HOST")
                        .is_some_and(|v| !v.is_empty()) =>
            {
                Err(match kube::Config::incluster() {
                    Err(in_cluster) => KubeError::InCluster(in_cluster),
                    Ok(_) => default_kubeconfig_error(error, KubeError::NoConfig),
                })
            }
            Err(error) => Err(default_kubeconfig_error(error, KubeError::NoConfig)),
        }
    }
}

/// Reads the kubeconfig at `path`, or the default one (`KUBECONFIG`, then `~/.kube/config`).
fn load_kubeconfig(path: Option<&Path>) -> Result<(Kubeconfig, String), KubeError> {
    match path {
        Some(path) => match read_kubeconfig_file(path)? {
            Some(kubeconfig) => Ok((kubeconfig, path.display().to_string())),
            None => Err(KubeError::KubeconfigMissing {
                path: path.to_path_buf(),
                origin: KubeconfigOrigin::Flag,
            }),
        },
        None => match read_default_kubeconfig()? {
            Some(found) => Ok(found),
            // Not there or unreadable: kube's reading says which, as before.
            None => {
                let origin =
                    std::env::var("KUBECONFIG").unwrap_or_else(|_| "~/.kube/config".into());
                let kubeconfig = Kubeconfig::read().map_err(|e| {
                    default_kubeconfig_error(e, |source| KubeError::ParseKubeconfig {
                        origin: origin.clone(),
                        source,
                    })
                })?;
                Ok((kubeconfig, origin))
            }
        },
    }
}

/// The files of the default kubeconfig: those `KUBECONFIG` names (empty entries ignored), else
/// `~/.kube/config`.
fn default_kubeconfig_paths() -> Vec<PathBuf> {
    if let Some(value) = std::env::var_os("KUBECONFIG") {
        let paths: Vec<PathBuf> = std::env::split_paths(&value)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        if !paths.is_empty() {
            return paths;
        }
    }
    std::env::home_dir()
        .map(|home| home.join(".kube").join("config"))
        .into_iter()
        .collect()
}

/// The default kubeconfig, its files read with the size cap of [`crate::input::KUBECONFIG`] and
/// merged as kubectl does (the first to set a value wins), and its origin for messages. `None`
/// when a file does not exist (or `~/.kube/config` cannot be read): the caller leaves that case
/// to kube, which reports it or falls back to the in-cluster configuration.
fn read_default_kubeconfig() -> Result<Option<(Kubeconfig, String)>, KubeError> {
    let paths = default_kubeconfig_paths();
    let named = KubeconfigOrigin::of_default() == KubeconfigOrigin::Env;
    let mut merged: Option<Kubeconfig> = None;
    for path in &paths {
        let next = match read_kubeconfig_file(path) {
            Ok(Some(next)) => next,
            Ok(None) => return Ok(None),
            // An unreadable ~/.kube/config does not keep a pod from its in-cluster configuration
            // (kube's inference falls back to it); a file KUBECONFIG names must be readable.
            Err(KubeError::ReadKubeconfig { .. }) if !named => return Ok(None),
            Err(other) => return Err(other),
        };
        merged = Some(match merged {
            None => next,
            Some(first) => first
                .merge(next)
                .map_err(|source| KubeError::ParseKubeconfig {
                    origin: path.display().to_string(),
                    source,
                })?,
        });
    }
    let origin = std::env::join_paths(&paths)
        .map(|joined| joined.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "KUBECONFIG".to_owned());
    Ok(merged.map(|kubeconfig| (kubeconfig, origin)))
}

/// Reads one kubeconfig file with the size cap; `None` when it does not exist (the caller says
/// what that means). File references in it (certificates, keys, token files, exec commands with a
/// path) are relative to its directory, as for kubectl.
fn read_kubeconfig_file(path: &Path) -> Result<Option<Kubeconfig>, KubeError> {
    let text = match crate::input::read_file(path, crate::input::KUBECONFIG) {
        Ok(text) => text,
        Err(crate::input::InputError::Read { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            return Ok(None);
        }
        Err(crate::input::InputError::Read { source, .. }) => {
            return Err(KubeError::ReadKubeconfig {
                path: path.to_path_buf(),
                source,
            });
        }
        Err(other) => return Err(KubeError::KubeconfigInput(other)),
    };
    let mut kubeconfig =
        Kubeconfig::from_yaml(&text).map_err(|source| KubeError::ParseKubeconfig {
            origin: path.display().to_string(),
            source,
        })?;
    if let Some(dir) = path.parent() {
        resolve_relative_files(&mut kubeconfig, dir);
    }
    Ok(Some(kubeconfig))
}

/// Makes the file references of a kubeconfig read from `dir` absolute (kube's own reading does
/// the same).
fn resolve_relative_files(kubeconfig: &mut Kubeconfig, dir: &Path) {
    let absolute = |file: &mut Option<String>| {
        if let Some(name) = file.as_deref()
            && Path::new(name).is_relative()
            && let Some(joined) = dir.join(name).to_str()
        {
            *file = Some(joined.to_owned());
        }
    };
    for named in &mut kubeconfig.clusters {
        if let Some(cluster) = &mut named.cluster {
            absolute(&mut cluster.certificate_authority);
        }
    }
    for named in &mut kubeconfig.auth_infos {
        if let Some(auth) = &mut named.auth_info {
            absolute(&mut auth.client_certificate);
            absolute(&mut auth.client_key);
            absolute(&mut auth.token_file);
            if let Some(exec) = &mut auth.exec
                && exec
                    .command
                    .as_deref()
                    .is_some_and(|c| c.contains(std::path::MAIN_SEPARATOR))
            {
                absolute(&mut exec.command);
            }
        }
    }
}

fn ensure_context(kubeconfig: &Kubeconfig, context: &str, origin: &str) -> Result<(), KubeError> {
    if kubeconfig.contexts.iter().any(|c| c.name == context) {
        return Ok(());
    }
    Err(KubeError::ContextNotFound {
        context: context.to_string(),
        origin: origin.to_string(),
        available: kubeconfig.contexts.iter().map(|c| c.name.clone()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECONFIG: &str = r#"
apiVersion: v1
kind: Config
clusters:
- name: one
  cluster:
    server: https://127.0.0.1:6443
    insecure-skip-tls-verify: true
contexts:
- name: mgmt
  context: {cluster: one, user: u}
- name: remote
  context: {cluster: one, user: u, namespace: apps}
current-context: mgmt
users:
- name: u
  user: {token: abc}
"#;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[tokio::test]
    async fn unreadable_kubeconfig_names_the_path() {
        let t = KubeTarget::new(
            Some("/nonexistent/kubeconfig".into()),
            None,
            Duration::from_secs(1),
        );
        let e = t.config().await.unwrap_err();
        assert!(e.is_missing_named_kubeconfig(), "{e:?}");
        assert_eq!(
            crate::output::error_chain(&e),
            "kubeconfig /nonexistent/kubeconfig does not exist (given with --kubeconfig): pass --kubeconfig the path of an existing kubeconfig file, or leave it out to use KUBECONFIG or ~/.kube/config"
        );
    }

    #[test]
    fn an_oversized_kubeconfig_is_refused_at_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(crate::input::KUBECONFIG.max_bytes + 1)
            .unwrap();
        let e = load_kubeconfig(Some(&path)).unwrap_err();
        assert!(matches!(e, KubeError::KubeconfigInput(_)), "{e:?}");
        let text = e.to_string();
        assert!(text.contains("limit of 16 MiB"), "{text}");
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert_eq!(
            crate::exit::exit_kind_of(&anyhow::Error::new(e)),
            crate::exit::ExitKind::Environment
        );
    }

    #[test]
    fn a_missing_default_kubeconfig_is_found_in_kube_errors() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let kube_error = kube::config::KubeconfigError::ReadConfig(io, "/gone/config".into());
        let e = default_kubeconfig_error(kube_error, |source| KubeError::ParseKubeconfig {
            origin: "x".into(),
            source,
        });
        assert!(e.is_missing_kubeconfig(), "{e:?}");
        let text = crate::output::error_chain(&e);
        assert!(
            text.starts_with("kubeconfig /gone/config does not exist ("),
            "{text}"
        );
        assert_eq!(text.matches("/gone/config").count(), 1, "{text}");
        // Other errors keep their own variant.
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let kube_error = kube::config::KubeconfigError::ReadConfig(io, "/x".into());
        let e = default_kubeconfig_error(kube_error, |source| KubeError::ParseKubeconfig {
            origin: "x".into(),
            source,
        });
        assert!(matches!(e, KubeError::ParseKubeconfig { .. }), "{e:?}");
    }

    #[tokio::test]
    async fn missing_context_lists_the_available_ones() {
        let f = write(KUBECONFIG);
        let t = KubeTarget::new(
            Some(f.path().into()),
            Some("nope".into()),
            Duration::from_secs(1),
        );
        let e = t.config().await.unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "context 'nope' not found in {}; available contexts: mgmt, remote",
                f.path().display()
            )
        );
    }

    #[tokio::test]
    async fn selected_context_and_timeouts_are_used() {
        let f = write(KUBECONFIG);
        let t = KubeTarget::new(
            Some(f.path().into()),
            Some("remote".into()),
            Duration::from_secs(7),
        );
        let config = t.config().await.unwrap();
        assert_eq!(config.default_namespace, "apps");
        assert_eq!(config.connect_timeout, Some(Duration::from_secs(7)));
    }

    #[test]
    fn file_references_are_relative_to_the_kubeconfig() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(
            &path,
            "clusters:\n- name: c\n  cluster: {server: 'https://h', certificate-authority: ca.crt}\nusers:\n- name: u\n  user: {client-key: /abs/key, tokenFile: t, exec: {command: ./bin/auth, apiVersion: v1}}\n- name: v\n  user: {exec: {command: aws, apiVersion: v1}}\n",
        )
        .unwrap();
        let config = read_kubeconfig_file(&path).unwrap().unwrap();
        let in_dir = |name: &str| Some(dir.path().join(name).to_str().unwrap().to_owned());
        let cluster = config.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(cluster.certificate_authority, in_dir("ca.crt"));
        let user = config.auth_infos[0].auth_info.as_ref().unwrap();
        assert_eq!(user.client_key.as_deref(), Some("/abs/key"));
        assert_eq!(user.token_file, in_dir("t"));
        assert_eq!(user.exec.as_ref().unwrap().command, in_dir("./bin/auth"));
        // A command without a path is looked up on PATH.
        let other = config.auth_infos[1].auth_info.as_ref().unwrap();
        assert_eq!(other.exec.as_ref().unwrap().command.as_deref(), Some("aws"));
        assert!(
            read_kubeconfig_file(&dir.path().join("none"))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_binary_kubeconfig_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(&path, [0xff, 0xfe, 0, 1]).unwrap();
        let e = read_kubeconfig_file(&path).unwrap_err();
        assert!(matches!(e, KubeError::KubeconfigInput(_)), "{e:?}");
        assert!(e.to_string().contains("is not UTF-8 text"), "{e}");
    }

    #[tokio::test]
    async fn garbage_kubeconfig_is_a_parse_error() {
        let f = write(": : not yaml [");
        let t = KubeTarget::new(Some(f.path().into()), None, Duration::from_secs(1));
        let e = t.config().await.unwrap_err();
        assert!(matches!(e, KubeError::ParseKubeconfig { .. }), "{e:?}");
    }
}
