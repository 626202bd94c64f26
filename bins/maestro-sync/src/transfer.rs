//! The wire: OpenSSH's client (rsync speaks through it, so the sync's
//! other steps do too), rsync's arguments, and what rsync's `--stats`
//! says.
//!
//! Every SSH connection checks the host key against the configured
//! known_hosts and nothing else (`StrictHostKeyChecking=yes`, no global
//! file): an unknown or changed key ends the run. `ServerAliveInterval`
//! makes a dead link end the connection within the I/O timeout; rsync's
//! own `--timeout` ends a transfer that moves nothing for that long.

use crate::proc::Spec;
use crate::settings::{Peer, Settings};
use std::path::Path;
use std::time::Duration;

/// An option value for ssh's `-o KEY=VALUE`: ssh splits file lists at
/// white space unless the value is quoted.
fn ssh_option_path(key: &str, path: &Path) -> String {
    let p = path.display().to_string();
    if p.contains(char::is_whitespace) {
        format!("{key}=\"{p}\"")
    } else {
        format!("{key}={p}")
    }
}

/// `ssh ... HOST`: the arguments that reach `peer` as the sync user.
pub fn ssh_argv(peer: &Peer, io_timeout: Duration) -> Vec<String> {
    let alive = (io_timeout.as_secs() / 4).max(1);
    let mut a: Vec<String> = vec![
        "ssh".into(),
        "-o".into(),
        "BatchMode=yes".into(),
        "-o".into(),
        "StrictHostKeyChecking=yes".into(),
        "-o".into(),
        ssh_option_path("UserKnownHostsFile", &peer.known_hosts),
        "-o".into(),
        "GlobalKnownHostsFile=/dev/null".into(),
        "-o".into(),
        format!("ConnectTimeout={}", peer.connect_timeout.as_secs().max(1)),
        "-o".into(),
        format!("ServerAliveInterval={alive}"),
        "-o".into(),
        "ServerAliveCountMax=3".into(),
        "-o".into(),
        "ForwardAgent=no".into(),
        "-o".into(),
        "ForwardX11=no".into(),
        "-o".into(),
        "ClearAllForwardings=yes".into(),
        "-o".into(),
        "LogLevel=ERROR".into(),
        "-p".into(),
        peer.port.to_string(),
        "-l".into(),
        peer.user.clone(),
    ];
    if let Some(control) = &peer.control_path {
        a.push("-o".into());
        a.push("ControlMaster=auto".into());
        a.push("-o".into());
        a.push(ssh_option_path("ControlPath", control));
        a.push("-o".into());
        a.push("ControlPersist=no".into());
    }
    if let Some(key) = &peer.identity_file {
        a.push("-o".into());
        a.push("IdentitiesOnly=yes".into());
        a.push("-i".into());
        a.push(key.display().to_string());
    }
    a.push(peer.host.clone());
    a
}

/// The control socket of a run's SSH connection to `peer`, in the state
/// folder (private): `None` when its path would not fit a socket's address
/// (108 bytes, and ssh first binds the name with 17 more characters), and
/// then each session connects anew. The name is a short digest of where
/// it leads (ssh's own `%C` is 40 characters).
pub fn control_path(state_dir: &Path, peer: &Peer) -> Option<std::path::PathBuf> {
    // FNV-1a: a name, not a secret.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in format!("{}@{}:{}", peer.user, peer.host, peer.port).bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let p = state_dir.join("maestro-sync").join(format!("ssh-{h:016x}"));
    (p.as_os_str().len() + 17 < 104).then_some(p)
}

/// A command run on `peer` over SSH (`remote` is a shell command line).
pub fn ssh_spec(peer: &Peer, io_timeout: Duration, remote: &str) -> Spec {
    let mut argv = ssh_argv(peer, io_timeout);
    let program = argv.remove(0);
    argv.push(remote.to_string());
    Spec::new(&program, argv).env("LC_ALL", "C")
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct QuoteError(pub String);

/// One word of rsync's `-e` command: rsync splits it at spaces and
/// honours single and double quotes, but no backslashes.
fn rsync_e_word(w: &str) -> Result<String, QuoteError> {
    if !w.is_empty() && !w.contains([' ', '\t', '\'', '"']) {
        return Ok(w.to_string());
    }
    if !w.contains('\'') {
        return Ok(format!("'{w}'"));
    }
    if !w.contains('"') {
        return Ok(format!("\"{w}\""));
    }
    Err(QuoteError(format!(
        "{w:?} holds both kinds of quotes; rsync cannot pass it to ssh"
    )))
}

/// rsync's `-e` value for `peer`.
pub fn rsync_e(peer: &Peer, io_timeout: Duration) -> Result<String, QuoteError> {
    let mut argv = ssh_argv(peer, io_timeout);
    argv.pop(); // rsync adds the host itself
    argv.iter()
        .map(|w| rsync_e_word(w))
        .collect::<Result<Vec<_>, _>>()
        .map(|v| v.join(" "))
}

/// rsync's `-e` value when rsync's stream goes through the run's session:
/// this program's `relay` (see [`crate::carried`]).
pub fn relay_e(exe: &Path) -> Result<String, QuoteError> {
    let exe = exe
        .to_str()
        .ok_or_else(|| QuoteError(format!("{} is not UTF-8", exe.display())))?;
    Ok(format!("{} relay", rsync_e_word(exe)?))
}

/// `host:path` for rsync (an IPv6 address in brackets).
pub fn remote_path(peer: &Peer, path: &str) -> String {
    if peer.host.contains(':') {
        format!("[{}]:{path}", peer.host)
    } else {
        format!("{}:{path}", peer.host)
    }
}

/// `--exclude` options for `[sync] exclude`, with the meaning the
/// manifest's globs have: with a `/` the path from the source (anchored
/// at the source), without one a name at any depth.
pub fn exclude_args(globs: &[String]) -> Vec<String> {
    globs
        .iter()
        .map(|g| {
            let g = g.trim_start_matches("./").trim_end_matches('/');
            if g.contains('/') {
                format!("--exclude=/{}", g.trim_start_matches('/'))
            } else {
                format!("--exclude={g}")
            }
        })
        .collect()
}

/// One rsync run of a generation.
#[derive(Debug, Clone)]
pub struct Rsync<'a> {
    pub settings: &'a Settings,
    /// rsync's `-e` (absent: both sides here).
    pub remote_shell: Option<String>,
    /// The `--rsync-path` on the other side.
    pub rsync_path: Option<String>,
    pub from: String,
    pub to: String,
    pub link_dest: Option<String>,
    /// Where the receiving rsync keeps partly sent files: outside the
    /// generation's data, so no check ever takes one for data.
    pub partial_dir: Option<String>,
    /// Compare by content, not by size and time (after a generation
    /// failed its check: the quick check let a changed file pass).
    pub checksum: bool,
    /// The data (true) or the manifest: only the data is mirrored.
    pub data: bool,
}

impl Rsync<'_> {
    pub fn spec(&self) -> Spec {
        let s = self.settings;
        let mut a: Vec<String> = vec!["-a".into(), "--stats".into()];
        a.push(format!("--timeout={}", s.io_timeout.as_secs().max(1)));
        if self.data {
            a.push("--delete".into());
            a.push("--delete-excluded".into());
        }
        if let Some(p) = &self.partial_dir {
            a.push(format!("--partial-dir={p}"));
        }
        if self.checksum {
            a.push("--checksum".into());
        }
        if let Some(l) = &self.link_dest {
            a.push(format!("--link-dest={l}"));
        }
        if self.data {
            a.extend(s.rsync_options.iter().cloned());
            a.extend(exclude_args(&s.exclude));
        }
        if let Some(e) = &self.remote_shell {
            a.push("-e".into());
            a.push(e.clone());
        }
        if let Some(p) = &self.rsync_path {
            a.push(format!("--rsync-path={p}"));
        }
        a.push(self.from.clone());
        a.push(self.to.clone());
        Spec::new(&s.rsync, a).env("LC_ALL", "C")
    }
}

/// What rsync's `--stats` says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub files: u64,
    pub regular_files: u64,
    pub transferred: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

impl Stats {
    pub fn add(&mut self, o: &Stats) {
        self.files += o.files;
        self.regular_files += o.regular_files;
        self.transferred += o.transferred;
        self.bytes_sent += o.bytes_sent;
        self.bytes_received += o.bytes_received;
    }
}

/// The first number after `label` (digit group separators dropped).
fn number_after(text: &str, label: &str) -> Option<u64> {
    let rest = text.split_once(label)?.1;
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',' || *c == '.')
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

pub fn parse_stats(text: &str) -> Stats {
    let mut s = Stats::default();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("Number of files:") {
            s.files = number_after(line, "Number of files:").unwrap_or(0);
            s.regular_files = number_after(line, "reg:").unwrap_or(0);
        } else if line.starts_with("Number of regular files transferred:") {
            s.transferred = number_after(line, "transferred:").unwrap_or(0);
        } else if line.starts_with("Total bytes sent:") {
            s.bytes_sent = number_after(line, "sent:").unwrap_or(0);
        } else if line.starts_with("Total bytes received:") {
            s.bytes_received = number_after(line, "received:").unwrap_or(0);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::PeerRole;
    use std::path::PathBuf;

    fn peer(known_hosts: &str) -> Peer {
        Peer {
            role: PeerRole::Failover,
            host: "maestro2".into(),
            port: 2222,
            user: "maestro-sync".into(),
            identity_file: Some(PathBuf::from("/etc/maestro-ha/sync key")),
            known_hosts: PathBuf::from(known_hosts),
            connect_timeout: Duration::from_secs(10),
            control_path: None,
        }
    }

    #[test]
    fn ssh_checks_the_host_key_and_keeps_the_link_alive() {
        let a = ssh_argv(
            &peer("/etc/maestro-ha/known_hosts"),
            Duration::from_secs(120),
        )
        .join(" ");
        for want in [
            "BatchMode=yes",
            "StrictHostKeyChecking=yes",
            "UserKnownHostsFile=/etc/maestro-ha/known_hosts",
            "GlobalKnownHostsFile=/dev/null",
            "ConnectTimeout=10",
            "ServerAliveInterval=30",
            "-p 2222 -l maestro-sync",
            "IdentitiesOnly=yes -i /etc/maestro-ha/sync key maestro2",
        ] {
            assert!(a.contains(want), "{want}: {a}");
        }
        let e = rsync_e(&peer("/etc/known hosts"), Duration::from_secs(120)).unwrap();
        assert!(
            e.contains("'UserKnownHostsFile=\"/etc/known hosts\"'"),
            "{e}"
        );
        assert!(e.contains("-i '/etc/maestro-ha/sync key'"), "{e}");
        assert!(!e.ends_with("maestro2"), "{e}");
        let mut both = peer("/k");
        both.identity_file = Some(PathBuf::from("/a'b\"c"));
        assert!(rsync_e(&both, Duration::from_secs(1)).is_err());
    }

    #[test]
    fn the_relay_is_quoted_for_rsync() {
        assert_eq!(
            relay_e(Path::new("/usr/bin/maestro-sync")).unwrap(),
            "/usr/bin/maestro-sync relay"
        );
        assert_eq!(
            relay_e(Path::new("/opt/maestro ha/maestro-sync")).unwrap(),
            "'/opt/maestro ha/maestro-sync' relay"
        );
    }

    #[test]
    fn excludes_mean_what_the_manifest_globs_mean() {
        assert_eq!(
            exclude_args(&["*.log".into(), "lui/temp/".into(), "./hub/backup".into()]),
            [
                "--exclude=*.log",
                "--exclude=/lui/temp",
                "--exclude=/hub/backup"
            ]
        );
    }

    #[test]
    fn stats_are_read_with_digit_groups() {
        let text = "\nNumber of files: 10,241 (reg: 10,240, dir: 1)\nNumber of created files: 0\nNumber of regular files transferred: 102\nTotal file size: 2,147,483,648 bytes\nTotal bytes sent: 70,349\nTotal bytes received: 1,921\n";
        assert_eq!(
            parse_stats(text),
            Stats {
                files: 10241,
                regular_files: 10240,
                transferred: 102,
                bytes_sent: 70349,
                bytes_received: 1921
            }
        );
        assert_eq!(parse_stats("garbage"), Stats::default());
    }

    #[test]
    fn the_control_socket_fits_a_socket_address_or_is_not_used() {
        let p = peer("/k");
        let c = control_path(Path::new("/var/lib/maestro-ha"), &p).unwrap();
        assert!(c
            .to_string_lossy()
            .starts_with("/var/lib/maestro-ha/maestro-sync/ssh-"));
        assert_eq!(
            c,
            control_path(Path::new("/var/lib/maestro-ha"), &p).unwrap()
        );
        let mut other = p.clone();
        other.port = 22;
        assert_ne!(
            c,
            control_path(Path::new("/var/lib/maestro-ha"), &other).unwrap()
        );
        let long =
            Path::new("/tmp/a-rather-long-folder-name-for-tests-XXXXXX/state-of-the-sending-side");
        assert_eq!(control_path(long, &p), None);
    }

    #[test]
    fn hosts_with_colons_are_bracketed() {
        let mut p = peer("/k");
        assert_eq!(remote_path(&p, "/srv/g"), "maestro2:/srv/g");
        p.host = "fd00::2".into();
        assert_eq!(remote_path(&p, "/srv/g"), "[fd00::2]:/srv/g");
    }
}
