//! Admission control for new relay streams: a token bucket for the rate of new
//! streams and a cap on concurrent streams.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A token bucket; pure, time is passed in.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// Allows `per_second` on average and bursts of `burst`.
    pub fn new(per_second: f64, burst: f64, now: Instant) -> Self {
        Self {
            capacity: burst.max(1.0),
            per_second: per_second.max(0.001),
            tokens: burst.max(1.0),
            last: now,
        }
    }

    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Why a stream was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("too many new streams per second; retry with backoff")]
    RateLimited,
    #[error("the server is at its maximum number of concurrent streams")]
    AtCapacity,
}

/// Rate and concurrency limits shared by all streams.
#[derive(Debug)]
pub struct StreamLimiter {
    bucket: Mutex<TokenBucket>,
    streams: Arc<Semaphore>,
    max_streams: usize,
}

impl StreamLimiter {
    pub fn new(max_streams: usize, new_per_second: f64) -> Self {
        Self {
            // a burst of one second's worth (at least one)
            bucket: Mutex::new(TokenBucket::new(
                new_per_second,
                new_per_second,
                Instant::now(),
            )),
            streams: Arc::new(Semaphore::new(max_streams)),
            max_streams,
        }
    }

    /// Takes a token from the rate bucket.
    pub fn admit_rate(&self) -> Result<(), Refusal> {
        let ok = match self.bucket.lock() {
            Ok(mut b) => b.try_take(Instant::now()),
            Err(_) => false,
        };
        if ok {
            Ok(())
        } else {
            Err(Refusal::RateLimited)
        }
    }

    /// A concurrency permit, held for the life of the stream.
    pub fn try_permit(&self) -> Result<OwnedSemaphorePermit, Refusal> {
        self.streams
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refusal::AtCapacity)
    }

    /// Waits up to `wait` for a permit (used when a stream replaces an older one of
    /// the same cluster, whose permit is being released).
    pub async fn permit_within(&self, wait: Duration) -> Result<OwnedSemaphorePermit, Refusal> {
        match tokio::time::timeout(wait, self.streams.clone().acquire_owned()).await {
            Ok(Ok(p)) => Ok(p),
            _ => Err(Refusal::AtCapacity),
        }
    }

    pub fn active_streams(&self) -> usize {
        self.max_streams - self.streams.available_permits()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_refills() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(2.0, 2.0, t0);
        assert!(b.try_take(t0));
        assert!(b.try_take(t0));
        assert!(!b.try_take(t0));
        assert!(!b.try_take(t0 + Duration::from_millis(100)));
        assert!(b.try_take(t0 + Duration::from_millis(600)));
        assert!(!b.try_take(t0 + Duration::from_millis(600)));
    }

    #[test]
    fn bucket_never_exceeds_capacity() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10.0, 3.0, t0);
        let later = t0 + Duration::from_secs(100);
        let taken = (0..10).filter(|_| b.try_take(later)).count();
        assert_eq!(taken, 3);
    }

    #[tokio::test]
    async fn permits_cap_concurrency() {
        let l = StreamLimiter::new(1, 100.0);
        let p = l.try_permit().unwrap();
        assert_eq!(l.try_permit().unwrap_err(), Refusal::AtCapacity);
        assert_eq!(l.active_streams(), 1);
        drop(p);
        assert!(l.try_permit().is_ok());
    }
}
