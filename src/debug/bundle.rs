//! The support bundle: files collected in memory, then written as one `.tar.gz` (mode 0600,
//! through a temporary file renamed into place, so a bundle is never half written) with a
//! `manifest.json` listing every file and everything that could not be collected.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;
use serde_json::Value;

/// Largest file kept in a bundle; a longer one is cut (and says so at its end).
pub const MAX_FILE_BYTES: usize = 16 * 1024 * 1024;

/// Something that could not be collected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// What was being collected, e.g. `mgmt/mesh-system/pods.yaml`.
    pub what: String,
    pub error: String,
}

/// One file of the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BundleFile {
    pub path: String,
    pub bytes: u64,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub meshctl_version: String,
    pub collected_at: jiff::Timestamp,
    pub files: Vec<BundleFile>,
    pub problems: Vec<Problem>,
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot write the bundle {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode {what}: {message}")]
    Encode { what: String, message: String },
}

/// The files and problems of a bundle being collected. Paths are relative to `root`, the one
/// directory the archive unpacks into.
#[derive(Debug)]
pub struct Bundle {
    root: String,
    files: Vec<(String, Vec<u8>)>,
    problems: Vec<Problem>,
}

impl Bundle {
    pub fn new(root: impl Into<String>) -> Self {
        Self {
            root: root.into(),
            files: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// Adds a file (cut at [`MAX_FILE_BYTES`]).
    pub fn add(&mut self, path: impl Into<String>, mut bytes: Vec<u8>) {
        if bytes.len() > MAX_FILE_BYTES {
            bytes.truncate(MAX_FILE_BYTES);
            bytes.extend_from_slice(b"\n[meshctl debug report: cut at 16 MiB]\n");
        }
        self.files.push((path.into(), bytes));
    }

    /// Adds `value` as a YAML file.
    pub fn add_yaml(&mut self, path: impl Into<String>, value: &Value) {
        let path = path.into();
        match serde_saphyr::to_string(value) {
            Ok(text) => self.add(path, text.into_bytes()),
            Err(e) => self.problem(path, format!("cannot encode as YAML: {e}")),
        }
    }

    /// Records that `what` could not be collected.
    pub fn problem(&mut self, what: impl Into<String>, error: impl Into<String>) {
        self.problems.push(Problem {
            what: what.into(),
            error: error.into(),
        });
    }

    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The files so far (paths relative to the root).
    pub fn files(&self) -> Vec<BundleFile> {
        self.files
            .iter()
            .map(|(path, bytes)| BundleFile {
                path: path.clone(),
                bytes: bytes.len() as u64,
            })
            .collect()
    }

    /// The manifest of what was collected.
    pub fn manifest(&self, collected_at: jiff::Timestamp) -> Manifest {
        Manifest {
            meshctl_version: crate::version::VERSION.to_owned(),
            collected_at,
            files: self.files(),
            problems: self.problems.clone(),
        }
    }

    /// Writes the archive to `path`; returns its size in bytes.
    pub fn write(&self, path: &Path, collected_at: jiff::Timestamp) -> Result<u64, BundleError> {
        let manifest = serde_json::to_vec_pretty(&self.manifest(collected_at)).map_err(|e| {
            BundleError::Encode {
                what: "manifest.json".into(),
                message: e.to_string(),
            }
        })?;
        let failed = |source: std::io::Error| BundleError::Write {
            path: path.to_owned(),
            source,
        };
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "bundle".into());
        let partial = path.with_file_name(format!(".{file_name}.partial"));
        let result = (|| {
            let file = create_private(&partial)?;
            let mut tar = tar::Builder::new(GzEncoder::new(file, Compression::default()));
            let mtime = u64::try_from(collected_at.as_second()).unwrap_or(0);
            let entries = self
                .files
                .iter()
                .map(|(p, b)| (p.as_str(), b.as_slice()))
                .chain(std::iter::once(("manifest.json", manifest.as_slice())));
            for (relative, bytes) in entries {
                let mut header = tar::Header::new_gnu();
                header.set_size(bytes.len() as u64);
                header.set_mode(0o600);
                header.set_mtime(mtime);
                header.set_entry_type(tar::EntryType::Regular);
                tar.append_data(&mut header, format!("{}/{relative}", self.root), bytes)?;
            }
            let mut file = tar.into_inner()?.finish()?;
            file.flush()?;
            file.sync_all()?;
            std::fs::rename(&partial, path)?;
            std::fs::metadata(path).map(|m| m.len())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        result.map_err(failed)
    }
}

#[cfg(unix)]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::create(path)
}

/// The entries of a bundle written by [`Bundle::write`]: (path, content). For tests and tools.
pub fn read(path: &Path) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let file = std::fs::File::open(path)?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = entry.path()?.to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes)?;
        out.push((name, bytes));
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn writes_files_and_a_manifest_under_one_root() {
        let dir = tempfile::tempdir().unwrap();
        let mut bundle = Bundle::new("meshctl-debug-x");
        bundle.add("a/b.txt", b"hello".to_vec());
        bundle.add_yaml("c.yaml", &json!({"k": "v"}));
        bundle.problem("d.log", "pod has no logs");
        let path = dir.path().join("out.tar.gz");
        let at: jiff::Timestamp = "2026-11-22T12:00:00Z".parse().unwrap();
        let size = bundle.write(&path, at).unwrap();
        assert_eq!(size, std::fs::metadata(&path).unwrap().len());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let entries = read(&path).unwrap();
        let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "meshctl-debug-x/a/b.txt",
                "meshctl-debug-x/c.yaml",
                "meshctl-debug-x/manifest.json"
            ]
        );
        assert_eq!(entries[0].1, b"hello");
        assert!(String::from_utf8_lossy(&entries[1].1).contains("k: v"));
        let manifest: Value = serde_json::from_slice(&entries[2].1).unwrap();
        assert_eq!(manifest["collected_at"], "2026-11-22T12:00:00Z");
        assert_eq!(manifest["files"][0], json!({"path": "a/b.txt", "bytes": 5}));
        assert_eq!(
            manifest["problems"],
            json!([{"what": "d.log", "error": "pod has no logs"}])
        );
        // No partial file left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn an_unwritable_path_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing/out.tar.gz");
        let err = Bundle::new("r")
            .write(&path, jiff::Timestamp::UNIX_EPOCH)
            .unwrap_err();
        assert!(err.to_string().contains("missing/out.tar.gz"), "{err}");
    }

    #[test]
    fn oversized_files_are_cut() {
        let mut bundle = Bundle::new("r");
        bundle.add("big.log", vec![b'x'; MAX_FILE_BYTES + 10]);
        let files = bundle.files();
        assert!(files[0].bytes < (MAX_FILE_BYTES + 100) as u64);
        assert!(files[0].bytes > MAX_FILE_BYTES as u64);
    }
}
