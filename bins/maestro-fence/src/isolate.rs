//! The `isolate` level, for a primary that cannot be reached: on this
//! failover server, drop all traffic from and to the primary's addresses
//! (nftables, or iptables where `nft` is missing) and close the inbound
//! sync path (the sync user's key in authorized_keys, the rsync daemon).
//! Confirmed when the rules list back with every address, the key line is
//! commented out and the daemon is stopped.

use crate::config::{FenceLevel, FirewallBackend};
use crate::deadline::Deadline;
use crate::level::{LevelOutcome, Verdict};
use crate::local_addrs;
use crate::process::{self, LocalOutput};
use crate::remote::{brief, Answer, Judge};
use crate::settings::Settings;
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The longest a connect probe waits (less when `connect_timeout` is shorter).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// How a key line disabled by the fence starts.
pub const KEY_TAG: &str = "#maestro-fence# ";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firewall {
    Nft,
    Iptables,
}

impl Firewall {
    pub fn choose(s: &Settings) -> Firewall {
        match s.fence.firewall {
            FirewallBackend::Nft => Firewall::Nft,
            FirewallBackend::Iptables => Firewall::Iptables,
            FirewallBackend::Auto => {
                if process::find_program("nft").is_some() {
                    Firewall::Nft
                } else {
                    Firewall::Iptables
                }
            }
        }
    }
}

/// Resolves one name (or parses an address), bounded: name lookup has no
/// timeout of its own, so it runs on a thread that is left behind at the bound.
fn resolve(key: &str, name: &str, timeout: Duration) -> Result<Vec<IpAddr>, String> {
    if let Ok(ip) = name.trim_matches(['[', ']']).parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let (tx, rx) = mpsc::channel();
    let lookup = name.to_string();
    std::thread::spawn(move || {
        let _ = tx.send(
            (lookup.as_str(), 0)
                .to_socket_addrs()
                .map(|a| a.map(|s| s.ip()).collect::<Vec<_>>()),
        );
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(ips)) if !ips.is_empty() => Ok(ips),
        Ok(Ok(_)) => Err(format!("{key} {name} resolves to no address")),
        Ok(Err(e)) => Err(format!("{key}: cannot resolve {name}: {e}")),
        Err(_) => Err(format!("{key}: resolving {name} timed out")),
    }
}

/// The primary's addresses: what `[primary] host` resolves to (the address
/// SSH and every other client reach it on), always, and every
/// `[primary] addresses` entry besides.
pub fn addresses(s: &Settings, timeout: Duration) -> Result<Vec<IpAddr>, String> {
    let mut out = resolve("[primary] host", &s.primary.host, timeout)?;
    for (i, name) in s.primary.addresses.iter().enumerate() {
        out.extend(resolve(
            &format!("[primary] addresses[{i}]"),
            name,
            timeout,
        )?);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// What `isolate` would block, decided before anything changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// The primary's addresses, none of them this server's.
    Ready(Vec<IpAddr>),
    /// A name did not resolve: the level cannot run, the others may.
    Unresolved(String),
    /// An address is this server's own (or that cannot be ruled out): the
    /// whole fence is refused before any level runs.
    Refused(String),
}

/// The prefix of every refusal, as scripts and people look for it.
pub const REFUSAL: &str = "refusing to isolate an address of this server";

/// Resolves the primary's addresses and refuses any of this server's own.
pub fn targets(s: &Settings, timeout: Duration) -> Targets {
    let addrs = match addresses(s, timeout) {
        Ok(a) => a,
        Err(e) => return Targets::Unresolved(e),
    };
    match local_addrs::own_addresses(&addrs) {
        Ok(own) if own.is_empty() => Targets::Ready(addrs),
        Ok(own) => {
            let list: Vec<String> = own
                .iter()
                .map(|o| format!("{} ({})", o.ip, o.source))
                .collect();
            Targets::Refused(format!(
                "{REFUSAL}: {} (the primary is [primary] host {:?}{}); dropping it would cut this server off from itself while the primary runs on",
                list.join(", "),
                s.primary.host,
                if s.primary.addresses.is_empty() {
                    String::new()
                } else {
                    " with [primary] addresses".to_string()
                }
            ))
        }
        Err(e) => Targets::Refused(format!(
            "{REFUSAL}? cannot tell ({e}), so nothing is isolated"
        )),
    }
}

/// One local command.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalCommand {
    pub name: String,
    pub program: String,
    pub args: Vec<String>,
    pub input: String,
    /// Failure is expected sometimes (creating a chain that exists).
    pub may_fail: bool,
}

impl LocalCommand {
    fn new(name: &str, program: &str, args: &[&str]) -> LocalCommand {
        LocalCommand {
            name: name.to_string(),
            program: program.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            input: String::new(),
            may_fail: false,
        }
    }

    pub fn shown(&self) -> String {
        let mut s = std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .map(crate::remote::sh_quote)
            .collect::<Vec<_>>()
            .join(" ");
        if !self.input.is_empty() {
            s.push_str(&format!(" <<< {:?}", self.input));
        }
        s
    }
}

pub fn nft_script(table: &str, addrs: &[IpAddr]) -> String {
    let set = |v6: bool| {
        addrs
            .iter()
            .filter(|a| a.is_ipv6() == v6)
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (v4, v6) = (set(false), set(true));
    let mut input = String::new();
    let mut output = String::new();
    if !v4.is_empty() {
        input.push_str(&format!("\t\tip saddr {{ {v4} }} drop\n"));
        output.push_str(&format!("\t\tip daddr {{ {v4} }} drop\n"));
    }
    if !v6.is_empty() {
        input.push_str(&format!("\t\tip6 saddr {{ {v6} }} drop\n"));
        output.push_str(&format!("\t\tip6 daddr {{ {v6} }} drop\n"));
    }
    // Adding then deleting the table first makes the load idempotent, in
    // one atomic transaction.
    format!(
        "table inet {table}\ndelete table inet {table}\ntable inet {table} {{\n\tchain input {{\n\t\ttype filter hook input priority -10; policy accept;\n{input}\t}}\n\tchain output {{\n\t\ttype filter hook output priority -10; policy accept;\n{output}\t}}\n}}\n"
    )
}

fn chains(table: &str) -> (String, String) {
    (format!("{table}_in"), format!("{table}_out"))
}

fn ipt(a: &IpAddr) -> &'static str {
    if a.is_ipv6() {
        "ip6tables"
    } else {
        "iptables"
    }
}

/// The commands that load the block.
pub fn firewall_commands(fw: Firewall, table: &str, addrs: &[IpAddr]) -> Vec<LocalCommand> {
    match fw {
        Firewall::Nft => {
            let mut c = LocalCommand::new("load the nftables block", "nft", &["-f", "-"]);
            c.input = nft_script(table, addrs);
            vec![c]
        }
        Firewall::Iptables => {
            let (cin, cout) = chains(table);
            let mut v = Vec::new();
            let mut families: Vec<&str> = addrs.iter().map(ipt).collect();
            families.dedup();
            for fam in ["iptables", "ip6tables"] {
                if !families.contains(&fam) {
                    continue;
                }
                for (chain, hook) in [(&cin, "INPUT"), (&cout, "OUTPUT")] {
                    let mut n = LocalCommand::new(
                        &format!("create chain {chain}"),
                        fam,
                        &["-w", "5", "-N", chain],
                    );
                    n.may_fail = true;
                    v.push(n);
                    v.push(LocalCommand::new(
                        &format!("flush chain {chain}"),
                        fam,
                        &["-w", "5", "-F", chain],
                    ));
                    for a in addrs.iter().filter(|a| ipt(a) == fam) {
                        let flag = if hook == "INPUT" { "-s" } else { "-d" };
                        v.push(LocalCommand::new(
                            &format!("drop {a} in {chain}"),
                            fam,
                            &["-w", "5", "-A", chain, flag, &a.to_string(), "-j", "DROP"],
                        ));
                    }
                    let mut del = LocalCommand::new(
                        &format!("unhook {chain} from {hook}"),
                        fam,
                        &["-w", "5", "-D", hook, "-j", chain],
                    );
                    del.may_fail = true;
                    v.push(del);
                    v.push(LocalCommand::new(
                        &format!("hook {chain} first in {hook}"),
                        fam,
                        &["-w", "5", "-I", hook, "1", "-j", chain],
                    ));
                }
            }
            v
        }
    }
}

/// The commands that remove the block (unfence).
pub fn firewall_removal(fw: Firewall, table: &str) -> Vec<LocalCommand> {
    let mut v = Vec::new();
    match fw {
        Firewall::Nft => {
            let mut c = LocalCommand::new("remove the nftables block", "nft", &["-f", "-"]);
            c.input = format!("table inet {table}\ndelete table inet {table}\n");
            v.push(c);
        }
        Firewall::Iptables => {
            let (cin, cout) = chains(table);
            for fam in ["iptables", "ip6tables"] {
                for (chain, hook) in [(&cin, "INPUT"), (&cout, "OUTPUT")] {
                    for args in [
                        vec!["-w", "5", "-D", hook, "-j", chain],
                        vec!["-w", "5", "-F", chain],
                        vec!["-w", "5", "-X", chain],
                    ] {
                        let mut c =
                            LocalCommand::new(&format!("remove {chain} ({fam})"), fam, &args);
                        c.may_fail = true;
                        v.push(c);
                    }
                }
            }
        }
    }
    v
}

/// Whether the listed rules block every address. Returns what is missing.
pub fn missing_from_nft_listing(listing: &str, addrs: &[IpAddr]) -> Vec<String> {
    // Only the input chain: that is what keeps the primary out.
    let mut in_input = false;
    let mut drop_lines = Vec::new();
    for line in listing.lines() {
        let t = line.trim();
        if t.starts_with("chain ") {
            in_input = t.starts_with("chain input ");
        } else if in_input && t.contains("saddr") && t.ends_with("drop") {
            drop_lines.push(t.to_string());
        }
    }
    addrs
        .iter()
        .map(|a| a.to_string())
        .filter(|a| {
            !drop_lines
                .iter()
                .any(|l| l.split([' ', ',', '{', '}']).any(|w| w == a))
        })
        .collect()
}

pub fn missing_from_iptables_listing(listing: &str, chain: &str, addrs: &[IpAddr]) -> Vec<String> {
    addrs
        .iter()
        .filter(|a| {
            let want = if a.is_ipv6() {
                format!("{a}/128")
            } else {
                format!("{a}/32")
            };
            !listing.lines().any(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.len() >= 6
                    && w[0] == "-A"
                    && w[1] == chain
                    && w[2] == "-s"
                    && w[3] == want
                    && w[4] == "-j"
                    && w[5] == "DROP"
            })
        })
        .map(|a| a.to_string())
        .collect()
}

/// The largest authorized_keys file read: a few hundred keys at most.
const KEYS_LIMIT: u64 = maestro_common::fsio::MIB;

fn read_keys(path: &Path) -> std::io::Result<String> {
    maestro_common::fsio::read_regular_to_string(path, KEYS_LIMIT).map_err(std::io::Error::other)
}

/// Comments out the key lines holding `key_match`; returns how many were
/// active before. Rewritten atomically (a temporary file beside it, fsync,
/// rename, fsync of the folder), keeping the file's mode and owner; a
/// chown that fails is an error, so a crash never leaves half a file and
/// the file never changes hands.
pub fn disable_key(path: &Path, key_match: &str) -> std::io::Result<usize> {
    let text = read_keys(path)?;
    let mut n = 0;
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        if is_active_key_line(line, key_match) {
            n += 1;
            out.push_str(KEY_TAG);
        }
        out.push_str(line);
    }
    if n > 0 {
        rewrite(path, &out)?;
    }
    Ok(n)
}

/// Undoes [`disable_key`].
pub fn restore_key(path: &Path) -> std::io::Result<usize> {
    let text = read_keys(path)?;
    let mut n = 0;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        match line.strip_prefix(KEY_TAG) {
            Some(rest) => {
                n += 1;
                out.push_str(rest);
            }
            None => out.push_str(line),
        }
    }
    if n > 0 {
        rewrite(path, &out)?;
    }
    Ok(n)
}

fn is_active_key_line(line: &str, key_match: &str) -> bool {
    let t = line.trim_start();
    !t.is_empty() && !t.starts_with('#') && t.contains(key_match)
}

/// How many active key lines hold `key_match`.
pub fn active_keys(path: &Path, key_match: &str) -> std::io::Result<usize> {
    Ok(read_keys(path)?
        .lines()
        .filter(|l| is_active_key_line(l, key_match))
        .count())
}

fn rewrite(path: &Path, text: &str) -> std::io::Result<()> {
    maestro_common::fsio::write_atomic(path, text.as_bytes(), 0o600).map_err(std::io::Error::other)
}

fn run_local(
    c: &LocalCommand,
    s: &Settings,
    deadline: &Deadline,
    out: &mut LevelOutcome,
) -> Result<LocalOutput, String> {
    let Some(timeout) = deadline.cap(s.command_timeout) else {
        return Err(format!("the run's deadline passed before `{}`", c.name));
    };
    let started = Instant::now();
    match process::run(&c.program, &c.args, c.input.as_bytes(), timeout) {
        Ok(o) => {
            let seen = format!(
                "{}: {}",
                o.code.map_or("signal".to_string(), |c| format!("exit {c}")),
                brief(&format!("{} {}", o.stdout, o.stderr))
            );
            let outcome = if o.success() { "ran" } else { "failed" };
            out.record(
                &c.name,
                "local",
                c.shown(),
                outcome,
                seen,
                started.elapsed(),
            );
            if !o.success() && !c.may_fail {
                return Err(format!("`{}` failed: {}", c.shown(), brief(&o.stderr)));
            }
            Ok(o)
        }
        Err(e) => {
            let outcome = if matches!(e, process::RunError::Timeout { .. }) {
                "timeout"
            } else {
                "error"
            };
            out.record(
                &c.name,
                "local",
                c.shown(),
                outcome,
                e.to_string(),
                started.elapsed(),
            );
            Err(e.to_string())
        }
    }
}

fn systemd_show(unit: &str) -> LocalCommand {
    LocalCommand::new(
        &format!("{unit} stopped and masked"),
        "systemctl",
        &[
            "show",
            "-p",
            "LoadState",
            "-p",
            "ActiveState",
            "-p",
            "UnitFileState",
            unit,
        ],
    )
}

/// What `isolate` would run, for `--dry-run`.
pub fn describe(s: &Settings, addrs: &[IpAddr]) -> Vec<(String, String)> {
    let fw = Firewall::choose(s);
    let mut v: Vec<(String, String)> = firewall_commands(fw, &s.table, addrs)
        .into_iter()
        .map(|c| (c.name.clone(), c.shown()))
        .collect();
    if let (Some(p), Some(m)) = (&s.sync.authorized_keys, &s.sync.key_match) {
        v.push((
            "disable the sync key".into(),
            format!("comment out the lines of {} holding {m:?}", p.display()),
        ));
    }
    if let Some(u) = &s.sync.rsync_daemon_unit {
        v.push((
            format!("stop {u}"),
            format!("systemctl disable --now {u}; systemctl mask {u}"),
        ));
    }
    let ports: Vec<String> = s.probe_ports().iter().map(u16::to_string).collect();
    let list: Vec<String> = addrs.iter().map(IpAddr::to_string).collect();
    v.push((
        "connect probe".into(),
        format!(
            "tcp connect to {} on port {}: every one must fail",
            list.join(", "),
            ports.join(", ")
        ),
    ));
    v
}

/// What a TCP connect to the primary found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// The connection was made: the primary is not isolated.
    Connected,
    /// The primary answered with a reset: its packets still get here.
    Refused,
    /// No answer (dropped here, timed out, no route): isolated.
    Silent(String),
    /// The connect failed for a reason that says nothing about the path to
    /// the primary (no free port, no descriptor): cannot tell.
    Unknown(String),
}

/// One bounded TCP connect to `addr`.
pub fn probe_once(addr: SocketAddr, timeout: Duration) -> Reach {
    use std::io::ErrorKind;
    match TcpStream::connect_timeout(&addr, timeout) {
        Ok(_) => Reach::Connected,
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => Reach::Refused,
        // Dropped by a rule here (EPERM), no answer, no way there: the
        // only failures that show the primary cut off.
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::TimedOut
                    | ErrorKind::PermissionDenied
                    | ErrorKind::HostUnreachable
                    | ErrorKind::NetworkUnreachable
            ) =>
        {
            Reach::Silent(e.to_string())
        }
        Err(e) => Reach::Unknown(e.to_string()),
    }
}

/// The active proof: from this server, a bounded TCP connect to every
/// isolated address on the primary's SSH port and the `[watch]` ports must
/// fail. Rules that list back prove only that they were loaded; a probe
/// proves that they hold. The connects run at once, so the whole probe
/// takes at most one `timeout`. Adds what it found to `problems` (the
/// primary answers) and `unsure` (a probe could not be made).
pub fn probe(
    s: &Settings,
    addrs: &[IpAddr],
    timeout: Duration,
    out: &mut LevelOutcome,
    problems: &mut Vec<String>,
    unsure: &mut Vec<String>,
) {
    let targets: Vec<SocketAddr> = addrs
        .iter()
        .flat_map(|&ip| {
            s.probe_ports()
                .into_iter()
                .map(move |p| SocketAddr::new(ip, p))
        })
        .collect();
    let started = Instant::now();
    let handles: Vec<_> = targets
        .iter()
        .map(|&a| std::thread::spawn(move || probe_once(a, timeout)))
        .collect();
    for (addr, h) in targets.iter().zip(handles) {
        let reach = h
            .join()
            .unwrap_or_else(|_| Reach::Silent("the probe thread failed".into()));
        let action = format!("tcp connect {addr} (timeout {}s)", timeout.as_secs_f64());
        let (outcome, seen) = match &reach {
            Reach::Connected => (
                "does-not-hold",
                "connected: the primary answers".to_string(),
            ),
            Reach::Refused => (
                "does-not-hold",
                "connection refused: the primary's packets still get here".to_string(),
            ),
            Reach::Silent(why) => ("holds", format!("no connection: {why}")),
            Reach::Unknown(why) => ("cannot-tell", format!("the probe could not be made: {why}")),
        };
        out.record(
            format!("probe {addr}"),
            "local",
            action,
            outcome,
            seen.clone(),
            started.elapsed(),
        );
        match outcome {
            "holds" => {}
            "cannot-tell" => unsure.push(format!("{addr}: {seen}")),
            _ => problems.push(format!("{addr} still answers ({seen})")),
        }
    }
}

/// Checks the block and the closed sync path; the verdict.
pub fn verify(
    s: &Settings,
    addrs: &[IpAddr],
    deadline: &Deadline,
    out: &mut LevelOutcome,
) -> Verdict {
    let fw = Firewall::choose(s);
    let mut problems = Vec::new();
    let mut unsure = Vec::new();
    match fw {
        Firewall::Nft => {
            let c = LocalCommand::new(
                "list the nftables block",
                "nft",
                &["list", "table", "inet", &s.table],
            );
            match run_local(
                &LocalCommand {
                    may_fail: true,
                    ..c
                },
                s,
                deadline,
                out,
            ) {
                Ok(o) if o.success() => {
                    let missing = missing_from_nft_listing(&o.stdout, addrs);
                    if !missing.is_empty() {
                        problems.push(format!(
                            "table inet {} does not drop {}",
                            s.table,
                            missing.join(", ")
                        ));
                    }
                }
                Ok(o) => problems.push(format!(
                    "table inet {} is not loaded: {}",
                    s.table,
                    brief(&o.stderr)
                )),
                Err(e) => unsure.push(e),
            }
        }
        Firewall::Iptables => {
            let (cin, _) = chains(&s.table);
            for fam in ["iptables", "ip6tables"] {
                let fam_addrs: Vec<IpAddr> =
                    addrs.iter().copied().filter(|a| ipt(a) == fam).collect();
                if fam_addrs.is_empty() {
                    continue;
                }
                let mut list = LocalCommand::new(
                    &format!("list {cin} ({fam})"),
                    fam,
                    &["-w", "5", "-S", &cin],
                );
                list.may_fail = true;
                match run_local(&list, s, deadline, out) {
                    Ok(o) if o.success() => {
                        let missing = missing_from_iptables_listing(&o.stdout, &cin, &fam_addrs);
                        if !missing.is_empty() {
                            problems.push(format!(
                                "{fam} chain {cin} does not drop {}",
                                missing.join(", ")
                            ));
                        }
                    }
                    Ok(o) => problems.push(format!(
                        "{fam} chain {cin} is missing: {}",
                        brief(&o.stderr)
                    )),
                    Err(e) => unsure.push(e),
                }
                let mut hooked = LocalCommand::new(
                    &format!("{cin} hooked into INPUT ({fam})"),
                    fam,
                    &["-w", "5", "-C", "INPUT", "-j", &cin],
                );
                hooked.may_fail = true;
                match run_local(&hooked, s, deadline, out) {
                    Ok(o) if o.success() => {}
                    Ok(_) => problems.push(format!("{fam}: INPUT does not jump to {cin}")),
                    Err(e) => unsure.push(e),
                }
            }
        }
    }
    if let (Some(p), Some(m)) = (&s.sync.authorized_keys, &s.sync.key_match) {
        let started = Instant::now();
        match active_keys(p, m) {
            Ok(0) => out.record(
                "sync key disabled",
                "local",
                format!("read {}", p.display()),
                "holds",
                "no active line holds the sync key",
                started.elapsed(),
            ),
            Ok(n) => {
                out.record(
                    "sync key disabled",
                    "local",
                    format!("read {}", p.display()),
                    "does-not-hold",
                    format!("{n} active line(s) hold the sync key"),
                    started.elapsed(),
                );
                problems.push(format!("{} still lets the sync key in", p.display()));
            }
            Err(e) => {
                out.record(
                    "sync key disabled",
                    "local",
                    format!("read {}", p.display()),
                    "cannot-tell",
                    e.to_string(),
                    started.elapsed(),
                );
                unsure.push(format!("cannot read {}: {e}", p.display()));
            }
        }
    }
    if let Some(u) = &s.sync.rsync_daemon_unit {
        let mut c = systemd_show(u);
        c.may_fail = true;
        match run_local(&c, s, deadline, out) {
            Ok(o) => {
                let exec = maestro_common::ssh::ExecOutput {
                    stdout: o.stdout.into_bytes(),
                    stderr: o.stderr.into_bytes(),
                    exit_status: o.code.unwrap_or(-1),
                    exit_signal: None,
                    elapsed: o.elapsed,
                };
                match Judge::SystemdStoppedMasked.judge(&exec) {
                    Answer::Holds(_) => {}
                    Answer::Fails(x) => {
                        problems.push(format!("{u} is not stopped and masked ({x})"))
                    }
                    Answer::CannotTell(x) => unsure.push(format!("{u}: {x}")),
                }
            }
            Err(e) => unsure.push(e),
        }
    }
    match deadline.cap(s.primary.connect_timeout().min(PROBE_TIMEOUT)) {
        Some(t) => probe(s, addrs, t, out, &mut problems, &mut unsure),
        None => unsure.push("the run's deadline passed before the connect probe".into()),
    }
    if !problems.is_empty() {
        problems.extend(unsure);
        Verdict::NotConfirmed(problems.join("; "))
    } else if !unsure.is_empty() {
        Verdict::CannotTell(unsure.join("; "))
    } else {
        let list: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
        let ports: Vec<String> = s.probe_ports().iter().map(u16::to_string).collect();
        Verdict::Confirmed(format!(
            "{} blocks {}, and no connect to port {} gets through",
            match fw {
                Firewall::Nft => format!("nftables table inet {}", s.table),
                Firewall::Iptables => format!("iptables chain {}_in", s.table),
            },
            list.join(", "),
            ports.join(", ")
        ))
    }
}

/// The `isolate` level of `fence`, on targets vetted by [`targets`].
pub fn fence(s: &Settings, targets: &Targets, deadline: &Deadline) -> LevelOutcome {
    let mut out = LevelOutcome::new(FenceLevel::Isolate);
    let addrs = match targets {
        Targets::Ready(a) => a.clone(),
        Targets::Unresolved(e) | Targets::Refused(e) => {
            out.verdict = Verdict::NotConfirmed(format!("{e}; nothing was changed"));
            return out;
        }
    };
    if deadline.remaining().is_zero() {
        out.verdict = Verdict::NotConfirmed("the run's deadline passed".into());
        return out;
    }
    let fw = Firewall::choose(s);
    for c in firewall_commands(fw, &s.table, &addrs) {
        let result = run_local(&c, s, deadline, &mut out);
        if !c.may_fail {
            let state = match &result {
                Ok(o) if o.success() => "done",
                Ok(_) => "failed",
                Err(_) => "unknown",
            };
            out.changed(&c.name, "local", state, "unfence removes it");
        }
        if let Err(e) = result {
            out.verdict = Verdict::NotConfirmed(e);
            return out;
        }
    }
    if let (Some(p), Some(m)) = (&s.sync.authorized_keys, &s.sync.key_match) {
        let started = Instant::now();
        match disable_key(p, m) {
            Ok(n) => {
                out.record(
                    "disable the sync key",
                    "local",
                    format!("comment out the lines of {} holding {m:?}", p.display()),
                    "ran",
                    format!("{n} line(s) commented out"),
                    started.elapsed(),
                );
                if n > 0 {
                    out.changed(
                        "disable the sync key",
                        "local",
                        "done",
                        "unfence --resume-sync",
                    );
                }
            }
            Err(e) => {
                out.record(
                    "disable the sync key",
                    "local",
                    format!("comment out the lines of {} holding {m:?}", p.display()),
                    "error",
                    e.to_string(),
                    started.elapsed(),
                );
                out.verdict = Verdict::NotConfirmed(format!("cannot edit {}: {e}", p.display()));
                return out;
            }
        }
    }
    if let Some(u) = &s.sync.rsync_daemon_unit {
        for c in [
            LocalCommand::new(&format!("stop {u}"), "systemctl", &["disable", "--now", u]),
            LocalCommand::new(&format!("mask {u}"), "systemctl", &["mask", u]),
        ] {
            let result = run_local(&c, s, deadline, &mut out);
            let state = match &result {
                Ok(o) if o.success() => "done",
                Ok(_) => "failed",
                Err(_) => "unknown",
            };
            out.changed(&c.name, "local", state, "unfence --resume-sync");
            if let Err(e) = result {
                out.verdict = Verdict::NotConfirmed(e);
                return out;
            }
        }
    }
    out.verdict = match verify(s, &addrs, deadline, &mut out) {
        Verdict::CannotTell(w) => Verdict::NotConfirmed(w),
        v => v,
    };
    out
}

pub fn status(s: &Settings, deadline: &Deadline) -> LevelOutcome {
    let mut out = LevelOutcome::new(FenceLevel::Isolate);
    out.verdict = match targets(s, s.command_timeout.min(deadline.remaining())) {
        Targets::Ready(addrs) => verify(s, &addrs, deadline, &mut out),
        Targets::Unresolved(e) => Verdict::CannotTell(e),
        Targets::Refused(e) => Verdict::NotConfirmed(e),
    };
    out
}

/// Unfence: remove the block; reopen the sync path only when asked.
pub fn undo(s: &Settings, resume_sync: bool, deadline: &Deadline) -> LevelOutcome {
    let mut out = LevelOutcome::new(FenceLevel::Isolate);
    let fw = Firewall::choose(s);
    let mut errors = Vec::new();
    for c in firewall_removal(fw, &s.table) {
        if let Err(e) = run_local(&c, s, deadline, &mut out) {
            // nft refuses to delete a table that was never there only when
            // the add-first trick fails; anything else is a real failure.
            errors.push(e);
        }
    }
    if resume_sync {
        if let Some(p) = &s.sync.authorized_keys {
            let started = Instant::now();
            match restore_key(p) {
                Ok(n) => out.record(
                    "restore the sync key",
                    "local",
                    format!("uncomment {}", p.display()),
                    "ran",
                    format!("{n} line(s) restored"),
                    started.elapsed(),
                ),
                Err(e) => errors.push(format!("cannot restore {}: {e}", p.display())),
            }
        }
        if let Some(u) = &s.sync.rsync_daemon_unit {
            for c in [
                LocalCommand::new(&format!("unmask {u}"), "systemctl", &["unmask", u]),
                LocalCommand::new(&format!("start {u}"), "systemctl", &["enable", "--now", u]),
            ] {
                if let Err(e) = run_local(&c, s, deadline, &mut out) {
                    errors.push(e);
                }
            }
        }
    }
    // Verify the block is gone.
    if fw == Firewall::Nft && process::find_program("nft").is_some() {
        let mut c = LocalCommand::new(
            "the nftables block is gone",
            "nft",
            &["list", "table", "inet", &s.table],
        );
        c.may_fail = true;
        match run_local(&c, s, deadline, &mut out) {
            Ok(o) if o.success() => errors.push(format!("table inet {} is still loaded", s.table)),
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }
    out.verdict = if errors.is_empty() {
        Verdict::Confirmed("the isolation is removed".into())
    } else {
        Verdict::NotConfirmed(errors.join("; "))
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nft_listing_must_drop_every_address() {
        let addrs: Vec<IpAddr> = vec![
            "198.18.0.2".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        ];
        let listing = "table inet maestro_fence {\n\tchain input {\n\t\ttype filter hook input priority -10; policy accept;\n\t\tip saddr 198.18.0.2 drop\n\t\tip6 saddr 2001:db8::2 drop\n\t}\n\tchain output {\n\t\tip daddr 198.18.0.9 drop\n\t}\n}\n";
        assert!(missing_from_nft_listing(listing, &addrs).is_empty());
        let partial = listing.replace("\t\tip6 saddr 2001:db8::2 drop\n", "");
        assert_eq!(
            missing_from_nft_listing(&partial, &addrs),
            vec!["2001:db8::2"]
        );
        // An address only in the output chain does not count.
        let only_out: Vec<IpAddr> = vec!["198.18.0.9".parse().unwrap()];
        assert_eq!(missing_from_nft_listing(listing, &only_out).len(), 1);
        // A prefix of another address does not count either.
        let set = "chain input {\n ip saddr { 198.18.0.20, 198.18.0.3 } drop\n}";
        assert_eq!(
            missing_from_nft_listing(set, &addrs[..1]),
            vec!["198.18.0.2"]
        );
    }

    #[test]
    fn iptables_listing() {
        let a: Vec<IpAddr> = vec!["198.18.0.2".parse().unwrap()];
        let l = "-N maestro_fence_in\n-A maestro_fence_in -s 198.18.0.2/32 -j DROP\n";
        assert!(missing_from_iptables_listing(l, "maestro_fence_in", &a).is_empty());
        assert_eq!(
            missing_from_iptables_listing("-N maestro_fence_in\n", "maestro_fence_in", &a).len(),
            1
        );
    }

    #[test]
    fn keys_are_commented_out_and_restored() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("authorized_keys");
        let text = "ssh-ed25519 AAAA admin@x\nssh-ed25519 BBBB maestro-sync@primary\n# ssh-ed25519 CCCC maestro-sync@old\n";
        std::fs::write(&p, text).unwrap();
        assert_eq!(active_keys(&p, "maestro-sync").unwrap(), 1);
        assert_eq!(disable_key(&p, "maestro-sync").unwrap(), 1);
        assert_eq!(active_keys(&p, "maestro-sync").unwrap(), 0);
        assert_eq!(active_keys(&p, "admin@x").unwrap(), 1);
        assert_eq!(disable_key(&p, "maestro-sync").unwrap(), 0, "idempotent");
        assert_eq!(restore_key(&p).unwrap(), 1);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), text);
    }

    #[test]
    fn nft_script_is_atomic_and_blocks_both_ways() {
        let s = nft_script("t", &["198.18.0.2".parse().unwrap()]);
        assert!(s.starts_with("table inet t\ndelete table inet t\n"));
        assert!(s.contains("ip saddr { 198.18.0.2 } drop"));
        assert!(s.contains("ip daddr { 198.18.0.2 } drop"));
    }
}
