//! Where the platform's resources (Workspace, VirtualDestination, RouteTable, VirtualGateway,
//! AccessPolicy, KubernetesCluster) come from when the server runs with `--config-dir PATH`: YAML (or
//! JSON) files under a directory, read again whenever the directory changes (polling). Bad files and
//! documents are reported with the file and the reason and skipped; the rest is used.
//!
//! Sources (this one, the Kubernetes watcher in `platform_kube`, the license source) hand their
//! findings to the translation task as [`SourceEvent`]s over a bounded channel.

use crate::relay::resource_files::{MAX_FILE_BYTES, fingerprint, list_files, parse_documents};
use crate::translate::{InputChange, InputKind, InputRef, PlatformResource};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Capacity of the channel from the sources to the translation task.
pub const SOURCE_EVENTS_BUFFER: usize = 64;
/// Shortest polling interval of the directory (bounds the cost of polling).
pub const MIN_POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Longest polling interval of the directory.
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(60);

/// What a source tells the translation task.
// Changes are moved once through a channel; boxing would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum SourceEvent {
    /// Changes to the translation's inputs.
    Changes(Vec<InputChange>),
    /// The problems met reading the platform resources (replaces the previous list).
    Problems(Vec<SourceProblem>),
    /// The named source has delivered its initial state ([`PLATFORM`] or [`LICENSE`]).
    Synced(&'static str),
}

/// Name of the platform resources' source in [`SourceEvent::Synced`].
pub const PLATFORM: &str = "platform";
/// Name of the license source in [`SourceEvent::Synced`].
pub const LICENSE: &str = "license";

/// A file or document that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceProblem {
    /// The file (or the Kubernetes object) it came from.
    pub source: String,
    /// Why it was skipped.
    pub reason: String,
}

/// One resource read from the directory, with the JSON it was parsed from (to notice changes).
#[derive(Debug, Clone)]
pub struct LoadedResource {
    pub json: Value,
    pub resource: PlatformResource,
}

/// The usable resources of a directory and the problems met.
#[derive(Debug, Default, Clone)]
pub struct PlatformDirContents {
    pub resources: BTreeMap<InputRef, LoadedResource>,
    pub problems: Vec<SourceProblem>,
}

/// Parses the documents of one file into `contents`; `default_namespace` fills a missing
/// `metadata.namespace`.
pub fn parse_platform_file(
    path: &Path,
    text: &str,
    default_namespace: &str,
    contents: &mut PlatformDirContents,
) {
    let source = path.display().to_string();
    let problem = |reason: String| SourceProblem {
        source: source.clone(),
        reason,
    };
    let docs = match parse_documents(text) {
        Ok(d) => d,
        Err(e) => {
            contents
                .problems
                .push(problem(format!("not valid YAML or JSON: {e}")));
            return;
        }
    };
    for (i, mut doc) in docs.into_iter().enumerate() {
        let at = format!("document {}", i + 1);
        let Some(obj) = doc.as_object_mut() else {
            contents
                .problems
                .push(problem(format!("{at}: not an object")));
            continue;
        };
        let kind = obj
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if InputKind::from_kind(&kind).is_none() {
            contents.problems.push(problem(format!(
                "{at}: kind {kind:?} is not a platform resource (expected Workspace, VirtualDestination, RouteTable, VirtualGateway, AccessPolicy or KubernetesCluster)"
            )));
            continue;
        }
        if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
            let missing = meta
                .get("namespace")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty);
            if missing {
                meta.insert("namespace".into(), Value::String(default_namespace.into()));
            }
        }
        let body = match serde_json::to_vec(&doc) {
            Ok(b) => b,
            Err(e) => {
                contents.problems.push(problem(format!("{at}: {e}")));
                continue;
            }
        };
        let resource = match PlatformResource::from_json(&kind, &body) {
            Ok(r) => r,
            Err(e) => {
                contents.problems.push(problem(format!("{at}: {e}")));
                continue;
            }
        };
        let r = resource.input_ref();
        if r.name.is_empty() {
            contents
                .problems
                .push(problem(format!("{at}: {kind} without metadata.name")));
            continue;
        }
        if contents.resources.contains_key(&r) {
            contents.problems.push(problem(format!(
                "{at}: {r} is defined twice; the first definition is used"
            )));
            continue;
        }
        contents.resources.insert(
            r,
            LoadedResource {
                json: doc,
                resource,
            },
        );
    }
}

/// Reads every platform resource under `dir` (recursively).
pub fn read_platform_dir(
    dir: &Path,
    default_namespace: &str,
) -> std::io::Result<PlatformDirContents> {
    let mut contents = PlatformDirContents::default();
    for path in list_files(dir)? {
        let problem = |reason: String| SourceProblem {
            source: path.display().to_string(),
            reason,
        };
        match std::fs::metadata(&path) {
            Ok(m) if m.len() > MAX_FILE_BYTES => {
                contents.problems.push(problem(format!(
                    "file is {} bytes, over the limit of {MAX_FILE_BYTES}",
                    m.len()
                )));
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                contents.problems.push(problem(e.to_string()));
                continue;
            }
        }
        match std::fs::read_to_string(&path) {
            Ok(text) => parse_platform_file(&path, &text, default_namespace, &mut contents),
            Err(e) => contents.problems.push(problem(e.to_string())),
        }
    }
    Ok(contents)
}

/// The changes that turn `old` into `new`: upserts of new or changed resources, deletes of
/// vanished ones.
pub fn diff_resources(
    old: &BTreeMap<InputRef, LoadedResource>,
    new: &BTreeMap<InputRef, LoadedResource>,
) -> Vec<InputChange> {
    let mut changes: Vec<InputChange> = old
        .keys()
        .filter(|r| !new.contains_key(*r))
        .map(|r| InputChange::Delete(r.clone()))
        .collect();
    for (r, loaded) in new {
        if old.get(r).is_none_or(|o| o.json != loaded.json) {
            changes.push(InputChange::Upsert(loaded.resource.clone()));
        }
    }
    changes
}

/// The platform resources of a directory, polled for changes.
#[derive(Debug, Clone)]
pub struct DirPlatformSource {
    dir: PathBuf,
    default_namespace: String,
    interval: Duration,
}

impl DirPlatformSource {
    /// Reads `dir` every `interval` (clamped to [`MIN_POLL_INTERVAL`]..[`MAX_POLL_INTERVAL`]);
    /// resources without a namespace are placed in `default_namespace`.
    pub fn new(dir: PathBuf, default_namespace: impl Into<String>, interval: Duration) -> Self {
        Self {
            dir,
            default_namespace: default_namespace.into(),
            interval: interval.clamp(MIN_POLL_INTERVAL, MAX_POLL_INTERVAL),
        }
    }

    /// Polls until `cancel` (or until the receiver is gone), sending the differences.
    pub async fn run(self, events: mpsc::Sender<SourceEvent>, cancel: CancellationToken) {
        let mut last_fingerprint: Option<String> = None;
        let mut held: BTreeMap<InputRef, LoadedResource> = BTreeMap::new();
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let dir = self.dir.clone();
            let ns = self.default_namespace.clone();
            let previous = last_fingerprint.clone();
            let scan = tokio::task::spawn_blocking(move || {
                let fp = fingerprint(&dir)?;
                if previous.as_deref() == Some(fp.as_str()) {
                    return Ok(None);
                }
                read_platform_dir(&dir, &ns).map(|c| Some((fp, c)))
            })
            .await;
            let (fp, contents) = match scan {
                Ok(Ok(Some(found))) => found,
                Ok(Ok(None)) => continue,
                Ok(Err(e)) => {
                    tracing::warn!(dir = %self.dir.display(), error = %e, "reading the config dir failed");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "config dir scan task failed");
                    continue;
                }
            };
            for p in &contents.problems {
                tracing::warn!(file = %p.source, reason = %p.reason, "platform resource skipped");
            }
            let changes = diff_resources(&held, &contents.resources);
            tracing::debug!(
                dir = %self.dir.display(),
                resources = contents.resources.len(),
                changes = changes.len(),
                "config dir read"
            );
            let problems = SourceEvent::Problems(contents.problems);
            if events.send(problems).await.is_err() {
                return;
            }
            if !changes.is_empty() && events.send(SourceEvent::Changes(changes)).await.is_err() {
                return;
            }
            if last_fingerprint.is_none()
                && events.send(SourceEvent::Synced(PLATFORM)).await.is_err()
            {
                return;
            }
            held = contents.resources;
            last_fingerprint = Some(fp);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const VD: &str = "apiVersion: networking.meshctl.dev/v1alpha1
kind: VirtualDestination
metadata: {name: reviews}
spec:
  hosts: [reviews.global]
  ports: [{number: 9080, protocol: HTTP}]
  services: [{labels: {app: reviews}}]
";

    fn parse(text: &str) -> PlatformDirContents {
        let mut c = PlatformDirContents::default();
        parse_platform_file(Path::new("x.yaml"), text, "mesh-system", &mut c);
        c
    }

    #[test]
    fn resources_get_the_default_namespace_and_bad_documents_are_reported() {
        let text = format!(
            "{VD}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x}}\n---\nkind: RouteTable\nmetadata: {{name: r}}\nspec: 7\n"
        );
        let c = parse(&text);
        let refs: Vec<_> = c.resources.keys().map(ToString::to_string).collect();
        assert_eq!(refs, ["VirtualDestination mesh-system/reviews"]);
        assert_eq!(c.problems.len(), 2, "{:?}", c.problems);
        assert!(c.problems[0].reason.contains("ConfigMap"));
        assert!(c.problems[0].source.ends_with("x.yaml"));
        assert!(c.problems[1].reason.starts_with("document 3:"));
    }

    #[test]
    fn invalid_yaml_is_one_problem() {
        let c = parse("kind: [unclosed");
        assert!(c.resources.is_empty());
        assert_eq!(c.problems.len(), 1);
    }

    #[test]
    fn duplicates_keep_the_first() {
        let c = parse(&format!("{VD}---\n{VD}"));
        assert_eq!(c.resources.len(), 1);
        assert!(c.problems[0].reason.contains("defined twice"));
    }

    #[test]
    fn diff_sends_only_changes_and_deletes() {
        let a = parse(VD).resources;
        assert_eq!(diff_resources(&BTreeMap::new(), &a).len(), 1);
        assert!(diff_resources(&a, &a).is_empty());
        let b = parse(&VD.replace("9080", "9081")).resources;
        assert!(matches!(
            diff_resources(&a, &b).as_slice(),
            [InputChange::Upsert(_)]
        ));
        assert!(matches!(
            diff_resources(&a, &BTreeMap::new()).as_slice(),
            [InputChange::Delete(r)] if r.name == "reviews"
        ));
    }

    #[tokio::test]
    async fn the_directory_is_polled_for_changes() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("vd.yaml"), VD).unwrap();
        let (tx, mut rx) = mpsc::channel(SOURCE_EVENTS_BUFFER);
        let cancel = CancellationToken::new();
        let task = tokio::spawn(
            DirPlatformSource::new(tmp.path().into(), "ns", Duration::from_millis(10))
                .run(tx, cancel.clone()),
        );
        let mut next_changes = async || loop {
            if let Some(SourceEvent::Changes(c)) = rx.recv().await {
                return c;
            }
        };
        assert!(matches!(
            next_changes().await.as_slice(),
            [InputChange::Upsert(_)]
        ));
        std::fs::remove_file(tmp.path().join("vd.yaml")).unwrap();
        assert!(matches!(
            next_changes().await.as_slice(),
            [InputChange::Delete(_)]
        ));
        cancel.cancel();
        task.await.unwrap();
    }
}
