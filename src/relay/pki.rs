//! The relay PKI: a root CA, a signing CA signed by the root, the server's serving
//! certificate, and client certificates issued from agents' CSRs.
//!
//! The trust chain is root -> signing CA -> {server, clients}. Agents and the server
//! trust only the root; leaves are presented together with the signing CA.

use crate::relay::identity::{IdentityError, cluster_uri, validate_cluster_name};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls::pki_types::{CertificateDer, CertificateSigningRequestDer};
use std::time::Duration;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Default lifetime of client certificates.
pub const DEFAULT_CLIENT_CERT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// The shortest client certificate lifetime: agents renew after two thirds of it, so this keeps
/// renewals at least ten minutes apart.
pub const MIN_CLIENT_CERT_TTL: Duration = Duration::from_secs(15 * 60);
/// The longest client certificate lifetime (a deregistered cluster's certificate is refused at
/// the handshake, but a stolen one is only as short-lived as this).
pub const MAX_CLIENT_CERT_TTL: Duration = Duration::from_secs(365 * 24 * 3600);
const ROOT_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
const SIGNING_TTL: Duration = Duration::from_secs(5 * 365 * 24 * 3600);
const SERVER_TTL: Duration = Duration::from_secs(2 * 365 * 24 * 3600);
/// Certificates are valid from a little before issuance to tolerate clock skew.
const BACKDATE: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("generating or signing a certificate failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("the certificate signing request is invalid: {0}")]
    InvalidCsr(String),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("the certificate could not be parsed: {0}")]
    BadCertificate(String),
    #[error("the PEM data contains no certificate")]
    NoCertificate,
    #[error("the validity period is out of range")]
    BadValidity,
    #[error(
        "the relay signing CA expired at {0}: it can issue no certificate; rotate the relay PKI"
    )]
    IssuerExpired(OffsetDateTime),
}

/// The server's PKI material, as PEM. Debug never shows private keys.
#[derive(Clone, PartialEq, Eq)]
pub struct PkiMaterial {
    pub root_ca_pem: String,
    pub root_ca_key_pem: String,
    pub signing_ca_pem: String,
    pub signing_ca_key_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
}

impl std::fmt::Debug for PkiMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PkiMaterial")
            .field("root_ca_pem", &self.root_ca_pem.len())
            .field("signing_ca_pem", &self.signing_ca_pem.len())
            .field("server_cert_pem", &self.server_cert_pem.len())
            .field("keys", &"<redacted>")
            .finish()
    }
}

impl PkiMaterial {
    /// The server's certificate chain: leaf then signing CA.
    pub fn server_chain_pem(&self) -> String {
        format!("{}{}", self.server_cert_pem, self.signing_ca_pem)
    }
}

/// Default SANs of the server certificate: loopback and the in-cluster Service names.
/// Checks a subject alternative name for the relay's server certificate: an IP address, or a DNS
/// name (labels of 1 to 63 letters, digits and `-`, not starting or ending with `-`; at most 253
/// characters; a leading `*.` wildcard allowed). Returns what was expected when it is neither.
pub fn validate_server_san(san: &str) -> Result<(), String> {
    if san.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let name = san.strip_prefix("*.").unwrap_or(san);
    if crate::translate::virtual_destination::is_dns_name(name) {
        Ok(())
    } else {
        Err(format!(
            "{san:?} is neither an IP address nor a DNS name (labels of letters, digits and '-', \
             separated by '.', optionally starting with '*.')"
        ))
    }
}

pub fn default_server_sans() -> Vec<String> {
    [
        "localhost",
        "127.0.0.1",
        "::1",
        "mesh-mgmt-server",
        "mesh-mgmt-server.mesh-system",
        "mesh-mgmt-server.mesh-system.svc",
        "mesh-mgmt-server.mesh-system.svc.cluster.local",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    SerialNumber::from_slice(&bytes)
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "meshctl");
    dn.push(DnType::CommonName, cn);
    dn
}

fn window(
    now: OffsetDateTime,
    ttl: Duration,
) -> Result<(OffsetDateTime, OffsetDateTime), PkiError> {
    let nb = now
        .checked_sub(time_dur(BACKDATE)?)
        .ok_or(PkiError::BadValidity)?;
    let na = now
        .checked_add(time_dur(ttl)?)
        .ok_or(PkiError::BadValidity)?;
    Ok((nb, na))
}

fn time_dur(d: Duration) -> Result<time::Duration, PkiError> {
    time::Duration::try_from(d).map_err(|_| PkiError::BadValidity)
}

fn ca_params(
    cn: &str,
    ttl: Duration,
    path_len: Option<u8>,
    now: OffsetDateTime,
) -> Result<CertificateParams, PkiError> {
    let mut p = CertificateParams::default();
    p.distinguished_name = name(cn);
    p.is_ca = match path_len {
        None => IsCa::Ca(BasicConstraints::Unconstrained),
        Some(n) => IsCa::Ca(BasicConstraints::Constrained(n)),
    };
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    (p.not_before, p.not_after) = window(now, ttl)?;
    p.serial_number = Some(random_serial());
    p.use_authority_key_identifier_extension = true;
    Ok(p)
}

/// Generates a complete new PKI: root CA, signing CA and a server certificate with `server_sans`.
pub fn generate(server_sans: &[String], now: OffsetDateTime) -> Result<PkiMaterial, PkiError> {
    let root_key = KeyPair::generate()?;
    let root_params = ca_params("meshctl relay root CA", ROOT_TTL, None, now)?;
    let root_cert = root_params.self_signed(&root_key)?;
    let root_issuer = Issuer::from_params(&root_params, &root_key);

    let signing_key = KeyPair::generate()?;
    let signing_params = ca_params("meshctl relay signing CA", SIGNING_TTL, Some(0), now)?;
    let signing_cert = signing_params.signed_by(&signing_key, &root_issuer)?;

    let authority = CertAuthority {
        issuer: Issuer::from_ca_cert_der(
            signing_cert.der(),
            KeyPair::from_pem(&signing_key.serialize_pem())?,
        )?,
        signing_ca_pem: signing_cert.pem(),
        root_ca_pem: root_cert.pem(),
        signing_not_after: signing_params.not_after,
    };
    let (server_cert_pem, server_key_pem) = authority.issue_server_cert(server_sans, now)?;
    Ok(PkiMaterial {
        root_ca_pem: root_cert.pem(),
        root_ca_key_pem: root_key.serialize_pem(),
        signing_ca_pem: signing_cert.pem(),
        signing_ca_key_pem: signing_key.serialize_pem(),
        server_cert_pem,
        server_key_pem,
    })
}

/// A client certificate issued to an agent.
#[derive(Debug, Clone)]
pub struct IssuedCert {
    /// Leaf then signing CA.
    pub chain_pem: String,
    /// The root CA.
    pub ca_pem: String,
    /// Unix seconds.
    pub not_after: i64,
}

/// The signing CA, able to issue server and client certificates.
pub struct CertAuthority {
    issuer: Issuer<'static, KeyPair>,
    signing_ca_pem: String,
    root_ca_pem: String,
    /// No certificate it issues outlives it.
    signing_not_after: OffsetDateTime,
}

impl std::fmt::Debug for CertAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CertAuthority(<signing key redacted>)")
    }
}

impl CertAuthority {
    pub fn from_material(m: &PkiMaterial) -> Result<Self, PkiError> {
        let key = KeyPair::from_pem(&m.signing_ca_key_pem)?;
        let signing_der = certs_from_pem(&m.signing_ca_pem)?
            .into_iter()
            .next()
            .ok_or(PkiError::NoCertificate)?;
        let (_, not_after) = validity_der(&signing_der)?;
        Ok(Self {
            issuer: Issuer::from_ca_cert_pem(&m.signing_ca_pem, key)?,
            signing_ca_pem: m.signing_ca_pem.clone(),
            root_ca_pem: m.root_ca_pem.clone(),
            signing_not_after: OffsetDateTime::from_unix_timestamp(not_after)
                .map_err(|_| PkiError::BadValidity)?,
        })
    }

    /// The validity window of a certificate issued at `now` for `ttl`: never past the signing
    /// CA's own expiry.
    fn issue_window(
        &self,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> Result<(OffsetDateTime, OffsetDateTime), PkiError> {
        if now >= self.signing_not_after {
            return Err(PkiError::IssuerExpired(self.signing_not_after));
        }
        let (not_before, not_after) = window(now, ttl)?;
        Ok((not_before, not_after.min(self.signing_not_after)))
    }

    pub fn root_ca_pem(&self) -> &str {
        &self.root_ca_pem
    }

    /// Issues a server certificate (and its new key) for `sans`, valid for two years from `now`
    /// or until the signing CA expires: (certificate PEM, key PEM).
    pub fn issue_server_cert(
        &self,
        sans: &[String],
        now: OffsetDateTime,
    ) -> Result<(String, String), PkiError> {
        let key = KeyPair::generate()?;
        let mut p = CertificateParams::new(sans.to_vec())?;
        p.distinguished_name = name("mesh-mgmt-server");
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        (p.not_before, p.not_after) = self.issue_window(now, SERVER_TTL)?;
        p.serial_number = Some(random_serial());
        p.use_authority_key_identifier_extension = true;
        let cert = p.signed_by(&key, &self.issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// Issues a client certificate for `cluster` from an agent's CSR, valid for `ttl`
    /// from `now`, kept within [`MIN_CLIENT_CERT_TTL`]..=[`MAX_CLIENT_CERT_TTL`] and never past
    /// the signing CA's expiry. Only the CSR's public key is used: subject, SANs and usages are
    /// set by the server.
    pub fn issue_client_cert(
        &self,
        cluster: &str,
        csr_der: &[u8],
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<IssuedCert, PkiError> {
        let ttl = ttl.clamp(MIN_CLIENT_CERT_TTL, MAX_CLIENT_CERT_TTL);
        let (not_before, not_after) = self.issue_window(now, ttl)?;
        self.issue_client_cert_between(cluster, csr_der, not_before, not_after)
    }

    /// As [`Self::issue_client_cert`] with an explicit validity window (tests use this
    /// to produce expired certificates).
    pub fn issue_client_cert_between(
        &self,
        cluster: &str,
        csr_der: &[u8],
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<IssuedCert, PkiError> {
        validate_cluster_name(cluster)?;
        refuse_unsupported_key(csr_der)?;
        let csr =
            CertificateSigningRequestParams::from_der(&CertificateSigningRequestDer::from(csr_der))
                .map_err(|e| PkiError::InvalidCsr(e.to_string()))?;
        let mut p = CertificateParams::default();
        p.distinguished_name = name(cluster);
        let uri = cluster_uri(cluster)
            .try_into()
            .map_err(|e: rcgen::Error| PkiError::Rcgen(e))?;
        p.subject_alt_names = vec![SanType::URI(uri)];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.not_before = not_before;
        p.not_after = not_after;
        p.serial_number = Some(random_serial());
        p.use_authority_key_identifier_extension = true;
        let cert = p.signed_by(&csr.public_key, &self.issuer)?;
        Ok(IssuedCert {
            chain_pem: format!("{}{}", cert.pem(), self.signing_ca_pem),
            ca_pem: self.root_ca_pem.clone(),
            not_after: not_after.unix_timestamp(),
        })
    }
}

/// Key algorithms and curves (OIDs) whose CSRs the CA can check (ring's).
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const ED25519: &str = "1.3.101.112";
const P256: &str = "1.2.840.10045.3.1.7";
const P384: &str = "1.3.132.0.34";
const ACCEPTED_KEYS: &str = "the relay CA accepts ECDSA (P-256, P-384) and Ed25519 keys (meshctl agents generate ECDSA P-256)";

/// A curve as people name it, else its OID.
fn curve_name(oid: &str) -> String {
    match oid {
        "1.3.132.0.10" => "secp256k1".to_owned(),
        "1.3.132.0.35" => "P-521".to_owned(),
        "1.3.36.3.3.2.8.1.1.7" => "brainpoolP256r1".to_owned(),
        other => format!("curve {other}"),
    }
}

/// Refuses a CSR whose key the CA cannot take, saying so (RSA and secp256k1 CSRs were reported
/// as having an invalid signature). An unparsable CSR is left to the parser that follows, for its
/// message.
fn refuse_unsupported_key(csr_der: &[u8]) -> Result<(), PkiError> {
    use x509_parser::certification_request::X509CertificationRequest;
    let Ok((_, csr)) = X509CertificationRequest::from_der(csr_der) else {
        return Ok(());
    };
    let spki = &csr.certification_request_info.subject_pki;
    let algorithm = spki.algorithm.algorithm.to_id_string();
    let refused = |what: String| {
        Err(PkiError::InvalidCsr(format!(
            "its key is {what}; {ACCEPTED_KEYS}"
        )))
    };
    match algorithm.as_str() {
        ED25519 => Ok(()),
        EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| oid.to_id_string());
            match curve.as_deref() {
                Some(P256 | P384) => Ok(()),
                Some(other) => refused(format!("ECDSA on {}", curve_name(other))),
                None => refused("ECDSA without a named curve".to_owned()),
            }
        }
        RSA_ENCRYPTION => refused("RSA".to_owned()),
        other => refused(format!("of algorithm {other}")),
    }
}

/// Why a server certificate should be issued again, if it should.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerCertDue {
    /// Two thirds of its lifetime have passed (or it expired).
    Ageing { not_after: i64 },
    /// It lacks names the server is asked to serve.
    MissingSans(Vec<String>),
}

/// Whether the server certificate `cert_pem` is due for rotation at `now` (unix seconds) for
/// serving `sans`: after two thirds of its lifetime, as agents renew theirs, or when it lacks
/// one of `sans`.
pub fn server_cert_due(
    cert_pem: &str,
    sans: &[String],
    now: i64,
) -> Result<Option<ServerCertDue>, PkiError> {
    let (not_before, not_after) = validity_pem(cert_pem)?;
    if now >= not_before + (not_after - not_before) * 2 / 3 {
        return Ok(Some(ServerCertDue::Ageing { not_after }));
    }
    let have = dns_sans_pem(cert_pem)?;
    let missing: Vec<String> = sans.iter().filter(|s| !have.contains(s)).cloned().collect();
    if !missing.is_empty() {
        return Ok(Some(ServerCertDue::MissingSans(missing)));
    }
    Ok(None)
}

/// A freshly generated agent key and its CSR. Debug never shows the key.
pub struct AgentKey {
    pub key_pem: String,
    pub csr_der: Vec<u8>,
}

impl std::fmt::Debug for AgentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AgentKey(<redacted>)")
    }
}

/// Generates an agent key pair (ECDSA P-256) and a CSR for `cluster`.
pub fn generate_agent_key(cluster: &str) -> Result<AgentKey, PkiError> {
    let key = KeyPair::generate()?;
    csr_for_key(cluster, &key).map(|csr_der| AgentKey {
        key_pem: key.serialize_pem(),
        csr_der,
    })
}

/// A CSR for an existing key (PEM), used when renewing with a new key is not wanted.
pub fn csr_for_key_pem(cluster: &str, key_pem: &str) -> Result<Vec<u8>, PkiError> {
    csr_for_key(cluster, &KeyPair::from_pem(key_pem)?)
}

fn csr_for_key(cluster: &str, key: &KeyPair) -> Result<Vec<u8>, PkiError> {
    let mut p = CertificateParams::default();
    p.distinguished_name = name(cluster);
    let csr = p.serialize_request(key)?;
    Ok(csr.der().to_vec())
}

/// Parses every certificate in a PEM bundle.
pub fn certs_from_pem(pem: &str) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    use rustls::pki_types::pem::PemObject;
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PkiError::BadCertificate(e.to_string()))?;
    if certs.is_empty() {
        return Err(PkiError::NoCertificate);
    }
    Ok(certs)
}

/// The validity window (unix seconds) of a DER certificate.
pub fn validity_der(der: &[u8]) -> Result<(i64, i64), PkiError> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| PkiError::BadCertificate(e.to_string()))?;
    Ok((
        cert.validity().not_before.timestamp(),
        cert.validity().not_after.timestamp(),
    ))
}

/// The validity window (unix seconds) of the first certificate in a PEM bundle.
pub fn validity_pem(pem: &str) -> Result<(i64, i64), PkiError> {
    let certs = certs_from_pem(pem)?;
    let first = certs.first().ok_or(PkiError::NoCertificate)?;
    validity_der(first)
}

/// The DNS and IP SANs of the first certificate in a PEM bundle.
pub fn dns_sans_pem(pem: &str) -> Result<Vec<String>, PkiError> {
    use x509_parser::extensions::GeneralName;
    let certs = certs_from_pem(pem)?;
    let first = certs.first().ok_or(PkiError::NoCertificate)?;
    let (_, cert) =
        X509Certificate::from_der(first).map_err(|e| PkiError::BadCertificate(e.to_string()))?;
    let mut out = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => out.push(d.to_string()),
                GeneralName::IPAddress(ip) => match ip.len() {
                    4 => out.push(
                        std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*ip).unwrap_or([0; 4]))
                            .to_string(),
                    ),
                    16 => out.push(
                        std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*ip).unwrap_or([0; 16]))
                            .to_string(),
                    ),
                    _ => {}
                },
                _ => {}
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn server_sans_are_ip_addresses_or_dns_names() {
        for ok in [
            "relay.example.com",
            "*.mesh.example.com",
            "mesh-mgmt-server.mesh-system.svc",
            "10.0.0.7",
            "::1",
            "localhost",
        ] {
            assert_eq!(super::validate_server_san(ok), Ok(()), "{ok}");
        }
        for bad in [
            "bad name!*",
            "",
            "-relay.example.com",
            "a..b",
            "exa_mple.com",
            "*",
        ] {
            let err = super::validate_server_san(bad).unwrap_err();
            assert!(
                err.contains("neither an IP address nor a DNS name"),
                "{bad}: {err}"
            );
        }
    }

    use super::*;
    use crate::relay::identity::cluster_from_cert_der;

    #[test]
    fn generated_pki_issues_client_certs_with_identity() {
        let now = OffsetDateTime::now_utc();
        let m = generate(&default_server_sans(), now).unwrap();
        assert!(!format!("{m:?}").contains("PRIVATE KEY"));
        let ca = CertAuthority::from_material(&m).unwrap();
        let agent = generate_agent_key("cluster-1").unwrap();
        let issued = ca
            .issue_client_cert("cluster-1", &agent.csr_der, DEFAULT_CLIENT_CERT_TTL, now)
            .unwrap();
        let chain = certs_from_pem(&issued.chain_pem).unwrap();
        assert_eq!(chain.len(), 2);
        assert_eq!(cluster_from_cert_der(&chain[0]).unwrap(), "cluster-1");
        let (nb, na) = validity_der(&chain[0]).unwrap();
        assert_eq!(na, issued.not_after);
        assert!(na - nb >= 7 * 24 * 3600);
        let sans = dns_sans_pem(&m.server_cert_pem).unwrap();
        assert!(sans.contains(&"localhost".to_string()));
        assert!(sans.contains(&"127.0.0.1".to_string()));
    }

    #[test]
    fn client_cert_lifetimes_are_bounded_and_never_outlive_the_issuer() {
        let now = OffsetDateTime::now_utc();
        let m = generate(&default_server_sans(), now).unwrap();
        let ca = CertAuthority::from_material(&m).unwrap();
        let agent = generate_agent_key("c1").unwrap();
        let lifetime = |ttl: Duration, at: OffsetDateTime| {
            let issued = ca.issue_client_cert("c1", &agent.csr_der, ttl, at).unwrap();
            issued.not_after - at.unix_timestamp()
        };
        // too short: raised to the minimum (a 1 s certificate would be expired on arrival)
        assert_eq!(lifetime(Duration::from_secs(1), now), 15 * 60);
        assert_eq!(lifetime(Duration::ZERO, now), 15 * 60);
        // too long: lowered to the maximum
        let year = 365 * 24 * 3600;
        assert_eq!(lifetime(Duration::from_secs(999_999 * 3600), now), year);
        // near the signing CA's end: cut at its expiry
        let (_, signing_end) = validity_pem(&m.signing_ca_pem).unwrap();
        let late = OffsetDateTime::from_unix_timestamp(signing_end - 3600).unwrap();
        assert_eq!(lifetime(DEFAULT_CLIENT_CERT_TTL, late), 3600);
        // past it: nothing is issued, and the error says what to do
        let after = OffsetDateTime::from_unix_timestamp(signing_end + 1).unwrap();
        let err = ca
            .issue_client_cert("c1", &agent.csr_der, DEFAULT_CLIENT_CERT_TTL, after)
            .unwrap_err();
        assert!(matches!(err, PkiError::IssuerExpired(_)), "{err}");
        assert!(err.to_string().contains("rotate the relay PKI"), "{err}");
    }

    #[test]
    fn an_rsa_csr_is_refused_for_its_key_not_its_signature() {
        let m = generate(&default_server_sans(), OffsetDateTime::now_utc()).unwrap();
        let ca = CertAuthority::from_material(&m).unwrap();
        // made with: openssl req -new -newkey rsa:2048 -nodes -subj /CN=c1 -outform DER
        let csr = include_bytes!("../../tests/fixtures/relay/rsa-2048.csr.der");
        let err = ca
            .issue_client_cert(
                "c1",
                csr,
                DEFAULT_CLIENT_CERT_TTL,
                OffsetDateTime::now_utc(),
            )
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("its key is RSA; the relay CA accepts ECDSA"),
            "{err}"
        );
    }

    #[test]
    fn a_server_certificate_is_due_after_two_thirds_of_its_life_or_without_a_name() {
        let issued = OffsetDateTime::now_utc();
        let m = generate(&default_server_sans(), issued).unwrap();
        let t = issued.unix_timestamp();
        let sans = default_server_sans();
        assert_eq!(server_cert_due(&m.server_cert_pem, &sans, t).unwrap(), None);
        let (nb, na) = validity_pem(&m.server_cert_pem).unwrap();
        let two_thirds = nb + (na - nb) * 2 / 3;
        assert_eq!(
            server_cert_due(&m.server_cert_pem, &sans, two_thirds - 1).unwrap(),
            None
        );
        assert_eq!(
            server_cert_due(&m.server_cert_pem, &sans, two_thirds).unwrap(),
            Some(ServerCertDue::Ageing { not_after: na })
        );
        let mut more = sans.clone();
        more.push("relay.example.com".into());
        assert_eq!(
            server_cert_due(&m.server_cert_pem, &more, t).unwrap(),
            Some(ServerCertDue::MissingSans(vec!["relay.example.com".into()]))
        );
    }

    #[test]
    fn garbage_csr_is_rejected() {
        let m = generate(&default_server_sans(), OffsetDateTime::now_utc()).unwrap();
        let ca = CertAuthority::from_material(&m).unwrap();
        let err = ca
            .issue_client_cert(
                "c",
                b"junk",
                DEFAULT_CLIENT_CERT_TTL,
                OffsetDateTime::now_utc(),
            )
            .unwrap_err();
        assert!(matches!(err, PkiError::InvalidCsr(_)));
    }

    #[test]
    fn invalid_cluster_name_is_rejected() {
        let m = generate(&default_server_sans(), OffsetDateTime::now_utc()).unwrap();
        let ca = CertAuthority::from_material(&m).unwrap();
        let agent = generate_agent_key("x").unwrap();
        assert!(
            ca.issue_client_cert(
                "Bad_Name",
                &agent.csr_der,
                DEFAULT_CLIENT_CERT_TTL,
                OffsetDateTime::now_utc()
            )
            .is_err()
        );
    }
}
