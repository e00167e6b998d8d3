//! One agent stream on the server: Welcome, snapshot deltas in, config deltas out,
//! acknowledgements, heartbeats, renewal hints. One task per stream; everything
//! shared lives in `RelayContext`.

use crate::relay::delta::{chunk_for_wire, diff};
use crate::relay::entitlements::AnnouncedEntitlements;
use crate::relay::limits::{MAX_DELTA_RESOURCES, MAX_MESSAGE_BYTES};
use crate::relay::proto::{
    Ack, AgentMessage, ConfigDelta, Error as WireError, Hello, LicenseUpdate, RenewHint,
    ResyncRequest, ServerMessage, SnapshotDelta, Welcome, agent_message, error, server_message,
};
use crate::relay::reassembly::{Chunk as WireChunk, Reassembler};
use crate::relay::resource::{key_of, key_of_ref, validate, validate_identity};
use crate::relay::{BUILD_VERSION, PROTOCOL_VERSION};
use crate::server::config_source::ClusterConfig;
use crate::server::registry::{ResourceErrorView, StreamHandle};
pub use crate::server::relay_context::SessionSettings;
use crate::server::relay_context::{Peer, RelayContext};
use futures::StreamExt;
use prost::Message;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tonic::{Status, Streaming};

const MAX_PENDING_ACKS: usize = 64;
const MAX_SAMPLES_PER_BATCH: usize = 10_000;
const MAX_ERROR_KEYS: usize = 100;
/// How long a Welcome waits for the license's first read while the server starts.
const FIRST_LICENSE_READ_WAIT: Duration = Duration::from_secs(5);

type Tx = mpsc::Sender<Result<ServerMessage, Status>>;

struct Session {
    ctx: Arc<RelayContext>,
    handle: StreamHandle,
    tx: Tx,
    /// What the agent holds of its configuration (key -> hash), as far as we know.
    agent_held: HashMap<String, String>,
    last_config: Option<Arc<ClusterConfig>>,
    pending_acks: VecDeque<(u64, Instant)>,
    /// The snapshot version being received from the agent.
    snapshot_rx: Reassembler,
}

fn msg(m: server_message::Msg) -> ServerMessage {
    ServerMessage { msg: Some(m) }
}

fn wire_error(code: error::Code, message: String, keys: Vec<String>, fatal: bool) -> ServerMessage {
    msg(server_message::Msg::Error(WireError {
        code: code as i32,
        message,
        keys,
        fatal,
    }))
}

/// Runs a stream until it ends; cleans up its registry entry.
pub async fn run(
    ctx: Arc<RelayContext>,
    handle: StreamHandle,
    peer: Peer,
    hello: Hello,
    inbound: Streaming<AgentMessage>,
    tx: Tx,
    permit: OwnedSemaphorePermit,
) {
    let cluster = handle.cluster.clone();
    let mut s = Session {
        ctx: ctx.clone(),
        handle,
        tx,
        agent_held: hello.held_config.clone().into_iter().collect(),
        last_config: None,
        pending_acks: VecDeque::new(),
        snapshot_rx: Reassembler::new(ctx.session.snapshot_bounds),
    };
    let reason = match s.run(&peer, &hello, inbound).await {
        Ok(()) => "closed".to_string(),
        Err(reason) => reason,
    };
    ctx.registry.detach(&s.handle, &reason);
    drop(permit);
    tracing::info!(%cluster, %reason, "agent stream ended");
}

/// The next license change to announce (its entries), `None` when the source is gone; never
/// resolves without a license source.
async fn license_changed(
    rx: &mut Option<tokio::sync::watch::Receiver<Option<AnnouncedEntitlements>>>,
) -> Option<Vec<String>> {
    let Some(rx) = rx else {
        return std::future::pending().await;
    };
    rx.changed().await.ok()?;
    Some(
        rx.borrow_and_update()
            .as_ref()
            .map(|a| a.encode())
            .unwrap_or_default(),
    )
}

impl Session {
    async fn send(&self, m: ServerMessage) -> Result<(), String> {
        self.ctx.metrics.message_sent(m.encoded_len());
        match tokio::time::timeout(self.ctx.session.send_timeout, self.tx.send(Ok(m))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err("the agent went away".into()),
            Err(_) => Err("the agent stopped reading (send timed out)".into()),
        }
    }

    /// Sends a final error status and ends the stream.
    async fn fail(&self, code: error::Code, message: String, status: Status) -> Result<(), String> {
        let _ = self
            .send(wire_error(code, message.clone(), Vec::new(), true))
            .await;
        let _ = tokio::time::timeout(Duration::from_secs(1), self.tx.send(Err(status))).await;
        Err(message)
    }

    async fn run(
        &mut self,
        peer: &Peer,
        hello: &Hello,
        mut inbound: Streaming<AgentMessage>,
    ) -> Result<(), String> {
        // Subscribed before the Welcome reads the license, so no change falls in between.
        let mut license_changes = self.ctx.session.entitlements.changes();
        self.welcome(peer, hello).await?;
        let mut changes = self.ctx.config.subscribe();
        changes.borrow_and_update();
        self.push_config(None).await?;

        let idle_limit = self.ctx.session.heartbeat_interval * self.ctx.session.missed_heartbeats;
        let idle = tokio::time::sleep(idle_limit);
        tokio::pin!(idle);
        // hint renewal once a third of the certificate's lifetime remains
        let lifetime = (peer.not_after - peer.not_before).max(0);
        let hint_at_unix = peer.not_after - lifetime / 3;
        let now_unix = jiff::Timestamp::now().as_second();
        let hint_in = Duration::from_secs(u64::try_from(hint_at_unix - now_unix).unwrap_or(0));
        let hint = tokio::time::sleep(hint_in);
        tokio::pin!(hint);
        let mut hinted = false;

        loop {
            tokio::select! {
                _ = self.ctx.shutdown.cancelled() => {
                    let _ = self.send(wire_error(error::Code::ShuttingDown, "the management server is shutting down".into(), Vec::new(), true)).await;
                    return Err("server shutting down".into());
                }
                _ = self.handle.deregistered.cancelled() => {
                    let m = format!("cluster {:?} was deregistered from this management server", self.handle.cluster);
                    let _ = self.send(wire_error(error::Code::IdentityMismatch, m, Vec::new(), true)).await;
                    return Err("the cluster was deregistered".into());
                }
                _ = self.handle.replaced.cancelled() => {
                    let _ = self.send(wire_error(error::Code::Replaced, "replaced by a newer stream of the same cluster".into(), Vec::new(), true)).await;
                    return Err("replaced by a newer stream".into());
                }
                changed = changes.changed() => {
                    if changed.is_err() {
                        return Err("config source closed".into());
                    }
                    self.push_config(Some(Instant::now())).await?;
                }
                changed = license_changed(&mut license_changes) => {
                    match changed {
                        Some(entitlements) => {
                            self.send(msg(server_message::Msg::License(LicenseUpdate { entitlements }))).await?;
                        }
                        // The license source stopped: nothing more to announce on this stream.
                        None => license_changes = None,
                    }
                }
                () = &mut hint, if !hinted => {
                    hinted = true;
                    self.send(msg(server_message::Msg::Renew(RenewHint { not_after: peer.not_after }))).await?;
                }
                () = &mut idle => {
                    return Err(format!("no message from the agent for {}s", idle_limit.as_secs()));
                }
                next = inbound.next() => {
                    idle.as_mut().reset(tokio::time::Instant::now() + idle_limit);
                    match next {
                        None => return Ok(()),
                        Some(Err(status)) => {
                            let m = format!("unreadable message: {}", status.message());
                            self.ctx.metrics.reject("malformed");
                            tracing::warn!(cluster = %self.handle.cluster, reason = %m, "agent stream rejected");
                            return self.fail(error::Code::InvalidMessage, m, Status::invalid_argument(status.message().to_string())).await;
                        }
                        Some(Ok(m)) => {
                            self.ctx.metrics.message_received(m.encoded_len());
                            self.handle.touch();
                            self.handle_message(m).await?;
                        }
                    }
                }
            }
        }
    }

    async fn welcome(&mut self, peer: &Peer, hello: &Hello) -> Result<(), String> {
        let entitlements = tokio::select! {
            e = self.ctx.session.entitlements.entries(FIRST_LICENSE_READ_WAIT) => e,
            _ = self.ctx.shutdown.cancelled() => return Err("server shutting down".into()),
        };
        let cluster = self.handle.cluster.clone();
        let summary = self
            .ctx
            .store
            .snapshot_summary(&cluster)
            .await
            .map_err(|e| e.to_string())?;
        let in_sync = summary.hash == hello.snapshot_hash;
        let mut held_snapshot = if in_sync {
            HashMap::new()
        } else {
            self.ctx
                .store
                .snapshot_hashes(&cluster)
                .await
                .map_err(|e| e.to_string())?
        };
        let mut welcome = Welcome {
            server_version: BUILD_VERSION.to_string(),
            protocol_version: PROTOCOL_VERSION,
            entitlements,
            held_snapshot: HashMap::new(),
            snapshot_in_sync: in_sync,
            heartbeat_interval_seconds: u32::try_from(
                self.ctx.session.heartbeat_interval.as_secs(),
            )
            .unwrap_or(10)
            .max(1),
            cert_not_after: peer.not_after,
        };
        welcome.held_snapshot = std::mem::take(&mut held_snapshot);
        if welcome.encoded_len() > MAX_MESSAGE_BYTES - 1024 {
            // Too many entries to describe: forget them and take a full snapshot.
            let keys: Vec<String> = welcome.held_snapshot.keys().cloned().collect();
            self.ctx
                .store
                .apply_snapshot_delta(&cluster, summary.version, Vec::new(), keys)
                .await
                .map_err(|e| e.to_string())?;
            welcome.held_snapshot.clear();
        }
        self.handle.update(|s| {
            s.snapshot_version = summary.version;
            s.snapshot_resources = summary.resources;
            s.snapshot_bytes = summary.bytes;
        });
        self.send(msg(server_message::Msg::Welcome(welcome))).await
    }

    async fn push_config(&mut self, changed_at: Option<Instant>) -> Result<(), String> {
        if !self.ctx.config.is_ready_for(&self.handle.cluster) {
            return Ok(());
        }
        let desired = self.ctx.config.desired(&self.handle.cluster);
        if let Some(last) = &self.last_config
            && Arc::ptr_eq(last, &desired)
        {
            return Ok(());
        }
        self.last_config = Some(desired.clone());
        let delta = diff(&self.agent_held, &desired.resources);
        let chunks = match chunk_for_wire(delta) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(cluster = %self.handle.cluster, error = %e, "configuration not sent");
                return Ok(());
            }
        };
        let version = desired.generation;
        let n = chunks.len();
        let (mut resources, mut bytes) = (0u64, 0u64);
        for (i, c) in chunks.into_iter().enumerate() {
            for r in &c.upserts {
                resources += 1;
                bytes += r.body.len() as u64;
                self.agent_held.insert(key_of(r), r.hash.clone());
            }
            for k in &c.deletes {
                self.agent_held.remove(&key_of_ref(k));
            }
            let delta = ConfigDelta {
                version,
                upserts: c.upserts,
                deletes: c.deletes,
                last: i + 1 == n,
                chunk: u32::try_from(i).unwrap_or(u32::MAX),
            };
            self.send(msg(server_message::Msg::Config(delta))).await?;
        }
        self.ctx.metrics.config_resources_sent.inc_by(resources);
        self.ctx.metrics.config_bytes_sent.inc_by(bytes);
        if let Some(t) = changed_at {
            self.ctx
                .metrics
                .push_latency
                .observe(t.elapsed().as_secs_f64());
        }
        self.pending_acks.push_back((version, Instant::now()));
        while self.pending_acks.len() > MAX_PENDING_ACKS {
            self.pending_acks.pop_front();
        }
        let hash = desired.hash.clone();
        self.handle.update(|s| {
            s.desired_config_version = Some(version);
            s.desired_config_hash = Some(hash);
        });
        tracing::debug!(cluster = %self.handle.cluster, version, resources, chunks = n, "config delta sent");
        Ok(())
    }

    async fn handle_message(&mut self, m: AgentMessage) -> Result<(), String> {
        match m.msg {
            None => {
                self.ctx.metrics.reject("malformed");
                self.send(wire_error(
                    error::Code::InvalidMessage,
                    "empty message".into(),
                    Vec::new(),
                    false,
                ))
                .await
            }
            Some(agent_message::Msg::Hello(_)) => {
                self.ctx.metrics.reject("malformed");
                self.fail(
                    error::Code::InvalidMessage,
                    "Hello may only be the first message".into(),
                    Status::invalid_argument("Hello may only be the first message"),
                )
                .await
            }
            Some(agent_message::Msg::Heartbeat(_)) => Ok(()),
            Some(agent_message::Msg::Metrics(b)) => {
                if b.samples.len() > MAX_SAMPLES_PER_BATCH {
                    self.ctx.metrics.reject("malformed");
                    return self
                        .send(wire_error(
                            error::Code::InvalidMessage,
                            format!("metrics batch over {MAX_SAMPLES_PER_BATCH} samples dropped"),
                            Vec::new(),
                            false,
                        ))
                        .await;
                }
                self.ctx
                    .metrics
                    .metric_samples_received
                    .inc_by(b.samples.len() as u64);
                Ok(())
            }
            Some(agent_message::Msg::Ack(a)) => {
                self.handle_ack(a);
                Ok(())
            }
            Some(agent_message::Msg::Snapshot(d)) => self.handle_snapshot(d).await,
        }
    }

    fn handle_ack(&mut self, a: Ack) {
        if let Some(pos) = self
            .pending_acks
            .iter()
            .position(|(v, _)| *v == a.config_version)
        {
            let (_, sent) = self.pending_acks[pos];
            self.ctx
                .metrics
                .ack_latency
                .observe(sent.elapsed().as_secs_f64());
            self.pending_acks.drain(..=pos);
        }
        let errors: Vec<ResourceErrorView> = a
            .errors
            .into_iter()
            .take(MAX_DELTA_RESOURCES)
            .map(|e| ResourceErrorView {
                key: e.key,
                message: e.message,
            })
            .collect();
        if !errors.is_empty() {
            self.ctx
                .metrics
                .config_apply_errors
                .inc_by(errors.len() as u64);
            for e in errors.iter().take(5) {
                tracing::warn!(cluster = %self.handle.cluster, key = %e.key, error = %e.message, "agent could not apply a resource");
            }
            // forget what failed so that it is sent again with the next change
            for e in &errors {
                self.agent_held.remove(&e.key);
            }
        }
        let version = a.config_version;
        let now = jiff::Timestamp::now();
        let hash = a.config_hash;
        self.handle.update(|s| {
            s.applied_config_version = Some(version);
            s.applied_config_at = Some(now);
            s.applied_config_hash = Some(hash);
        });
        self.handle.set_config_errors(errors);
    }

    /// Takes one snapshot chunk; a version that arrived whole is validated and applied to the
    /// store in one step, so nothing of an unfinished version is ever kept.
    async fn handle_snapshot(&mut self, d: SnapshotDelta) -> Result<(), String> {
        let cluster = self.handle.cluster.clone();
        let snapshot_hash = d.snapshot_hash;
        let chunk = WireChunk {
            version: d.version,
            chunk: d.chunk,
            last: d.last,
            upserts: d.upserts,
            deletes: d.deletes,
        };
        let whole = match self.snapshot_rx.accept(chunk) {
            Ok(None) => return Ok(()),
            Ok(Some(whole)) => whole,
            Err(e) => {
                self.ctx.metrics.reject("malformed");
                tracing::warn!(%cluster, error = %e, "agent stream rejected: snapshot chunk refused");
                return self
                    .fail(
                        error::Code::InvalidMessage,
                        format!("snapshot {e}"),
                        Status::invalid_argument(format!("snapshot {e}")),
                    )
                    .await;
            }
        };
        let version = whole.version;
        let mut valid = Vec::with_capacity(whole.upserts.len());
        let mut rejected: Vec<(String, String)> = Vec::new();
        let mut bytes = 0u64;
        for r in whole.upserts {
            match validate(&r) {
                Ok(()) => {
                    bytes += r.body.len() as u64;
                    valid.push(r);
                }
                Err(e) => rejected.push((key_of(&r), e.to_string())),
            }
        }
        let deletes: Vec<String> = whole
            .deletes
            .iter()
            .filter(|k| validate_identity(&k.api_version, &k.kind, &k.namespace, &k.name).is_ok())
            .map(key_of_ref)
            .collect();
        self.ctx
            .metrics
            .snapshot_resources_received
            .inc_by(valid.len() as u64);
        self.ctx.metrics.snapshot_bytes_received.inc_by(bytes);
        let summary = self
            .ctx
            .store
            .apply_snapshot_delta(&cluster, version, valid, deletes)
            .await
            .map_err(|e| e.to_string())?;
        let any_rejected = !rejected.is_empty();
        if any_rejected {
            self.ctx
                .metrics
                .snapshot_resources_rejected
                .inc_by(rejected.len() as u64);
            let detail: Vec<String> = rejected
                .iter()
                .take(5)
                .map(|(k, e)| format!("{k}: {e}"))
                .collect();
            let message = format!(
                "{} snapshot resource(s) rejected: {}",
                rejected.len(),
                detail.join("; ")
            );
            tracing::warn!(%cluster, version, %message, "snapshot resources rejected");
            let keys = rejected
                .into_iter()
                .take(MAX_ERROR_KEYS)
                .map(|(k, _)| k)
                .collect();
            self.send(wire_error(
                error::Code::InvalidResource,
                message,
                keys,
                false,
            ))
            .await?;
        }
        self.handle.update(|s| {
            s.snapshot_version = summary.version;
            s.snapshot_resources = summary.resources;
            s.snapshot_bytes = summary.bytes;
        });
        if !any_rejected && snapshot_hash != summary.hash {
            let held = self
                .ctx
                .store
                .snapshot_hashes(&cluster)
                .await
                .map_err(|e| e.to_string())?;
            tracing::info!(%cluster, "snapshot hash differs after delta; asking the agent to resync");
            let mut req = ResyncRequest {
                reason: "the server's copy of the snapshot differs from the agent's".into(),
                held_snapshot: held.into_iter().collect(),
            };
            if req.encoded_len() > MAX_MESSAGE_BYTES - 1024 {
                let keys: Vec<String> = req.held_snapshot.keys().cloned().collect();
                self.ctx
                    .store
                    .apply_snapshot_delta(&cluster, summary.version, Vec::new(), keys)
                    .await
                    .map_err(|e| e.to_string())?;
                req.held_snapshot.clear();
            }
            self.send(msg(server_message::Msg::Resync(req))).await?;
        }
        Ok(())
    }
}
