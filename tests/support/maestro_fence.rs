//! A failover pair made of two network namespaces for the maestro-fence
//! tests: the "primary" (with a real sshd and fake Maestro services under
//! the `commands` backend) and the "failover" (where maestro-fence runs),
//! joined by a veth pair. Addresses are from 198.18.0.0/15 (benchmarking,
//! never routed) and exist only inside the two namespaces; everything is
//! torn down in Drop guards, also when a test fails.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::sshd::Sshd;
use tempfile::TempDir;

pub const PRIMARY_ADDR: &str = "198.18.0.2";
pub const FAILOVER_ADDR: &str = "198.18.0.1";
pub const BIN: &str = env!("CARGO_BIN_EXE_maestro-fence");

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique(tag: &str) -> String {
    format!(
        "mf{}{}{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        tag
    )
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace, deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        let name = unique(tag);
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace also deletes its veth end, its addresses
        // and its nftables tables.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Two namespaces joined by a veth pair.
pub struct Pair {
    pub primary: Netns,
    pub failover: Netns,
}

impl Pair {
    pub fn new() -> Pair {
        let primary = Netns::new("p");
        let failover = Netns::new("f");
        ip(&[
            "-n",
            &primary.name,
            "link",
            "add",
            "veth0",
            "type",
            "veth",
            "peer",
            "name",
            "veth1",
            "netns",
            &failover.name,
        ]);
        ip(&[
            "-n",
            &primary.name,
            "addr",
            "add",
            &format!("{PRIMARY_ADDR}/30"),
            "dev",
            "veth0",
        ]);
        ip(&[
            "-n",
            &failover.name,
            "addr",
            "add",
            &format!("{FAILOVER_ADDR}/30"),
            "dev",
            "veth1",
        ]);
        ip(&["-n", &primary.name, "link", "set", "veth0", "up"]);
        ip(&["-n", &failover.name, "link", "set", "veth1", "up"]);
        Pair { primary, failover }
    }

    /// Cuts the primary's link.
    pub fn link_down(&self) {
        ip(&["-n", &self.primary.name, "link", "set", "veth0", "down"]);
    }

    /// Plugs the primary's link back in.
    pub fn link_up(&self) {
        ip(&["-n", &self.primary.name, "link", "set", "veth0", "up"]);
    }
}

/// A process the test started, killed on drop. A thread waits for it, so
/// once it ends (killed by the fence) it is reaped at once: a zombie would
/// still answer `kill -0` and look like a running service.
pub struct Guarded {
    pid: u32,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Guarded {
    pub fn spawn(mut command: Command) -> Guarded {
        let mut child: Child = command.spawn().expect("spawn a test process");
        let pid = child.id();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = done.clone();
        std::thread::spawn(move || {
            let _ = child.wait();
            flag.store(true, Ordering::SeqCst);
        });
        Guarded { pid, done }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if !self.done.load(Ordering::SeqCst) {
            let _ = Command::new("kill")
                .args(["-KILL", &self.pid.to_string()])
                .status();
        }
    }
}

/// Kills whatever process a pidfile names (a fake service), on drop.
struct PidfileGuard(PathBuf);

impl Drop for PidfileGuard {
    fn drop(&mut self) {
        if let Ok(pid) = fs::read_to_string(&self.0) {
            let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
        }
    }
}

/// How a fake Maestro service behaves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    /// Ends on SIGTERM.
    Normal,
    /// Ignores SIGTERM.
    RefusesToStop,
    /// Started again by a watchdog as soon as it ends, unless it is
    /// disabled (as a monitoring agent or a Windows recovery action would).
    Respawned,
}

/// The whole set-up: namespaces, sshd in the primary, fake services and a
/// fake running sync there, a root folder for everything.
pub struct World {
    // Declaration order is drop order: services and sshd go before the namespaces.
    guards: Vec<PidfileGuard>,
    processes: Vec<Guarded>,
    pub sshd: Sshd,
    pub pair: Pair,
    pub root: TempDir,
    pub sync_process: String,
}

impl World {
    pub fn new() -> World {
        let pair = Pair::new();
        let sshd = Sshd::start_in_netns(&pair.primary.name, PRIMARY_ADDR);
        let root = tempfile::Builder::new()
            .prefix("maestro-fence-")
            .tempdir()
            .unwrap();
        fs::create_dir_all(root.path().join("state")).unwrap();
        // A process named like a sync, unique to this test (pgrep -x sees 15 characters).
        let sync_process = format!(
            "mfs{}{}",
            std::process::id() % 100000,
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        World {
            guards: Vec::new(),
            processes: Vec::new(),
            sshd,
            pair,
            root,
            sync_process,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// Starts a long-running fake service writing `<name>.pid`.
    pub fn start_service(&mut self, name: &str, kind: ServiceKind) {
        let pidfile = self.path(&format!("{name}.pid"));
        let body = match kind {
            ServiceKind::Normal => format!("echo $$ > {}; exec sleep 1000", pidfile.display()),
            ServiceKind::RefusesToStop => format!(
                "echo $$ > {}; trap '' TERM; while :; do sleep 0.2; done",
                pidfile.display()
            ),
            ServiceKind::Respawned => format!(
                "while :; do if [ ! -e {} ]; then sleep 1000 & echo $! > {}; wait $!; else sleep 0.1; fi; done",
                self.path(&format!("{name}.disabled")).display(),
                pidfile.display()
            ),
        };
        let mut command = Command::new("sh");
        command
            .args(["-c", &body])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.processes.push(Guarded::spawn(command));
        self.guards.push(PidfileGuard(pidfile.clone()));
        wait_for(
            || fs::read_to_string(&pidfile).is_ok_and(|p| !p.trim().is_empty()),
            "the service's pidfile",
        );
    }

    pub fn service_running(&self, name: &str) -> bool {
        let Ok(pid) = fs::read_to_string(self.path(&format!("{name}.pid"))) else {
            return false;
        };
        let pid: i32 = pid.trim().parse().unwrap();
        // A zombie still answers kill -0; read its state.
        match fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => stat.split_whitespace().nth(2).is_none_or(|s| s != "Z"),
            Err(_) => false,
        }
    }

    /// Starts a fake running sync: a copy of `sleep` named like the sync process.
    pub fn start_sync(&mut self) {
        let exe = self.path(&self.sync_process);
        fs::copy("/bin/sleep", &exe).unwrap();
        let mut command = Command::new(&exe);
        command.arg("1000");
        self.processes.push(Guarded::spawn(command));
    }

    pub fn sync_running(&self) -> bool {
        Command::new("pgrep")
            .args(["-x", &self.sync_process])
            .output()
            .unwrap()
            .status
            .success()
    }

    /// The config for the failover side; `extra` is appended (more keys
    /// or sections). Returns its path.
    pub fn write_config(&self, extra_services: &str, extra: &str) -> PathBuf {
        let r = self.root.path().display().to_string();
        let text = format!(
            r#"[primary]
host = "{PRIMARY_ADDR}"
port = {port}
user = "{user}"
identity_file = "{key}"
known_hosts = "{kh}"
connect_timeout = "2s"

[services]
manager = "commands"
names = ["lui", "hub"]
stop_command = "kill $(cat {r}/{{name}}.pid) 2>/dev/null; for i in $(seq 1 20); do kill -0 $(cat {r}/{{name}}.pid) 2>/dev/null || exit 0; sleep 0.1; done; exit 1"
disable_command = "touch {r}/{{name}}.disabled"
enable_command = "rm -f {r}/{{name}}.disabled"
active_command = "kill -0 $(cat {r}/{{name}}.pid 2>/dev/null) 2>/dev/null"
enabled_command = "test ! -e {r}/{{name}}.disabled"
{extra_services}

[sync]
cron_file = "{r}/cron.d-maestro-sync"
process_name = "{proc}"

[fence]
marker_file = "{r}/fenced"
epoch_file = "{r}/epoch"
{defaults}{extra}
"#,
            defaults = [
                ("deadline", "deadline = \"20s\"\n"),
                ("command_timeout", "command_timeout = \"5s\"\n")
            ]
            .iter()
            .filter(|(k, _)| !extra.contains(k))
            .map(|(_, line)| *line)
            .collect::<String>(),
            port = self.sshd.port(),
            user = self.sshd.user(),
            key = self.sshd.user_key_path().display(),
            kh = self.sshd.known_hosts().display(),
            proc = self.sync_process,
        );
        fs::write(
            self.path("cron.d-maestro-sync"),
            "# the sync\nSHELL=/bin/sh\n*/5 * * * * root rsync -a /opt/lsoft/maestro/ failover:/opt/lsoft/maestro/\n",
        )
        .unwrap();
        let p = self.path("config.toml");
        fs::write(&p, text).unwrap();
        p
    }

    /// Runs maestro-fence on the failover side (inside its namespace).
    pub fn fence(&self, args: &[&str]) -> Run {
        let mut all: Vec<String> = vec![
            "netns".into(),
            "exec".into(),
            self.pair.failover.name.clone(),
            BIN.into(),
            "--config".into(),
            self.path("config.toml").display().to_string(),
            "--state-dir".into(),
            self.path("state").display().to_string(),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        run("ip", &all, "")
    }

    /// Runs maestro-fence as `fence_maestro` on the failover side, options on stdin.
    pub fn agent(&self, input: &str) -> Run {
        let link = self.path("fence_maestro");
        if !link.exists() {
            std::os::unix::fs::symlink(BIN, &link).unwrap();
        }
        let all: Vec<String> = vec![
            "netns".into(),
            "exec".into(),
            self.pair.failover.name.clone(),
            link.display().to_string(),
        ];
        run("ip", &all, input)
    }

    /// Runs a program in the failover's namespace, bounded at 60 s.
    pub fn on_failover(&self, program: &str, args: &[&str]) -> Run {
        let mut all: Vec<String> = vec![
            "netns".into(),
            "exec".into(),
            self.pair.failover.name.clone(),
            program.into(),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        run("ip", &all, "")
    }

    /// Whether a TCP connect from the failover's namespace to `addr:port` succeeds within 2 s.
    pub fn failover_can_connect(&self, addr: &str, port: u16) -> bool {
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.pair.failover.name,
                "timeout",
                "2",
                "bash",
                "-c",
                &format!("exec 3<>/dev/tcp/{addr}/{port}"),
            ])
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    }

    /// The nftables ruleset of the failover's namespace.
    pub fn failover_ruleset(&self) -> String {
        self.on_failover("nft", &["list", "ruleset"]).stdout
    }

    /// Runs maestro-fence on the primary's side (the host namespace, same files).
    pub fn on_primary(&self, config: &Path, args: &[&str]) -> Run {
        let mut all: Vec<String> = vec![
            "--config".into(),
            config.display().to_string(),
            "--state-dir".into(),
            self.path("primary-state").display().to_string(),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        run(BIN, &all, "")
    }

    /// Whether a TCP connect from the primary's namespace to `addr:port` succeeds within 2 s.
    pub fn primary_can_connect(&self, addr: &str, port: u16) -> bool {
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.pair.primary.name,
                "timeout",
                "2",
                "bash",
                "-c",
                &format!("exec 3<>/dev/tcp/{addr}/{port}"),
            ])
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    }

    /// A TCP listener in the failover namespace (accepting into its backlog).
    pub fn listen_on_failover(&mut self, port: u16) {
        let ns = self.pair.failover.name.clone();
        self.listen(&ns, FAILOVER_ADDR, port, Listener::Backlog);
    }

    /// A TCP listener on `addr:port` in namespace `ns`, behaving as `kind`.
    pub fn listen(&mut self, ns: &str, addr: &str, port: u16, kind: Listener) {
        let serve = match kind {
            Listener::Backlog => "time.sleep(300)",
            Listener::Silent => "held = []\nwhile True:\n    c, _ = s.accept()\n    held.append(c)",
            Listener::Closes => "while True:\n    c, _ = s.accept()\n    c.close()",
        };
        let mut command = Command::new("ip");
        command.args([
            "netns", "exec", ns, "python3", "-c",
            &format!("import socket,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('{addr}',{port}))\ns.listen(64)\n{serve}\n"),
        ]);
        command.stdin(Stdio::null());
        self.processes.push(Guarded::spawn(command));
        let ns = ns.to_string();
        wait_for(
            || {
                let out = Command::new("ip")
                    .args(["netns", "exec", &ns, "ss", "-ltn"])
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&out.stdout).contains(&format!("{addr}:{port}"))
            },
            "the listener",
        );
    }

    /// Kills the primary's sshd (its listener: the port is free at once).
    pub fn stop_sshd(&self) {
        let _ = Command::new("kill")
            .args(["-KILL", &self.sshd.pid().to_string()])
            .status();
        let ns = self.pair.primary.name.clone();
        let port = self.sshd.port();
        wait_for(
            || {
                let out = Command::new("ip")
                    .args(["netns", "exec", &ns, "ss", "-ltn"])
                    .output()
                    .unwrap();
                !String::from_utf8_lossy(&out.stdout).contains(&format!(":{port} "))
            },
            "sshd to let go of its port",
        );
    }

    /// Loads an nftables ruleset in the primary's namespace.
    pub fn primary_nft(&self, ruleset: &str) {
        nft_in(&self.pair.primary.name, ruleset);
    }

    /// Loads an nftables ruleset in the failover's namespace.
    pub fn failover_nft(&self, ruleset: &str) {
        nft_in(&self.pair.failover.name, ruleset);
    }

    /// Runs a program in the primary's namespace, bounded at 60 s.
    pub fn on_primary_ns(&self, program: &str, args: &[&str]) -> Run {
        let mut all: Vec<String> = vec![
            "netns".into(),
            "exec".into(),
            self.pair.primary.name.clone(),
            program.into(),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        run("ip", &all, "")
    }

    /// Starts maestro-fence on the failover side without waiting for it
    /// (`ip netns exec` execs it, so the child's pid is maestro-fence's).
    pub fn spawn_fence(&self, args: &[&str]) -> Child {
        Command::new("ip")
            .args(["netns", "exec", &self.pair.failover.name, BIN])
            .arg("--config")
            .arg(self.path("config.toml"))
            .arg("--state-dir")
            .arg(self.path("state"))
            .args(args)
            .env_remove("MAESTRO_HA_CONFIG")
            .env_remove("MAESTRO_HA_STATE_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
}

/// How a test listener answers a connection.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// Never accepts: connections wait in the backlog (the handshake completes).
    Backlog,
    /// Accepts and never sends a byte.
    Silent,
    /// Accepts and closes at once.
    Closes,
}

fn nft_in(ns: &str, ruleset: &str) {
    let r = run(
        "ip",
        &[
            "netns".into(),
            "exec".into(),
            ns.into(),
            "nft".into(),
            "-f".into(),
            "-".into(),
        ],
        ruleset,
    );
    assert_eq!(r.code, Some(0), "nft -f in {ns}: {}\n{ruleset}", r.all());
}

/// A finished run of a binary.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Run {
    pub fn all(&self) -> String {
        format!("--- stdout\n{}--- stderr\n{}", self.stdout, self.stderr)
    }
}

/// Runs a program with input, bounded at 60 s so a hang fails the test.
pub fn run(program: &str, args: &[String], input: &str) -> Run {
    run_env(program, args, input, &[])
}

/// [`run`] with extra environment variables, given to the child only:
/// `std::env::set_var` in a test races with other tests spawning processes.
pub fn run_env(program: &str, args: &[String], input: &str, env: &[(&str, &str)]) -> Run {
    use std::io::Write;
    let started = Instant::now();
    let mut child = Command::new("timeout")
        .arg("60")
        .arg(program)
        .args(args)
        .envs(env.iter().copied())
        .env_remove("MAESTRO_HA_CONFIG")
        .env_remove("MAESTRO_HA_STATE_DIR")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(input.as_bytes());
    drop(stdin);
    let out: Output = child.wait_with_output().unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: started.elapsed(),
    }
}

pub fn wait_for(mut f: impl FnMut() -> bool, what: &str) {
    let started = Instant::now();
    while !f() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
