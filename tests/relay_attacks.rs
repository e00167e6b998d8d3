//! Every attack of issue 4 against a live relay: each is refused with a clear reason,
//! and a healthy agent's stream is not disturbed.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use meshctl::relay::pki;
use meshctl::relay::proto::{
    AgentMessage, BootstrapRequest, Resource, SnapshotDelta, agent_message, error, server_message,
};
use meshctl::relay::reassembly::Bounds;
use meshctl::relay::resource::key_of;
use meshctl::server::store::StateStore;
use meshctl::server::tokens::TokenStore;
use prost::Message;
use std::sync::Arc;
use std::time::Duration;

struct World {
    parts: ServerParts,
    server: meshctl::server::RunningServer,
    healthy: TestAgent,
    _tmp: tempfile::TempDir,
}

async fn world() -> World {
    world_with(|_| {}).await
}

async fn world_with(settings: impl FnOnce(&mut meshctl::server::ServerSettings)) -> World {
    let parts = ServerParts::new().await;
    let mut s = parts.settings();
    settings(&mut s);
    let server = parts.start_with(s).await;
    let tmp = tempfile::tempdir().unwrap();
    let token = parts.token("healthy").await;
    let healthy = start_agent(
        &server,
        "healthy",
        Some(token),
        &tmp.path().join("healthy"),
        &[resource("ConfigMap", "h", "1")],
        Arc::new(RecordingSink::default()),
    )
    .await;
    eventually("healthy agent connected", || {
        server
            .registry
            .get("healthy")
            .is_some_and(|s| s.connected && s.snapshot_resources == 1)
    })
    .await;
    World {
        parts,
        server,
        healthy,
        _tmp: tmp,
    }
}

/// The healthy agent kept its one stream and still gets configuration acknowledged.
async fn assert_undisturbed(w: &World) {
    let status = w.server.registry.get("healthy").unwrap();
    assert!(status.connected);
    assert_eq!(
        w.healthy.running.metrics.reconnects.get(),
        0,
        "healthy agent was disturbed"
    );
    let n = w.parts.config.desired("healthy").resources.len();
    let cfg: Vec<_> = (0..=n)
        .map(|i| resource("ConfigMap", &format!("c{i}"), "1"))
        .collect();
    let generation = w.parts.config.set("healthy", set_of(&cfg));
    eventually("healthy agent acknowledges config", || {
        w.server
            .registry
            .get("healthy")
            .is_some_and(|s| s.applied_config_version == Some(generation))
    })
    .await;
}

fn csr(cluster: &str) -> Vec<u8> {
    pki::generate_agent_key(cluster).unwrap().csr_der
}

async fn bootstrap_call(w: &World, cluster: &str, token: &str) -> Result<(), tonic::Status> {
    let mut c = client(w.server.relay_addr, &w.server.root_ca_pem, None).await;
    c.bootstrap(BootstrapRequest {
        cluster: cluster.into(),
        token: token.into(),
        csr_der: csr(cluster).into(),
    })
    .await
    .map(|_| ())
}

use meshctl::server::config_source::ConfigSource;

#[tokio::test]
async fn wrong_token_is_refused() {
    let w = world().await;
    w.parts.token("c2").await;
    let err = bootstrap_call(&w, "c2", "not-the-token").await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    assert!(
        err.message().contains("not valid for cluster \"c2\""),
        "{}",
        err.message()
    );
    assert_eq!(w.server.metrics.rejected("token_mismatch"), 1);
    assert_undisturbed(&w).await;
}

#[tokio::test]
async fn token_of_another_cluster_is_refused() {
    let w = world().await;
    let t2 = w.parts.token("c2").await;
    w.parts.token("c3").await;
    let err = bootstrap_call(&w, "c3", t2.expose()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    assert!(err.message().contains("c3"));
    // and c2's token is still usable for c2 (the failed attempt did not consume it)
    bootstrap_call(&w, "c2", t2.expose()).await.unwrap();
    // a cluster that was never registered
    let err = bootstrap_call(&w, "nobody", t2.expose()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    assert!(err.message().contains("register"));
    assert_undisturbed(&w).await;
}

#[tokio::test]
async fn reused_token_is_refused_until_reissued() {
    let w = world().await;
    let t = w.parts.token("c2").await;
    bootstrap_call(&w, "c2", t.expose()).await.unwrap();
    let err = bootstrap_call(&w, "c2", t.expose()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    assert!(err.message().contains("already used"), "{}", err.message());
    let t2 = w.parts.token("c2").await;
    bootstrap_call(&w, "c2", t2.expose()).await.unwrap();
    assert_undisturbed(&w).await;
}

#[tokio::test]
async fn bad_csr_and_bad_cluster_names_are_refused() {
    let w = world().await;
    let t = w.parts.token("c2").await;
    let mut c = client(w.server.relay_addr, &w.server.root_ca_pem, None).await;
    let err = c
        .bootstrap(BootstrapRequest {
            cluster: "c2".into(),
            token: t.expose().into(),
            csr_der: b"garbage".to_vec().into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    // the token survived the failed attempt
    bootstrap_call(&w, "c2", t.expose()).await.unwrap();
    let err = bootstrap_call(&w, "../etc", "x").await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert_undisturbed(&w).await;
}

#[tokio::test]
async fn connect_without_client_certificate_is_refused() {
    let w = world().await;
    let mut c = client(w.server.relay_addr, &w.server.root_ca_pem, None).await;
    let err = open_stream(&mut c, hello("healthy")).await.err().unwrap();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    assert!(err.message().contains("client certificate is required"));
    let err = c
        .renew(meshctl::relay::proto::RenewRequest {
            csr_der: csr("healthy").into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    assert_eq!(w.server.metrics.rejected("no_client_cert"), 2);
    assert_undisturbed(&w).await;
}

#[tokio::test]
async fn certificate_from_another_ca_fails_the_handshake() {
    let w = world().await;
    let other =
        pki::generate(&pki::default_server_sans(), time::OffsetDateTime::now_utc()).unwrap();
    let foreign = valid_identity(&other, "healthy");
    let failed_before = w
        .server
        .handshakes
        .failed
        .load(std::sync::atomic::Ordering::Relaxed);
    let result = async {
        let mut c = meshctl::relay::client::relay_client(
            channel(w.server.relay_addr, &w.server.root_ca_pem, Some(&foreign)).await?,
        );
        open_stream(&mut c, hello("healthy"))
            .await
            .map(|_| ())
            .map_err(|s| s.to_string())
    }
    .await;
    assert!(result.is_err(), "a foreign certificate was accepted");
    eventually("handshake failure recorded", || {
        w.server
            .handshakes
            .failed
            .load(std::sync::atomic::Ordering::Relaxed)
            > failed_before
    })
    .await;
    assert_undisturbed(&w).await;
}

#[tokio::test]
async fn expired_certificate_fails_the_handshake() {
    let w = world().await;
    let now = time::OffsetDateTime::now_utc();
    let expired = identity_from(
        &w.parts.material,
        "healthy",
        now - time::Duration::days(10),
        now - time::Duration::days(3),
    );
    let failed_before = w
        .server
        .handshakes
        .failed
        .load(std::sync::atomic::Ordering::Relaxed);
    let result = async {
        let mut c = meshctl::relay::client::relay_client(
            channel(w.server.relay_addr, &w.server.root_ca_pem, Some(&expired)).await?,
        );
        open_stream(&mut c, hello("healthy"))
            .await
            .map(|_| ())
            .map_err(|s| s.to_string())
    }
    .await;
    let err = result.expect_err("an expired certificate was accepted");
    assert!(
        err.to_lowercase().contains("expired") || err.contains("transport"),
        "{err}"
    );
    eventually("handshake failure recorded", || {
        w.server
            .handshakes
            .failed
            .load(std::sync::atomic::Ordering::Relaxed)
            > failed_before
    })
    .await;
    assert_undisturbed(&w).await;
}

#[tokio::test]
async fn agent_with_expired_stored_certificate_and_used_token_reports_why() {
    let w = world().await;
    let t = w.parts.token("c2").await;
    bootstrap_call(&w, "c2", t.expose()).await.unwrap();
    // the agent holds no certificate and only the used token
    let tmp = tempfile::tempdir().unwrap();
    let agent = start_agent(
        &w.server,
        "c2",
        Some(t),
        tmp.path(),
        &[],
        Arc::new(RecordingSink::default()),
    )
    .await;
    eventually("failure reported", || {
        agent
            .running
            .last_failure()
            .is_some_and(|f| f.contains("already used"))
    })
    .await;
    assert!(!w.server.registry.get("c2").unwrap().connected);
    agent.running.shutdown(Duration::from_secs(5)).await;
    assert_undisturbed(&w).await;
}

#[tokio::test]
async fn hello_claiming_another_cluster_is_refused() {
    let w = world().await;
    w.parts.token("c2").await;
    let id = valid_identity(&w.parts.material, "c2");
    let mut c = client(w.server.relay_addr, &w.server.root_ca_pem, Some(&id)).await;
    // The Hello was read, so the refusal carries the protocol's code, then the gRPC status
    // (docs/relay.md "Refusals").
    let (e, err) = hello_refusal(&mut c, hello("healthy")).await;
    assert_eq!(e.code, error::Code::IdentityMismatch as i32);
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    assert!(
        err.message().contains("claims cluster \"healthy\""),
        "{}",
        err.message()
    );
    assert_eq!(e.message, err.message());
    assert_eq!(w.server.metrics.rejected("identity_mismatch"), 1);
    // a valid certificate of a cluster that is not registered
    let id = valid_identity(&w.parts.material, "ghost");
    let mut c = client(w.server.relay_addr, &w.server.root_ca_pem, Some(&id)).await;
    let err = open_stream(&mut c, hello("ghost")).await.err().unwrap();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    assert!(err.message().contains("not registered"));
    assert_undisturbed(&w).await;
}

/// A stream refused after its Hello: the fatal Error message, then the status that ends it.
async fn hello_refusal(
    c: &mut meshctl::relay::proto::relay_client::RelayClient<tonic::transport::Channel>,
    first: AgentMessage,
) -> (meshctl::relay::proto::Error, tonic::Status) {
    let mut s = open_stream(c, first)
        .await
        .expect("a refused Hello still opens the stream, for the Error message");
    let e = fatal_error(&mut s).await;
    let status = next_message(&mut s)
        .await
        .expect_err("the status ends the stream after the Error");
    (e, status)
}

#[tokio::test]
async fn unsupported_protocol_version_is_refused_with_its_code() {
    let w = world().await;
    w.parts.token("c2").await;
    let id = valid_identity(&w.parts.material, "c2");
    let mut c = client(w.server.relay_addr, &w.server.root_ca_pem, Some(&id)).await;
    let mut first = hello("c2");
    if let Some(agent_message::Msg::Hello(h)) = first.msg.as_mut() {
        h.protocol_version = meshctl::relay::PROTOCOL_VERSION + 1;
    }
    let (e, err) = hello_refusal(&mut c, first).await;
    assert_eq!(e.code, error::Code::UnsupportedProtocol as i32);
    assert!(e.fatal);
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert!(
        err.message().contains(&format!(
            "protocol version {} is not supported",
            meshctl::relay::PROTOCOL_VERSION + 1
        )),
        "{}",
        err.message()
    );
    assert_eq!(w.server.metrics.rejected("protocol_version"), 1);
    assert!(!w.server.registry.get("c2").is_some_and(|s| s.connected));
    // Before the Hello is read (here: no client certificate) a refusal is the status alone.
    let mut anon = client(w.server.relay_addr, &w.server.root_ca_pem, None).await;
    let err = open_stream(&mut anon, hello("c2")).await.err().unwrap();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    assert_undisturbed(&w).await;
}

#[tokio::test]
async fn a_first_message_other_than_hello_is_refused_with_invalid_message() {
    let w = world().await;
    w.parts.token("c2").await;
    let id = valid_identity(&w.parts.material, "c2");
    let mut c = client(w.server.relay_addr, &w.server.root_ca_pem, Some(&id)).await;
    let first = AgentMessage {
        msg: Some(agent_message::Msg::Heartbeat(Default::default())),
    };
    let (e, err) = hello_refusal(&mut c, first).await;
    assert_eq!(e.code, error::Code::InvalidMessage as i32);
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("must be Hello"), "{}", err.message());
    assert_undisturbed(&w).await;
}

mod raw {
    //! A codec that sends raw bytes, to put malformed frames on the wire.
    use prost::bytes::{Buf, BufMut};
    use tonic::Status;
    use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

    #[derive(Default, Clone)]
    pub struct RawCodec;
    pub struct RawEncoder;
    pub struct RawDecoder;

    impl Encoder for RawEncoder {
        type Item = Vec<u8>;
        type Error = Status;
        fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
            dst.put_slice(&item);
            Ok(())
        }
    }

    impl Decoder for RawDecoder {
        type Item = Vec<u8>;
        type Error = Status;
        fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
            let v = src.chunk().to_vec();
            src.advance(v.len());
            Ok(Some(v))
        }
    }

    impl Codec for RawCodec {
        type Encode = Vec<u8>;
        type Decode = Vec<u8>;
        type Encoder = RawEncoder;
        type Decoder = RawDecoder;
        fn encoder(&mut self) -> RawEncoder {
            RawEncoder
        }
        fn decoder(&mut self) -> RawDecoder {
            RawDecoder
        }
    }
}

async fn raw_stream(
    w: &World,
    cluster: &str,
    frames: Vec<Vec<u8>>,
) -> Result<Vec<Vec<u8>>, tonic::Status> {
    let id = valid_identity(&w.parts.material, cluster);
    let ch = channel(w.server.relay_addr, &w.server.root_ca_pem, Some(&id))
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(ch);
    grpc.ready().await.unwrap();
    let path =
        tonic::codegen::http::uri::PathAndQuery::from_static("/meshctl.relay.v1.Relay/Connect");
    let resp = grpc
        .streaming(
            tonic::Request::new(futures::stream::iter(frames)),
            path,
            raw::RawCodec,
        )
        .await?;
    let mut inbound = resp.into_inner();
    let mut got = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(20), inbound.message())
            .await
            .unwrap()
        {
            Ok(Some(m)) => got.push(m),
            Ok(None) => return Ok(got),
            Err(s) => return Err(s),
        }
    }
}

#[tokio::test]
async fn malformed_messages_are_refused() {
    let w = world().await;
    w.parts.token("c2").await;
    // garbage as the first frame
    let err = raw_stream(&w, "c2", vec![vec![0xff, 0xff, 0xff, 0x0f, 0x01]])
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(
        err.message().contains("unreadable first message"),
        "{}",
        err.message()
    );
    // a valid Hello, then garbage
    let hello_bytes = hello("c2").encode_to_vec();
    let err = raw_stream(&w, "c2", vec![hello_bytes, vec![0x0a, 0xff, 0xff]])
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(w.server.metrics.rejected("malformed") >= 2);
    // an empty message and a stream that starts with something other than Hello
    let err = raw_stream(&w, "c2", vec![Vec::new()]).await.unwrap_err();
    assert!(err.message().contains("must be Hello"), "{}", err.message());
    assert_undisturbed(&w).await;
}

#[tokio::test]
async fn oversized_messages_are_refused() {
    let w = world().await;
    w.parts.token("c2").await;
    let big = AgentMessage {
        msg: Some(agent_message::Msg::Snapshot(SnapshotDelta {
            version: 1,
            upserts: vec![meshctl::relay::proto::Resource {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                namespace: "ns".into(),
                name: "huge".into(),
                hash: String::new(),
                body: vec![b' '; 5 * 1024 * 1024].into(),
            }],
            deletes: vec![],
            last: true,
            snapshot_hash: String::new(),
            chunk: 0,
        })),
    };
    let err = raw_stream(
        &w,
        "c2",
        vec![hello("c2").encode_to_vec(), big.encode_to_vec()],
    )
    .await
    .unwrap_err();
    assert!(
        err.message().contains("too large") || err.message().contains("length"),
        "{}",
        err.message()
    );
    assert!(w.server.metrics.rejected("malformed") >= 1);
    assert_undisturbed(&w).await;
}

#[tokio::test]
async fn snapshot_with_a_bad_resource_keeps_the_good_ones() {
    let w = world().await;
    w.parts.token("c2").await;
    let id = valid_identity(&w.parts.material, "c2");
    let mut c = client(w.server.relay_addr, &w.server.root_ca_pem, Some(&id)).await;
    let mut s = open_stream(&mut c, hello("c2")).await.unwrap();
    assert!(matches!(
        next_message(&mut s).await.unwrap().unwrap().msg,
        Some(server_message::Msg::Welcome(_))
    ));
    let good = resource("ConfigMap", "good", "1");
    let mut bad_hash = resource("ConfigMap", "tampered", "1");
    bad_hash.hash = "0".repeat(64);
    let mut not_json = resource("ConfigMap", "notjson", "1");
    not_json.body = b"{oops".to_vec().into();
    s.tx.send(AgentMessage {
        msg: Some(agent_message::Msg::Snapshot(SnapshotDelta {
            version: 1,
            upserts: vec![good.clone(), bad_hash.clone(), not_json.clone()],
            deletes: vec![],
            last: true,
            snapshot_hash: String::new(),
            chunk: 0,
        })),
    })
    .await
    .unwrap();
    let err = loop {
        let m = next_message(&mut s).await.unwrap().unwrap();
        if let Some(server_message::Msg::Error(e)) = m.msg {
            break e;
        }
    };
    assert_eq!(err.code, error::Code::InvalidResource as i32);
    assert!(!err.fatal);
    assert!(err.keys.contains(&key_of(&bad_hash)) && err.keys.contains(&key_of(&not_json)));
    assert!(
        err.message.contains("does not match the body"),
        "{}",
        err.message
    );
    let held = w.parts.store.snapshot_hashes("c2").await.unwrap();
    assert_eq!(held.len(), 1);
    assert!(held.contains_key(&key_of(&good)));
    assert!(
        w.server.registry.get("c2").unwrap().connected,
        "the stream stays up"
    );
    assert_eq!(w.server.metrics.snapshot_resources_rejected.get(), 2);
    drop(s);
    assert_undisturbed(&w).await;
}

fn snapshot_chunk(version: u64, chunk: u32, last: bool, upserts: Vec<Resource>) -> AgentMessage {
    AgentMessage {
        msg: Some(agent_message::Msg::Snapshot(SnapshotDelta {
            version,
            upserts,
            deletes: vec![],
            last,
            snapshot_hash: String::new(),
            chunk,
        })),
    }
}

/// Opens a stream as `cluster` (issuing its token) and reads the Welcome.
async fn welcomed_stream(w: &World, cluster: &str) -> RawStream {
    w.parts.token(cluster).await;
    let id = valid_identity(&w.parts.material, cluster);
    let mut c = client(w.server.relay_addr, &w.server.root_ca_pem, Some(&id)).await;
    let mut s = open_stream(&mut c, hello(cluster)).await.unwrap();
    assert!(matches!(
        next_message(&mut s).await.unwrap().unwrap().msg,
        Some(server_message::Msg::Welcome(_))
    ));
    s
}

/// The server's fatal error on `s`, skipping anything else it sends first.
async fn fatal_error(s: &mut RawStream) -> meshctl::relay::proto::Error {
    loop {
        match next_message(s).await {
            Ok(Some(m)) => {
                if let Some(server_message::Msg::Error(e)) = m.msg
                    && e.fatal
                {
                    return e;
                }
            }
            other => panic!("the stream ended without a fatal error: {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_unfinished_snapshot_version_is_never_committed() {
    let w = world().await;
    // Version 1 stops after its first chunk and the stream ends.
    let s = welcomed_stream(&w, "c2").await;
    s.tx.send(snapshot_chunk(
        1,
        0,
        false,
        vec![resource("ConfigMap", "half", "1")],
    ))
    .await
    .unwrap();
    let RawStream { tx, mut rx } = s;
    drop(tx);
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_secs(20), rx.message())
        .await
        .expect("the server did not end the stream")
    {}
    eventually("the stream to end", || {
        w.server.registry.get("c2").is_some_and(|s| !s.connected)
    })
    .await;
    assert!(
        w.parts
            .store
            .snapshot_hashes("c2")
            .await
            .unwrap()
            .is_empty(),
        "a chunk of an unfinished version was committed"
    );
    // The next stream sends a whole version: only it is kept.
    let s = welcomed_stream(&w, "c2").await;
    let whole = resource("ConfigMap", "whole", "1");
    s.tx.send(snapshot_chunk(2, 0, true, vec![whole.clone()]))
        .await
        .unwrap();
    eventually("the whole version to be committed", || {
        w.server
            .registry
            .get("c2")
            .is_some_and(|s| s.snapshot_version == 2)
    })
    .await;
    let held = w.parts.store.snapshot_hashes("c2").await.unwrap();
    assert_eq!(held.keys().collect::<Vec<_>>(), vec![&key_of(&whole)]);
    assert_undisturbed(&w).await;
}

#[tokio::test]
async fn snapshot_chunks_out_of_order_end_the_stream_and_keep_nothing() {
    let w = world().await;
    let mut s = welcomed_stream(&w, "c2").await;
    s.tx.send(snapshot_chunk(
        1,
        0,
        false,
        vec![resource("ConfigMap", "a", "1")],
    ))
    .await
    .unwrap();
    s.tx.send(snapshot_chunk(
        1,
        2,
        true,
        vec![resource("ConfigMap", "c", "1")],
    ))
    .await
    .unwrap();
    let e = fatal_error(&mut s).await;
    assert_eq!(e.code, error::Code::InvalidMessage as i32);
    assert!(
        e.message
            .contains("chunk 2 of version 1 arrived out of order (expected chunk 1 of version 1)"),
        "{}",
        e.message
    );
    assert!(
        w.parts
            .store
            .snapshot_hashes("c2")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(w.server.metrics.rejected("malformed") >= 1);
    assert_undisturbed(&w).await;
}

#[tokio::test]
async fn snapshot_reassembly_is_bounded_in_bytes_and_chunks() {
    let w = world_with(|s| {
        s.session.snapshot_bounds = Bounds {
            max_bytes: 256 * 1024,
            max_chunks: 8,
            ..Bounds::default()
        };
    })
    .await;
    // Bytes: 100 KiB chunks that never end.
    let mut s = welcomed_stream(&w, "c2").await;
    let payload = "x".repeat(100 * 1024);
    for i in 0..4u32 {
        let r = resource("ConfigMap", &format!("big{i}"), &payload);
        if s.tx
            .send(snapshot_chunk(1, i, false, vec![r]))
            .await
            .is_err()
        {
            break;
        }
    }
    let e = fatal_error(&mut s).await;
    assert_eq!(e.code, error::Code::InvalidMessage as i32);
    assert!(
        e.message
            .contains("version 1 carries more than 262144 bytes"),
        "{}",
        e.message
    );
    // Chunks: empty chunks that never end.
    let mut s = welcomed_stream(&w, "c3").await;
    for i in 0..9u32 {
        if s.tx
            .send(snapshot_chunk(5, i, false, vec![]))
            .await
            .is_err()
        {
            break;
        }
    }
    let e = fatal_error(&mut s).await;
    assert!(
        e.message.contains("version 5 has more than 8 chunks"),
        "{}",
        e.message
    );
    assert!(
        w.parts
            .store
            .snapshot_hashes("c2")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        w.parts
            .store
            .snapshot_hashes("c3")
            .await
            .unwrap()
            .is_empty()
    );
    assert_undisturbed(&w).await;
}

/// Opens a TCP connection to `addr` from `source` that never sends a byte.
async fn silent_connection(
    source: std::net::IpAddr,
    addr: std::net::SocketAddr,
) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(std::net::SocketAddr::new(source, 0)).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Whether the server closed `s` (reads end of stream) rather than keeping it open.
async fn closed_by_server(s: &mut tokio::net::TcpStream) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1];
    matches!(
        tokio::time::timeout(Duration::from_millis(50), s.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test]
async fn silent_connections_do_not_keep_agents_out() {
    let w = world_with(|s| s.max_pending_connections_per_source = 16).await;
    let attacker: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    // More silent connections than there are handshake slots (256), all from one address.
    let mut silent = Vec::new();
    for _ in 0..400 {
        silent.push(silent_connection(attacker, w.server.relay_addr).await);
    }
    eventually(
        "the connections over the per-source limit to be closed",
        || w.server.metrics.connections_refused("source_cap") >= 400 - 16,
    )
    .await;
    // An agent from another address connects and is welcomed while the first silent
    // connection is still held open (before the fix it waited behind them for their deadline).
    let welcomed = welcomed_stream(&w, "c2").await;
    assert!(
        !closed_by_server(&mut silent[0]).await,
        "the agent was let in only after the silent connections were dropped"
    );
    drop(welcomed);
    // The silent connections that were let in are closed by the ClientHello deadline, counted.
    eventually("silent connections to time out", || {
        w.server.metrics.connections_refused("client_hello_timeout") >= 16
    })
    .await;
    assert!(closed_by_server(&mut silent[0]).await);
    assert_undisturbed(&w).await;
}

#[tokio::test]
async fn a_deregistered_cluster_is_cut_off_and_refused_at_the_handshake() {
    let w = world_with(|s| s.registration_recheck_interval = Duration::from_millis(100)).await;
    let mut s = welcomed_stream(&w, "c2").await;
    // Deregistered while connected: the stream is ended, saying why.
    w.parts.tokens.remove("c2").await.unwrap();
    let e = fatal_error(&mut s).await;
    assert!(e.message.contains("was deregistered"), "{}", e.message);
    // Its certificate is still within its validity period, but no longer gets through the
    // handshake (before, it reached Connect and was told it is not registered).
    let failed_before = w.server.metrics.connections_refused("handshake_failed");
    let id = valid_identity(&w.parts.material, "c2");
    let refused = match channel(w.server.relay_addr, &w.server.root_ca_pem, Some(&id)).await {
        Err(e) => e,
        Ok(ch) => {
            let mut c = meshctl::relay::client::relay_client(ch);
            match open_stream(&mut c, hello("c2")).await {
                Err(status) => {
                    assert_ne!(
                        status.code(),
                        tonic::Code::PermissionDenied,
                        "refused by the service, not at the handshake: {status:?}"
                    );
                    status.to_string()
                }
                Ok(mut s) => format!("{:?}", next_message(&mut s).await),
            }
        }
    };
    eventually("the handshake refusal to be counted", || {
        w.server.metrics.connections_refused("handshake_failed") > failed_before
    })
    .await;
    assert!(
        !refused.contains("Welcome"),
        "a deregistered cluster was welcomed: {refused}"
    );
    // Registered again (a new token), its certificate gets through again once the re-check
    // has seen it.
    w.parts.token("c2").await;
    let mut welcomed = false;
    for _ in 0..100 {
        if let Ok(ch) = channel(w.server.relay_addr, &w.server.root_ca_pem, Some(&id)).await {
            let mut c = meshctl::relay::client::relay_client(ch);
            if let Ok(mut s) = open_stream(&mut c, hello("c2")).await
                && let Ok(Some(m)) = next_message(&mut s).await
                && matches!(m.msg, Some(server_message::Msg::Welcome(_)))
            {
                welcomed = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(welcomed, "a re-registered cluster stayed refused");
    assert_undisturbed(&w).await;
}
