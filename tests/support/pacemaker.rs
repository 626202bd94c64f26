//! A real one-node Pacemaker cluster for the fence-agent tests: Debian's
//! corosync (knet on 127.0.0.1) and pacemakerd, run in the foreground
//! without systemd, inside a network namespace the test made and a mount
//! namespace of their own. The mount namespace puts empty tmpfs folders over
//! everything the cluster keeps state in (/var/lib/pacemaker,
//! /var/lib/corosync, /etc/corosync, /var/log/pacemaker, /run, /dev/shm)
//! and overlays over /usr/sbin, where Pacemaker looks for fence agents,
//! and /usr/lib/ocf/resource.d, where it looks for OCF resource agents,
//! holding the links to the agents under test: nothing of the machine is
//! changed, and everything is gone when the namespace's last process ends.
//!
//! Drop kills every process of the mount namespace (the daemons and any
//! agent they still run), so a failing test leaves nothing behind.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The cluster's one node.
pub const NODE: &str = "node1";

pub struct Cluster {
    /// Holds the mount namespace open: `sleep`, the first process in it.
    holder: Child,
    daemons: Vec<Child>,
    dir: TempDir,
}

/// The folders the cluster writes to, each an empty tmpfs in its namespace.
const PRIVATE: &[&str] = &[
    "/var/lib/pacemaker",
    "/var/lib/corosync",
    "/etc/corosync",
    "/var/log/pacemaker",
    "/run",
    "/dev/shm",
];

const COROSYNC_CONF: &str = "totem {
    version: 2
    cluster_name: maestro-fence-test
    transport: knet
    crypto_cipher: none
    crypto_hash: none
}
nodelist {
    node {
        ring0_addr: 127.0.0.1
        name: node1
        nodeid: 1
    }
}
quorum {
    provider: corosync_votequorum
}
logging {
    to_stderr: yes
    to_syslog: no
    to_logfile: no
}
";

/// The agents the cluster's namespace links in before the daemons start.
#[derive(Default)]
pub struct Agents<'a> {
    /// Fence agents, linked as `/usr/sbin/<name>`.
    pub fence: Vec<(&'a str, &'a Path)>,
    /// OCF resource agents `ocf:<provider>:<type>`, linked as
    /// `/usr/lib/ocf/resource.d/<provider>/<type>`.
    pub ocf: Vec<(&'a str, &'a str, &'a Path)>,
}

impl Cluster {
    /// Starts corosync and pacemakerd inside network namespace `netns`, with
    /// `/usr/sbin/fence_maestro` linked to `agent`, and waits until the
    /// node is online with quorum (about 25 s: the wait for a DC).
    pub fn start(netns: &str, agent: &Path) -> Cluster {
        Cluster::start_with(
            netns,
            &Agents {
                fence: vec![("fence_maestro", agent)],
                ..Agents::default()
            },
        )
    }

    /// Starts the cluster as [`Cluster::start`] does, with `agents` linked in.
    pub fn start_with(netns: &str, agents: &Agents) -> Cluster {
        for program in [
            "/usr/sbin/corosync",
            "/usr/sbin/pacemakerd",
            "/usr/sbin/pcs",
        ] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: the Pacemaker test needs Debian's pacemaker, corosync, \
                 pacemaker-cli-utils and pcs (scripts/test.sh installs them)"
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("maestro-pacemaker-")
            .tempdir()
            .unwrap();
        // The daemons run as hacluster and write their log here.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let d = dir.path();
        fs::write(d.join("corosync.conf"), COROSYNC_CONF).unwrap();
        for sub in ["sbin-upper", "sbin-work", "ocf-upper", "ocf-work"] {
            fs::create_dir_all(d.join(sub)).unwrap();
        }
        let mut setup = String::from("set -e\n");
        for p in PRIVATE {
            setup.push_str(&format!("mount -t tmpfs tmpfs {p}\n"));
        }
        setup.push_str(&format!(
            "mount -t overlay overlay -o lowerdir=/usr/sbin,upperdir={d}/sbin-upper,workdir={d}/sbin-work /usr/sbin\n",
            d = d.display(),
        ));
        // Only a cluster with resource agents under test needs the OCF
        // folder (Debian's resource-agents makes it).
        if !agents.ocf.is_empty() {
            setup.push_str(&format!(
                "mount -t overlay overlay -o lowerdir=/usr/lib/ocf/resource.d,upperdir={d}/ocf-upper,workdir={d}/ocf-work /usr/lib/ocf/resource.d\n",
                d = d.display(),
            ));
        }
        for (name, agent) in &agents.fence {
            setup.push_str(&format!("ln -sfn {} /usr/sbin/{name}\n", agent.display()));
        }
        for (provider, kind, agent) in &agents.ocf {
            setup.push_str(&format!(
                "mkdir -p /usr/lib/ocf/resource.d/{provider}\nln -sfn {} /usr/lib/ocf/resource.d/{provider}/{kind}\n",
                agent.display()
            ));
        }
        setup.push_str(&format!(
            "mkdir -p /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /var/lib/pacemaker/blackbox /var/lib/pacemaker/cores /var/log/pacemaker/bundles
chown -R hacluster:haclient /var/lib/pacemaker /var/log/pacemaker
chmod 750 /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /var/lib/pacemaker/blackbox /var/lib/pacemaker/cores
cp {d}/corosync.conf /etc/corosync/corosync.conf
touch {d}/ready
exec sleep 3600
",
            d = d.display(),
        ));
        let holder = Command::new("ip")
            .args([
                "netns",
                "exec",
                netns,
                "unshare",
                "-m",
                "--propagation",
                "private",
            ])
            .args(["sh", "-c", &setup])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(d.join("setup.log")).unwrap())
            .spawn()
            .expect("ip netns exec unshare runs");
        let mut cluster = Cluster {
            holder,
            daemons: Vec::new(),
            dir,
        };
        cluster.wait_for(Duration::from_secs(10), "the namespace set-up", |c| {
            c.dir.path().join("ready").exists()
        });
        let log = |name: &str| fs::File::create(cluster.dir.path().join(name)).unwrap();
        let corosync = cluster
            .command("corosync")
            .arg("-f")
            .stdout(Stdio::null())
            .stderr(log("corosync.log"))
            .spawn()
            .unwrap();
        cluster.daemons.push(corosync);
        cluster.wait_for(Duration::from_secs(20), "corosync", |c| {
            c.run("corosync-quorumtool", &["-s"])
                .status
                .code()
                .is_some_and(|code| code == 0)
        });
        let pacemakerd = cluster
            .command("pacemakerd")
            .arg("-f")
            .env("PCMK_logfile", cluster.dir.path().join("pacemaker.log"))
            .stdout(Stdio::null())
            .stderr(log("pacemakerd.log"))
            .spawn()
            .unwrap();
        cluster.daemons.push(pacemakerd);
        cluster.wait_for(Duration::from_secs(60), "a DC with quorum", |c| {
            let out = c.run("crm_mon", &["-1"]);
            let text = String::from_utf8_lossy(&out.stdout);
            text.contains("partition with quorum") && text.contains("Online: [ node1 ]")
        });
        cluster
    }

    /// A command that runs inside the cluster's namespaces.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.holder.id().to_string(), "-m", "-n", "--"])
            .arg(program)
            .env_remove("MAESTRO_HA_CONFIG")
            .env_remove("MAESTRO_HA_STATE_DIR")
            .stdin(Stdio::null());
        c
    }

    /// Runs a program inside the cluster, bounded at 90 s.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        let mut c = Command::new("timeout");
        c.args([
            "-k",
            "5",
            "90",
            "nsenter",
            "-t",
            &self.holder.id().to_string(),
            "-m",
            "-n",
            "--",
        ])
        .arg(program)
        .args(args)
        .env_remove("MAESTRO_HA_CONFIG")
        .env_remove("MAESTRO_HA_STATE_DIR")
        .stdin(Stdio::null());
        c.output().unwrap()
    }

    /// Waits until `ready` holds, or fails the test with the cluster's logs.
    pub fn wait_for(&self, within: Duration, what: &str, mut ready: impl FnMut(&Cluster) -> bool) {
        let started = Instant::now();
        while !ready(self) {
            assert!(
                started.elapsed() < within,
                "timed out after {within:?} waiting for {what}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The tail of every log, for failure messages.
    pub fn logs(&self) -> String {
        let mut s = String::new();
        for name in [
            "setup.log",
            "corosync.log",
            "pacemakerd.log",
            "pacemaker.log",
        ] {
            let text = fs::read_to_string(self.path(name)).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            s.push_str(&format!("--- {name}\n"));
            for l in tail.into_iter().rev() {
                s.push_str(l);
                s.push('\n');
            }
        }
        s
    }

    /// The processes in the cluster's mount namespace.
    fn namespace_pids(&self) -> Vec<i32> {
        let holder = self.holder.id();
        let Ok(ns) = fs::read_link(format!("/proc/{holder}/ns/mnt")) else {
            return Vec::new();
        };
        let mut pids = Vec::new();
        for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if fs::read_link(entry.path().join("ns/mnt")).is_ok_and(|l| l == ns) {
                pids.push(pid);
            }
        }
        pids
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // pacemakerd first, gently: it stops and reaps its own daemons.
        if let Some(pacemakerd) = self.daemons.get_mut(1) {
            let _ = Command::new("kill")
                .args(["-TERM", &pacemakerd.id().to_string()])
                .status();
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(20) {
                if !matches!(pacemakerd.try_wait(), Ok(None)) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        // Then everything left in the namespace, whatever it still runs.
        let pids: Vec<String> = self.namespace_pids().iter().map(i32::to_string).collect();
        if !pids.is_empty() {
            let _ = Command::new("kill")
                .arg("-KILL")
                .args(&pids)
                .stderr(Stdio::null())
                .status();
        }
        for d in &mut self.daemons {
            let _ = d.kill();
            let _ = d.wait();
        }
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}
