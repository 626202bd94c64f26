//! Helpers for the maestro-snapshot-verify tests: running the tool with a
//! clean environment, and a real MariaDB server on a scratch data folder.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_maestro-snapshot-verify");

/// The tool with no config or state from the machine; state in `state`.
pub fn tool(state: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("MAESTRO_HA_CONFIG")
        .env_remove("MAESTRO_HA_STATE_DIR")
        .env("NO_COLOR", "1")
        .arg("--state-dir")
        .arg(state)
        .arg("--config")
        .arg(state.join("config.toml"));
    if !state.join("config.toml").exists() {
        std::fs::create_dir_all(state).unwrap();
        std::fs::write(state.join("config.toml"), "").unwrap();
    }
    cmd
}

pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The JSON records of a `--format json` run.
pub fn records(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The finding ids of a `--format json` run.
pub fn finding_ids(o: &Output) -> Vec<String> {
    records(o)
        .iter()
        .filter(|r| r["type"] == "finding")
        .map(|r| r["id"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The status of the check named `name` in a `--format json` run.
pub fn check_status(o: &Output, name: &str) -> Option<String> {
    records(o)
        .iter()
        .find(|r| {
            r["type"] == "check"
                && r["name"]
                    .as_str()
                    .is_some_and(|n| n == name || n.starts_with(&format!("{name} ")))
        })
        .map(|r| r["status"].as_str().unwrap_or("").to_string())
}

/// Copy a tree as `cp -a` does.
pub fn copy_tree(from: &Path, to: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success(), "cp -a {} {}", from.display(), to.display());
}

/// A MariaDB server on a scratch data folder, listening on 127.0.0.1 and a
/// socket in its folder; stopped (and killed, if need be) on drop.
pub struct Mariadb {
    pub dir: tempfile::TempDir,
    pub datadir: PathBuf,
    child: Option<Child>,
    /// The network namespace it runs in (the drill's hosts), if any.
    netns: Option<String>,
    /// Where it listens: 127.0.0.1 on a free port unless started with [`Mariadb::start_on`].
    bind: String,
    port: u16,
    error_log: PathBuf,
}

pub fn find(names: &[&str]) -> PathBuf {
    for n in names {
        for d in ["/usr/sbin", "/usr/bin"] {
            let p = Path::new(d).join(n);
            if p.exists() {
                return p;
            }
        }
    }
    panic!(
        "{names:?} not found: the MariaDB tests need Debian's mariadb-server (run the tests with scripts/test.sh)"
    );
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Mariadb {
    /// Create a data folder and start the server on it.
    pub fn start(extra: &[&str]) -> Mariadb {
        let dir = tempfile::Builder::new()
            .prefix("maestro-mariadb-")
            .tempdir()
            .unwrap();
        let datadir = dir.path().join("data");
        Mariadb::install(&datadir, &[]);
        let error_log = dir.path().join("error.log");
        let mut db = Mariadb {
            dir,
            datadir,
            child: None,
            netns: None,
            bind: "127.0.0.1".into(),
            port: free_port(),
            error_log,
        };
        db.launch(extra).unwrap_or_else(|e| panic!("{e}"));
        db
    }

    /// Make a fresh data folder (mariadb-install-db).
    pub fn install(datadir: &Path, extra: &[&str]) {
        // Its own temporary folder: with the shared /tmp, an install beside
        // the other tests' servers once lost a temporary table ("Could not
        // remove temporary table '/tmp/#sql-temptable-...'", then Aborting).
        let tmp = tempfile::Builder::new()
            .prefix("maestro-mariadb-install-")
            .tempdir()
            .unwrap();
        let out = Command::new(find(&["mariadb-install-db", "mysql_install_db"]))
            .arg("--no-defaults")
            .arg(format!("--datadir={}", datadir.display()))
            .arg(format!("--tmpdir={}", tmp.path().display()))
            .arg("--user=root")
            .arg("--auth-root-authentication-method=normal")
            .arg("--skip-test-db")
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mariadb-install-db failed: {}",
            text(&out)
        );
    }

    /// Start a server on an existing data folder inside a network
    /// namespace (`ip netns exec`), listening on `bind:port` there and on a
    /// socket in a private temporary folder; its error log goes to
    /// `error_log`. An error (with the log) when it does not answer within
    /// `within`, rather than a panic: a server that cannot start on a
    /// replica is a finding of the drill.
    pub fn start_on(
        datadir: &Path,
        netns: Option<&str>,
        bind: &str,
        port: u16,
        error_log: &Path,
        extra: &[&str],
    ) -> Result<Mariadb, String> {
        let dir = tempfile::Builder::new()
            .prefix("maestro-mariadb-")
            .tempdir()
            .unwrap();
        let mut db = Mariadb {
            dir,
            datadir: datadir.to_path_buf(),
            child: None,
            netns: netns.map(str::to_string),
            bind: bind.to_string(),
            port,
            error_log: error_log.to_path_buf(),
        };
        db.launch(extra)?;
        Ok(db)
    }

    /// Kill the server with SIGKILL, as a power loss would.
    pub fn crash(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    fn launch(&mut self, extra: &[&str]) -> Result<(), String> {
        let log = std::fs::File::create(self.dir.path().join("server.log")).unwrap();
        let mut command = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns])
                    .arg(find(&["mariadbd", "mysqld"]));
                c
            }
            None => Command::new(find(&["mariadbd", "mysqld"])),
        };
        let child = command
            .arg("--no-defaults")
            .arg(format!("--datadir={}", self.datadir.display()))
            .arg("--user=root")
            .arg(format!("--bind-address={}", self.bind))
            .arg(format!("--port={}", self.port))
            .arg(format!("--socket={}", self.socket().display()))
            .arg(format!(
                "--pid-file={}",
                self.dir.path().join("pid").display()
            ))
            .arg(format!("--log-error={}", self.error_log.display()))
            .arg(format!("--tmpdir={}", self.dir.path().display()))
            .arg("--innodb-log-file-size=16M")
            .arg("--innodb-buffer-pool-size=32M")
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.try_sql("SELECT 1").is_ok() {
                return Ok(());
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    self.child = None;
                    return Err(format!(
                        "mariadbd exited ({st}) while starting:\n{}",
                        self.error_log()
                    ));
                }
            }
            if Instant::now() >= deadline {
                self.crash();
                return Err(format!(
                    "mariadbd did not answer within 60s:\n{}",
                    self.error_log()
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(&self.error_log).unwrap_or_default()
    }

    pub fn try_sql(&self, sql: &str) -> Result<String, String> {
        let out = Command::new(find(&["mariadb", "mysql"]))
            .arg("--no-defaults")
            .arg("-uroot")
            .arg(format!("--socket={}", self.socket().display()))
            .arg("--connect-timeout=5")
            .arg("-N")
            .arg("-B")
            .arg("-e")
            .arg(sql)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    pub fn sql(&self, sql: &str) -> String {
        self.try_sql(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}\n{}", self.error_log()))
    }

    /// Wait (bounded) until the buffer pool has no dirty page: everything
    /// written so far is in the tablespace files.
    pub fn wait_flushed(&self, within: Duration) {
        self.try_wait_quiet(within)
            .unwrap_or_else(|e| panic!("{e}\n{}", self.error_log()));
    }

    /// Wait (bounded) until InnoDB is quiet, so that a file-by-file copy
    /// of the data folder is one instant: no dirty page, nothing left to
    /// purge, the whole log on disk, and the log's end unchanged across
    /// two readings 200 ms apart. No dirty page alone is not enough: the
    /// purge thread goes on writing undo pages into ibdata1 after the last
    /// commit, and a copy that takes the redo log before that write and
    /// ibdata1 after it is torn (and rightly refused).
    pub fn try_wait_quiet(&self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        let mut last: Option<String> = None;
        loop {
            let status = self.try_sql(
                "SELECT GROUP_CONCAT(VARIABLE_NAME, '=', VARIABLE_VALUE ORDER BY VARIABLE_NAME) \
                 FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN \
                 ('INNODB_BUFFER_POOL_PAGES_DIRTY','INNODB_HISTORY_LIST_LENGTH',\
                 'INNODB_LSN_CURRENT','INNODB_LSN_FLUSHED')",
            )?;
            let value = |name: &str| {
                status
                    .split(',')
                    .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                    .unwrap_or("?")
                    .to_string()
            };
            let quiet = value("INNODB_BUFFER_POOL_PAGES_DIRTY") == "0"
                && value("INNODB_HISTORY_LIST_LENGTH") == "0"
                && value("INNODB_LSN_CURRENT") == value("INNODB_LSN_FLUSHED");
            if quiet && last.as_deref() == Some(status.as_str()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("InnoDB not quiet after {within:?}: {status}"));
            }
            last = quiet.then_some(status);
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A clean shutdown, waited for (bounded).
    pub fn shutdown(&mut self) {
        let _ = self.try_sql("SHUTDOWN");
        if let Some(mut c) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                if Instant::now() > deadline {
                    let _ = c.kill();
                    let _ = c.wait();
                    panic!("mariadbd did not shut down within 60s");
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

impl Drop for Mariadb {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Redo logs in the layout MySQL 4.1 to 5.6 (and MariaDB 10.0/10.1) write,
/// "format 0", constructed from the documented layout: no server older
/// than Debian's MariaDB runs here. Written independently of the tool's
/// reader, so that the tests compare two readings of the layout, and the
/// MariaDB test has a real server check part of what this writes (the
/// checkpoint block and the block at the checkpoint).
///
/// Where these differ from a real log: every block's first record group is
/// at 12; the last block's data length is whatever `end` gives (a real
/// server never ends a block at 509 to 511 or below 12); the blocks hold
/// filler bytes, not log records.
pub mod format_0 {
    use std::path::Path;

    pub const BLOCK: u64 = 512;
    pub const FILE_HDR: u64 = 2048;
    /// The LSN InnoDB gives the first data byte of a new log.
    pub const START_LSN: u64 = 8192;

    /// How the trailer of each block is sealed.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Checksum {
        /// The fold-based sum of MySQL 3.23.52 to 5.6.
        Innodb,
        /// CRC-32C (XtraDB's `innodb_log_checksum_algorithm=crc32`).
        Crc32,
        /// 0xDEADBEEF (`innodb_log_checksum_algorithm=none`).
        None,
    }

    fn put32(b: &mut [u8], at: usize, v: u32) {
        b[at..at + 4].copy_from_slice(&v.to_be_bytes());
    }

    fn put64(b: &mut [u8], at: usize, v: u64) {
        b[at..at + 8].copy_from_slice(&v.to_be_bytes());
    }

    /// `ut_fold_binary`, computed in 64 bits as a 64-bit server does.
    pub fn fold(bytes: &[u8]) -> u32 {
        let mut f: u64 = 0;
        for &b in bytes {
            let b = u64::from(b);
            f = (((f ^ b ^ 1_653_893_711) << 8).wrapping_add(f) ^ 1_463_735_687).wrapping_add(b);
        }
        f as u32
    }

    /// `log_block_calc_checksum` of MySQL 5.6 and older.
    pub fn block_sum(block: &[u8]) -> u32 {
        let (mut sum, mut sh) = (1u64, 0u32);
        for &b in &block[..508] {
            sum &= 0x7FFF_FFFF;
            sum += u64::from(b) + (u64::from(b) << sh);
            sh = if sh == 24 { 0 } else { sh + 1 };
        }
        sum as u32
    }

    /// CRC-32C (Castagnoli), bit by bit: a second implementation beside
    /// the tool's crate.
    pub fn crc32c(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0x82F6_3B78
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    pub fn seal(block: &mut [u8], checksum: Checksum) {
        let sum = match checksum {
            Checksum::Innodb => block_sum(block),
            Checksum::Crc32 => crc32c(&block[..508]),
            Checksum::None => 0xDEAD_BEEF,
        };
        put32(block, 508, sum);
    }

    /// A log group of `files` files of `size` bytes, its LSNs running from
    /// `START_LSN` at ib_logfile0's first data byte.
    pub struct LogGroup {
        pub size: u64,
        pub files: Vec<Vec<u8>>,
        pub checksum: Checksum,
        /// Written by 4.1/5.0 (no high half of the checkpoint offset; the
        /// bytes after the checkpoint left as `tail`).
        pub old_checkpoint: Option<u8>,
    }

    impl LogGroup {
        pub fn new(files: usize, size: u64) -> LogGroup {
            LogGroup {
                size,
                files: vec![vec![0u8; size as usize]; files],
                checksum: Checksum::Innodb,
                old_checkpoint: None,
            }
        }

        pub fn capacity(&self) -> u64 {
            (self.size - FILE_HDR) * self.files.len() as u64
        }

        /// The offset in the group (file headers counted) of an LSN.
        pub fn group_offset(&self, lsn: u64) -> u64 {
            let per_file = self.size - FILE_HDR;
            let data = (lsn - START_LSN) % self.capacity();
            (data / per_file) * self.size + FILE_HDR + data % per_file
        }

        /// The block that holds `lsn`, in whichever file of the group it lies.
        pub fn block_mut(&mut self, lsn: u64) -> &mut [u8] {
            let off = self.group_offset(lsn - lsn % BLOCK);
            let (n, at) = ((off / self.size) as usize, (off % self.size) as usize);
            &mut self.files[n][at..at + BLOCK as usize]
        }

        /// Write the blocks that hold LSNs `from..end` (from the start of
        /// `from`'s block), as a server flushing its log buffer does, and
        /// the header of every file whose first block is written.
        pub fn write(&mut self, from: u64, end: u64, checkpoint_no: u64) {
            let mut lsn = from - from % BLOCK;
            let mut first = true;
            while lsn < end {
                let data_len = (end - lsn).min(BLOCK) as u16;
                let off = self.group_offset(lsn);
                if off % self.size == FILE_HDR {
                    let n = (off / self.size) as usize;
                    let h = &mut self.files[n][..BLOCK as usize];
                    put32(h, 0, 0); // the log group id
                    put64(h, 4, lsn);
                    h[16..20].copy_from_slice(b"    ");
                }
                let checksum = self.checksum;
                let b = self.block_mut(lsn);
                b.fill(0);
                let no = ((lsn / BLOCK) & 0x3FFF_FFFF) as u32 + 1;
                put32(b, 0, if first { no | 0x8000_0000 } else { no });
                b[4..6].copy_from_slice(&data_len.to_be_bytes());
                b[6..8].copy_from_slice(&12u16.to_be_bytes());
                put32(b, 8, checkpoint_no as u32);
                let filled = usize::from(data_len).clamp(12, 508);
                for (i, byte) in b[12..filled].iter_mut().enumerate() {
                    *byte = (lsn as usize + i) as u8 | 1;
                }
                seal(b, checksum);
                first = false;
                // A log written up to the end of the LSN space stops there.
                let Some(next) = lsn.checked_add(BLOCK) else {
                    break;
                };
                lsn = next;
            }
        }

        /// Write checkpoint number `no` at `lsn` into its block (512 for
        /// even numbers, 1536 for odd ones, as the servers alternate).
        pub fn checkpoint(&mut self, no: u64, lsn: u64) {
            let offset = self.group_offset(lsn);
            let at = if no % 2 == 0 { 512 } else { 1536 };
            let old = self.old_checkpoint;
            let c = &mut self.files[0][at..at + BLOCK as usize];
            c.fill(0);
            put64(c, 0, no);
            put64(c, 8, lsn);
            put32(c, 16, offset as u32);
            put32(c, 20, 1 << 20); // the log buffer size
            put64(c, 24, u64::MAX); // archived LSN: archiving off
            match old {
                None => put32(c, 304, (offset >> 32) as u32),
                Some(tail) => {
                    put32(c, 296, 10); // the fsp free limit of 4.1
                    put32(c, 300, 1_441_231_243);
                    c[304..].fill(tail);
                }
            }
            let f1 = fold(&c[..288]);
            put32(c, 288, f1);
            let f2 = fold(&c[8..292]);
            put32(c, 292, f2);
        }

        pub fn save(&self, datadir: &Path) {
            for (n, f) in self.files.iter().enumerate() {
                std::fs::write(datadir.join(format!("ib_logfile{n}")), f).unwrap();
            }
        }
    }
}

/// What a bounded run of the tool gave.
#[derive(Debug)]
pub struct Bounded {
    /// None when it was killed (by a signal, or at the time limit).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The child's own peak resident memory.
    pub max_rss_kib: i64,
    pub timed_out: bool,
    pub elapsed: Duration,
}

impl Bounded {
    pub fn text(&self) -> String {
        format!(
            "exit {:?} after {:?}{} (peak {} KiB)\n--- stdout\n{}\n--- stderr\n{}",
            self.code,
            self.elapsed,
            if self.timed_out {
                ", KILLED at the time limit"
            } else {
                ""
            },
            self.max_rss_kib,
            self.stdout,
            self.stderr
        )
    }
}

/// Run `cmd` with at most `address_space` bytes of memory and `within` of
/// time (killed with SIGKILL then), and measure its peak memory: a hostile
/// input must not make a test eat the machine or hang it.
pub fn run_bounded(mut cmd: Command, within: Duration, address_space: u64) -> Bounded {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    // SAFETY: setrlimit is async-signal-safe; it only touches the child.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: address_space,
                rlim_max: address_space,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let child = cmd.spawn().unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value to be filled in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut timed_out = false;
    loop {
        // SAFETY: waits for this test's own child, filling locals.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            break;
        }
        assert!(r == 0, "wait4: {}", std::io::Error::last_os_error());
        if started.elapsed() > within && !timed_out {
            timed_out = true;
            // SAFETY: kills this test's own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = started.elapsed();
    std::mem::forget(child); // reaped above
    Bounded {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
        max_rss_kib: usage.ru_maxrss,
        timed_out,
        elapsed,
    }
}
