//! `meshctl uninstall`: delete what install created, found by meshctl's labels.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::cli::Context;
use crate::cli::duration::parse_duration;
use crate::cli::release;
use crate::exit::{ExitKind, Outcome, classify};
use crate::kube::inventory::{self, Deletion, LiveObject, PRUNABLE_KINDS};
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
    /// Also delete meshctl's CRDs (and with them every resource of those kinds, in all namespaces), the
    /// namespace and meshctl's Secrets in it
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

pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Outcome> {
    let namespace = ctx.namespace().to_owned();
    let client = release::connect(ctx, args.timeout).await?;
    let mut kinds: Vec<&str> = PRUNABLE_KINDS.to_vec();
    if args.purge {
        kinds.extend(["Secret", "Namespace"]);
    }
    let environment = |err| classify(ExitKind::Environment, err);
    let mut live = inventory::list(
        &client,
        &inventory::resources_of(&kinds),
        &namespace,
        &labels::install_selector(&namespace),
    )
    .await
    .map_err(environment)?;
    if args.purge {
        // CRDs are shared by every installation: select them as meshctl's, whatever the namespace.
        let crds = inventory::resources_of(&["CustomResourceDefinition"]);
        live.extend(
            inventory::list(&client, &crds, &namespace, &labels::managed_selector())
                .await
                .map_err(environment)?,
        );
    }
    let kept = if args.purge {
        Vec::new()
    } else {
        vec![
            "meshctl's CustomResourceDefinitions and every custom resource (--purge deletes them)"
                .to_owned(),
            format!(
                "namespace {namespace} and its Secrets: relay PKI, bootstrap tokens, license (--purge deletes them)"
            ),
        ]
    };
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
        if args.purge {
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
