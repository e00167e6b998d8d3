//! `meshctl uninstall`: delete what install created, found by meshctl's labels.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::cli::Context;
use crate::cli::duration::parse_duration;
use crate::cli::release;
use crate::exit::{ExitKind, Outcome, classify};
use crate::kube::inventory::{self, Deletion, InventoryError, LiveObject, PRUNABLE_KINDS};
use crate::manifests::{labels, order};
use crate::output::{Render, Style, table};

/// Delete what meshctl installed in the namespace (by label), and wait until it is gone
///
/// Keeps the CRDs, every custom resource, the namespace and its Secrets (relay PKI, tokens, license)
/// unless --purge. Asks for confirmation on a terminal unless --yes.
///
/// Examples:
///   meshctl uninstall
///   meshctl uninstall --purge --yes
#[derive(Debug, Clone, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Also delete the namespace and meshctl's Secrets in it, and meshctl's CRDs (and with them every
    /// resource of those kinds, in all namespaces) unless another installation still uses them
    #[arg(long)]
    pub purge: bool,

    /// Give up waiting for deletions after this long
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration)]
    pub timeout: Duration,
}

/// What uninstall did (`-o json` schema: `{namespace, purge, objects: [{kind, namespace?, name, result}], kept: [..]}`).
#[derive(Debug, Clone, Serialize)]
pub struct UninstallReport {
    /// Install namespace.
    pub namespace: String,
    /// Whether --purge was given.
    pub purge: bool,
    /// Every object and what became of it.
    pub objects: Vec<Removed>,
    /// What was deliberately kept.
    pub kept: Vec<String>,
}

/// One object uninstall handled.
#[derive(Debug, Clone, Serialize)]
pub struct Removed {
    /// Kind.
    pub kind: String,
    /// Namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// `deleted`, `terminating` or `absent`.
    pub result: Deletion,
}

impl Render for UninstallReport {
    fn render_table(&self, _: &Style) -> String {
        let mut out = if self.objects.is_empty() {
            format!(
                "nothing meshctl installed was found in namespace {}\n",
                self.namespace
            )
        } else {
            table::table(
                ["KIND", "NAMESPACE", "NAME", "RESULT"],
                self.objects.iter().map(|o| {
                    let result = serde_json::to_value(o.result)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    [
                        o.kind.clone(),
                        o.namespace.clone().unwrap_or_else(|| "-".to_owned()),
                        o.name.clone(),
                        result,
                    ]
                }),
            )
        };
        for kept in &self.kept {
            out.push_str(&format!("kept: {kept}\n"));
        }
        out
    }
}

/// What uninstall deletes, and what it deliberately keeps (with the reason).
#[derive(Debug)]
struct Selection {
    live: Vec<LiveObject>,
    kept: Vec<String>,
}

/// Finds what to delete: meshctl's objects of the installation in `namespace` (by its labels); with
/// `purge` also the namespace, every meshctl Secret in it, and the CRDs unless another installation
/// still uses them.
async fn select(
    client: &kube::Client,
    namespace: &str,
    purge: bool,
) -> Result<Selection, InventoryError> {
    let mut live = inventory::list(
        client,
        &inventory::resources_of(&PRUNABLE_KINDS),
        namespace,
        &labels::install_selector(namespace),
    )
    .await?;
    if !purge {
        let kept = vec![
            "meshctl's CustomResourceDefinitions and every custom resource (--purge deletes them)"
                .to_owned(),
            format!(
                "namespace {namespace} and its Secrets: relay PKI, bootstrap tokens, license (--purge deletes them)"
            ),
        ];
        return Ok(Selection { live, kept });
    }
    // Every Secret meshctl manages in the namespace: the license (`license apply`), the relay PKI and the
    // bootstrap tokens (the management server) are written without the install-namespace label.
    live.extend(
        inventory::list(
            client,
            &inventory::resources_of(&["Secret"]),
            namespace,
            &labels::managed_selector(),
        )
        .await?,
    );
    live.extend(
        inventory::list(
            client,
            &inventory::resources_of(&["Namespace"]),
            namespace,
            &labels::install_selector(namespace),
        )
        .await?,
    );
    let mut kept = Vec::new();
    // CRDs are shared by every installation in the cluster: deleting them would delete the custom
    // resources of the others too.
    let others = inventory::other_installations(client, namespace).await?;
    if others.is_empty() {
        let crds = inventory::resources_of(&["CustomResourceDefinition"]);
        live.extend(inventory::list(client, &crds, namespace, &labels::managed_selector()).await?);
    } else {
        kept.push(format!(
            "meshctl's CustomResourceDefinitions and every custom resource: still used by meshctl in namespace(s) {} (purge or deregister those first to delete them)",
            others.join(", ")
        ));
    }
    Ok(Selection { live, kept })
}

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let namespace = ctx.namespace().to_owned();
    let client = release::connect(ctx, args.timeout).await?;
    let Selection { live, kept } = select(&client, &namespace, args.purge)
        .await
        .map_err(|err| classify(ExitKind::Environment, err))?;
    if live.is_empty() {
        ctx.printer().data(&UninstallReport {
            namespace,
            purge: args.purge,
            objects: Vec::new(),
            kept,
        })?;
        return Ok(Outcome::Success);
    }
    let question = format!(
        "Delete {} object(s) meshctl installed in namespace {namespace}{}?",
        live.len(),
        if live.iter().any(|o| o.kind == "CustomResourceDefinition") {
            ", including its CRDs and ALL their custom resources in every namespace"
        } else {
            ""
        }
    );
    let confirmed = ctx
        .printer()
        .confirm(&question, false)
        .map_err(|err| classify(ExitKind::Usage, err))?;
    if !confirmed {
        ctx.printer().note("nothing deleted");
        return Ok(Outcome::Failure);
    }

    // Reverse apply order: workloads first, CRDs and the namespace last.
    let mut by_rank: BTreeMap<std::cmp::Reverse<u8>, Vec<LiveObject>> = BTreeMap::new();
    for object in live {
        by_rank
            .entry(std::cmp::Reverse(order::rank(&object.kind)))
            .or_default()
            .push(object);
    }
    let spinner = ctx
        .printer()
        .progress()
        .spinner(format!("uninstalling from namespace {namespace}"));
    let deadline = tokio::time::Instant::now() + args.timeout;
    let mut objects = Vec::new();
    let mut failures = Vec::new();
    for wave in by_rank.into_values() {
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        // Namespaces finalise asynchronously (and never without a namespace controller): do not wait.
        for (object, result) in
            inventory::delete_all(&client, &wave, remaining, |o| o.kind != "Namespace").await
        {
            match result {
                Ok(result) => objects.push(Removed {
                    kind: object.kind,
                    namespace: object.namespace,
                    name: object.name,
                    result,
                }),
                Err(err) => failures.push(format!("  - {err}")),
            }
        }
    }
    spinner.finish_and_clear();
    ctx.printer().data(&UninstallReport {
        namespace,
        purge: args.purge,
        objects,
        kept,
    })?;
    if !failures.is_empty() {
        return Err(classify(
            ExitKind::Environment,
            anyhow::anyhow!(
                "some objects could not be deleted:\n{}\nre-run `meshctl uninstall` to retry",
                failures.join("\n")
            ),
        ));
    }
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::{Value, json};

    use super::*;
    use crate::check::testing::{MockApi, list};

    fn meta(name: &str) -> Value {
        json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
            "metadata": {"name": name, "namespace": "mesh-system", "uid": format!("uid-{name}")}})
    }

    fn cluster_meta(name: &str) -> Value {
        json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
            "metadata": {"name": name, "uid": format!("uid-{name}")}})
    }

    const INSTALL: &str = "labelSelector=app.kubernetes.io%2Fmanaged-by%3Dmeshctl%2Cmeshctl.dev%2Fnamespace%3Dmesh-system";
    const MANAGED: &str = "labelSelector=app.kubernetes.io%2Fmanaged-by%3Dmeshctl";

    /// An installation in mesh-system (a Deployment, two Secrets, its namespace, one CRD); `others`
    /// are further meshctl namespaces.
    fn cluster(others: &'static [&'static str]) -> (MockApi, Arc<Mutex<Vec<String>>>) {
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let log = Arc::clone(&seen);
        let api = MockApi::start(move |method, target, _| {
            assert_eq!(method, "GET", "{target}");
            log.lock().unwrap().push(target.to_owned());
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            let items = match (path, query) {
                ("/apis/apps/v1/namespaces/mesh-system/deployments", INSTALL) => {
                    vec![meta("mesh-mgmt-server")]
                }
                ("/api/v1/namespaces/mesh-system/secrets", MANAGED) => {
                    vec![meta("meshctl-license"), meta("relay-root-tls-secret")]
                }
                ("/api/v1/namespaces", INSTALL) => vec![cluster_meta("mesh-system")],
                ("/api/v1/namespaces", MANAGED) => std::iter::once("mesh-system")
                    .chain(others.iter().copied())
                    .map(cluster_meta)
                    .collect(),
                ("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", MANAGED) => {
                    vec![cluster_meta("workspaces.admin.meshctl.dev")]
                }
                (_, INSTALL) => vec![],
                _ => panic!("unexpected request {target}"),
            };
            (200, list("PartialObjectMetadataList", items))
        });
        (api, seen)
    }

    fn names(selection: &Selection) -> Vec<String> {
        selection
            .live
            .iter()
            .map(LiveObject::display_name)
            .collect()
    }

    #[tokio::test]
    async fn without_purge_only_the_installation_objects_are_selected() {
        let (api, seen) = cluster(&[]);
        let selection = select(&api.client(), "mesh-system", false).await.unwrap();
        assert_eq!(
            names(&selection),
            ["Deployment mesh-system/mesh-mgmt-server"]
        );
        assert_eq!(selection.kept.len(), 2);
        // Neither Secrets, the namespace nor CRDs are even listed.
        assert!(
            seen.lock().unwrap().iter().all(|t| t.contains(INSTALL)
                && !t.contains("/secrets")
                && !t.starts_with("/api/v1/namespaces?")
                && !t.contains("customresourcedefinitions")),
            "{:?}",
            seen.lock().unwrap()
        );
    }

    #[tokio::test]
    async fn purge_selects_every_meshctl_secret_of_the_namespace_and_the_crds_when_alone() {
        let (api, _) = cluster(&[]);
        let selection = select(&api.client(), "mesh-system", true).await.unwrap();
        assert_eq!(
            names(&selection),
            [
                "Deployment mesh-system/mesh-mgmt-server",
                "Secret mesh-system/meshctl-license",
                "Secret mesh-system/relay-root-tls-secret",
                "Namespace mesh-system",
                "CustomResourceDefinition workspaces.admin.meshctl.dev",
            ]
        );
        assert_eq!(selection.kept, Vec::<String>::new());
    }

    #[tokio::test]
    async fn purge_keeps_the_crds_while_another_installation_uses_them() {
        let (api, seen) = cluster(&["team-b", "team-a"]);
        let selection = select(&api.client(), "mesh-system", true).await.unwrap();
        assert_eq!(
            names(&selection),
            [
                "Deployment mesh-system/mesh-mgmt-server",
                "Secret mesh-system/meshctl-license",
                "Secret mesh-system/relay-root-tls-secret",
                "Namespace mesh-system",
            ]
        );
        assert_eq!(selection.kept.len(), 1);
        assert!(
            selection.kept[0].contains("CustomResourceDefinitions")
                && selection.kept[0].contains("namespace(s) team-a, team-b"),
            "{:?}",
            selection.kept
        );
        assert!(
            !seen
                .lock()
                .unwrap()
                .iter()
                .any(|t| t.contains("customresourcedefinitions")),
            "the CRDs must not even be listed"
        );
    }
}
