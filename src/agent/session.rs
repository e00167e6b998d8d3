//! One relay stream on the agent: Hello, Welcome, snapshot deltas out, config deltas
//! in, acks, heartbeats and certificate renewal.

use crate::agent::bootstrap::{describe_status, renew};
use crate::agent::credentials::Credentials;
use crate::agent::shared::AgentShared;
use crate::agent::source::Snapshot;
use crate::relay::client::{connect, relay_client};
use crate::relay::delta::{chunk_for_wire, diff};
use crate::relay::entitlements::{AnnouncedEntitlements, AnnouncedState};
use crate::relay::hash::aggregate_hash;
use crate::relay::proto::{
    Ack, AgentMessage, ConfigDelta, Heartbeat, Hello, ResourceError, SnapshotDelta, agent_message,
    error, server_message,
};
use crate::relay::reassembly::{Chunk as WireChunk, Reassembler};
use crate::relay::resource::{key_of, key_of_ref};
use crate::relay::tls::client_config;
use crate::relay::{BUILD_VERSION, PROTOCOL_VERSION};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

const OPEN_TIMEOUT: Duration = Duration::from_secs(15);
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// How a session ended.
#[derive(Debug)]
pub enum SessionEnd {
    /// The agent is shutting down.
    Shutdown,
    /// The stream failed; `welcomed` tells whether it got as far as Welcome.
    Failed { reason: String, welcomed: bool },
}

type Tx = mpsc::Sender<AgentMessage>;

async fn send(tx: &Tx, m: agent_message::Msg) -> Result<(), String> {
    match tokio::time::timeout(SEND_TIMEOUT, tx.send(AgentMessage { msg: Some(m) })).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err("the stream closed".into()),
        Err(_) => Err("the server stopped reading (send timed out)".into()),
    }
}

/// Sends the difference between what the server holds and `snap`; returns the new
/// server view.
async fn send_snapshot(
    shared: &AgentShared,
    tx: &Tx,
    server_view: &mut HashMap<String, String>,
    snap: &Snapshot,
    force: bool,
) -> Result<(), String> {
    let delta = diff(server_view, &snap.resources);
    if delta.is_empty() && !force {
        return Ok(());
    }
    let chunks = chunk_for_wire(delta).map_err(|e| e.to_string())?;
    let version = shared.snapshot_version.fetch_add(1, Ordering::Relaxed) + 1;
    let n = chunks.len();
    for (i, c) in chunks.into_iter().enumerate() {
        for r in &c.upserts {
            shared.metrics.snapshot_resources_sent.inc();
            shared
                .metrics
                .snapshot_bytes_sent
                .inc_by(r.body.len() as u64);
            server_view.insert(key_of(r), r.hash.clone());
        }
        for k in &c.deletes {
            server_view.remove(&key_of_ref(k));
        }
        let last = i + 1 == n;
        send(
            tx,
            agent_message::Msg::Snapshot(SnapshotDelta {
                version,
                upserts: c.upserts,
                deletes: c.deletes,
                last,
                snapshot_hash: if last {
                    snap.hash.clone()
                } else {
                    String::new()
                },
                chunk: u32::try_from(i).unwrap_or(u32::MAX),
            }),
        )
        .await?;
    }
    Ok(())
}

/// Runs one stream with `creds` until it ends.
pub async fn run(shared: &Arc<AgentShared>, creds: &Credentials) -> SessionEnd {
    let failed = |reason: String, welcomed: bool| SessionEnd::Failed { reason, welcomed };
    let s = &shared.settings;
    let tls = match client_config(&s.ca_pem, Some(&creds.identity)) {
        Ok(t) => t,
        Err(e) => return failed(e.to_string(), false),
    };
    let channel = tokio::select! {
        _ = shared.cancel.cancelled() => return SessionEnd::Shutdown,
        c = connect(&s.target, tls) => match c {
            Ok(c) => c,
            Err(e) => return failed(e.to_string(), false),
        },
    };
    let held_config = match shared.sink.held().await {
        Ok(h) => h,
        Err(e) => return failed(format!("reading applied configuration: {e}"), false),
    };
    let applied: HashMap<String, String> = held_config.clone().into_iter().collect();
    let mut snapshots = shared.source.subscribe();
    let snap = snapshots.borrow_and_update().clone();
    let (tx, rx) = mpsc::channel(16);
    let hello = Hello {
        cluster: s.cluster.clone(),
        agent_version: BUILD_VERSION.to_string(),
        protocol_version: PROTOCOL_VERSION,
        held_config: held_config.into_iter().collect(),
        snapshot_hash: snap.hash.clone(),
        snapshot_resources: snap.resources.len() as u64,
    };
    if let Err(e) = send(&tx, agent_message::Msg::Hello(hello)).await {
        return failed(e, false);
    }
    let mut client = relay_client(channel.clone());
    let opened = tokio::select! {
        _ = shared.cancel.cancelled() => return SessionEnd::Shutdown,
        r = tokio::time::timeout(OPEN_TIMEOUT, client.connect(ReceiverStream::new(rx))) => r,
    };
    let mut inbound = match opened {
        Err(_) => return failed("the server did not open the stream in time".into(), false),
        Ok(Err(status)) => {
            return failed(
                format!(
                    "the server refused the stream: {}",
                    describe_status(&status)
                ),
                false,
            );
        }
        Ok(Ok(r)) => r.into_inner(),
    };
    let first = tokio::select! {
        _ = shared.cancel.cancelled() => return SessionEnd::Shutdown,
        r = tokio::time::timeout(OPEN_TIMEOUT, inbound.message()) => r,
    };
    let welcome = match first {
        Err(_) => return failed("no Welcome from the server".into(), false),
        Ok(Err(status)) => {
            return failed(
                format!(
                    "the server refused the stream: {}",
                    describe_status(&status)
                ),
                false,
            );
        }
        Ok(Ok(None)) => return failed("the server closed the stream before Welcome".into(), false),
        Ok(Ok(Some(m))) => match m.msg {
            Some(server_message::Msg::Welcome(w)) => w,
            Some(server_message::Msg::Error(e)) => {
                let code = error::Code::try_from(e.code).unwrap_or(error::Code::Unspecified);
                return failed(
                    format!(
                        "the server refused the stream ({}): {}",
                        code.as_str_name(),
                        e.message
                    ),
                    false,
                );
            }
            _ => return failed("the server's first message was not Welcome".into(), false),
        },
    };
    let license = AnnouncedEntitlements::decode(&welcome.entitlements);
    let expires = license
        .expires_at
        .map_or_else(|| "-".to_owned(), |t| t.to_string());
    tracing::info!(
        cluster = %s.cluster,
        server_version = %welcome.server_version,
        in_sync = welcome.snapshot_in_sync,
        license = %license.license.as_str(),
        products = %license.products_text(),
        modules = %license.modules_text(),
        license_expires = %expires,
        "connected to the management server"
    );
    record_license(shared, license);
    shared.metrics.connected.set(1);
    let end = connected(
        shared, creds, channel, tx, inbound, snapshots, snap, welcome, applied,
    )
    .await;
    shared.metrics.connected.set(0);
    end
}

#[allow(clippy::too_many_arguments)]
async fn connected(
    shared: &Arc<AgentShared>,
    creds: &Credentials,
    channel: tonic::transport::Channel,
    tx: Tx,
    mut inbound: tonic::Streaming<crate::relay::proto::ServerMessage>,
    mut snapshots: tokio::sync::watch::Receiver<Arc<Snapshot>>,
    snap: Arc<Snapshot>,
    welcome: crate::relay::proto::Welcome,
    mut applied: HashMap<String, String>,
) -> SessionEnd {
    let failed = |reason: String| SessionEnd::Failed {
        reason,
        welcomed: true,
    };
    let s = &shared.settings;
    let mut server_view: HashMap<String, String> = if welcome.snapshot_in_sync {
        snap.hashes()
    } else {
        welcome.held_snapshot.into_iter().collect()
    };
    if let Err(e) = send_snapshot(
        shared,
        &tx,
        &mut server_view,
        &snap,
        !welcome.snapshot_in_sync,
    )
    .await
    {
        return failed(e);
    }
    let hb = Duration::from_secs(u64::from(welcome.heartbeat_interval_seconds.max(1)));
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + hb, hb);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut renew_at = renew_deadline(creds.renew_at());
    let mut config_rx = Reassembler::default();

    loop {
        tokio::select! {
            _ = shared.cancel.cancelled() => {
                close_gracefully(tx, &mut inbound).await;
                return SessionEnd::Shutdown;
            }
            _ = heartbeat.tick() => {
                let now = jiff::Timestamp::now().as_millisecond();
                if let Err(e) = send(&tx, agent_message::Msg::Heartbeat(Heartbeat { sent_at_ms: now })).await {
                    return failed(e);
                }
            }
            () = tokio::time::sleep_until(renew_at) => {
                renew_at = match renew_now(shared, channel.clone()).await {
                    Ok(c) => after_renewal(renew_deadline(c.renew_at()), tokio::time::Instant::now()),
                    Err(e) => {
                        tracing::warn!(cluster = %s.cluster, error = %e, "certificate renewal failed; retrying in 60s");
                        tokio::time::Instant::now() + Duration::from_secs(60)
                    }
                };
            }
            changed = snapshots.changed() => {
                if changed.is_err() {
                    return failed("the cluster source stopped".into());
                }
                let snap = snapshots.borrow_and_update().clone();
                if let Err(e) = send_snapshot(shared, &tx, &mut server_view, &snap, false).await {
                    return failed(e);
                }
            }
            next = inbound.message() => {
                let m = match next {
                    Ok(Some(m)) => m,
                    Ok(None) => return failed("the server closed the stream".into()),
                    Err(status) => return failed(format!("the stream failed: {}", describe_status(&status))),
                };
                match m.msg {
                    Some(server_message::Msg::Config(c)) => {
                        if let Err(e) = receive_config(shared, &tx, &mut config_rx, &mut applied, c).await {
                            return failed(e);
                        }
                    }
                    Some(server_message::Msg::Resync(r)) => {
                        tracing::info!(cluster = %s.cluster, reason = %r.reason, "server asked for a resync");
                        server_view = r.held_snapshot.into_iter().collect();
                        let snap = snapshots.borrow().clone();
                        if let Err(e) = send_snapshot(shared, &tx, &mut server_view, &snap, true).await {
                            return failed(e);
                        }
                    }
                    Some(server_message::Msg::Renew(_)) => {
                        renew_at = tokio::time::Instant::now();
                    }
                    Some(server_message::Msg::Error(e)) => {
                        let code = error::Code::try_from(e.code).unwrap_or(error::Code::Unspecified);
                        if code == error::Code::InvalidResource {
                            shared.metrics.snapshot_resources_rejected.inc_by(e.keys.len() as u64);
                            for k in &e.keys {
                                server_view.remove(k);
                            }
                        }
                        tracing::warn!(cluster = %s.cluster, code = ?code, message = %e.message, fatal = e.fatal, "error from the management server");
                        if e.fatal {
                            return failed(format!("the server ended the stream: {}", e.message));
                        }
                    }
                    Some(server_message::Msg::License(update)) => {
                        record_license(shared, AnnouncedEntitlements::decode(&update.entitlements));
                    }
                    Some(server_message::Msg::Welcome(_)) | None => {}
                }
            }
        }
    }
}

/// Keeps the license the server announced for `/api/v1/license` and the metrics; logs a change,
/// and warns when it changed to one under which the server translates nothing new.
fn record_license(shared: &AgentShared, license: AnnouncedEntitlements) {
    shared.metrics.set_license(&license);
    let Ok(mut current) = shared.server_license.lock() else {
        return;
    };
    if current.as_ref() == Some(&license) {
        return;
    }
    if current.is_some() {
        tracing::info!(
            cluster = %shared.settings.cluster,
            license = %license.license.as_str(),
            products = %license.products_text(),
            modules = %license.modules_text(),
            "the management server's license changed"
        );
    }
    let state = license.license;
    if state != AnnouncedState::Unknown && !state.is_usable() {
        tracing::warn!(
            cluster = %shared.settings.cluster,
            license = state.as_str(),
            "the management server has no usable license: it translates no new configuration (what was applied stays)"
        );
    }
    *current = Some(license);
}

/// How long a shutting-down agent waits for the server to end the stream.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Ends our half of the stream and waits (bounded) for the server to end its half,
/// so that the connection is not torn down under an unfinished stream (which the
/// server would see as a transport error instead of an orderly close).
async fn close_gracefully(
    tx: Tx,
    inbound: &mut tonic::Streaming<crate::relay::proto::ServerMessage>,
) {
    drop(tx);
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while let Ok(Some(_)) = inbound.message().await {}
    })
    .await;
}

/// The least time between two renewals of one stream, whatever lifetime the server gave: a
/// server that issues certificates already due for renewal must not be asked again and again.
const MIN_RENEW_INTERVAL: Duration = Duration::from_secs(60);

/// When to renew next after a renewal at `now` whose certificate is due at `due`.
fn after_renewal(due: tokio::time::Instant, now: tokio::time::Instant) -> tokio::time::Instant {
    due.max(now + MIN_RENEW_INTERVAL)
}

fn renew_deadline(renew_at_unix: i64) -> tokio::time::Instant {
    let now = jiff::Timestamp::now().as_second();
    let wait = u64::try_from(renew_at_unix - now).unwrap_or(0);
    tokio::time::Instant::now() + Duration::from_secs(wait)
}

async fn renew_now(
    shared: &AgentShared,
    channel: tonic::transport::Channel,
) -> Result<Credentials, String> {
    let s = &shared.settings;
    let (creds, ca) = renew(channel, &s.cluster)
        .await
        .map_err(|e| e.to_string())?;
    shared
        .credentials
        .save(&creds, &ca)
        .await
        .map_err(|e| e.to_string())?;
    shared.metrics.renewals.inc();
    shared.metrics.cert_not_after.set(creds.not_after);
    tracing::info!(cluster = %s.cluster, not_after = creds.not_after, "client certificate renewed");
    if let Ok(mut g) = shared.current.lock() {
        *g = Some(creds.clone());
    }
    Ok(creds)
}

/// Takes one configuration chunk; a version that arrived whole is applied and acknowledged. A
/// chunk that breaks the protocol's order or bounds ends the stream (nothing of its version is
/// applied; the next stream starts from what is held).
async fn receive_config(
    shared: &AgentShared,
    tx: &Tx,
    config_rx: &mut Reassembler,
    applied: &mut HashMap<String, String>,
    c: ConfigDelta,
) -> Result<(), String> {
    let chunk = WireChunk {
        version: c.version,
        chunk: c.chunk,
        last: c.last,
        upserts: c.upserts,
        deletes: c.deletes,
    };
    let whole = match config_rx.accept(chunk) {
        Ok(None) => return Ok(()),
        Ok(Some(whole)) => whole,
        Err(e) => return Err(format!("configuration {e}")),
    };
    let version = whole.version;
    let upserts = whole.upserts;
    let deletes: Vec<String> = whole.deletes.iter().map(key_of_ref).collect();
    let n = upserts.len();
    shared.metrics.config_resources_received.inc_by(n as u64);
    let mut errors = Vec::new();
    for r in &upserts {
        if let Err(e) = crate::relay::resource::validate(r) {
            errors.push(ResourceError {
                key: key_of(r),
                message: format!("invalid resource: {e}"),
            });
        }
    }
    let valid: Vec<_> = upserts
        .into_iter()
        .filter(|r| crate::relay::resource::validate(r).is_ok())
        .collect();
    let ndel = deletes.len();
    let attempted: Vec<(String, String)> =
        valid.iter().map(|r| (key_of(r), r.hash.clone())).collect();
    let removed = deletes.clone();
    for e in shared.sink.apply(valid, deletes).await {
        errors.push(ResourceError {
            key: e.key,
            message: e.message,
        });
    }
    // What is held now: what succeeded changed, what failed stayed as it was.
    let failed: std::collections::HashSet<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    for (key, hash) in attempted {
        if !failed.contains(key.as_str()) {
            applied.insert(key, hash);
        }
    }
    for key in removed {
        if !failed.contains(key.as_str()) {
            applied.remove(&key);
        }
    }
    let config_hash = aggregate_hash(applied.iter());
    shared
        .metrics
        .config_apply_errors
        .inc_by(errors.len() as u64);
    if !errors.is_empty() {
        tracing::warn!(cluster = %shared.settings.cluster, version, failed = errors.len(), "some configuration could not be applied");
    }
    tracing::debug!(cluster = %shared.settings.cluster, version, upserts = n, deletes = ndel, "configuration applied");
    send(
        tx,
        agent_message::Msg::Ack(Ack {
            config_version: version,
            errors,
            config_hash,
        }),
    )
    .await?;
    shared
        .metrics
        .config_version
        .set(i64::try_from(version).unwrap_or(i64::MAX));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewals_are_spaced_even_when_the_new_certificate_is_already_due() {
        let now = tokio::time::Instant::now();
        // a certificate due at once (a server issuing too-short lifetimes)
        assert_eq!(after_renewal(now, now), now + MIN_RENEW_INTERVAL);
        // a normal one keeps its own time
        let later = now + Duration::from_secs(3600);
        assert_eq!(after_renewal(later, now), later);
    }
}
