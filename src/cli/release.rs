//! What `install`, `upgrade` and `uninstall` share: values flags, rendering, connecting, applying
//! with progress, waiting, and the report they print.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use indicatif::ProgressBar;
use serde::Serialize;
use tokio::time::Instant;

use crate::cli::Context;
use crate::cli::duration::parse_duration;
use crate::exit::{ExitKind, ResultExt, classify};
use crate::kube::apply::{Applied, Applier, ApplyAction, ApplyOptions};
use crate::kube::wait;
use crate::manifests::{
    self, Document, ManifestError, Profile, RenderError, RenderOptions, ValuesInput,
};
use crate::output::{Render, Style, table};

/// Values flags (Helm's): `-f` files, `--set`, `--set-string`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ValuesArgs {
    /// Values file (YAML); repeatable, later files win
    #[arg(short = 'f', long = "values", value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Set a value: a.b=c, list[0]=x, list={x,y}, a\.b=c (typed: true/false/null/integers); repeatable
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,

    /// Set a value, always as a string; repeatable
    #[arg(long = "set-string", value_name = "KEY=VALUE")]
    pub set_string: Vec<String>,
}

/// Install profile on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProfileArg {
    /// Management cluster: CRDs, management server, optional Redis and Prometheus
    Mgmt,
    /// Workload cluster: the agent
    Agent,
    /// Management server and agent in one cluster
    SingleCluster,
}

impl From<ProfileArg> for Profile {
    fn from(arg: ProfileArg) -> Self {
        match arg {
            ProfileArg::Mgmt => Profile::Mgmt,
            ProfileArg::Agent => Profile::Agent,
            ProfileArg::SingleCluster => Profile::SingleCluster,
        }
    }
}

/// Applying and waiting flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ApplyArgs {
    /// Wait until the deployments are available (--wait=false to return after applying)
    #[arg(long, value_name = "BOOL", default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub wait: bool,

    /// Give up after this long (applying and waiting together), e.g. 90s, 5m
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Take over fields another field manager (kubectl, Helm, an operator) owns
    #[arg(long)]
    pub force_conflicts: bool,
}

/// Reads the values files and puts `-n/--namespace` underneath them as the lowest layer, so that a
/// `namespace` from a file or `--set` still wins.
pub fn values_input(args: &ValuesArgs, namespace: &str) -> anyhow::Result<ValuesInput> {
    let namespace_layer =
        manifests::yaml::to_string(&serde_json::json!({ "namespace": namespace }))
            .context("cannot encode --namespace")
            .exit_kind(ExitKind::Internal)?;
    let mut files = vec![("--namespace".to_owned(), namespace_layer)];
    for path in &args.files {
        let text = crate::input::read_file(path, crate::input::VALUES_FILE)?;
        files.push((path.display().to_string(), text));
    }
    Ok(ValuesInput {
        files,
        set: args.set.clone(),
        set_string: args.set_string.clone(),
    })
}

/// Renders and validates the manifests; bad values are usage errors, broken templates internal ones.
pub fn render(input: &ValuesInput, profile: Profile) -> anyhow::Result<Vec<Document>> {
    manifests::build(input, &RenderOptions::new(profile)).map_err(|err| {
        let kind = match &err {
            ManifestError::Values(_) | ManifestError::Invalid(_) => ExitKind::Usage,
            ManifestError::Render(
                RenderError::MissingValue { .. } | RenderError::InvalidValue { .. },
            ) => ExitKind::Usage,
            ManifestError::Render(_) => ExitKind::Internal,
        };
        classify(kind, err)
    })
}

/// The install namespace of rendered documents (from the Namespace document or any namespaced one).
pub fn namespace_of(documents: &[Document], fallback: &str) -> String {
    documents
        .iter()
        .find(|d| d.kind == "Namespace")
        .map(|d| d.name.clone())
        .or_else(|| documents.iter().find_map(|d| d.namespace.clone()))
        .unwrap_or_else(|| fallback.to_owned())
}

/// A client that has answered: fails fast (exit 3) naming the API server when it cannot be reached.
pub async fn connect(ctx: &Context, timeout: Duration) -> anyhow::Result<kube::Client> {
    let config = ctx.kube().config().await?;
    let server = config.cluster_url.to_string();
    let client = ctx.kube().client().await?;
    match tokio::time::timeout(timeout, client.apiserver_version()).await {
        Ok(Ok(_)) => Ok(client),
        Ok(Err(err)) => Err(classify(
            ExitKind::Environment,
            anyhow::Error::new(err).context(format!(
                "cannot reach the Kubernetes API server at {server}"
            )),
        )),
        Err(_) => Err(classify(
            ExitKind::Environment,
            anyhow::anyhow!(
                "the Kubernetes API server at {server} did not answer within {}",
                humanize(timeout)
            ),
        )),
    }
}

/// `5m`, `90s`: how durations are shown.
pub fn humanize(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs >= 60 && secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else if secs > 0 {
        format!("{secs}s")
    } else {
        format!("{}ms", duration.as_millis())
    }
}

/// Applies the documents with a progress bar per component; on failure or timeout says exactly what
/// was applied and how to resume.
pub async fn apply(
    ctx: &Context,
    client: &kube::Client,
    documents: &[Document],
    args: &ApplyArgs,
    deadline: Instant,
) -> anyhow::Result<Vec<Applied>> {
    let progress = ctx.printer().progress();
    let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
    for doc in documents {
        *totals.entry(doc.component.as_str()).or_default() += 1;
    }
    let bars: BTreeMap<String, ProgressBar> = totals
        .iter()
        .map(|(component, total)| {
            (
                (*component).to_owned(),
                progress.bar(*total, format!("applying {component}")),
            )
        })
        .collect();
    let done: Arc<Mutex<Vec<Applied>>> = Arc::default();
    let on_applied = {
        let done = done.clone();
        move |applied: &Applied| {
            if let Some(bar) = bars.get(&applied.component) {
                bar.inc(1);
                if bar.position() >= bar.length().unwrap_or(0) {
                    bar.finish();
                }
            }
            done.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(applied.clone());
        }
    };
    let options = ApplyOptions {
        force_conflicts: args.force_conflicts,
        crd_wait: Some(deadline.saturating_duration_since(Instant::now())),
        ..ApplyOptions::default()
    };
    let applier = Applier::new(client.clone(), options);
    match tokio::time::timeout_at(deadline, applier.apply_all(documents, &on_applied)).await {
        Ok(Ok(applied)) => Ok(applied),
        Ok(Err(failure)) => {
            let conflict = failure.errors.iter().any(|e| e.is_conflict());
            let kind = if conflict {
                ExitKind::Failure
            } else {
                ExitKind::Environment
            };
            Err(classify(kind, failure))
        }
        Err(_) => {
            let applied = done.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let names: Vec<String> = applied
                .iter()
                .map(|a| format!("{} {}", a.kind, a.name))
                .collect();
            Err(classify(
                ExitKind::Environment,
                anyhow::anyhow!(
                    "timed out after {} while applying; applied so far ({}): {}; re-run the same command to resume (applying is idempotent), with a longer --timeout if the cluster is slow",
                    humanize(args.timeout),
                    applied.len(),
                    if names.is_empty() {
                        "nothing".to_owned()
                    } else {
                        names.join(", ")
                    }
                ),
            ))
        }
    }
}

/// Waits (watching) for every rendered Deployment to be available before `deadline`.
pub async fn wait_for_deployments(
    ctx: &Context,
    client: &kube::Client,
    documents: &[Document],
    deadline: Instant,
) -> anyhow::Result<()> {
    let deployments: Vec<(String, String)> = documents
        .iter()
        .filter(|d| d.kind == "Deployment")
        .filter_map(|d| d.namespace.clone().map(|ns| (ns, d.name.clone())))
        .collect();
    if deployments.is_empty() {
        return Ok(());
    }
    let spinner = ctx.printer().progress().spinner(format!(
        "waiting for {} deployment(s) to be available",
        deployments.len()
    ));
    let remaining = deadline.saturating_duration_since(Instant::now());
    let errors = wait::deployments_available(client, &deployments, remaining).await;
    spinner.finish_and_clear();
    if errors.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = errors.iter().map(|e| format!("  - {e}")).collect();
    Err(classify(
        ExitKind::Environment,
        anyhow::anyhow!(
            "applied, but not ready:\n{}\ninspect with kubectl -n <namespace> describe deployment <name>; re-run with --wait=false to skip waiting",
            lines.join("\n")
        ),
    ))
}

/// What install and upgrade report (`-o json` schema: `{namespace, profile, version, objects: [{kind,
/// namespace?, name, component, action}], pruned: [{kind, namespace?, name}]}`).
#[derive(Debug, Clone, Serialize)]
pub struct ReleaseReport {
    /// Install namespace.
    pub namespace: String,
    /// Profile rendered.
    pub profile: String,
    /// meshctl version installed.
    pub version: String,
    /// Every applied object and what happened to it.
    pub objects: Vec<Applied>,
    /// Objects deleted because the new rendering no longer contains them (upgrade).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pruned: Vec<crate::kube::inventory::LiveObject>,
}

impl ReleaseReport {
    fn count(&self, action: ApplyAction) -> usize {
        self.objects.iter().filter(|o| o.action == action).count()
    }
}

impl Render for ReleaseReport {
    fn render_table(&self, _: &Style) -> String {
        let rows = self.objects.iter().map(|o| {
            [
                o.kind.clone(),
                o.namespace.clone().unwrap_or_else(|| "-".to_owned()),
                o.name.clone(),
                o.component.clone(),
                o.action.to_string(),
            ]
        });
        let rows = rows.chain(self.pruned.iter().map(|o| {
            [
                o.kind.clone(),
                o.namespace.clone().unwrap_or_else(|| "-".to_owned()),
                o.name.clone(),
                o.labels
                    .get(manifests::labels::COMPONENT)
                    .cloned()
                    .unwrap_or_default(),
                "pruned".to_owned(),
            ]
        }));
        let mut out = table::table(["KIND", "NAMESPACE", "NAME", "COMPONENT", "RESULT"], rows);
        out.push_str(&format!(
            "\nmeshctl {} ({} profile) in namespace {}: {} created, {} configured, {} unchanged",
            self.version,
            self.profile,
            self.namespace,
            self.count(ApplyAction::Created),
            self.count(ApplyAction::Configured),
            self.count(ApplyAction::Unchanged),
        ));
        if !self.pruned.is_empty() {
            out.push_str(&format!(", {} pruned", self.pruned.len()));
        }
        out.push('\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_flag_is_the_lowest_values_layer() {
        let args = ValuesArgs {
            set: vec!["namespace=from-set".to_owned()],
            ..Default::default()
        };
        let input = values_input(&args, "from-flag").unwrap();
        let docs = render(&input, Profile::Mgmt).unwrap();
        assert_eq!(namespace_of(&docs, "x"), "from-set");
        let input = values_input(&ValuesArgs::default(), "from-flag").unwrap();
        let docs = render(&input, Profile::Mgmt).unwrap();
        assert_eq!(namespace_of(&docs, "x"), "from-flag");
    }

    #[test]
    fn bad_values_are_usage_errors() {
        let args = ValuesArgs {
            set: vec!["mgmtServer.replica=2".to_owned()],
            ..Default::default()
        };
        let err = render(&values_input(&args, "mesh-system").unwrap(), Profile::Mgmt).unwrap_err();
        assert_eq!(crate::exit::exit_kind_of(&err), ExitKind::Usage);
        assert!(
            err.to_string()
                .contains("did you mean mgmtServer.replicas?"),
            "{err}"
        );
        let err = render(
            &values_input(&ValuesArgs::default(), "mesh-system").unwrap(),
            Profile::Agent,
        )
        .unwrap_err();
        assert_eq!(crate::exit::exit_kind_of(&err), ExitKind::Usage);
    }

    #[test]
    fn missing_values_file_is_an_environment_error_naming_the_file() {
        let args = ValuesArgs {
            files: vec!["/nonexistent/values.yaml".into()],
            ..Default::default()
        };
        let err = values_input(&args, "mesh-system").unwrap_err();
        assert_eq!(crate::exit::exit_kind_of(&err), ExitKind::Environment);
        assert!(
            format!("{err:#}").contains("/nonexistent/values.yaml"),
            "{err:#}"
        );
    }

    #[test]
    fn oversized_values_file_is_a_usage_error_naming_file_and_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.yaml");
        let line = "# padding\n".repeat(1024);
        std::fs::write(&path, line.repeat(420)).unwrap();
        let args = ValuesArgs {
            files: vec![path.clone()],
            ..Default::default()
        };
        let err = values_input(&args, "mesh-system").unwrap_err();
        assert_eq!(crate::exit::exit_kind_of(&err), ExitKind::Usage);
        let text = format!("{err:#}");
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("limit of 4 MiB"), "{text}");
    }

    #[test]
    fn report_table_summarises_actions() {
        let report = ReleaseReport {
            namespace: "mesh-system".into(),
            profile: "mgmt".into(),
            version: "1.0.0".into(),
            objects: vec![
                Applied {
                    kind: "Namespace".into(),
                    namespace: None,
                    name: "mesh-system".into(),
                    component: "namespace".into(),
                    action: ApplyAction::Unchanged,
                },
                Applied {
                    kind: "Deployment".into(),
                    namespace: Some("mesh-system".into()),
                    name: "mesh-mgmt-server".into(),
                    component: "mgmt-server".into(),
                    action: ApplyAction::Configured,
                },
            ],
            pruned: Vec::new(),
        };
        let text = report.render_table(&Style::new(false));
        let row: Vec<&str> = text.lines().nth(2).unwrap().split_whitespace().collect();
        assert_eq!(
            row,
            [
                "Deployment",
                "mesh-system",
                "mesh-mgmt-server",
                "mgmt-server",
                "configured"
            ]
        );
        assert!(text.ends_with("meshctl 1.0.0 (mgmt profile) in namespace mesh-system: 0 created, 1 configured, 1 unchanged\n"), "{text}");
    }
}
