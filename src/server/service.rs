//! The tonic implementation of the Relay service: Bootstrap, Connect and Renew.
//! Identity for Connect and Renew comes only from the verified client certificate.

use crate::relay::PROTOCOL_VERSION;
use crate::relay::identity::{cluster_from_cert_der, validate_cluster_name};
use crate::relay::pki::{IssuedCert, validity_der};
use crate::relay::proto::relay_server::Relay;
use crate::relay::proto::{
    AgentMessage, BootstrapRequest, BootstrapResponse, Error as WireError, RenewRequest,
    RenewResponse, ServerMessage, agent_message, error, server_message,
};
use crate::relay::token::TokenError;
use crate::server::limiter::Refusal;
use crate::server::metrics::ResultLabel;
use crate::server::registry::AttachInfo;
pub use crate::server::relay_context::{Peer, RelayContext};
use crate::server::session;
use crate::server::tokens::TokenStoreError;
use futures::StreamExt;
use prost::Message;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

/// Largest CSR accepted.
const MAX_CSR_BYTES: usize = 16 * 1024;
/// Messages buffered towards one agent.
const OUTBOUND_BUFFER: usize = 16;

#[derive(Debug, Clone)]
pub struct RelayService {
    ctx: Arc<RelayContext>,
}

impl RelayService {
    pub fn new(ctx: Arc<RelayContext>) -> Self {
        Self { ctx }
    }
}

fn peer_label<T>(req: &Request<T>) -> String {
    req.remote_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|| "unknown".into())
}

impl RelayService {
    fn reject(&self, reason: &str, peer: &str, status: Status) -> Status {
        self.ctx.metrics.reject(reason);
        tracing::warn!(%peer, reason, message = status.message(), "relay call rejected");
        status
    }

    /// Refuses a Connect stream the server has started to read (docs/relay.md "Refusals"): the
    /// agent receives a fatal `Error{code}` with the status's message, then the stream ends with
    /// `status`. Counted and logged like every refusal.
    fn refuse_stream(
        &self,
        reason: &str,
        peer: &str,
        code: error::Code,
        status: Status,
    ) -> Result<Response<ReceiverStream<Result<ServerMessage, Status>>>, Status> {
        let status = self.reject(reason, peer, status);
        let refusal = ServerMessage {
            msg: Some(server_message::Msg::Error(WireError {
                code: code as i32,
                message: status.message().to_owned(),
                keys: Vec::new(),
                fatal: true,
            })),
        };
        self.ctx.metrics.message_sent(refusal.encoded_len());
        let (tx, rx) = mpsc::channel(2);
        // A fresh channel with room for both: neither send can fail.
        let _ = tx.try_send(Ok(refusal));
        let _ = tx.try_send(Err(status));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    /// Identity from the verified client certificate; the cluster must be registered.
    async fn authenticate<T>(&self, req: &Request<T>) -> Result<Peer, Status> {
        let addr = peer_label(req);
        let certs = req.peer_certs();
        let Some(leaf) = certs.as_ref().and_then(|c| c.first()) else {
            return Err(self.reject(
                "no_client_cert",
                &addr,
                Status::unauthenticated(
                    "a client certificate is required (mTLS); bootstrap with a token first",
                ),
            ));
        };
        let cluster = cluster_from_cert_der(leaf).map_err(|e| {
            self.reject(
                "bad_identity",
                &addr,
                Status::permission_denied(format!("client certificate refused: {e}")),
            )
        })?;
        let (not_before, not_after) = validity_der(leaf).map_err(|e| {
            self.reject(
                "bad_identity",
                &addr,
                Status::permission_denied(format!("client certificate refused: {e}")),
            )
        })?;
        let registered = self.ctx.tokens.is_registered(&cluster).await;
        if let Ok(registered) = registered {
            self.ctx.admission.record(&cluster, registered);
        }
        match registered {
            Ok(true) => {}
            Ok(false) => {
                return Err(self.reject(
                    "not_registered",
                    &addr,
                    Status::permission_denied(format!(
                        "cluster {cluster:?} is not registered with this management server"
                    )),
                ));
            }
            Err(e) => return Err(Status::unavailable(format!("token store: {e}"))),
        }
        Ok(Peer {
            cluster,
            not_before,
            not_after,
        })
    }

    fn rate(&self, addr: &str) -> Result<(), Status> {
        self.ctx.limiter.admit_rate().map_err(|r| {
            self.reject(
                "rate_limited",
                addr,
                Status::resource_exhausted(r.to_string()),
            )
        })
    }

    fn issue(&self, cluster: &str, csr: &[u8]) -> Result<IssuedCert, Status> {
        if csr.is_empty() || csr.len() > MAX_CSR_BYTES {
            return Err(Status::invalid_argument(format!(
                "csr_der must be 1..={MAX_CSR_BYTES} bytes"
            )));
        }
        self.ctx
            .ca
            .issue_client_cert(
                cluster,
                csr,
                self.ctx.client_cert_ttl,
                time::OffsetDateTime::now_utc(),
            )
            .map_err(|e| Status::invalid_argument(e.to_string()))
    }
}

fn token_status(e: TokenStoreError) -> (&'static str, Status) {
    match e {
        TokenStoreError::Token(t @ TokenError::NotIssued(_)) => {
            ("token_not_issued", Status::permission_denied(t.to_string()))
        }
        TokenStoreError::Token(t @ TokenError::Mismatch(_)) => {
            ("token_mismatch", Status::unauthenticated(t.to_string()))
        }
        TokenStoreError::Token(t @ TokenError::AlreadyUsed(_)) => {
            ("token_used", Status::permission_denied(t.to_string()))
        }
        other => ("token_store", Status::unavailable(other.to_string())),
    }
}

#[tonic::async_trait]
impl Relay for RelayService {
    async fn bootstrap(
        &self,
        request: Request<BootstrapRequest>,
    ) -> Result<Response<BootstrapResponse>, Status> {
        let addr = peer_label(&request);
        self.rate(&addr)?;
        let req = request.into_inner();
        let fail = |reason: &str, status: Status| {
            self.ctx
                .metrics
                .bootstraps
                .get_or_create(&ResultLabel {
                    result: reason.to_string(),
                })
                .inc();
            self.reject(reason, &addr, status)
        };
        if let Err(e) = validate_cluster_name(&req.cluster) {
            return Err(fail(
                "bad_cluster_name",
                Status::invalid_argument(e.to_string()),
            ));
        }
        if let Err(e) = self.ctx.tokens.check(&req.cluster, &req.token).await {
            let (reason, status) = token_status(e);
            return Err(fail(reason, status));
        }
        let issued = match self.issue(&req.cluster, &req.csr_der) {
            Ok(i) => i,
            Err(s) => return Err(fail("bad_csr", s)),
        };
        if let Err(e) = self.ctx.tokens.consume(&req.cluster, &req.token).await {
            let (reason, status) = token_status(e);
            return Err(fail(reason, status));
        }
        self.ctx.registry.register(&req.cluster);
        self.ctx.admission.record(&req.cluster, true);
        self.ctx
            .metrics
            .bootstraps
            .get_or_create(&ResultLabel {
                result: "issued".into(),
            })
            .inc();
        tracing::info!(cluster = %req.cluster, peer = %addr, not_after = issued.not_after, "bootstrap: client certificate issued, token consumed");
        Ok(Response::new(BootstrapResponse {
            cert_chain_pem: issued.chain_pem,
            ca_pem: issued.ca_pem,
            not_after: issued.not_after,
        }))
    }

    type ConnectStream = ReceiverStream<Result<ServerMessage, Status>>;

    async fn connect(
        &self,
        request: Request<Streaming<AgentMessage>>,
    ) -> Result<Response<Self::ConnectStream>, Status> {
        let addr = peer_label(&request);
        let peer = self.authenticate(&request).await?;
        self.rate(&addr)?;
        let permit = match self.ctx.limiter.try_permit() {
            Ok(p) => p,
            Err(Refusal::AtCapacity) if self.ctx.registry.has_active(&peer.cluster) => {
                // a reconnect of a cluster whose old stream still holds a permit
                self.ctx.registry.cancel_active(&peer.cluster);
                self.ctx
                    .limiter
                    .permit_within(Duration::from_secs(5))
                    .await
                    .map_err(|r| {
                        self.reject(
                            "at_capacity",
                            &addr,
                            Status::resource_exhausted(r.to_string()),
                        )
                    })?
            }
            Err(r) => {
                return Err(self.reject(
                    "at_capacity",
                    &addr,
                    Status::resource_exhausted(r.to_string()),
                ));
            }
        };
        let mut inbound = request.into_inner();
        // From here on the call is accepted: a refusal is a fatal Error{code}, then the status.
        let first = match tokio::time::timeout(self.ctx.hello_timeout, inbound.next()).await {
            Err(_) => {
                return self.refuse_stream(
                    "no_hello",
                    &addr,
                    error::Code::InvalidMessage,
                    Status::deadline_exceeded("no Hello within the timeout"),
                );
            }
            Ok(None) => {
                return self.refuse_stream(
                    "no_hello",
                    &addr,
                    error::Code::InvalidMessage,
                    Status::invalid_argument("the stream ended before Hello"),
                );
            }
            Ok(Some(Err(status))) => {
                return self.refuse_stream(
                    "malformed",
                    &addr,
                    error::Code::InvalidMessage,
                    Status::invalid_argument(format!(
                        "unreadable first message: {}",
                        status.message()
                    )),
                );
            }
            Ok(Some(Ok(m))) => {
                self.ctx.metrics.message_received(m.encoded_len());
                m
            }
        };
        let Some(agent_message::Msg::Hello(hello)) = first.msg else {
            return self.refuse_stream(
                "no_hello",
                &addr,
                error::Code::InvalidMessage,
                Status::invalid_argument("the first message of a stream must be Hello"),
            );
        };
        if hello.cluster != peer.cluster {
            return self.refuse_stream(
                "identity_mismatch",
                &addr,
                error::Code::IdentityMismatch,
                Status::permission_denied(format!(
                    "Hello claims cluster {:?} but the client certificate identifies cluster {:?}",
                    hello.cluster, peer.cluster
                )),
            );
        }
        if hello.protocol_version != PROTOCOL_VERSION {
            return self.refuse_stream(
                "protocol_version",
                &addr,
                error::Code::UnsupportedProtocol,
                Status::failed_precondition(format!(
                    "protocol version {} is not supported (server speaks {PROTOCOL_VERSION})",
                    hello.protocol_version
                )),
            );
        }
        if hello.held_config.len() > crate::relay::limits::MAX_DELTA_RESOURCES {
            return self.refuse_stream(
                "malformed",
                &addr,
                error::Code::InvalidMessage,
                Status::invalid_argument("Hello holds too many config entries"),
            );
        }
        let (handle, replaced) = self.ctx.registry.attach(
            &peer.cluster,
            AttachInfo {
                agent_version: hello.agent_version.clone(),
                cert_not_after: Some(peer.not_after),
                remote_address: Some(addr.clone()),
            },
        );
        self.ctx.metrics.streams_opened.inc();
        tracing::info!(cluster = %peer.cluster, peer = %addr, agent_version = %hello.agent_version, replaced, "agent connected");
        let (tx, rx) = mpsc::channel(OUTBOUND_BUFFER);
        tokio::spawn(session::run(
            self.ctx.clone(),
            handle,
            peer,
            hello,
            inbound,
            tx,
            permit,
        ));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn renew(
        &self,
        request: Request<RenewRequest>,
    ) -> Result<Response<RenewResponse>, Status> {
        let addr = peer_label(&request);
        let peer = self.authenticate(&request).await?;
        self.rate(&addr)?;
        let issued = self
            .issue(&peer.cluster, &request.get_ref().csr_der)
            .inspect_err(|_| {
                self.ctx
                    .metrics
                    .renewals
                    .get_or_create(&ResultLabel {
                        result: "bad_csr".into(),
                    })
                    .inc();
            })?;
        self.ctx
            .metrics
            .renewals
            .get_or_create(&ResultLabel {
                result: "issued".into(),
            })
            .inc();
        tracing::info!(cluster = %peer.cluster, not_after = issued.not_after, "client certificate renewed");
        Ok(Response::new(RenewResponse {
            cert_chain_pem: issued.chain_pem,
            ca_pem: issued.ca_pem,
            not_after: issued.not_after,
        }))
    }
}
