//! The agent's client credentials in its state directory: `tls.key` (never leaves the
//! agent), `tls.crt` (leaf + signing CA) and `ca.crt` (root CA), all mode 0600.

use crate::relay::identity::cluster_from_cert_der;
use crate::relay::pki::{PkiError, certs_from_pem, validity_der};
use crate::relay::tls::ClientIdentity;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("stored certificate is unusable: {0}")]
    Pki(#[from] PkiError),
    #[error("stored certificate is for cluster {found:?}, not {expected:?}")]
    WrongCluster { expected: String, found: String },
    #[error("certificate has no cluster identity: {0}")]
    Identity(#[from] crate::relay::identity::IdentityError),
}

/// A client identity with its validity window (unix seconds).
#[derive(Debug, Clone)]
pub struct Credentials {
    pub identity: ClientIdentity,
    pub not_before: i64,
    pub not_after: i64,
}

impl Credentials {
    /// Checks the chain, reads the identity and validity; the cluster must match.
    pub fn new(
        cluster: &str,
        chain_pem: String,
        key_pem: String,
    ) -> Result<Self, CredentialsError> {
        let certs = certs_from_pem(&chain_pem)?;
        let leaf = certs.first().ok_or(PkiError::NoCertificate)?;
        let found = cluster_from_cert_der(leaf)?;
        if found != cluster {
            return Err(CredentialsError::WrongCluster {
                expected: cluster.to_string(),
                found,
            });
        }
        let (not_before, not_after) = validity_der(leaf)?;
        Ok(Self {
            identity: ClientIdentity { chain_pem, key_pem },
            not_before,
            not_after,
        })
    }

    /// When to renew: after two thirds of the lifetime.
    pub fn renew_at(&self) -> i64 {
        self.not_before + (self.not_after - self.not_before) * 2 / 3
    }
}

/// Where the agent keeps its client credentials: a state directory
/// ([`CredentialsStore`]) or a Secret (`agent::kube::SecretCredentialsStore`).
#[async_trait::async_trait]
pub trait CredentialsBackend: Send + Sync + std::fmt::Debug + 'static {
    /// The stored credentials, `None` when there are none.
    async fn load(&self, cluster: &str) -> Result<Option<Credentials>, CredentialsError>;
    /// Stores credentials and the root CA.
    async fn save(&self, creds: &Credentials, ca_pem: &str) -> Result<(), CredentialsError>;
    /// Names the place in messages (`/var/lib/agent`, `secret mesh-system/...`).
    fn describe(&self) -> String;
}

#[async_trait::async_trait]
impl CredentialsBackend for CredentialsStore {
    async fn load(&self, cluster: &str) -> Result<Option<Credentials>, CredentialsError> {
        CredentialsStore::load(self, cluster)
    }

    async fn save(&self, creds: &Credentials, ca_pem: &str) -> Result<(), CredentialsError> {
        CredentialsStore::save(self, creds, ca_pem)
    }

    fn describe(&self) -> String {
        self.dir.display().to_string()
    }
}

#[derive(Debug, Clone)]
pub struct CredentialsStore {
    dir: PathBuf,
}

fn io(path: &Path, e: impl std::fmt::Display) -> CredentialsError {
    CredentialsError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

impl CredentialsStore {
    pub fn new(state_dir: &Path) -> Self {
        Self {
            dir: state_dir.to_path_buf(),
        }
    }

    fn key_path(&self) -> PathBuf {
        self.dir.join("tls.key")
    }
    fn cert_path(&self) -> PathBuf {
        self.dir.join("tls.crt")
    }
    fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// The stored credentials, `None` when there are none.
    pub fn load(&self, cluster: &str) -> Result<Option<Credentials>, CredentialsError> {
        let (kp, cp) = (self.key_path(), self.cert_path());
        if !kp.exists() || !cp.exists() {
            return Ok(None);
        }
        let key = std::fs::read_to_string(&kp).map_err(|e| io(&kp, e))?;
        let chain = std::fs::read_to_string(&cp).map_err(|e| io(&cp, e))?;
        Credentials::new(cluster, chain, key).map(Some)
    }

    /// Stores credentials (and the root CA) atomically, each file mode 0600.
    pub fn save(&self, creds: &Credentials, ca_pem: &str) -> Result<(), CredentialsError> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| io(&self.dir, e))?;
        write_private(&self.key_path(), creds.identity.key_pem.as_bytes())?;
        write_private(&self.cert_path(), creds.identity.chain_pem.as_bytes())?;
        write_private(&self.ca_path(), ca_pem.as_bytes())
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, mode 0600.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), CredentialsError> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| io(&tmp, e))?;
    f.sync_all().map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::relay::pki::{CertAuthority, default_server_sans, generate, generate_agent_key};
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    #[test]
    fn save_and_load_round_trip_with_private_modes() {
        let now = time::OffsetDateTime::now_utc();
        let m = generate(&default_server_sans(), now).unwrap();
        let ca = CertAuthority::from_material(&m).unwrap();
        let key = generate_agent_key("c1").unwrap();
        let issued = ca
            .issue_client_cert("c1", &key.csr_der, Duration::from_secs(3600), now)
            .unwrap();
        let creds = Credentials::new("c1", issued.chain_pem, key.key_pem).unwrap();
        assert!(creds.renew_at() > creds.not_before && creds.renew_at() < creds.not_after);
        let tmp = tempfile::tempdir().unwrap();
        let store = CredentialsStore::new(&tmp.path().join("state"));
        assert!(store.load("c1").unwrap().is_none());
        store.save(&creds, &m.root_ca_pem).unwrap();
        let mode = std::fs::metadata(tmp.path().join("state/tls.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let loaded = store.load("c1").unwrap().unwrap();
        assert_eq!(loaded.not_after, creds.not_after);
        assert!(matches!(
            store.load("other"),
            Err(CredentialsError::WrongCluster { .. })
        ));
    }
}
