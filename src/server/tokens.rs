//! Storage of per-cluster bootstrap tokens (hash only) and of which clusters are
//! registered. Checking and consuming a token is atomic.

use crate::relay::identity::{IdentityError, validate_cluster_name};
use crate::relay::token::{self, BootstrapToken, TokenError, TokenHash, TokenRecord};
use crate::server::pki_store::{PkiStoreError, create_private_dir};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum TokenStoreError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Name(#[from] IdentityError),
    #[error("token store I/O on {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("token record {path} is corrupt: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("token store lock poisoned")]
    Poisoned,
}

#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// Issues a new token for `cluster`, replacing any previous one (used or not).
    /// The clear text is returned once and never stored.
    async fn issue(&self, cluster: &str) -> Result<BootstrapToken, TokenStoreError>;
    /// Checks `presented` for `cluster` without consuming it.
    async fn check(&self, cluster: &str, presented: &str) -> Result<(), TokenStoreError>;
    /// Checks `presented` and marks it used, atomically.
    async fn consume(&self, cluster: &str, presented: &str) -> Result<(), TokenStoreError>;
    /// Whether `cluster` has a token record (issued, used or not).
    async fn is_registered(&self, cluster: &str) -> Result<bool, TokenStoreError>;
    /// Removes `cluster` (deregistration).
    async fn remove(&self, cluster: &str) -> Result<(), TokenStoreError>;
}

#[derive(Serialize, Deserialize)]
struct RecordFile {
    hash: String,
    issued_at: i64,
    consumed_at: Option<i64>,
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// The token store: in memory, optionally persisted as `<state-dir>/tokens/<cluster>.json`
/// (mode 0600, hash only).
pub struct LocalTokenStore {
    records: Mutex<HashMap<String, TokenRecord>>,
    dir: Option<PathBuf>,
}

impl std::fmt::Debug for LocalTokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalTokenStore")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl LocalTokenStore {
    pub fn memory() -> Self {
        Self {
            records: Mutex::new(HashMap::new()),
            dir: None,
        }
    }

    /// Opens (creating) `<state_dir>/tokens` and loads every record in it.
    pub fn open_dir(state_dir: &Path) -> Result<Self, TokenStoreError> {
        let dir = state_dir.join("tokens");
        create_private_dir(&dir).map_err(|e| io_err(&dir, e))?;
        let mut records = HashMap::new();
        let entries = std::fs::read_dir(&dir).map_err(|e| io_err(&dir, e))?;
        for entry in entries {
            let path = entry.map_err(|e| io_err(&dir, e))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let Some(cluster) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            if validate_cluster_name(cluster).is_err() {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|e| io_err(&path, e))?;
            let file: RecordFile =
                serde_json::from_str(&text).map_err(|e| TokenStoreError::Corrupt {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            let hash = TokenHash::from_hex(&file.hash).ok_or_else(|| TokenStoreError::Corrupt {
                path: path.clone(),
                message: "hash is not 32 hex-encoded bytes".into(),
            })?;
            records.insert(
                cluster.to_string(),
                TokenRecord {
                    hash,
                    issued_at: file.issued_at,
                    consumed_at: file.consumed_at,
                },
            );
        }
        Ok(Self {
            records: Mutex::new(records),
            dir: Some(dir),
        })
    }

    /// Where the clear-text hand-off file for `cluster` lives (`<dir>/<cluster>.token`),
    /// when persisted. The server writes it at `--cluster` registration and removes it
    /// once the token is used.
    pub fn handoff_path(&self, cluster: &str) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{cluster}.token")))
    }

    fn persist(&self, cluster: &str, record: Option<&TokenRecord>) -> Result<(), TokenStoreError> {
        let Some(dir) = &self.dir else { return Ok(()) };
        let path = dir.join(format!("{cluster}.json"));
        match record {
            None => match std::fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(io_err(&path, e)),
            },
            Some(r) => {
                let text = serde_json::to_vec_pretty(&RecordFile {
                    hash: r.hash.to_hex(),
                    issued_at: r.issued_at,
                    consumed_at: r.consumed_at,
                })
                .map_err(|e| io_err(&path, e))?;
                let tmp = dir.join(format!(".{cluster}.json.tmp"));
                let _ = std::fs::remove_file(&tmp);
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&tmp)
                    .map_err(|e| io_err(&tmp, e))?;
                f.write_all(&text).map_err(|e| io_err(&tmp, e))?;
                f.sync_all().map_err(|e| io_err(&tmp, e))?;
                std::fs::rename(&tmp, &path).map_err(|e| io_err(&path, e))
            }
        }
    }

    /// Writes the clear-text token hand-off file (mode 0600, replacing an old one).
    pub fn write_handoff(
        &self,
        cluster: &str,
        token: &BootstrapToken,
    ) -> Result<Option<PathBuf>, TokenStoreError> {
        let Some(path) = self.handoff_path(cluster) else {
            return Ok(None);
        };
        let _ = std::fs::remove_file(&path);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| io_err(&path, e))?;
        f.write_all(token.expose().as_bytes())
            .map_err(|e| io_err(&path, e))?;
        Ok(Some(path))
    }
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> TokenStoreError {
    TokenStoreError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

impl From<PkiStoreError> for TokenStoreError {
    fn from(e: PkiStoreError) -> Self {
        TokenStoreError::Io {
            path: PathBuf::new(),
            message: e.to_string(),
        }
    }
}

#[async_trait]
impl TokenStore for LocalTokenStore {
    async fn issue(&self, cluster: &str) -> Result<BootstrapToken, TokenStoreError> {
        validate_cluster_name(cluster)?;
        let token = BootstrapToken::generate();
        let record = TokenRecord {
            hash: token.hash(),
            issued_at: now(),
            consumed_at: None,
        };
        let mut g = self.records.lock().map_err(|_| TokenStoreError::Poisoned)?;
        self.persist(cluster, Some(&record))?;
        g.insert(cluster.to_string(), record);
        Ok(token)
    }

    async fn check(&self, cluster: &str, presented: &str) -> Result<(), TokenStoreError> {
        let g = self.records.lock().map_err(|_| TokenStoreError::Poisoned)?;
        Ok(token::check(cluster, g.get(cluster), presented)?)
    }

    async fn consume(&self, cluster: &str, presented: &str) -> Result<(), TokenStoreError> {
        let mut g = self.records.lock().map_err(|_| TokenStoreError::Poisoned)?;
        token::check(cluster, g.get(cluster), presented)?;
        let Some(record) = g.get(cluster).copied() else {
            return Err(TokenError::NotIssued(cluster.to_string()).into());
        };
        let used = TokenRecord {
            consumed_at: Some(now()),
            ..record
        };
        self.persist(cluster, Some(&used))?;
        g.insert(cluster.to_string(), used);
        if let Some(path) = self.handoff_path(cluster) {
            let _ = std::fs::remove_file(path);
        }
        Ok(())
    }

    async fn is_registered(&self, cluster: &str) -> Result<bool, TokenStoreError> {
        let g = self.records.lock().map_err(|_| TokenStoreError::Poisoned)?;
        Ok(g.contains_key(cluster))
    }

    async fn remove(&self, cluster: &str) -> Result<(), TokenStoreError> {
        let mut g = self.records.lock().map_err(|_| TokenStoreError::Poisoned)?;
        self.persist(cluster, None)?;
        g.remove(cluster);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tokens_are_single_use_and_reissuable() {
        let s = LocalTokenStore::memory();
        let t = s.issue("c1").await.unwrap();
        assert!(s.check("c1", t.expose()).await.is_ok());
        s.consume("c1", t.expose()).await.unwrap();
        assert!(matches!(
            s.consume("c1", t.expose()).await,
            Err(TokenStoreError::Token(TokenError::AlreadyUsed(_)))
        ));
        let t2 = s.issue("c1").await.unwrap();
        assert!(matches!(
            s.consume("c1", t.expose()).await,
            Err(TokenStoreError::Token(TokenError::Mismatch(_)))
        ));
        s.consume("c1", t2.expose()).await.unwrap();
        assert!(s.is_registered("c1").await.unwrap());
        s.remove("c1").await.unwrap();
        assert!(!s.is_registered("c1").await.unwrap());
        assert!(s.issue("Bad Name").await.is_err());
    }

    #[tokio::test]
    async fn dir_store_persists_hashes_only_and_consumption() {
        let tmp = tempfile::tempdir().unwrap();
        let s = LocalTokenStore::open_dir(tmp.path()).unwrap();
        let t = s.issue("c1").await.unwrap();
        let handoff = s.write_handoff("c1", &t).unwrap().unwrap();
        let record = std::fs::read_to_string(tmp.path().join("tokens/c1.json")).unwrap();
        assert!(!record.contains(t.expose()));
        s.consume("c1", t.expose()).await.unwrap();
        assert!(!handoff.exists());
        let reopened = LocalTokenStore::open_dir(tmp.path()).unwrap();
        assert!(matches!(
            reopened.consume("c1", t.expose()).await,
            Err(TokenStoreError::Token(TokenError::AlreadyUsed(_)))
        ));
    }
}
