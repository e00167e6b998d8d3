//! Pure delta computation between what a peer holds (key -> hash) and the desired set,
//! and chunking of a delta so that no message exceeds the size limit and no version exceeds what a
//! receiver reassembles (`reassembly`).

use crate::relay::limits::{CHUNK_BUDGET_BYTES, MAX_DELTA_BYTES, MAX_DELTA_RESOURCES};
use crate::relay::proto;
use crate::relay::resource::parse_key;
use prost::Message;
use std::collections::{BTreeMap, HashMap};

/// The difference that turns a held set into the desired set.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Delta {
    pub upserts: Vec<proto::Resource>,
    /// Key strings of resources to remove.
    pub deletes: Vec<String>,
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.upserts.is_empty() && self.deletes.is_empty()
    }
}

/// Computes the upserts (absent or different hash) and deletes (held but not desired).
pub fn diff(held: &HashMap<String, String>, desired: &BTreeMap<String, proto::Resource>) -> Delta {
    let upserts = desired
        .iter()
        .filter(|(key, r)| held.get(*key) != Some(&r.hash))
        .map(|(_, r)| r.clone())
        .collect();
    let mut deletes: Vec<String> = held
        .keys()
        .filter(|key| !desired.contains_key(*key))
        .cloned()
        .collect();
    deletes.sort();
    Delta { upserts, deletes }
}

/// One chunk of a delta.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Chunk {
    pub upserts: Vec<proto::Resource>,
    pub deletes: Vec<proto::ResourceKey>,
}

/// Why a delta cannot be sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChunkError {
    /// One resource alone exceeds the chunk budget.
    #[error("resource {key} encodes to {size} bytes, over the per-message budget of {budget}")]
    Oversized {
        key: String,
        size: usize,
        budget: usize,
    },
    /// The whole delta exceeds what a receiver reassembles.
    #[error(
        "the delta carries {resources} resources in {bytes} bytes, over the protocol's bound of \
         {max_resources} resources and {max_bytes} bytes per version"
    )]
    TooLarge {
        resources: usize,
        bytes: usize,
        max_resources: usize,
        max_bytes: usize,
    },
}

/// Splits a delta into chunks whose encoded resources stay within `budget` bytes and whose sum
/// stays within `max_bytes`. Always returns at least one (possibly empty) chunk. Deletes whose key
/// cannot be parsed are dropped (they cannot have been produced by a valid peer).
pub fn chunk(delta: Delta, budget: usize, max_bytes: usize) -> Result<Vec<Chunk>, ChunkError> {
    let resources = delta.upserts.len() + delta.deletes.len();
    let mut chunks = Vec::new();
    let mut current = Chunk::default();
    let mut used = 0usize;
    let mut total = 0usize;
    for r in delta.upserts {
        // field tag + length prefix overhead
        let size = r.encoded_len() + 6;
        if size > budget {
            return Err(ChunkError::Oversized {
                key: crate::relay::resource::key_of(&r),
                size,
                budget,
            });
        }
        total += size;
        if used + size > budget {
            chunks.push(std::mem::take(&mut current));
            used = 0;
        }
        used += size;
        current.upserts.push(r);
    }
    for key in delta.deletes {
        let Ok(k) = parse_key(&key) else { continue };
        let size = k.encoded_len() + 6;
        total += size;
        if used + size > budget {
            chunks.push(std::mem::take(&mut current));
            used = 0;
        }
        used += size;
        current.deletes.push(k);
    }
    chunks.push(current);
    if total > max_bytes || resources > MAX_DELTA_RESOURCES {
        return Err(ChunkError::TooLarge {
            resources,
            bytes: total,
            max_resources: MAX_DELTA_RESOURCES,
            max_bytes,
        });
    }
    Ok(chunks)
}

/// [`chunk`] with the protocol's budgets.
pub fn chunk_for_wire(delta: Delta) -> Result<Vec<Chunk>, ChunkError> {
    chunk(delta, CHUNK_BUDGET_BYTES, MAX_DELTA_BYTES)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::relay::resource::{from_json, key_of};
    use serde_json::json;

    fn res(name: &str, v: u32) -> proto::Resource {
        from_json(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "ns"}, "data": {"v": v.to_string()}}))
        .unwrap()
    }

    fn set(items: &[proto::Resource]) -> BTreeMap<String, proto::Resource> {
        items.iter().map(|r| (key_of(r), r.clone())).collect()
    }

    #[test]
    fn diff_finds_new_changed_and_removed() {
        let held: HashMap<String, String> = [res("a", 1), res("b", 1), res("c", 1)]
            .iter()
            .map(|r| (key_of(r), r.hash.clone()))
            .collect();
        let desired = set(&[res("a", 1), res("b", 2), res("d", 1)]);
        let d = diff(&held, &desired);
        let names: Vec<_> = d.upserts.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["b", "d"]);
        assert_eq!(d.deletes, ["v1/ConfigMap/ns/c"]);
    }

    #[test]
    fn diff_of_equal_sets_is_empty() {
        let desired = set(&[res("a", 1)]);
        let held = desired
            .iter()
            .map(|(k, r)| (k.clone(), r.hash.clone()))
            .collect();
        assert!(diff(&held, &desired).is_empty());
    }

    #[test]
    fn chunks_respect_the_budget_and_keep_everything() {
        let upserts: Vec<_> = (0..100).map(|i| res(&format!("r{i}"), i)).collect();
        let one = upserts[0].encoded_len() + 6;
        let delta = Delta {
            upserts: upserts.clone(),
            deletes: vec!["v1/ConfigMap/ns/gone".into()],
        };
        let chunks = chunk(delta, one * 10, usize::MAX).unwrap();
        assert!(chunks.len() >= 10);
        for c in &chunks {
            let size: usize = c.upserts.iter().map(|r| r.encoded_len() + 6).sum::<usize>()
                + c.deletes.iter().map(|k| k.encoded_len() + 6).sum::<usize>();
            assert!(size <= one * 10 + 6, "chunk of {size} bytes");
        }
        let total: usize = chunks.iter().map(|c| c.upserts.len()).sum();
        assert_eq!(total, 100);
        assert_eq!(chunks.last().unwrap().deletes.len(), 1);
    }

    #[test]
    fn empty_delta_gives_one_empty_chunk() {
        let chunks = chunk(Delta::default(), 1000, 1000).unwrap();
        assert_eq!(chunks, vec![Chunk::default()]);
    }

    #[test]
    fn oversized_resource_is_an_error() {
        let r = res("big", 1);
        let err = chunk(
            Delta {
                upserts: vec![r],
                deletes: vec![],
            },
            10,
            usize::MAX,
        )
        .unwrap_err();
        assert!(
            matches!(&err, ChunkError::Oversized { key, .. } if key == "v1/ConfigMap/ns/big"),
            "{err:?}"
        );
    }

    #[test]
    fn a_delta_over_the_version_bound_is_refused_whole() {
        let upserts: Vec<_> = (0..10).map(|i| res(&format!("r{i}"), i)).collect();
        let size: usize = upserts.iter().map(|r| r.encoded_len() + 6).sum();
        let delta = Delta {
            upserts,
            deletes: vec![],
        };
        assert!(chunk(delta.clone(), 1000, size).is_ok());
        let err = chunk(delta, 1000, size - 1).unwrap_err();
        assert_eq!(
            err,
            ChunkError::TooLarge {
                resources: 10,
                bytes: size,
                max_resources: MAX_DELTA_RESOURCES,
                max_bytes: size - 1
            }
        );
    }

    #[test]
    fn ten_thousand_resources_chunk_under_four_mebibytes() {
        let upserts: Vec<_> = (0..10_000)
            .map(|i| {
                from_json(&json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": format!("cm-{i}"), "namespace": "ns"},
                    "data": {"payload": "x".repeat(800)}}))
                .unwrap()
            })
            .collect();
        let chunks = chunk_for_wire(Delta {
            upserts,
            deletes: vec![],
        })
        .unwrap();
        assert!(chunks.len() > 1);
        for c in chunks {
            let msg = proto::SnapshotDelta {
                version: 1,
                upserts: c.upserts,
                deletes: c.deletes,
                last: true,
                snapshot_hash: "0".repeat(64),
                chunk: 1,
            };
            assert!(msg.encoded_len() <= crate::relay::limits::MAX_MESSAGE_BYTES);
        }
    }
}
