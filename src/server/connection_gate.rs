//! Admission of relay connections before and after TLS: how many may be waiting for or running
//! their handshake (in all, and per source address), and how many may be established. Pending
//! and established connections have separate budgets, so connections that never finish a
//! handshake cannot take the places of agents that did (issue 17: pre-TLS slowloris).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Connections accepted but not yet established (waiting for a ClientHello or in the
/// handshake), in all.
pub const MAX_PENDING_CONNECTIONS: usize = 1024;

/// Why a connection was closed before it was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// [`MAX_PENDING_CONNECTIONS`] are pending.
    PendingCap,
    /// Its source address has the most pending connections it may have.
    SourceCap,
    /// `max_connections` are established.
    ConnectionCap,
}

impl Refusal {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::PendingCap => "pending_cap",
            Refusal::SourceCap => "source_cap",
            Refusal::ConnectionCap => "connection_cap",
        }
    }
}

/// The budgets. Cheap to clone; shared by the accept loop and the handshake tasks.
#[derive(Debug, Clone)]
pub struct ConnectionGate {
    pending: Arc<Semaphore>,
    established: Arc<Semaphore>,
    per_source: Arc<SourceCounts>,
}

#[derive(Debug)]
struct SourceCounts {
    /// 0: no per-source limit.
    max: usize,
    counts: Mutex<HashMap<IpAddr, usize>>,
}

/// A pending connection's places; released when dropped.
#[derive(Debug)]
pub struct PendingPlace {
    _pending: OwnedSemaphorePermit,
    _source: SourcePlace,
}

#[derive(Debug)]
struct SourcePlace {
    counts: Arc<SourceCounts>,
    ip: IpAddr,
}

impl Drop for SourcePlace {
    fn drop(&mut self) {
        let mut counts = self
            .counts
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = counts.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

impl ConnectionGate {
    /// `max_established`: established connections at once; `max_pending_per_source`: pending
    /// connections from one address at once (0: no limit).
    pub fn new(max_established: usize, max_pending_per_source: usize) -> Self {
        Self {
            pending: Arc::new(Semaphore::new(MAX_PENDING_CONNECTIONS)),
            established: Arc::new(Semaphore::new(max_established.max(1))),
            per_source: Arc::new(SourceCounts {
                max: max_pending_per_source,
                counts: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// A place for a connection just accepted from `ip`, or why there is none.
    pub fn admit(&self, ip: IpAddr) -> Result<PendingPlace, Refusal> {
        let pending = self
            .pending
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refusal::PendingCap)?;
        {
            let mut counts = self
                .per_source
                .counts
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let n = counts.entry(ip).or_insert(0);
            if self.per_source.max > 0 && *n >= self.per_source.max {
                if *n == 0 {
                    counts.remove(&ip);
                }
                return Err(Refusal::SourceCap);
            }
            *n += 1;
        }
        Ok(PendingPlace {
            _pending: pending,
            _source: SourcePlace {
                counts: self.per_source.clone(),
                ip,
            },
        })
    }

    /// Turns a pending place into an established one once the handshake succeeded.
    pub fn establish(&self, place: PendingPlace) -> Result<OwnedSemaphorePermit, Refusal> {
        let slot = self
            .established
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refusal::ConnectionCap);
        drop(place);
        slot
    }

    /// Pending connections from `ip` now.
    pub fn pending_from(&self, ip: IpAddr) -> usize {
        self.per_source
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&ip)
            .copied()
            .unwrap_or(0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn one_source_cannot_take_every_pending_place() {
        let gate = ConnectionGate::new(10, 2);
        let a1 = gate.admit(A).unwrap();
        let _a2 = gate.admit(A).unwrap();
        assert_eq!(gate.admit(A).unwrap_err(), Refusal::SourceCap);
        // another source still gets in
        let _b = gate.admit(B).unwrap();
        // a place comes back when its connection goes
        drop(a1);
        assert_eq!(gate.pending_from(A), 1);
        let _a3 = gate.admit(A).unwrap();
        assert_eq!(gate.pending_from(A), 2);
    }

    #[test]
    fn no_per_source_limit_with_zero() {
        let gate = ConnectionGate::new(10, 0);
        let places: Vec<_> = (0..100).map(|_| gate.admit(A).unwrap()).collect();
        assert_eq!(gate.pending_from(A), 100);
        drop(places);
        assert_eq!(gate.pending_from(A), 0);
    }

    #[test]
    fn pending_places_are_bounded_in_all() {
        let gate = ConnectionGate::new(10, 0);
        let places: Vec<_> = (0..MAX_PENDING_CONNECTIONS)
            .map(|_| gate.admit(A).unwrap())
            .collect();
        assert_eq!(gate.admit(B).unwrap_err(), Refusal::PendingCap);
        drop(places);
        assert!(gate.admit(B).is_ok());
    }

    #[test]
    fn established_connections_have_their_own_budget() {
        let gate = ConnectionGate::new(1, 0);
        let first = gate.establish(gate.admit(A).unwrap()).unwrap();
        // the pending place was given back
        assert_eq!(gate.pending_from(A), 0);
        assert_eq!(
            gate.establish(gate.admit(B).unwrap()).unwrap_err(),
            Refusal::ConnectionCap
        );
        drop(first);
        assert!(gate.establish(gate.admit(B).unwrap()).is_ok());
    }
}
