//! The state catalog: one SQLite database in the state folder that holds
//! what the tools must remember between runs (the fence journal and
//! epochs, manifests, the hash cache, log offsets, the watcher's timer).
//!
//! Two tools may run at once (a watcher and an admin's `fence`, a Nagios
//! check and a cron scan), so the database runs in WAL mode with a busy
//! timeout, and every write goes through `BEGIN IMMEDIATE`, which takes the
//! write lock up front instead of failing halfway with SQLITE_BUSY.
//! The shared schema is versioned with `PRAGMA user_version` ([`MIGRATIONS`]).
//! Each tool owns its tables and versions them on its own with
//! [`Catalog::ensure_schema`], so tools built at different times never
//! compete for one sequence of version numbers.

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const FILE_NAME: &str = "catalog.sqlite";

/// How long a writer waits for another process's transaction to end.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(15);

/// One step of the schema. Versions are 1, 2, 3 ... in order; a migration
/// is never edited once released, only followed by a new one.
pub struct Migration {
    pub version: i64,
    pub description: &'static str,
    pub sql: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "journal of tool runs",
    sql: "CREATE TABLE runs (
              id          INTEGER PRIMARY KEY AUTOINCREMENT,
              tool        TEXT NOT NULL,
              command     TEXT,
              started_at  TEXT NOT NULL,
              elapsed_ms  INTEGER NOT NULL,
              status      TEXT NOT NULL CHECK (status IN ('OK','WARNING','CRITICAL','UNKNOWN')),
              summary     TEXT NOT NULL,
              details     TEXT NOT NULL DEFAULT '{}'
          );
          CREATE INDEX runs_by_tool ON runs (tool, id);
          CREATE TABLE component_schema (
              component   TEXT PRIMARY KEY,
              version     INTEGER NOT NULL
          );",
}];

/// The newest schema version this build knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot create state folder {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open catalog {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("catalog {path} has schema version {found}, newer than this maestro-ha knows ({known}); upgrade maestro-ha before using it")]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("catalog {path}: migration to version {version} ({description}) failed: {source}")]
    Migrate {
        path: PathBuf,
        version: i64,
        description: &'static str,
        source: rusqlite::Error,
    },
    #[error("catalog {path}: {source}")]
    Sql {
        path: PathBuf,
        source: rusqlite::Error,
    },
}

/// A run of a tool as the journal keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub id: i64,
    pub tool: String,
    pub command: Option<String>,
    pub started_at: String,
    pub elapsed_ms: i64,
    pub status: crate::Status,
    pub summary: String,
    pub details: serde_json::Value,
}

pub struct Catalog {
    conn: Connection,
    path: PathBuf,
}

impl Catalog {
    /// Open (creating if needed) the catalog in `state_dir`.
    pub fn open(state_dir: &Path) -> Result<Catalog, CatalogError> {
        create_private_dir(state_dir)?;
        Catalog::open_path(&state_dir.join(FILE_NAME))
    }

    /// [`Catalog::open`] that waits at most `wait` for another process's
    /// write transaction (instead of [`BUSY_TIMEOUT`]), for a run with a
    /// deadline: its later writes wait as long, unless
    /// [`Catalog::set_busy_timeout`] says otherwise.
    pub fn open_within(state_dir: &Path, wait: Duration) -> Result<Catalog, CatalogError> {
        create_private_dir(state_dir)?;
        Catalog::open_path_within(&state_dir.join(FILE_NAME), wait)
    }

    /// How long the next writes wait for another process's transaction.
    pub fn set_busy_timeout(&self, wait: Duration) -> Result<(), CatalogError> {
        self.conn
            .busy_timeout(wait)
            .map_err(|source| self.sql_err(source))
    }

    /// Open the catalog at an exact path and bring its schema up to date.
    pub fn open_path(path: &Path) -> Result<Catalog, CatalogError> {
        Catalog::open_path_within(path, BUSY_TIMEOUT)
    }

    fn open_path_within(path: &Path, wait: Duration) -> Result<Catalog, CatalogError> {
        let open_err = |source| CatalogError::Open {
            path: path.to_path_buf(),
            source,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
        conn.busy_timeout(wait).map_err(open_err)?;
        // WAL lets readers go on while one process writes; FULL sync because
        // the fence journal must survive a power cut right after a fence.
        let mode = enable_wal(&conn, wait).map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(open_err(rusqlite::Error::InvalidParameterName(format!(
                "journal_mode is {mode}, WAL could not be enabled"
            ))));
        }
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(open_err)?;
        let mut catalog = Catalog {
            conn,
            path: path.to_path_buf(),
        };
        catalog.migrate()?;
        Ok(catalog)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn schema_version(&self) -> Result<i64, CatalogError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|source| self.sql_err(source))
    }

    /// The connection, for a tool's own queries.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    fn sql_err(&self, source: rusqlite::Error) -> CatalogError {
        CatalogError::Sql {
            path: self.path.clone(),
            source,
        }
    }

    /// Run `f` in a write transaction taken up front (`BEGIN IMMEDIATE`),
    /// committed when `f` returns Ok and rolled back otherwise.
    pub fn write<T>(
        &mut self,
        f: impl FnOnce(&Transaction) -> rusqlite::Result<T>,
    ) -> Result<T, CatalogError> {
        let path = self.path.clone();
        let sql_err = |source| CatalogError::Sql {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let value = f(&tx).map_err(sql_err)?;
        tx.commit().map_err(sql_err)?;
        Ok(value)
    }

    fn migrate(&mut self) -> Result<(), CatalogError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|source| CatalogError::Sql {
                path: path.clone(),
                source,
            })?;
        // Read the version inside the write lock, so two processes opening
        // a new catalog at once cannot both apply the same migration.
        let found: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|source| CatalogError::Sql {
                path: path.clone(),
                source,
            })?;
        let known = latest_version();
        if found > known {
            return Err(CatalogError::TooNew { path, found, known });
        }
        for m in MIGRATIONS.iter().filter(|m| m.version > found) {
            let migrate_err = |source| CatalogError::Migrate {
                path: path.clone(),
                version: m.version,
                description: m.description,
                source,
            };
            tx.execute_batch(m.sql).map_err(migrate_err)?;
            tx.pragma_update(None, "user_version", m.version)
                .map_err(migrate_err)?;
        }
        tx.commit()
            .map_err(|source| CatalogError::Sql { path, source })
    }

    /// Bring the tables of one component (a tool) up to date with its own
    /// migrations, versioned apart from the shared schema and from other tools.
    pub fn ensure_schema(
        &mut self,
        component: &str,
        migrations: &[Migration],
    ) -> Result<(), CatalogError> {
        let path = self.path.clone();
        let sql_err = |source| CatalogError::Sql {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let found: i64 = tx
            .query_row(
                "SELECT COALESCE((SELECT version FROM component_schema WHERE component = ?1), 0)",
                [component],
                |r| r.get(0),
            )
            .map_err(sql_err)?;
        let known = migrations.last().map_or(0, |m| m.version);
        if found > known {
            return Err(CatalogError::TooNew { path, found, known });
        }
        for m in migrations.iter().filter(|m| m.version > found) {
            let migrate_err = |source| CatalogError::Migrate {
                path: path.clone(),
                version: m.version,
                description: m.description,
                source,
            };
            tx.execute_batch(m.sql).map_err(migrate_err)?;
            tx.execute(
                "INSERT INTO component_schema (component, version) VALUES (?1, ?2)
                 ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                rusqlite::params![component, m.version],
            )
            .map_err(migrate_err)?;
        }
        tx.commit().map_err(sql_err)
    }

    /// The schema version of one component's tables (0: none yet).
    pub fn component_version(&self, component: &str) -> Result<i64, CatalogError> {
        self.conn
            .query_row(
                "SELECT COALESCE((SELECT version FROM component_schema WHERE component = ?1), 0)",
                [component],
                |r| r.get(0),
            )
            .map_err(|source| self.sql_err(source))
    }

    /// Journal one run of a tool; returns its id.
    pub fn record_run(
        &mut self,
        report: &crate::Report,
        details: &serde_json::Value,
    ) -> Result<i64, CatalogError> {
        let started = report
            .started_at
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let elapsed = i64::try_from(report.elapsed.as_millis()).unwrap_or(i64::MAX);
        let status = report.status().as_str();
        let summary = report.summary_line();
        let details = details.to_string();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO runs (tool, command, started_at, elapsed_ms, status, summary, details)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                rusqlite::params![
                    report.tool,
                    report.command,
                    started,
                    elapsed,
                    status,
                    summary,
                    details
                ],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    /// The newest runs of a tool, newest first.
    pub fn recent_runs(&self, tool: &str, limit: usize) -> Result<Vec<RunRecord>, CatalogError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, tool, command, started_at, elapsed_ms, status, summary, details
                 FROM runs WHERE tool = ?1 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(|e| self.sql_err(e))?;
        let rows = stmt
            .query_map(rusqlite::params![tool, limit], |r| {
                let status: String = r.get(5)?;
                let details: String = r.get(7)?;
                Ok(RunRecord {
                    id: r.get(0)?,
                    tool: r.get(1)?,
                    command: r.get(2)?,
                    started_at: r.get(3)?,
                    elapsed_ms: r.get(4)?,
                    status: serde_json::from_value(serde_json::Value::String(status))
                        .unwrap_or(crate::Status::Unknown),
                    summary: r.get(6)?,
                    details: serde_json::from_str(&details).unwrap_or(serde_json::Value::Null),
                })
            })
            .map_err(|e| self.sql_err(e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sql_err(e))
    }
}

/// Switch to WAL. A new database's switch needs a lock that SQLite does
/// not wait for through the busy handler, so two processes opening a fresh
/// catalog at the same moment would see SQLITE_BUSY at once; retry within
/// the busy timeout instead.
fn enable_wal(conn: &Connection, wait: Duration) -> rusqlite::Result<String> {
    let deadline = std::time::Instant::now() + wait;
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(25));
            }
            other => return other,
        }
    }
}

/// State may hold fencing tokens and host names: keep it to its owner.
fn create_private_dir(dir: &Path) -> Result<(), CatalogError> {
    if dir.is_dir() {
        return Ok(());
    }
    crate::platform::create_private_dir(dir).map_err(|source| CatalogError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Check, Report};
    use crate::Status;

    const CHILD_ENV: &str = "MAESTRO_HA_TEST_CATALOG_CHILD";
    const ROWS_PER_WRITER: usize = 100;
    const WRITERS: usize = 4;

    fn report(tool: &str, status: Status) -> Report {
        let mut r = Report::new(tool, Some("check"));
        r.push(Check::new("c", status, "msg"));
        r.finish();
        r
    }

    #[test]
    fn new_catalog_is_migrated_private_and_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state/sub");
        let c = Catalog::open(&state).unwrap();
        assert_eq!(c.schema_version().unwrap(), latest_version());
        let mode: String = c
            .conn()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let perm = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
            assert_eq!(perm, 0o700);
        }
        drop(c);
        // Opening again applies nothing twice.
        let c = Catalog::open(&state).unwrap();
        assert_eq!(c.schema_version().unwrap(), latest_version());
    }

    #[test]
    fn runs_round_trip_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Catalog::open(dir.path()).unwrap();
        let a = c
            .record_run(
                &report("maestro-fence", Status::Ok),
                &serde_json::json!({"k": 1}),
            )
            .unwrap();
        let b = c
            .record_run(
                &report("maestro-fence", Status::Critical),
                &serde_json::json!({}),
            )
            .unwrap();
        c.record_run(&report("maestro-watch", Status::Ok), &serde_json::json!({}))
            .unwrap();
        let runs = c.recent_runs("maestro-fence", 10).unwrap();
        assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), vec![b, a]);
        assert_eq!(runs[0].status, Status::Critical);
        assert_eq!(runs[1].details["k"], 1);
        assert_eq!(runs[0].command.as_deref(), Some("check"));
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", latest_version() + 1)
                .unwrap();
        }
        let e = Catalog::open_path(&path).err().expect("must refuse");
        assert!(matches!(e, CatalogError::TooNew { .. }), "{e}");
        assert!(e.to_string().contains("upgrade maestro-ha"));
    }

    #[test]
    fn component_schemas_are_versioned_apart() {
        const V1: &[Migration] = &[Migration {
            version: 1,
            description: "t1",
            sql: "CREATE TABLE tool_a (x INTEGER);",
        }];
        const V2: &[Migration] = &[
            Migration {
                version: 1,
                description: "t1",
                sql: "CREATE TABLE tool_a (x INTEGER);",
            },
            Migration {
                version: 2,
                description: "t2",
                sql: "ALTER TABLE tool_a ADD COLUMN y TEXT;",
            },
        ];
        let dir = tempfile::tempdir().unwrap();
        let mut c = Catalog::open(dir.path()).unwrap();
        assert_eq!(c.component_version("tool-a").unwrap(), 0);
        c.ensure_schema("tool-a", V1).unwrap();
        c.ensure_schema("tool-a", V1).unwrap();
        assert_eq!(c.component_version("tool-a").unwrap(), 1);
        c.ensure_schema("tool-a", V2).unwrap();
        assert_eq!(c.component_version("tool-a").unwrap(), 2);
        c.conn()
            .execute("INSERT INTO tool_a (x, y) VALUES (1, 'a')", [])
            .unwrap();
        // An older build of the tool must not use tables it does not understand.
        let e = c.ensure_schema("tool-a", V1).unwrap_err();
        assert!(
            matches!(
                e,
                CatalogError::TooNew {
                    found: 2,
                    known: 1,
                    ..
                }
            ),
            "{e}"
        );
        // Another component starts from its own zero.
        assert_eq!(c.component_version("tool-b").unwrap(), 0);
        assert_eq!(c.schema_version().unwrap(), latest_version());
    }

    #[test]
    fn a_failed_write_rolls_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Catalog::open(dir.path()).unwrap();
        let r = c.write(|tx| {
            tx.execute("INSERT INTO runs (tool, started_at, elapsed_ms, status, summary) VALUES ('t','x',0,'OK','s')", [])?;
            tx.execute("INSERT INTO runs (tool, started_at, elapsed_ms, status, summary) VALUES ('t','x',0,'BAD','s')", [])?;
            Ok(())
        });
        assert!(r.is_err());
        assert!(c.recent_runs("t", 10).unwrap().is_empty());
    }

    /// Several processes open one fresh catalog at the same moment and write
    /// into it at once: both succeed, nothing is lost, the schema is applied once.
    #[test]
    fn two_processes_write_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let exe = std::env::current_exe().unwrap();
        let children: Vec<_> = (0..WRITERS)
            .map(|i| {
                std::process::Command::new(&exe)
                    .args([
                        "catalog::tests::child_writer",
                        "--exact",
                        "--ignored",
                        "--test-threads=1",
                    ])
                    .env(CHILD_ENV, dir.path())
                    .env("MAESTRO_HA_TEST_WRITER", format!("writer-{i}"))
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut child in children {
            assert!(child.wait().unwrap().success(), "a writer process failed");
        }
        let c = Catalog::open(dir.path()).unwrap();
        for i in 0..WRITERS {
            let runs = c.recent_runs(&format!("writer-{i}"), 10_000).unwrap();
            assert_eq!(runs.len(), ROWS_PER_WRITER);
        }
        assert_eq!(c.schema_version().unwrap(), latest_version());
    }

    /// The body of one writer process of `two_processes_write_at_once`.
    #[test]
    #[ignore = "run as a child process by two_processes_write_at_once"]
    fn child_writer() {
        let Some(dir) = std::env::var_os(CHILD_ENV) else {
            return;
        };
        let tool = std::env::var("MAESTRO_HA_TEST_WRITER").unwrap();
        let mut c = Catalog::open(Path::new(&dir)).unwrap();
        for _ in 0..ROWS_PER_WRITER {
            c.record_run(&report(&tool, Status::Ok), &serde_json::json!({}))
                .unwrap();
        }
    }
}
