//! Which clusters' client certificates the relay still accepts at the TLS handshake. A client
//! certificate stays valid until it expires, so a deregistered cluster's agent could keep
//! handshaking for up to its lifetime; the server remembers what the token store last said
//! about each cluster that presented a certificate and refuses, at the handshake, the ones that
//! are no longer registered. The answers come from `Connect`/`Renew` (which ask the token store
//! anyway), from `Bootstrap`, and from a periodic re-check of every cluster remembered, which
//! also ends the stream of a cluster that was deregistered while connected.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

/// What is remembered at most; a certificate is needed to be remembered at all, so this is
/// about how many clusters the CA issued certificates to.
const MAX_REMEMBERED: usize = 100_000;

/// The clusters seen and whether the token store last called them registered.
#[derive(Debug, Default)]
pub struct ClusterAdmission {
    registered: RwLock<HashMap<String, bool>>,
}

impl ClusterAdmission {
    /// Whether a handshake presenting `cluster`'s certificate is refused: only when the token
    /// store said it is not registered (unknown clusters are let through to `Connect`, which
    /// asks the token store).
    pub fn refuses(&self, cluster: &str) -> bool {
        self.registered
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(cluster)
            .is_some_and(|registered| !registered)
    }

    /// Records what the token store said about `cluster`; returns whether it was registered
    /// before and is no longer.
    pub fn record(&self, cluster: &str, registered: bool) -> bool {
        let mut map = self
            .registered
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if !map.contains_key(cluster) && map.len() >= MAX_REMEMBERED {
            // Forget the refused ones first: they are re-learnt at their next Connect.
            map.retain(|_, r| *r);
            if map.len() >= MAX_REMEMBERED {
                return false;
            }
        }
        let before = map.insert(cluster.to_string(), registered);
        before == Some(true) && !registered
    }

    /// Every cluster remembered, to re-check.
    pub fn clusters(&self) -> Vec<String> {
        self.registered
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_clusters_known_to_be_deregistered_are_refused() {
        let a = ClusterAdmission::default();
        assert!(!a.refuses("c1"), "unknown clusters go on to Connect");
        assert!(!a.record("c1", true));
        assert!(!a.refuses("c1"));
        assert!(a.record("c1", false), "registered before, not now");
        assert!(a.refuses("c1"));
        assert!(!a.record("c1", false));
        // registered again (a new token and bootstrap)
        a.record("c1", true);
        assert!(!a.refuses("c1"));
        assert_eq!(a.clusters(), vec!["c1".to_string()]);
    }
}
