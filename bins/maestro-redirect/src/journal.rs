//! What `move` changed, in the shared state catalog, so that `undo`
//! reverses exactly that: the floating address this tool added (not one
//! it found), the DNS records the names held before the update (both
//! families, their TTLs). A change is written before it is made and
//! forgotten again when it did not happen or was rolled back; `undo` marks
//! it undone once it verified the reversal.
//!
//! One pending change a method: a second `move` keeps the first one's
//! record (the state before the first move is what `undo` restores).

use maestro_common::catalog::{Catalog, Migration};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

pub const COMPONENT: &str = "redirect";

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "redirect: what move changed, for undo",
    sql: "CREATE TABLE redirect_changes (
              id          INTEGER PRIMARY KEY AUTOINCREMENT,
              method      TEXT NOT NULL,
              recorded_at TEXT NOT NULL,
              state       TEXT NOT NULL,
              undone_at   TEXT
          );
          CREATE INDEX redirect_changes_by_method ON redirect_changes (method, id);",
}];

/// The `ip` method added the floating address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpChange {
    pub address: IpAddr,
    pub prefix: u8,
    pub interface: String,
}

/// One name's records before the update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameRecords {
    /// Fully qualified, lower case.
    pub name: String,
    pub a: Vec<IpAddr>,
    pub a_ttl: Option<u32>,
    pub aaaa: Vec<IpAddr>,
    pub aaaa_ttl: Option<u32>,
}

/// The `dns` method replaced the names' records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsChange {
    pub zone: String,
    /// The zone's primary server, as configured.
    pub server: String,
    /// What the names held before the first move.
    pub before: Vec<NameRecords>,
    /// What the move set them to.
    pub targets: Vec<IpAddr>,
}

/// The state folder's catalog, with this tool's table.
pub struct Journal {
    catalog: Catalog,
}

/// A record of the journal: its id and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending<T> {
    pub id: i64,
    pub recorded_at: String,
    pub change: T,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Journal {
    /// The run's journal in its state folder, or why a method that must
    /// record its change cannot run.
    pub fn for_run(env: &crate::Env) -> Result<Journal, String> {
        let dir = env.state_dir.as_ref().ok_or_else(|| {
            "no state folder to record the change in (give --state-dir or set $MAESTRO_HA_STATE_DIR)"
                .to_string()
        })?;
        Journal::open(dir, env.step())
    }

    /// Opens the catalog in `state_dir`, waiting at most `wait` for another
    /// process's write. Something there that is not a regular file (a
    /// FIFO, a device) is refused by name, never opened.
    pub fn open(state_dir: &Path, wait: Duration) -> Result<Journal, String> {
        let path = state_dir.join(maestro_common::catalog::FILE_NAME);
        if let Ok(meta) = std::fs::metadata(&path) {
            if !meta.is_file() {
                return Err(format!(
                    "the catalog {} is {}, not a regular file; refusing",
                    path.display(),
                    maestro_common::fsio::kind_name(meta.file_type())
                ));
            }
        }
        let mut catalog = Catalog::open_within(state_dir, wait).map_err(|e| e.to_string())?;
        catalog
            .ensure_schema(COMPONENT, MIGRATIONS)
            .map_err(|e| e.to_string())?;
        Ok(Journal { catalog })
    }

    /// The newest change of `method` not undone yet.
    pub fn pending<T: DeserializeOwned>(&self, method: &str) -> Result<Option<Pending<T>>, String> {
        let row: Option<(i64, String, String)> = self
            .catalog
            .conn()
            .query_row(
                "SELECT id, recorded_at, state FROM redirect_changes
                 WHERE method = ?1 AND undone_at IS NULL ORDER BY id DESC LIMIT 1",
                [method],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(|e| format!("{}: {e}", self.catalog.path().display()))?;
        match row {
            None => Ok(None),
            Some((id, recorded_at, state)) => {
                let change = serde_json::from_str(&state).map_err(|e| {
                    format!(
                        "{}: the {method} change recorded at {recorded_at} cannot be read: {e}",
                        self.catalog.path().display()
                    )
                })?;
                Ok(Some(Pending {
                    id,
                    recorded_at,
                    change,
                }))
            }
        }
    }

    /// When the newest change of `method` was undone, if the newest one was.
    pub fn last_undone(&self, method: &str) -> Result<Option<String>, String> {
        self.catalog
            .conn()
            .query_row(
                "SELECT undone_at FROM redirect_changes WHERE method = ?1 ORDER BY id DESC LIMIT 1",
                [method],
                |r| r.get::<_, Option<String>>(0),
            )
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(|e| format!("{}: {e}", self.catalog.path().display()))
    }

    /// Records a change of `method` before it is made; returns its id.
    pub fn record<T: Serialize>(&mut self, method: &str, change: &T) -> Result<i64, String> {
        let state = serde_json::to_string(change).map_err(|e| e.to_string())?;
        let method = method.to_string();
        self.catalog
            .write(|tx| {
                tx.execute(
                    "INSERT INTO redirect_changes (method, recorded_at, state) VALUES (?1, ?2, ?3)",
                    rusqlite::params![method, now(), state],
                )?;
                Ok(tx.last_insert_rowid())
            })
            .map_err(|e| e.to_string())
    }

    /// A recorded change that did not happen (or was rolled back).
    pub fn forget(&mut self, id: i64) -> Result<(), String> {
        self.catalog
            .write(|tx| tx.execute("DELETE FROM redirect_changes WHERE id = ?1", [id]))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// A change that `undo` reversed and verified.
    pub fn undone(&mut self, id: i64) -> Result<(), String> {
        self.catalog
            .write(|tx| {
                tx.execute(
                    "UPDATE redirect_changes SET undone_at = ?2 WHERE id = ?1",
                    rusqlite::params![id, now()],
                )
            })
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_pending_until_undone_and_the_first_one_counts() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path(), Duration::from_secs(5)).unwrap();
        assert_eq!(j.pending::<IpChange>("ip").unwrap(), None);
        let change = IpChange {
            address: "198.51.100.20".parse().unwrap(),
            prefix: 32,
            interface: "eth0".into(),
        };
        let id = j.record("ip", &change).unwrap();
        let p = j.pending::<IpChange>("ip").unwrap().unwrap();
        assert_eq!((p.id, &p.change), (id, &change));
        assert_eq!(j.pending::<IpChange>("dns").unwrap(), None);
        assert_eq!(j.last_undone("ip").unwrap(), None);
        j.undone(id).unwrap();
        assert_eq!(j.pending::<IpChange>("ip").unwrap(), None);
        assert!(j.last_undone("ip").unwrap().is_some());
        let id = j.record("ip", &change).unwrap();
        j.forget(id).unwrap();
        assert_eq!(j.pending::<IpChange>("ip").unwrap(), None);
        // Another process sees the same.
        drop(j);
        let j = Journal::open(dir.path(), Duration::from_secs(5)).unwrap();
        assert_eq!(j.pending::<IpChange>("ip").unwrap(), None);
    }

    #[test]
    fn a_fifo_at_the_catalog_path_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(maestro_common::catalog::FILE_NAME);
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: a valid C string; mkfifo only creates the node.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = Journal::open(dir.path(), Duration::from_secs(1))
            .err()
            .unwrap();
        assert!(e.contains("not a regular file"), "{e}");
    }
}
