//! Every Kubernetes call the relay backends make goes through [`timed`]: a timeout and
//! one error type that says which object the call was about.

use std::future::Future;
use std::time::Duration;

/// Default timeout of one Kubernetes API call made by the relay backends.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a Kubernetes call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{what}: the Kubernetes API did not answer within {}s", .after.as_secs())]
    Timeout { what: String, after: Duration },
    #[error("{what}: {source}")]
    Kube {
        what: String,
        #[source]
        source: kube::Error,
    },
}

impl CallError {
    /// The HTTP status of an API error answer (404, 409, ...), if it was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            CallError::Kube {
                source: kube::Error::Api(s),
                ..
            } => Some(s.code),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }
}

/// Runs `call` with `timeout`; `what` names the object in errors (`secret ns/name`).
pub async fn timed<T>(
    what: impl Into<String>,
    timeout: Duration,
    call: impl Future<Output = Result<T, kube::Error>>,
) -> Result<T, CallError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(source)) => Err(CallError::Kube {
            what: what.into(),
            source,
        }),
        Err(_) => Err(CallError::Timeout {
            what: what.into(),
            after: timeout,
        }),
    }
}
