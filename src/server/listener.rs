//! The relay's TLS listener: accepts TCP connections, runs the TLS handshake with a
//! timeout (logging why a handshake failed, e.g. an expired or foreign client
//! certificate) and hands established streams to tonic.

use crate::relay::client::error_chain;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

/// Handshakes running at once; further connections wait (bounded work per burst).
const MAX_CONCURRENT_HANDSHAKES: usize = 256;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Counts of handshake outcomes, for metrics and tests.
#[derive(Debug, Default)]
pub struct HandshakeStats {
    pub failed: std::sync::atomic::AtomicU64,
}

/// Accepts connections on `listener` until `cancel`, yielding TLS streams.
pub fn tls_incoming(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    cancel: CancellationToken,
    stats: Arc<HandshakeStats>,
) -> ReceiverStream<Result<TlsStream<TcpStream>, std::io::Error>> {
    let (tx, rx) = mpsc::channel(64);
    let acceptor = TlsAcceptor::from(tls);
    let handshakes = Arc::new(Semaphore::new(MAX_CONCURRENT_HANDSHAKES));
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                _ = cancel.cancelled() => break,
                a = listener.accept() => a,
            };
            let (tcp, peer) = match accepted {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a relay connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let Ok(permit) = handshakes.clone().acquire_owned().await else {
                break;
            };
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            let stats = stats.clone();
            let cancel = cancel.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let result = tokio::select! {
                    _ = cancel.cancelled() => return,
                    r = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)) => r,
                };
                match result {
                    Ok(Ok(stream)) => {
                        let _ = tx.send(Ok(stream)).await;
                    }
                    Ok(Err(e)) => {
                        stats
                            .failed
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tracing::warn!(%peer, reason = %error_chain(&e), "relay TLS handshake rejected");
                    }
                    Err(_) => {
                        stats
                            .failed
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tracing::warn!(%peer, "relay TLS handshake timed out");
                    }
                }
            });
        }
    });
    ReceiverStream::new(rx)
}
