//! Waiting by watching (never polling in a loop): CRDs Established, Deployments Available, objects gone.
//! On timeout the error says which object is not ready and why, from the last state seen.

use std::fmt::Debug;
use std::time::Duration;

use futures::{StreamExt, future};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, watcher};
use serde::de::DeserializeOwned;

/// Whether an object is ready, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// Ready.
    pub ready: bool,
    /// What is missing (empty when ready).
    pub reason: String,
}

impl Readiness {
    fn ready() -> Self {
        Self {
            ready: true,
            reason: String::new(),
        }
    }

    fn waiting(reason: impl Into<String>) -> Self {
        Self {
            ready: false,
            reason: reason.into(),
        }
    }
}

/// Why waiting failed.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// The object did not become ready in time.
    #[error("{object} not ready after {}: {reason}", humanize(*.waited))]
    Timeout {
        /// `Kind namespace/name`.
        object: String,
        /// How long was waited.
        waited: Duration,
        /// The last reason seen.
        reason: String,
    },
    /// The object was not deleted in time.
    #[error("{object} still present after {}", humanize(*.waited))]
    NotDeleted {
        /// `Kind namespace/name`.
        object: String,
        /// How long was waited.
        waited: Duration,
    },
    /// The watch itself failed (permissions, connectivity).
    #[error("cannot watch {object}: {source}")]
    Watch {
        /// `Kind namespace/name`.
        object: String,
        /// The watcher's error.
        #[source]
        source: watcher::Error,
    },
}

fn humanize(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs >= 60 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else if secs > 0 {
        format!("{secs}s")
    } else {
        format!("{}ms", duration.as_millis())
    }
}

/// A CRD is ready when it is Established.
pub fn crd_readiness(crd: &CustomResourceDefinition) -> Readiness {
    let conditions = crd.status.as_ref().and_then(|s| s.conditions.as_ref());
    let find = |kind: &str| conditions.and_then(|cs| cs.iter().find(|c| c.type_ == kind));
    match find("Established") {
        Some(c) if c.status == "True" => Readiness::ready(),
        _ => match find("NamesAccepted") {
            Some(c) if c.status == "False" => Readiness::waiting(format!(
                "names not accepted: {}",
                c.message.clone().unwrap_or_default()
            )),
            _ => Readiness::waiting("not Established yet"),
        },
    }
}

/// A Deployment is ready when its controller has seen the current generation and every replica is
/// updated and available.
pub fn deployment_readiness(deployment: &Deployment) -> Readiness {
    let generation = deployment.metadata.generation.unwrap_or(0);
    let wanted = deployment.spec.replicas.unwrap_or(1);
    let Some(status) = deployment.status.as_ref() else {
        return Readiness::waiting(
            "no status yet: the deployment controller has not processed it (is kube-controller-manager running?)",
        );
    };
    if status.observed_generation.unwrap_or(0) < generation {
        return Readiness::waiting(format!(
            "the deployment controller has not observed generation {generation} yet"
        ));
    }
    let updated = status.updated_replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    let conditions = status.conditions.as_deref().unwrap_or_default();
    let is = |field: &Option<String>, value: &str| field.as_deref() == Some(value);
    let available_true = conditions
        .iter()
        .any(|c: &DeploymentCondition| is(&c.type_, "Available") && is(&c.status, "True"));
    if available_true && updated >= wanted && available >= wanted {
        return Readiness::ready();
    }
    let mut reason = format!("{available}/{wanted} replicas available, {updated}/{wanted} updated");
    for condition in conditions
        .iter()
        .filter(|c| !is(&c.status, "True") || is(&c.type_, "ReplicaFailure"))
    {
        if let Some(message) = condition.message.as_deref().filter(|m| !m.is_empty()) {
            reason.push_str(&format!(
                "; {}: {message}",
                condition.type_.as_deref().unwrap_or("Condition")
            ));
        }
    }
    Readiness::waiting(reason)
}

/// Watches the object `name` until `check` says ready, or `timeout` passes.
pub async fn wait_until<K>(
    api: Api<K>,
    object: &str,
    name: &str,
    check: fn(&K) -> Readiness,
    timeout: Duration,
) -> Result<(), WaitError>
where
    K: kube::Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut last_reason = "not found yet".to_owned();
    let watch = async {
        let mut stream = watcher(api, config).default_backoff().boxed();
        while let Some(event) = stream.next().await {
            let event = match event {
                Ok(event) => event,
                Err(err) if is_permanent(&err) => {
                    return Err(WaitError::Watch {
                        object: object.to_owned(),
                        source: err,
                    });
                }
                Err(err) => {
                    // Transient (connection reset, expired resource version): the watcher retries with backoff.
                    tracing::debug!(%object, error = %err, "watch interrupted; retrying");
                    last_reason = format!("watch interrupted: {err}");
                    continue;
                }
            };
            let objects: Vec<&K> = match &event {
                Event::Apply(obj) | Event::InitApply(obj) => vec![obj],
                Event::Delete(_) => {
                    last_reason = "deleted while waiting".to_owned();
                    Vec::new()
                }
                Event::Init | Event::InitDone => Vec::new(),
            };
            for obj in objects {
                let readiness = check(obj);
                if readiness.ready {
                    return Ok(());
                }
                last_reason = readiness.reason;
            }
        }
        Ok(())
    };
    match tokio::time::timeout(timeout, watch).await {
        Ok(result) => result,
        Err(_) => Err(WaitError::Timeout {
            object: object.to_owned(),
            waited: timeout,
            reason: last_reason,
        }),
    }
}

/// Errors waiting cannot recover from: missing permissions or an unknown resource.
fn is_permanent(err: &watcher::Error) -> bool {
    let api_code = match err {
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status))
        | watcher::Error::WatchFailed(kube::Error::Api(status)) => Some(status.code),
        watcher::Error::WatchError(status) => Some(status.code),
        _ => None,
    };
    matches!(api_code, Some(401 | 403 | 404))
}

/// Watches the object `name` until it is gone (or replaced by one with another uid).
pub async fn wait_deleted<K>(
    api: Api<K>,
    object: &str,
    name: &str,
    uid: &str,
    timeout: Duration,
) -> Result<(), WaitError>
where
    K: kube::Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let condition = kube::runtime::wait::conditions::is_deleted::<K>(uid);
    match tokio::time::timeout(
        timeout,
        kube::runtime::wait::await_condition(api, name, condition),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(kube::runtime::wait::Error::ProbeFailed(source))) => Err(WaitError::Watch {
            object: object.to_owned(),
            source,
        }),
        Err(_) => Err(WaitError::NotDeleted {
            object: object.to_owned(),
            waited: timeout,
        }),
    }
}

/// Waits for every named CRD to be Established, concurrently.
pub async fn crds_established(
    client: &kube::Client,
    names: &[&str],
    timeout: Duration,
) -> Result<(), WaitError> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let waits = names.iter().map(|name| {
        let object = format!("CustomResourceDefinition {name}");
        let api = api.clone();
        async move { wait_until(api, &object, name, crd_readiness, timeout).await }
    });
    future::try_join_all(waits).await.map(|_| ())
}

/// Waits for every `(namespace, name)` Deployment to be available, concurrently; returns every failure.
pub async fn deployments_available(
    client: &kube::Client,
    deployments: &[(String, String)],
    timeout: Duration,
) -> Vec<WaitError> {
    let waits = deployments.iter().map(|(namespace, name)| {
        let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
        let object = format!("Deployment {namespace}/{name}");
        async move { wait_until(api, &object, name, deployment_readiness, timeout).await }
    });
    future::join_all(waits)
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn deployment(generation: i64, status: Option<DeploymentStatus>) -> Deployment {
        Deployment {
            metadata: ObjectMeta {
                generation: Some(generation),
                ..Default::default()
            },
            spec: DeploymentSpec {
                replicas: Some(2),
                ..Default::default()
            },
            status,
        }
    }

    fn condition(type_: &str, status: &str, message: &str) -> DeploymentCondition {
        DeploymentCondition {
            type_: Some(type_.into()),
            status: Some(status.into()),
            message: Some(message.into()),
            ..Default::default()
        }
    }

    #[test]
    fn deployment_without_status_explains_the_missing_controller() {
        let r = deployment_readiness(&deployment(1, None));
        assert!(!r.ready);
        assert!(r.reason.contains("controller"), "{}", r.reason);
    }

    #[test]
    fn deployment_is_ready_when_all_replicas_are_updated_and_available() {
        let status = DeploymentStatus {
            observed_generation: Some(3),
            updated_replicas: Some(2),
            available_replicas: Some(2),
            conditions: Some(vec![condition("Available", "True", "ok")]),
            ..Default::default()
        };
        assert!(deployment_readiness(&deployment(3, Some(status))).ready);
    }

    #[test]
    fn deployment_not_ready_names_counts_and_condition_messages() {
        let status = DeploymentStatus {
            observed_generation: Some(3),
            updated_replicas: Some(2),
            available_replicas: Some(1),
            conditions: Some(vec![
                condition(
                    "Available",
                    "False",
                    "Deployment does not have minimum availability.",
                ),
                condition("Progressing", "True", "ReplicaSet is progressing."),
            ]),
            ..Default::default()
        };
        let r = deployment_readiness(&deployment(3, Some(status)));
        assert!(!r.ready);
        assert_eq!(
            r.reason,
            "1/2 replicas available, 2/2 updated; Available: Deployment does not have minimum availability."
        );
    }

    #[test]
    fn stale_generation_is_not_ready() {
        let status = DeploymentStatus {
            observed_generation: Some(2),
            updated_replicas: Some(2),
            available_replicas: Some(2),
            conditions: Some(vec![condition("Available", "True", "")]),
            ..Default::default()
        };
        assert!(!deployment_readiness(&deployment(3, Some(status))).ready);
    }

    #[test]
    fn timeout_message_names_object_and_reason() {
        let err = WaitError::Timeout {
            object: "Deployment mesh-system/mesh-mgmt-server".into(),
            waited: Duration::from_secs(300),
            reason: "0/1 replicas available".into(),
        };
        assert_eq!(
            err.to_string(),
            "Deployment mesh-system/mesh-mgmt-server not ready after 5m: 0/1 replicas available"
        );
    }
}
