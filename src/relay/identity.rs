//! Cluster identities: names, their SPIFFE URIs, and reading them from certificates.

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Prefix of the URI SAN that carries a cluster identity.
pub const SPIFFE_CLUSTER_PREFIX: &str = "spiffe://meshctl/cluster/";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentityError {
    #[error(
        "cluster name {0:?} is not a DNS label (1-63 lowercase letters, digits or '-', starting and ending with a letter or digit)"
    )]
    InvalidName(String),
    #[error("the certificate could not be parsed")]
    UnparsableCertificate,
    #[error("the certificate carries no cluster identity (URI SAN {SPIFFE_CLUSTER_PREFIX}<name>)")]
    NoIdentity,
    #[error("the certificate carries more than one cluster identity")]
    AmbiguousIdentity,
}

/// Checks that `name` is a DNS label (RFC 1123).
pub fn validate_cluster_name(name: &str) -> Result<(), IdentityError> {
    let bytes = name.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-');
    if ok {
        Ok(())
    } else {
        Err(IdentityError::InvalidName(name.to_string()))
    }
}

/// The URI SAN for a cluster.
pub fn cluster_uri(name: &str) -> String {
    format!("{SPIFFE_CLUSTER_PREFIX}{name}")
}

/// Reads the cluster identity from a DER certificate's URI SANs.
pub fn cluster_from_cert_der(der: &[u8]) -> Result<String, IdentityError> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|_| IdentityError::UnparsableCertificate)?;
    let san = cert
        .subject_alternative_name()
        .map_err(|_| IdentityError::UnparsableCertificate)?;
    let mut found: Option<String> = None;
    if let Some(san) = san {
        for name in &san.value.general_names {
            if let GeneralName::URI(uri) = name
                && let Some(cluster) = uri.strip_prefix(SPIFFE_CLUSTER_PREFIX)
            {
                if found.is_some() {
                    return Err(IdentityError::AmbiguousIdentity);
                }
                validate_cluster_name(cluster)?;
                found = Some(cluster.to_string());
            }
        }
    }
    found.ok_or(IdentityError::NoIdentity)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels() {
        for ok in ["a", "cluster-1", "x1", &"a".repeat(63)] {
            assert!(validate_cluster_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "A",
            "a.b",
            "a/b",
            "a_b",
            &"a".repeat(64),
            "../x",
        ] {
            assert!(validate_cluster_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn uri_has_prefix() {
        assert_eq!(cluster_uri("c1"), "spiffe://meshctl/cluster/c1");
    }

    #[test]
    fn garbage_is_unparsable() {
        assert_eq!(
            cluster_from_cert_der(b"nope"),
            Err(IdentityError::UnparsableCertificate)
        );
    }
}
