//! The LUI's daily log, `LUI-yyyymmdd.LOG` in the LUI's log folder, as
//! Maestro writes it (one file per component per day, local date): the
//! start-up, the database check the LUI makes when it starts, and one line
//! per job, click and bounce. Maestro's exact line format is not documented
//! (shared/reference/maestro-facts.md); the emulator writes the log4j-style
//! lines of a Tomcat web application, which maestro-logscan detects like any
//! other format.

use chrono::Local;
use std::fs::OpenOptions;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The database check may take no longer than this.
const DB_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Appends lines to the log of the day; a new file after midnight.
pub struct LuiLog {
    dir: PathBuf,
    /// One writer at a time: a record and its stack trace stay together.
    lock: Mutex<()>,
}

impl LuiLog {
    pub fn new(dir: &Path) -> std::io::Result<LuiLog> {
        std::fs::create_dir_all(dir)?;
        Ok(LuiLog {
            dir: dir.to_path_buf(),
            lock: Mutex::new(()),
        })
    }

    /// Today's file: `LUI-yyyymmdd.LOG` (local date).
    pub fn path(&self) -> PathBuf {
        self.dir
            .join(format!("LUI-{}.LOG", Local::now().format("%Y%m%d")))
    }

    /// One record: a time-stamped first line, then its continuation lines.
    /// A log that cannot be written is not worth stopping the emulator for:
    /// it says so on stderr.
    pub fn write(&self, level: &str, thread: &str, class: &str, message: &str, more: &[String]) {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut record = format!(
            "{} {level:<5} [{thread}] {class} - {message}\n",
            Local::now().format("%Y-%m-%d %H:%M:%S,%3f")
        );
        for line in more {
            record.push_str(line);
            record.push('\n');
        }
        let path = self.path();
        let written = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(record.as_bytes()));
        if let Err(e) = written {
            eprintln!("maestro-emulator: cannot write {}: {e}", path.display());
        }
    }

    pub fn info(&self, class: &str, message: &str) {
        self.write("INFO", "main", class, message, &[]);
    }

    /// The start-up of the LUI: the start marker, the database check (when
    /// a command for it is given), the ready marker. A failed check is
    /// logged as the JDBC driver's exception with its stack trace, as a
    /// Java web application logs it; the start-up still completes (the
    /// LUI's pages come up, the broken parts fail later).
    pub fn startup(&self, db_check: Option<&str>, http: &str) {
        let started = Instant::now();
        self.info(
            "com.lsoft.maestro.lui.Startup",
            "Starting LISTSERV Maestro User Interface (emulator)",
        );
        if let Some(command) = db_check {
            match run_bounded(command, DB_CHECK_TIMEOUT) {
                Ok(()) => self.info(
                    "com.lsoft.maestro.db.DatabaseCheck",
                    "Database connection established; system tables checked",
                ),
                Err(why) => self.write(
                    "ERROR",
                    "main",
                    "com.lsoft.maestro.db.DatabaseCheck",
                    "Checking the system tables failed",
                    &jdbc_exception(&why),
                ),
            }
        }
        self.info(
            "com.lsoft.maestro.lui.Startup",
            &format!("Web interface listening on {http}"),
        );
        self.info(
            "com.lsoft.maestro.lui.Startup",
            &format!(
                "LISTSERV Maestro startup completed in {} ms",
                started.elapsed().as_millis()
            ),
        );
    }
}

/// The exception a JDBC driver throws for the database's own message
/// (`ERROR 1146 (42S02) at line 1: Table 'x.y' doesn't exist`), with a stack trace.
fn jdbc_exception(why: &str) -> Vec<String> {
    // The client may echo the statement between dashed lines before the
    // error (`mariadb -e` with several statements): the ERROR line wins.
    let mut lines = why.lines().map(str::trim);
    let message = lines
        .clone()
        .find(|l| l.starts_with("ERROR "))
        .or_else(|| lines.find(|l| !l.is_empty() && !l.chars().all(|c| c == '-')))
        .unwrap_or("the check failed");
    let message = match message.split_once(": ") {
        Some((head, rest)) if head.starts_with("ERROR ") => rest,
        _ => message,
    };
    let class = if message.contains("doesn't exist") {
        "java.sql.SQLSyntaxErrorException"
    } else if message.contains("Can't connect") || message.contains("Lost connection") {
        "com.mysql.cj.jdbc.exceptions.CommunicationsException: Communications link failure\nCaused by: java.net.ConnectException"
    } else {
        "java.sql.SQLException"
    };
    let mut lines: Vec<String> = format!("{class}: {message}")
        .lines()
        .map(str::to_string)
        .collect();
    lines.extend(
        [
            "com.mysql.cj.jdbc.exceptions.SQLError.createSQLException(SQLError.java:121)",
            "com.mysql.cj.jdbc.StatementImpl.executeQuery(StatementImpl.java:1200)",
            "com.lsoft.maestro.db.DatabaseCheck.checkTables(DatabaseCheck.java:88)",
            "com.lsoft.maestro.lui.Startup.contextInitialized(Startup.java:54)",
        ]
        .iter()
        .map(|f| format!("\tat {f}")),
    );
    lines.push("\t... 12 more".to_string());
    lines
}

/// `sh -c COMMAND` in a process group of its own, killed (the group) after
/// `within`. Err: its stderr (or why it failed). Stderr is read on its own
/// thread while the command runs, so a chatty command cannot block on a
/// full pipe, and a grandchild holding the pipe cannot hold the start-up.
fn run_bounded(command: &str, within: Duration) -> Result<(), String> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        cmd.process_group(0);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run the database check: {e}"))?;
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(mut e) = child.stderr.take() {
        std::thread::spawn(move || {
            let mut err = Vec::new();
            // A stuck child costs a thread that ends with it, not the start-up.
            let _ = std::io::Read::take(&mut e, 64 * 1024).read_to_end(&mut err);
            let _ = tx.send(String::from_utf8_lossy(&err).into_owned());
        });
    }
    let deadline = Instant::now() + within;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                #[cfg(unix)]
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .status();
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "Lost connection: the database check did not answer within {}s",
                    within.as_secs()
                ));
            }
            Err(e) => return Err(format!("cannot wait for the database check: {e}")),
        }
    };
    if status.success() {
        return Ok(());
    }
    let err = rx
        .recv_timeout(
            deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(200),
        )
        .unwrap_or_default();
    if err.trim().is_empty() {
        Err(format!("the database check exited with {status}"))
    } else {
        Err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(log: &LuiLog) -> String {
        std::fs::read_to_string(log.path()).unwrap()
    }

    #[test]
    fn startup_without_a_check_has_both_markers_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let log = LuiLog::new(&dir.path().join("logs")).unwrap();
        log.startup(None, "127.0.0.1:8080");
        let text = read(&log);
        let start = text.find("Starting LISTSERV Maestro").unwrap();
        let ready = text.find("startup completed").unwrap();
        assert!(start < ready, "{text}");
        assert!(log
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("LUI-20"));
        assert!(!text.contains("ERROR"), "{text}");
    }

    #[test]
    fn a_failed_check_logs_the_database_message_with_a_stack_trace() {
        let dir = tempfile::tempdir().unwrap();
        let log = LuiLog::new(dir.path()).unwrap();
        log.startup(
            Some("echo \"ERROR 1146 (42S02) at line 1: Table 'maestro.mailings' doesn't exist\" >&2; exit 1"),
            "127.0.0.1:8080",
        );
        let text = read(&log);
        assert!(
            text.contains(
                "ERROR [main] com.lsoft.maestro.db.DatabaseCheck - Checking the system tables failed\njava.sql.SQLSyntaxErrorException: Table 'maestro.mailings' doesn't exist\n\tat "
            ),
            "{text}"
        );
        assert!(text.contains("startup completed"), "{text}");
    }

    #[test]
    fn the_clients_error_line_wins_over_the_echoed_statement() {
        let lines = jdbc_exception(
            "--------------\nSELECT COUNT(*) FROM maestro.mailings\n--------------\n\nERROR 1146 (42S02) at line 1: Table 'maestro.mailings' doesn't exist\n",
        );
        assert_eq!(
            lines[0],
            "java.sql.SQLSyntaxErrorException: Table 'maestro.mailings' doesn't exist"
        );
    }

    #[test]
    fn a_passing_check_says_so_and_a_hanging_one_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let log = LuiLog::new(dir.path()).unwrap();
        log.startup(Some("true"), "127.0.0.1:8080");
        assert!(read(&log).contains("Database connection established"));
        let started = Instant::now();
        let why = run_bounded("sleep 5", Duration::from_millis(200)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3));
        // More than a pipe holds on stderr, then the error: not mistaken for a hang.
        let chatty = run_bounded(
            "head -c 200000 /dev/zero | tr '\\0' x >&2; exit 1",
            Duration::from_secs(5),
        )
        .unwrap_err();
        assert!(
            chatty.starts_with("xxx"),
            "{}",
            &chatty[..40.min(chatty.len())]
        );
        // A grandchild that keeps stderr open does not hold the check.
        let started = Instant::now();
        run_bounded("(sleep 5 &) ; exit 0", Duration::from_secs(2)).unwrap();
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(why.contains("did not answer"), "{why}");
        assert_eq!(
            jdbc_exception(&why)[0],
            "com.mysql.cj.jdbc.exceptions.CommunicationsException: Communications link failure"
        );
    }
}
