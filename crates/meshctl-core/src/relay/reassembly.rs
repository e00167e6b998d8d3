//! Reassembly of a chunked delta (a `SnapshotDelta` from an agent, a `ConfigDelta` from the
//! server): chunks of one version arrive in order, starting at 0, until the one marked `last`.
//! Only a whole version comes out; what is held meanwhile is bounded in chunks, resources and
//! bytes, and a version that does not finish is simply dropped with the reassembler (the stream
//! that carried it ended). One reassembler per stream and direction.

use crate::relay::limits::{MAX_DELTA_BYTES, MAX_DELTA_CHUNKS, MAX_DELTA_RESOURCES};
use crate::relay::proto::{Resource, ResourceKey};
use prost::Message;

/// How much one version may hold while it is reassembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub max_chunks: u32,
    pub max_resources: usize,
    /// Encoded bytes of the version's resources and keys.
    pub max_bytes: usize,
}

impl Default for Bounds {
    /// The protocol's bounds (`limits`).
    fn default() -> Self {
        Self {
            max_chunks: MAX_DELTA_CHUNKS,
            max_resources: MAX_DELTA_RESOURCES,
            max_bytes: MAX_DELTA_BYTES,
        }
    }
}

/// One chunk as it came off the wire.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chunk {
    pub version: u64,
    pub chunk: u32,
    pub last: bool,
    pub upserts: Vec<Resource>,
    pub deletes: Vec<ResourceKey>,
}

/// A version that arrived whole.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Whole {
    pub version: u64,
    pub upserts: Vec<Resource>,
    pub deletes: Vec<ResourceKey>,
    /// The chunks it came in.
    pub chunks: u32,
}

/// A chunk that breaks the protocol's rules. The stream that sent it is ended: nothing of the
/// version it belonged to is applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReassemblyError {
    #[error(
        "chunk {chunk} of version {version} arrived out of order (expected chunk 0 of a new version)"
    )]
    NotStarted { version: u64, chunk: u32 },
    #[error(
        "chunk {chunk} of version {version} arrived out of order (expected chunk {expected} of version {current})"
    )]
    OutOfOrder {
        version: u64,
        chunk: u32,
        current: u64,
        expected: u32,
    },
    #[error("version {version} has more than {max} chunks")]
    TooManyChunks { version: u64, max: u32 },
    #[error("version {version} carries more than {max} resources")]
    TooManyResources { version: u64, max: usize },
    #[error("version {version} carries more than {max} bytes")]
    TooLarge { version: u64, max: usize },
}

/// The version being received.
#[derive(Debug)]
struct Partial {
    version: u64,
    next_chunk: u32,
    bytes: usize,
    upserts: Vec<Resource>,
    deletes: Vec<ResourceKey>,
}

/// Puts chunks back together into whole versions. See the module's documentation.
#[derive(Debug, Default)]
pub struct Reassembler {
    bounds: Bounds,
    partial: Option<Partial>,
}

impl Reassembler {
    pub fn new(bounds: Bounds) -> Self {
        Self {
            bounds,
            partial: None,
        }
    }

    /// Takes the next chunk: `Ok(Some(_))` when it completed its version, `Ok(None)` while the
    /// version is unfinished. After an error the reassembler holds nothing; the caller ends the
    /// stream.
    pub fn accept(&mut self, c: Chunk) -> Result<Option<Whole>, ReassemblyError> {
        let result = self.try_accept(c);
        if result.is_err() {
            self.partial = None;
        }
        result
    }

    fn try_accept(&mut self, c: Chunk) -> Result<Option<Whole>, ReassemblyError> {
        let bytes = encoded_size(&c.upserts, &c.deletes);
        let partial = match self.partial.as_mut() {
            None if c.chunk == 0 => self.partial.insert(Partial {
                version: c.version,
                next_chunk: 0,
                bytes: 0,
                upserts: Vec::new(),
                deletes: Vec::new(),
            }),
            None => {
                return Err(ReassemblyError::NotStarted {
                    version: c.version,
                    chunk: c.chunk,
                });
            }
            Some(p) if p.version == c.version && p.next_chunk == c.chunk => p,
            Some(p) => {
                return Err(ReassemblyError::OutOfOrder {
                    version: c.version,
                    chunk: c.chunk,
                    current: p.version,
                    expected: p.next_chunk,
                });
            }
        };
        if c.chunk >= self.bounds.max_chunks {
            return Err(ReassemblyError::TooManyChunks {
                version: c.version,
                max: self.bounds.max_chunks,
            });
        }
        let resources =
            partial.upserts.len() + partial.deletes.len() + c.upserts.len() + c.deletes.len();
        if resources > self.bounds.max_resources {
            return Err(ReassemblyError::TooManyResources {
                version: c.version,
                max: self.bounds.max_resources,
            });
        }
        partial.bytes = partial.bytes.saturating_add(bytes);
        if partial.bytes > self.bounds.max_bytes {
            return Err(ReassemblyError::TooLarge {
                version: c.version,
                max: self.bounds.max_bytes,
            });
        }
        partial.upserts.extend(c.upserts);
        partial.deletes.extend(c.deletes);
        partial.next_chunk = c.chunk + 1;
        if !c.last {
            return Ok(None);
        }
        Ok(self.partial.take().map(|p| Whole {
            version: p.version,
            upserts: p.upserts,
            deletes: p.deletes,
            chunks: p.next_chunk,
        }))
    }

    /// The version being received and the chunks of it held so far, if one is unfinished.
    pub fn in_progress(&self) -> Option<(u64, u32)> {
        self.partial.as_ref().map(|p| (p.version, p.next_chunk))
    }

    /// Encoded bytes held for the unfinished version.
    pub fn held_bytes(&self) -> usize {
        self.partial.as_ref().map_or(0, |p| p.bytes)
    }
}

/// The bytes the chunker counts for these resources and keys (`delta::chunk`).
fn encoded_size(upserts: &[Resource], deletes: &[ResourceKey]) -> usize {
    upserts.iter().map(|r| r.encoded_len() + 6).sum::<usize>()
        + deletes.iter().map(|k| k.encoded_len() + 6).sum::<usize>()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::relay::delta::{Delta, chunk};
    use crate::relay::resource::{from_json, key_of, parse_key};
    use serde_json::json;

    fn res(name: &str, payload: usize) -> Resource {
        from_json(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "ns"}, "data": {"p": "x".repeat(payload)}}))
        .unwrap()
    }

    fn wire(version: u64, chunk: u32, last: bool, upserts: Vec<Resource>) -> Chunk {
        Chunk {
            version,
            chunk,
            last,
            upserts,
            deletes: Vec::new(),
        }
    }

    #[test]
    fn what_the_chunker_cuts_comes_back_whole() {
        let upserts: Vec<_> = (0..50).map(|i| res(&format!("r{i}"), 200)).collect();
        let deletes = vec!["v1/ConfigMap/ns/gone".to_string()];
        let chunks = chunk(
            Delta {
                upserts: upserts.clone(),
                deletes,
            },
            2_000,
            usize::MAX,
        )
        .unwrap();
        let n = chunks.len();
        assert!(n > 5, "{n} chunks");
        let mut r = Reassembler::default();
        let mut whole = None;
        for (i, c) in chunks.into_iter().enumerate() {
            let out = r
                .accept(Chunk {
                    version: 7,
                    chunk: u32::try_from(i).unwrap(),
                    last: i + 1 == n,
                    upserts: c.upserts,
                    deletes: c.deletes,
                })
                .unwrap();
            if i + 1 < n {
                assert!(out.is_none());
                assert_eq!(r.in_progress(), Some((7, u32::try_from(i).unwrap() + 1)));
            } else {
                whole = out;
            }
        }
        let whole = whole.unwrap();
        assert_eq!(whole.version, 7);
        assert_eq!(whole.chunks, u32::try_from(n).unwrap());
        assert_eq!(
            whole.upserts.iter().map(key_of).collect::<Vec<_>>(),
            upserts.iter().map(key_of).collect::<Vec<_>>()
        );
        assert_eq!(
            whole.deletes,
            vec![parse_key("v1/ConfigMap/ns/gone").unwrap()]
        );
        assert_eq!(r.in_progress(), None);
        assert_eq!(r.held_bytes(), 0);
    }

    #[test]
    fn a_single_last_chunk_is_a_whole_version() {
        let mut r = Reassembler::default();
        let whole = r.accept(wire(1, 0, true, vec![])).unwrap().unwrap();
        assert_eq!((whole.version, whole.chunks), (1, 1));
        // and the next version starts again at chunk 0
        assert!(r.accept(wire(2, 0, true, vec![])).unwrap().is_some());
    }

    #[test]
    fn chunks_out_of_order_are_refused_and_nothing_is_kept() {
        let mut r = Reassembler::default();
        assert_eq!(
            r.accept(wire(1, 1, true, vec![])),
            Err(ReassemblyError::NotStarted {
                version: 1,
                chunk: 1
            })
        );
        r.accept(wire(1, 0, false, vec![res("a", 1)])).unwrap();
        // a skipped chunk
        assert_eq!(
            r.accept(wire(1, 2, true, vec![])),
            Err(ReassemblyError::OutOfOrder {
                version: 1,
                chunk: 2,
                current: 1,
                expected: 1
            })
        );
        assert_eq!(r.in_progress(), None);
        // a new version while one is unfinished
        r.accept(wire(1, 0, false, vec![res("a", 1)])).unwrap();
        let err = r.accept(wire(2, 0, true, vec![])).unwrap_err();
        assert!(
            err.to_string().contains("expected chunk 1 of version 1"),
            "{err}"
        );
        // a repeated chunk
        r.accept(wire(3, 0, false, vec![])).unwrap();
        assert!(matches!(
            r.accept(wire(3, 0, false, vec![])),
            Err(ReassemblyError::OutOfOrder { .. })
        ));
    }

    #[test]
    fn an_endless_version_stops_at_the_chunk_bound() {
        let mut r = Reassembler::new(Bounds {
            max_chunks: 4,
            ..Bounds::default()
        });
        for i in 0..4 {
            assert_eq!(r.accept(wire(9, i, false, vec![])), Ok(None));
        }
        assert_eq!(
            r.accept(wire(9, 4, false, vec![])),
            Err(ReassemblyError::TooManyChunks { version: 9, max: 4 })
        );
        assert_eq!(r.in_progress(), None);
    }

    #[test]
    fn held_bytes_are_bounded_and_released_on_refusal() {
        let one = res("r0", 1_000);
        let size = one.encoded_len() + 6;
        let mut r = Reassembler::new(Bounds {
            max_bytes: size * 3,
            ..Bounds::default()
        });
        for i in 0..3 {
            let mut x = one.clone();
            x.name = format!("r{i}");
            r.accept(wire(1, i, false, vec![x])).unwrap();
        }
        assert_eq!(r.held_bytes(), size * 3);
        let err = r.accept(wire(1, 3, true, vec![one])).unwrap_err();
        assert_eq!(
            err,
            ReassemblyError::TooLarge {
                version: 1,
                max: size * 3
            }
        );
        assert_eq!(r.held_bytes(), 0);
    }

    #[test]
    fn resources_are_bounded_across_chunks() {
        let mut r = Reassembler::new(Bounds {
            max_resources: 3,
            ..Bounds::default()
        });
        r.accept(wire(1, 0, false, vec![res("a", 1), res("b", 1)]))
            .unwrap();
        assert_eq!(
            r.accept(wire(1, 1, true, vec![res("c", 1), res("d", 1)])),
            Err(ReassemblyError::TooManyResources { version: 1, max: 3 })
        );
    }
}
