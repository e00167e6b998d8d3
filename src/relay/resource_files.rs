//! Resources kept as YAML files in a directory (the agent's directory source and sink,
//! the server's `--config-dir`). Reading is synchronous; callers run it on a blocking
//! thread.

use crate::relay::proto;
use crate::relay::resource::{from_json, key_of};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// Files larger than this are refused.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// At most this many files are read from one directory tree.
pub const MAX_FILES: usize = 50_000;

/// A file or document that could not be turned into a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    pub path: PathBuf,
    pub message: String,
}

/// The resources of a directory tree, and the problems met reading it.
#[derive(Debug, Default, Clone)]
pub struct LoadedResources {
    pub resources: BTreeMap<String, proto::Resource>,
    pub problems: Vec<FileProblem>,
}

fn is_resource_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// Lists resource files under `dir` (recursively, sorted, hidden entries skipped).
pub fn list_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let ft = entry.file_type()?;
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_file() && is_resource_file(&path) {
                out.push(path);
                if out.len() >= MAX_FILES {
                    break;
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A cheap fingerprint of the files under `dir` (names, sizes, modification times),
/// used to notice changes by polling.
pub fn fingerprint(dir: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for path in list_files(dir)? {
        let meta = std::fs::metadata(&path)?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        h.update(path.to_string_lossy().as_bytes());
        h.update(meta.len().to_le_bytes());
        h.update(mtime.to_le_bytes());
    }
    Ok(hex::encode(h.finalize()))
}

/// Parses the documents of one YAML (or JSON) text into JSON values; `List` objects
/// are flattened into their items and empty documents skipped.
pub fn parse_documents(text: &str) -> Result<Vec<Value>, String> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for doc in docs {
        match doc {
            Value::Null => {}
            Value::Object(ref obj)
                if obj.get("kind").and_then(Value::as_str) == Some("List")
                    && obj.get("items").is_some_and(Value::is_array) =>
            {
                if let Some(Value::Array(items)) = obj.get("items") {
                    out.extend(items.iter().cloned());
                }
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

/// Reads every resource under `dir`. Bad files and documents are reported as problems
/// and skipped; a duplicate key keeps the first occurrence.
pub fn load_dir(dir: &Path) -> std::io::Result<LoadedResources> {
    let mut loaded = LoadedResources::default();
    for path in list_files(dir)? {
        let problem = |message: String| FileProblem {
            path: path.clone(),
            message,
        };
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                loaded.problems.push(problem(e.to_string()));
                continue;
            }
        };
        if meta.len() > MAX_FILE_BYTES {
            loaded.problems.push(problem(format!(
                "file is {} bytes, over the limit of {MAX_FILE_BYTES}",
                meta.len()
            )));
            continue;
        }
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                loaded.problems.push(problem(e.to_string()));
                continue;
            }
        };
        let docs = match parse_documents(&text) {
            Ok(d) => d,
            Err(e) => {
                loaded
                    .problems
                    .push(problem(format!("not valid YAML: {e}")));
                continue;
            }
        };
        for (i, doc) in docs.iter().enumerate() {
            match from_json(doc) {
                Ok(r) => {
                    let key = key_of(&r);
                    if let std::collections::btree_map::Entry::Vacant(e) =
                        loaded.resources.entry(key.clone())
                    {
                        e.insert(r);
                    } else {
                        loaded
                            .problems
                            .push(problem(format!("document {i}: duplicate resource {key}")));
                    }
                }
                Err(e) => loaded.problems.push(problem(format!("document {i}: {e}"))),
            }
        }
    }
    Ok(loaded)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn loads_multi_document_files_and_reports_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.yaml"),
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(
            dir.path().join("sub/list.yaml"),
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: cm, namespace: shop}\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("bad.yaml"), "kind: [unclosed\n").unwrap();
        std::fs::write(
            dir.path().join("noname.yaml"),
            "apiVersion: v1\nkind: Service\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("ignored.txt"), "hello").unwrap();
        let loaded = load_dir(dir.path()).unwrap();
        let keys: Vec<_> = loaded.resources.keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "v1/ConfigMap/shop/cm",
                "v1/Namespace//shop",
                "v1/Service/shop/web"
            ]
        );
        assert_eq!(loaded.problems.len(), 2, "{:?}", loaded.problems);
    }

    #[test]
    fn fingerprint_changes_when_a_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let a = fingerprint(dir.path()).unwrap();
        std::fs::write(dir.path().join("x.yaml"), "a: 1").unwrap();
        let b = fingerprint(dir.path()).unwrap();
        assert_ne!(a, b);
        std::fs::write(dir.path().join("x.yaml"), "a: 12").unwrap();
        assert_ne!(b, fingerprint(dir.path()).unwrap());
    }
}
