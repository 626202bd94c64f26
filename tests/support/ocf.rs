//! A failover node for the tests of the OCF resource agent
//! `ocf:maestro-ha:maestro`: a configuration whose services are the test's
//! own commands (`[services] manager = "commands"`), run by a script the
//! test writes (`svc.sh start|stop|status NAME`):
//!
//! - `db` replays the first lines of a real MariaDB 10.11 start (the
//!   logscan fixture `real-java/logs/mariadb.err`, re-stamped with the
//!   current time) into the site's database error log, then waits;
//! - `lui` is the Maestro emulator, which writes its `LUI-yyyymmdd.LOG`
//!   start-up (with a failing database check when the test breaks it:
//!   a JDBC exception naming a missing table) and serves `/lui/` and the
//!   tracker over HTTP.
//!
//! The old primary is "fenced" by Debian's fence_dummy through
//! maestro-fence's agent level (a status file), the replica is a folder
//! whose manifest the test captures with maestro-snapshot-verify. Every
//! process a node started is killed on drop.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub const FENCE: &str = env!("CARGO_BIN_EXE_maestro-fence");
pub const VERIFY: &str = env!("CARGO_BIN_EXE_maestro-snapshot-verify");

/// The first lines of the real MariaDB start, up to its readiness.
const MARIADB_START_LINES: usize = 21;

pub struct Node {
    pub root: TempDir,
    pub http_port: u16,
    pub smtp_port: u16,
}

/// A free TCP port on 127.0.0.1 (of the test's own network namespace).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One finished run of a program.
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Ran {
    pub fn all(&self) -> String {
        format!(
            "exit {:?} after {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.took, self.stdout, self.stderr
        )
    }

    /// The `ocf-exit-reason:` line the agent printed, if any.
    pub fn exit_reason(&self) -> Option<&str> {
        self.stderr
            .lines()
            .find_map(|l| l.strip_prefix("ocf-exit-reason:"))
    }
}

pub fn ran(out: Output, took: Duration) -> Ran {
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took,
    }
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

impl Node {
    /// A node whose emulator listens on `http_port` and `smtp_port`.
    pub fn new(http_port: u16, smtp_port: u16) -> Node {
        let root = tempfile::Builder::new()
            .prefix("maestro-ocf-")
            .tempdir()
            .unwrap();
        // ocf-tester runs the agent's meta-data as nobody, and Pacemaker's
        // daemons read what they are given: the tree is readable by all.
        chmod(root.path(), 0o755);
        let node = Node {
            root,
            http_port,
            smtp_port,
        };
        for d in [
            "maestro/lui/jobs",
            "logs/lui",
            "logs/db",
            "run",
            "state",
            "maildir/tmp",
            "maildir/new",
            "maildir/cur",
            "ocf/maestro-ha",
        ] {
            fs::create_dir_all(node.path(d)).unwrap();
        }
        fs::write(node.path("maestro/lui/lui.ini"), "[LUI]\nPort=80\n").unwrap();
        fs::write(node.path("maestro/lui/jobs/42.xml"), "<job id=\"42\"/>\n").unwrap();
        fs::write(node.path("token"), "trigger-token-for-the-test\n").unwrap();
        fs::write(node.path("dummy.status"), "on").unwrap();
        let fixture = fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/maestro-logscan/real-java/logs/mariadb.err"),
        )
        .unwrap();
        let start: Vec<&str> = fixture.lines().take(MARIADB_START_LINES).collect();
        assert!(
            start.last().unwrap().starts_with("Version:")
                && start[start.len() - 2].contains("ready for connections"),
            "the fixture's start no longer ends where the test expects"
        );
        fs::write(node.path("mariadb-start.txt"), start.join("\n") + "\n").unwrap();
        node.write_scripts();
        node.write_config("");
        node
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    pub fn config(&self) -> PathBuf {
        self.path("config.toml")
    }

    pub fn state(&self) -> PathBuf {
        self.path("state")
    }

    pub fn manifest(&self) -> PathBuf {
        self.path("manifest.jsonl")
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/lui/", self.http_port)
    }

    fn write_scripts(&self) {
        let r = self.root.path().display();
        let emulator = super::drill::emulator_binary().expect("the Maestro emulator");
        let db = format!(
            r#"#!/bin/sh
# The test's database: a real MariaDB start's lines, stamped now.
now=$(date '+%Y-%m-%d %k:%M:%S')
sed -E "s/^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}} +[0-9]{{1,2}}:[0-9]{{2}}:[0-9]{{2}}/$now/" {r}/mariadb-start.txt >> {r}/logs/db/mariadb.err
if [ -e {r}/stubborn ]; then
  trap '' TERM
  while :; do sleep 0.2; done
fi
exec sleep 1000
"#
        );
        let svc = format!(
            r#"#!/bin/sh
# svc.sh start|stop|status NAME: the test's Maestro services, with LSB
# status codes (0 running, 3 stopped).
verb=$1
name=$2
pidfile={r}/run/$name.pid
case $verb in
start)
  case $name in
  db) sh {r}/db.sh </dev/null >/dev/null 2>&1 & ;;
  lui)
    if [ -e {r}/db-broken ]; then
      set -- --db-check-command "echo \"ERROR 1146 (42S02) at line 1: Table 'maestro.lui_job' doesn't exist\" >&2; exit 1"
    else
      set --
    fi
    {emulator} --http-listen 127.0.0.1:{http} --smtp-listen 127.0.0.1:{smtp} \
      --trigger-token-file {r}/token --seed seed@example.test --maildir {r}/maildir \
      --log-dir {r}/logs/lui "$@" </dev/null >>{r}/run/lui.out 2>&1 &
    ;;
  *) echo "no service $name" >&2; exit 5 ;;
  esac
  echo $! > "$pidfile"
  ;;
stop)
  pid=$(cat "$pidfile" 2>/dev/null) || exit 0
  kill "$pid" 2>/dev/null
  exit 0
  ;;
status)
  pid=$(cat "$pidfile" 2>/dev/null) || exit 3
  [ -e /proc/$pid ] || exit 3
  grep -q '^State:.*Z' /proc/$pid/status 2>/dev/null && exit 3
  exit 0
  ;;
*) exit 4 ;;
esac
"#,
            emulator = emulator.display(),
            http = self.http_port,
            smtp = self.smtp_port,
        );
        fs::write(self.path("db.sh"), db).unwrap();
        fs::write(self.path("svc.sh"), svc).unwrap();
        chmod(&self.path("db.sh"), 0o755);
        chmod(&self.path("svc.sh"), 0o755);
    }

    /// The configuration, with `extra` appended.
    pub fn write_config(&self, extra: &str) {
        let r = self.root.path().display();
        let text = format!(
            r#"[site]
install_root = "{r}/maestro"
lui_log_dir = "{r}/logs/lui"
db_log_file = "{r}/logs/db/mariadb.err"

[primary]
host = "198.18.0.2"

[services]
manager = "commands"
names = ["db", "lui"]
start_command = "{r}/svc.sh start {{name}}"
stop_command = "{r}/svc.sh stop {{name}}"
active_command = "{r}/svc.sh status {{name}}"
disable_command = "true"
enable_command = "true"
enabled_command = "true"

[fence]
levels = ["agent"]
agent = "fence_dummy"
agent_timeout = "20s"
agent_options = {{ type = "file", status_file = "{r}/dummy.status" }}
node_name = "maestro1"
marker_file = "{r}/fenced"
epoch_file = "{r}/epoch"

[verify]
roots = ["lui={r}/maestro/lui"]

[smoketest]
expect_targets = ["https://www.example.org/"]
{extra}"#
        );
        fs::write(self.config(), text).unwrap();
    }

    /// Runs one of the tools with this node's configuration and state.
    pub fn tool(&self, bin: &str, args: &[&str]) -> Ran {
        let started = Instant::now();
        let out = Command::new("timeout")
            .args(["-k", "5", "120", bin])
            .arg("--config")
            .arg(self.config())
            .arg("--state-dir")
            .arg(self.state())
            .args(args)
            .env_remove("MAESTRO_HA_CONFIG")
            .env_remove("MAESTRO_HA_STATE_DIR")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        ran(out, started.elapsed())
    }

    /// Fences the "old primary" (fence_dummy's status file goes off): a
    /// new epoch in this node's journal.
    pub fn fence(&self) {
        let r = self.tool(FENCE, &["fence"]);
        assert_eq!(r.code, Some(0), "maestro-fence fence: {}", r.all());
    }

    /// The "primary" powered on again behind the fence's back.
    pub fn unfence_behind_its_back(&self) {
        fs::write(self.path("dummy.status"), "on").unwrap();
    }

    /// The primary's manifest of the replica as it is now.
    pub fn capture(&self) {
        let out = self.manifest().display().to_string();
        let r = self.tool(VERIFY, &["capture", "--out", &out]);
        assert_eq!(r.code, Some(0), "capture: {}", r.all());
    }

    /// A file of the replica that differs from the manifest: a copy that
    /// is not one point in time.
    pub fn tear_replica(&self) {
        fs::write(
            self.path("maestro/lui/jobs/42.xml"),
            "<job id=\"42\" state=\"half-copied\"/>\n",
        )
        .unwrap();
    }

    /// The LUI's database check fails at its next start (a table missing).
    pub fn break_lui_database(&self, broken: bool) {
        let flag = self.path("db-broken");
        if broken {
            fs::write(flag, "").unwrap();
        } else {
            let _ = fs::remove_file(flag);
        }
    }

    /// The database ignores SIGTERM from its next start on.
    pub fn make_db_stubborn(&self, stubborn: bool) {
        let flag = self.path("stubborn");
        if stubborn {
            fs::write(flag, "").unwrap();
        } else {
            let _ = fs::remove_file(flag);
        }
    }

    pub fn running(&self, name: &str) -> bool {
        Command::new(self.path("svc.sh"))
            .args(["status", name])
            .status()
            .unwrap()
            .success()
    }

    /// Starts one service by hand, outside the agent.
    pub fn start_by_hand(&self, name: &str) {
        let s = Command::new(self.path("svc.sh"))
            .args(["start", name])
            .status()
            .unwrap();
        assert!(s.success());
        let started = Instant::now();
        while !self.running(name) {
            assert!(started.elapsed() < Duration::from_secs(10));
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The agent's parameters for this node, as `name=value`.
    pub fn params(&self) -> Vec<(String, String)> {
        vec![
            ("config_file".into(), self.config().display().to_string()),
            ("state_dir".into(), self.state().display().to_string()),
            ("manifest".into(), self.manifest().display().to_string()),
            ("http_url".into(), self.url()),
        ]
    }

    /// The agent, as a file named `maestro` under an OCF provider folder.
    /// It is a link to maestro-fence where every user may run that (as
    /// ocf-tester checks, running meta-data as nobody), else a copy.
    pub fn agent(&self) -> PathBuf {
        let agent = self.path("ocf/maestro-ha/maestro");
        if agent.exists() {
            return agent;
        }
        let nobody_runs_it = Command::new("su")
            .args(["nobody", "-s", "/bin/sh", "-c"])
            .arg(format!("test -x {FENCE}"))
            .status()
            .is_ok_and(|s| s.success());
        if nobody_runs_it {
            std::os::unix::fs::symlink(FENCE, &agent).unwrap();
        } else {
            fs::create_dir_all(self.path("bin")).unwrap();
            let copy = self.path("bin/maestro-fence");
            fs::copy(FENCE, &copy).unwrap();
            chmod(&copy, 0o755);
            std::os::unix::fs::symlink(&copy, &agent).unwrap();
        }
        for d in ["ocf", "ocf/maestro-ha"] {
            chmod(&self.path(d), 0o755);
        }
        agent
    }

    /// PATH with the tools first: the agent finds them beside itself, or
    /// (a copied agent) here.
    pub fn tools_path() -> String {
        let dir = Path::new(FENCE).parent().unwrap().display().to_string();
        format!(
            "{dir}:{}",
            std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into())
        )
    }

    /// Runs the agent's `action` with this node's parameters plus `more`
    /// (`name=value` parameters, or `ENV=value` when the name is in capitals).
    pub fn action(&self, action: &str, more: &[(&str, &str)]) -> Ran {
        let mut c = Command::new("timeout");
        c.args(["-k", "5", "120"])
            .arg(self.agent())
            .arg(action)
            .env("PATH", Self::tools_path())
            .env("OCF_ROOT", "/usr/lib/ocf")
            .env("OCF_RESOURCE_INSTANCE", "maestro-test")
            .env("OCF_RESKEY_CRM_meta_timeout", "60000")
            .env_remove("HA_LOGFILE")
            .env_remove("HA_LOGFACILITY")
            .env_remove("MAESTRO_HA_CONFIG")
            .env_remove("MAESTRO_HA_STATE_DIR")
            .stdin(Stdio::null());
        for (k, v) in self.params() {
            c.env(format!("OCF_RESKEY_{k}"), v);
        }
        for (k, v) in more {
            if k.chars().next().is_some_and(|ch| ch.is_ascii_uppercase()) {
                c.env(k, v);
            } else {
                c.env(format!("OCF_RESKEY_{k}"), v);
            }
        }
        let started = Instant::now();
        let out = c.output().unwrap();
        ran(out, started.elapsed())
    }

    /// Triggers the emulator's test mailing and returns the saved message
    /// (what a person keeps for the depth 20 monitor).
    pub fn save_test_mailing(&self) -> PathBuf {
        let url = format!(
            "http://127.0.0.1:{}/lui/externalAction.do?token=trigger-token-for-the-test",
            self.http_port
        );
        let out = Command::new("python3")
            .args([
                "-c",
                "import sys,urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).status)",
                &url,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "trigger: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let new = self.path("maildir/new");
        let started = Instant::now();
        loop {
            if let Some(msg) = fs::read_dir(&new)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .next()
            {
                let saved = self.path("smoketest.eml");
                fs::copy(msg, &saved).unwrap();
                return saved;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no test mailing in {}",
                new.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        for name in ["db", "lui"] {
            if let Ok(pid) = fs::read_to_string(self.path(&format!("run/{name}.pid"))) {
                let _ = Command::new("kill")
                    .args(["-KILL", pid.trim()])
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}
