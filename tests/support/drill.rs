//! The failover drill: the whole runbook of the tech tip, end to
//! end, with real parts, in a lab of network namespaces made by the test:
//!
//! - `p`, the primary (198.18.0.1): a real sshd, a Maestro-like installation
//!   tree as the site profile expects it, a real MariaDB on
//!   `lui/database/data` and a writer committing rows and job files;
//! - `f`, the failover (198.18.0.2): a real sshd, the replica, where the
//!   runbook runs;
//! - `w`, a witness (198.18.0.3) with a real sshd, asked by maestro-watch
//!   and maestro-redirect;
//! - `n`, the DNS (198.18.0.53): BIND 9, primary of `example.org` with a
//!   TSIG key for dynamic updates; the failover and the witness resolve
//!   through it (`/etc/netns/NS/resolv.conf`).
//!
//! Replication is maestro-sync on a schedule (a thread): each cycle runs
//! `maestro-sync push` on the primary, whose `command` snapshot's quiesce
//! hook pauses the writer until MariaDB has flushed (the quiescer thread
//! answers it), copies the tree, captures its manifest and sends both into
//! a new generation on the failover, which checks it and makes it
//! `current`. The failover's `maestro` folder is a link to
//! `gen/current/data`, as the documented layout has it.
//!
//! Every step is recorded (step, tool, status, exit, time, message) and the
//! table is printed when the drill ends, also when a step fails or the test
//! panics. Every process and namespace is stopped in Drop guards.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::maestro_snapshot_verify::{find, Mariadb};
use super::netns::Lab;
use super::redirect_lab::{tsig_key, Bind, NetnsEtc};
use super::sshd::Sshd;

pub const WATCH: &str = env!("CARGO_BIN_EXE_maestro-watch");
pub const FENCE: &str = env!("CARGO_BIN_EXE_maestro-fence");
pub const VERIFY: &str = env!("CARGO_BIN_EXE_maestro-snapshot-verify");
pub const LOGSCAN: &str = env!("CARGO_BIN_EXE_maestro-logscan");
pub const SMOKETEST: &str = env!("CARGO_BIN_EXE_maestro-smoketest");
pub const SYNC: &str = env!("CARGO_BIN_EXE_maestro-sync");
pub const REDIRECT: &str = env!("CARGO_BIN_EXE_maestro-redirect");

const P: &str = "p";
const F: &str = "f";
const W: &str = "w";
const N: &str = "n";
/// The zone whose names move: the tracker's name `maestro.example.org`.
const DNS_ZONE: &str = "example.org";
const DB_PORT: u16 = 3306;
/// maestro-watch's threshold in the drill (production: minutes).
const THRESHOLD_SECS: u64 = 3;
/// Every tool run is bounded by this (the tools bound themselves tighter).
const TOOL_BOUND: Duration = Duration::from_secs(60);

/// The faults the drill can inject, one a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    /// The last sync before the outage is cut off halfway (rsync killed):
    /// the failover keeps the generation before it.
    RsyncCut,
    /// The last sync's copy takes the InnoDB redo log before the
    /// tablespaces, with commits in between: database files from different
    /// moments, which the failover's check refuses to make current.
    DbTorn,
    /// The primary's link comes back right after the fence.
    PrimaryReturns,
    /// ICMP is blocked on the primary, which is up: no outage.
    IcmpBlocked,
    /// The tracker's name still resolves to the old primary on the failover.
    TrackerDnsStale,
    /// The seed mailbox cannot be reached from the failover.
    MailboxUnreachable,
    /// A table the LUI checks at start-up was dropped on the primary before
    /// the last sync: the replica is one point in time, but a broken one.
    TableMissing,
    /// The failover's TSIG key has the wrong secret: the DNS server
    /// refuses the update.
    DnsUpdateRefused,
    /// An INI value pins the old primary's address (`DBHost=198.18.0.1`
    /// in lui.ini, synced to the replica).
    IniPinsOldPrimary,
}

/// Why the failover happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The primary dies: watch confirms the outage, fence at the isolate level.
    Outage,
    /// A planned switchover: the primary is up; Maestro is stopped there,
    /// the last sync runs, and the fence works over SSH (the ssh level).
    Planned,
}

/// One row of the drill's table.
#[derive(Clone, Debug)]
pub struct StepRecord {
    pub step: String,
    pub tool: String,
    /// The tool's own status (OK, WARNING, CRITICAL, UNKNOWN), or what
    /// happened (`ran`, `failed`, `NOT BUILT`).
    pub status: String,
    pub exit: Option<i32>,
    pub took: Duration,
    /// Whether the runbook may go on after this step.
    pub passed: bool,
    pub message: String,
}

/// What a step's body reports.
pub struct Outcome {
    pub status: String,
    pub exit: Option<i32>,
    pub passed: bool,
    pub message: String,
}

impl Outcome {
    fn ok(message: impl Into<String>) -> Outcome {
        Outcome {
            status: "OK".into(),
            exit: None,
            passed: true,
            message: message.into(),
        }
    }
    fn failed(message: impl Into<String>) -> Outcome {
        Outcome {
            status: "FAILED".into(),
            exit: None,
            passed: false,
            message: message.into(),
        }
    }
}

/// A tool's answer in `--format json`: the exit code, the summary status
/// and message, and every record.
pub struct ToolRun {
    pub exit: Option<i32>,
    pub status: String,
    pub message: String,
    pub records: Vec<serde_json::Value>,
    pub stdout: String,
    pub stderr: String,
}

impl ToolRun {
    fn from_output(out: Output) -> ToolRun {
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let records: Vec<serde_json::Value> = stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let summary = records.iter().rev().find(|r| r["type"] == "summary");
        let exit = out.status.code();
        let status = summary
            .and_then(|s| s["status"].as_str())
            .map(str::to_string)
            .unwrap_or_else(|| match exit {
                Some(124) | Some(137) => "TIMEOUT".into(),
                _ => "no summary".into(),
            });
        let message = summary
            .and_then(|s| s["message"].as_str())
            .map(str::to_string)
            .unwrap_or_else(|| stderr.trim().to_string());
        ToolRun {
            exit,
            status,
            message,
            records,
            stdout,
            stderr,
        }
    }

    /// The messages of every check and finding that is not OK, one a line:
    /// what the tool says is wrong.
    pub fn problems(&self) -> String {
        let mut out = String::new();
        for r in &self.records {
            let kind = r["type"].as_str().unwrap_or("");
            let status = r["status"]
                .as_str()
                .or(r["severity"].as_str())
                .unwrap_or("");
            if (kind == "check" || kind == "finding") && !status.is_empty() && status != "OK" {
                let name = r["name"].as_str().or(r["id"].as_str()).unwrap_or("");
                let at = r["location"]
                    .as_str()
                    .map(|l| format!(" {l}"))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{status} [{name}]{at}: {}",
                    r["message"].as_str().unwrap_or("")
                );
            }
        }
        out
    }

    fn outcome(&self, passed: bool) -> Outcome {
        let problems = self.problems();
        Outcome {
            status: self.status.clone(),
            exit: self.exit,
            passed,
            message: if problems.is_empty() || passed {
                self.message.clone()
            } else {
                format!("{}\n{}", self.message, problems.trim_end())
            },
        }
    }
}

/// A background thread, stopped and joined on drop.
struct Background {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Background {
    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What the writer, the quiescer and the sync share with the test.
struct PrimarySide {
    lab_ns_p: String,
    root: PathBuf,
    db: Mutex<Option<Mariadb>>,
    /// Rows in the failover's current generation after the last completed
    /// sync cycle (the quiescer writes the count into the tree it pauses).
    synced_rows: Mutex<Option<u64>>,
    /// Rows when Maestro was stopped for a planned switchover: from then
    /// on a sync copies the stopped tree as it is.
    stopped_rows: Mutex<Option<u64>>,
    cycles: Mutex<u32>,
    sync_errors: Mutex<Vec<String>>,
}

impl PrimarySide {
    fn live(&self) -> PathBuf {
        self.root.join("primary/maestro")
    }
    fn datadir(&self) -> PathBuf {
        self.live().join("lui/database/data")
    }

    /// One write: a row in the DB and its job file, under the DB lock so
    /// that a sync cycle sees both or neither.
    fn write_once(&self) -> Result<(), String> {
        let guard = self.db.lock().unwrap();
        let Some(db) = guard.as_ref() else {
            return Ok(());
        };
        let id = db.try_sql(
            "INSERT INTO maestro.jobs (body) VALUES (REPEAT('m', 300)); SELECT LAST_INSERT_ID()",
        )?;
        fs::write(
            self.live().join(format!("lui/jobs/{}.xml", id.trim())),
            format!("<job id=\"{}\"/>\n", id.trim()),
        )
        .map_err(|e| e.to_string())
    }

    /// The quiesce hook's other end: when the hook asks (its request file),
    /// the writer is paused (the DB lock held), InnoDB left quiet,
    /// the row count written into the tree (so the generation says what it
    /// holds), and the hook told; the pause lasts until the unquiesce hook
    /// removes the request. A stopped Maestro is quiet as it is.
    fn answer_quiesce(&self, stop: &AtomicBool) -> Result<(), String> {
        let (request, done) = (
            self.root.join("primary/quiesce-request"),
            self.root.join("primary/quiesced"),
        );
        if !request.exists() || done.exists() {
            return Ok(());
        }
        let guard = self.db.lock().unwrap();
        let rows = match guard.as_ref() {
            Some(db) => {
                db.try_wait_quiet(Duration::from_secs(30))?;
                db.try_sql("SELECT COUNT(*) FROM maestro.jobs")?
                    .parse::<u64>()
                    .map_err(|e| format!("row count: {e}"))?
            }
            None => (*self.stopped_rows.lock().unwrap())
                .ok_or("the primary's database is not running")?,
        };
        fs::write(self.live().join("lui/sync-rows"), format!("{rows}\n"))
            .map_err(|e| e.to_string())?;
        fs::write(&done, "").map_err(|e| e.to_string())?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while request.exists() && !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = fs::remove_file(&done);
        drop(guard);
        Ok(())
    }

    /// `maestro-sync push` on the primary (bounded), with extra flags.
    fn push_with(&self, extra: &[String]) -> ToolRun {
        let mut args: Vec<String> = vec![
            "--config".into(),
            self.root.join("config-primary.toml").display().to_string(),
            "--state-dir".into(),
            self.root.join("state-p").display().to_string(),
            "--format".into(),
            "json".into(),
        ];
        args.extend(extra.iter().cloned());
        args.push("push".into());
        ToolRun::from_output(ns_run(&self.lab_ns_p, SYNC, &args, TOOL_BOUND))
    }

    /// The rows the failover's current generation holds, as its tree says.
    fn current_rows(&self) -> Option<u64> {
        fs::read_to_string(self.root.join("failover/gen/current/data/lui/sync-rows"))
            .ok()
            .and_then(|t| t.trim().parse().ok())
    }

    /// The last sync before the outage, cut: rsync (and its ssh) killed
    /// mid-transfer of a 6 MB file.
    fn push_cut(&self) -> ToolRun {
        use std::os::unix::process::CommandExt;
        let args: Vec<String> = vec![
            "--config".into(),
            self.root.join("config-primary.toml").display().to_string(),
            "--state-dir".into(),
            self.root.join("state-p").display().to_string(),
            "--format".into(),
            "json".into(),
            "--set".into(),
            "sync.rsync_options=[\"--bwlimit=1500\"]".into(),
            "push".into(),
        ];
        let child = Command::new("ip")
            .args(["netns", "exec", &self.lab_ns_p, SYNC])
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("maestro-sync runs");
        let gen = self.root.join("failover/gen").display().to_string();
        let deadline = Instant::now() + Duration::from_secs(30);
        std::thread::sleep(Duration::from_millis(500));
        while Instant::now() < deadline {
            let pid = fs::read_dir("/proc").ok().and_then(|rd| {
                rd.flatten().find_map(|e| {
                    let pid: i32 = e.file_name().to_str()?.parse().ok()?;
                    let cmd = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
                    let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                    (cmd.starts_with("rsync ") && cmd.contains("--link-dest") && cmd.contains(&gen))
                        .then_some(pid)
                })
            });
            if let Some(pid) = pid {
                std::thread::sleep(Duration::from_millis(1500));
                // The data rsync of the run this drill started, by its id.
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        ToolRun::from_output(child.wait_with_output().expect("maestro-sync ends"))
    }

    /// Whether the sync's cron entry is active: the schedule thread stands
    /// for cron, which runs nothing the fence commented out. No cron file
    /// (the outage drill): always.
    fn cron_active(&self) -> bool {
        match fs::read_to_string(self.root.join("primary/sync.cron")) {
            Err(_) => true,
            Ok(text) => text.lines().any(|l| {
                let l = l.trim();
                !l.is_empty() && !l.starts_with('#')
            }),
        }
    }

    fn cycle(&self) -> Result<(), String> {
        if !self.cron_active() {
            return Ok(());
        }
        let run = self.push_with(&[]);
        if run.exit != Some(0) {
            return Err(format!(
                "maestro-sync push: {}\n{}",
                run.message,
                run.problems()
            ));
        }
        *self.synced_rows.lock().unwrap() = self.current_rows();
        *self.cycles.lock().unwrap() += 1;
        Ok(())
    }
}

fn ns_run(ns: &str, program: &str, args: &[String], within: Duration) -> Output {
    Command::new("ip")
        .args(["netns", "exec", ns, "timeout", "-k", "2"])
        .arg(within.as_secs().max(1).to_string())
        .arg(program)
        .args(args)
        .env_remove("MAESTRO_HA_CONFIG")
        .env_remove("MAESTRO_HA_STATE_DIR")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} in {ns}: {e}"))
}

fn ssh_command(sshd: &Sshd) -> String {
    format!(
        "ssh -p {} -i {} -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o ConnectTimeout=3 -o ServerAliveInterval=2 -o ServerAliveCountMax=2",
        sshd.port(),
        sshd.user_key_path().display(),
        sshd.known_hosts().display()
    )
}

/// The whole drill. Field order is drop order: threads first, then the
/// databases, the sshds, the lab (namespaces) and the folder.
pub struct Drill {
    writer: Option<Background>,
    sync: Option<Background>,
    quiescer: Option<Background>,
    primary: Arc<PrimarySide>,
    failover_db: Option<Mariadb>,
    emulator: Option<Emulator>,
    sshd_p: Sshd,
    sshd_f: Sshd,
    _sshd_w: Sshd,
    _dns: Bind,
    _resolv: [NetnsEtc; 2],
    lab: Lab,
    dir: tempfile::TempDir,
    pub fault: Fault,
    pub mode: Mode,
    pub steps: Vec<StepRecord>,
    started: Instant,
    /// Rows written on the failover while it serves (carried back by the failback).
    failover_rows: Option<u64>,
    /// The local time noted before the database and Maestro were started
    /// on a host (`date '+%F %T'`, as the runbook notes it): the start-up
    /// logs count from the start that began after it.
    maestro_started_at: String,
}

impl Drill {
    /// Builds the lab, the primary with its database and writer, the
    /// replica, and starts the scheduled sync. Returns once two sync cycles
    /// have completed (bounded).
    pub fn new(fault: Fault) -> Drill {
        Drill::with_mode(Mode::Outage, fault)
    }

    /// A planned switchover, without a fault.
    pub fn planned() -> Drill {
        Drill::with_mode(Mode::Planned, Fault::None)
    }

    fn with_mode(mode: Mode, fault: Fault) -> Drill {
        let started = Instant::now();
        let mut lab = Lab::new();
        lab.add_host(P, 1);
        lab.add_host(F, 2);
        lab.add_host(W, 3);
        lab.add_host(N, 53);
        // Before the sshds start: `ip netns exec` binds these files at start.
        let resolv = [NetnsEtc::new(&lab, F), NetnsEtc::new(&lab, W)];
        for r in &resolv {
            r.write(
                "resolv.conf",
                &format!(
                    "nameserver {}\noptions timeout:1 attempts:2\n",
                    lab.addr(53)
                ),
            );
        }
        let sshd_p = Sshd::start_in_netns(&lab.ns(P), &lab.addr(1));
        let sshd_f = Sshd::start_in_netns(&lab.ns(F), &lab.addr(2));
        let sshd_w = Sshd::start_in_netns(&lab.ns(W), &lab.addr(3));
        let dir = tempfile::Builder::new()
            .prefix("maestro-drill-")
            .tempdir()
            .unwrap();
        let root = dir.path().to_path_buf();
        let key = tsig_key(&root, "maestro-ha");
        let rndc = tsig_key(&root, "rndc-key");
        let dns = Bind::primary(
            &lab,
            DNS_ZONE,
            N,
            &lab.addr(53),
            root.join("dns"),
            &key,
            "maestro-ha",
            &rndc,
            &[],
            &lab.addr(1),
        );
        make_install_tree(&root.join("primary/maestro"));
        // The failover runs Maestro from the current generation: its
        // install root is a link into it (dangling until the first sync).
        fs::create_dir_all(root.join("failover/gen")).unwrap();
        std::os::unix::fs::symlink(
            root.join("failover/gen/current/data"),
            root.join("failover/maestro"),
        )
        .unwrap();
        fs::create_dir_all(root.join("primary/stage")).unwrap();
        let primary = Arc::new(PrimarySide {
            lab_ns_p: lab.ns(P),
            root: root.clone(),
            db: Mutex::new(None),
            synced_rows: Mutex::new(None),
            stopped_rows: Mutex::new(None),
            cycles: Mutex::new(0),
            sync_errors: Mutex::new(Vec::new()),
        });
        let mut drill = Drill {
            writer: None,
            sync: None,
            quiescer: None,
            primary,
            failover_db: None,
            emulator: None,
            sshd_p,
            sshd_f,
            _sshd_w: sshd_w,
            _dns: dns,
            _resolv: resolv,
            lab,
            dir,
            fault,
            mode,
            steps: Vec::new(),
            started,
            failover_rows: None,
            maestro_started_at: String::new(),
        };
        drill.write_configs();
        drill.start_primary_database();
        drill.start_writer();
        drill.start_sync();
        drill.wait_for_cycles(2, Duration::from_secs(60));
        drill
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    fn path(&self, p: &str) -> PathBuf {
        self.root().join(p)
    }

    /// The TSIG key the failover signs its DNS update with: the one the
    /// DNS server knows, or (the fault) a copy with another secret.
    fn dns_key(&self) -> PathBuf {
        let key = self.path("maestro-ha.key");
        if self.fault != Fault::DnsUpdateRefused {
            return key;
        }
        let text = fs::read_to_string(&key).unwrap();
        let start = text.find("secret \"").unwrap() + 8;
        let end = start + text[start..].find('"').unwrap();
        let wrong = self.path("wrong-secret.key");
        fs::write(
            &wrong,
            format!(
                "{}{}{}",
                &text[..start],
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                &text[end..]
            ),
        )
        .unwrap();
        super::redirect_lab::private(&wrong);
        wrong
    }

    fn write_configs(&self) {
        let r = self.root().display().to_string();
        let p_addr = self.lab.addr(1);
        let f_addr = self.lab.addr(2);
        let (sp, sf, sw) = (&self.sshd_p, &self.sshd_f, &self._sshd_w);
        let primary_datadir = format!("{r}/primary/maestro/lui/database/data");
        let site = |install: &str| {
            format!(
                "[site]\ninstall_root = \"{r}/{install}\"\ndb_log_file = \"lui/database/data/mariadb.err\"\n\n"
            )
        };
        let fence = format!(
            "[fence]\nmarker_file = \"{r}/primary/fenced\"\nepoch_file = \"{r}/primary/epoch\"\ndeadline = \"20s\"\ncommand_timeout = \"5s\"\nfirewall = \"nft\"\npeer_epoch_command = \"{FENCE} --config {r}/config-failover.toml --state-dir {r}/state-f --format json epoch\"\n\n"
        );
        let failover = format!(
            "{site}[primary]\nhost = \"{p_addr}\"\nport = {pp}\nuser = \"{pu}\"\nidentity_file = \"{pk}\"\nknown_hosts = \"{pkh}\"\nconnect_timeout = \"2s\"\naddresses = [\"{p_addr}\"]\n\n\
[services]\nmanager = \"commands\"\nnames = [\"maestro\"]\n\
stop_command = \"{stop}\"\n\
disable_command = \"touch {r}/primary/{{name}}.disabled\"\n\
enable_command = \"rm -f {r}/primary/{{name}}.disabled\"\n\
active_command = \"{active}\"\n\
enabled_command = \"test ! -e {r}/primary/{{name}}.disabled\"\n\n\
[sync]\nauthorized_keys = \"{fak}\"\nkey_match = \"maestro-ha-test\"\nprocess_name = \"\"\ngenerations = \"{r}/failover/gen\"\nkeep = 3\nio_timeout = \"5s\"\nlock_wait = \"10s\"\n{cron}\n\
{fence}\
[watch]\ntarget = \"{p_addr}\"\ntcp_ports = [{pp}, {DB_PORT}]\nicmp = true\nprobe_timeout = \"1s\"\nthreshold = \"{THRESHOLD_SECS}s\"\ninterval = \"1s\"\n\n\
[[watch.witnesses]]\nhost = \"{w_addr}\"\nport = {wp}\nuser = \"{wu}\"\nidentity_file = \"{wk}\"\nknown_hosts = \"{wkh}\"\nconnect_timeout = \"2s\"\ncommand = \"{WATCH}\"\n\n\
[redirect]\nmethods = [\"dns\"]\naddresses = [\"{f_addr}\"]\nstep_timeout = \"2s\"\ndns_zone = \"{DNS_ZONE}\"\ndns_server = \"{n_addr}\"\ndns_names = [\"maestro.{DNS_ZONE}\"]\ndns_key = {{ file = \"{dns_key}\" }}\ndns_wait = \"5s\"\n",
            site = site("failover/maestro"),
            n_addr = self.lab.addr(53),
            dns_key = self.dns_key().display(),
            stop = stop_command(&primary_datadir),
            active = active_command(&primary_datadir),
            cron = if self.mode == Mode::Planned {
                format!("cron_file = \"{r}/primary/sync.cron\"\n")
            } else {
                String::new()
            },
            pp = sp.port(),
            pu = sp.user(),
            pk = sp.user_key_path().display(),
            pkh = sp.known_hosts().display(),
            fak = sf.dir().join("authorized_keys").display(),
            w_addr = self.lab.addr(3),
            wp = sw.port(),
            wu = sw.user(),
            wk = sw.user_key_path().display(),
            wkh = sw.known_hosts().display(),
        );
        fs::write(self.path("config-failover.toml"), failover).unwrap();
        // The primary's sync: a `command` snapshot whose quiesce hook asks
        // the quiescer thread to pause the writer until MariaDB has flushed.
        let request = format!("{r}/primary/quiesce-request");
        let quiesced = format!("{r}/primary/quiesced");
        let sync = format!(
            "[sync]\nsnapshot = \"command\"\nsnapshot_dir = \"{r}/primary/stage/maestro\"\n\
quiesce_command = \"touch {request}; i=0; while [ ! -e {quiesced} ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; test -e {quiesced}\"\n\
unquiesce_command = \"rm -f {request}\"\n\
hook_timeout = \"40s\"\nremote_command = \"{SYNC} --config {r}/config-failover.toml --state-dir {r}/state-f\"\n\
io_timeout = \"5s\"\nlock_wait = \"10s\"\ndeadline = \"50s\"\n\n"
        );
        let primary = format!(
            "{site}[primary]\nhost = \"{p_addr}\"\n\n[failover]\nhost = \"{f_addr}\"\nport = {fp}\nuser = \"{fu}\"\nidentity_file = \"{fk}\"\nknown_hosts = \"{fkh}\"\nconnect_timeout = \"2s\"\n\n{sync}{fence}",
            site = site("primary/maestro"),
            fp = sf.port(),
            fu = sf.user(),
            fk = sf.user_key_path().display(),
            fkh = sf.known_hosts().display(),
        );
        fs::write(self.path("config-primary.toml"), primary).unwrap();
        if self.mode == Mode::Planned {
            // The primary's sync schedule, as cron has it; the schedule
            // thread runs only while this entry is active.
            fs::write(
                self.path("primary/sync.cron"),
                format!("* * * * * root maestro-sync --config {r}/config-primary.toml push\n"),
            )
            .unwrap();
        }
    }

    fn start_primary_database(&self) {
        let datadir = self.primary.datadir();
        Mariadb::install(&datadir, &["--innodb-log-file-size=16M"]);
        let db = Mariadb::start_on(
            &datadir,
            Some(&self.lab.ns(P)),
            &self.lab.addr(1),
            DB_PORT,
            &datadir.join("mariadb.err"),
            &db_options(),
        )
        .unwrap_or_else(|e| panic!("the primary's MariaDB: {e}"));
        db.sql("CREATE DATABASE maestro");
        db.sql("CREATE TABLE maestro.jobs (id INT PRIMARY KEY AUTO_INCREMENT, body TEXT) ENGINE=InnoDB");
        db.sql("CREATE TABLE maestro.mailings (id INT PRIMARY KEY AUTO_INCREMENT, name TEXT) ENGINE=InnoDB");
        *self.primary.db.lock().unwrap() = Some(db);
    }

    fn start_writer(&mut self) {
        let stop = Arc::new(AtomicBool::new(false));
        let (side, flag) = (self.primary.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                if let Err(e) = side.write_once() {
                    side.sync_errors
                        .lock()
                        .unwrap()
                        .push(format!("writer: {e}"));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        self.writer = Some(Background {
            stop,
            handle: Some(handle),
        });
    }

    /// The scheduled sync: a cycle every second while the primary is up;
    /// and the quiescer, which answers the sync's quiesce hook (until the
    /// drill ends: the faults run a last sync after the schedule stopped).
    fn start_sync(&mut self) {
        let stop = Arc::new(AtomicBool::new(false));
        let (side, flag) = (self.primary.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                if let Err(e) = side.answer_quiesce(&flag) {
                    side.sync_errors
                        .lock()
                        .unwrap()
                        .push(format!("quiesce: {e}"));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        self.quiescer = Some(Background {
            stop,
            handle: Some(handle),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (side, flag) = (self.primary.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                if let Err(e) = side.cycle() {
                    side.sync_errors.lock().unwrap().push(format!("sync: {e}"));
                }
                let next = Instant::now() + Duration::from_secs(1);
                while Instant::now() < next && !flag.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        });
        self.sync = Some(Background {
            stop,
            handle: Some(handle),
        });
    }

    fn wait_for_cycles(&self, n: u32, within: Duration) {
        let deadline = Instant::now() + within;
        while *self.primary.cycles.lock().unwrap() < n {
            let errors = self.primary.sync_errors.lock().unwrap().clone();
            assert!(
                Instant::now() < deadline,
                "{n} sync cycles did not complete within {within:?}: {errors:#?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let errors = self.primary.sync_errors.lock().unwrap().clone();
        assert!(errors.is_empty(), "the sync schedule failed: {errors:#?}");
    }

    /// Record a step. Returns whether the runbook may go on.
    pub fn step(
        &mut self,
        step: &str,
        tool: &str,
        body: impl FnOnce(&mut Drill) -> Outcome,
    ) -> bool {
        let started = Instant::now();
        let o = body(self);
        let passed = o.passed;
        self.steps.push(StepRecord {
            step: step.into(),
            tool: tool.into(),
            status: o.status,
            exit: o.exit,
            took: started.elapsed(),
            passed,
            message: o.message,
        });
        passed
    }

    fn tool(&self, host: &str, bin: &str, config: &str, state: &str, args: &[&str]) -> ToolRun {
        let mut all: Vec<String> = vec![
            "--config".into(),
            self.path(config).display().to_string(),
            "--state-dir".into(),
            self.path(state).display().to_string(),
            "--format".into(),
            "json".into(),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        ToolRun::from_output(self.lab.run_bounded(host, bin, &all, TOOL_BOUND))
    }

    fn on_failover(&self, bin: &str, args: &[&str]) -> ToolRun {
        self.on_host(F, bin, args)
    }

    fn on_primary(&self, bin: &str, args: &[&str]) -> ToolRun {
        self.on_host(P, bin, args)
    }

    /// A tool on `host` with that host's config file and state folder.
    fn on_host(&self, host: &str, bin: &str, args: &[&str]) -> ToolRun {
        let (config, state) = host_files(host);
        self.tool(host, bin, config, state, args)
    }

    /// The host's address in the lab.
    fn host_addr(&self, host: &str) -> String {
        self.lab.addr(if host == F { 2 } else { 1 })
    }

    // ---- the steps ------------------------------------------------------

    /// The outage: the primary's link goes down and it loses power (the
    /// database killed, the writer and the sync stopped). The faults that
    /// spoil the last sync run it here, before the outage.
    pub fn outage(&mut self) {
        if let Some(mut s) = self.sync.take() {
            s.stop();
        }
        match self.fault {
            Fault::RsyncCut => {
                let big = self.primary.live().join("lui/attachments/campaign-42.bin");
                let data: Vec<u8> = (0..6 * 1024 * 1024u32)
                    .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                    .collect();
                fs::write(big, data).unwrap();
                self.step("last sync (cut off)", "maestro-sync push", |d| {
                    let run = d.primary.push_cut();
                    let mut o = run.outcome(run.exit == Some(2));
                    o.message = format!("{}\n{}", run.message, run.problems().trim_end());
                    o
                });
            }
            Fault::DbTorn => {
                self.step("last sync (torn copy)", "maestro-sync push", |d| {
                    let run = d
                        .primary
                        .push_with(&["--set".into(), d.torn_copy_command()]);
                    let problems = run.problems();
                    let mut o = run.outcome(run.exit == Some(2) && problems.contains("innodb"));
                    o.message = format!("{}\n{}", run.message, problems.trim_end());
                    o
                });
            }
            Fault::TableMissing => {
                if let Some(db) = self.primary.db.lock().unwrap().as_ref() {
                    db.sql("DROP TABLE maestro.mailings");
                }
                self.primary.cycle().unwrap();
            }
            Fault::IniPinsOldPrimary => {
                // Someone wrote the primary's own address where a name belongs.
                let ini = self.primary.live().join("lui/lui.ini");
                let text = fs::read_to_string(&ini).unwrap();
                fs::write(
                    &ini,
                    text.replace("DBHost=localhost", &format!("DBHost={}", self.lab.addr(1))),
                )
                .unwrap();
                self.primary.cycle().unwrap();
            }
            _ => {}
        }
        if self.fault == Fault::IcmpBlocked {
            // Not an outage: a firewall rule drops ping to the primary.
            self.lab.nft(P, "table inet noping {\n chain input {\n type filter hook input priority 0;\n icmp type echo-request drop\n }\n}\n");
            return;
        }
        self.lab.link(P, false);
        if let Some(mut w) = self.writer.take() {
            w.stop();
        }
        if let Some(db) = self.primary.db.lock().unwrap().as_mut() {
            db.crash();
        }
    }

    /// The fault's copy: the redo log first, then commits and flushes,
    /// then the tablespaces; the copy mixes two moments (`--set` of the
    /// sync's copy_command for one run).
    fn torn_copy_command(&self) -> String {
        let socket = self
            .primary
            .db
            .lock()
            .unwrap()
            .as_ref()
            .map(Mariadb::socket)
            .expect("the primary's database runs");
        let m = format!(
            "{} --no-defaults -uroot --socket={} --connect-timeout=5 -N -B",
            find(&["mariadb", "mysql"]).display(),
            socket.display()
        );
        format!(
            "sync.copy_command=set -e; rsync -a --delete \"$MAESTRO_SYNC_SOURCE/\" \"$MAESTRO_SYNC_COPY/\"; sleep 0.5; \
             for r in 0 1 2; do {m} -e \"UPDATE maestro.jobs SET body = REPEAT('$r', 300)\"; done; {m} -e 'FLUSH TABLES'; \
             i=0; while [ \"$({m} -e \"SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='INNODB_BUFFER_POOL_PAGES_DIRTY'\")\" != 0 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; \
             rsync -a --delete --exclude=/lui/database/data/ib_logfile0 \"$MAESTRO_SYNC_SOURCE/\" \"$MAESTRO_SYNC_COPY/\""
        )
    }

    /// maestro-watch once, every second, until DOWN or the threshold plus
    /// 10 s have passed.
    pub fn confirm_outage(&mut self) -> bool {
        self.step("outage confirmed", "maestro-watch once", |d| {
            let deadline = Instant::now() + Duration::from_secs(THRESHOLD_SECS + 10);
            loop {
                let run = d.on_failover(WATCH, &["once"]);
                let decision = run
                    .records
                    .iter()
                    .find(|r| r["type"] == "check" && r["name"] == "decision")
                    .map(|r| {
                        format!(
                            "{}: {}",
                            r["details"]["state"].as_str().unwrap_or("?"),
                            r["message"].as_str().unwrap_or("")
                        )
                    })
                    .unwrap_or_else(|| run.message.clone());
                if run.exit == Some(2) && decision.starts_with("DOWN") {
                    let mut o = run.outcome(true);
                    o.message = decision;
                    return o;
                }
                if Instant::now() > deadline || ![Some(0), Some(1)].contains(&run.exit) {
                    let mut o = run.outcome(false);
                    o.message = format!("no outage confirmed: {decision}");
                    return o;
                }
                std::thread::sleep(Duration::from_millis(700));
            }
        })
    }

    pub fn fence(&mut self) -> bool {
        self.step(
            "fence the primary",
            "maestro-fence fence --level isolate",
            |d| {
                let run = d.on_failover(FENCE, &["fence", "--level", "isolate"]);
                run.outcome(run.exit == Some(0))
            },
        )
    }

    /// A planned switchover, the primary up: Maestro stops there (the
    /// writer, then a clean MariaDB shutdown), the scheduled sync copies the
    /// stopped tree once more, then the fence works over SSH: services
    /// stopped and disabled, the sync's cron entry commented out, the
    /// marker written, and all of it read back.
    pub fn switchover(&mut self) -> bool {
        self.step("stop Maestro on the primary", "mariadb SHUTDOWN", |d| {
            if let Some(mut w) = d.writer.take() {
                w.stop();
            }
            let mut guard = d.primary.db.lock().unwrap();
            let Some(db) = guard.as_mut() else {
                return Outcome::failed("the primary's database is not running");
            };
            let rows = match db.try_sql("SELECT COUNT(*) FROM maestro.jobs") {
                Ok(r) => r,
                Err(e) => return Outcome::failed(e),
            };
            db.shutdown();
            *guard = None;
            *d.primary.stopped_rows.lock().unwrap() = rows.parse().ok();
            Outcome::ok(format!("clean shutdown with {rows} rows"))
        }) && self.step("last sync", "rsync (scheduled)", |d| {
            // Two more cycles: the second one started after the stop.
            let want = *d.primary.cycles.lock().unwrap() + 2;
            let deadline = Instant::now() + Duration::from_secs(30);
            while *d.primary.cycles.lock().unwrap() < want {
                if Instant::now() > deadline {
                    return Outcome::failed(format!(
                        "no sync cycle completed within 30 s: {:?}",
                        d.primary.sync_errors.lock().unwrap()
                    ));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let synced = *d.primary.synced_rows.lock().unwrap();
            let stopped = *d.primary.stopped_rows.lock().unwrap();
            if synced == stopped {
                Outcome::ok(format!("{synced:?} rows copied, as stopped"))
            } else {
                Outcome::failed(format!("synced {synced:?} rows, stopped with {stopped:?}"))
            }
        }) && self.step(
            "fence the primary",
            "maestro-fence fence --level ssh",
            |d| {
                let run = d.on_failover(FENCE, &["fence", "--level", "ssh"]);
                run.outcome(run.exit == Some(0))
            },
        )
    }

    /// After a planned switchover the primary is up but fenced: its
    /// scheduled sync runs no more and its Maestro may not start.
    pub fn primary_stays_out(&mut self) -> bool {
        let passed = self.step("primary's scheduled sync is off", "cron", |d| {
            let before = *d.primary.cycles.lock().unwrap();
            std::thread::sleep(Duration::from_millis(2500));
            let after = *d.primary.cycles.lock().unwrap();
            if d.primary.cron_active() || after != before {
                Outcome::failed(format!(
                    "the sync still runs: {} cycle(s) in 2.5 s, cron entry active: {}",
                    after - before,
                    d.primary.cron_active()
                ))
            } else {
                Outcome::ok("its cron entry is commented out; no cycle in 2.5 s")
            }
        }) && self.guard_refuses();
        // The failback copies by hand; the schedule resumes after it.
        if let Some(mut s) = self.sync.take() {
            s.stop();
        }
        passed
    }

    /// The primary's link comes back (fault, or the failback): its sync
    /// push must not get through the fence.
    pub fn primary_returns(&mut self) -> bool {
        self.lab.link(P, true);
        self.step("primary's sync is blocked", "maestro-sync push", |d| {
            let run = d.primary.push_with(&[]);
            let passed = run.exit == Some(2);
            let mut o = run.outcome(passed);
            o.status = if passed {
                "refused".into()
            } else {
                run.status.clone()
            };
            o.message = if passed {
                format!("refused as it must be: {}", run.message)
            } else {
                format!(
                    "the returning primary's sync was not refused: {}",
                    run.message
                )
            };
            o
        }) && self.guard_refuses()
    }

    /// `maestro-fence guard` on the primary must refuse: exit 2.
    pub fn guard_refuses(&mut self) -> bool {
        self.step(
            "primary may not start Maestro",
            "maestro-fence guard",
            |d| {
                let run = d.on_primary(FENCE, &["guard"]);
                run.outcome(run.exit == Some(2))
            },
        )
    }

    /// The runbook's step 2: the tracker's name moves to the failover (a
    /// TSIG-signed update of the lab's BIND, verified on its name server),
    /// then nothing may still point at the old primary: the replica's INI
    /// files, the name from here and from the witness.
    pub fn redirect(&mut self) -> bool {
        self.step("traffic to the failover", "maestro-redirect move", |d| {
            let run = d.on_failover(REDIRECT, &["move"]);
            run.outcome(run.exit == Some(0))
        }) && self.step(
            "nothing points at the old primary",
            "maestro-redirect check",
            |d| {
                let run = d.on_failover(REDIRECT, &["check"]);
                run.outcome(run.exit == Some(0))
            },
        )
    }

    /// The failback's redirect: the name points at the primary again.
    pub fn redirect_back(&mut self) -> bool {
        self.step(
            "traffic back to the primary",
            "maestro-redirect undo",
            |d| {
                let run = d.on_failover(REDIRECT, &["undo"]);
                run.outcome(run.exit == Some(0))
            },
        )
    }

    pub fn verify_replica(&mut self) -> bool {
        self.step(
            "replica is one point in time",
            "maestro-snapshot-verify check",
            |d| {
                // The current generation, through the failover's install
                // root (a link into it), against its manifest.
                let manifest = d
                    .path("failover/gen/current/manifest.jsonl")
                    .display()
                    .to_string();
                let root = format!("data={}", d.path("failover/maestro").display());
                let run =
                    d.on_failover(VERIFY, &["check", "--root", &root, "--manifest", &manifest]);
                run.outcome(run.exit == Some(0))
            },
        )
    }

    pub fn prestart_gate(&mut self) -> bool {
        self.step("pre-start gate", "maestro-fence check", |d| {
            let run = d.on_failover(FENCE, &["check"]);
            run.outcome(run.exit == Some(0))
        })
    }

    pub fn start_failover_database(&mut self) -> bool {
        self.step("MariaDB starts on the failover", "mariadbd", |d| {
            // A Maestro start pins the current generation first: no sync
            // replaces or prunes it while Maestro runs from it.
            let hold = d.on_failover(SYNC, &["hold"]);
            if hold.exit != Some(0) {
                return hold.outcome(false);
            }
            d.maestro_started_at = local_time_now();
            let datadir = d.path("failover/maestro/lui/database/data");
            match Mariadb::start_on(
                &datadir,
                Some(&d.lab.ns(F)),
                &d.lab.addr(2),
                DB_PORT,
                &datadir.join("mariadb.err"),
                &db_options(),
            ) {
                Err(e) => Outcome::failed(e),
                Ok(db) => {
                    let rows = db.try_sql("SELECT COUNT(*) FROM maestro.jobs");
                    let synced = *d.primary.synced_rows.lock().unwrap();
                    let o = match (rows, synced) {
                        (Ok(r), Some(s)) if r == s.to_string() => {
                            // Production on the failover: new rows to carry back.
                            let more = db.try_sql("INSERT INTO maestro.jobs (body) VALUES ('on the failover'), ('on the failover'); SELECT COUNT(*) FROM maestro.jobs");
                            d.failover_rows = more.ok().and_then(|m| m.trim().parse().ok());
                            Outcome::ok(format!("{r} rows, as synced; serving"))
                        }
                        (Ok(r), s) => Outcome::failed(format!(
                            "{r} rows, the last sync had {s:?}"
                        )),
                        (Err(e), _) => Outcome::failed(format!("cannot read the jobs: {e}")),
                    };
                    d.failover_db = Some(db);
                    o
                }
            }
        })
    }

    /// The start-up logs, followed until each says ready (bounded): the
    /// database's error log, then the LUI's LUI-yyyymmdd.LOG, each from the
    /// start that began after the time noted before starting them (the
    /// logs hold the primary's earlier starts too). A critical finding
    /// stops the runbook.
    pub fn startup_logs(&mut self, host: &'static str) -> bool {
        [("db", "startup logs (db)"), ("lui", "startup logs (LUI)")]
            .into_iter()
            .all(|(component, step)| {
                self.step(step, "maestro-logscan --follow --until-ready", |d| {
                    let since = d.maestro_started_at.clone();
                    let args = [
                        "--component",
                        component,
                        "--follow",
                        "--until-ready",
                        "--timeout",
                        "30s",
                        "--since-start-after",
                        &since,
                    ];
                    let run = d.on_host(host, LOGSCAN, &args);
                    run.outcome(run.exit == Some(0))
                })
            })
    }

    /// The Maestro emulator (emulator/, built by `cargo build -p
    /// maestro-emulator`, next to the tools) on a host: the trigger URL, the
    /// tracker on port 8080 and the bounce listener, delivering the mailing
    /// into the seed Maildir. It writes the LUI's LUI-yyyymmdd.LOG into the
    /// host's tree and checks the tables it needs in the host's MariaDB at
    /// start-up, as the LUI does. The tracker's name is `maestro.example.org`,
    /// resolved by the host's own /etc/hosts (`/etc/netns/NS/hosts`).
    pub fn start_emulator(&mut self, host: &'static str) -> bool {
        self.step("the emulator starts", "maestro-emulator", |d| {
            d.emulator = None;
            let bin = match emulator_binary() {
                Ok(b) => b,
                Err(e) => return Outcome::failed(e),
            };
            let addr = d.host_addr(host);
            // Where the tracker's name resolves on this host: here, or (the
            // fault) still the old primary.
            let points_to = if d.fault == Fault::TrackerDnsStale && host == F {
                d.lab.addr(1)
            } else {
                addr.clone()
            };
            let etc = PathBuf::from("/etc/netns").join(d.lab.ns(host));
            fs::create_dir_all(&etc).unwrap();
            fs::write(
                etc.join("hosts"),
                format!("127.0.0.1 localhost\n{points_to} maestro.example.org\n"),
            )
            .unwrap();
            let maildir = d.path("seed/Maildir");
            for sub in ["new", "cur", "tmp"] {
                fs::create_dir_all(maildir.join(sub)).unwrap();
            }
            fs::write(d.path("trigger.token"), "drill-trigger-token\n").unwrap();
            fs::write(d.path("report.token"), "drill-report-token\n").unwrap();
            let out = d.path(&format!("emulator-{host}.out"));
            let (tree, socket) = if host == F {
                (
                    d.path("failover/maestro"),
                    d.failover_db.as_ref().map(Mariadb::socket),
                )
            } else {
                (
                    d.primary.live(),
                    d.primary.db.lock().unwrap().as_ref().map(Mariadb::socket),
                )
            };
            let Some(socket) = socket else {
                return Outcome::failed("the host's MariaDB is not running");
            };
            let db_check = format!(
                "{} --no-defaults -uroot --socket={} --connect-timeout=5 -N -B -e 'SELECT COUNT(*) FROM maestro.jobs; SELECT COUNT(*) FROM maestro.mailings'",
                find(&["mariadb", "mysql"]).display(),
                socket.display()
            );
            let child = Command::new("ip")
                .args(["netns", "exec", &d.lab.ns(host)])
                .arg(&bin)
                .args(["--http-listen", &format!("{addr}:8080")])
                .args(["--smtp-listen", &format!("{addr}:2525")])
                .arg("--trigger-token-file")
                .arg(d.path("trigger.token"))
                .arg("--report-token-file")
                .arg(d.path("report.token"))
                .args(["--seed", "seed@seed.example", "--maildir"])
                .arg(&maildir)
                .args(["--tracker-base", "http://maestro.example.org:8080"])
                .args(["--link-target", "https://www.example.org/welcome"])
                .arg("--log-dir")
                .arg(tree.join("lui/logs"))
                .args(["--db-check-command", &db_check])
                .stdin(Stdio::null())
                .stdout(fs::File::create(&out).unwrap())
                .stderr(Stdio::null())
                .spawn();
            let child = match child {
                Ok(c) => c,
                Err(e) => return Outcome::failed(format!("cannot start the emulator: {e}")),
            };
            d.emulator = Some(Emulator { child, etc });
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if fs::read_to_string(&out).is_ok_and(|t| t.contains("http=")) {
                    return Outcome::ok(format!("on {addr}:8080 and :2525"));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Outcome::failed("the emulator did not say it listens within 10 s")
        })
    }

    /// A test mailing through the emulator: trigger, delivery into the
    /// seed mailbox, the tracker's DNS and redirect, a bounce, the counts.
    pub fn smoketest(&mut self, host: &'static str) -> bool {
        self.step("test mailing", "maestro-smoketest all", |d| {
            let addr = d.host_addr(host);
            // The fault: a mailbox on an address nobody answers on.
            let (mailbox, password) = if d.fault == Fault::MailboxUnreachable {
                let pw = d.path("seed.pw");
                fs::write(&pw, "drill-seed-password\n").unwrap();
                let mut perm = fs::metadata(&pw).unwrap().permissions();
                std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o600);
                fs::set_permissions(&pw, perm).unwrap();
                (
                    "imaps://seed@198.18.0.99/INBOX".to_string(),
                    format!("mailbox_password = {{ file = \"{}\" }}\n", pw.display()),
                )
            } else {
                (
                    format!("maildir:{}", d.path("seed/Maildir").display()),
                    String::new(),
                )
            };
            let config = d.path(&format!("config-smoketest-{host}.toml"));
            let (host_config, state) = host_files(host);
            let base = fs::read_to_string(d.path(host_config)).unwrap();
            fs::write(
                &config,
                format!(
                    "{base}\n[smoketest]\ntrigger_url = \"http://{addr}:8080/lui/externalAction.do\"\ntrigger_token = {{ file = \"{t}\" }}\nmailbox = \"{mailbox}\"\nexpect_targets = [\"https://www.example.org/welcome\"]\nreport_url = \"http://{addr}:8080/lui/externalAction.do\"\nreport_token = {{ file = \"{r}\" }}\nsmtp = \"{addr}:2525\"\ntimeout = \"15s\"\n{password}",
                    t = d.path("trigger.token").display(),
                    r = d.path("report.token").display(),
                ),
            )
            .unwrap();
            let name = config.file_name().unwrap().to_string_lossy().into_owned();
            let run = d.tool(host, SMOKETEST, &name, state, &["all", "--io-timeout", "3s"]);
            run.outcome(run.exit == Some(0))
        })
    }

    // ---- failback -------------------------------------------------------

    pub fn stop_failover(&mut self) -> bool {
        self.step(
            "stop Maestro on the failover",
            "mariadb SHUTDOWN",
            |d| match d.failover_db.as_mut() {
                None => Outcome::failed("not running"),
                Some(db) => {
                    db.shutdown();
                    d.failover_db = None;
                    d.emulator = None;
                    Outcome::ok("clean shutdown")
                }
            },
        )
    }

    pub fn unfence(&mut self) -> bool {
        self.step("unfence", "maestro-fence unfence --resume-sync", |d| {
            let run = d.on_failover(FENCE, &["unfence", "--resume-sync"]);
            run.outcome(run.exit == Some(0))
        })
    }

    pub fn sync_back(&mut self) -> bool {
        self.step(
            "capture the failover",
            "maestro-snapshot-verify capture",
            |d| {
                let out = d
                    .path("failover/failback-manifest.jsonl")
                    .display()
                    .to_string();
                let run = d.on_failover(VERIFY, &["capture", "--out", &out]);
                run.outcome(run.exit == Some(0))
            },
        ) && self.step("sync back", "rsync", |d| {
            let ssh = ssh_command(&d.sshd_p);
            let remote = |p: &str| {
                format!(
                    "{}@{}:{}",
                    d.sshd_p.user(),
                    d.lab.addr(1),
                    d.path(p).display()
                )
            };
            for (from, to) in [
                (
                    format!("{}/", d.path("failover/maestro").display()),
                    remote("primary/maestro/"),
                ),
                (
                    d.path("failover/failback-manifest.jsonl")
                        .display()
                        .to_string(),
                    remote("primary/failback-manifest.jsonl"),
                ),
            ] {
                let out = ns_run(
                    &d.lab.ns(F),
                    "rsync",
                    &[
                        "-a".into(),
                        "--delete".into(),
                        "-e".into(),
                        ssh.clone(),
                        from,
                        to,
                    ],
                    Duration::from_secs(60),
                );
                if !out.status.success() {
                    return Outcome {
                        status: "failed".into(),
                        exit: out.status.code(),
                        passed: false,
                        message: String::from_utf8_lossy(&out.stderr).into_owned(),
                    };
                }
            }
            Outcome::ok("the failover's files copied back")
        })
    }

    pub fn verify_primary(&mut self) -> bool {
        self.step(
            "primary is one point in time",
            "maestro-snapshot-verify check",
            |d| {
                let manifest = d
                    .path("primary/failback-manifest.jsonl")
                    .display()
                    .to_string();
                let run = d.on_primary(VERIFY, &["check", "--manifest", &manifest]);
                run.outcome(run.exit == Some(0))
            },
        )
    }

    pub fn guard_allows(&mut self) -> bool {
        self.step("primary may start Maestro", "maestro-fence guard", |d| {
            let run = d.on_primary(FENCE, &["guard"]);
            run.outcome(run.exit == Some(0))
        })
    }

    pub fn start_primary_again(&mut self) -> bool {
        self.step("MariaDB starts on the primary", "mariadbd", |d| {
            d.maestro_started_at = local_time_now();
            let datadir = d.primary.datadir();
            match Mariadb::start_on(
                &datadir,
                Some(&d.lab.ns(P)),
                &d.lab.addr(1),
                DB_PORT,
                &datadir.join("mariadb.err"),
                &db_options(),
            ) {
                Err(e) => Outcome::failed(e),
                Ok(db) => {
                    let rows = db.try_sql("SELECT COUNT(*) FROM maestro.jobs");
                    let want = d.failover_rows;
                    let o = match rows {
                        Ok(r) if want.is_some_and(|w| r == w.to_string()) => {
                            Outcome::ok(format!("{r} rows: the failover's writes came back"))
                        }
                        Ok(r) => Outcome::failed(format!("{r} rows, the failover had {want:?}")),
                        Err(e) => Outcome::failed(e),
                    };
                    *d.primary.db.lock().unwrap() = Some(db);
                    o
                }
            }
        })
    }

    /// The whole runbook: failover, then failback. Stops at the first step
    /// that does not pass.
    pub fn run(&mut self) {
        let fenced = match self.mode {
            Mode::Outage => {
                self.outage();
                self.confirm_outage()
                    && self.fence()
                    && (self.fault != Fault::PrimaryReturns || self.primary_returns())
            }
            Mode::Planned => self.switchover(),
        };
        let failover = fenced
            && self.redirect()
            && self.verify_replica()
            && self.prestart_gate()
            && self.start_failover_database()
            && self.start_emulator(F)
            && self.startup_logs(F)
            && self.smoketest(F);
        if !failover {
            return;
        }
        let kept_out = match self.mode {
            Mode::Outage => self.fault == Fault::PrimaryReturns || self.primary_returns(),
            Mode::Planned => self.primary_stays_out(),
        };
        let _ = kept_out
            && self.stop_failover()
            && self.unfence()
            && self.sync_back()
            && self.verify_primary()
            && self.guard_allows()
            && self.redirect_back()
            && self.start_primary_again()
            && self.start_emulator(P)
            && self.startup_logs(P)
            && self.smoketest(P);
    }

    /// The first step that did not pass.
    pub fn stopped_at(&self) -> Option<&StepRecord> {
        self.steps.iter().find(|s| !s.passed)
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "drill: fault {:?}, {:.1}s in all (set-up included)",
            self.fault,
            self.started.elapsed().as_secs_f64()
        );
        let _ = writeln!(
            out,
            "{:<3} {:<32} {:<40} {:<10} {:>4} {:>7}",
            "#", "step", "tool", "status", "exit", "time"
        );
        for (i, s) in self.steps.iter().enumerate() {
            let _ = writeln!(
                out,
                "{:<3} {:<32} {:<40} {:<10} {:>4} {:>6.1}s{}",
                i + 1,
                s.step,
                s.tool,
                s.status,
                s.exit.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
                s.took.as_secs_f64(),
                if s.passed { "" } else { "  <- STOP" }
            );
            if !s.passed || s.status != "OK" {
                for line in s.message.lines().take(8) {
                    let _ = writeln!(out, "      {line}");
                }
            }
        }
        out
    }
}

/// A pattern for `pgrep -f`/`pkill -f` that finds the primary's MariaDB
/// but not the shell running the command (whose own command line holds the
/// pattern: `[r]` matches `r`, but not the text `[r]`).
fn datadir_pattern(datadir: &str) -> String {
    format!("'--datadi[r]={datadir}'")
}

/// The primary's "Maestro is running" probe for the fence's commands manager.
fn active_command(datadir: &str) -> String {
    format!("pgrep -f -- {} >/dev/null", datadir_pattern(datadir))
}

/// Stops the primary's "Maestro" (its MariaDB) cleanly, waits up to 30 s.
/// No double quote or backslash: it goes into a TOML string as it is.
fn stop_command(datadir: &str) -> String {
    let p = datadir_pattern(datadir);
    format!("pkill -TERM -f -- {p}; i=0; while pgrep -f -- {p} >/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; ! pgrep -f -- {p} >/dev/null")
}

/// The config file and the state folder of a host's tools.
fn host_files(host: &str) -> (&'static str, &'static str) {
    if host == F {
        ("config-failover.toml", "state-f")
    } else {
        ("config-primary.toml", "state-p")
    }
}

fn db_options() -> Vec<&'static str> {
    vec![
        "--innodb-max-dirty-pages-pct=0",
        "--innodb-max-dirty-pages-pct-lwm=0",
        "--innodb-log-file-size=16M",
        // The statistics thread writes its tables by itself, whenever enough
        // rows changed: the quiesce hook could not hold it off.
        "--innodb-stats-auto-recalc=OFF",
    ]
}

impl Drop for Drill {
    fn drop(&mut self) {
        eprintln!("{}", self.table());
        if let Some(w) = self.writer.as_mut() {
            w.stop();
        }
        if let Some(s) = self.sync.as_mut() {
            s.stop();
        }
        if let Some(q) = self.quiescer.as_mut() {
            q.stop();
        }
        if let Some(db) = self.primary.db.lock().unwrap().as_mut() {
            db.crash();
        }
        if let Some(db) = self.failover_db.as_mut() {
            db.crash();
        }
        self.emulator = None;
        let _ = find(&["mariadbd", "mysqld"]);
    }
}

/// The emulator's binary, next to the tools. It belongs to another crate
/// of the workspace, which `cargo test` of this package does not build, so
/// it is built here once (bounded) when it is missing.
pub fn emulator_binary() -> Result<PathBuf, String> {
    static BUILT: std::sync::OnceLock<Result<PathBuf, String>> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let bin = Path::new(FENCE).with_file_name("maestro-emulator");
            if bin.exists() {
                return Ok(bin);
            }
            let target_dir = bin
                .parent()
                .and_then(Path::parent)
                .ok_or("no target folder")?
                .to_path_buf();
            let out = Command::new("timeout")
                .args(["-k", "5", "600"])
                .arg(env!("CARGO"))
                .args(["build", "--locked", "-p", "maestro-emulator"])
                .env("CARGO_TARGET_DIR", &target_dir)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output()
                .map_err(|e| format!("cannot run cargo: {e}"))?;
            if out.status.success() && bin.exists() {
                Ok(bin)
            } else {
                Err(format!(
                    "{} is missing and `cargo build -p maestro-emulator` failed: {}",
                    bin.display(),
                    String::from_utf8_lossy(&out.stderr)
                ))
            }
        })
        .clone()
}

/// The emulator process and its host's /etc/netns hosts file, both
/// removed on drop.
struct Emulator {
    child: std::process::Child,
    etc: PathBuf,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.etc);
    }
}

/// A Maestro-like installation tree as the site profile expects it.
pub fn make_install_tree(root: &Path) {
    for d in [
        "hub/hubreg",
        "hub/accountreg",
        "hub/logs",
        "lui/logs",
        "lui/jobs",
        "lui/attachments",
        "lui/database/data",
        "trk/logs",
    ] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    let files = [
        ("hub/hub.ini", "HubPort=1099\n"),
        ("hub/hubreg/hub.reg", "registry=1\n"),
        ("hub/accountreg/accounts.reg", "admin=1\n"),
        (
            "lui/lui.ini",
            "DBHost=localhost\nDBPort=3306\nTrackerURL=http://maestro.example.org/trk/\n",
        ),
        ("trk/tracker.ini", "Port=8080\n"),
        ("trk/tracker.dat", "clicks=0\n"),
    ];
    for (p, text) in files {
        fs::write(root.join(p), text).unwrap();
    }
}

/// This host's local time to the second, as `date '+%F %T'` gives it.
fn local_time_now() -> String {
    Command::new("date")
        .arg("+%F %T")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
