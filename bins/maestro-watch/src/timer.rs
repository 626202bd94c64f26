//! The threshold timer: how long every probe has failed, kept in the catalog
//! so that it survives a restart of the watcher, and so that `once` run
//! from cron accumulates time like `run` does.
//!
//! The timer only counts time it has watched: a gap between two
//! evaluations of more than three intervals (the watcher was stopped, cron
//! skipped runs, the clock jumped back, the host rebooted) restarts it,
//! because nobody saw whether the primary came back in between.
//!
//! The outage time is added up from the boot clock (CLOCK_BOOTTIME:
//! monotonic, counts suspend, survives a restart of the watcher but not of
//! the host), never from the wall clock: a forward step of the wall clock
//! (NTP, a person) would otherwise count as outage time and confirm DOWN
//! early. The wall clock only says when the outage began and, with the boot
//! clock, whether two evaluations were continuous.

use maestro_common::catalog::{Catalog, CatalogError, Migration};
use rusqlite::OptionalExtension;

pub const COMPONENT: &str = "maestro-watch";

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "threshold timer per target",
        sql: "CREATE TABLE watch_timer (
              target       TEXT PRIMARY KEY,
              down_since   INTEGER,
              last_eval    INTEGER NOT NULL,
              last_state   TEXT NOT NULL,
              fired_for    INTEGER
          );",
    },
    Migration {
        version: 2,
        description: "outage time added up on the boot clock",
        sql: "ALTER TABLE watch_timer ADD COLUMN last_boot INTEGER;
              ALTER TABLE watch_timer ADD COLUMN down_ms INTEGER;",
    },
];

/// The boot clock in milliseconds (CLOCK_BOOTTIME; GetTickCount64 on
/// Windows): monotonic, counting suspend, from the host's boot.
pub fn boot_ms() -> i64 {
    // No boot time (cannot happen on Linux) makes every gap discontinuous.
    maestro_common::platform::boot_clock_ms().unwrap_or(i64::MIN)
}

/// Now, on both clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Wall clock, milliseconds since the Unix epoch.
    pub wall: i64,
    /// Boot clock, milliseconds since boot ([`boot_ms`]).
    pub boot: i64,
}

impl Now {
    pub fn read() -> Now {
        Now {
            wall: chrono::Utc::now().timestamp_millis(),
            boot: boot_ms(),
        }
    }
}

/// Wall times are milliseconds since the Unix epoch, boot times
/// milliseconds of the boot clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimerState {
    /// When the outage began (wall clock), for messages and as the key of
    /// `--exec`'s firing.
    pub down_since: Option<i64>,
    pub last_eval: Option<i64>,
    /// The boot clock at the last evaluation.
    pub last_boot: Option<i64>,
    /// The outage time watched so far, on the boot clock.
    pub down_ms: Option<i64>,
    /// The `down_since` of the outage for which `--exec` has fired.
    pub fired_for: Option<i64>,
}

impl TimerState {
    /// The state after one more evaluation at `now`.
    pub fn advance(self, down_now: bool, now: Now, max_gap_ms: i64) -> TimerState {
        if !down_now {
            return TimerState {
                down_since: None,
                last_eval: Some(now.wall),
                last_boot: Some(now.boot),
                down_ms: None,
                fired_for: None,
            };
        }
        let within = |last: Option<i64>, at: i64| {
            last.and_then(|l| at.checked_sub(l))
                .filter(|d| (0..=max_gap_ms).contains(d))
        };
        // Continuous on both clocks: a reboot sets the boot clock back, a
        // step of the wall clock beyond the gap is a gap too.
        let watched = within(self.last_eval, now.wall).and(within(self.last_boot, now.boot));
        match (self.down_since, watched) {
            (Some(since), Some(elapsed)) => TimerState {
                down_since: Some(since),
                last_eval: Some(now.wall),
                last_boot: Some(now.boot),
                down_ms: Some(self.down_ms.unwrap_or(0) + elapsed),
                fired_for: self.fired_for,
            },
            _ => TimerState {
                down_since: Some(now.wall),
                last_eval: Some(now.wall),
                last_boot: Some(now.boot),
                down_ms: Some(0),
                fired_for: None,
            },
        }
    }

    /// How long every probe has failed, as watched on the boot clock.
    pub fn down_for_ms(&self) -> Option<i64> {
        self.down_since.map(|_| self.down_ms.unwrap_or(0).max(0))
    }
}

/// Load, advance and store the timer of `target` in one write transaction,
/// so two watchers sharing a catalog never interleave their updates.
pub fn record(
    catalog: &mut Catalog,
    target: &str,
    down_now: bool,
    state_name: &str,
    now: Now,
    max_gap_ms: i64,
) -> Result<TimerState, CatalogError> {
    catalog.write(|tx| {
        let prev = load_tx(tx, target)?.unwrap_or_default();
        let next = prev.advance(down_now, now, max_gap_ms);
        tx.execute(
            "INSERT INTO watch_timer (target, down_since, last_eval, last_state, fired_for,
                                      last_boot, down_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (target) DO UPDATE SET down_since = excluded.down_since,
                 last_eval = excluded.last_eval, last_state = excluded.last_state,
                 fired_for = excluded.fired_for, last_boot = excluded.last_boot,
                 down_ms = excluded.down_ms",
            rusqlite::params![
                target,
                next.down_since,
                now.wall,
                state_name,
                next.fired_for,
                next.last_boot,
                next.down_ms
            ],
        )?;
        Ok(next)
    })
}

fn load_tx(tx: &rusqlite::Transaction, target: &str) -> rusqlite::Result<Option<TimerState>> {
    tx.query_row(
        "SELECT down_since, last_eval, fired_for, last_boot, down_ms
         FROM watch_timer WHERE target = ?1",
        [target],
        |r| {
            Ok(TimerState {
                down_since: r.get(0)?,
                last_eval: r.get(1)?,
                fired_for: r.get(2)?,
                last_boot: r.get(3)?,
                down_ms: r.get(4)?,
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

    /// The boot clock 5 s ahead of the wall clock's offset: the two are
    /// unrelated numbers.
    fn at(wall: i64) -> Now {
        Now {
            wall,
            boot: wall + 5_000,
        }
    }

    #[test]
    fn continuous_failure_accumulates_and_any_recovery_resets() {
        let s = TimerState::default().advance(true, at(1_000), GAP);
        assert_eq!(s.down_since, Some(1_000));
        let s = s
            .advance(true, at(11_000), GAP)
            .advance(true, at(21_000), GAP);
        assert_eq!(s.down_for_ms(), Some(20_000));
        let s = s.advance(false, at(31_000), GAP);
        assert_eq!(s.down_since, None);
        let s = s.advance(true, at(41_000), GAP);
        assert_eq!(s.down_since, Some(41_000), "flapping restarts the timer");
    }

    #[test]
    fn a_gap_or_a_clock_jump_back_restarts_the_timer() {
        let s = TimerState::default()
            .advance(true, at(0), GAP)
            .advance(true, at(10_000), GAP);
        let after_gap = s.advance(true, at(100_000), GAP);
        assert_eq!(after_gap.down_since, Some(100_000));
        let back = s.advance(true, at(5_000), GAP);
        assert_eq!(back.down_since, Some(5_000));
        // A reboot: the boot clock starts again near zero.
        let rebooted = s.advance(
            true,
            Now {
                wall: 20_000,
                boot: 1_000,
            },
            GAP,
        );
        assert_eq!(rebooted.down_for_ms(), Some(0));
    }

    #[test]
    fn a_forward_step_of_the_wall_clock_is_not_outage_time() {
        let s = TimerState::default().advance(true, at(0), GAP);
        // 10 s pass; the wall clock is stepped 15 s forward meanwhile
        // (within the gap, so still continuous).
        let s = s.advance(
            true,
            Now {
                wall: 25_000,
                boot: 15_000,
            },
            GAP,
        );
        assert_eq!(s.down_since, Some(0));
        assert_eq!(s.down_for_ms(), Some(10_000));
    }

    #[test]
    fn the_timer_survives_reopening_and_firing_is_claimed_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Catalog::open(dir.path()).unwrap();
        c.ensure_schema(COMPONENT, MIGRATIONS).unwrap();
        record(&mut c, "p", true, "SUSPECT", at(1_000), GAP).unwrap();
        drop(c);
        let mut c = Catalog::open(dir.path()).unwrap();
        c.ensure_schema(COMPONENT, MIGRATIONS).unwrap();
        let s = record(&mut c, "p", true, "DOWN", at(20_000), GAP).unwrap();
        assert_eq!(s.down_since, Some(1_000));
        assert!(claim_firing(&mut c, "p", 1_000).unwrap());
        assert!(
            !claim_firing(&mut c, "p", 1_000).unwrap(),
            "fires once per outage"
        );
        let s = record(&mut c, "p", true, "DOWN", at(30_000), GAP).unwrap();
        assert_eq!(s.fired_for, Some(1_000), "still the same outage");
        let s = record(&mut c, "p", false, "UP", at(40_000), GAP).unwrap();
        assert_eq!((s.down_since, s.fired_for), (None, None));
    }
}
