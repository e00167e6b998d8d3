//! Where `serve mgmt-server` keeps its state: a state directory (`--state-dir`), or,
//! without one, the Kubernetes cluster it runs in or is pointed at (in-cluster or
//! `--kubeconfig/--context`): PKI and bootstrap tokens in Secrets of `--namespace`,
//! relay state written to each KubernetesCluster's status.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::cli::Context;
use crate::exit::{ExitKind, ResultExt};
use crate::relay::token::BootstrapToken;
use crate::server::kube::call::DEFAULT_CALL_TIMEOUT;
use crate::server::kube::status_writer::StatusWriterSettings;
use crate::server::kube::{ClusterStatusWriter, SecretTokenStore};
use crate::server::pki_secrets::{ROOT_SECRET, SecretPkiStore};
use crate::server::pki_store::{DirPkiStore, PkiStore};
use crate::server::registry::ClusterRegistry;
use crate::server::tokens::{LocalTokenStore, TokenStore};

/// The server's stores.
pub struct ServerBackends {
    pub pki: Arc<dyn PkiStore>,
    pub tokens: Arc<dyn TokenStore>,
    local_tokens: Option<Arc<LocalTokenStore>>,
    kube: Option<(kube::Client, String)>,
    /// Where agents find the root CA, for the log.
    pub root_ca_location: String,
}

impl ServerBackends {
    /// Files under `state_dir`.
    pub fn local(state_dir: &Path) -> anyhow::Result<Self> {
        let tokens = Arc::new(
            LocalTokenStore::open_dir(state_dir)
                .with_context(|| format!("opening the token store in {}", state_dir.display()))
                .exit_kind(ExitKind::Environment)?,
        );
        Ok(Self {
            pki: Arc::new(DirPkiStore::new(state_dir)),
            tokens: tokens.clone(),
            local_tokens: Some(tokens),
            kube: None,
            root_ca_location: state_dir.join("pki/root-ca.crt").display().to_string(),
        })
    }

    /// Secrets and KubernetesClusters in the namespace of `ctx` (`-n`).
    pub async fn kube(ctx: &Context) -> anyhow::Result<Self> {
        let client = ctx
            .kube()
            .client()
            .await
            .context("no --state-dir: running against Kubernetes")
            .exit_kind(ExitKind::Environment)?;
        let namespace = ctx.namespace().to_string();
        tracing::info!(%namespace, "relay PKI and bootstrap tokens in Kubernetes Secrets");
        Ok(Self {
            pki: Arc::new(SecretPkiStore::new(
                client.clone(),
                &namespace,
                DEFAULT_CALL_TIMEOUT,
            )),
            tokens: Arc::new(SecretTokenStore::new(client.clone(), &namespace)),
            local_tokens: None,
            root_ca_location: format!("secret {namespace}/{ROOT_SECRET}"),
            kube: Some((client, namespace)),
        })
    }

    /// Hands a freshly issued token over: a 0600 file in the state dir; with
    /// Kubernetes the token Secret already is the hand-over.
    pub fn hand_over(&self, cluster: &str, token: &BootstrapToken) -> anyhow::Result<()> {
        match &self.local_tokens {
            Some(local) => {
                if let Some(path) = local.write_handoff(cluster, token)? {
                    tracing::info!(%cluster, path = %path.display(), "bootstrap token issued");
                }
            }
            None => {
                tracing::info!(%cluster, secret = %crate::server::kube::token_store::secret_name(cluster), "bootstrap token issued")
            }
        }
        Ok(())
    }

    /// With Kubernetes: starts writing the registry into KubernetesCluster status
    /// until `cancel`. `shared_state`: other replicas share the state (Redis), so only the
    /// clusters whose stream this replica held are written.
    pub fn start_status_writer(
        &self,
        registry: Arc<ClusterRegistry>,
        shared_state: bool,
        cancel: CancellationToken,
    ) -> Option<JoinHandle<()>> {
        let (client, namespace) = self.kube.as_ref()?;
        let writer = ClusterStatusWriter::new(
            client.clone(),
            namespace,
            registry,
            StatusWriterSettings {
                held_streams_only: shared_state,
                ..StatusWriterSettings::default()
            },
        );
        Some(writer.spawn(cancel))
    }
}

/// Stops the status writer after the server stopped, so its last round records the
/// disconnects; waits at most `grace`.
pub async fn stop_status_writer(
    writer: Option<(JoinHandle<()>, CancellationToken)>,
    grace: Duration,
) {
    if let Some((task, cancel)) = writer {
        cancel.cancel();
        let _ = tokio::time::timeout(grace, task).await;
    }
}
