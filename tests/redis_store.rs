//! `RedisStateStore` against a real `redis-server` (started per test on a free loopback port,
//! no persistence, killed when the test ends). Without `redis-server` on PATH the tests skip
//! with a printed reason, except under CI (env `CI` set), where they fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod support;

use meshctl::relay::proto;
use meshctl::relay::resource::{from_json, key_of};
use meshctl::server::redis_store::{
    RedisStateStore, RedisStoreSettings, default_prefix, relay_view_key,
};
use meshctl::server::registry::ClusterStatus;
use meshctl::server::relay_view::ENTRY_TTL;
use meshctl::server::store::{MemoryStateStore, SnapshotSummary, StateStore, StoreChange};
use meshctl::server::translation::{TranslatingConfigSource, TranslationSettings};
use serde_json::json;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(60);

/// A `redis-server` on 127.0.0.1; killed when dropped.
struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    extra: Vec<String>,
}

fn redis_server_bin() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("redis-server"))
            .find(|p| p.is_file())
    })
}

/// The redis-server binary, or None when the test must skip (panics under CI).
fn require_redis(test: &str) -> Option<PathBuf> {
    match redis_server_bin() {
        Some(bin) => Some(bin),
        None if std::env::var_os("CI").is_some() => {
            panic!("{test}: redis-server is not on PATH, and CI is set (CI installs it)")
        }
        None => {
            eprintln!(
                "skipping {test}: redis-server is not on PATH (apt-get install redis-server)"
            );
            None
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl RedisServer {
    fn start(bin: &PathBuf, extra: &[&str]) -> Self {
        let mut s = Self {
            child: None,
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
        };
        s.spawn(bin);
        s
    }

    fn spawn(&mut self, bin: &PathBuf) {
        let child = Command::new(bin)
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("redis-server exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "redis-server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let ok = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} {pid}");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            // A stopped process must be continued to die promptly.
            let _ = Command::new("kill")
                .args(["-CONT", &c.id().to_string()])
                .status();
        }
        self.kill();
    }
}

fn store(url: &str, namespace: &str, timeout: Duration) -> RedisStateStore {
    replica_store(url, namespace, timeout, "test")
}

/// A store for the server replica `replica`.
fn replica_store(url: &str, namespace: &str, timeout: Duration, replica: &str) -> RedisStateStore {
    RedisStateStore::new(RedisStoreSettings {
        url: url.to_owned(),
        prefix: default_prefix(namespace),
        timeout,
        replica: replica.to_owned(),
    })
    .unwrap()
}

fn res(name: &str, v: &str) -> proto::Resource {
    from_json(&json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "ns"}, "data": {"v": v}}))
    .unwrap()
}

/// Asserts that both stores hold the same thing for `cluster`.
async fn same(memory: &MemoryStateStore, redis: &RedisStateStore, cluster: &str) {
    assert_eq!(
        memory.snapshot_summary(cluster).await.unwrap(),
        redis.snapshot_summary(cluster).await.unwrap(),
        "summary of {cluster}"
    );
    assert_eq!(
        memory.snapshot_hashes(cluster).await.unwrap(),
        redis.snapshot_hashes(cluster).await.unwrap(),
        "hashes of {cluster}"
    );
    assert_eq!(
        memory.snapshot(cluster).await.unwrap(),
        redis.snapshot(cluster).await.unwrap(),
        "snapshot of {cluster}"
    );
    assert_eq!(
        memory.clusters().await.unwrap(),
        redis.clusters().await.unwrap()
    );
}

async fn apply_both(
    memory: &MemoryStateStore,
    redis: &RedisStateStore,
    cluster: &str,
    version: u64,
    upserts: Vec<proto::Resource>,
    deletes: Vec<String>,
) -> SnapshotSummary {
    let m = memory
        .apply_snapshot_delta(cluster, version, upserts.clone(), deletes.clone())
        .await
        .unwrap();
    let r = redis
        .apply_snapshot_delta(cluster, version, upserts, deletes)
        .await
        .unwrap();
    assert_eq!(
        m, r,
        "summary returned by the delta on {cluster} v{version}"
    );
    same(memory, redis, cluster).await;
    r
}

async fn next_change(rx: &mut tokio::sync::mpsc::Receiver<StoreChange>) -> StoreChange {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("a change notification in time")
        .expect("the change feed is open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behaves_like_the_memory_store() {
    let Some(bin) = require_redis("behaves_like_the_memory_store") else {
        return;
    };
    let server = RedisServer::start(&bin, &[]);
    let redis = store(&server.url(), "mesh-system", Duration::from_secs(10));
    let memory = MemoryStateStore::new();

    // Nothing stored yet.
    same(&memory, &redis, "c1").await;
    assert_eq!(
        redis.snapshot_summary("c1").await.unwrap(),
        SnapshotSummary::default()
    );

    // Inserted out of key order; the snapshot comes back in key order.
    let (a, b, c) = (res("a", "1"), res("b", "1"), res("c", "1"));
    let s1 = apply_both(
        &memory,
        &redis,
        "c1",
        1,
        vec![c.clone(), a.clone(), b.clone()],
        vec![],
    )
    .await;
    assert_eq!(s1.resources, 3);
    let names: Vec<String> = redis
        .snapshot("c1")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["a", "b", "c"]);

    // Replacing with a bigger body, deleting one and a key that is not there.
    let a2 = res("a", "a much longer value than before");
    let s2 = apply_both(
        &memory,
        &redis,
        "c1",
        2,
        vec![a2],
        vec![key_of(&b), "v1/ConfigMap/ns/nothing".into()],
    )
    .await;
    assert_eq!(s2.resources, 2);
    assert_ne!(s1.hash, s2.hash);
    assert_ne!(s1.bytes, s2.bytes);

    // An empty delta only records the version; the cached hash is used the second time.
    let s3 = apply_both(&memory, &redis, "c1", 3, vec![], vec![]).await;
    assert_eq!((s3.version, &s3.hash), (3, &s2.hash));
    same(&memory, &redis, "c1").await;

    // A second cluster, then everything deleted from the first.
    apply_both(&memory, &redis, "c0", 1, vec![res("x", "1")], vec![]).await;
    let s4 = apply_both(
        &memory,
        &redis,
        "c1",
        4,
        vec![],
        vec![key_of(&a), key_of(&c)],
    )
    .await;
    assert_eq!((s4.resources, s4.bytes, s4.hash.as_str()), (0, 0, ""));
    assert_eq!(redis.clusters().await.unwrap(), ["c0", "c1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_snapshots_and_hear_of_each_others_changes() {
    let Some(bin) = require_redis("replicas_share_snapshots_and_hear_of_each_others_changes")
    else {
        return;
    };
    let server = RedisServer::start(&bin, &[]);
    let cancel = CancellationToken::new();
    let _stop = cancel.clone().drop_guard();

    // State outlives the store object.
    let first = store(&server.url(), "mesh-system", Duration::from_secs(10));
    let s = first
        .apply_snapshot_delta("c1", 1, vec![res("a", "1"), res("b", "2")], vec![])
        .await
        .unwrap();
    drop(first);
    let one = store(&server.url(), "mesh-system", Duration::from_secs(10));
    assert_eq!(one.snapshot_summary("c1").await.unwrap(), s);

    // Two replicas: each hears of the other's changes, not of its own.
    let two = store(&server.url(), "mesh-system", Duration::from_secs(10));
    let mut one_rx = one.subscribe(cancel.clone());
    let mut two_rx = two.subscribe(cancel.clone());
    assert_eq!(next_change(&mut one_rx).await, StoreChange::All);
    assert_eq!(next_change(&mut two_rx).await, StoreChange::All);
    let s = one
        .apply_snapshot_delta("c2", 7, vec![res("z", "1")], vec![])
        .await
        .unwrap();
    assert_eq!(
        next_change(&mut two_rx).await,
        StoreChange::Cluster("c2".into())
    );
    assert_eq!(two.snapshot_summary("c2").await.unwrap(), s);
    assert_eq!(
        two.snapshot("c2").await.unwrap(),
        one.snapshot("c2").await.unwrap()
    );
    two.apply_snapshot_delta("c1", 2, vec![], vec![key_of(&res("a", "1"))])
        .await
        .unwrap();
    // one's first notification is two's change: its own (c2) was not echoed back.
    assert_eq!(
        next_change(&mut one_rx).await,
        StoreChange::Cluster("c1".into())
    );
    assert_eq!(one.snapshot_summary("c1").await.unwrap().resources, 1);

    // Another namespace (key prefix) sees nothing of this one.
    let other = store(&server.url(), "other-ns", Duration::from_secs(10));
    assert!(other.clusters().await.unwrap().is_empty());
    assert_eq!(
        other.snapshot_summary("c1").await.unwrap(),
        SnapshotSummary::default()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_delta_changes_nothing() {
    let Some(bin) = require_redis("a_failing_delta_changes_nothing") else {
        return;
    };
    let server = RedisServer::start(&bin, &[]);
    let s = store(&server.url(), "mesh-system", Duration::from_secs(10));
    s.apply_snapshot_delta("c1", 1, vec![res("a", "1")], vec![])
        .await
        .unwrap();
    // Foreign data where the store keeps the summary (the last key the script writes): the
    // script refuses before writing anything.
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("SET")
        .arg("meshctl:mesh-system:cluster:c1:meta")
        .arg("not a hash")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    let err = s
        .apply_snapshot_delta("c1", 2, vec![res("b", "1")], vec![key_of(&res("a", "1"))])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("WRONGTYPE"), "{err}");
    assert_eq!(s.snapshot("c1").await.unwrap(), vec![res("a", "1")]);
    assert_eq!(s.snapshot_hashes("c1").await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outages_give_clear_errors_then_recover() {
    let Some(bin) = require_redis("outages_give_clear_errors_then_recover") else {
        return;
    };
    let password = "pw-never-shown";
    let mut server = RedisServer::start(&bin, &["--requirepass", password]);
    let url = format!("redis://:{password}@127.0.0.1:{}", server.port);
    let s = store(&url, "mesh-system", Duration::from_secs(2));
    let cancel = CancellationToken::new();
    let _stop = cancel.clone().drop_guard();
    let mut rx = s.subscribe(cancel.clone());
    assert_eq!(next_change(&mut rx).await, StoreChange::All);
    s.apply_snapshot_delta("c1", 1, vec![res("a", "1")], vec![])
        .await
        .unwrap();

    // Hung Redis: every call ends with a timeout.
    server.signal("-STOP");
    let err = s.snapshot_summary("c1").await.unwrap_err().to_string();
    assert!(err.contains("timed out"), "{err}");
    assert!(!err.contains(password), "{err}");
    assert!(err.contains("redis://:***@127.0.0.1"), "{err}");
    server.signal("-CONT");

    // Redis gone: clear errors, no password.
    server.kill();
    let err = s
        .apply_snapshot_delta("c1", 2, vec![res("b", "1")], vec![])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Redis state store at redis://:***@127.0.0.1"),
        "{err}"
    );
    assert!(err.contains("applying a snapshot delta"), "{err}");
    assert!(!err.contains(password), "{err}");

    // Redis back (empty: no persistence): the same store object works again, and the change
    // feed resubscribes and reports that anything may have changed.
    server.spawn(&bin);
    let deadline = Instant::now() + WAIT;
    let summary = loop {
        match s
            .apply_snapshot_delta("c1", 3, vec![res("c", "1")], vec![])
            .await
        {
            Ok(summary) => break summary,
            Err(e) => {
                assert!(!e.to_string().contains(password), "{e}");
                assert!(Instant::now() < deadline, "no recovery: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    assert_eq!((summary.version, summary.resources), (3, 1));
    assert_eq!(next_change(&mut rx).await, StoreChange::All);
}

fn service(name: &str) -> proto::Resource {
    from_json(&json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "bookinfo", "labels": {"app": name}},
        "spec": {"ports": [{"port": 9080, "name": "http"}], "selector": {"app": name}}}))
    .unwrap()
}

/// One server replica's translation over the shared store, wired as `serve mgmt-server
/// --redis-url` wires it.
fn replica(
    url: &str,
    cancel: &CancellationToken,
) -> (TranslatingConfigSource, Arc<dyn StateStore>) {
    let redis = store(url, "mesh-system", Duration::from_secs(10));
    let base: Arc<dyn StateStore> = Arc::new(redis.clone());
    let t = TranslatingConfigSource::new(TranslationSettings {
        wait_for: vec![],
        ..TranslationSettings::default()
    });
    let observed = t.observe(base.clone());
    t.follow_store_changes(
        base.clone(),
        redis.subscribe(cancel.clone()),
        cancel.clone(),
    );
    t.start(base, cancel.clone());
    (t, observed)
}

async fn wait_for_catalog(
    t: &TranslatingConfigSource,
    what: &str,
    cond: impl Fn(&meshctl::translate::ServiceCatalog) -> bool,
) {
    let deadline = Instant::now() + WAIT;
    while !cond(&t.catalog()) {
        assert!(
            Instant::now() < deadline,
            "{what}: catalog is {:?}",
            t.catalog().services
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_retranslates_what_another_replica_stored() {
    let Some(bin) = require_redis("a_replica_retranslates_what_another_replica_stored") else {
        return;
    };
    let server = RedisServer::start(&bin, &[]);
    let cancel = CancellationToken::new();
    let _stop = cancel.clone().drop_guard();
    let (_a, a_store) = replica(&server.url(), &cancel);
    let (b, _b_store) = replica(&server.url(), &cancel);
    let has = |name: &'static str| {
        move |c: &meshctl::translate::ServiceCatalog| {
            c.services
                .iter()
                .any(|s| s.name == name && s.instances.iter().any(|i| i.cluster == "c1"))
        }
    };

    // The agent of c1 is connected to replica A; replica B translates what it reported.
    a_store
        .apply_snapshot_delta("c1", 1, vec![service("reviews")], vec![])
        .await
        .unwrap();
    wait_for_catalog(&b, "B learns of reviews", has("reviews")).await;

    // Later changes reach B through the change feed (B listed the store only at start).
    a_store
        .apply_snapshot_delta(
            "c1",
            2,
            vec![service("ratings")],
            vec![key_of(&service("reviews"))],
        )
        .await
        .unwrap();
    wait_for_catalog(&b, "B learns of ratings", has("ratings")).await;
    wait_for_catalog(&b, "B forgets reviews", |c| !has("reviews")(c)).await;
}

fn address_in(line: &str) -> String {
    line.split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("an address after 'listening on'")
        .to_string()
}

/// `meshctl serve mgmt-server` with the state store in Redis, as replica `replica` (its host
/// name); returns (process, relay, admin).
fn start_mgmt_server(
    state: &std::path::Path,
    relay_listen: &str,
    config: &std::path::Path,
    redis_url: &str,
    replica: &str,
) -> (support::Running, String, String) {
    let mut server = support::Running::start(
        &[
            "serve",
            "mgmt-server",
            "--relay-listen",
            relay_listen,
            "--admin-listen",
            "127.0.0.1:0",
            "--state-dir",
            state.to_str().unwrap(),
            "--cluster",
            "c1",
            "--raw-config-dir",
            config.to_str().unwrap(),
        ],
        &[("MESHCTL_REDIS_URL", redis_url), ("HOSTNAME", replica)],
    );
    server.wait_for_line("state store: Redis", WAIT);
    let relay = address_in(&server.wait_for_line("relay listening on", WAIT));
    let admin = address_in(&server.wait_for_line("admin listening on", WAIT));
    (server, relay, admin)
}

/// A temporary directory with the server's state dir, a raw config dir for cluster c1 and an
/// agent source dir: (dir, state, config, source).
fn server_dirs() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("server");
    let config = tmp.path().join("config");
    std::fs::create_dir_all(config.join("c1")).unwrap();
    let source = tmp.path().join("source");
    std::fs::create_dir_all(&source).unwrap();
    (tmp, state, config, source)
}

/// `meshctl serve agent` for cluster c1 of the server with state dir `state` (its token and CA
/// files), reading `source`, applying under `dir`/applied.
fn start_agent(
    dir: &std::path::Path,
    state: &std::path::Path,
    relay: &str,
    source: &std::path::Path,
) -> support::Running {
    support::Running::start(
        &[
            "serve",
            "agent",
            "--cluster",
            "c1",
            "--relay-address",
            relay,
            "--token-file",
            state.join("tokens/c1.token").to_str().unwrap(),
            "--ca-file",
            state.join("pki/root-ca.crt").to_str().unwrap(),
            "--state-dir",
            dir.join("agent").to_str().unwrap(),
            "--source",
            &format!("dir:{}", source.display()),
            "--sink",
            &format!("dir:{}", dir.join("applied").display()),
            "--admin-listen",
            "127.0.0.1:0",
        ],
        &[],
    )
}

fn admin_get(admin: &str, path: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (status, body) = rt
        .block_on(meshctl::server::admin_client::get(
            admin,
            path,
            Duration::from_secs(10),
        ))
        .unwrap();
    assert_eq!(status, 200, "GET {path}");
    String::from_utf8_lossy(&body).into_owned()
}

fn wait_for_c1(admin: &str, what: &str, f: impl Fn(&serde_json::Value) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        let list: serde_json::Value =
            serde_json::from_str(&admin_get(admin, "/api/v1/clusters")).unwrap();
        if list["clusters"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["name"] == "c1" && f(c)))
        {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: {list}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Process level: a server restarted against the same Redis already holds the agent's snapshot,
/// so the reconnecting agent sends none of it again (with the memory store it must resend all).
#[test]
fn a_restarted_server_finds_the_snapshot_in_redis() {
    let Some(bin) = require_redis("a_restarted_server_finds_the_snapshot_in_redis") else {
        return;
    };
    let redis = RedisServer::start(&bin, &[]);
    let (tmp, state, config, source) = server_dirs();
    std::fs::write(
        source.join("svc.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
    )
    .unwrap();
    let (mut first, relay, admin) =
        start_mgmt_server(&state, "127.0.0.1:0", &config, &redis.url(), "first");
    let mut agent = start_agent(tmp.path(), &state, &relay, &source);
    wait_for_c1(&admin, "c1 connected with its snapshot", |c| {
        c["connected"] == true && c["snapshot_resources"] == 2
    });
    let metrics = admin_get(&admin, "/metrics");
    assert!(
        metrics.contains("meshctl_relay_snapshot_resources_received_total 2"),
        "{metrics}"
    );

    first.stop();
    agent.wait_for_line("reconnecting", WAIT);
    let (_second, _, admin2) = start_mgmt_server(&state, &relay, &config, &redis.url(), "second");
    // The killed first server's relay view entry lives on until it expires: wait for the
    // second server's own stream.
    wait_for_c1(&admin2, "c1 reconnected", |c| {
        c["connected"] == true && c["snapshot_resources"] == 2 && c["replica"] == "second"
    });
    let metrics = admin_get(&admin2, "/metrics");
    assert!(
        metrics.contains("meshctl_relay_snapshot_resources_received_total 0"),
        "the snapshot came from Redis, not from the agent again:\n{metrics}"
    );
}

fn connected(name: &str) -> ClusterStatus {
    ClusterStatus {
        name: name.to_owned(),
        connected: true,
        connected_since: Some(jiff::Timestamp::now()),
        ..ClusterStatus::default()
    }
}

/// What `store` sees of the other replicas: (replica, cluster), sorted.
async fn peers_of(store: &RedisStateStore) -> Vec<(String, String)> {
    let mut seen: Vec<(String, String)> = store
        .peer_relay_view()
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.replica, p.status.name))
        .collect();
    seen.sort();
    seen
}

fn pair(replica: &str, cluster: &str) -> (String, String) {
    (replica.to_owned(), cluster.to_owned())
}

/// The relay view: each replica sees what the others hold (not its own entries), entries expire
/// unless republished, and a replica withdraws only entries that are still its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_their_relay_view() {
    let Some(bin) = require_redis("replicas_share_their_relay_view") else {
        return;
    };
    let redis = RedisServer::start(&bin, &[]);
    let a = replica_store(&redis.url(), "mesh", Duration::from_secs(5), "a");
    let b = replica_store(&redis.url(), "mesh", Duration::from_secs(5), "b");
    let other_namespace = replica_store(&redis.url(), "other", Duration::from_secs(5), "c");
    assert_eq!(a.relay_view_replica(), Some("a"));

    a.publish_relay_view(&[connected("east")], &[])
        .await
        .unwrap();
    b.publish_relay_view(&[connected("west")], &[])
        .await
        .unwrap();
    other_namespace
        .publish_relay_view(&[connected("south")], &[])
        .await
        .unwrap();
    assert_eq!(peers_of(&a).await, [pair("b", "west")]);
    assert_eq!(peers_of(&b).await, [pair("a", "east")]);
    let seen = b.peer_relay_view().await.unwrap();
    assert!(seen[0].status.connected);
    assert!(seen[0].status.connected_since.is_some());

    // Entries expire unless republished.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(relay_view_key(&default_prefix("mesh"), "east"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= ENTRY_TTL.as_millis() as i64, "{ttl}");

    // The agent of east moves to b; a, releasing east late, must not remove b's entry.
    b.publish_relay_view(&[connected("west"), connected("east")], &[])
        .await
        .unwrap();
    a.publish_relay_view(&[], &["east".to_owned()])
        .await
        .unwrap();
    assert_eq!(peers_of(&a).await, [pair("b", "east"), pair("b", "west")]);
    b.publish_relay_view(&[connected("west")], &["east".to_owned()])
        .await
        .unwrap();
    assert_eq!(peers_of(&a).await, [pair("b", "west")]);

    // A translating server wraps its store (observe): the relay view must pass through.
    let translating = TranslatingConfigSource::new(TranslationSettings::default());
    let observed = translating.observe(Arc::new(a.clone()));
    assert_eq!(observed.relay_view_replica(), Some("a"));
    assert_eq!(
        observed
            .peer_relay_view()
            .await
            .unwrap()
            .into_iter()
            .map(|p| (p.replica, p.status.name))
            .collect::<Vec<_>>(),
        [pair("b", "west")]
    );
    // An entry meshctl did not write is skipped, not fatal.
    let _: () = redis::cmd("SET")
        .arg(relay_view_key(&default_prefix("mesh"), "bogus"))
        .arg("not json")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(peers_of(&a).await, [pair("b", "west")]);
}

/// Process level: two `serve mgmt-server` replicas on one Redis; the agent connects to the first,
/// and the second's `GET /api/v1/clusters` shows it connected, held by the first. When the agent
/// stops, both show it disconnected.
#[test]
fn a_replica_shows_the_agents_another_replica_holds() {
    let Some(bin) = require_redis("a_replica_shows_the_agents_another_replica_holds") else {
        return;
    };
    let redis = RedisServer::start(&bin, &[]);
    let (tmp, state, config, source) = server_dirs();
    let (_a, relay_a, admin_a) =
        start_mgmt_server(&state, "127.0.0.1:0", &config, &redis.url(), "replica-a");
    let (_b, _, admin_b) =
        start_mgmt_server(&state, "127.0.0.1:0", &config, &redis.url(), "replica-b");
    let mut agent = start_agent(tmp.path(), &state, &relay_a, &source);
    wait_for_c1(&admin_a, "c1 connected to replica-a", |c| {
        c["connected"] == true && c["replica"] == "replica-a"
    });
    wait_for_c1(&admin_b, "replica-b shows c1 held by replica-a", |c| {
        c["connected"] == true && c["replica"] == "replica-a" && c["agent_version"].is_string()
    });
    // `meshctl cluster list` reads the same endpoint: through replica-b it lists c1 connected.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_meshctl"))
        .args([
            "cluster",
            "list",
            "--mgmt-admin-address",
            &admin_b,
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let c1 = &listing["clusters"][0];
    assert_eq!(c1["name"], "c1", "{listing}");
    assert_eq!(c1["connected"], true, "{listing}");
    assert_eq!(c1["replica"], "replica-a", "{listing}");

    agent.stop();
    wait_for_c1(&admin_a, "replica-a sees c1 gone", |c| {
        c["connected"] == false
    });
    wait_for_c1(&admin_b, "replica-b sees c1 gone", |c| {
        c["connected"] == false && c["replica"].is_null()
    });
}
