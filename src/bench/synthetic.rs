//! Synthetic resources: what a simulated agent reports and what the server pushes.
//! Deterministic (seeded), with bodies of pseudo-random text so that compression
//! does not make them free.

use crate::relay::proto;
use crate::relay::resource::{ResourceError, from_json, key_of};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::BTreeMap;

/// Name of the `index`-th simulated cluster.
pub fn cluster_name(index: usize) -> String {
    format!("bench-{index:05}")
}

fn payload(rng: &mut StdRng, bytes: usize) -> String {
    (0..bytes)
        .map(|_| char::from(rng.sample(rand::distr::Alphanumeric)))
        .collect()
}

/// The snapshot of simulated cluster `agent`: `count` Services with bodies of about
/// `bytes` bytes.
pub fn snapshot(
    agent: usize,
    count: usize,
    bytes: usize,
) -> Result<BTreeMap<String, proto::Resource>, ResourceError> {
    let mut rng = StdRng::seed_from_u64(agent as u64);
    let mut out = BTreeMap::new();
    for i in 0..count {
        let r = from_json(&json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": format!("svc-{i:06}"), "namespace": format!("ns-{}", i % 20)},
            "spec": {"ports": [{"port": 8080, "name": "http"}], "payload": payload(&mut rng, bytes)},
        }))?;
        out.insert(key_of(&r), r);
    }
    Ok(out)
}

/// The configuration pushed to every cluster in round `round`: `count` ConfigMaps of
/// which only the first depends on the round, so one change is a one-resource delta.
pub fn config(
    round: u64,
    count: usize,
) -> Result<BTreeMap<String, proto::Resource>, ResourceError> {
    let mut rng = StdRng::seed_from_u64(u64::MAX - 1);
    let mut out = BTreeMap::new();
    for i in 0..count {
        let data = if i == 0 {
            json!({"round": round.to_string()})
        } else {
            json!({"payload": payload(&mut rng, 256)})
        };
        let r = from_json(&json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": format!("mesh-config-{i:04}"), "namespace": "mesh-system"},
            "data": data,
        }))?;
        out.insert(key_of(&r), r);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::relay::delta::diff;
    use std::collections::HashMap;

    #[test]
    fn snapshots_are_deterministic_sized_and_distinct() {
        let a = snapshot(1, 10, 100).unwrap();
        assert_eq!(a.len(), 10);
        assert_eq!(a, snapshot(1, 10, 100).unwrap());
        assert_ne!(a, snapshot(2, 10, 100).unwrap());
        assert!(a.values().all(|r| r.body.len() > 100 && r.body.len() < 300));
        assert!(snapshot(1, 0, 100).unwrap().is_empty());
    }

    #[test]
    fn a_config_round_changes_exactly_one_resource() {
        let r1 = config(1, 10).unwrap();
        let r2 = config(2, 10).unwrap();
        let held: HashMap<String, String> = r1
            .iter()
            .map(|(k, r)| (k.clone(), r.hash.clone()))
            .collect();
        let d = diff(&held, &r2);
        assert_eq!(d.upserts.len(), 1);
        assert!(d.deletes.is_empty());
        assert_eq!(cluster_name(7), "bench-00007");
    }
}
