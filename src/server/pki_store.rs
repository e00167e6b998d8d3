//! Persistence of the relay PKI. The server creates its PKI on first start and only
//! when absent; existing material is loaded and never overwritten.

use crate::relay::pki::{self, PkiError, PkiMaterial};
use async_trait::async_trait;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum PkiStoreError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the PKI in {dir} is incomplete: {present} present but {missing} missing; restore the missing files or move the directory away to create a new PKI"
    )]
    Incomplete {
        dir: PathBuf,
        present: String,
        missing: String,
    },
    #[error("the PKI already exists and is never overwritten")]
    AlreadyExists,
    #[error(transparent)]
    Pki(#[from] PkiError),
}

#[async_trait]
pub trait PkiStore: Send + Sync + 'static {
    /// The stored material, or `None` when nothing is stored yet.
    async fn load(&self) -> Result<Option<PkiMaterial>, PkiStoreError>;
    /// Stores new material; fails with `AlreadyExists` rather than overwrite anything.
    async fn create(&self, material: &PkiMaterial) -> Result<(), PkiStoreError>;
    /// Replaces the server certificate and key (rotation); the CAs are never touched.
    async fn replace_server_cert(&self, cert_pem: &str, key_pem: &str)
    -> Result<(), PkiStoreError>;
}

/// Loads the PKI from `store`, or generates and stores a new one with `server_sans`. (What the
/// stored server certificate lacks is `server::server_cert`'s to rotate.)
/// Returns the material and whether it was created now.
pub async fn ensure_pki(
    store: &dyn PkiStore,
    server_sans: &[String],
) -> Result<(PkiMaterial, bool), PkiStoreError> {
    if let Some(m) = store.load().await? {
        // A certificate lacking requested names is issued again by `server::server_cert`.
        return Ok((m, false));
    }
    let m = pki::generate(server_sans, time::OffsetDateTime::now_utc())?;
    match store.create(&m).await {
        Ok(()) => Ok((m, true)),
        // Another replica created it first (a 409 from Kubernetes): use theirs.
        Err(PkiStoreError::AlreadyExists) => load_winner(store).await,
        Err(e) => Err(e),
    }
}

/// Loads the PKI another writer just created, waiting briefly while its set is still
/// incomplete (it writes several objects one after the other).
async fn load_winner(store: &dyn PkiStore) -> Result<(PkiMaterial, bool), PkiStoreError> {
    const ATTEMPTS: usize = 10;
    for attempt in 1..=ATTEMPTS {
        match store.load().await {
            Ok(Some(m)) => {
                tracing::info!("another server created the relay PKI first; using it");
                return Ok((m, false));
            }
            Ok(None) => return Err(PkiStoreError::AlreadyExists),
            Err(PkiStoreError::Incomplete { .. }) if attempt < ATTEMPTS => {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e),
        }
    }
    Err(PkiStoreError::AlreadyExists)
}

/// PKI kept in memory (tests, `demo`).
#[derive(Default, Clone)]
pub struct MemoryPkiStore {
    inner: Arc<Mutex<Option<PkiMaterial>>>,
}

#[async_trait]
impl PkiStore for MemoryPkiStore {
    async fn load(&self) -> Result<Option<PkiMaterial>, PkiStoreError> {
        Ok(self.inner.lock().map(|g| g.clone()).unwrap_or(None))
    }

    async fn create(&self, material: &PkiMaterial) -> Result<(), PkiStoreError> {
        let mut g = self
            .inner
            .lock()
            .map_err(|_| PkiStoreError::AlreadyExists)?;
        if g.is_some() {
            return Err(PkiStoreError::AlreadyExists);
        }
        *g = Some(material.clone());
        Ok(())
    }

    async fn replace_server_cert(
        &self,
        cert_pem: &str,
        key_pem: &str,
    ) -> Result<(), PkiStoreError> {
        let mut g = self
            .inner
            .lock()
            .map_err(|_| PkiStoreError::AlreadyExists)?;
        if let Some(m) = g.as_mut() {
            m.server_cert_pem = cert_pem.to_owned();
            m.server_key_pem = key_pem.to_owned();
        }
        Ok(())
    }
}

/// File names in a state directory's `pki/` folder.
const FILES: [&str; 6] = [
    "root-ca.crt",
    "root-ca.key",
    "signing-ca.crt",
    "signing-ca.key",
    "server.crt",
    "server.key",
];

/// PKI kept as files (mode 0600) under `<state-dir>/pki/`.
#[derive(Debug, Clone)]
pub struct DirPkiStore {
    dir: PathBuf,
}

impl DirPkiStore {
    pub fn new(state_dir: &Path) -> Self {
        Self {
            dir: state_dir.join("pki"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn read_all(dir: &Path) -> Result<Option<PkiMaterial>, PkiStoreError> {
        let mut texts = Vec::new();
        let (mut present, mut missing) = (Vec::new(), Vec::new());
        for name in FILES {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(t) => {
                    present.push(name);
                    texts.push(t);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => missing.push(name),
                Err(source) => return Err(PkiStoreError::Read { path, source }),
            }
        }
        if present.is_empty() {
            return Ok(None);
        }
        if !missing.is_empty() {
            return Err(PkiStoreError::Incomplete {
                dir: dir.to_path_buf(),
                present: present.join(", "),
                missing: missing.join(", "),
            });
        }
        let mut it = texts.into_iter();
        let mut next = || it.next().unwrap_or_default();
        Ok(Some(PkiMaterial {
            root_ca_pem: next(),
            root_ca_key_pem: next(),
            signing_ca_pem: next(),
            signing_ca_key_pem: next(),
            server_cert_pem: next(),
            server_key_pem: next(),
        }))
    }

    fn write_all(dir: &Path, m: &PkiMaterial) -> Result<(), PkiStoreError> {
        create_private_dir(dir)?;
        let contents = [
            &m.root_ca_pem,
            &m.root_ca_key_pem,
            &m.signing_ca_pem,
            &m.signing_ca_key_pem,
            &m.server_cert_pem,
            &m.server_key_pem,
        ];
        for name in FILES {
            if dir.join(name).exists() {
                return Err(PkiStoreError::AlreadyExists);
            }
        }
        for (name, text) in FILES.iter().zip(contents) {
            write_new_private_file(&dir.join(name), text.as_bytes())?;
        }
        Ok(())
    }
}

/// Creates a directory (and parents) with mode 0700 where newly created.
pub fn create_private_dir(dir: &Path) -> Result<(), PkiStoreError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| PkiStoreError::Write {
            path: dir.to_path_buf(),
            source,
        })
}

/// Writes a new file with mode 0600; fails if it exists.
pub fn write_new_private_file(path: &Path, bytes: &[u8]) -> Result<(), PkiStoreError> {
    let err = |source| PkiStoreError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)
}

#[async_trait]
impl PkiStore for DirPkiStore {
    async fn load(&self) -> Result<Option<PkiMaterial>, PkiStoreError> {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || Self::read_all(&dir))
            .await
            .map_err(|e| PkiStoreError::Read {
                path: self.dir.clone(),
                source: std::io::Error::other(e.to_string()),
            })?
    }

    async fn create(&self, material: &PkiMaterial) -> Result<(), PkiStoreError> {
        let dir = self.dir.clone();
        let m = material.clone();
        tokio::task::spawn_blocking(move || Self::write_all(&dir, &m))
            .await
            .map_err(|e| PkiStoreError::Write {
                path: self.dir.clone(),
                source: std::io::Error::other(e.to_string()),
            })?
    }

    /// Writes the new pair next to the old one and renames it over, key first: a crash leaves
    /// either pair whole or a new key with the old certificate, which loading refuses loudly.
    async fn replace_server_cert(
        &self,
        cert_pem: &str,
        key_pem: &str,
    ) -> Result<(), PkiStoreError> {
        let dir = self.dir.clone();
        let (cert, key) = (cert_pem.to_owned(), key_pem.to_owned());
        tokio::task::spawn_blocking(move || {
            for (name, text) in [("server.key", &key), ("server.crt", &cert)] {
                let path = dir.join(name);
                let next = dir.join(format!("{name}.next"));
                let _ = std::fs::remove_file(&next);
                write_new_private_file(&next, text.as_bytes())?;
                std::fs::rename(&next, &path)
                    .map_err(|source| PkiStoreError::Write { path, source })?;
            }
            Ok(())
        })
        .await
        .map_err(|e| PkiStoreError::Write {
            path: self.dir.clone(),
            source: std::io::Error::other(e.to_string()),
        })?
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[tokio::test]
    async fn dir_store_creates_once_then_loads_and_never_overwrites() {
        let tmp = tempfile::tempdir().unwrap();
        let store = DirPkiStore::new(tmp.path());
        let sans = vec!["localhost".to_string()];
        let (m1, created) = ensure_pki(&store, &sans).await.unwrap();
        assert!(created);
        for name in FILES {
            let mode = std::fs::metadata(store.dir().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
        let (m2, created) = ensure_pki(&store, &sans).await.unwrap();
        assert!(!created);
        assert_eq!(m1, m2);
        assert!(matches!(
            store.create(&m1).await,
            Err(PkiStoreError::AlreadyExists)
        ));
    }

    #[tokio::test]
    async fn dir_store_replaces_only_the_server_pair_and_keeps_it_private() {
        let tmp = tempfile::tempdir().unwrap();
        let store = DirPkiStore::new(tmp.path());
        let (m, _) = ensure_pki(&store, &["localhost".to_string()])
            .await
            .unwrap();
        store.replace_server_cert("CERT", "KEY").await.unwrap();
        let loaded = store.load().await.unwrap().unwrap();
        assert_eq!(
            (
                loaded.server_cert_pem.as_str(),
                loaded.server_key_pem.as_str()
            ),
            ("CERT", "KEY")
        );
        assert_eq!(loaded.root_ca_pem, m.root_ca_pem);
        for name in ["server.crt", "server.key"] {
            let mode = std::fs::metadata(store.dir().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
            assert!(!store.dir().join(format!("{name}.next")).exists());
        }
    }

    #[tokio::test]
    async fn incomplete_pki_is_an_error_not_a_regeneration() {
        let tmp = tempfile::tempdir().unwrap();
        let store = DirPkiStore::new(tmp.path());
        ensure_pki(&store, &["localhost".to_string()])
            .await
            .unwrap();
        std::fs::remove_file(store.dir().join("signing-ca.key")).unwrap();
        let err = ensure_pki(&store, &["localhost".to_string()])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("signing-ca.key"), "{err}");
    }

    /// A store whose first load sees nothing although another writer is about to win.
    struct Racing {
        inner: MemoryPkiStore,
        loads: std::sync::atomic::AtomicUsize,
    }

    #[async_trait]
    impl PkiStore for Racing {
        async fn load(&self) -> Result<Option<PkiMaterial>, PkiStoreError> {
            if self.loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                return Ok(None);
            }
            self.inner.load().await
        }
        async fn create(&self, material: &PkiMaterial) -> Result<(), PkiStoreError> {
            self.inner.create(material).await
        }
        async fn replace_server_cert(
            &self,
            cert_pem: &str,
            key_pem: &str,
        ) -> Result<(), PkiStoreError> {
            self.inner.replace_server_cert(cert_pem, key_pem).await
        }
    }

    #[tokio::test]
    async fn losing_the_creation_race_loads_the_winners_pki() {
        let inner = MemoryPkiStore::default();
        let (winner, _) = ensure_pki(&inner, &["localhost".to_string()])
            .await
            .unwrap();
        let racing = Racing {
            inner,
            loads: Default::default(),
        };
        let (m, created) = ensure_pki(&racing, &["localhost".to_string()])
            .await
            .unwrap();
        assert!(!created);
        assert_eq!(m, winner);
    }

    #[tokio::test]
    async fn memory_store_refuses_second_create() {
        let store = MemoryPkiStore::default();
        let (m, created) = ensure_pki(&store, &["localhost".to_string()])
            .await
            .unwrap();
        assert!(created);
        assert!(store.create(&m).await.is_err());
    }
}
