//! Jittered exponential backoff for reconnects; pure (the random factor is passed in).

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            attempt: 0,
        }
    }

    /// The delay before the next attempt: `min(max, initial * 2^attempt)` scaled by a
    /// jitter factor in [0.5, 1.0] derived from `unit` (a random number in [0, 1)).
    pub fn next_delay(&mut self, unit: f64) -> Duration {
        let exp = 2f64.powi(i32::try_from(self.attempt.min(30)).unwrap_or(30));
        let base = (self.initial.as_secs_f64() * exp).min(self.max.as_secs_f64());
        self.attempt = self.attempt.saturating_add(1);
        let factor = 0.5 + 0.5 * unit.clamp(0.0, 1.0);
        Duration::from_secs_f64(base * factor)
    }

    /// With a random jitter.
    pub fn next_jittered(&mut self) -> Duration {
        self.next_delay(rand::random::<f64>())
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_and_caps() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        let delays: Vec<_> = (0..10).map(|_| b.next_delay(1.0)).collect();
        assert_eq!(delays[0], Duration::from_millis(500));
        assert_eq!(delays[1], Duration::from_secs(1));
        assert_eq!(delays[2], Duration::from_secs(2));
        assert_eq!(delays[9], Duration::from_secs(30));
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(30)));
    }

    #[test]
    fn jitter_halves_at_most_and_reset_restarts() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        assert_eq!(b.next_delay(0.0), Duration::from_millis(500));
        b.next_delay(0.0);
        b.reset();
        assert_eq!(b.next_delay(1.0), Duration::from_secs(1));
    }
}
