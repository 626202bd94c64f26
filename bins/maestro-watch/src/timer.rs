//! The threshold timer: how long every probe has failed, kept in the catalog
//! so that it survives a restart of the watcher, and so that `once` run
//! from cron accumulates time like `run` does.
//!
//! The timer only counts time it has watched: a gap between two
//! evaluations of more than three intervals (the watcher was stopped, cron
//! skipped runs, the clock jumped back) restarts it, because nobody saw
//! whether the primary came back in between.

use maestro_common::catalog::{Catalog, CatalogError, Migration};
use rusqlite::OptionalExtension;

pub const COMPONENT: &str = "maestro-watch";

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "threshold timer per target",
    sql: "CREATE TABLE watch_timer (
              target       TEXT PRIMARY KEY,
              down_since   INTEGER,
              last_eval    INTEGER NOT NULL,
              last_state   TEXT NOT NULL,
              fired_for    INTEGER
          );",
}];

/// Times are milliseconds since the Unix epoch (wall clock: the timer must
/// survive a restart, which a monotonic clock does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimerState {
    pub down_since: Option<i64>,
    pub last_eval: Option<i64>,
    /// The `down_since` of the outage for which `--exec` has fired.
    pub fired_for: Option<i64>,
}

impl TimerState {
    /// The state after one more evaluation at `now`.
    pub fn advance(self, down_now: bool, now: i64, max_gap_ms: i64) -> TimerState {
        if !down_now {
            return TimerState {
                down_since: None,
                last_eval: Some(now),
                fired_for: None,
            };
        }
        let continuous =
            matches!(self.last_eval, Some(last) if now >= last && now - last <= max_gap_ms);
        match self.down_since {
            Some(since) if continuous => TimerState {
                down_since: Some(since),
                last_eval: Some(now),
                ..self
            },
            _ => TimerState {
                down_since: Some(now),
                last_eval: Some(now),
                fired_for: None,
            },
        }
    }

    /// How long every probe has failed, as of `now`.
    pub fn down_for_ms(&self, now: i64) -> Option<i64> {
        self.down_since.map(|s| (now - s).max(0))
    }
}

/// Load, advance and store the timer of `target` in one write transaction,
/// so two watchers sharing a catalog never interleave their updates.
pub fn record(
    catalog: &mut Catalog,
    target: &str,
    down_now: bool,
    state_name: &str,
    now: i64,
    max_gap_ms: i64,
) -> Result<TimerState, CatalogError> {
    catalog.write(|tx| {
        let prev = load_tx(tx, target)?.unwrap_or_default();
        let next = prev.advance(down_now, now, max_gap_ms);
        tx.execute(
            "INSERT INTO watch_timer (target, down_since, last_eval, last_state, fired_for)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (target) DO UPDATE SET down_since = excluded.down_since,
                 last_eval = excluded.last_eval, last_state = excluded.last_state,
                 fired_for = excluded.fired_for",
            rusqlite::params![target, next.down_since, now, state_name, next.fired_for],
        )?;
        Ok(next)
    })
}

fn load_tx(tx: &rusqlite::Transaction, target: &str) -> rusqlite::Result<Option<TimerState>> {
    tx.query_row(
        "SELECT down_since, last_eval, fired_for FROM watch_timer WHERE target = ?1",
        [target],
        |r| {
            Ok(TimerState {
                down_since: r.get(0)?,
                last_eval: r.get(1)?,
                fired_for: r.get(2)?,
            })
        },
    )
    .optional()
}

/// Claim the right to fire `--exec` for the outage that began at
/// `down_since`. True for exactly one caller per outage, whichever watcher
/// (or process) asks first.
pub fn claim_firing(
    catalog: &mut Catalog,
    target: &str,
    down_since: i64,
) -> Result<bool, CatalogError> {
    catalog.write(|tx| {
        let changed = tx.execute(
            "UPDATE watch_timer SET fired_for = ?2
             WHERE target = ?1 AND down_since = ?2 AND fired_for IS NOT ?2",
            rusqlite::params![target, down_since],
        )?;
        Ok(changed == 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GAP: i64 = 30_000;

    #[test]
    fn continuous_failure_accumulates_and_any_recovery_resets() {
        let s = TimerState::default().advance(true, 1_000, GAP);
        assert_eq!(s.down_since, Some(1_000));
        let s = s.advance(true, 11_000, GAP).advance(true, 21_000, GAP);
        assert_eq!(s.down_for_ms(21_000), Some(20_000));
        let s = s.advance(false, 31_000, GAP);
        assert_eq!(s.down_since, None);
        let s = s.advance(true, 41_000, GAP);
        assert_eq!(s.down_since, Some(41_000), "flapping restarts the timer");
    }

    #[test]
    fn a_gap_or_a_clock_jump_back_restarts_the_timer() {
        let s = TimerState::default()
            .advance(true, 0, GAP)
            .advance(true, 10_000, GAP);
        let after_gap = s.advance(true, 100_000, GAP);
        assert_eq!(after_gap.down_since, Some(100_000));
        let back = s.advance(true, 5_000, GAP);
        assert_eq!(back.down_since, Some(5_000));
    }

    #[test]
    fn the_timer_survives_reopening_and_firing_is_claimed_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Catalog::open(dir.path()).unwrap();
        c.ensure_schema(COMPONENT, MIGRATIONS).unwrap();
        record(&mut c, "p", true, "SUSPECT", 1_000, GAP).unwrap();
        drop(c);
        let mut c = Catalog::open(dir.path()).unwrap();
        c.ensure_schema(COMPONENT, MIGRATIONS).unwrap();
        let s = record(&mut c, "p", true, "DOWN", 20_000, GAP).unwrap();
        assert_eq!(s.down_since, Some(1_000));
        assert!(claim_firing(&mut c, "p", 1_000).unwrap());
        assert!(
            !claim_firing(&mut c, "p", 1_000).unwrap(),
            "fires once per outage"
        );
        let s = record(&mut c, "p", true, "DOWN", 30_000, GAP).unwrap();
        assert_eq!(s.fired_for, Some(1_000), "still the same outage");
        let s = record(&mut c, "p", false, "UP", 40_000, GAP).unwrap();
        assert_eq!((s.down_since, s.fired_for), (None, None));
    }
}
