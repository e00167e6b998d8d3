//! Stable resource hashing: sha256 of the canonical JSON of a resource body
//! (object keys sorted, no insignificant whitespace), and the aggregate hash of a set.

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Writes `value` as canonical JSON: object keys sorted bytewise, no whitespace.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(key) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Lowercase hex sha256 of the canonical JSON of `value`.
pub fn hash_value(value: &Value) -> String {
    hex::encode(Sha256::digest(canonical_json(value).as_bytes()))
}

/// Hash of a JSON body given as bytes; `None` when the bytes are not JSON.
pub fn hash_json_bytes(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .map(|v| hash_value(&v))
}

/// Aggregate hash of a set of (key, hash) pairs, independent of insertion order.
/// The empty set hashes to the empty string so that "nothing held" is obvious.
pub fn aggregate_hash<'a, I>(entries: I) -> String
where
    I: IntoIterator<Item = (&'a String, &'a String)>,
{
    let sorted: BTreeMap<&String, &String> = entries.into_iter().collect();
    if sorted.is_empty() {
        return String::new();
    }
    let mut hasher = Sha256::new();
    for (key, hash) in sorted {
        hasher.update(key.as_bytes());
        hasher.update(b"\n");
        hasher.update(hash.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_recursively() {
        let v = json!({"b": 1, "a": {"d": [1, {"z": true, "y": null}], "c": "x"}});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":{"c":"x","d":[1,{"y":null,"z":true}]},"b":1}"#
        );
    }

    #[test]
    fn hash_ignores_key_order_and_whitespace() {
        let a = hash_json_bytes(br#"{"a": 1, "b": "two"}"#).unwrap();
        let b = hash_json_bytes(br#"{"b":"two","a":1}"#).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
        let c = hash_json_bytes(br#"{"b":"two","a":2}"#).unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn hash_rejects_non_json() {
        assert!(hash_json_bytes(b"{not json").is_none());
    }

    #[test]
    fn escaped_keys_are_quoted() {
        let v = json!({"we\"ird": 1});
        assert_eq!(canonical_json(&v), r#"{"we\"ird":1}"#);
    }

    #[test]
    fn aggregate_is_order_independent() {
        let (k1, h1, k2, h2) = (
            "a".to_string(),
            "1".to_string(),
            "b".to_string(),
            "2".to_string(),
        );
        let x = aggregate_hash([(&k1, &h1), (&k2, &h2)]);
        let y = aggregate_hash([(&k2, &h2), (&k1, &h1)]);
        assert_eq!(x, y);
        assert_ne!(x, aggregate_hash([(&k1, &h1)]));
        assert_eq!(aggregate_hash(std::iter::empty()), "");
    }
}
