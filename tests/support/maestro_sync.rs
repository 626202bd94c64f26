//! Two "servers" for maestro-sync's tests on one machine: a sending side
//! (its source tree, its state folder and config) and a receiving side
//! (its generations folder, state folder and config) reached through a
//! real OpenSSH server on 127.0.0.1, so every run goes over SSH and rsync
//! as in production.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use super::sshd::Sshd;

pub const SYNC: &str = env!("CARGO_BIN_EXE_maestro-sync");
pub const VERIFY: &str = env!("CARGO_BIN_EXE_maestro-snapshot-verify");

/// A tool's answer: exit code and JSON Lines records.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub records: Vec<serde_json::Value>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from_output(o: Output) -> Run {
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        Run {
            code: o.status.code(),
            records: stdout
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            stdout,
        }
    }

    pub fn check(&self, name: &str) -> Option<&serde_json::Value> {
        self.records
            .iter()
            .find(|r| r["type"] == "check" && r["name"] == name)
    }

    pub fn status_of(&self, name: &str) -> String {
        self.check(name)
            .and_then(|c| c["status"].as_str())
            .unwrap_or("absent")
            .to_string()
    }

    pub fn message_of(&self, name: &str) -> String {
        self.check(name)
            .and_then(|c| c["message"].as_str())
            .unwrap_or("")
            .to_string()
    }

    /// Every record, for an assertion's message.
    pub fn dump(&self) -> String {
        format!(
            "exit {:?}\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

pub struct Pair {
    pub dir: tempfile::TempDir,
    pub sshd: Sshd,
}

impl Pair {
    /// `sync_sending` goes into the sending side's `[sync]` section (the
    /// snapshot); a small Maestro-like tree is made at [`Pair::source`].
    pub fn new(sync_sending: &str) -> Pair {
        let sshd = Sshd::start();
        let dir = tempfile::Builder::new()
            .prefix("maestro-sync-")
            .tempdir()
            .unwrap();
        let pair = Pair { dir, sshd };
        for d in [
            "source/lui/jobs",
            "source/hub/hubreg",
            "source/trk",
            "stage",
            "gen",
            "state-s",
            "state-r",
        ] {
            fs::create_dir_all(pair.path(d)).unwrap();
        }
        for (p, text) in [
            ("source/lui/lui.ini", "DBHost=localhost\n"),
            ("source/hub/hub.ini", "HubPort=1099\n"),
            ("source/hub/hubreg/hub.reg", "registry=1\n"),
            ("source/trk/tracker.ini", "Port=8080\n"),
            (
                "source/lui/jobs/export.tmp",
                "a file the primary keeps, whatever its name\n",
            ),
        ] {
            fs::write(pair.path(p), text).unwrap();
        }
        for i in 0..50 {
            fs::write(
                pair.path(&format!("source/lui/jobs/{i}.xml")),
                format!("<job id=\"{i}\"/>\n"),
            )
            .unwrap();
        }
        pair.write_configs(sync_sending);
        pair
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub fn source(&self) -> PathBuf {
        self.path("source")
    }

    pub fn gen(&self) -> PathBuf {
        self.path("gen")
    }

    fn host(&self, role: &str) -> String {
        let s = &self.sshd;
        format!(
            "[{role}]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"{}\"\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\nconnect_timeout = \"5s\"\n",
            s.port(),
            s.user(),
            s.user_key_path().display(),
            s.known_hosts().display()
        )
    }

    /// The receiving side's command line, as the sending side runs it.
    pub fn receiver_command(&self) -> String {
        format!(
            "{SYNC} --config {} --state-dir {}",
            self.path("receiver.toml").display(),
            self.path("state-r").display()
        )
    }

    pub fn sender_command(&self) -> String {
        format!(
            "{SYNC} --config {} --state-dir {}",
            self.path("sender.toml").display(),
            self.path("state-s").display()
        )
    }

    pub fn write_configs(&self, sync_sending: &str) {
        let sender = format!(
            "[site]\ninstall_root = \"{src}\"\n\n{failover}\n[fence]\nmarker_file = \"{marker}\"\n\n[sync]\nremote_command = \"{rx}\"\nio_timeout = \"10s\"\nlock_wait = \"5s\"\ninterval = \"1m\"\n{sync_sending}\n",
            src = self.source().display(),
            failover = self.host("failover"),
            marker = self.path("fenced").display(),
            rx = self.receiver_command(),
        );
        fs::write(self.path("sender.toml"), sender).unwrap();
        let receiver = format!(
            "[site]\ninstall_root = \"{src}\"\n\n{primary}\n[sync]\ngenerations = \"{gen}\"\nremote_command = \"{tx}\"\nkeep = 2\nio_timeout = \"10s\"\nlock_wait = \"5s\"\ninterval = \"1m\"\n{sync_sending}\n",
            src = self.source().display(),
            primary = self.host("primary"),
            gen = self.gen().display(),
            tx = self.sender_command(),
        );
        fs::write(self.path("receiver.toml"), receiver).unwrap();
    }

    fn tool(&self, config: &str, state: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = Command::new("timeout");
        c.args(["-k", "5", "120", SYNC])
            .arg("--config")
            .arg(self.path(config))
            .arg("--state-dir")
            .arg(self.path(state))
            .args(["--format", "json"])
            .args(args)
            .env_remove("MAESTRO_HA_CONFIG")
            .env_remove("MAESTRO_HA_STATE_DIR")
            .stdin(Stdio::null());
        for (k, v) in env {
            c.env(k, v);
        }
        Run::from_output(c.output().unwrap())
    }

    /// maestro-sync on the sending side.
    pub fn sender(&self, args: &[&str]) -> Run {
        self.tool("sender.toml", "state-s", args, &[])
    }

    pub fn sender_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.tool("sender.toml", "state-s", args, env)
    }

    /// maestro-sync on the receiving side.
    pub fn receiver(&self, args: &[&str]) -> Run {
        self.tool("receiver.toml", "state-r", args, &[])
    }

    pub fn push(&self) -> Run {
        self.sender(&["push"])
    }

    /// The generation `current` names.
    pub fn current(&self) -> Option<String> {
        fs::read_link(self.gen().join("current"))
            .ok()
            .map(|t| t.to_string_lossy().into_owned())
    }

    /// The admin's pre-start check of the current generation.
    pub fn check_current(&self, root: &Path) -> Run {
        let o = Command::new("timeout")
            .args(["-k", "5", "120", VERIFY])
            .arg("--config")
            .arg(self.path("receiver.toml"))
            .arg("--state-dir")
            .arg(self.path("state-r"))
            .args(["--format", "json", "check", "--root"])
            .arg(format!("data={}", root.display()))
            .arg("--manifest")
            .arg(self.gen().join("current/manifest.jsonl"))
            .args(["--sync-lock-wait", "5s"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Run::from_output(o)
    }

    /// The generation folders, oldest first.
    pub fn generations(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.gen())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.len() == 20 && n.ends_with('Z'))
            .collect();
        v.sort();
        v
    }
}

/// The inode of a path.
pub fn ino(p: &Path) -> u64 {
    fs::metadata(p).unwrap().ino()
}

/// A sleep that lets file times move on (ns-precise file systems; the
/// generation names are to the millisecond).
pub fn tick() {
    std::thread::sleep(Duration::from_millis(20));
}
