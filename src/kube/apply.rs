//! Server-side apply of rendered manifests (field manager `meshctl`), in apply order, with the objects
//! of one rank applied concurrently. Each object is reported as created, configured or unchanged by
//! comparing its resourceVersion before and after.

// ApplyError keeps the kube::Error itself (not boxed) so that the exit-code mapping recognises it in
// the error chain; errors are rare, so their size does not matter.
#![allow(clippy::result_large_err)]

use std::fmt;
use std::time::Duration;

use futures::{StreamExt, stream};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde::Serialize;
use serde_json::Value;

use super::resources::{ResolveError, Resolved, Resolver};
use super::wait::{self, WaitError};
use crate::manifests::{Document, order};

/// The field manager of every apply meshctl makes.
pub const FIELD_MANAGER: &str = "meshctl";

/// Objects applied at once within one rank of the apply order.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// What applying did to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApplyAction {
    /// It did not exist.
    Created,
    /// It existed and changed.
    Configured,
    /// It existed and nothing changed.
    Unchanged,
}

impl fmt::Display for ApplyAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Created => "created",
            Self::Configured => "configured",
            Self::Unchanged => "unchanged",
        })
    }
}

/// One applied object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// Kind.
    pub kind: String,
    /// Namespace, for namespaced objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// The component it belongs to.
    pub component: String,
    /// What happened.
    pub action: ApplyAction,
}

/// Why an object could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Another field manager owns fields meshctl sets.
    #[error(
        "{object}: conflict with another field manager: {message}. Another tool (kubectl, Helm, an operator) \
         owns these fields; re-run with --force-conflicts to take them over"
    )]
    Conflict {
        /// `Kind namespace/name`.
        object: String,
        /// The API server's message (names the fields and their manager).
        message: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// The credentials lack a permission.
    #[error("{object}: permission denied: cannot {verb} {resource}{}", in_namespace(.namespace))]
    Forbidden {
        /// `Kind namespace/name`.
        object: String,
        /// The verb that was refused (`get`, `patch`, ...).
        verb: &'static str,
        /// `plural.group`, as RBAC names it.
        resource: String,
        /// Namespace of the request, for namespaced kinds.
        namespace: Option<String>,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// The cluster does not know the kind.
    #[error("{object}: {source}")]
    UnknownKind {
        /// `Kind namespace/name`.
        object: String,
        /// Discovery's error.
        #[source]
        source: ResolveError,
    },
    /// A namespaced document without a namespace (a template bug).
    #[error("{object}: namespaced object has no metadata.namespace")]
    NoNamespace {
        /// `Kind name`.
        object: String,
    },
    /// Any other API failure (unreachable cluster, timeout, invalid object).
    #[error("{object}: {verb} failed: {source}")]
    Api {
        /// `Kind namespace/name`.
        object: String,
        /// The request that failed.
        verb: &'static str,
        /// The error.
        #[source]
        source: kube::Error,
    },
    /// Waiting for CRDs to be established failed.
    #[error(transparent)]
    Wait(#[from] WaitError),
}

fn in_namespace(namespace: &Option<String>) -> String {
    match namespace {
        Some(ns) => format!(" in namespace {ns}"),
        None => " (cluster-wide)".to_owned(),
    }
}

impl ApplyError {
    /// Whether `--force-conflicts` would help.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Conflict { .. })
    }
}

/// Some objects could not be applied: says exactly what was and was not.
#[derive(Debug, thiserror::Error)]
pub struct ApplyFailure {
    /// Objects applied before (or alongside) the failure.
    pub applied: Vec<Applied>,
    /// What failed.
    pub errors: Vec<ApplyError>,
    /// Objects not attempted because an earlier rank failed (`Kind namespace/name`).
    pub not_attempted: Vec<String>,
}

impl fmt::Display for ApplyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failed = self.errors.len();
        write!(
            f,
            "{failed} object{} failed to apply",
            if failed == 1 { "" } else { "s" }
        )?;
        for err in &self.errors {
            write!(f, "\n  - {err}")?;
        }
        write!(f, "\napplied before the failure: {}", self.applied.len())?;
        for applied in &self.applied {
            write!(
                f,
                "\n  - {} ({})",
                display(&applied.kind, applied.namespace.as_deref(), &applied.name),
                applied.action
            )?;
        }
        if !self.not_attempted.is_empty() {
            write!(f, "\nnot attempted: {}", self.not_attempted.len())?;
            for name in &self.not_attempted {
                write!(f, "\n  - {name}")?;
            }
        }
        write!(
            f,
            "\nfix the cause and re-run the same command: applying is idempotent and resumes where it stopped"
        )
    }
}

fn display(kind: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// How to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Take over fields owned by other managers (`--force-conflicts`).
    pub force_conflicts: bool,
    /// Objects of one rank applied at once.
    pub concurrency: usize,
    /// After applying CRDs, wait this long for them to be Established (`None`: do not wait).
    pub crd_wait: Option<Duration>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            force_conflicts: false,
            concurrency: DEFAULT_CONCURRENCY,
            crd_wait: Some(Duration::from_secs(60)),
        }
    }
}

/// The live object and what it would become, from a server-side dry run.
#[derive(Debug, Clone, PartialEq)]
pub struct DryRun {
    /// `Kind namespace/name`.
    pub object: String,
    /// The object as it is now (`None`: it does not exist).
    pub live: Option<Value>,
    /// The object as it would be after applying.
    pub planned: Value,
}

/// Applies documents to one cluster.
#[derive(Clone)]
pub struct Applier {
    client: kube::Client,
    resolver: Resolver,
    options: ApplyOptions,
}

impl fmt::Debug for Applier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Applier")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Applier {
    /// An applier over `client`.
    pub fn new(client: kube::Client, options: ApplyOptions) -> Self {
        Self {
            resolver: Resolver::new(client.clone()),
            client,
            options,
        }
    }

    /// The client it applies with.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    async fn api_for(&self, doc: &Document) -> Result<(Api<DynamicObject>, Resolved), ApplyError> {
        let resolved = self
            .resolver
            .resolve(&doc.api_version, &doc.kind)
            .await
            .map_err(|source| ApplyError::UnknownKind {
                object: doc.display_name(),
                source,
            })?;
        let api = if resolved.namespaced {
            let namespace = doc
                .namespace
                .as_deref()
                .ok_or_else(|| ApplyError::NoNamespace {
                    object: doc.display_name(),
                })?;
            Api::namespaced_with(self.client.clone(), namespace, &resolved.resource)
        } else {
            Api::all_with(self.client.clone(), &resolved.resource)
        };
        Ok((api, resolved))
    }

    fn params(&self) -> PatchParams {
        let params = PatchParams::apply(FIELD_MANAGER).validation_strict();
        if self.options.force_conflicts {
            params.force()
        } else {
            params
        }
    }

    /// Applies one document.
    pub async fn apply_one(&self, doc: &Document) -> Result<Applied, ApplyError> {
        let (api, resolved) = self.api_for(doc).await?;
        let fail = |verb: &'static str| {
            let resolved = resolved.clone();
            move |err| api_error(doc, &resolved, verb, err)
        };
        let before = api.get_opt(&doc.name).await.map_err(fail("get"))?;
        let after = api
            .patch(&doc.name, &self.params(), &Patch::Apply(&doc.object))
            .await
            .map_err(fail("patch"))?;
        let action = match before {
            None => ApplyAction::Created,
            Some(before) if before.metadata.resource_version == after.metadata.resource_version => {
                ApplyAction::Unchanged
            }
            Some(_) => ApplyAction::Configured,
        };
        Ok(Applied {
            kind: doc.kind.clone(),
            namespace: doc.namespace.clone(),
            name: doc.name.clone(),
            component: doc.component.as_str().to_owned(),
            action,
        })
    }

    /// Server-side dry run of one document: the live object and what applying would make of it.
    /// A namespaced object whose namespace does not exist yet is shown as the rendered document.
    pub async fn dry_run_one(
        &self,
        doc: &Document,
        namespace_planned: bool,
    ) -> Result<DryRun, ApplyError> {
        let (api, resolved) = self.api_for(doc).await?;
        let live = api
            .get_opt(&doc.name)
            .await
            .map_err(|err| api_error(doc, &resolved, "get", err))?;
        let planned = match api
            .patch(
                &doc.name,
                &self.params().dry_run(),
                &Patch::Apply(&doc.object),
            )
            .await
        {
            Ok(object) => to_value(doc, &resolved, object)?,
            Err(kube::Error::Api(status))
                if status.code == 404
                    && resolved.namespaced
                    && namespace_planned
                    && live.is_none() =>
            {
                doc.object.clone()
            }
            Err(err) => return Err(api_error(doc, &resolved, "patch", err)),
        };
        let live = match live {
            Some(object) => Some(to_value(doc, &resolved, object)?),
            None => None,
        };
        Ok(DryRun {
            object: doc.display_name(),
            live,
            planned,
        })
    }

    /// Applies documents (sorted in apply order) rank by rank; objects of one rank concurrently. Stops
    /// after the first rank with a failure. `on_applied` is called as each object is done.
    pub async fn apply_all(
        &self,
        documents: &[Document],
        on_applied: &(dyn Fn(&Applied) + Send + Sync),
    ) -> Result<Vec<Applied>, ApplyFailure> {
        let waves = order::waves(documents);
        let mut applied = Vec::with_capacity(documents.len());
        for (index, wave) in waves.iter().enumerate() {
            let mut results: Vec<(usize, Result<Applied, ApplyError>)> =
                stream::iter(wave.iter().enumerate())
                    .map(|(i, doc)| async move {
                        let result = self.apply_one(doc).await;
                        if let Ok(done) = &result {
                            on_applied(done);
                        }
                        (i, result)
                    })
                    .buffer_unordered(self.options.concurrency.max(1))
                    .collect()
                    .await;
            results.sort_by_key(|(i, _)| *i);
            let mut errors = Vec::new();
            for (_, result) in results {
                match result {
                    Ok(done) => applied.push(done),
                    Err(err) => errors.push(err),
                }
            }
            if errors.is_empty()
                && let Some(timeout) = self.options.crd_wait
            {
                let crds: Vec<&str> = wave
                    .iter()
                    .filter(|d| d.kind == "CustomResourceDefinition")
                    .map(|d| d.name.as_str())
                    .collect();
                if !crds.is_empty()
                    && let Err(err) = wait::crds_established(&self.client, &crds, timeout).await
                {
                    errors.push(ApplyError::Wait(err));
                }
            }
            if !errors.is_empty() {
                let not_attempted = waves[index + 1..]
                    .iter()
                    .flat_map(|w| w.iter())
                    .map(Document::display_name)
                    .collect();
                return Err(ApplyFailure {
                    applied,
                    errors,
                    not_attempted,
                });
            }
        }
        Ok(applied)
    }
}

fn to_value(
    doc: &Document,
    resolved: &Resolved,
    object: DynamicObject,
) -> Result<Value, ApplyError> {
    serde_json::to_value(object)
        .map_err(|err| ApplyError::Api {
            object: doc.display_name(),
            verb: "decode",
            source: kube::Error::SerdeError(err),
        })
        .map(|mut value| {
            // DynamicObject drops apiVersion/kind when the server omits them; put them back for diffs.
            if let Some(map) = value.as_object_mut() {
                map.insert(
                    "apiVersion".to_owned(),
                    Value::String(resolved.resource.api_version.clone()),
                );
                map.insert(
                    "kind".to_owned(),
                    Value::String(resolved.resource.kind.clone()),
                );
            }
            value
        })
}

fn api_error(
    doc: &Document,
    resolved: &Resolved,
    verb: &'static str,
    err: kube::Error,
) -> ApplyError {
    let object = doc.display_name();
    match &err {
        kube::Error::Api(status) if status.code == 409 => ApplyError::Conflict {
            object,
            message: status.message.clone(),
            source: err,
        },
        kube::Error::Api(status) if status.code == 403 => ApplyError::Forbidden {
            object,
            verb,
            resource: resolved.rbac_name(),
            namespace: if resolved.namespaced {
                doc.namespace.clone()
            } else {
                None
            },
            source: err,
        },
        _ => ApplyError::Api {
            object,
            verb,
            source: err,
        },
    }
}
