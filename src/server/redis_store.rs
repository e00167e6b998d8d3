//! [`RedisStateStore`]: the [`StateStore`] shared by several management server replicas.
//!
//! Key layout (`P` is the prefix, `meshctl:<namespace>:` by default; see docs/state-store.md):
//!
//! | key | type | content |
//! |---|---|---|
//! | `P clusters` | set | names of the clusters with a stored snapshot |
//! | `P cluster:<name>:resources` | hash | resource key → the resource (protobuf `meshctl.relay.v1.Resource`) |
//! | `P cluster:<name>:hashes` | hash | resource key → resource hash |
//! | `P cluster:<name>:sizes` | hash | resource key → body length in bytes |
//! | `P cluster:<name>:meta` | hash | `version`, `bytes`, `gen` (bumped by every change), `hash` (cached aggregate hash) |
//! | `P changes` | pub/sub channel | `<origin>\n<cluster>` after every applied delta |
//! | `P relay:<name>` | string, expiring | JSON `{origin, replica, status}`: the replica holding the cluster's agent stream (`server::relay_view`) |
//!
//! A delta is applied by one Lua script: Redis runs it to the end with no other command in
//! between, so a reader (or a crash of the server process) never sees half a delta. The script
//! checks the key types before it writes anything, so it does not fail half-way on foreign data.
//! The aggregate hash is computed here (the same [`aggregate_hash`] as the memory store) and cached
//! in `meta` only if `gen` did not move meanwhile.

use crate::relay::hash::aggregate_hash;
use crate::relay::proto;
use crate::relay::resource::key_of;
use crate::server::registry::ClusterStatus;
use crate::server::relay_view::{ENTRY_TTL, PeerClusterStatus};
use crate::server::store::{SnapshotSummary, StateStore, StoreChange, StoreError};
use async_trait::async_trait;
use futures::StreamExt as _;
use prost::Message as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Time allowed for one store operation (one round trip, or two when the hash is recomputed).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Capacity of the change notification channel.
pub const CHANGES_BUFFER: usize = 256;
/// How often the subscription connection is pinged to notice a silent disconnection.
const SUBSCRIBER_PING: Duration = Duration::from_secs(15);
const SUBSCRIBER_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// The default key prefix for a server in `namespace`.
pub fn default_prefix(namespace: &str) -> String {
    format!("meshctl:{namespace}:")
}

/// `url` with the password (if any) replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        // Not a URL we understand: show nothing that could be a secret.
        return "<unparsable URL>".to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &authority[..at];
    let redacted = match userinfo.split_once(':') {
        Some((user, _password)) => format!("{user}:***"),
        None => userinfo.to_owned(),
    };
    format!("{}{}@{}", &url[..scheme_end + 3], redacted, &rest[at + 1..])
}

/// The keys of one cluster's snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterKeys {
    pub clusters: String,
    pub resources: String,
    pub hashes: String,
    pub sizes: String,
    pub meta: String,
}

impl ClusterKeys {
    pub fn new(prefix: &str, cluster: &str) -> Self {
        Self {
            clusters: format!("{prefix}clusters"),
            resources: format!("{prefix}cluster:{cluster}:resources"),
            hashes: format!("{prefix}cluster:{cluster}:hashes"),
            sizes: format!("{prefix}cluster:{cluster}:sizes"),
            meta: format!("{prefix}cluster:{cluster}:meta"),
        }
    }

    fn all(&self) -> [&str; 5] {
        [
            &self.clusters,
            &self.resources,
            &self.hashes,
            &self.sizes,
            &self.meta,
        ]
    }
}

/// The key of one cluster's relay view entry.
pub fn relay_view_key(prefix: &str, cluster: &str) -> String {
    format!("{prefix}relay:{cluster}")
}

/// Commands per pipeline or MGET when publishing or reading the relay view.
const RELAY_VIEW_BATCH: usize = 500;

/// Deletes the given relay view entries that are still this replica's. ARGV[1]: its origin.
const RELEASE_LUA: &str = r"
local n = 0
for _, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if v then
    local ok, e = pcall(cjson.decode, v)
    if ok and type(e) == 'table' and e.origin == ARGV[1] then
      redis.call('DEL', k)
      n = n + 1
    end
  end
end
return n
";

/// One relay view entry as stored.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct RelayViewEntry {
    origin: String,
    replica: String,
    status: ClusterStatus,
}

/// The pub/sub channel of snapshot changes.
pub fn changes_channel(prefix: &str) -> String {
    format!("{prefix}changes")
}

/// The payload published after a delta.
pub fn change_message(origin: &str, cluster: &str) -> String {
    format!("{origin}\n{cluster}")
}

/// The cluster named by a change message, unless it came from `own_origin` or is malformed.
pub fn parse_change_message<'a>(payload: &'a str, own_origin: &str) -> Option<&'a str> {
    let (origin, cluster) = payload.split_once('\n')?;
    (origin != own_origin && !cluster.is_empty()).then_some(cluster)
}

/// Shared by the scripts: the summary reply, with the per-resource hashes only when no
/// aggregate hash is cached. KEYS as in [`ClusterKeys::all`].
const SUMMARY_LUA: &str = r"
local function summary()
  local m = redis.call('HMGET', KEYS[5], 'version', 'bytes', 'gen', 'hash')
  local count = redis.call('HLEN', KEYS[3])
  if m[4] then
    return {m[1] or '0', m[2] or '0', m[3] or '0', count, 1, m[4], {}}
  end
  return {m[1] or '0', m[2] or '0', m[3] or '0', count, 0, '', redis.call('HGETALL', KEYS[3])}
end
";

/// ARGV: cluster, version, number of upserts, channel, message, then per upsert (key, encoded
/// resource, hash, body length), then the deleted keys.
const APPLY_LUA: &str = r"
local t = redis.call('TYPE', KEYS[1])['ok']
if t ~= 'set' and t ~= 'none' then
  return redis.error_reply('WRONGTYPE ' .. KEYS[1] .. ' is a ' .. t)
end
for k = 2, 5 do
  t = redis.call('TYPE', KEYS[k])['ok']
  if t ~= 'hash' and t ~= 'none' then
    return redis.error_reply('WRONGTYPE ' .. KEYS[k] .. ' is a ' .. t)
  end
end
local n = tonumber(ARGV[3])
local i = 6
local changed = false
for _ = 1, n do
  local k = ARGV[i]
  local old = redis.call('HGET', KEYS[4], k)
  if old then redis.call('HINCRBY', KEYS[5], 'bytes', '-' .. old) end
  redis.call('HSET', KEYS[2], k, ARGV[i + 1])
  redis.call('HSET', KEYS[3], k, ARGV[i + 2])
  redis.call('HSET', KEYS[4], k, ARGV[i + 3])
  redis.call('HINCRBY', KEYS[5], 'bytes', ARGV[i + 3])
  changed = true
  i = i + 4
end
for j = i, #ARGV do
  local k = ARGV[j]
  local old = redis.call('HGET', KEYS[4], k)
  if old then
    redis.call('HINCRBY', KEYS[5], 'bytes', '-' .. old)
    redis.call('HDEL', KEYS[2], k)
    redis.call('HDEL', KEYS[3], k)
    redis.call('HDEL', KEYS[4], k)
  end
  changed = true
end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[5], 'version', ARGV[2])
if changed then
  redis.call('HINCRBY', KEYS[5], 'gen', 1)
  redis.call('HDEL', KEYS[5], 'hash')
end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return summary()
";

const READ_LUA: &str = "return summary()";

/// KEYS: meta. ARGV: gen the hash was computed at, hash.
const CACHE_LUA: &str = r"
if redis.call('HGET', KEYS[1], 'gen') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'hash', ARGV[2])
  return 1
end
return 0
";

/// The reply of the summary scripts: version, bytes, gen, resources, cached?, hash, flat
/// (key, hash) list when not cached.
type RawSummary = (String, String, String, u64, u8, String, Vec<String>);

/// What a summary reply says; `hashes` is set when the aggregate hash must be computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedSummary {
    pub summary: SnapshotSummary,
    /// `gen` of the snapshot the summary describes (a hash is cached only for it).
    pub generation: String,
    pub hashes: Option<BTreeMap<String, String>>,
}

/// Interprets a summary reply (pure); computes the aggregate hash when none was cached.
pub fn parse_summary(meta_key: &str, raw: RawSummary) -> Result<ParsedSummary, StoreError> {
    let (version, bytes, generation, resources, cached, hash, flat) = raw;
    let number = |field: &str, v: &str| {
        v.parse::<u64>().map_err(|_| StoreError::Corrupt {
            key: meta_key.to_owned(),
            message: format!("field {field} is not a number: {v:?}"),
        })
    };
    let version = number("version", &version)?;
    let bytes = number("bytes", &bytes)?;
    let (hash, hashes) = if cached == 1 {
        (hash, None)
    } else {
        if flat.len() % 2 != 0 {
            return Err(StoreError::Corrupt {
                key: meta_key.to_owned(),
                message: "odd hash listing".into(),
            });
        }
        let map: BTreeMap<String, String> = flat
            .chunks_exact(2)
            .map(|kv| (kv[0].clone(), kv[1].clone()))
            .collect();
        (aggregate_hash(map.iter()), Some(map))
    };
    Ok(ParsedSummary {
        summary: SnapshotSummary {
            version,
            resources,
            bytes,
            hash,
        },
        generation,
        hashes,
    })
}

/// Settings of [`RedisStateStore`].
#[derive(Debug, Clone)]
pub struct RedisStoreSettings {
    /// `redis://[user:password@]host:port[/db]`.
    pub url: String,
    /// Prefix of every key (see the module docs).
    pub prefix: String,
    /// Time allowed for each operation.
    pub timeout: Duration,
    /// This replica's name in the shared relay view (its pod name in Kubernetes).
    pub replica: String,
}

/// The Redis-backed [`StateStore`]. Cheap to clone.
#[derive(Clone)]
pub struct RedisStateStore {
    client: redis::Client,
    conn: ConnectionManager,
    url: String,
    prefix: String,
    origin: String,
    replica: String,
    timeout: Duration,
    apply: redis::Script,
    release: redis::Script,
    read: redis::Script,
    cache: redis::Script,
}

impl std::fmt::Debug for RedisStateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStateStore")
            .field("url", &self.url)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStateStore {
    /// A store for `settings`; connects lazily (and reconnects) on use, so this only fails on
    /// an invalid URL. Must be called within a Tokio runtime.
    pub fn new(settings: RedisStoreSettings) -> Result<Self, StoreError> {
        let url = redact_url(&settings.url);
        let client =
            redis::Client::open(settings.url.as_str()).map_err(|e| StoreError::InvalidUrl {
                url: url.clone(),
                message: e.to_string(),
            })?;
        let timeout = settings.timeout.max(Duration::from_millis(100));
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout.min(Duration::from_secs(5))))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(1));
        let conn =
            ConnectionManager::new_lazy_with_config(client.clone(), config).map_err(|e| {
                StoreError::InvalidUrl {
                    url: url.clone(),
                    message: e.to_string(),
                }
            })?;
        Ok(Self {
            client,
            conn,
            url,
            prefix: settings.prefix,
            origin: format!("{:016x}", rand::random::<u64>()),
            replica: settings.replica,
            timeout,
            release: redis::Script::new(RELEASE_LUA),
            apply: redis::Script::new(&format!("{SUMMARY_LUA}{APPLY_LUA}")),
            read: redis::Script::new(&format!("{SUMMARY_LUA}{READ_LUA}")),
            cache: redis::Script::new(CACHE_LUA),
        })
    }

    /// The URL with its password redacted.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Checks that Redis answers (PING).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        self.call("PING", async move {
            redis::cmd("PING").query_async::<String>(&mut conn).await
        })
        .await
        .map(|_| ())
    }

    async fn call<T>(
        &self,
        op: &'static str,
        fut: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(StoreError::Redis {
                url: self.url.clone(),
                op,
                message: e.to_string(),
            }),
            Err(_) => Err(StoreError::Timeout {
                url: self.url.clone(),
                op,
                after: self.timeout,
            }),
        }
    }

    /// Turns a summary reply into the summary, caching a freshly computed aggregate hash.
    async fn finish_summary(
        &self,
        keys: &ClusterKeys,
        raw: RawSummary,
    ) -> Result<SnapshotSummary, StoreError> {
        let parsed = parse_summary(&keys.meta, raw)?;
        if parsed.hashes.is_some() {
            let mut conn = self.conn.clone();
            let mut inv = self.cache.key(&keys.meta);
            inv.arg(&parsed.generation).arg(&parsed.summary.hash);
            // A failure here only costs a recomputation next time.
            if let Err(e) = self
                .call("caching the snapshot hash", async move {
                    inv.invoke_async::<i64>(&mut conn).await
                })
                .await
            {
                tracing::debug!(error = %e, "caching the snapshot hash failed");
            }
        }
        Ok(parsed.summary)
    }

    /// Follows the changes other replicas make (own changes are not reported). Runs until
    /// `cancel`; resubscribes after a lost connection with backoff, and sends
    /// [`StoreChange::All`] each time the subscription is (re)established, since notifications
    /// may have been missed. The channel is bounded: a slow reader slows the subscription (Redis
    /// drops a subscriber that falls too far behind, which ends in a resubscription and `All`).
    pub fn subscribe(&self, cancel: CancellationToken) -> mpsc::Receiver<StoreChange> {
        let (tx, rx) = mpsc::channel(CHANGES_BUFFER);
        tokio::spawn(follow_changes(
            self.client.clone(),
            self.url.clone(),
            changes_channel(&self.prefix),
            self.origin.clone(),
            self.timeout,
            tx,
            cancel,
        ));
        rx
    }
}

async fn follow_changes(
    client: redis::Client,
    url: String,
    channel: String,
    origin: String,
    timeout: Duration,
    tx: mpsc::Sender<StoreChange>,
    cancel: CancellationToken,
) {
    let mut backoff = Duration::from_millis(250);
    loop {
        let connected = tokio::select! {
            _ = cancel.cancelled() => return,
            c = tokio::time::timeout(timeout, async {
                let pubsub = client.get_async_pubsub().await?;
                let (mut sink, stream) = pubsub.split();
                sink.subscribe(&channel).await?;
                Ok::<_, redis::RedisError>((sink, stream))
            }) => c,
        };
        match connected {
            Ok(Ok((mut sink, mut stream))) => {
                tracing::info!(redis = %url, "subscribed to state store changes");
                backoff = Duration::from_millis(250);
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    sent = tx.send(StoreChange::All) => if sent.is_err() { return },
                }
                let mut ping = tokio::time::interval(SUBSCRIBER_PING);
                ping.tick().await;
                loop {
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = ping.tick() => {
                            match tokio::time::timeout(timeout, sink.ping::<redis::Value>()).await {
                                Ok(Ok(_)) => {}
                                Ok(Err(e)) => {
                                    tracing::warn!(redis = %url, error = %e, "state store subscription lost");
                                    break;
                                }
                                Err(_) => {
                                    tracing::warn!(redis = %url, "state store subscription ping timed out");
                                    break;
                                }
                            }
                        }
                        msg = stream.next() => {
                            let Some(msg) = msg else {
                                tracing::warn!(redis = %url, "state store subscription closed");
                                break;
                            };
                            let payload = String::from_utf8_lossy(msg.get_payload_bytes());
                            if let Some(cluster) = parse_change_message(&payload, &origin) {
                                tokio::select! {
                                    _ = cancel.cancelled() => return,
                                    sent = tx.send(StoreChange::Cluster(cluster.to_owned())) => if sent.is_err() { return },
                                }
                            }
                        }
                    }
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(redis = %url, error = %e, retry_in = ?backoff, "subscribing to state store changes failed");
            }
            Err(_) => {
                tracing::warn!(redis = %url, retry_in = ?backoff, "subscribing to state store changes timed out");
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(SUBSCRIBER_BACKOFF_MAX);
    }
}

#[async_trait]
impl StateStore for RedisStateStore {
    async fn snapshot_hashes(&self, cluster: &str) -> Result<HashMap<String, String>, StoreError> {
        let keys = ClusterKeys::new(&self.prefix, cluster);
        let mut conn = self.conn.clone();
        self.call("reading snapshot hashes", async move {
            redis::cmd("HGETALL")
                .arg(&keys.hashes)
                .query_async::<HashMap<String, String>>(&mut conn)
                .await
        })
        .await
    }

    async fn snapshot_summary(&self, cluster: &str) -> Result<SnapshotSummary, StoreError> {
        let keys = ClusterKeys::new(&self.prefix, cluster);
        let mut conn = self.conn.clone();
        let mut inv = self.read.prepare_invoke();
        for k in keys.all() {
            inv.key(k);
        }
        let raw = self
            .call("reading a snapshot summary", async move {
                inv.invoke_async::<RawSummary>(&mut conn).await
            })
            .await?;
        self.finish_summary(&keys, raw).await
    }

    async fn apply_snapshot_delta(
        &self,
        cluster: &str,
        version: u64,
        upserts: Vec<proto::Resource>,
        deletes: Vec<String>,
    ) -> Result<SnapshotSummary, StoreError> {
        let keys = ClusterKeys::new(&self.prefix, cluster);
        let mut inv = self.apply.prepare_invoke();
        for k in keys.all() {
            inv.key(k);
        }
        inv.arg(cluster)
            .arg(version)
            .arg(upserts.len())
            .arg(changes_channel(&self.prefix))
            .arg(change_message(&self.origin, cluster));
        for r in &upserts {
            inv.arg(key_of(r))
                .arg(r.encode_to_vec())
                .arg(&r.hash)
                .arg(r.body.len());
        }
        for d in &deletes {
            inv.arg(d);
        }
        let mut conn = self.conn.clone();
        let raw = self
            .call("applying a snapshot delta", async move {
                inv.invoke_async::<RawSummary>(&mut conn).await
            })
            .await?;
        self.finish_summary(&keys, raw).await
    }

    async fn snapshot(&self, cluster: &str) -> Result<Vec<proto::Resource>, StoreError> {
        let keys = ClusterKeys::new(&self.prefix, cluster);
        let mut conn = self.conn.clone();
        let key = keys.resources.clone();
        let raw = self
            .call("reading a snapshot", async move {
                redis::cmd("HGETALL")
                    .arg(&key)
                    .query_async::<BTreeMap<String, Vec<u8>>>(&mut conn)
                    .await
            })
            .await?;
        raw.into_iter()
            .map(|(k, bytes)| {
                proto::Resource::decode(bytes.as_slice()).map_err(|e| StoreError::Corrupt {
                    key: format!("{} field {k}", keys.resources),
                    message: e.to_string(),
                })
            })
            .collect()
    }

    fn relay_view_replica(&self) -> Option<&str> {
        Some(&self.replica)
    }

    async fn publish_relay_view(
        &self,
        held: &[ClusterStatus],
        released: &[String],
    ) -> Result<(), StoreError> {
        let ttl_ms = u64::try_from(ENTRY_TTL.as_millis()).unwrap_or(u64::MAX);
        for batch in held.chunks(RELAY_VIEW_BATCH) {
            let mut pipe = redis::pipe();
            for status in batch {
                let entry = RelayViewEntry {
                    origin: self.origin.clone(),
                    replica: self.replica.clone(),
                    status: status.clone(),
                };
                let value = serde_json::to_string(&entry).map_err(|e| StoreError::Corrupt {
                    key: relay_view_key(&self.prefix, &status.name),
                    message: e.to_string(),
                })?;
                pipe.cmd("SET")
                    .arg(relay_view_key(&self.prefix, &status.name))
                    .arg(value)
                    .arg("PX")
                    .arg(ttl_ms)
                    .ignore();
            }
            let mut conn = self.conn.clone();
            self.call("publishing the relay view", async move {
                pipe.query_async::<()>(&mut conn).await
            })
            .await?;
        }
        for batch in released.chunks(RELAY_VIEW_BATCH) {
            let mut inv = self.release.prepare_invoke();
            for cluster in batch {
                inv.key(relay_view_key(&self.prefix, cluster));
            }
            inv.arg(&self.origin);
            let mut conn = self.conn.clone();
            self.call("withdrawing from the relay view", async move {
                inv.invoke_async::<i64>(&mut conn).await
            })
            .await?;
        }
        Ok(())
    }

    async fn peer_relay_view(&self) -> Result<Vec<PeerClusterStatus>, StoreError> {
        let pattern = relay_view_key(&self.prefix, "*");
        let mut keys: Vec<String> = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let mut conn = self.conn.clone();
            let pattern = pattern.clone();
            let (next, found) = self
                .call("listing the relay view", async move {
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(1000)
                        .query_async::<(u64, Vec<String>)>(&mut conn)
                        .await
                })
                .await?;
            keys.extend(found);
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        keys.sort();
        keys.dedup();
        let mut peers = Vec::new();
        for batch in keys.chunks(RELAY_VIEW_BATCH) {
            let mut conn = self.conn.clone();
            let batch_keys = batch.to_vec();
            let values = self
                .call("reading the relay view", async move {
                    redis::cmd("MGET")
                        .arg(&batch_keys)
                        .query_async::<Vec<Option<String>>>(&mut conn)
                        .await
                })
                .await?;
            for (key, value) in batch.iter().zip(values) {
                // Expired between SCAN and MGET.
                let Some(value) = value else { continue };
                match serde_json::from_str::<RelayViewEntry>(&value) {
                    Ok(entry) if entry.origin != self.origin => peers.push(PeerClusterStatus {
                        replica: entry.replica,
                        status: entry.status,
                    }),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(%key, error = %e, "skipping an unreadable relay view entry");
                    }
                }
            }
        }
        Ok(peers)
    }

    async fn clusters(&self) -> Result<Vec<String>, StoreError> {
        let key = format!("{}clusters", self.prefix);
        let mut conn = self.conn.clone();
        let mut names = self
            .call("listing clusters", async move {
                redis::cmd("SMEMBERS")
                    .arg(&key)
                    .query_async::<Vec<String>>(&mut conn)
                    .await
            })
            .await?;
        names.sort();
        Ok(names)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("redis://user:s3cret@host:6379/0"),
            "redis://user:***@host:6379/0"
        );
        assert_eq!(redact_url("redis://:s3cret@host"), "redis://:***@host");
        assert_eq!(redact_url("rediss://h:1/2"), "rediss://h:1/2");
        assert_eq!(
            redact_url("redis://u:p@ss:w@rd@host:1"),
            "redis://u:***@host:1"
        );
        assert_eq!(redact_url("s3cret"), "<unparsable URL>");
        assert_eq!(redact_url("redis://user@host"), "redis://user@host");
    }

    #[test]
    fn invalid_urls_are_reported_redacted() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let err = rt
            .block_on(async {
                RedisStateStore::new(RedisStoreSettings {
                    url: "http://u:topsecret@host".into(),
                    prefix: default_prefix("ns"),
                    timeout: DEFAULT_TIMEOUT,
                    replica: "r".into(),
                })
            })
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid Redis URL"), "{err}");
        assert!(!err.contains("topsecret"), "{err}");
    }

    #[test]
    fn keys_are_namespaced() {
        let k = ClusterKeys::new(&default_prefix("mesh-system"), "c1");
        assert_eq!(k.clusters, "meshctl:mesh-system:clusters");
        assert_eq!(k.resources, "meshctl:mesh-system:cluster:c1:resources");
        assert_eq!(k.meta, "meshctl:mesh-system:cluster:c1:meta");
        assert_eq!(changes_channel(&default_prefix("x")), "meshctl:x:changes");
    }

    #[test]
    fn change_messages_skip_their_own_origin() {
        let m = change_message("aa", "c1");
        assert_eq!(parse_change_message(&m, "bb"), Some("c1"));
        assert_eq!(parse_change_message(&m, "aa"), None);
        assert_eq!(parse_change_message("garbage", "bb"), None);
    }

    #[test]
    fn summaries_use_the_shared_aggregate_hash() {
        let raw: RawSummary = (
            "7".into(),
            "30".into(),
            "2".into(),
            2,
            0,
            String::new(),
            vec!["k2".into(), "h2".into(), "k1".into(), "h1".into()],
        );
        let p = parse_summary("m", raw).unwrap();
        let expected: BTreeMap<String, String> = [("k1", "h1"), ("k2", "h2")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(p.summary.hash, aggregate_hash(expected.iter()));
        assert_eq!(p.summary.version, 7);
        assert_eq!(p.summary.bytes, 30);
        assert_eq!(p.generation, "2");
        let cached: RawSummary = (
            "1".into(),
            "0".into(),
            "0".into(),
            0,
            1,
            "abc".into(),
            vec![],
        );
        let p = parse_summary("m", cached).unwrap();
        assert_eq!(p.summary.hash, "abc");
        assert!(p.hashes.is_none());
        let bad: RawSummary = (
            "x".into(),
            "0".into(),
            "0".into(),
            0,
            1,
            String::new(),
            vec![],
        );
        assert!(matches!(
            parse_summary("m", bad),
            Err(StoreError::Corrupt { .. })
        ));
        let empty: RawSummary = (
            "0".into(),
            "0".into(),
            "0".into(),
            0,
            0,
            String::new(),
            vec![],
        );
        assert_eq!(
            parse_summary("m", empty).unwrap().summary,
            SnapshotSummary::default()
        );
    }
}
