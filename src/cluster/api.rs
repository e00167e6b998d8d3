//! Calls to an API server with a timeout, mapped to [`ClusterError`]s that name the side and the
//! request.

use std::future::Future;
use std::time::Duration;

use super::{ClusterError, Side};

/// One cluster: a client, the per-call timeout, and names for messages.
#[derive(Clone)]
pub struct Cluster {
    /// The client.
    pub client: kube::Client,
    /// Management or workload cluster.
    pub side: Side,
    /// The kubeconfig context (or "current context"), for messages.
    pub context: String,
    /// Timeout of each call.
    pub timeout: Duration,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("side", &self.side)
            .field("context", &self.context)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// A cluster over `client`.
    pub fn new(
        client: kube::Client,
        side: Side,
        context: impl Into<String>,
        timeout: Duration,
    ) -> Self {
        Self {
            client,
            side,
            context: context.into(),
            timeout,
        }
    }

    /// Runs `call` with the timeout; `what` names the request in errors.
    pub async fn call<T>(
        &self,
        what: impl Into<String>,
        call: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, ClusterError> {
        let what = what.into();
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) => Err(self.api_error(what, source)),
            Err(_) => Err(ClusterError::Timeout {
                side: self.side,
                what,
                after: self.timeout,
            }),
        }
    }

    /// Like [`Cluster::call`], with 404 as `None`.
    pub async fn call_opt<T>(
        &self,
        what: impl Into<String>,
        call: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<Option<T>, ClusterError> {
        match self.call(what, call).await {
            Ok(value) => Ok(Some(value)),
            Err(ClusterError::Api {
                source: kube::Error::Api(status),
                ..
            }) if status.code == 404 => Ok(None),
            Err(err) => Err(err),
        }
    }

    fn api_error(&self, what: String, source: kube::Error) -> ClusterError {
        let message = match &source {
            kube::Error::Api(status) if status.code == 403 => format!(
                "permission denied (context {}): {}",
                self.context, status.message
            ),
            kube::Error::Api(status) => format!("HTTP {}: {}", status.code, status.message),
            other => crate::check::cluster::error_chain(other),
        };
        ClusterError::Api {
            side: self.side,
            what,
            message,
            source,
        }
    }
}

/// Whether an error is the API server's 404.
pub fn is_not_found(err: &ClusterError) -> bool {
    matches!(err, ClusterError::Api { source: kube::Error::Api(s), .. } if s.code == 404)
}
