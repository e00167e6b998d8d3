//! Loopback tests of the relay: bootstrap, mTLS connect, snapshot deltas, config
//! push and ack, reconnects and restarts converging with deltas only.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use meshctl::relay::proto::{AgentMessage, server_message};
use meshctl::relay::resource::key_of;
use meshctl::server::admin::ClusterList;
use meshctl::server::config_source::ConfigSource;
use meshctl::server::store::StateStore;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn bootstrap_connect_snapshot_config_and_ack() {
    let parts = ServerParts::new().await;
    let server = parts.start().await;
    let tmp = tempfile::tempdir().unwrap();
    let token = parts.token("cluster-1").await;
    let resources = [
        resource("ConfigMap", "a", "1"),
        resource("ConfigMap", "b", "1"),
        resource("Service", "web", "1"),
    ];
    let sink_dir = tmp.path().join("applied");
    let agent = start_agent(
        &server,
        "cluster-1",
        Some(token),
        &tmp.path().join("state"),
        &resources,
        dir_sink(&sink_dir).await,
    )
    .await;

    eventually("agent connected with its snapshot", || {
        server
            .registry
            .get("cluster-1")
            .is_some_and(|s| s.connected && s.snapshot_resources == 3)
    })
    .await;
    assert!(tmp.path().join("state/tls.key").exists());
    assert_eq!(agent.running.metrics.bootstraps.get(), 1);
    let held = parts.store.snapshot_hashes("cluster-1").await.unwrap();
    assert_eq!(held.get(&key_of(&resources[0])), Some(&resources[0].hash));

    // config push: two resources, applied as files, acknowledged
    let cfg = [
        resource("ConfigMap", "mesh-a", "x"),
        resource("ConfigMap", "mesh-b", "y"),
    ];
    let generation = parts.config.set("cluster-1", set_of(&cfg));
    eventually("config applied and acknowledged", || {
        server
            .registry
            .get("cluster-1")
            .is_some_and(|s| s.applied_config_version == Some(generation))
    })
    .await;
    assert_eq!(count_files(&sink_dir), 2);
    assert_eq!(server.metrics.config_resources_sent.get(), 2);

    // withdraw one: only a delete travels and the file is pruned
    let generation = parts.config.set("cluster-1", set_of(&cfg[..1]));
    eventually("withdrawn config pruned", || {
        count_files(&sink_dir) == 1
            && server
                .registry
                .get("cluster-1")
                .is_some_and(|s| s.applied_config_version == Some(generation))
    })
    .await;
    assert_eq!(server.metrics.config_resources_sent.get(), 2);

    // snapshot change: one modified, one removed -> one upsert, one delete
    let sent_before = agent.running.metrics.snapshot_resources_sent.get();
    agent.source.set(set_of(&[
        resource("ConfigMap", "a", "2"),
        resource("Service", "web", "1"),
    ]));
    eventually("snapshot delta applied", || {
        server
            .registry
            .get("cluster-1")
            .is_some_and(|s| s.snapshot_resources == 2)
    })
    .await;
    assert_eq!(
        agent.running.metrics.snapshot_resources_sent.get() - sent_before,
        1
    );

    // admin API
    let admin = server.admin_addr.unwrap();
    let (code, body) = http_get(admin, "/api/v1/clusters").await;
    assert_eq!(code, 200);
    let list: ClusterList = serde_json::from_str(&body).unwrap();
    assert_eq!(list.clusters.len(), 1);
    let c = &list.clusters[0];
    assert_eq!(c.name, "cluster-1");
    assert!(c.connected && c.cert_not_after.is_some() && c.agent_version.is_some());
    let (code, metrics) = http_get(admin, "/metrics").await;
    assert_eq!(code, 200);
    assert!(metrics.contains("meshctl_relay_agents_connected{cluster=\"cluster-1\"} 1"));
    assert!(metrics.contains("meshctl_relay_last_seen_seconds{cluster=\"cluster-1\"}"));
    assert!(metrics.contains("meshctl_relay_config_ack_seconds_count"));
    assert_eq!(http_get(admin, "/healthz").await.0, 200);
    assert_eq!(http_get(admin, "/readyz").await.0, 200);
    let agent_admin = agent.running.admin_addr.unwrap();
    assert_eq!(http_get(agent_admin, "/readyz").await.0, 200);
    assert!(
        http_get(agent_admin, "/metrics")
            .await
            .1
            .contains("meshctl_agent_connected 1")
    );

    agent.running.shutdown(Duration::from_secs(5)).await;
    eventually("disconnect recorded", || {
        server
            .registry
            .get("cluster-1")
            .is_some_and(|s| !s.connected)
    })
    .await;
    // an agent that shuts down closes its stream in order: no transport error
    let s = server.registry.get("cluster-1").unwrap();
    assert_eq!(s.last_disconnect_reason.as_deref(), Some("closed"));
    assert_eq!(server.metrics.rejected("malformed"), 0);
    server.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn server_restart_converges_with_deltas_only() {
    let parts = ServerParts::new().await;
    let server = parts.start().await;
    let port_addr = server.relay_addr;
    let tmp = tempfile::tempdir().unwrap();
    let token = parts.token("cluster-1").await;
    let resources: Vec<_> = (0..50)
        .map(|i| resource("ConfigMap", &format!("r{i}"), "v"))
        .collect();
    let cfg = [resource("ConfigMap", "pushed", "1")];
    let generation = parts.config.set("cluster-1", set_of(&cfg));
    let agent = start_agent(
        &server,
        "cluster-1",
        Some(token),
        &tmp.path().join("state"),
        &resources,
        dir_sink(&tmp.path().join("applied")).await,
    )
    .await;
    eventually("synced", || {
        server.registry.get("cluster-1").is_some_and(|s| {
            s.snapshot_resources == 50 && s.applied_config_version == Some(generation)
        })
    })
    .await;
    let agent_sent = agent.running.metrics.snapshot_resources_sent.get();
    assert_eq!(agent_sent, 50);

    // restart on the same port with the same (persistent) state
    server.shutdown(Duration::from_secs(5)).await;
    let mut settings = parts.settings();
    settings.relay_listen = port_addr;
    let server = parts.start_with(settings).await;
    eventually("reconnected to the restarted server", || {
        server
            .registry
            .get("cluster-1")
            .is_some_and(|s| s.connected && s.applied_config_version == Some(generation))
    })
    .await;
    assert_eq!(
        server.metrics.snapshot_resources_received.get(),
        0,
        "no snapshot resource resent"
    );
    assert_eq!(
        server.metrics.config_resources_sent.get(),
        0,
        "no config resource resent"
    );
    assert_eq!(
        agent.running.metrics.snapshot_resources_sent.get(),
        agent_sent
    );
    assert!(agent.running.metrics.reconnects.get() >= 1);
    assert_eq!(
        agent.running.metrics.bootstraps.get(),
        1,
        "stored certificate reused"
    );

    // restart with an empty store (the embedded default): the snapshot is rebuilt
    // from the agent, the config still does not travel again
    server.shutdown(Duration::from_secs(5)).await;
    let mut fresh = parts.clone();
    fresh.store = Arc::new(meshctl::server::store::MemoryStateStore::new());
    let mut settings = fresh.settings();
    settings.relay_listen = port_addr;
    let server = fresh.start_with(settings).await;
    eventually("snapshot rebuilt after restart", || {
        server
            .registry
            .get("cluster-1")
            .is_some_and(|s| s.connected && s.snapshot_resources == 50)
    })
    .await;
    assert_eq!(server.metrics.snapshot_resources_received.get(), 50);
    assert_eq!(server.metrics.config_resources_sent.get(), 0);
    agent.running.shutdown(Duration::from_secs(5)).await;
    server.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn agent_restart_sends_nothing_when_nothing_changed() {
    let parts = ServerParts::new().await;
    let server = parts.start().await;
    let tmp = tempfile::tempdir().unwrap();
    let token = parts.token("cluster-1").await;
    let resources: Vec<_> = (0..5)
        .map(|i| resource("ConfigMap", &format!("r{i}"), "v"))
        .collect();
    let generation = parts
        .config
        .set("cluster-1", set_of(&[resource("ConfigMap", "cfg", "1")]));
    let applied = tmp.path().join("applied");
    let agent = start_agent(
        &server,
        "cluster-1",
        Some(token),
        &tmp.path().join("state"),
        &resources,
        dir_sink(&applied).await,
    )
    .await;
    eventually("synced", || {
        server.registry.get("cluster-1").is_some_and(|s| {
            s.snapshot_resources == 5 && s.applied_config_version == Some(generation)
        })
    })
    .await;
    agent.running.shutdown(Duration::from_secs(5)).await;
    let (snap_before, cfg_before) = (
        server.metrics.snapshot_resources_received.get(),
        server.metrics.config_resources_sent.get(),
    );
    // a new agent process: same state dir (certificate) and same applied files
    let agent = start_agent(
        &server,
        "cluster-1",
        None,
        &tmp.path().join("state"),
        &resources,
        dir_sink(&applied).await,
    )
    .await;
    eventually("reconnected", || {
        server.metrics.streams_opened.get() == 2
            && server
                .registry
                .get("cluster-1")
                .is_some_and(|s| s.connected)
    })
    .await;
    eventually("acked", || {
        agent.running.metrics.config_version.get() == i64::try_from(generation).unwrap()
    })
    .await;
    assert_eq!(
        server.metrics.snapshot_resources_received.get(),
        snap_before
    );
    assert_eq!(server.metrics.config_resources_sent.get(), cfg_before);
    assert_eq!(agent.running.metrics.snapshot_resources_sent.get(), 0);
    agent.running.shutdown(Duration::from_secs(5)).await;
    server.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn ack_carries_per_resource_errors() {
    let parts = ServerParts::new().await;
    let server = parts.start().await;
    let tmp = tempfile::tempdir().unwrap();
    let token = parts.token("cluster-1").await;
    let sink = Arc::new(RecordingSink::default());
    let bad = resource("ConfigMap", "bad", "1");
    sink.fail.lock().unwrap().push(key_of(&bad));
    let agent = start_agent(
        &server,
        "cluster-1",
        Some(token),
        &tmp.path().join("state"),
        &[],
        sink.clone(),
    )
    .await;
    eventually("connected", || {
        server
            .registry
            .get("cluster-1")
            .is_some_and(|s| s.connected)
    })
    .await;
    let good = resource("ConfigMap", "good", "1");
    let generation = parts
        .config
        .set("cluster-1", set_of(&[good.clone(), bad.clone()]));
    eventually("acked with an error", || {
        server.registry.get("cluster-1").is_some_and(|s| {
            s.applied_config_version == Some(generation) && s.config_errors.len() == 1
        })
    })
    .await;
    let status = server.registry.get("cluster-1").unwrap();
    assert_eq!(status.config_errors[0].key, key_of(&bad));
    assert!(
        status.config_errors[0]
            .message
            .contains("refused by the test sink")
    );
    assert_eq!(server.metrics.config_apply_errors.get(), 1);
    assert!(sink.held.lock().unwrap().contains_key(&key_of(&good)));
    // The content hashes tell the same: what the agent holds is not what was sent, and it is
    // exactly what the sink holds.
    let held_hash = meshctl::relay::hash::aggregate_hash(sink.held.lock().unwrap().clone().iter());
    assert_eq!(
        status.applied_config_hash.as_deref(),
        Some(held_hash.as_str())
    );
    assert_eq!(
        status.desired_config_hash.as_deref(),
        Some(parts.config.desired("cluster-1").hash.as_str())
    );
    assert_ne!(status.applied_config_hash, status.desired_config_hash);

    // the failed resource is retried with the next change once the sink accepts it
    sink.fail.lock().unwrap().clear();
    let extra = resource("ConfigMap", "extra", "1");
    let generation = parts
        .config
        .set("cluster-1", set_of(&[good, bad.clone(), extra]));
    eventually("retried and acked", || {
        server.registry.get("cluster-1").is_some_and(|s| {
            s.applied_config_version == Some(generation) && s.config_errors.is_empty()
        })
    })
    .await;
    assert!(sink.held.lock().unwrap().contains_key(&key_of(&bad)));
    let status = server.registry.get("cluster-1").unwrap();
    assert!(
        status
            .applied_config_hash
            .as_ref()
            .is_some_and(|h| !h.is_empty())
    );
    assert_eq!(status.applied_config_hash, status.desired_config_hash);
    agent.running.shutdown(Duration::from_secs(5)).await;
    server.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn second_stream_of_a_cluster_replaces_the_first() {
    let parts = ServerParts::new().await;
    let server = parts.start().await;
    parts.token("cluster-1").await;
    let id = valid_identity(&parts.material, "cluster-1");
    let mut c = client(server.relay_addr, &server.root_ca_pem, Some(&id)).await;
    let mut first = open_stream(&mut c, hello("cluster-1")).await.unwrap();
    assert!(matches!(
        next_message(&mut first).await.unwrap().unwrap().msg,
        Some(server_message::Msg::Welcome(_))
    ));
    let mut second = open_stream(&mut c, hello("cluster-1")).await.unwrap();
    assert!(matches!(
        next_message(&mut second).await.unwrap().unwrap().msg,
        Some(server_message::Msg::Welcome(_))
    ));
    // the first stream gets REPLACED and ends
    let mut replaced = false;
    while let Ok(Some(m)) = next_message(&mut first).await {
        if let Some(server_message::Msg::Error(e)) = m.msg {
            assert!(e.fatal);
            assert!(e.message.contains("replaced"));
            replaced = true;
        }
    }
    assert!(replaced);
    // the second is live and the cluster still shows connected
    second
        .tx
        .send(AgentMessage {
            msg: Some(meshctl::relay::proto::agent_message::Msg::Heartbeat(
                Default::default(),
            )),
        })
        .await
        .unwrap();
    eventually("connected via the second stream", || {
        server
            .registry
            .get("cluster-1")
            .is_some_and(|s| s.connected)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(server.registry.get("cluster-1").unwrap().connected);
    drop(second);
    server.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn stream_limits_refuse_with_resource_exhausted() {
    let parts = ServerParts::new().await;
    let mut settings = parts.settings();
    settings.max_streams = 1;
    let server = parts.start_with(settings).await;
    parts.token("c1").await;
    parts.token("c2").await;
    let mut a = client(
        server.relay_addr,
        &server.root_ca_pem,
        Some(&valid_identity(&parts.material, "c1")),
    )
    .await;
    let mut s1 = open_stream(&mut a, hello("c1")).await.unwrap();
    next_message(&mut s1).await.unwrap();
    let mut b = client(
        server.relay_addr,
        &server.root_ca_pem,
        Some(&valid_identity(&parts.material, "c2")),
    )
    .await;
    let err = open_stream(&mut b, hello("c2"))
        .await
        .err()
        .expect("refused");
    assert_eq!(err.code(), tonic::Code::ResourceExhausted);
    assert_eq!(server.metrics.rejected("at_capacity"), 1);
    drop(s1);
    server.shutdown(Duration::from_secs(5)).await;

    let parts = ServerParts::new().await;
    let mut settings = parts.settings();
    settings.max_new_streams_per_second = 1.0;
    let server = parts.start_with(settings).await;
    parts.token("c1").await;
    let mut a = client(
        server.relay_addr,
        &server.root_ca_pem,
        Some(&valid_identity(&parts.material, "c1")),
    )
    .await;
    let _s1 = open_stream(&mut a, hello("c1")).await.unwrap();
    let err = open_stream(&mut a, hello("c1"))
        .await
        .err()
        .expect("rate limited");
    assert_eq!(err.code(), tonic::Code::ResourceExhausted);
    assert!(err.message().contains("per second"));
    server.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn large_snapshots_are_chunked_under_the_message_limit() {
    let parts = ServerParts::new().await;
    let server = parts.start().await;
    let tmp = tempfile::tempdir().unwrap();
    let token = parts.token("big").await;
    let payload = "x".repeat(800);
    let resources: Vec<_> = (0..10_000)
        .map(|i| resource("ConfigMap", &format!("cm-{i}"), &payload))
        .collect();
    let agent = start_agent(
        &server,
        "big",
        Some(token),
        &tmp.path().join("state"),
        &resources,
        Arc::new(RecordingSink::default()),
    )
    .await;
    eventually("10k resources received", || {
        server
            .registry
            .get("big")
            .is_some_and(|s| s.snapshot_resources == 10_000)
    })
    .await;
    assert!(server.registry.get("big").unwrap().snapshot_bytes > 8_000_000);
    assert_eq!(
        parts.store.snapshot_summary("big").await.unwrap().resources,
        10_000
    );
    agent.running.shutdown(Duration::from_secs(5)).await;
    server.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_restarting_server_does_not_withdraw_config_before_its_source_is_ready() {
    let parts = ServerParts::new().await;
    let server = parts.start().await;
    let addr = server.relay_addr;
    let tmp = tempfile::tempdir().unwrap();
    let token = parts.token("cluster-1").await;
    let sink = Arc::new(RecordingSink::default());
    let cfg = [resource("ConfigMap", "kept", "1")];
    let generation = parts.config.set("cluster-1", set_of(&cfg));
    let agent = start_agent(
        &server,
        "cluster-1",
        Some(token),
        &tmp.path().join("state"),
        &[],
        sink.clone(),
    )
    .await;
    eventually("acked", || {
        server
            .registry
            .get("cluster-1")
            .is_some_and(|s| s.applied_config_version == Some(generation))
    })
    .await;
    server.shutdown(Duration::from_secs(5)).await;

    let mut restarted = parts.clone();
    restarted.config = Arc::new(meshctl::server::config_source::StaticConfigSource::pending());
    let mut settings = restarted.settings();
    settings.relay_listen = addr;
    let server = restarted.start_with(settings).await;
    eventually("reconnected", || {
        server
            .registry
            .get("cluster-1")
            .is_some_and(|s| s.connected)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        sink.held.lock().unwrap().contains_key(&key_of(&cfg[0])),
        "config withdrawn before the source was ready"
    );
    assert_eq!(
        server
            .registry
            .get("cluster-1")
            .unwrap()
            .desired_config_version,
        None
    );

    let generation = restarted.config.set("cluster-1", set_of(&cfg));
    restarted.config.mark_ready();
    eventually("acked after ready", || {
        server
            .registry
            .get("cluster-1")
            .is_some_and(|s| s.applied_config_version == Some(generation))
    })
    .await;
    assert_eq!(server.metrics.config_resources_sent.get(), 0);
    assert!(sink.held.lock().unwrap().contains_key(&key_of(&cfg[0])));
    agent.running.shutdown(Duration::from_secs(5)).await;
    server.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_and_agents_keep_working() {
    let parts = ServerParts::new().await;
    let mut settings = parts.settings();
    settings.max_connections = 2;
    let server = parts.start_with(settings).await;
    parts.token("c1").await;
    let id = valid_identity(&parts.material, "c1");
    // one live agent stream and one idle connection fill the cap
    let mut a = client(server.relay_addr, &server.root_ca_pem, Some(&id)).await;
    let mut s = open_stream(&mut a, hello("c1")).await.unwrap();
    next_message(&mut s).await.unwrap();
    let _idle = channel(server.relay_addr, &server.root_ca_pem, None)
        .await
        .unwrap();
    // a third connection is closed at once
    let third = async {
        let mut c = meshctl::relay::client::relay_client(
            channel(server.relay_addr, &server.root_ca_pem, None).await?,
        );
        c.bootstrap(meshctl::relay::proto::BootstrapRequest::default())
            .await
            .map_err(|e| e.to_string())
    }
    .await;
    assert!(third.is_err());
    eventually("refusal counted", || {
        server
            .handshakes
            .refused
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    })
    .await;
    // the live stream is unaffected
    s.tx.send(AgentMessage {
        msg: Some(meshctl::relay::proto::agent_message::Msg::Heartbeat(
            Default::default(),
        )),
    })
    .await
    .unwrap();
    let generation = parts
        .config
        .set("c1", set_of(&[resource("ConfigMap", "x", "1")]));
    loop {
        let m = next_message(&mut s).await.unwrap().unwrap();
        if let Some(server_message::Msg::Config(c)) = m.msg
            && c.version == generation
        {
            break;
        }
    }
    drop(s);
    server.shutdown(Duration::from_secs(5)).await;
}

/// The Welcome of each new stream carries the license last published; a server without a license
/// source announces nothing.
#[tokio::test]
async fn welcome_announces_the_license_published_when_the_stream_opens() {
    use meshctl::relay::entitlements::{AnnouncedEntitlements, AnnouncedState};
    use meshctl::server::license_source::entitlements_feed;

    async fn welcome_entitlements(
        server: &meshctl::server::RunningServer,
        parts: &ServerParts,
    ) -> Vec<String> {
        let id = valid_identity(&parts.material, "cluster-1");
        let mut c = client(server.relay_addr, &server.root_ca_pem, Some(&id)).await;
        let mut s = open_stream(&mut c, hello("cluster-1")).await.unwrap();
        match next_message(&mut s).await.unwrap().unwrap().msg {
            Some(server_message::Msg::Welcome(w)) => w.entitlements,
            other => panic!("expected Welcome, got {other:?}"),
        }
    }

    let parts = ServerParts::new().await;
    parts.token("cluster-1").await;
    let server = parts.start().await;
    assert!(welcome_entitlements(&server, &parts).await.is_empty());
    server.shutdown(Duration::from_secs(5)).await;

    let (publisher, feed) = entitlements_feed();
    let mut settings = parts.settings();
    settings.session.entitlements = feed;
    let server = parts.start_with(settings).await;
    let expires = jiff::Timestamp::from_second(1_900_000_000).unwrap();
    let announced = AnnouncedEntitlements {
        license: AnnouncedState::Valid,
        products: ["mesh".to_owned(), "network".to_owned()].into(),
        modules: ["graphql".to_owned()].into(),
        expires_at: Some(expires),
    };
    // Published after the stream opened: the Welcome waits for the first read of the license.
    let opening = welcome_entitlements(&server, &parts);
    let publish = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(publisher.publish(announced.clone()));
    };
    let (wire, ()) = tokio::join!(opening, publish);
    assert_eq!(
        wire,
        [
            "license:valid",
            "product:mesh",
            "product:network",
            "module:graphql",
            "expires:2030-03-17T17:46:40Z"
        ]
    );
    assert_eq!(AnnouncedEntitlements::decode(&wire), announced);

    // A reloaded license without Mesh: the next stream is told.
    let without_mesh = AnnouncedEntitlements {
        products: ["network".to_owned()].into(),
        modules: Default::default(),
        ..announced
    };
    assert!(publisher.publish(without_mesh.clone()));
    assert!(!publisher.publish(without_mesh.clone()));
    let seen = AnnouncedEntitlements::decode(&welcome_entitlements(&server, &parts).await);
    assert_eq!(seen, without_mesh);
    assert!(!seen.grants("mesh"));
    assert!(seen.grants("network"));

    // A change while a stream is open reaches it at once as a LicenseUpdate.
    let id = valid_identity(&parts.material, "cluster-1");
    let mut c = client(server.relay_addr, &server.root_ca_pem, Some(&id)).await;
    let mut s = open_stream(&mut c, hello("cluster-1")).await.unwrap();
    match next_message(&mut s).await.unwrap().unwrap().msg {
        Some(server_message::Msg::Welcome(w)) => {
            assert_eq!(AnnouncedEntitlements::decode(&w.entitlements), without_mesh);
        }
        other => panic!("expected Welcome, got {other:?}"),
    }
    let expired = AnnouncedEntitlements {
        license: AnnouncedState::Expired,
        ..without_mesh
    };
    assert!(publisher.publish(expired.clone()));
    let update = loop {
        match next_message(&mut s).await.unwrap().unwrap().msg {
            Some(server_message::Msg::License(u)) => break u,
            Some(server_message::Msg::Error(e)) => panic!("error from the server: {e:?}"),
            _ => {}
        }
    };
    assert_eq!(AnnouncedEntitlements::decode(&update.entitlements), expired);
    drop(s);
    server.shutdown(Duration::from_secs(5)).await;
}
