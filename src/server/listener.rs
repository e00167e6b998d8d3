//! The relay's TLS listener: accepts TCP connections, runs the TLS handshake with a
//! timeout (logging why a handshake failed, e.g. an expired or foreign client
//! certificate) and hands established streams to tonic.

use crate::relay::client::error_chain;
use crate::server::metrics::RelayMetrics;
use crate::server::wire_counter::CountedStream;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::Connected;

/// Handshakes running at once; further connections wait (bounded work per burst).
const MAX_CONCURRENT_HANDSHAKES: usize = 256;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Counts of handshake outcomes, for metrics and tests.
#[derive(Debug, Default)]
pub struct HandshakeStats {
    pub failed: std::sync::atomic::AtomicU64,
    /// Connections closed at once because the connection cap was reached.
    pub refused: std::sync::atomic::AtomicU64,
}

/// An established relay connection; holds its slot of the connection cap until closed.
pub struct RelayConnection {
    /// TLS over a TCP stream whose bytes are counted in the relay metrics.
    inner: TlsStream<CountedStream<TcpStream>>,
    _slot: OwnedSemaphorePermit,
}

impl Connected for RelayConnection {
    type ConnectInfo = <TlsStream<CountedStream<TcpStream>> as Connected>::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

impl AsyncRead for RelayConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for RelayConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Accepts connections on `listener` until `cancel`, yielding TLS streams. At most
/// `max_connections` are open at once; beyond that new connections are closed at once
/// (the agent backs off and retries), so a flood of idle connections cannot exhaust
/// memory. Bytes on the wire are counted in `metrics`.
pub fn tls_incoming(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    cancel: CancellationToken,
    stats: Arc<HandshakeStats>,
    max_connections: usize,
    metrics: Arc<RelayMetrics>,
) -> ReceiverStream<Result<RelayConnection, std::io::Error>> {
    let (tx, rx) = mpsc::channel(64);
    let acceptor = TlsAcceptor::from(tls);
    let handshakes = Arc::new(Semaphore::new(MAX_CONCURRENT_HANDSHAKES));
    let connections = Arc::new(Semaphore::new(max_connections.max(1)));
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
            let Ok(slot) = connections.clone().try_acquire_owned() else {
                let n = stats
                    .refused
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n.is_power_of_two() {
                    tracing::warn!(%peer, refused_so_far = n + 1, "relay connection cap reached; closing new connections");
                }
                drop(tcp);
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let tcp = CountedStream::new(
                tcp,
                metrics.wire_bytes_received.clone(),
                metrics.wire_bytes_sent.clone(),
            );
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
                        let _ = tx
                            .send(Ok(RelayConnection {
                                inner: stream,
                                _slot: slot,
                            }))
                            .await;
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
