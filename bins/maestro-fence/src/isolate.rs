//! The `isolate` level, for a primary that cannot be reached: on this
//! failover server, drop all traffic from and to the primary's addresses
//! (nftables, or iptables where `nft` is missing; see [`crate::firewall`])
//! and close the inbound sync path (the sync user's key in
//! authorized_keys, the rsync daemon).
//!
//! Confirmed only when the rules list back with every address in both
//! directions, no active sync key line is left, the daemon is masked, and
//! a connect probe proves the block: a TCP connect from here to every
//! blocked address on the primary's SSH port (and the `[watch]` ports)
//! gets no connection, and the fence's own probe rule counted its SYNs,
//! within a window long enough for SYN retransmits. Never an address of
//! this server (see `maestro_common::net`).
//!
//! On a Windows failover the block is a Windows Firewall rule group read
//! back from the active policy store, and the probe holds only when this
//! server refuses the connect itself (WSAEACCES; see [`crate::winfw`]); the
//! daemon that receives the sync is a Windows service (`sc.exe`, see
//! [`crate::local_service`]).

use crate::config::{FenceLevel, FirewallBackend};
use crate::deadline::Deadline;
use crate::firewall::{self, Firewall, LocalCommand, NftTable};
use crate::level::{change_state, ChangeLog, LevelOutcome, UndoRecord, Verdict, DISABLED_TAG};
use crate::local_service::{self, Manager};
use crate::probe::{self, Reach, MIN_PROBE_WINDOW, PROBE_TIMEOUT};
use crate::process::{self, LocalOutput};
use crate::remote::{brief, Answer};
use crate::settings::Settings;
use crate::winfw::{self, ActiveState};
use maestro_common::net::{self as local_addrs, OwnAddress, ResolveError};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What a fence sets aside for the `isolate` level when it comes after
/// other levels: they end this long before the run's deadline, so the
/// probe gets its window (plus loading and listing the rules).
pub const RESERVE: Duration = Duration::from_millis(5000);

/// Left for reading the counters back after the probe.
const AFTER_PROBE: Duration = Duration::from_millis(500);

/// The firewall this configuration asks for.
pub fn choose(s: &Settings) -> Firewall {
    match s.fence.firewall {
        FirewallBackend::Nft => Firewall::Nft,
        FirewallBackend::Iptables => Firewall::Iptables,
        FirewallBackend::Windows => Firewall::Windows,
        FirewallBackend::Auto => {
            if cfg!(windows) {
                Firewall::Windows
            } else if process::find_program("nft").is_some() {
                Firewall::Nft
            } else {
                Firewall::Iptables
            }
        }
    }
}

/// Why a firewall of another system cannot be used here.
pub fn elsewhere(fw: Firewall) -> String {
    match fw {
        Firewall::Windows => "[fence] firewall = \"windows\" (Windows Firewall) works on a Windows failover only".to_string(),
        other => format!(
            "[fence] firewall = \"{}\" works on a Linux failover only (on Windows: \"windows\" or \"auto\")",
            other.as_str()
        ),
    }
}

/// Resolves one name (or parses an address), bounded (see
/// `maestro_common::net::resolve`). Every address comes back canonical:
/// `::ffff:a.b.c.d` travels as IPv4, and a rule for its IPv6 spelling would
/// never match.
fn resolve(key: &str, name: &str, timeout: Duration) -> Result<Vec<IpAddr>, String> {
    match local_addrs::resolve(name, timeout) {
        Ok(ips) => Ok(ips.into_iter().collect()),
        Err(ResolveError::NoAddress { .. }) => Err(format!("{key} {name} resolves to no address")),
        Err(ResolveError::Failed { reason, .. }) => {
            Err(format!("{key}: cannot resolve {name}: {reason}"))
        }
        Err(ResolveError::TimedOut { .. }) => Err(format!("{key}: resolving {name} timed out")),
    }
}

/// The primary's addresses, canonical: what `[primary] host` resolves to
/// (the address SSH and every other client reach it on), always, and every
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

/// The largest authorized_keys file read: a few hundred keys at most.
const KEYS_LIMIT: u64 = maestro_common::fsio::MIB;

/// The fence rewrites authorized_keys as root: a symbolic link there would
/// point that rewrite at whatever file it names (anyone who controls the
/// sync user's `.ssh` could name any file), so it is refused, as on the
/// primary.
fn refuse_link(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(std::io::Error::other(format!(
            "{} is a symbolic link; refusing to rewrite through it (make it the file itself)",
            path.display()
        ))),
        _ => Ok(()),
    }
}

fn read_keys(path: &Path) -> std::io::Result<String> {
    refuse_link(path)?;
    maestro_common::fsio::read_regular_to_string(path, KEYS_LIMIT).map_err(std::io::Error::other)
}

/// Comments out the key lines holding `key_match`; returns how many were
/// active before. Rewritten atomically (a temporary file beside it, fsync,
/// rename, fsync of the folder), keeping the file's mode and owner; a
/// chown that fails is an error, so a crash never leaves half a file and
/// the file never changes hands. A symbolic link is refused.
pub fn disable_key(path: &Path, key_match: &str) -> std::io::Result<usize> {
    let text = read_keys(path)?;
    let mut n = 0;
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        if is_active_key_line(line, key_match) {
            n += 1;
            out.push_str(DISABLED_TAG);
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
        match line.strip_prefix(DISABLED_TAG) {
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

/// Why a local command gave no output.
#[derive(Debug)]
struct LocalError {
    /// It was never started (no time left): it changed nothing.
    never_ran: bool,
    message: String,
}

fn run_local(
    c: &LocalCommand,
    s: &Settings,
    deadline: &Deadline,
    out: &mut LevelOutcome,
) -> Result<LocalOutput, LocalError> {
    let Some(timeout) = deadline.cap(s.command_timeout) else {
        return Err(LocalError {
            never_ran: true,
            message: format!("the run's deadline passed before `{}`", c.name),
        });
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
                return Err(LocalError {
                    never_ran: false,
                    message: format!("`{}` failed: {}", c.shown(), brief(&o.stderr)),
                });
            }
            Ok(o)
        }
        Err(e) => {
            let never_ran = matches!(e, process::RunError::Spawn { .. });
            let outcome = if never_ran { "error" } else { "timeout" };
            out.record(
                &c.name,
                "local",
                c.shown(),
                outcome,
                e.to_string(),
                started.elapsed(),
            );
            Err(LocalError {
                never_ran,
                message: e.to_string(),
            })
        }
    }
}

/// The probe's window: `connect_timeout`, at least [`MIN_PROBE_WINDOW`],
/// at most [`PROBE_TIMEOUT`].
pub fn probe_window(s: &Settings) -> Duration {
    s.primary
        .connect_timeout()
        .clamp(MIN_PROBE_WINDOW, PROBE_TIMEOUT)
}

/// What `isolate` would run, for `--dry-run`.
pub fn describe(s: &Settings, addrs: &[IpAddr]) -> Vec<(String, String)> {
    let fw = choose(s);
    let mut v: Vec<(String, String)> =
        firewall::load_commands(fw, &s.table, addrs, &s.probe_ports(), "<stamp>")
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
            local_service::describe_stop(Manager::here(), u),
        ));
    }
    let ports: Vec<String> = s.probe_ports().iter().map(u16::to_string).collect();
    let list: Vec<String> = addrs.iter().map(IpAddr::to_string).collect();
    if fw == Firewall::Windows {
        v.push((
            "read back".into(),
            format!(
                "{} (active store) must list exactly one inbound and one outbound rule of group {} ({}-<stamp>, {}-<stamp>), enabled, Block, every profile, all protocols, holding {}; the Domain, Private and Public profiles must read Enabled True and AllowLocalFirewallRules True; no enabled rule may override block rules",
                winfw::POWERSHELL,
                s.table,
                winfw::rule_name(&s.table, true),
                winfw::rule_name(&s.table, false),
                list.join(", ")
            ),
        ));
        v.push((
            "connect probe".into(),
            format!(
                "tcp connect (window {}s) to {} on port {}: each must be refused on this server with WSAEACCES (the outbound block); a timeout means the SYN left this server and is NOT fenced",
                probe_window(s).as_secs_f64(),
                list.join(", "),
                ports.join(", ")
            ),
        ));
        return v;
    }
    v.push((
        "connect probe".into(),
        format!(
            "tcp connect (mark {:#x}, window {}s) to {} on port {}: every one must get no connection, and the fence's own probe rule must count its SYNs",
            firewall::PROBE_MARK,
            probe_window(s).as_secs_f64(),
            list.join(", "),
            ports.join(", ")
        ),
    ));
    v
}

/// The fence's rules as listed now: for checking what they block and for
/// reading the probe rules' counters.
enum Listing {
    Nft(NftTable),
    /// Per family (`iptables`, `ip6tables`): `-v -S` of the in and the out chain.
    Iptables(BTreeMap<&'static str, (String, String)>),
    /// The active policy store: the group's rules, the profiles, the
    /// rules that override blocks.
    Windows(ActiveState),
}

impl Listing {
    fn drops(&self, table: &str, chain_in: bool, ip: IpAddr) -> bool {
        match self {
            Listing::Nft(t) => t.drops(if chain_in { "input" } else { "output" }, ip),
            Listing::Iptables(by_fam) => {
                let (cin, cout) = firewall::chains(table);
                by_fam.get(firewall::ipt(&ip)).is_some_and(|(lin, lout)| {
                    if chain_in {
                        firewall::iptables_drops(lin, &cin, "-s", ip)
                    } else {
                        firewall::iptables_drops(lout, &cout, "-d", ip)
                    }
                })
            }
            Listing::Windows(state) => {
                winfw::rules_block(state, table, chain_in, &[ip], None).is_ok()
            }
        }
    }

    fn probe_packets(&self, table: &str, target: SocketAddr) -> Option<u64> {
        match self {
            Listing::Nft(t) => t.probe_packets(target),
            Listing::Iptables(by_fam) => {
                let (_, cout) = firewall::chains(table);
                by_fam
                    .get(firewall::ipt(&target.ip()))
                    .and_then(|(_, lout)| firewall::iptables_probe_packets(lout, &cout, target))
            }
            // No counters on Windows.
            Listing::Windows(_) => None,
        }
    }
}

/// Lists the fence's rules; `Err` when they cannot be listed (missing is
/// a problem, a command that could not run is "cannot tell").
fn list_rules(
    s: &Settings,
    fw: Firewall,
    families: &[&'static str],
    step: &str,
    deadline: &Deadline,
    out: &mut LevelOutcome,
) -> Result<Listing, (bool, String)> {
    match fw {
        Firewall::Windows => {
            let mut c = winfw::readback_command(&s.table);
            c.name = step.to_string();
            c.may_fail = true;
            match run_local(&c, s, deadline, out) {
                Ok(o) if o.success() => winfw::parse_state(&o.stdout)
                    .map(Listing::Windows)
                    .map_err(|e| (false, e)),
                Ok(o) => Err((
                    false,
                    format!(
                        "cannot read the active firewall policy: {}",
                        brief(&format!("{} {}", o.stdout, o.stderr))
                    ),
                )),
                Err(e) => Err((false, e.message)),
            }
        }
        Firewall::Nft => {
            let mut c = LocalCommand::new(step, "nft", &["-j", "list", "table", "inet", &s.table]);
            c.may_fail = true;
            match run_local(&c, s, deadline, out) {
                Ok(o) if o.success() => firewall::parse_nft_json(&o.stdout)
                    .map(Listing::Nft)
                    .map_err(|e| (false, e)),
                Ok(o) => Err((
                    true,
                    format!("table inet {} is not loaded: {}", s.table, brief(&o.stderr)),
                )),
                Err(e) => Err((false, e.message)),
            }
        }
        Firewall::Iptables => {
            let (cin, cout) = firewall::chains(&s.table);
            let mut by_fam = BTreeMap::new();
            for &fam in families {
                let mut lists = Vec::new();
                for chain in [&cin, &cout] {
                    let mut c = LocalCommand::new(
                        &format!("{step}: {chain} ({fam})"),
                        fam,
                        &["-w", "5", "-v", "-S", chain],
                    );
                    c.may_fail = true;
                    match run_local(&c, s, deadline, out) {
                        Ok(o) if o.success() => lists.push(o.stdout),
                        Ok(o) => {
                            return Err((
                                true,
                                format!("{fam} chain {chain} is missing: {}", brief(&o.stderr)),
                            ))
                        }
                        Err(e) => return Err((false, e.message)),
                    }
                }
                let lout = lists.pop().unwrap_or_default();
                let lin = lists.pop().unwrap_or_default();
                by_fam.insert(fam, (lin, lout));
            }
            Ok(Listing::Iptables(by_fam))
        }
    }
}

/// The active proof: a bounded TCP connect from here to every blocked
/// address on the probe ports, marked so that the fence's own probe rule
/// counts it. A connect that gets through, or a reset, is "does not hold";
/// no connection holds only when the probe rule's counter rose (the
/// fence's rule stopped it, not the primary or the path); a window too
/// short for SYN retransmits is not tried. The connects run at once, so
/// the whole probe takes one window.
#[allow(clippy::too_many_arguments)]
fn probe(
    s: &Settings,
    fw: Firewall,
    families: &[&'static str],
    addrs: &[IpAddr],
    before: Option<&Listing>,
    deadline: &Deadline,
    out: &mut LevelOutcome,
    problems: &mut Vec<String>,
    unsure: &mut Vec<String>,
) {
    let targets = firewall::probe_targets(addrs, &s.probe_ports());
    let window = probe_window(s);
    let left = deadline.remaining().saturating_sub(AFTER_PROBE);
    if left >= MIN_PROBE_WINDOW && fw == Firewall::Windows {
        probe_windows(&targets, window.min(left), out, problems, unsure);
        return;
    }
    if left < MIN_PROBE_WINDOW {
        let why = format!(
            "only {:.1}s of the run's deadline left: less than the {}s probe window that SYN retransmits need, so the probe proves nothing (give the isolate level more time: a longer deadline)",
            left.as_secs_f64(),
            MIN_PROBE_WINDOW.as_secs_f64()
        );
        for t in &targets {
            out.record(
                format!("probe {t}"),
                "local",
                "tcp connect (not made)",
                "cannot-tell",
                why.clone(),
                Duration::ZERO,
            );
        }
        unsure.push(why);
        return;
    }
    let timeout = window.min(left);
    let started = Instant::now();
    let handles: Vec<_> = targets
        .iter()
        .map(|&a| std::thread::spawn(move || probe::probe_once(a, timeout)))
        .collect();
    let reaches: Vec<Reach> = handles.into_iter().map(probe::joined).collect();
    let took = started.elapsed();
    // The counters after the probe, to compare with the listing before it.
    let after = list_rules(s, fw, families, "count the probe's drops", deadline, out);
    for (t, reach) in targets.iter().zip(reaches) {
        let counted = match (&after, before) {
            (Ok(after), Some(before)) => {
                match (
                    before.probe_packets(&s.table, *t),
                    after.probe_packets(&s.table, *t),
                ) {
                    (Some(b), Some(a)) => Ok(a.saturating_sub(b)),
                    _ => Err(format!(
                        "the fence's table has no probe rule for {t} (fence again to add it)"
                    )),
                }
            }
            (Err((_, e)), _) => Err(format!("the probe rule's counter cannot be read: {e}")),
            (_, None) => Err("the probe rule's counter cannot be read".to_string()),
        };
        let (outcome, seen) = match (&reach, &counted) {
            (Reach::Connected, _) => (
                "does-not-hold",
                "connected: the primary answers".to_string(),
            ),
            (Reach::Refused, _) => (
                "does-not-hold",
                "connection refused: the primary's packets still get here".to_string(),
            ),
            (Reach::NoConnection(why) | Reach::Blocked(why), Ok(n)) if *n > 0 => (
                "holds",
                format!("no connection ({why}): the fence's own rule dropped {n} SYN(s) of it"),
            ),
            (Reach::NoConnection(why) | Reach::Blocked(why), Ok(_)) => (
                "cannot-tell",
                format!("no connection ({why}), but not counted by the fence's own rule: something else stopped it (the primary, the path), which proves nothing about the fence"),
            ),
            (Reach::NoConnection(why) | Reach::Blocked(why), Err(e)) => {
                ("cannot-tell", format!("no connection ({why}), but {e}"))
            }
            (Reach::NoRoute(why), Ok(n)) if *n > 0 => (
                "holds",
                format!("no connection ({why}): the fence's own rule dropped {n} SYN(s) of it"),
            ),
            // Nothing was sent: with no route from here, no connection to
            // it can be made at all; the listing above says the block is
            // loaded both ways for when a route appears.
            (Reach::NoRoute(why), _) => match probe::has_route(*t) {
                Ok(false) => (
                    "holds",
                    format!("no route from this server to it ({why}): nothing can reach it from here now, and its block is loaded both ways should a route appear"),
                ),
                Ok(true) => (
                    "cannot-tell",
                    format!("no connection ({why}) from a router on the way: the SYN left this server, not counted by the fence's own rule"),
                ),
                Err(e) => ("cannot-tell", format!("no connection ({why}), and {e}")),
            },
            (Reach::Unknown(why), _) => ("cannot-tell", format!("the probe could not be made: {why}")),
        };
        let detail = format!(
            "tcp connect {t} (mark {:#x}, timeout {}s)",
            firewall::PROBE_MARK,
            timeout.as_secs_f64()
        );
        let verdict = ProbeVerdict {
            outcome,
            seen,
            took,
        };
        verdict.record(t, detail, out, problems, unsure);
    }
}

/// One target's probe, judged: recorded in the level's steps and sorted
/// into what does not hold and what cannot be told.
struct ProbeVerdict {
    outcome: &'static str,
    seen: String,
    took: Duration,
}

impl ProbeVerdict {
    fn record(
        self,
        t: &SocketAddr,
        detail: String,
        out: &mut LevelOutcome,
        problems: &mut Vec<String>,
        unsure: &mut Vec<String>,
    ) {
        out.record(
            format!("probe {t}"),
            "local",
            detail,
            self.outcome,
            self.seen.clone(),
            self.took,
        );
        match self.outcome {
            "holds" => {}
            "cannot-tell" => unsure.push(format!("{t}: {}", self.seen)),
            _ => problems.push(format!("{t} still answers ({})", self.seen)),
        }
    }
}

/// The probe on Windows, where no rule counts the probe's packets: the
/// connects to the primary at once, each judged by
/// [`winfw::judge_probe`] (only a connect refused on this server with
/// WSAEACCES holds).
fn probe_windows(
    targets: &[SocketAddr],
    timeout: Duration,
    out: &mut LevelOutcome,
    problems: &mut Vec<String>,
    unsure: &mut Vec<String>,
) {
    let started = Instant::now();
    let handles: Vec<_> = targets
        .iter()
        .map(|&a| std::thread::spawn(move || probe::probe_once(a, timeout)))
        .collect();
    let reaches: Vec<Reach> = handles.into_iter().map(probe::joined).collect();
    let took = started.elapsed();
    for (t, reach) in targets.iter().zip(reaches) {
        let (outcome, seen) = winfw::judge_probe(&reach);
        let detail = format!("tcp connect {t} (timeout {}s)", timeout.as_secs_f64());
        let verdict = ProbeVerdict {
            outcome,
            seen,
            took,
        };
        verdict.record(t, detail, out, problems, unsure);
    }
}

/// Asks whether a service of this server is stopped and kept from
/// starting; a problem or "cannot tell" otherwise.
fn check_service(
    s: &Settings,
    unit: &str,
    deadline: &Deadline,
    out: &mut LevelOutcome,
    problems: &mut Vec<String>,
    unsure: &mut Vec<String>,
) {
    for (mut c, judge) in local_service::fenced_queries(Manager::here(), unit) {
        c.may_fail = true;
        match run_local(&c, s, deadline, out) {
            Ok(o) => match judge.judge(&exec_output(o)) {
                Answer::Holds(_) => {}
                Answer::Fails(x) => problems.push(format!("{}: does not hold ({x})", c.name)),
                Answer::CannotTell(x) => unsure.push(format!("{}: {x}", c.name)),
            },
            Err(e) => unsure.push(e.message),
        }
    }
}

fn exec_output(o: LocalOutput) -> maestro_common::ssh::ExecOutput {
    maestro_common::ssh::ExecOutput {
        stdout: o.stdout.into_bytes(),
        stderr: o.stderr.into_bytes(),
        exit_status: o.code.unwrap_or(-1),
        exit_signal: None,
        elapsed: o.elapsed,
    }
}

/// `sc.exe stop` only asks the service to stop: waits (bounded by the
/// command timeout and the deadline) until `sc.exe query` says STOPPED, so
/// the check after it does not see a service that is still stopping.
/// Whatever it sees last, the check decides.
fn wait_stopped(s: &Settings, unit: &str, deadline: &Deadline, out: &mut LevelOutcome) {
    let (c, judge) = local_service::stopped_query(Manager::here(), unit);
    let Some(limit) = deadline.cap(s.command_timeout) else {
        return;
    };
    let started = Instant::now();
    let mut seen = String::new();
    let mut polls = 0;
    while started.elapsed() < limit {
        let left = limit.saturating_sub(started.elapsed());
        polls += 1;
        match process::run(&c.program, &c.args, b"", left) {
            Ok(o) => {
                let answer = judge.judge(&exec_output(o));
                seen = answer.text().to_string();
                if matches!(answer, Answer::Holds(_)) {
                    break;
                }
            }
            Err(e) => {
                seen = e.to_string();
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(250).min(limit.saturating_sub(started.elapsed())));
    }
    out.record(
        format!("wait for {unit} to stop"),
        "local",
        c.shown(),
        "ran",
        format!("{polls} quer(ies); last: {}", brief(&seen)),
        started.elapsed(),
    );
}

/// Checks the block and the closed sync path; the verdict. `own`: addresses
/// of `[primary]` that are this server's now (status and check only): not
/// probed, and each one the rules still block is an alarm on `out`.
#[allow(clippy::too_many_arguments)]
fn verify(
    s: &Settings,
    fw: Firewall,
    addrs: &[IpAddr],
    own: &[OwnAddress],
    stamp: Option<&str>,
    deadline: &Deadline,
    out: &mut LevelOutcome,
) -> Verdict {
    let mut problems = Vec::new();
    let mut unsure = Vec::new();
    let mut families: Vec<&'static str> = addrs
        .iter()
        .chain(own.iter().map(|o| &o.ip))
        .map(firewall::ipt)
        .collect();
    families.sort();
    families.dedup();
    if !fw.is_here() {
        return Verdict::CannotTell(elsewhere(fw));
    }
    let listing = match list_rules(s, fw, &families, "list the block", deadline, out) {
        Ok(Listing::Windows(state)) => {
            for inbound in [true, false] {
                let expected = stamp.map(|st| winfw::rule_id(&s.table, inbound, st));
                if let Err(e) =
                    winfw::rules_block(&state, &s.table, inbound, addrs, expected.as_deref())
                {
                    problems.push(e);
                }
            }
            match winfw::profiles_on(&state) {
                Ok(()) => {}
                Err((true, e)) => problems.push(e),
                Err((false, e)) => unsure.push(e),
            }
            if let Err(e) = winfw::no_bypass(&state) {
                problems.push(e);
            }
            Some(Listing::Windows(state))
        }
        Ok(l) => {
            for &a in addrs {
                let missing: Vec<&str> = [(true, "from"), (false, "to")]
                    .into_iter()
                    .filter(|(chain_in, _)| !l.drops(&s.table, *chain_in, a))
                    .map(|(_, way)| way)
                    .collect();
                if !missing.is_empty() {
                    problems.push(format!(
                        "{} does not drop traffic {} {a}",
                        fw.block_name(&s.table),
                        missing.join(" and ")
                    ));
                }
            }
            if fw == Firewall::Iptables {
                let (cin, cout) = firewall::chains(&s.table);
                for &fam in &families {
                    for (hook, chain) in [("INPUT", &cin), ("OUTPUT", &cout)] {
                        let mut c = LocalCommand::new(
                            &format!("{chain} hooked into {hook} ({fam})"),
                            fam,
                            &["-w", "5", "-C", hook, "-j", chain],
                        );
                        c.may_fail = true;
                        match run_local(&c, s, deadline, out) {
                            Ok(o) if o.success() => {}
                            Ok(_) => {
                                problems.push(format!("{fam}: {hook} does not jump to {chain}"))
                            }
                            Err(e) => unsure.push(e.message),
                        }
                    }
                }
            }
            Some(l)
        }
        Err((true, e)) => {
            problems.push(e);
            None
        }
        Err((false, e)) => {
            unsure.push(e);
            None
        }
    };
    if let (Some(p), Some(m)) = (&s.sync.authorized_keys, &s.sync.key_match) {
        let started = Instant::now();
        let action = format!("read {}", p.display());
        match active_keys(p, m) {
            Ok(0) => out.record(
                "sync key disabled",
                "local",
                action,
                "holds",
                "no active line holds the sync key",
                started.elapsed(),
            ),
            Ok(n) => {
                out.record(
                    "sync key disabled",
                    "local",
                    action,
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
                    action,
                    "cannot-tell",
                    e.to_string(),
                    started.elapsed(),
                );
                unsure.push(format!("cannot read {}: {e}", p.display()));
            }
        }
    }
    if let Some(u) = &s.sync.rsync_daemon_unit {
        check_service(s, u, deadline, out, &mut problems, &mut unsure);
    }
    if addrs.is_empty() {
        unsure.push(
            "no address of the primary is left to probe (every one is this server's now)".into(),
        );
    } else {
        probe(
            s,
            fw,
            &families,
            addrs,
            listing.as_ref(),
            deadline,
            out,
            &mut problems,
            &mut unsure,
        );
    }
    let shown: Vec<String> = addrs.iter().map(IpAddr::to_string).collect();
    let verdict = if !problems.is_empty() {
        problems.extend(unsure);
        Verdict::NotConfirmed(problems.join("; "))
    } else if !unsure.is_empty() {
        Verdict::CannotTell(unsure.join("; "))
    } else {
        let ports: Vec<String> = s.probe_ports().iter().map(u16::to_string).collect();
        Verdict::Confirmed(if fw == Firewall::Windows {
            format!(
                "{} blocks {} both ways in every profile as Windows' active policy store lists it (Group Policy merged in: the firewall enabled and local rules applied in the Domain, Private and Public profiles, no enabled rule overriding blocks), and this server refuses every connect to port {} itself (WSAEACCES: the outbound block; the inbound one rests on the read-back)",
                fw.block_name(&s.table),
                shown.join(", "),
                ports.join(", ")
            )
        } else {
            format!(
                "{} blocks {} both ways, and no connect to port {} gets through (the fence's own rule dropped each)",
                fw.block_name(&s.table),
                shown.join(", "),
                ports.join(", ")
            )
        })
    };
    if let Some(l) = &listing {
        for o in own {
            if l.drops(&s.table, true, o.ip) || l.drops(&s.table, false, o.ip) {
                let primary = match &verdict {
                    Verdict::Confirmed(_) => {
                        format!("the primary is still isolated on {}", shown.join(", "))
                    }
                    v => format!("the primary's other addresses: {}", v.text()),
                };
                out.alarms.push(format!(
                    "the fence blocks {}, an address of this server now ({}): this server cannot reach its own address; {primary}. Lift only that address with `{}`, and take it out of [primary] addresses (an address that moves to this server, like Maestro's service address, must not be listed)",
                    o.ip,
                    o.source,
                    firewall::lift_command(fw, &s.table, o.ip)
                ));
            }
        }
    }
    verdict
}

/// The `isolate` level of `fence`, on targets vetted by [`targets`]. Each
/// change is journaled (through `log`) before it is made.
pub fn fence(
    s: &Settings,
    targets: &Targets,
    deadline: &Deadline,
    log: &mut dyn ChangeLog,
) -> LevelOutcome {
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
    if let Some(p) = &s.sync.authorized_keys {
        if let Err(e) = refuse_link(p) {
            out.verdict = Verdict::NotConfirmed(format!("{e}; nothing was changed"));
            return out;
        }
    }
    let fw = choose(s);
    if !fw.is_here() {
        out.verdict = Verdict::NotConfirmed(format!("{}; nothing was changed", elsewhere(fw)));
        return out;
    }
    let ports = s.probe_ports();
    // The load's stamp makes the Windows rules' names unique; they are
    // journaled and the read-back checks them by it.
    let stamp = firewall::load_stamp();
    let load = firewall::load_commands(fw, &s.table, &addrs, &ports, &stamp);
    let step = match fw {
        Firewall::Nft => "load the nftables block",
        Firewall::Iptables => "load the iptables block",
        Firewall::Windows => "load the Windows Firewall rules",
    };
    let record = UndoRecord::Firewall {
        backend: fw.as_str().to_string(),
        table: s.table.clone(),
        addresses: addrs.iter().map(IpAddr::to_string).collect(),
        rules: if fw == Firewall::Windows {
            [true, false]
                .map(|inbound| winfw::rule_id(&s.table, inbound, &stamp))
                .to_vec()
        } else {
            Vec::new()
        },
    };
    let index = match out.start_change(log, step, "local", "unfence removes it", Some(record)) {
        Ok(i) => i,
        Err(e) => {
            out.verdict = Verdict::NotConfirmed(e);
            return out;
        }
    };
    let mut ran_any = false;
    for c in &load {
        match run_local(c, s, deadline, &mut out) {
            Ok(_) => ran_any = true,
            Err(e) => {
                let state = match (e.never_ran, ran_any) {
                    (true, false) => None,
                    (true, true) => Some("failed"),
                    (false, _) => Some(change_state(
                        out.steps.last().map_or("error", |st| st.outcome.as_str()),
                    )),
                };
                out.settle(log, index, state);
                out.verdict = Verdict::NotConfirmed(e.message);
                return out;
            }
        }
    }
    out.settle(log, index, Some("done"));
    if let (Some(p), Some(m)) = (&s.sync.authorized_keys, &s.sync.key_match) {
        let record = UndoRecord::SyncKey {
            path: p.display().to_string(),
        };
        let index = match out.start_change(
            log,
            "disable the sync key",
            "local",
            "unfence --resume-sync",
            Some(record),
        ) {
            Ok(i) => i,
            Err(e) => {
                out.verdict = Verdict::NotConfirmed(e);
                return out;
            }
        };
        let started = Instant::now();
        let action = format!("comment out the lines of {} holding {m:?}", p.display());
        match disable_key(p, m) {
            Ok(n) => {
                out.record(
                    "disable the sync key",
                    "local",
                    action,
                    "ran",
                    format!("{n} line(s) commented out"),
                    started.elapsed(),
                );
                out.settle(log, index, (n > 0).then_some("done"));
            }
            Err(e) => {
                out.record(
                    "disable the sync key",
                    "local",
                    action,
                    "error",
                    e.to_string(),
                    started.elapsed(),
                );
                // The rewrite is atomic: what failed was not written.
                out.settle(log, index, None);
                out.verdict = Verdict::NotConfirmed(format!("cannot edit {}: {e}", p.display()));
                return out;
            }
        }
    }
    if let Some(u) = &s.sync.rsync_daemon_unit {
        for c in local_service::stop_commands(Manager::here(), u) {
            let record = UndoRecord::DaemonUnit { unit: u.clone() };
            let index = match out.start_change(
                log,
                &c.name,
                "local",
                "unfence --resume-sync",
                Some(record),
            ) {
                Ok(i) => i,
                Err(e) => {
                    out.verdict = Verdict::NotConfirmed(e);
                    return out;
                }
            };
            let result = run_local(&c, s, deadline, &mut out);
            let state = match &result {
                Ok(_) => Some("done"),
                Err(e) if e.never_ran => None,
                Err(_) => Some(change_state(
                    out.steps.last().map_or("error", |st| st.outcome.as_str()),
                )),
            };
            out.settle(log, index, state);
            if let Err(e) = result {
                out.verdict = Verdict::NotConfirmed(e.message);
                return out;
            }
        }
        if Manager::here() == Manager::Sc {
            wait_stopped(s, u, deadline, &mut out);
        }
    }
    out.verdict = match verify(s, fw, &addrs, &[], Some(&stamp), deadline, &mut out) {
        Verdict::CannotTell(w) => Verdict::NotConfirmed(w),
        v => v,
    };
    out
}

/// `status` and `check`: the same checks, on the addresses the
/// configuration names now. One of them that has become this server's
/// (a service address moved here after the fence) is not probed; if the
/// rules still block it, that is an alarm of its own, not "not fenced".
/// Such an address cannot be refused when the fence runs (it is the
/// primary's then), so the README says never to list one, and this names
/// it precisely, with the command that lifts only it, when it happens.
pub fn status(s: &Settings, deadline: &Deadline) -> LevelOutcome {
    let mut out = LevelOutcome::new(FenceLevel::Isolate);
    let addrs = match addresses(s, s.command_timeout.min(deadline.remaining())) {
        Ok(a) => a,
        Err(e) => {
            out.verdict = Verdict::CannotTell(e);
            return out;
        }
    };
    let own = match local_addrs::own_addresses(&addrs) {
        Ok(o) => o,
        Err(e) => {
            out.verdict = Verdict::CannotTell(e.to_string());
            return out;
        }
    };
    let theirs: Vec<IpAddr> = addrs
        .iter()
        .copied()
        .filter(|a| !own.iter().any(|o| o.ip == *a))
        .collect();
    out.verdict = verify(s, choose(s), &theirs, &own, None, deadline, &mut out);
    out
}

/// What an unfence removes here: every firewall block, disabled key file
/// and daemon unit the journal says the fences since the last unfence
/// touched, and (for journals that did not record it, and for a fence in
/// progress elsewhere) what the configuration implies when `isolate` is
/// one of its levels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UndoPlan {
    pub firewalls: Vec<(Firewall, String)>,
    pub keys: Vec<PathBuf>,
    pub units: Vec<String>,
}

impl UndoPlan {
    pub fn new(s: &Settings, records: &[UndoRecord], configured: bool) -> UndoPlan {
        let mut plan = UndoPlan::default();
        for r in records {
            match r {
                UndoRecord::Firewall { backend, table, .. } => {
                    if let Some(fw) = Firewall::parse(backend) {
                        plan.firewalls.push((fw, table.clone()));
                    }
                }
                UndoRecord::SyncKey { path } => plan.keys.push(PathBuf::from(path)),
                UndoRecord::DaemonUnit { unit } => plan.units.push(unit.clone()),
            }
        }
        if configured {
            plan.firewalls.push((choose(s), s.table.clone()));
            plan.keys.extend(s.sync.authorized_keys.clone());
            plan.units.extend(s.sync.rsync_daemon_unit.clone());
        }
        plan.firewalls.sort();
        plan.firewalls.dedup();
        plan.keys.sort();
        plan.keys.dedup();
        plan.units.sort();
        plan.units.dedup();
        plan
    }

    pub fn is_empty(&self) -> bool {
        self.firewalls.is_empty() && self.keys.is_empty() && self.units.is_empty()
    }

    fn tables(&self) -> Vec<String> {
        let mut t: Vec<String> = self.firewalls.iter().map(|(_, t)| t.clone()).collect();
        t.sort();
        t.dedup();
        t
    }

    /// The nftables tables and iptables chain prefixes (not the Windows
    /// Firewall's rule groups).
    fn linux_tables(&self) -> Vec<String> {
        let mut t: Vec<String> = self
            .firewalls
            .iter()
            .filter(|(fw, _)| *fw != Firewall::Windows)
            .map(|(_, t)| t.clone())
            .collect();
        t.sort();
        t.dedup();
        t
    }

    /// What an unfence would run here, for `--dry-run`.
    pub fn describe(&self, resume_sync: bool) -> Vec<(String, String)> {
        let mut v = Vec::new();
        for (fw, table) in &self.firewalls {
            for c in firewall::removal_commands(*fw, table) {
                v.push((c.name.clone(), c.shown()));
            }
        }
        for (fw, table) in &self.firewalls {
            if *fw == Firewall::Windows {
                v.push((
                    "the block is gone".into(),
                    format!(
                        "{} (active store) must list no rule of group {table}",
                        winfw::POWERSHELL
                    ),
                ));
            }
        }
        for table in self.linux_tables() {
            v.push((
                "the block is gone".into(),
                format!("nft list table inet {table} must fail (no such table), and iptables -S / ip6tables -S must hold no chain {table}_in or {table}_out and no jump to them"),
            ));
        }
        if resume_sync {
            for p in &self.keys {
                v.push((
                    "restore the sync key".into(),
                    format!(
                        "uncomment the lines of {} the fence commented out",
                        p.display()
                    ),
                ));
            }
            for u in &self.units {
                v.push((
                    format!("start {u}"),
                    local_service::describe_start(Manager::here(), u),
                ));
            }
        }
        v
    }
}

/// Removes the Windows Firewall rule group and checks that neither rule
/// is listed any more. The removal is never skipped: a fence that loaded
/// it on this server can remove it here.
fn undo_windows(
    s: &Settings,
    group: &str,
    deadline: &Deadline,
    out: &mut LevelOutcome,
    errors: &mut Vec<String>,
) {
    if !Firewall::Windows.is_here() {
        errors.push(format!(
            "the journal names {}, which only a Windows server can remove",
            Firewall::Windows.block_name(group)
        ));
        return;
    }
    if let Err(e) = run_local(&winfw::removal_command(group), s, deadline, out) {
        errors.push(e.message);
    }
    let mut c = winfw::readback_command(group);
    c.name = format!("group {group} is gone from the active store");
    c.may_fail = true;
    match run_local(&c, s, deadline, out) {
        Ok(o) if o.success() => match winfw::parse_state(&o.stdout) {
            Ok(state) if state.rules.is_empty() => {}
            Ok(state) => {
                let names: Vec<&str> = state.rules.iter().map(|r| r.name.as_str()).collect();
                errors.push(format!(
                    "rule(s) of group {group} are still in the active store: {}",
                    names.join(", ")
                ))
            }
            Err(e) => errors.push(format!("cannot tell whether group {group} is gone: {e}")),
        },
        Ok(o) => errors.push(format!(
            "cannot tell whether group {group} is gone: {}",
            brief(&format!("{} {}", o.stdout, o.stderr))
        )),
        Err(e) => errors.push(e.message),
    }
}

/// Unfence: remove the blocks the plan names and verify on nftables and
/// iptables both that nothing of them is left; reopen the sync path only
/// when asked.
pub fn undo(s: &Settings, plan: &UndoPlan, resume_sync: bool, deadline: &Deadline) -> LevelOutcome {
    let mut out = LevelOutcome::new(FenceLevel::Isolate);
    let mut errors = Vec::new();
    for (fw, table) in &plan.firewalls {
        if *fw == Firewall::Windows {
            undo_windows(s, table, deadline, &mut out, &mut errors);
            continue;
        }
        if fw == &Firewall::Nft && process::find_program("nft").is_none() {
            errors.push(format!(
                "the fence loaded table inet {table} with nft, which is not installed now: it cannot be removed or checked"
            ));
            continue;
        }
        for c in firewall::removal_commands(*fw, table) {
            if process::find_program(&c.program).is_none() {
                continue;
            }
            if let Err(e) = run_local(&c, s, deadline, &mut out) {
                errors.push(e.message);
            }
        }
    }
    if resume_sync {
        for p in &plan.keys {
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
        for u in &plan.units {
            for c in local_service::start_commands(Manager::here(), u) {
                if let Err(e) = run_local(&c, s, deadline, &mut out) {
                    errors.push(e.message);
                }
            }
        }
    }
    // Whatever the backend that loaded it: gone from both.
    for table in plan.linux_tables() {
        if process::find_program("nft").is_some() {
            let mut c = LocalCommand::new(
                "the nftables block is gone",
                "nft",
                &["list", "table", "inet", &table],
            );
            c.may_fail = true;
            match run_local(&c, s, deadline, &mut out) {
                Ok(o) if o.success() => errors.push(format!("table inet {table} is still loaded")),
                Ok(o) if firewall::nft_says_absent(&o.stderr) => {}
                Ok(o) => errors.push(format!(
                    "cannot tell whether table inet {table} is gone: {}",
                    brief(&o.stderr)
                )),
                Err(e) => errors.push(e.message),
            }
        }
        for fam in ["iptables", "ip6tables"] {
            if process::find_program(fam).is_none() {
                continue;
            }
            let mut c = LocalCommand::new(
                &format!("the {fam} chains are gone"),
                fam,
                &["-w", "5", "-S"],
            );
            c.may_fail = true;
            match run_local(&c, s, deadline, &mut out) {
                Ok(o) if o.success() => {
                    let left = firewall::iptables_leftovers(&o.stdout, &table);
                    if !left.is_empty() {
                        errors.push(format!(
                            "{fam} still holds the fence's chains: {}",
                            left.join("; ")
                        ));
                    }
                }
                Ok(o) => errors.push(format!(
                    "cannot tell whether the {fam} chains {table}_in/_out are gone: {}",
                    brief(&o.stderr)
                )),
                Err(e) => errors.push(e.message),
            }
        }
    }
    out.verdict = if errors.is_empty() {
        let tables = plan.tables();
        let linux = plan.linux_tables();
        Verdict::Confirmed(if tables.is_empty() {
            "no isolation to remove".to_string()
        } else if linux.is_empty() {
            format!(
                "the isolation is removed: no rule {} or {} is left",
                winfw::rule_name(&tables.join("/"), true),
                winfw::rule_name(&tables.join("/"), false)
            )
        } else {
            format!(
                "the isolation is removed: no table inet {t}, no chain {t}_in or {t}_out, on nftables and iptables",
                t = tables.join("/")
            )
        })
    } else {
        Verdict::NotConfirmed(errors.join("; "))
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[cfg(unix)]
    #[test]
    fn a_linked_key_file_is_refused_and_what_it_names_is_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("passwd");
        std::fs::write(&real, "maestro-sync:x:998:998::/home:/bin/sh\n").unwrap();
        let link = dir.path().join("authorized_keys");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let e = disable_key(&link, "maestro-sync").unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(restore_key(&link).is_err());
        assert_eq!(
            std::fs::read_to_string(&real).unwrap(),
            "maestro-sync:x:998:998::/home:/bin/sh\n"
        );
    }

    fn settings(text: &str) -> Settings {
        let c = maestro_common::config::LoadedConfig::from_text(text, Path::new("t.toml")).unwrap();
        Settings::resolve(&c, &crate::settings::Overrides::default()).unwrap()
    }

    #[test]
    fn mapped_addresses_are_blocked_as_ipv4() {
        let s = settings("[primary]\nhost = \"::ffff:198.18.0.2\"\naddresses = [\"[::ffff:198.18.0.3]\", \"2001:db8::2\"]\n");
        let a = addresses(&s, Duration::from_secs(1)).unwrap();
        let shown: Vec<String> = a.iter().map(IpAddr::to_string).collect();
        assert_eq!(shown, vec!["198.18.0.2", "198.18.0.3", "2001:db8::2"]);
    }

    #[test]
    fn the_undo_plan_comes_from_the_journal_and_the_configuration() {
        let s = settings("[primary]\nhost = \"p\"\n[fence]\nfirewall = \"iptables\"\nfirewall_table = \"mine\"\n");
        let records = vec![
            UndoRecord::Firewall {
                backend: "nft".into(),
                table: "maestro_fence".into(),
                addresses: vec!["198.18.0.2".into()],
                rules: Vec::new(),
            },
            UndoRecord::Firewall {
                backend: "nft".into(),
                table: "maestro_fence".into(),
                addresses: vec!["198.18.0.2".into()],
                rules: Vec::new(),
            },
            UndoRecord::SyncKey { path: "/k".into() },
        ];
        let p = UndoPlan::new(&s, &records, false);
        assert_eq!(
            p.firewalls,
            vec![(Firewall::Nft, "maestro_fence".to_string())]
        );
        assert_eq!(p.keys, vec![PathBuf::from("/k")]);
        let p = UndoPlan::new(&s, &records, true);
        assert_eq!(
            p.firewalls,
            vec![
                (Firewall::Nft, "maestro_fence".to_string()),
                (Firewall::Iptables, "mine".to_string())
            ]
        );
        assert!(UndoPlan::new(&s, &[], false).is_empty());
    }

    #[test]
    fn a_windows_fence_is_planned_with_its_active_store_read_back() {
        let s = settings("[primary]\nhost = \"198.18.0.2\"\n[fence]\nfirewall = \"windows\"\n[sync]\nrsync_daemon_unit = \"RsyncServer\"\n[watch]\ntcp_ports = [80]\n[[watch.witnesses]]\nhost = \"198.18.0.9\"\n");
        assert_eq!(choose(&s), Firewall::Windows);
        let d = describe(&s, &[IpAddr::from([198, 18, 0, 2])]);
        let text: Vec<String> = d.iter().map(|(n, w)| format!("{n}: {w}")).collect();
        let all = text.join("\n");
        assert!(
            all.contains("load the Windows Firewall rules: powershell.exe -NoProfile"),
            "{all}"
        );
        assert!(all.contains("-RemoteAddress '198.18.0.2'"), "{all}");
        assert!(all.contains("(active store) must list exactly one inbound and one outbound rule of group maestro_fence (maestro_fence-in-<stamp>"), "{all}");
        assert!(all.contains("AllowLocalFirewallRules True"), "{all}");
        assert!(
            all.contains("no enabled rule may override block rules"),
            "{all}"
        );
        assert!(all.contains("on port 22, 80"), "{all}");
        assert!(
            all.contains("refused on this server with WSAEACCES"),
            "{all}"
        );
        // A witness plays no part in the verdict.
        assert!(!all.contains("198.18.0.9"), "{all}");
        // The daemon is stopped the way this system does it.
        let stop = if cfg!(windows) {
            "sc.exe stop"
        } else {
            "systemctl disable --now"
        };
        assert!(all.contains(stop), "{all}");
        assert!(!all.contains("mark 0x"), "no SO_MARK on Windows: {all}");
    }

    #[cfg(not(windows))]
    #[test]
    fn the_windows_firewall_is_refused_elsewhere_before_anything_changes() {
        let s = settings("[primary]\nhost = \"198.18.0.2\"\n[fence]\nfirewall = \"windows\"\n");
        let out = fence(
            &s,
            &Targets::Ready(vec![IpAddr::from([198, 18, 0, 2])]),
            &Deadline::after(Duration::from_secs(10)),
            &mut crate::level::NoChangeLog,
        );
        match &out.verdict {
            Verdict::NotConfirmed(why) => {
                assert!(
                    why.contains("Windows failover only") && why.contains("nothing was changed"),
                    "{why}"
                )
            }
            v => panic!("{v:?}"),
        }
        assert!(out.steps.is_empty(), "nothing ran: {:?}", out.steps);
    }

    #[test]
    fn a_windows_block_in_the_journal_is_removed_and_checked_gone() {
        let s = settings("[primary]\nhost = \"p\"\n");
        let records = vec![UndoRecord::Firewall {
            backend: "windows".into(),
            table: "maestro_fence".into(),
            addresses: vec!["198.18.0.2".into()],
            rules: vec!["maestro_fence-in-7".into(), "maestro_fence-out-7".into()],
        }];
        let p = UndoPlan::new(&s, &records, false);
        assert_eq!(
            p.firewalls,
            vec![(Firewall::Windows, "maestro_fence".to_string())]
        );
        assert!(p.linux_tables().is_empty());
        let d: Vec<String> = p.describe(false).into_iter().map(|(_, w)| w).collect();
        assert!(
            d[0].contains("Remove-NetFirewallRule -Group 'maestro_fence'"),
            "{d:?}"
        );
        assert!(
            d[1].contains("(active store) must list no rule of group maestro_fence"),
            "{d:?}"
        );
        assert_eq!(d.len(), 2, "no nftables or iptables check for it: {d:?}");
    }
}
