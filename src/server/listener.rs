//! The relay's TLS listener: accepts TCP connections, admits them through the connection gate,
//! runs the TLS handshake within deadlines (logging why a handshake failed, e.g. an expired or
//! foreign client certificate) and hands established streams to tonic.

use crate::relay::client::error_chain;
use crate::server::connection_gate::{ConnectionGate, PendingPlace, Refusal};
use crate::server::metrics::RelayMetrics;
use crate::server::wire_counter::CountedStream;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
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

/// Handshakes running at once (after their ClientHello started); further connections wait for
/// a slot within their deadline (bounded work per burst).
pub const MAX_CONCURRENT_HANDSHAKES: usize = 256;
/// How long a new connection may stay silent before its ClientHello starts.
pub const CLIENT_HELLO_DEADLINE: Duration = Duration::from_secs(5);
/// The whole handshake, counted from the accept.
pub const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);

/// Counts of handshake outcomes, for metrics and tests.
#[derive(Debug, Default)]
pub struct HandshakeStats {
    pub failed: std::sync::atomic::AtomicU64,
    /// Connections closed because a cap was reached (pending in all, pending per source,
    /// established).
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

/// Accepts connections on `listener` until `cancel`, yielding established TLS streams.
///
/// A connection first waits, without a handshake slot, for its ClientHello to start (at most
/// [`CLIENT_HELLO_DEADLINE`]); only then does it take one of [`MAX_CONCURRENT_HANDSHAKES`] slots
/// for the handshake, which must finish within [`HANDSHAKE_DEADLINE`] of the accept. `gate` bounds
/// pending connections (in all and per source address) apart from established ones, and the
/// accept loop never waits for either: a flood of silent connections is closed or times out
/// while agents keep connecting. Bytes on the wire are counted in `metrics`.
pub fn tls_incoming(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    cancel: CancellationToken,
    stats: Arc<HandshakeStats>,
    gate: ConnectionGate,
    metrics: Arc<RelayMetrics>,
) -> ReceiverStream<Result<RelayConnection, std::io::Error>> {
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
            let place = match gate.admit(peer.ip()) {
                Ok(place) => place,
                Err(refusal) => {
                    refuse(&stats, &metrics, peer, refusal);
                    drop(tcp);
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let handshake = Handshake {
                acceptor: acceptor.clone(),
                slots: handshakes.clone(),
                tx: tx.clone(),
                stats: stats.clone(),
                metrics: metrics.clone(),
                gate: gate.clone(),
            };
            let cancel = cancel.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = cancel.cancelled() => {}
                    () = handshake.run(tcp, peer, place) => {}
                }
            });
        }
    });
    ReceiverStream::new(rx)
}

fn refuse(stats: &HandshakeStats, metrics: &RelayMetrics, peer: SocketAddr, refusal: Refusal) {
    let n = stats.refused.fetch_add(1, Ordering::Relaxed);
    metrics.connection_refused(refusal.as_str());
    if n.is_power_of_two() {
        tracing::warn!(%peer, reason = refusal.as_str(), refused_so_far = n + 1, "relay connection closed before its handshake");
    }
}

/// What one connection's handshake task needs.
struct Handshake {
    acceptor: TlsAcceptor,
    slots: Arc<Semaphore>,
    tx: mpsc::Sender<Result<RelayConnection, std::io::Error>>,
    stats: Arc<HandshakeStats>,
    metrics: Arc<RelayMetrics>,
    gate: ConnectionGate,
}

impl Handshake {
    fn failed(&self, peer: SocketAddr, reason: &'static str, detail: &str) {
        self.stats.failed.fetch_add(1, Ordering::Relaxed);
        self.metrics.connection_refused(reason);
        tracing::warn!(%peer, reason, detail, "relay TLS handshake failed");
    }

    async fn run(self, tcp: TcpStream, peer: SocketAddr, place: PendingPlace) {
        let deadline = tokio::time::Instant::now() + HANDSHAKE_DEADLINE;
        // Wait for the ClientHello's first byte without taking a handshake slot.
        let mut first = [0u8; 1];
        match tokio::time::timeout(CLIENT_HELLO_DEADLINE, tcp.peek(&mut first)).await {
            Ok(Ok(n)) if n > 0 => {}
            // closed, or failed, before sending anything: nothing to say
            Ok(_) => return,
            Err(_) => {
                self.failed(
                    peer,
                    "client_hello_timeout",
                    "no ClientHello within the deadline",
                );
                return;
            }
        }
        let Ok(Ok(slot)) =
            tokio::time::timeout_at(deadline, self.slots.clone().acquire_owned()).await
        else {
            self.failed(
                peer,
                "handshake_timeout",
                "no handshake slot within the deadline",
            );
            return;
        };
        let tcp = CountedStream::new(
            tcp,
            self.metrics.wire_bytes_received.clone(),
            self.metrics.wire_bytes_sent.clone(),
        );
        let result = tokio::time::timeout_at(deadline, self.acceptor.accept(tcp)).await;
        drop(slot);
        let stream = match result {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return self.failed(peer, "handshake_failed", &error_chain(&e)),
            Err(_) => {
                return self.failed(
                    peer,
                    "handshake_timeout",
                    "the handshake did not finish in time",
                );
            }
        };
        match self.gate.establish(place) {
            Ok(established) => {
                let _ = self
                    .tx
                    .send(Ok(RelayConnection {
                        inner: stream,
                        _slot: established,
                    }))
                    .await;
            }
            Err(refusal) => refuse(&self.stats, &self.metrics, peer, refusal),
        }
    }
}
