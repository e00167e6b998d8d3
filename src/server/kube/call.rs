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
    #[error("{what}: {}", describe(.source))]
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

/// What the API server said, in one line: for an error answer its message and HTTP status (a 403 as
/// "permission denied", which is what an operator must fix in RBAC), never the debug form of the
/// whole Status object.
fn describe(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if status.code == 403 => format!(
            "permission denied: {} (HTTP 403: grant it in the RBAC of the identity this process runs as)",
            status.message
        ),
        kube::Error::Api(status) => {
            format!(
                "{} (HTTP {} {})",
                status.message, status.code, status.reason
            )
        }
        other => other.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: u16, reason: &str, message: &str) -> kube::Error {
        let status: kube::core::Status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "code": code, "reason": reason, "message": message,
            "details": {"group": "networking.istio.io", "kind": "destinationrules"},
        }))
        .unwrap_or_default();
        kube::Error::Api(Box::new(status))
    }

    #[tokio::test]
    async fn a_refused_call_is_one_line_naming_the_permission() {
        let message = "destinationrules.networking.istio.io is forbidden: User \"system:serviceaccount:a:mesh-agent\" cannot list resource \"destinationrules\"";
        let err = timed("listing DestinationRule", DEFAULT_CALL_TIMEOUT, async {
            Err::<(), _>(api_error(403, "Forbidden", message))
        })
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert_eq!(
            err,
            format!(
                "listing DestinationRule: permission denied: {message} (HTTP 403: grant it in the \
                 RBAC of the identity this process runs as)"
            )
        );
        // Not the debug dump of the whole Status.
        assert!(!err.contains("Status {"), "{err}");
    }

    #[tokio::test]
    async fn other_error_answers_keep_message_and_status() {
        let err = timed("reading secret ns/x", DEFAULT_CALL_TIMEOUT, async {
            Err::<(), _>(api_error(422, "Invalid", "spec.x: Invalid value"))
        })
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert_eq!(
            err,
            "reading secret ns/x: spec.x: Invalid value (HTTP 422 Invalid)"
        );
    }
}
