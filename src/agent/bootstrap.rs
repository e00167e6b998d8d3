//! Obtaining and renewing the agent's client certificate. The key is generated here
//! and never leaves the agent; only a CSR travels.

use crate::agent::credentials::{Credentials, CredentialsError};
use crate::relay::client::{ClientError, RelayTarget, connect, relay_client};
use crate::relay::pki::{PkiError, generate_agent_key};
use crate::relay::proto::{BootstrapRequest, RenewRequest};
use crate::relay::tls::{TlsError, client_config};
use crate::relay::token::BootstrapToken;
use std::time::Duration;
use tonic::transport::Channel;

const CALL_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("the server refused: {0}")]
    Refused(String),
    #[error("the server did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the issued certificate is unusable: {0}")]
    BadCertificate(#[from] CredentialsError),
}

/// Renders a gRPC status for logs and errors.
pub fn describe_status(s: &tonic::Status) -> String {
    if s.message().is_empty() {
        format!("{:?}", s.code())
    } else {
        format!("{:?}: {}", s.code(), s.message())
    }
}

/// Bootstraps over server-authenticated TLS: token + CSR -> client certificate.
/// Returns the credentials and the root CA the server sent.
pub async fn bootstrap(
    target: &RelayTarget,
    ca_pem: &str,
    cluster: &str,
    token: &BootstrapToken,
) -> Result<(Credentials, String), BootstrapError> {
    let key = generate_agent_key(cluster)?;
    let channel = connect(target, client_config(ca_pem, None)?).await?;
    let mut client = relay_client(channel);
    let call = client.bootstrap(BootstrapRequest {
        cluster: cluster.to_string(),
        token: token.expose().to_string(),
        csr_der: key.csr_der.clone().into(),
    });
    let resp = tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .map_err(|_| BootstrapError::Timeout(CALL_TIMEOUT))?
        .map_err(|s| BootstrapError::Refused(describe_status(&s)))?
        .into_inner();
    let creds = Credentials::new(cluster, resp.cert_chain_pem, key.key_pem)?;
    Ok((creds, resp.ca_pem))
}

/// Renews over an mTLS channel with a fresh key.
pub async fn renew(
    channel: Channel,
    cluster: &str,
) -> Result<(Credentials, String), BootstrapError> {
    let key = generate_agent_key(cluster)?;
    let mut client = relay_client(channel);
    let call = client.renew(RenewRequest {
        csr_der: key.csr_der.clone().into(),
    });
    let resp = tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .map_err(|_| BootstrapError::Timeout(CALL_TIMEOUT))?
        .map_err(|s| BootstrapError::Refused(describe_status(&s)))?
        .into_inner();
    let creds = Credentials::new(cluster, resp.cert_chain_pem, key.key_pem)?;
    Ok((creds, resp.ca_pem))
}
