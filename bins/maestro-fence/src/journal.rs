//! The fence journal in the state catalog: a monotonic epoch (the fencing
//! token) for every `fence` and `unfence` run, each level tried, what it
//! ran, what it saw and the result. And the lock that serializes runs.

use maestro_common::catalog::{Catalog, CatalogError, Migration};
use maestro_common::platform::{self, LockKind};
use rusqlite::OptionalExtension;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::path::Path;
use std::time::Duration;

pub const COMPONENT: &str = "fence";

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "fence journal: epochs and steps",
        sql: "CREATE TABLE fence_epochs (
              epoch           INTEGER PRIMARY KEY,
              command         TEXT NOT NULL CHECK (command IN ('fence','unfence')),
              primary_host    TEXT NOT NULL,
              failover_host   TEXT NOT NULL,
              started_at      TEXT NOT NULL,
              finished_at     TEXT,
              result          TEXT NOT NULL,
              confirmed_level TEXT,
              levels          TEXT NOT NULL DEFAULT '[]'
          );
          CREATE TABLE fence_steps (
              id          INTEGER PRIMARY KEY AUTOINCREMENT,
              epoch       INTEGER NOT NULL REFERENCES fence_epochs (epoch),
              level       TEXT NOT NULL,
              step        TEXT NOT NULL,
              target      TEXT NOT NULL,
              action      TEXT NOT NULL,
              outcome     TEXT NOT NULL,
              seen        TEXT NOT NULL,
              elapsed_ms  INTEGER NOT NULL
          );
          CREATE INDEX fence_steps_by_epoch ON fence_steps (epoch, id);",
    },
    Migration {
        version: 2,
        description: "fence journal: what a run changed",
        sql: "ALTER TABLE fence_epochs ADD COLUMN changes TEXT NOT NULL DEFAULT '[]';",
    },
];

/// Results a journal row can hold.
pub const RUNNING: &str = "running";
pub const FENCED: &str = "fenced";
pub const NOT_FENCED: &str = "not-fenced";
/// Not fenced, but changed things on the way: see the run's changes.
pub const PARTIAL: &str = "partial";
pub const UNFENCED: &str = "unfenced";
pub const UNFENCE_FAILED: &str = "unfence-failed";

/// One thing a level did or asked, as journaled and reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRecord {
    pub level: String,
    pub step: String,
    /// Where it ran: `user@host:port`, `local` or the agent.
    pub target: String,
    /// What ran (never a secret).
    pub action: String,
    /// `ran`, `failed`, `timeout`, `holds`, `does-not-hold`, `cannot-tell`, `error`, `planned`.
    pub outcome: String,
    /// What it saw, in brief.
    pub seen: String,
    pub elapsed_ms: u64,
}

/// One epoch of the journal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochRow {
    pub epoch: u64,
    pub command: String,
    pub primary_host: String,
    pub failover_host: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub result: String,
    pub confirmed_level: Option<String>,
    pub levels: serde_json::Value,
    /// What the run changed (see [`crate::level::Change`]).
    pub changes: serde_json::Value,
}

pub struct Journal {
    catalog: Catalog,
}

/// Something at the catalog's path that is not a regular file (a FIFO, a
/// device) is refused by name. Not opened to look: metadata never blocks,
/// where SQLite opening a FIFO fails with a message that does not say what
/// is there.
fn refuse_special_catalog(state_dir: &Path) -> Result<(), OpenError> {
    let path = state_dir.join(maestro_common::catalog::FILE_NAME);
    match std::fs::metadata(&path) {
        Ok(meta) if !meta.is_file() => Err(OpenError::NotRegular {
            path: path.display().to_string(),
            kind: maestro_common::fsio::kind_name(meta.file_type()),
        }),
        _ => Ok(()),
    }
}

/// Why the journal could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("the catalog {path} is {kind}, not a regular file; refusing")]
    NotRegular { path: String, kind: &'static str },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn row(r: &rusqlite::Row) -> rusqlite::Result<EpochRow> {
    let levels: String = r.get(8)?;
    Ok(EpochRow {
        epoch: r.get::<_, i64>(0)? as u64,
        command: r.get(1)?,
        primary_host: r.get(2)?,
        failover_host: r.get(3)?,
        started_at: r.get(4)?,
        finished_at: r.get(5)?,
        result: r.get(6)?,
        confirmed_level: r.get(7)?,
        levels: serde_json::from_str(&levels).unwrap_or(serde_json::Value::Null),
        changes: serde_json::from_str(&r.get::<_, String>(9)?).unwrap_or(serde_json::Value::Null),
    })
}

const COLUMNS: &str = "epoch, command, primary_host, failover_host, started_at, finished_at, result, confirmed_level, levels, changes";

impl Journal {
    pub fn open(state_dir: &Path) -> Result<Journal, OpenError> {
        refuse_special_catalog(state_dir)?;
        let mut catalog = Catalog::open(state_dir)?;
        catalog.ensure_schema(COMPONENT, MIGRATIONS)?;
        Ok(Journal { catalog })
    }

    /// [`Journal::open`] within a run's deadline: it waits at most `wait`
    /// for another process's write transaction on the catalog. Something
    /// at the catalog's path that is not a regular file (a FIFO, a device)
    /// is refused by name.
    pub fn open_within(state_dir: &Path, wait: Duration) -> Result<Journal, OpenError> {
        refuse_special_catalog(state_dir)?;
        let mut catalog = Catalog::open_within(state_dir, wait)?;
        catalog.ensure_schema(COMPONENT, MIGRATIONS)?;
        Ok(Journal { catalog })
    }

    /// How long the next writes may wait for another process's transaction.
    pub fn wait_at_most(&self, wait: Duration) -> Result<(), CatalogError> {
        self.catalog.set_busy_timeout(wait)
    }

    pub fn catalog_mut(&mut self) -> &mut Catalog {
        &mut self.catalog
    }

    /// Takes the next epoch and records the run as started, before anything
    /// changes, so a crash halfway still leaves its epoch in the journal.
    pub fn begin(
        &mut self,
        command: &str,
        primary: &str,
        failover: &str,
    ) -> Result<u64, CatalogError> {
        let started = now();
        self.catalog.write(|tx| {
            let next: i64 = tx.query_row("SELECT COALESCE(MAX(epoch), 0) + 1 FROM fence_epochs", [], |r| r.get(0))?;
            tx.execute(
                "INSERT INTO fence_epochs (epoch, command, primary_host, failover_host, started_at, result)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                rusqlite::params![next, command, primary, failover, started, RUNNING],
            )?;
            Ok(next as u64)
        })
    }

    pub fn add_steps(&mut self, epoch: u64, steps: &[StepRecord]) -> Result<(), CatalogError> {
        self.catalog.write(|tx| {
            for s in steps {
                tx.execute(
                    "INSERT INTO fence_steps (epoch, level, step, target, action, outcome, seen, elapsed_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    rusqlite::params![epoch as i64, s.level, s.step, s.target, s.action, s.outcome, s.seen, s.elapsed_ms as i64],
                )?;
            }
            Ok(())
        })
    }

    /// Records what the run has changed so far (or is about to change),
    /// before its end: a run killed half-way leaves this behind.
    pub fn save_changes(
        &mut self,
        epoch: u64,
        changes: &serde_json::Value,
    ) -> Result<(), CatalogError> {
        let changes = changes.to_string();
        self.catalog.write(|tx| {
            tx.execute(
                "UPDATE fence_epochs SET changes = ?2 WHERE epoch = ?1",
                rusqlite::params![epoch as i64, changes],
            )?;
            Ok(())
        })
    }

    pub fn finish(
        &mut self,
        epoch: u64,
        result: &str,
        confirmed_level: Option<&str>,
        levels: &serde_json::Value,
        changes: &serde_json::Value,
    ) -> Result<(), CatalogError> {
        let finished = now();
        let levels = levels.to_string();
        let changes = changes.to_string();
        self.catalog.write(|tx| {
            tx.execute(
                "UPDATE fence_epochs SET finished_at = ?2, result = ?3, confirmed_level = ?4, levels = ?5, changes = ?6 WHERE epoch = ?1",
                rusqlite::params![epoch as i64, finished, result, confirmed_level, levels, changes],
            )?;
            Ok(())
        })
    }

    /// The newest epoch of `primary`, whatever its command.
    pub fn latest_for(&self, primary: &str) -> Result<Option<EpochRow>, CatalogError> {
        self.catalog
            .conn()
            .query_row(
                &format!("SELECT {COLUMNS} FROM fence_epochs WHERE primary_host = ?1 ORDER BY epoch DESC LIMIT 1"),
                rusqlite::params![primary],
                row,
            )
            .optional()
            .map_err(|e| self.sql_err(e))
    }

    fn sql_err(&self, source: rusqlite::Error) -> CatalogError {
        CatalogError::Sql {
            path: self.catalog.path().to_path_buf(),
            source,
        }
    }

    /// The newest epoch, whatever its command.
    pub fn latest(&self) -> Result<Option<EpochRow>, CatalogError> {
        self.catalog
            .conn()
            .query_row(
                &format!("SELECT {COLUMNS} FROM fence_epochs ORDER BY epoch DESC LIMIT 1"),
                [],
                row,
            )
            .optional()
            .map_err(|e| self.sql_err(e))
    }

    /// The newest fence of `primary` that was confirmed.
    pub fn last_confirmed_fence(&self, primary: &str) -> Result<Option<EpochRow>, CatalogError> {
        self.catalog
            .conn()
            .query_row(
                &format!("SELECT {COLUMNS} FROM fence_epochs WHERE command = 'fence' AND result = ?1 AND primary_host = ?2 ORDER BY epoch DESC LIMIT 1"),
                rusqlite::params![FENCED, primary],
                row,
            )
            .optional()
            .map_err(|e| self.sql_err(e))
    }

    /// The newest unfence of `primary`, finished or not: even a failed one
    /// may have re-enabled services, so it voids every older fence.
    pub fn last_unfence(&self, primary: &str) -> Result<Option<EpochRow>, CatalogError> {
        self.catalog
            .conn()
            .query_row(
                &format!("SELECT {COLUMNS} FROM fence_epochs WHERE command = 'unfence' AND primary_host = ?1 ORDER BY epoch DESC LIMIT 1"),
                rusqlite::params![primary],
                row,
            )
            .optional()
            .map_err(|e| self.sql_err(e))
    }

    /// Every fence of `primary` since its last successful unfence (all of
    /// them when there was none), oldest first: what an unfence has to
    /// undo, and what `status` shows when a fence stopped half-way.
    pub fn fences_since_last_unfence(&self, primary: &str) -> Result<Vec<EpochRow>, CatalogError> {
        let mut stmt = self
            .catalog
            .conn()
            .prepare(&format!(
                "SELECT {COLUMNS} FROM fence_epochs WHERE command = 'fence' AND primary_host = ?1
                 AND epoch > COALESCE((SELECT MAX(epoch) FROM fence_epochs
                     WHERE command = 'unfence' AND result = ?2 AND primary_host = ?1), 0)
                 ORDER BY epoch"
            ))
            .map_err(|e| self.sql_err(e))?;
        let rows = stmt
            .query_map(rusqlite::params![primary, UNFENCED], row)
            .map_err(|e| self.sql_err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sql_err(e));
        rows
    }

    /// The newest epochs, newest first.
    pub fn history(&self, limit: usize) -> Result<Vec<EpochRow>, CatalogError> {
        let mut stmt = self
            .catalog
            .conn()
            .prepare(&format!(
                "SELECT {COLUMNS} FROM fence_epochs ORDER BY epoch DESC LIMIT ?1"
            ))
            .map_err(|e| self.sql_err(e))?;
        let rows = stmt
            .query_map([limit as i64], row)
            .map_err(|e| self.sql_err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sql_err(e));
        rows
    }

    pub fn steps(&self, epoch: u64) -> Result<Vec<StepRecord>, CatalogError> {
        let mut stmt = self
            .catalog
            .conn()
            .prepare("SELECT level, step, target, action, outcome, seen, elapsed_ms FROM fence_steps WHERE epoch = ?1 ORDER BY id")
            .map_err(|e| self.sql_err(e))?;
        let rows = stmt
            .query_map([epoch as i64], |r| {
                Ok(StepRecord {
                    level: r.get(0)?,
                    step: r.get(1)?,
                    target: r.get(2)?,
                    action: r.get(3)?,
                    outcome: r.get(4)?,
                    seen: r.get(5)?,
                    elapsed_ms: r.get::<_, i64>(6)? as u64,
                })
            })
            .map_err(|e| self.sql_err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sql_err(e));
        rows
    }
}

/// An exclusive lock on `fence.lock` in the state folder: `fence` and
/// `unfence` runs serialize on it. Released when dropped (or when the
/// process dies: it is an flock).
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot open the lock file {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("another maestro-fence run holds {path}; gave up waiting after {}ms", .waited.as_millis())]
    Busy { path: String, waited: Duration },
    #[error("the lock file {path} is {kind}, not a regular file; refusing (remove it: a run creates it again)")]
    NotRegular { path: String, kind: &'static str },
}

impl RunLock {
    /// Whether a fence or unfence holds the lock now (so a `running` row
    /// in the journal may be that run, not an interrupted one). Never
    /// creates the lock file; `None` when it cannot be told.
    pub fn held_now(state_dir: &Path) -> Option<bool> {
        let path = state_dir.join("fence.lock");
        let file = match platform::no_follow_no_block(OpenOptions::new().read(true)).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(false),
            Err(_) => return None,
        };
        if !file.metadata().ok()?.is_file() {
            return None;
        }
        match platform::try_lock(&file, LockKind::Shared) {
            Ok(true) => {
                let _ = platform::unlock(&file);
                Some(false)
            }
            Ok(false) | Err(_) => Some(true),
        }
    }

    pub fn acquire(state_dir: &Path, wait: Duration) -> Result<RunLock, LockError> {
        let path = state_dir.join("fence.lock");
        let shown = path.display().to_string();
        let _ = std::fs::create_dir_all(state_dir);
        // Without blocking and without following a link: a FIFO put in its
        // place would otherwise hold the open forever (no deadline bounds
        // an open), and the fence would never start nor end.
        let opened = platform::no_follow_no_block(
            OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true),
        )
        .open(&path);
        let not_regular = |meta: std::fs::Metadata| LockError::NotRegular {
            path: shown.clone(),
            kind: maestro_common::fsio::kind_name(meta.file_type()),
        };
        let file = match opened {
            Ok(f) => f,
            Err(source) => {
                return Err(match std::fs::symlink_metadata(&path) {
                    Ok(meta) if !meta.is_file() => not_regular(meta),
                    _ => LockError::Open {
                        path: shown.clone(),
                        source,
                    },
                })
            }
        };
        match file.metadata() {
            Ok(meta) if meta.is_file() => {}
            Ok(meta) => return Err(not_regular(meta)),
            Err(source) => {
                return Err(LockError::Open {
                    path: shown.clone(),
                    source,
                })
            }
        }
        let started = std::time::Instant::now();
        loop {
            // An error other than "held by another" is taken as held: the
            // wait is bounded, and a fence never runs unlocked.
            if let Ok(true) = platform::try_lock(&file, LockKind::Exclusive) {
                return Ok(RunLock { _file: file });
            }
            if started.elapsed() >= wait {
                return Err(LockError::Busy {
                    path: shown,
                    waited: started.elapsed(),
                });
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_are_monotonic_and_unfence_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        let e1 = j.begin("fence", "p", "f").unwrap();
        let e2 = j.begin("fence", "p", "f").unwrap();
        assert_eq!((e1, e2), (1, 2));
        j.add_steps(
            e2,
            &[StepRecord {
                level: "ssh".into(),
                step: "stop".into(),
                target: "t".into(),
                action: "a".into(),
                outcome: "ran".into(),
                seen: "s".into(),
                elapsed_ms: 3,
            }],
        )
        .unwrap();
        j.finish(
            e2,
            FENCED,
            Some("ssh"),
            &serde_json::json!(["ssh"]),
            &serde_json::json!([]),
        )
        .unwrap();
        assert_eq!(j.last_confirmed_fence("p").unwrap().unwrap().epoch, 2);
        assert!(j.last_confirmed_fence("other").unwrap().is_none());
        let e3 = j.begin("unfence", "p", "f").unwrap();
        assert_eq!(j.last_unfence("p").unwrap().unwrap().epoch, e3);
        assert_eq!(j.latest().unwrap().unwrap().epoch, 3);
        assert_eq!(j.steps(2).unwrap().len(), 1);
        assert_eq!(j.history(10).unwrap().len(), 3);
        // Reopening keeps counting.
        drop(j);
        let mut j = Journal::open(dir.path()).unwrap();
        assert_eq!(j.begin("fence", "p", "f").unwrap(), 4);
    }

    #[cfg(unix)]
    #[test]
    fn a_lock_file_that_is_not_a_regular_file_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("fence.lock");
        let c = std::ffi::CString::new(lock.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let started = std::time::Instant::now();
        let e = RunLock::acquire(dir.path(), Duration::from_secs(5)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(matches!(e, LockError::NotRegular { .. }), "{e}");
        assert!(e.to_string().contains("fence.lock is a FIFO"), "{e}");
        std::fs::remove_file(&lock).unwrap();
        std::os::unix::fs::symlink("/dev/null", &lock).unwrap();
        let e = RunLock::acquire(dir.path(), Duration::from_secs(5)).unwrap_err();
        assert!(e.to_string().contains("a symbolic link"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_at_the_catalog_is_refused_at_once_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = dir.path().join(maestro_common::catalog::FILE_NAME);
        let c = std::ffi::CString::new(catalog.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid C string.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let started = std::time::Instant::now();
        let e = Journal::open_within(dir.path(), Duration::from_secs(5))
            .err()
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(e.to_string().contains("catalog.sqlite is a FIFO"), "{e}");
    }

    #[test]
    fn fences_since_the_last_successful_unfence() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        let none = serde_json::json!([]);
        let e1 = j.begin("fence", "p", "f").unwrap();
        j.finish(e1, FENCED, Some("ssh"), &none, &none).unwrap();
        let u = j.begin("unfence", "p", "f").unwrap();
        j.finish(u, UNFENCED, None, &none, &none).unwrap();
        let e3 = j.begin("fence", "p", "f").unwrap();
        j.save_changes(e3, &serde_json::json!([{"step": "s"}]))
            .unwrap();
        let failed = j.begin("unfence", "p", "f").unwrap();
        j.finish(failed, UNFENCE_FAILED, None, &none, &none)
            .unwrap();
        let e5 = j.begin("fence", "p", "f").unwrap();
        j.begin("fence", "other", "f").unwrap();
        let rows = j.fences_since_last_unfence("p").unwrap();
        let epochs: Vec<u64> = rows.iter().map(|r| r.epoch).collect();
        // A failed unfence does not end the list; another primary's fences
        // are not in it.
        assert_eq!(epochs, vec![e3, e5]);
        assert_eq!(rows[0].changes, serde_json::json!([{"step": "s"}]));
        assert_eq!(rows[1].result, RUNNING);
    }

    #[test]
    fn the_lock_serializes() {
        let dir = tempfile::tempdir().unwrap();
        let held = RunLock::acquire(dir.path(), Duration::ZERO).unwrap();
        let e = RunLock::acquire(dir.path(), Duration::from_millis(100)).unwrap_err();
        assert!(matches!(e, LockError::Busy { .. }), "{e}");
        drop(held);
        // Not ZERO: another test of this process may be forking right now,
        // and its child holds a copy of the lock's descriptor until it execs
        // (close-on-exec); the lock must come free, not at this very instant.
        RunLock::acquire(dir.path(), Duration::from_secs(2)).unwrap();
    }
}
