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

use super::netns::Lab;
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

/// Field order is drop order: the server, then the lab's namespaces,
/// then the folder.
pub struct Pair {
    pub sshd: Sshd,
    pub lab: Option<Lab>,
    pub dir: tempfile::TempDir,
    source: PathBuf,
    gen: PathBuf,
}

/// The sending host in a lab, the receiving host, their addresses' numbers.
pub const LAB_SENDER: &str = "p";
pub const LAB_RECEIVER: &str = "f";

fn make_tree(source: &Path) {
    for d in ["lui/jobs", "hub/hubreg", "trk"] {
        fs::create_dir_all(source.join(d)).unwrap();
    }
    for (p, text) in [
        ("lui/lui.ini", "DBHost=localhost\n"),
        ("hub/hub.ini", "HubPort=1099\n"),
        ("hub/hubreg/hub.reg", "registry=1\n"),
        ("trk/tracker.ini", "Port=8080\n"),
        (
            "lui/jobs/export.tmp",
            "a file the primary keeps, whatever its name\n",
        ),
    ] {
        fs::write(source.join(p), text).unwrap();
    }
    for i in 0..50 {
        fs::write(
            source.join(format!("lui/jobs/{i}.xml")),
            format!("<job id=\"{i}\"/>\n"),
        )
        .unwrap();
    }
}

impl Pair {
    /// `sync_sending` goes into both sides' `[sync]` section (the
    /// snapshot); a small Maestro-like tree is made at [`Pair::source`].
    pub fn new(sync_sending: &str) -> Pair {
        let pair = Pair::build(None, None, None);
        make_tree(&pair.source);
        pair.write_configs(sync_sending);
        pair
    }

    /// A pair whose source is `source` (made by the caller, which also
    /// writes the configs) and whose generations are in `gen`.
    pub fn with_folders(source: Option<PathBuf>, gen: Option<PathBuf>) -> Pair {
        let pair = Pair::build(None, source, gen);
        if !pair.source.exists() {
            fs::create_dir_all(&pair.source).unwrap();
            make_tree(&pair.source);
        }
        pair
    }

    /// The two sides in network namespaces of a lab: the sending side in
    /// `p` (198.18.0.1), the receiving side's sshd in `f` (198.18.0.2), so
    /// a test can pull the receiving side's cable.
    pub fn in_lab(gen: Option<PathBuf>) -> Pair {
        Pair::in_lab_with(None, gen)
    }

    /// [`Pair::in_lab`] with a source of the caller's.
    pub fn in_lab_with(source: Option<PathBuf>, gen: Option<PathBuf>) -> Pair {
        let mut lab = Lab::new();
        lab.add_host(LAB_SENDER, 1);
        lab.add_host(LAB_RECEIVER, 2);
        let pair = Pair::build(Some(lab), source, gen);
        if !pair.source.exists() {
            fs::create_dir_all(&pair.source).unwrap();
            make_tree(&pair.source);
        }
        pair
    }

    fn build(lab: Option<Lab>, source: Option<PathBuf>, gen: Option<PathBuf>) -> Pair {
        let sshd = match &lab {
            Some(l) => Sshd::start_in_netns(&l.ns(LAB_RECEIVER), &l.addr(2)),
            None => Sshd::start(),
        };
        let dir = tempfile::Builder::new()
            .prefix("maestro-sync-")
            .tempdir()
            .unwrap();
        let source = source.unwrap_or_else(|| dir.path().join("source"));
        let gen = gen.unwrap_or_else(|| dir.path().join("gen"));
        for d in ["stage", "state-s", "state-r"] {
            fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        fs::create_dir_all(&gen).unwrap();
        Pair {
            sshd,
            lab,
            dir,
            source,
            gen,
        }
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub fn source(&self) -> PathBuf {
        self.source.clone()
    }

    pub fn gen(&self) -> PathBuf {
        self.gen.clone()
    }

    fn host(&self, role: &str) -> String {
        let s = &self.sshd;
        format!(
            "[{role}]\nhost = \"{}\"\nport = {}\nuser = \"{}\"\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\nconnect_timeout = \"5s\"\n",
            s.addr(),
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
            "[site]\ninstall_root = \"{src}\"\n\n{failover}\n{primary}\n[fence]\nmarker_file = \"{marker}\"\n\n[sync]\nremote_command = \"{rx}\"\nio_timeout = \"10s\"\nlock_wait = \"5s\"\ninterval = \"1m\"\n{sync_sending}\n",
            src = self.source().display(),
            failover = self.host("failover"),
            // The failback direction reaches the receiving side as [primary].
            primary = self.host("primary"),
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
        let mut c = match (&self.lab, config) {
            // The sending side runs in its namespace of the lab.
            (Some(lab), "sender.toml") => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", &lab.ns(LAB_SENDER), "timeout"]);
                c
            }
            _ => Command::new("timeout"),
        };
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
            .args(["--sync-lock-wait", "30s"])
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

/// The processes whose command line (its words joined by spaces) `wanted`
/// takes.
pub fn pids_whose_command(wanted: impl Fn(&str) -> bool) -> Vec<i32> {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let cmd = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            wanted(&String::from_utf8_lossy(&cmd).replace('\0', " ")).then_some(pid)
        })
        .collect()
}

/// The inode of a path.
pub fn ino(p: &Path) -> u64 {
    fs::metadata(p).unwrap().ino()
}

/// A sleep that lets file times move on (ns-precise file systems; the
/// generation names are to the millisecond).
/// `mb` MiB that compress to nothing less (rsync sends them whole).
pub fn incompressible(mb: u32) -> Vec<u8> {
    (0..mb * 1024 * 1024)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect()
}

pub fn tick() {
    std::thread::sleep(Duration::from_millis(20));
}

impl Pair {
    /// maestro-sync on the sending side, started and not waited for
    /// (stdout piped: its report).
    pub fn spawn_sender(&self, args: &[&str]) -> std::process::Child {
        let mut c = match &self.lab {
            Some(lab) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", &lab.ns(LAB_SENDER), SYNC]);
                c
            }
            None => Command::new(SYNC),
        };
        c.arg("--config")
            .arg(self.path("sender.toml"))
            .arg("--state-dir")
            .arg(self.path("state-s"))
            .args(["--format", "json"])
            .args(args)
            .env_remove("MAESTRO_HA_CONFIG")
            .env_remove("MAESTRO_HA_STATE_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// The pid of this pair's data rsync (the one sending with
    /// `--link-dest` into its generations), when it runs.
    pub fn data_rsync_pid(&self) -> Option<i32> {
        let gen = self.gen().display().to_string();
        pids_whose_command(|cmd| {
            cmd.starts_with("rsync ") && cmd.contains("--link-dest") && cmd.contains(&gen)
        })
        .first()
        .copied()
    }

    /// rsync processes working in the generations folder.
    pub fn rsyncs_in_generations(&self) -> Vec<i32> {
        let Ok(gen) = fs::canonicalize(self.gen()) else {
            return Vec::new();
        };
        fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "rsync")
                    && fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|c| c.starts_with(&gen))
            })
            .collect()
    }

    /// Bytes of `name` the receiving side holds so far: rsync's temporary
    /// file (`.NAME.XXXXXX`) or its partly sent file.
    pub fn partly_sent(&self, name: &str) -> u64 {
        fn find(p: &Path, name: &str) -> u64 {
            let Ok(rd) = fs::read_dir(p) else { return 0 };
            let mut most = 0;
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                let Ok(m) = e.metadata() else { continue };
                if m.is_dir() {
                    most = most.max(find(&e.path(), name));
                } else if n.starts_with(&format!(".{name}."))
                    || (n == name && e.path().to_string_lossy().contains(".rsync-partial"))
                {
                    most = most.max(m.len());
                }
            }
            most
        }
        fs::read_dir(self.gen())
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
                    .map(|e| find(&e.path(), name))
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0)
    }

    /// Bytes under the generations folder's partial generations.
    pub fn partial_bytes(&self) -> u64 {
        fn size(p: &Path) -> u64 {
            match fs::symlink_metadata(p) {
                Ok(m) if m.is_dir() => fs::read_dir(p)
                    .map(|rd| rd.flatten().map(|e| size(&e.path())).sum())
                    .unwrap_or(0),
                Ok(m) => m.len(),
                Err(_) => 0,
            }
        }
        fs::read_dir(self.gen())
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
                    .map(|e| size(&e.path()))
                    .sum()
            })
            .unwrap_or(0)
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        // An rsync of a run a failed test cut may still wait in the
        // generations (its sender gone): end it, by its id, so that no
        // process outlives the test or keeps its loop device busy.
        for pid in self.rsyncs_in_generations() {
            // SAFETY: kill of a process this test's runs started.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

/// A file system on a loop device, mounted for a test and unmounted (the
/// device freed) on drop.
pub struct LoopMount {
    pub mount_point: PathBuf,
    _dir: tempfile::TempDir,
}

impl LoopMount {
    /// `fs_type`: `ext4` or `btrfs`, `size_mb` its size.
    pub fn new(fs_type: &str, size_mb: u64) -> LoopMount {
        let dir = tempfile::Builder::new()
            .prefix("maestro-sync-loop-")
            .tempdir()
            .unwrap();
        let image = dir.path().join("image");
        let f = fs::File::create(&image).unwrap();
        f.set_len(size_mb * 1024 * 1024).unwrap();
        drop(f);
        let mkfs = format!("mkfs.{fs_type}");
        let out = Command::new(&mkfs)
            .arg("-q")
            .args(if fs_type == "ext4" {
                vec!["-F", "-m", "0"]
            } else {
                vec![]
            })
            .arg(&image)
            .output()
            .unwrap_or_else(|e| panic!("{mkfs} runs (Debian: e2fsprogs, btrfs-progs): {e}"));
        assert!(
            out.status.success(),
            "{mkfs}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mount_point = dir.path().join("mnt");
        fs::create_dir(&mount_point).unwrap();
        let out = Command::new("mount")
            .args(["-o", "loop"])
            .arg(&image)
            .arg(&mount_point)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mount -o loop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        LoopMount {
            mount_point,
            _dir: dir,
        }
    }
}

impl Drop for LoopMount {
    fn drop(&mut self) {
        // A process of a failed test may still hold a file: detach lazily
        // (the loop device is freed when the last user goes).
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.mount_point)
            .status();
    }
}
