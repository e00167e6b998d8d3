//! When to push: a pure debouncer. Changes are pushed once the input has been quiet for
//! [`MIN_QUIET`], but never later than [`MAX_DELAY`] after the first unpushed change. Time is passed
//! in; nothing here reads a clock.

use std::time::{Duration, Instant};

/// Quiet time after the last change before a push.
pub const MIN_QUIET: Duration = Duration::from_millis(100);
/// Longest time a change waits for a push, however busy the input.
pub const MAX_DELAY: Duration = Duration::from_secs(2);

/// Debouncer state: idle, or holding changes since `first` with the latest at `last`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Debouncer {
    quiet: Duration,
    max_delay: Duration,
    pending: Option<(Instant, Instant)>,
}

impl Default for Debouncer {
    fn default() -> Self {
        Self::new(MIN_QUIET, MAX_DELAY)
    }
}

impl Debouncer {
    /// A debouncer with custom timings.
    pub fn new(quiet: Duration, max_delay: Duration) -> Self {
        Self {
            quiet,
            max_delay,
            pending: None,
        }
    }

    /// Records a change at `now`.
    pub fn changed(&mut self, now: Instant) {
        self.pending = Some(match self.pending {
            None => (now, now),
            Some((first, last)) => (first, last.max(now)),
        });
    }

    /// Whether changes are waiting.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// When the pending changes are due (None when idle): the earlier of last change + quiet and
    /// first change + max delay. The caller sleeps until then and calls [`Self::poll`].
    pub fn deadline(&self) -> Option<Instant> {
        self.pending
            .map(|(first, last)| (last + self.quiet).min(first + self.max_delay))
    }

    /// True (and back to idle) when the pending changes are due at `now`.
    pub fn poll(&mut self, now: Instant) -> bool {
        match self.deadline() {
            Some(due) if now >= due => {
                self.pending = None;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn fires_after_the_quiet_period() {
        let t0 = Instant::now();
        let mut d = Debouncer::default();
        assert!(!d.poll(t0));
        assert_eq!(d.deadline(), None);
        d.changed(t0);
        assert!(!d.poll(t0 + ms(99)));
        assert!(d.poll(t0 + ms(100)));
        assert!(!d.is_pending());
        assert!(!d.poll(t0 + ms(500)), "fires once per burst");
    }

    #[test]
    fn each_change_extends_the_quiet_period() {
        let t0 = Instant::now();
        let mut d = Debouncer::default();
        d.changed(t0);
        d.changed(t0 + ms(80));
        assert!(!d.poll(t0 + ms(150)));
        assert_eq!(d.deadline(), Some(t0 + ms(180)));
        assert!(d.poll(t0 + ms(180)));
    }

    #[test]
    fn a_constant_stream_of_changes_is_pushed_after_the_maximum_delay() {
        let t0 = Instant::now();
        let mut d = Debouncer::default();
        let mut fired_at = None;
        for step in 0..100u64 {
            let now = t0 + ms(step * 50);
            if d.poll(now) {
                fired_at = Some(step * 50);
                break;
            }
            d.changed(now);
        }
        assert_eq!(fired_at, Some(2000));
    }

    #[test]
    fn out_of_order_times_do_not_move_the_deadline_back() {
        let t0 = Instant::now();
        let mut d = Debouncer::default();
        d.changed(t0 + ms(50));
        d.changed(t0);
        assert_eq!(d.deadline(), Some(t0 + ms(150)));
    }
}
