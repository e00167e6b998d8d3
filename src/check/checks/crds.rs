//! `crds`: the platform's CustomResourceDefinitions are installed, established and serve the
//! version this binary speaks.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

use super::{VERSION_LABEL, api_failure, join_limited, plural};
use crate::check::cluster::ClusterAccess;
use crate::check::engine::Check;
use crate::check::model::{CheckSpec, Finding, Severity};

/// Group suffix of every platform CRD.
pub const GROUP_SUFFIX: &str = "meshctl.dev";

/// A CRD this binary needs: its name (`<plural>.<group>`) and the version it must serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedCrd {
    pub name: String,
    pub version: String,
}

/// The CRDs of this binary (from the Rust types in `crate::api`).
pub fn expected() -> Vec<ExpectedCrd> {
    crate::api::crds::all()
        .into_iter()
        .map(|crd| ExpectedCrd {
            name: crd.metadata.name.unwrap_or_default(),
            version: crate::api::VERSION.to_string(),
        })
        .collect()
}

pub struct Crds {
    spec: CheckSpec,
    cluster: Arc<ClusterAccess>,
}

impl Crds {
    pub fn new(category: impl Into<String>, cluster: Arc<ClusterAccess>) -> Self {
        Self {
            spec: CheckSpec::new(
                "crds",
                category,
                "the meshctl CRDs are installed and current",
                Severity::Error,
            )
            .depends_on(&["kubernetes-api"])
            .retryable()
            // CRDs that are missing with no installation at all will not appear by waiting.
            .retry_while(&["install"]),
            cluster,
        }
    }
}

impl Check for Crds {
    fn spec(&self) -> &CheckSpec {
        &self.spec
    }
    fn run(&self, attempt: u32) -> BoxFuture<'_, Finding> {
        async move {
            match self
                .cluster
                .list_all::<CustomResourceDefinition>(None, attempt)
                .await
            {
                Ok(crds) => evaluate(&expected(), &crds, crate::version::VERSION),
                Err(e) => api_failure(&e),
            }
        }
        .boxed()
    }
}

fn established(crd: &CustomResourceDefinition) -> bool {
    crd.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        })
}

/// Compares the cluster's CRDs (all of them; only `*.meshctl.dev` ones are looked at) with
/// the expected ones.
pub fn evaluate(
    expected: &[ExpectedCrd],
    crds: &[CustomResourceDefinition],
    meshctl_version: &str,
) -> Finding {
    let ours: Vec<&CustomResourceDefinition> = crds
        .iter()
        .filter(|c| {
            c.spec.group == GROUP_SUFFIX || c.spec.group.ends_with(&format!(".{GROUP_SUFFIX}"))
        })
        .collect();
    let mut missing = Vec::new();
    let mut not_served = Vec::new();
    let mut not_established = Vec::new();
    let mut other_version = Vec::new();
    for want in expected {
        let Some(crd) = ours
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some(want.name.as_str()))
        else {
            missing.push(want.name.clone());
            continue;
        };
        let serves = crd
            .spec
            .versions
            .iter()
            .any(|v| v.name == want.version && v.served);
        if !serves {
            let served: Vec<&str> = crd
                .spec
                .versions
                .iter()
                .filter(|v| v.served)
                .map(|v| v.name.as_str())
                .collect();
            not_served.push(format!(
                "{} (spec.versions serves [{}], not {})",
                want.name,
                served.join(", "),
                want.version
            ));
        }
        if !established(crd) {
            not_established.push(want.name.clone());
        }
        if let Some(v) = crd
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(VERSION_LABEL))
            && v != meshctl_version
        {
            other_version.push(format!("{} ({VERSION_LABEL}={v})", want.name));
        }
    }
    if !missing.is_empty() {
        return Finding::fail(
            format!(
                "{} of {} missing: {}",
                plural(missing.len(), "CRD"),
                expected.len(),
                join_limited(&missing, 6)
            ),
            "install them with `meshctl install` (or `meshctl upgrade`); check with `kubectl get crd -l app.kubernetes.io/part-of=meshctl`",
        );
    }
    if !not_served.is_empty() {
        return Finding::fail(
            format!(
                "not serving the version meshctl {meshctl_version} uses: {}",
                join_limited(&not_served, 6)
            ),
            "run `meshctl upgrade` to install the CRDs of this version",
        );
    }
    if !not_established.is_empty() {
        return Finding::fail(
            format!(
                "not established yet: {} (status.conditions Established is not True)",
                join_limited(&not_established, 6)
            ),
            "kubectl get crd <name> -o yaml shows why in status.conditions (e.g. NamesAccepted=False)",
        );
    }
    if !other_version.is_empty() {
        return Finding::warn(
            format!(
                "installed by another meshctl version: {}",
                join_limited(&other_version, 6)
            ),
            format!(
                "run `meshctl upgrade` with meshctl {meshctl_version} to bring the CRDs to this version"
            ),
        );
    }
    Finding::pass(format!(
        "all {} meshctl CRDs installed and serving {}",
        expected.len(),
        expected.first().map(|e| e.version.as_str()).unwrap_or("")
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::check::model::Verdict;
    use crate::check::testing::{MockApi, list, status};

    /// The CRDs as the API server would return them: the generated ones, established.
    pub fn installed(version_label: &str) -> Vec<Value> {
        crate::api::crds::all()
            .into_iter()
            .map(|crd| {
                let mut v = serde_json::to_value(&crd).unwrap();
                v["metadata"]["labels"] = json!({"meshctl.dev/version": version_label});
                v["status"] = json!({"conditions": [{"type": "Established", "status": "True",
                    "lastTransitionTime": "2026-01-01T00:00:00Z", "reason": "InitialNamesAccepted", "message": ""}],
                    "acceptedNames": {"kind": "", "plural": ""}, "storedVersions": ["v1alpha1"]});
                v
            })
            .collect()
    }

    fn parse(items: Vec<Value>) -> Vec<CustomResourceDefinition> {
        items
            .into_iter()
            .map(|v| serde_json::from_value(v).unwrap())
            .collect()
    }

    #[test]
    fn all_present_passes_and_missing_are_named() {
        let v = crate::version::VERSION;
        let f = evaluate(&expected(), &parse(installed(v)), v);
        assert_eq!(f.verdict, Verdict::Pass, "{f:?}");
        assert_eq!(
            f.message,
            "all 6 meshctl CRDs installed and serving v1alpha1"
        );

        let mut items = installed(v);
        items.retain(|c| c["metadata"]["name"] != "routetables.networking.meshctl.dev");
        let f = evaluate(&expected(), &parse(items), v);
        assert_eq!(f.verdict, Verdict::Fail);
        assert_eq!(
            f.message,
            "1 CRD of 6 missing: routetables.networking.meshctl.dev"
        );
    }

    #[test]
    fn wrong_served_version_unestablished_and_old_label() {
        let v = crate::version::VERSION;
        let mut items = installed(v);
        items[0]["spec"]["versions"][0]["name"] = json!("v1beta9");
        let f = evaluate(&expected(), &parse(items), v);
        assert_eq!(f.verdict, Verdict::Fail);
        assert!(
            f.message.contains("serves [v1beta9], not v1alpha1"),
            "{}",
            f.message
        );

        let mut items = installed(v);
        items[1]["status"]["conditions"][0]["status"] = json!("False");
        let f = evaluate(&expected(), &parse(items), v);
        assert_eq!(f.verdict, Verdict::Fail);
        assert!(
            f.message.starts_with("not established yet"),
            "{}",
            f.message
        );

        let f = evaluate(&expected(), &parse(installed("0.0.1")), v);
        assert_eq!(f.verdict, Verdict::Warn);
    }

    #[tokio::test]
    async fn lists_crds_once() {
        let api = MockApi::start(|method, path, _| match (method, path) {
            ("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions") => (
                200,
                list(
                    "CustomResourceDefinitionList",
                    installed(crate::version::VERSION),
                ),
            ),
            _ => (404, status(404, "NotFound", "no")),
        });
        let f = Crds::new("crds", Arc::new(api.cluster())).run(0).await;
        assert_eq!(f.verdict, Verdict::Pass, "{f:?}");
        assert_eq!(
            api.requests(),
            ["GET /apis/apiextensions.k8s.io/v1/customresourcedefinitions"]
        );
    }
}
