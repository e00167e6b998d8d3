//! Where the agent applies configuration. The directory sink writes one YAML file per
//! resource into a directory it owns and prunes withdrawn ones.

use crate::relay::proto;
use crate::relay::resource::{body_json, from_json, key_of};
use crate::relay::resource_files::{list_files, parse_documents};
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A resource that could not be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyError {
    pub key: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
}

#[async_trait]
pub trait ConfigSink: Send + Sync + 'static {
    /// What is applied now: key -> hash (sent in Hello so only differences travel).
    async fn held(&self) -> Result<HashMap<String, String>, SinkError>;
    /// Applies upserts and removes `deletes` (key strings); returns per-resource errors.
    async fn apply(&self, upserts: Vec<proto::Resource>, deletes: Vec<String>) -> Vec<ApplyError>;
}

/// A sink that keeps what it applied in memory (simulated agents, benchmarks, demos):
/// every valid resource is accepted.
#[derive(Debug, Default)]
pub struct MemorySink {
    held: Mutex<HashMap<String, String>>,
}

impl MemorySink {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many resources are applied.
    pub fn len(&self) -> usize {
        match self.held.lock() {
            Ok(g) => g.len(),
            Err(p) => p.into_inner().len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl ConfigSink for MemorySink {
    async fn held(&self) -> Result<HashMap<String, String>, SinkError> {
        let g = match self.held.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        Ok(g.clone())
    }

    async fn apply(&self, upserts: Vec<proto::Resource>, deletes: Vec<String>) -> Vec<ApplyError> {
        let mut g = match self.held.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        for r in upserts {
            g.insert(key_of(&r), r.hash);
        }
        for key in deletes {
            g.remove(&key);
        }
        Vec::new()
    }
}

/// One YAML file per resource under a directory the agent owns.
#[derive(Debug)]
pub struct DirSink {
    dir: PathBuf,
    /// key -> (file, hash); rebuilt from the files at start.
    index: Mutex<HashMap<String, (PathBuf, String)>>,
}

/// The file name of a resource: readable prefix plus a hash of the key (unique).
pub fn file_name(r: &proto::Resource) -> String {
    let key = key_of(r);
    let h = hex::encode(Sha256::digest(key.as_bytes()));
    let ns = if r.namespace.is_empty() {
        "_cluster"
    } else {
        &r.namespace
    };
    let name: String = r
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{}.{}.{}.{}.yaml",
        r.kind.to_lowercase(),
        ns,
        name,
        &h[..10]
    )
}

fn io(path: &Path, e: impl std::fmt::Display) -> SinkError {
    SinkError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

impl DirSink {
    /// Opens (creating) `dir` and indexes the files already in it.
    pub async fn open(dir: PathBuf) -> Result<Self, SinkError> {
        let d = dir.clone();
        let index = tokio::task::spawn_blocking(move || -> Result<_, SinkError> {
            std::fs::create_dir_all(&d).map_err(|e| io(&d, e))?;
            let mut index = HashMap::new();
            for path in list_files(&d).map_err(|e| io(&d, e))? {
                let Ok(text) = std::fs::read_to_string(&path) else { continue };
                let Ok(docs) = parse_documents(&text) else {
                    tracing::warn!(path = %path.display(), "sink file is not valid YAML; it will be replaced");
                    continue;
                };
                if let [doc] = docs.as_slice()
                    && let Ok(r) = from_json(doc)
                {
                    index.insert(key_of(&r), (path, r.hash));
                }
            }
            Ok(index)
        })
        .await
        .map_err(|e| io(&dir, e))??;
        Ok(Self {
            dir,
            index: Mutex::new(index),
        })
    }

    fn apply_one(&self, r: &proto::Resource) -> Result<(PathBuf, String), String> {
        let body = body_json(r).map_err(|e| e.to_string())?;
        // The file must describe itself so that it can be indexed after a restart.
        let complete = from_json(&body).map_err(|e| format!("not applied: {e}"))?;
        if key_of(&complete) != key_of(r) {
            return Err("not applied: the body must carry apiVersion, kind, metadata.name and metadata.namespace matching the resource".into());
        }
        let yaml = serde_saphyr::to_string(&body).map_err(|e| e.to_string())?;
        let path = self.dir.join(file_name(r));
        let tmp = path.with_extension("yaml.tmp");
        std::fs::write(&tmp, yaml.as_bytes())
            .map_err(|e| format!("writing {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &path).map_err(|e| format!("writing {}: {e}", path.display()))?;
        Ok((path, complete.hash))
    }
}

#[async_trait]
impl ConfigSink for DirSink {
    async fn held(&self) -> Result<HashMap<String, String>, SinkError> {
        let g = match self.index.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        Ok(g.iter().map(|(k, (_, h))| (k.clone(), h.clone())).collect())
    }

    async fn apply(&self, upserts: Vec<proto::Resource>, deletes: Vec<String>) -> Vec<ApplyError> {
        let mut errors = Vec::new();
        let mut applied = Vec::new();
        for r in &upserts {
            match self.apply_one(r) {
                Ok((path, hash)) => applied.push((key_of(r), path, hash)),
                Err(message) => errors.push(ApplyError {
                    key: key_of(r),
                    message,
                }),
            }
        }
        let mut g = match self.index.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        for (key, path, hash) in applied {
            g.insert(key, (path, hash));
        }
        for key in deletes {
            if let Some((path, _)) = g.remove(&key)
                && let Err(e) = std::fs::remove_file(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                errors.push(ApplyError {
                    key,
                    message: format!("removing {}: {e}", path.display()),
                });
            }
        }
        errors
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn res(name: &str, v: &str) -> proto::Resource {
        from_json(&json!({"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"hosts": [format!("{name}.global")], "ports": [{"number": 80, "weight": 1.5}], "flag": "yes", "short": "n", "on": "on", "v": v}}))
        .unwrap()
    }

    #[tokio::test]
    async fn applies_prunes_and_reindexes_with_the_same_hashes() {
        let tmp = tempfile::tempdir().unwrap();
        let sink = DirSink::open(tmp.path().join("out")).await.unwrap();
        let (a, b) = (res("a", "1"), res("b", "1"));
        assert!(
            sink.apply(vec![a.clone(), b.clone()], vec![])
                .await
                .is_empty()
        );
        assert_eq!(list_files(&tmp.path().join("out")).unwrap().len(), 2);
        let errs = sink.apply(vec![], vec![key_of(&a)]).await;
        assert!(errs.is_empty());
        assert_eq!(list_files(&tmp.path().join("out")).unwrap().len(), 1);
        let reopened = DirSink::open(tmp.path().join("out")).await.unwrap();
        let held = reopened.held().await.unwrap();
        assert_eq!(
            held.get(&key_of(&b)),
            Some(&b.hash),
            "YAML round trip keeps the hash"
        );
    }

    #[tokio::test]
    async fn memory_sink_applies_and_deletes() {
        let sink = MemorySink::new();
        let (a, b) = (res("a", "1"), res("b", "1"));
        assert!(sink.apply(vec![a.clone(), b], vec![]).await.is_empty());
        assert_eq!(sink.len(), 2);
        sink.apply(vec![], vec![key_of(&a)]).await;
        assert_eq!(sink.len(), 1);
        assert!(!sink.held().await.unwrap().contains_key(&key_of(&a)));
    }

    #[tokio::test]
    async fn incomplete_bodies_are_per_resource_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let sink = DirSink::open(tmp.path().to_path_buf()).await.unwrap();
        let body = json!({"metadata": {"name": "x"}});
        let r = proto::Resource {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: String::new(),
            name: "x".into(),
            hash: crate::relay::hash::hash_value(&body),
            body: serde_json::to_vec(&body).unwrap().into(),
        };
        let good = res("ok", "1");
        let errs = sink.apply(vec![r, good], vec![]).await;
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].key, "v1/ConfigMap//x");
        assert_eq!(sink.held().await.unwrap().len(), 1);
    }
}
