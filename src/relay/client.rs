//! Building a gRPC channel to the relay over our own rustls configuration.

use crate::relay::limits::MAX_MESSAGE_BYTES;
use crate::relay::proto::relay_client::RelayClient;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::sync::Arc;
use std::time::Duration;
use tonic::codec::CompressionEncoding;
use tonic::transport::{Channel, Endpoint};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("relay address {0:?} is not host:port")]
    BadAddress(String),
    #[error("server name {0:?} is not a valid DNS name or IP address")]
    BadServerName(String),
    #[error("connecting to the relay at {address} failed: {reason}")]
    Connect { address: String, reason: String },
}

/// Where and how to reach the relay.
#[derive(Debug, Clone)]
pub struct RelayTarget {
    /// `host:port`.
    pub address: String,
    /// Name checked against the server certificate; defaults to the host of `address`.
    pub server_name: Option<String>,
    pub connect_timeout: Duration,
}

impl RelayTarget {
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            server_name: None,
            connect_timeout: Duration::from_secs(10),
        }
    }

    fn host(&self) -> Result<String, ClientError> {
        let addr = &self.address;
        let host = if let Some(rest) = addr.strip_prefix('[') {
            rest.split(']').next().unwrap_or_default().to_string()
        } else {
            addr.rsplit_once(':')
                .map(|(h, _)| h.to_string())
                .ok_or_else(|| ClientError::BadAddress(addr.clone()))?
        };
        if host.is_empty() {
            return Err(ClientError::BadAddress(addr.clone()));
        }
        Ok(host)
    }
}

/// Renders an error and all its sources on one line, each cause once.
pub use crate::output::error_chain;

/// Opens an HTTP/2 channel to the relay, doing TLS with `tls` (with or without a
/// client certificate). The TCP connect and TLS handshake are bounded by the target's
/// connect timeout.
pub async fn connect(
    target: &RelayTarget,
    tls: Arc<rustls::ClientConfig>,
) -> Result<Channel, ClientError> {
    let name = match &target.server_name {
        Some(n) => n.clone(),
        None => target.host()?,
    };
    let server_name =
        ServerName::try_from(name.clone()).map_err(|_| ClientError::BadServerName(name))?;
    let address = target.address.clone();
    let endpoint = Endpoint::from_shared(format!("http://{address}"))
        .map_err(|_| ClientError::BadAddress(address.clone()))?
        .connect_timeout(target.connect_timeout)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true);
    let connector_address = address.clone();
    let timeout = target.connect_timeout;
    let connector = tower::service_fn(move |_uri: tonic::transport::Uri| {
        let tls = tls.clone();
        let server_name = server_name.clone();
        let address = connector_address.clone();
        async move {
            let connect = async {
                let tcp = tokio::net::TcpStream::connect(&address).await?;
                tcp.set_nodelay(true)?;
                let stream = tokio_rustls::TlsConnector::from(tls)
                    .connect(server_name, tcp)
                    .await?;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            };
            match tokio::time::timeout(timeout, connect).await {
                Ok(result) => result,
                Err(_) => Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "TLS connect timed out",
                )),
            }
        }
    });
    endpoint
        .connect_with_connector(connector)
        .await
        .map_err(|e| ClientError::Connect {
            address,
            reason: error_chain(&e),
        })
}

/// A relay client on `channel` with gzip and the protocol's message limits.
pub fn relay_client(channel: Channel) -> RelayClient<Channel> {
    RelayClient::new(channel)
        .send_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn host_is_taken_from_the_address() {
        assert_eq!(
            RelayTarget::new("127.0.0.1:9900").host().ok().as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(
            RelayTarget::new("[::1]:9900").host().ok().as_deref(),
            Some("::1")
        );
        assert_eq!(
            RelayTarget::new("mgmt.example:9900").host().ok().as_deref(),
            Some("mgmt.example")
        );
        assert!(RelayTarget::new("nohost").host().is_err());
    }
}
