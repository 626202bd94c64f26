//! The whole run's deadline: every step gets the smaller of its own timeout
//! and what is left, so no run outlives its deadline by more than one
//! step's teardown.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    end: Instant,
    total: Duration,
}

impl Deadline {
    pub fn after(total: Duration) -> Deadline {
        Deadline {
            end: Instant::now() + total,
            total,
        }
    }

    pub fn total(&self) -> Duration {
        self.total
    }

    pub fn remaining(&self) -> Duration {
        self.end.saturating_duration_since(Instant::now())
    }

    /// A deadline `reserve` earlier, for the steps before one that needs
    /// that much of the run to itself.
    pub fn ending_before(&self, reserve: Duration) -> Deadline {
        Deadline {
            end: self.end.checked_sub(reserve).unwrap_or_else(Instant::now),
            total: self.total.saturating_sub(reserve),
        }
    }

    /// `step` capped by what is left; `None` once the deadline has passed.
    pub fn cap(&self, step: Duration) -> Option<Duration> {
        let left = self.remaining();
        if left.is_zero() {
            None
        } else {
            Some(step.min(left))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_steps_and_ends() {
        let d = Deadline::after(Duration::from_secs(5));
        assert!(d.cap(Duration::from_secs(60)).unwrap() <= Duration::from_secs(5));
        assert_eq!(
            d.cap(Duration::from_millis(10)),
            Some(Duration::from_millis(10))
        );
        let gone = Deadline::after(Duration::ZERO);
        assert_eq!(gone.cap(Duration::from_secs(1)), None);
        let early = d.ending_before(Duration::from_secs(4));
        assert!(early.remaining() <= Duration::from_secs(1));
        assert!(d.remaining() > Duration::from_secs(4));
        assert!(d
            .ending_before(Duration::from_secs(60))
            .remaining()
            .is_zero());
    }
}
