//! The sync's runs in the state catalog: each run on each side, with the
//! generation it made, its point in time, what it moved, how long each
//! step took, the CPU time on both sides and the RPO after it.

use maestro_common::catalog::{Catalog, CatalogError, Migration};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

pub const COMPONENT: &str = "sync";

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "maestro-sync runs",
    sql: "CREATE TABLE sync_runs (
              id                INTEGER PRIMARY KEY AUTOINCREMENT,
              role              TEXT NOT NULL,
              direction         TEXT NOT NULL,
              peer              TEXT NOT NULL,
              generation        TEXT,
              point_in_time     TEXT,
              point_in_time_ns  INTEGER,
              consistent        INTEGER,
              started_at        TEXT NOT NULL,
              finished_at       TEXT NOT NULL,
              result            TEXT NOT NULL,
              message           TEXT NOT NULL,
              bytes_sent        INTEGER NOT NULL DEFAULT 0,
              bytes_received    INTEGER NOT NULL DEFAULT 0,
              files             INTEGER NOT NULL DEFAULT 0,
              files_transferred INTEGER NOT NULL DEFAULT 0,
              files_linked      INTEGER NOT NULL DEFAULT 0,
              steps             TEXT NOT NULL DEFAULT '{}',
              cpu_source_s      REAL,
              cpu_target_s      REAL,
              rpo_s             REAL
          );
          CREATE INDEX sync_runs_by_result ON sync_runs (result, id);",
}];

/// Results a run can have.
pub const OK: &str = "ok";
/// A new generation, with findings (not a point in time, a check warning,
/// an unquiesce or release that failed).
pub const WARNING: &str = "warning";
/// No new generation; `current` unchanged.
pub const FAILED: &str = "failed";
/// Refused before anything was sent (fenced, held, changed current, locked).
pub const REFUSED: &str = "refused";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RunRecord {
    #[serde(default)]
    pub id: i64,
    /// `push`, `pull`, `receive` or `serve`.
    pub role: String,
    /// `normal` (primary to failover) or `reverse` (the failback).
    pub direction: String,
    pub peer: String,
    pub generation: Option<String>,
    pub point_in_time: Option<String>,
    pub point_in_time_ns: Option<i64>,
    pub consistent: Option<bool>,
    pub started_at: String,
    pub finished_at: String,
    pub result: String,
    pub message: String,
    /// By the sending side (the data and the manifest).
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub files: u64,
    pub files_transferred: u64,
    /// Regular files not sent: hard-linked from the current generation
    /// (or already in a resumed partial one).
    pub files_linked: u64,
    /// Each step's time in milliseconds.
    pub steps: BTreeMap<String, u64>,
    pub cpu_source_s: Option<f64>,
    pub cpu_target_s: Option<f64>,
    /// The age of the receiving side's current generation after the run.
    pub rpo_s: Option<f64>,
}

fn open(state_dir: &Path, wait: Duration) -> Result<Catalog, CatalogError> {
    let mut c = Catalog::open_within(state_dir, wait)?;
    c.ensure_schema(COMPONENT, MIGRATIONS)?;
    Ok(c)
}

pub fn record(state_dir: &Path, r: &RunRecord, wait: Duration) -> Result<i64, CatalogError> {
    let mut c = open(state_dir, wait)?;
    let steps = serde_json::to_string(&r.steps).unwrap_or_else(|_| "{}".into());
    c.write(|tx| {
        tx.execute(
            "INSERT INTO sync_runs (role, direction, peer, generation, point_in_time, point_in_time_ns, consistent,
                 started_at, finished_at, result, message, bytes_sent, bytes_received, files, files_transferred,
                 files_linked, steps, cpu_source_s, cpu_target_s, rpo_s)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
            rusqlite::params![
                r.role,
                r.direction,
                r.peer,
                r.generation,
                r.point_in_time,
                r.point_in_time_ns,
                r.consistent,
                r.started_at,
                r.finished_at,
                r.result,
                r.message,
                r.bytes_sent as i64,
                r.bytes_received as i64,
                r.files as i64,
                r.files_transferred as i64,
                r.files_linked as i64,
                steps,
                r.cpu_source_s,
                r.cpu_target_s,
                r.rpo_s
            ],
        )?;
        Ok(tx.last_insert_rowid())
    })
}

const COLUMNS: &str = "id, role, direction, peer, generation, point_in_time, point_in_time_ns, consistent, started_at,
    finished_at, result, message, bytes_sent, bytes_received, files, files_transferred, files_linked, steps,
    cpu_source_s, cpu_target_s, rpo_s";

fn row(r: &rusqlite::Row) -> rusqlite::Result<RunRecord> {
    let steps: String = r.get(17)?;
    Ok(RunRecord {
        id: r.get(0)?,
        role: r.get(1)?,
        direction: r.get(2)?,
        peer: r.get(3)?,
        generation: r.get(4)?,
        point_in_time: r.get(5)?,
        point_in_time_ns: r.get(6)?,
        consistent: r.get(7)?,
        started_at: r.get(8)?,
        finished_at: r.get(9)?,
        result: r.get(10)?,
        message: r.get(11)?,
        bytes_sent: r.get::<_, i64>(12)? as u64,
        bytes_received: r.get::<_, i64>(13)? as u64,
        files: r.get::<_, i64>(14)? as u64,
        files_transferred: r.get::<_, i64>(15)? as u64,
        files_linked: r.get::<_, i64>(16)? as u64,
        steps: serde_json::from_str(&steps).unwrap_or_default(),
        cpu_source_s: r.get(18)?,
        cpu_target_s: r.get(19)?,
        rpo_s: r.get(20)?,
    })
}

/// The newest runs, newest first.
pub fn recent(
    state_dir: &Path,
    limit: usize,
    wait: Duration,
) -> Result<Vec<RunRecord>, CatalogError> {
    let c = open(state_dir, wait)?;
    let mut stmt = c
        .conn()
        .prepare(&format!(
            "SELECT {COLUMNS} FROM sync_runs ORDER BY id DESC LIMIT ?1"
        ))
        .map_err(|source| CatalogError::Sql {
            path: c.path().to_path_buf(),
            source,
        })?;
    let rows = stmt
        .query_map([limit as i64], row)
        .and_then(|r| r.collect::<Result<Vec<_>, _>>())
        .map_err(|source| CatalogError::Sql {
            path: c.path().to_path_buf(),
            source,
        });
    rows
}

/// The newest run that made a generation.
pub fn last_success(state_dir: &Path, wait: Duration) -> Result<Option<RunRecord>, CatalogError> {
    let c = open(state_dir, wait)?;
    let r = c.conn().query_row(
        &format!("SELECT {COLUMNS} FROM sync_runs WHERE result IN ('ok', 'warning') AND role IN ('push', 'pull', 'receive') ORDER BY id DESC LIMIT 1"),
        [],
        row,
    );
    match r {
        Ok(r) => Ok(Some(r)),
        Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
        Err(source) => Err(CatalogError::Sql {
            path: c.path().to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_recorded_and_read_back_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let wait = Duration::from_secs(5);
        let mut r = RunRecord {
            role: "push".into(),
            direction: "normal".into(),
            peer: "maestro2".into(),
            generation: Some("20261126T011645.868Z".into()),
            result: OK.into(),
            bytes_sent: 70_349,
            files_linked: 10_138,
            cpu_source_s: Some(0.5),
            ..RunRecord::default()
        };
        r.steps.insert("transfer".into(), 812);
        record(dir.path(), &r, wait).unwrap();
        r.result = FAILED.into();
        r.generation = None;
        record(dir.path(), &r, wait).unwrap();
        let runs = recent(dir.path(), 10, wait).unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].result, FAILED);
        assert_eq!(runs[1].steps.get("transfer"), Some(&812));
        let ok = last_success(dir.path(), wait).unwrap().unwrap();
        assert_eq!((ok.id, ok.bytes_sent), (1, 70_349));
    }
}
