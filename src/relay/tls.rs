//! rustls configurations (ring provider only) for the relay server and agents.
//!
//! The server verifies client certificates against the root CA when one is presented,
//! but does not require one: `Bootstrap` works without, `Connect` and `Renew` check
//! the verified peer certificate in the service.

use crate::relay::identity::cluster_from_cert_der;
use crate::relay::pki::{PkiError, PkiMaterial, certs_from_pem};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, RootCertStore,
    ServerConfig, SignatureScheme,
};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("the private key could not be parsed")]
    BadKey,
    #[error("the CA certificate could not be used as a trust anchor: {0}")]
    BadTrustAnchor(String),
    #[error("building the TLS configuration failed: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("building the client certificate verifier failed: {0}")]
    Verifier(String),
}

/// The only crypto provider meshctl uses.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn private_key(pem: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|_| TlsError::BadKey)
}

/// A root store holding every certificate of a CA PEM bundle.
pub fn root_store(ca_pem: &str) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certs_from_pem(ca_pem)? {
        roots
            .add(cert)
            .map_err(|e| TlsError::BadTrustAnchor(e.to_string()))?;
    }
    Ok(roots)
}

/// Says whether a verified client certificate's cluster is refused anyway (deregistered).
pub type RefusedCluster = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// The relay server's TLS configuration: serves its certificate chain and verifies
/// optional client certificates against the root CA. ALPN h2 (gRPC).
pub fn server_config(m: &PkiMaterial) -> Result<Arc<ServerConfig>, TlsError> {
    Ok(server_config_rotating(m, Arc::new(|_: &str| false))?.0)
}

/// As [`server_config`], and a client certificate that verifies but whose cluster `refused`
/// names fails the handshake as revoked; the certificate is served through a
/// [`ServerCertificate`] that can be replaced while the server runs (rotation): new handshakes
/// get the new one.
pub fn server_config_rotating(
    m: &PkiMaterial,
    refused: RefusedCluster,
) -> Result<(Arc<ServerConfig>, Arc<ServerCertificate>), TlsError> {
    let roots = Arc::new(root_store(&m.root_ca_pem)?);
    let inner = WebPkiClientVerifier::builder_with_provider(roots, provider())
        .allow_unauthenticated()
        .build()
        .map_err(|e| TlsError::Verifier(e.to_string()))?;
    let verifier = Arc::new(RefusingVerifier { inner, refused });
    let certificate = Arc::new(ServerCertificate {
        current: std::sync::RwLock::new(certified_key(m)?),
    });
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(certificate.clone());
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok((Arc::new(cfg), certificate))
}

fn certified_key(m: &PkiMaterial) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain = certs_from_pem(&m.server_chain_pem())?;
    let key = provider()
        .key_provider
        .load_private_key(private_key(&m.server_key_pem)?)?;
    Ok(Arc::new(CertifiedKey::new(chain, key)))
}

/// The relay server's certificate and key, replaceable while the server runs.
#[derive(Debug)]
pub struct ServerCertificate {
    current: std::sync::RwLock<Arc<CertifiedKey>>,
}

impl ServerCertificate {
    /// The certificate chain served now (leaf first).
    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .cert
            .clone()
    }

    /// Serves `m`'s server certificate from the next handshake on.
    pub fn replace(&self, m: &PkiMaterial) -> Result<(), TlsError> {
        let next = certified_key(m)?;
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = next;
        Ok(())
    }
}

impl ResolvesServerCert for ServerCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        )
    }
}

/// The root CA's verification, then the refusal of deregistered clusters.
struct RefusingVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    refused: RefusedCluster,
}

impl std::fmt::Debug for RefusingVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefusingVerifier")
    }
}

impl ClientCertVerifier for RefusingVerifier {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        // A certificate without a cluster identity is refused later, by the service, with
        // a clearer message than a handshake alert.
        if let Ok(cluster) = cluster_from_cert_der(end_entity.as_ref())
            && (self.refused)(&cluster)
        {
            return Err(rustls::Error::InvalidCertificate(CertificateError::Revoked));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A client identity: certificate chain (leaf first) and private key, as PEM.
/// Debug never shows the key.
#[derive(Clone)]
pub struct ClientIdentity {
    pub chain_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("chain_pem", &self.chain_pem.len())
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// An agent's TLS configuration: trusts `ca_pem`, presents `identity` when given
/// (mTLS for Connect/Renew) or nothing (Bootstrap). ALPN h2.
pub fn client_config(
    ca_pem: &str,
    identity: Option<&ClientIdentity>,
) -> Result<Arc<ClientConfig>, TlsError> {
    let roots = root_store(ca_pem)?;
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let mut cfg = match identity {
        Some(id) => builder
            .with_client_auth_cert(certs_from_pem(&id.chain_pem)?, private_key(&id.key_pem)?)?,
        None => builder.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(cfg))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::relay::pki::{default_server_sans, generate};

    #[test]
    fn configs_build_from_generated_material() {
        let m = generate(&default_server_sans(), time::OffsetDateTime::now_utc()).unwrap();
        let s = server_config(&m).unwrap();
        assert_eq!(s.alpn_protocols, vec![b"h2".to_vec()]);
        let c = client_config(&m.root_ca_pem, None).unwrap();
        assert_eq!(c.alpn_protocols, vec![b"h2".to_vec()]);
        assert!(matches!(client_config("junk", None), Err(TlsError::Pki(_))));
    }

    #[test]
    fn identity_debug_is_redacted() {
        let id = ClientIdentity {
            chain_pem: "c".into(),
            key_pem: "SECRET".into(),
        };
        assert!(!format!("{id:?}").contains("SECRET"));
    }
}
