//! A minimal client of the server's admin API (`GET /api/v1/clusters`), plain HTTP/1.0
//! on the admin port, bounded in time and size.

use crate::server::admin::ClusterList;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum AdminClientError {
    #[error("connecting to the admin endpoint {address}: {message}")]
    Connect { address: String, message: String },
    #[error("the admin endpoint {address} did not answer within {timeout:?}")]
    Timeout { address: String, timeout: Duration },
    #[error("the admin endpoint {address} answered HTTP {status}")]
    Status { address: String, status: u16 },
    #[error("the admin endpoint {address} sent an unreadable answer: {message}")]
    Malformed { address: String, message: String },
}

/// `GET path` on `address` (host:port); returns status and body.
pub async fn get(
    address: &str,
    path: &str,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), AdminClientError> {
    let work = async {
        let mut s = tokio::net::TcpStream::connect(address).await.map_err(|e| {
            AdminClientError::Connect {
                address: address.to_string(),
                message: e.to_string(),
            }
        })?;
        let request =
            format!("GET {path} HTTP/1.0\r\nHost: {address}\r\nAccept: application/json\r\n\r\n");
        s.write_all(request.as_bytes())
            .await
            .map_err(|e| AdminClientError::Connect {
                address: address.to_string(),
                message: e.to_string(),
            })?;
        let mut buf = Vec::new();
        (&mut s)
            .take(MAX_RESPONSE_BYTES)
            .read_to_end(&mut buf)
            .await
            .map_err(|e| AdminClientError::Malformed {
                address: address.to_string(),
                message: e.to_string(),
            })?;
        Ok(buf)
    };
    let buf =
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| AdminClientError::Timeout {
                address: address.to_string(),
                timeout,
            })??;
    parse_response(address, &buf)
}

fn parse_response(address: &str, buf: &[u8]) -> Result<(u16, Vec<u8>), AdminClientError> {
    let malformed = |message: &str| AdminClientError::Malformed {
        address: address.to_string(),
        message: message.to_string(),
    };
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| malformed("no end of headers"))?;
    let head =
        std::str::from_utf8(&buf[..split]).map_err(|_| malformed("headers are not UTF-8"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| malformed("no status code"))?;
    Ok((status, buf[split + 4..].to_vec()))
}

/// The server's relay table.
pub async fn clusters(address: &str, timeout: Duration) -> Result<ClusterList, AdminClientError> {
    let (status, body) = get(address, "/api/v1/clusters", timeout).await?;
    if status != 200 {
        return Err(AdminClientError::Status {
            address: address.to_string(),
            status,
        });
    }
    serde_json::from_slice(&body).map_err(|e| AdminClientError::Malformed {
        address: address.to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_body() {
        let (s, b) =
            parse_response("x", b"HTTP/1.1 200 OK\r\ncontent-type: a\r\n\r\n{\"a\":1}").unwrap();
        assert_eq!(s, 200);
        assert_eq!(b, b"{\"a\":1}");
        assert!(parse_response("x", b"garbage").is_err());
    }
}
