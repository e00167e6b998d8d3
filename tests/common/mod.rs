//! Shared helpers for the relay loopback tests: in-process servers and agents on
//! 127.0.0.1:0 with real mTLS.
#![allow(dead_code, clippy::unwrap_used)]

use async_trait::async_trait;
use meshctl::agent::sink::{ApplyError, ConfigSink, DirSink, SinkError};
use meshctl::agent::source::StaticSource;
use meshctl::agent::{Agent, AgentSettings, RunningAgent, TokenSource};
use meshctl::relay::client::{RelayTarget, connect, relay_client};
use meshctl::relay::pki::{self, PkiMaterial, default_server_sans};
use meshctl::relay::proto::relay_client::RelayClient;
use meshctl::relay::proto::{AgentMessage, Hello, ServerMessage, agent_message};
use meshctl::relay::resource::{from_json, key_of};
use meshctl::relay::tls::{ClientIdentity, client_config};
use meshctl::relay::token::BootstrapToken;
use meshctl::relay::{PROTOCOL_VERSION, proto};
use meshctl::server::config_source::StaticConfigSource;
use meshctl::server::pki_store::{MemoryPkiStore, PkiStore};
use meshctl::server::store::MemoryStateStore;
use meshctl::server::tokens::{LocalTokenStore, TokenStore};
use meshctl::server::{RelayServer, RunningServer, ServerSettings};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

/// Waits (polling) until `f` holds; panics with `what` after a generous guard.
pub async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..1500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// The parts of a server that survive a restart.
#[derive(Clone)]
pub struct ServerParts {
    pub material: PkiMaterial,
    pub pki: Arc<MemoryPkiStore>,
    pub tokens: Arc<LocalTokenStore>,
    pub store: Arc<MemoryStateStore>,
    pub config: Arc<StaticConfigSource>,
}

impl ServerParts {
    pub async fn new() -> Self {
        let material =
            pki::generate(&default_server_sans(), time::OffsetDateTime::now_utc()).unwrap();
        let pki = Arc::new(MemoryPkiStore::default());
        pki.create(&material).await.unwrap();
        Self {
            material,
            pki,
            tokens: Arc::new(LocalTokenStore::memory()),
            store: Arc::new(MemoryStateStore::new()),
            config: Arc::new(StaticConfigSource::new()),
        }
    }

    pub fn settings(&self) -> ServerSettings {
        ServerSettings {
            relay_listen: "127.0.0.1:0".parse().unwrap(),
            admin_listen: Some("127.0.0.1:0".parse().unwrap()),
            max_new_streams_per_second: 10_000.0,
            ..ServerSettings::default()
        }
    }

    pub async fn start_with(&self, settings: ServerSettings) -> RunningServer {
        RelayServer {
            settings,
            pki: self.pki.clone(),
            tokens: self.tokens.clone(),
            store: self.store.clone(),
            config: self.config.clone(),
        }
        .start()
        .await
        .unwrap()
    }

    pub async fn start(&self) -> RunningServer {
        self.start_with(self.settings()).await
    }

    pub async fn token(&self, cluster: &str) -> BootstrapToken {
        self.tokens.issue(cluster).await.unwrap()
    }
}

pub fn resource(kind: &str, name: &str, value: &str) -> proto::Resource {
    from_json(&json!({"apiVersion": "v1", "kind": kind,
        "metadata": {"name": name, "namespace": "shop"}, "data": {"value": value}}))
    .unwrap()
}

pub fn set_of(items: &[proto::Resource]) -> BTreeMap<String, proto::Resource> {
    items.iter().map(|r| (key_of(r), r.clone())).collect()
}

/// A sink that records what it holds and fails keys listed in `fail`.
#[derive(Default)]
pub struct RecordingSink {
    pub held: Mutex<HashMap<String, String>>,
    pub fail: Mutex<Vec<String>>,
}

#[async_trait]
impl ConfigSink for RecordingSink {
    async fn held(&self) -> Result<HashMap<String, String>, SinkError> {
        Ok(self.held.lock().unwrap().clone())
    }
    async fn apply(&self, upserts: Vec<proto::Resource>, deletes: Vec<String>) -> Vec<ApplyError> {
        let fail = self.fail.lock().unwrap().clone();
        let mut held = self.held.lock().unwrap();
        let mut errors = Vec::new();
        for r in upserts {
            let key = key_of(&r);
            if fail.contains(&key) {
                errors.push(ApplyError {
                    key,
                    message: "refused by the test sink".into(),
                });
            } else {
                held.insert(key, r.hash);
            }
        }
        for k in deletes {
            held.remove(&k);
        }
        errors
    }
}

pub struct TestAgent {
    pub running: RunningAgent,
    pub source: Arc<StaticSource>,
    pub state_dir: PathBuf,
}

pub fn agent_settings(server: &RunningServer, cluster: &str, state_dir: &Path) -> AgentSettings {
    let mut s = AgentSettings::new(
        cluster,
        RelayTarget::new(server.relay_addr.to_string()),
        server.root_ca_pem.clone(),
        state_dir.to_path_buf(),
    );
    s.backoff_initial = Duration::from_millis(50);
    s.backoff_max = Duration::from_millis(500);
    s.admin_listen = Some("127.0.0.1:0".parse().unwrap());
    s
}

pub async fn start_agent(
    server: &RunningServer,
    cluster: &str,
    token: Option<BootstrapToken>,
    state_dir: &Path,
    resources: &[proto::Resource],
    sink: Arc<dyn ConfigSink>,
) -> TestAgent {
    let source = Arc::new(StaticSource::new(set_of(resources)));
    let mut settings = agent_settings(server, cluster, state_dir);
    settings.token = token.map(TokenSource::Literal);
    let running = Agent {
        settings,
        source: source.clone(),
        sink,
    }
    .start()
    .await
    .unwrap();
    TestAgent {
        running,
        source,
        state_dir: state_dir.to_path_buf(),
    }
}

pub async fn dir_sink(path: &Path) -> Arc<DirSink> {
    Arc::new(DirSink::open(path.to_path_buf()).await.unwrap())
}

/// Issues a client identity for `cluster` directly from the CA (tests only).
pub fn identity_from(
    material: &PkiMaterial,
    cluster: &str,
    not_before: time::OffsetDateTime,
    not_after: time::OffsetDateTime,
) -> ClientIdentity {
    let ca = pki::CertAuthority::from_material(material).unwrap();
    let key = pki::generate_agent_key(cluster).unwrap();
    let issued = ca
        .issue_client_cert_between(cluster, &key.csr_der, not_before, not_after)
        .unwrap();
    ClientIdentity {
        chain_pem: issued.chain_pem,
        key_pem: key.key_pem,
    }
}

pub fn valid_identity(material: &PkiMaterial, cluster: &str) -> ClientIdentity {
    let now = time::OffsetDateTime::now_utc();
    identity_from(
        material,
        cluster,
        now - time::Duration::minutes(5),
        now + time::Duration::days(1),
    )
}

pub async fn channel(
    addr: SocketAddr,
    ca_pem: &str,
    identity: Option<&ClientIdentity>,
) -> Result<Channel, String> {
    connect(
        &RelayTarget::new(addr.to_string()),
        client_config(ca_pem, identity).unwrap(),
    )
    .await
    .map_err(|e| e.to_string())
}

pub async fn client(
    addr: SocketAddr,
    ca_pem: &str,
    identity: Option<&ClientIdentity>,
) -> RelayClient<Channel> {
    relay_client(channel(addr, ca_pem, identity).await.unwrap())
}

pub fn hello(cluster: &str) -> AgentMessage {
    AgentMessage {
        msg: Some(agent_message::Msg::Hello(Hello {
            cluster: cluster.into(),
            agent_version: "test".into(),
            protocol_version: PROTOCOL_VERSION,
            held_config: HashMap::new(),
            snapshot_hash: String::new(),
            snapshot_resources: 0,
        })),
    }
}

/// A raw stream: the sender for agent messages and the server's replies.
pub struct RawStream {
    pub tx: mpsc::Sender<AgentMessage>,
    pub rx: tonic::Streaming<ServerMessage>,
}

pub async fn open_stream(
    client: &mut RelayClient<Channel>,
    first: AgentMessage,
) -> Result<RawStream, tonic::Status> {
    let (tx, rx) = mpsc::channel(16);
    tx.send(first).await.unwrap();
    let resp = client.connect(ReceiverStream::new(rx)).await?;
    Ok(RawStream {
        tx,
        rx: resp.into_inner(),
    })
}

/// Next message, or the stream's error, with a guard timeout.
pub async fn next_message(s: &mut RawStream) -> Result<Option<ServerMessage>, tonic::Status> {
    tokio::time::timeout(Duration::from_secs(20), s.rx.message())
        .await
        .expect("no message from the server")
}

/// Reads an admin endpoint over plain HTTP/1.0.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.unwrap();
    let status = buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = buf.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
    (status, body)
}

pub fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
                .count()
        })
        .unwrap_or(0)
}
