//! `fence_maestro` / `maestro-fence agent`: a fence agent for Pacemaker,
//! following the FenceAgentAPI of the fence-agents project.
//!
//! Options come as `key=value` lines on stdin (`#` comments; the last value
//! wins; unknown keys are ignored, as Pacemaker passes its own) or, when
//! there are arguments, as the usual flags. Exit codes are the API's, not
//! the monitoring-plugin ones: 0 success (and `status`: on), 1 failure,
//! 2 `status`: off.

use crate::config::FenceLevel;
use crate::device;
use crate::isolate;
use crate::metadata;
use crate::ops::{self, Env};
use crate::settings::{Overrides, Settings};
use maestro_common::config;
use maestro_common::render::{self, Format, RenderOptions};
use maestro_common::safe_output;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_STATUS_OFF: u8 = 2;

/// The most stdin read: options are a few lines.
const MAX_STDIN: u64 = 64 * 1024;

/// Canonical option names for the aliases fence-agents accepts.
fn canonical(key: &str) -> &str {
    match key {
        "option" => "action",
        "ipaddr" => "ip",
        "login" => "username",
        "port" => "plug",
        "identity-file" => "identity_file",
        "power-timeout" => "power_timeout",
        "config-file" | "config" => "config_file",
        "state-dir" => "state_dir",
        "known-hosts" => "known_hosts",
        "node-name" => "node_name",
        other => other,
    }
}

/// Options read from stdin, and a warning for each line that was not one.
pub fn parse_stdin(text: &str) -> (BTreeMap<String, String>, Vec<String>) {
    let mut values = BTreeMap::new();
    let mut warnings = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                values.insert(canonical(k.trim()).to_string(), v.trim().to_string());
            }
            _ => warnings.push(format!("stdin line {}: not key=value, ignored", i + 1)),
        }
    }
    (values, warnings)
}

const FLAGS: &[(Option<char>, &str, bool)] = &[
    (Some('o'), "action", true),
    (Some('a'), "ip", true),
    (Some('u'), "ipport", true),
    (Some('l'), "username", true),
    (Some('k'), "identity-file", true),
    (Some('n'), "plug", true),
    (None, "nodename", true),
    (None, "node-name", true),
    (None, "delay", true),
    (None, "power-timeout", true),
    (None, "config-file", true),
    (None, "state-dir", true),
    (None, "known-hosts", true),
    (None, "levels", true),
    (Some('v'), "verbose", false),
    (Some('q'), "quiet", false),
    (Some('V'), "version", false),
    (Some('h'), "help", false),
];

/// Options from the command line.
pub fn parse_flags(args: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut values = BTreeMap::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let (flag, inline) = if let Some(long) = arg.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            (FLAGS.iter().find(|f| f.1 == name), value)
        } else if let Some(short) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
            let c = short.chars().next().unwrap_or('-');
            let rest = &short[c.len_utf8()..];
            (
                FLAGS.iter().find(|f| f.0 == Some(c)),
                (!rest.is_empty()).then(|| rest.to_string()),
            )
        } else {
            return Err(format!("unexpected argument {arg:?}"));
        };
        let Some((_, name, takes_value)) = flag else {
            return Err(format!("unknown option {arg:?}"));
        };
        let value = if *takes_value {
            match inline {
                Some(v) => v,
                None => {
                    i += 1;
                    args.get(i)
                        .cloned()
                        .ok_or_else(|| format!("{arg} needs a value"))?
                }
            }
        } else {
            if inline.is_some() {
                return Err(format!("{arg} takes no value"));
            }
            "1".to_string()
        };
        values.insert(canonical(name).to_string(), value);
        i += 1;
    }
    Ok(values)
}

fn truthy(v: Option<&String>) -> bool {
    v.is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "yes" | "true" | "on"))
}

const USAGE: &str = "\
Usage: fence_maestro [options]   (or options as key=value lines on stdin)
  -o, --action=[action]      on, off, reboot (default), status, monitor, list,
                             list-status, metadata (meta-data), manpage,
                             validate-all
  -a, --ip=[ip]              the primary's SSH address ([primary] host)
  -u, --ipport=[port]        its SSH port
  -l, --username=[name]      SSH login name
  -k, --identity-file=[file] SSH private key
  --known-hosts=[file]       known_hosts for the primary's host key
  --config-file=[file]       maestro-ha configuration
  --state-dir=[dir]          maestro-ha state folder
  --levels=[ssh,agent,isolate]  levels to try
  --power-timeout=[seconds]  deadline of one run (keep it below Pacemaker's
                             pcmk_off_timeout)
  --delay=[seconds]          wait this long before fencing (off, reboot)
  --node-name=[name]         the primary's node name: the only node this
                             device fences, what list prints (default
                             [fence] node_name)
  -n, --plug=[name]          the node asked for (must be node_name)
  --nodename=[name]          the node Pacemaker asks for (must be node_name)
  -v, --verbose  -q, --quiet  -V, --version  -h, --help
Exit codes: 0 success (status: on), 1 failure, 2 status: off.";

/// The node this device fences: the device option `node_name`, else
/// `[fence] node_name`. Never `plug`: Pacemaker fills `plug` in with the
/// node it asks for whenever the device does not set its own, so a
/// device that took `plug` for its node would agree to fence any node.
fn device_node(values: &BTreeMap<String, String>, s: &Settings) -> Result<Option<String>, String> {
    let option = values
        .get("node_name")
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    let config = s
        .fence
        .node_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    match (option, config) {
        (Some(o), Some(c)) if o != c => Err(format!(
            "the device option node_name={o} and [fence] node_name = {c:?} name different nodes"
        )),
        (Some(o), _) => Ok(Some(o)),
        (None, c) => Ok(c),
    }
}

/// A request naming a node (Pacemaker always passes `nodename`, and `plug`
/// unless the device sets its own) is answered only for the device's own
/// node. A device that fences its primary whatever node it is asked for
/// could "succeed" for a node it never touched; one that knows no node
/// name would claim every node when Pacemaker, its `list` failing, asks
/// `status` for each. A request naming no node (a person at a shell) is
/// not refused.
fn check_target(values: &BTreeMap<String, String>, s: &Settings) -> Result<(), String> {
    let asked: Vec<&String> = ["nodename", "plug"]
        .iter()
        .filter_map(|k| values.get(*k))
        .filter(|v| !v.trim().is_empty())
        .collect();
    if asked.is_empty() {
        return Ok(());
    }
    match device_node(values, s)? {
        Some(mine) => match asked.iter().find(|a| a.trim() != mine) {
            Some(other) => Err(format!(
                "asked to act on {other}, but this device fences {mine} (node_name)"
            )),
            None => Ok(()),
        },
        None => Err(format!(
            "asked to act on {}, but this device knows no node name: set [fence] node_name (or the device option node_name=) to the primary's node name; pcmk_host_list alone is not enough (Pacemaker does not pass it to the agent, and it passes the node asked for as plug)",
            asked[0]
        )),
    }
}

/// `delay`: seconds to wait before fencing, as fence-agents' library offers it.
fn delay_of(values: &BTreeMap<String, String>) -> Result<Duration, String> {
    match values.get("delay") {
        None => Ok(Duration::ZERO),
        Some(t) => {
            let secs: f64 = t
                .parse()
                .map_err(|_| format!("delay: {t:?} is not a number of seconds"))?;
            if !(0.0..86_400.0).contains(&secs) {
                return Err(format!("delay: {t} is out of range"));
            }
            Ok(Duration::from_secs_f64(secs))
        }
    }
}

/// A writer that passes what it is given on line by line, masked: every
/// registered secret and a URL's password become `***`, and on stderr
/// (`escape`) control characters are escaped too. Stdout keeps its tabs
/// (the metadata XML is indented with them). A failure can quote what a
/// server or a config value said, and Pacemaker logs both streams.
struct MaskedLines<'a> {
    inner: &'a mut dyn Write,
    pending: Vec<u8>,
    escape: bool,
}

impl<'a> MaskedLines<'a> {
    fn new(inner: &'a mut dyn Write, escape: bool) -> Self {
        MaskedLines {
            inner,
            pending: Vec::new(),
            escape,
        }
    }

    fn write_line(&mut self, line: &[u8], end: &str) -> std::io::Result<()> {
        let text = String::from_utf8_lossy(line);
        let shown = if self.escape {
            safe_output::printable(&text)
        } else {
            safe_output::mask_secrets(&text)
        };
        write!(self.inner, "{shown}{end}")
    }
}

impl Write for MaskedLines<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=i).collect();
            self.write_line(&line[..i], "\n")?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.write_line(&rest, "")?;
        }
        self.inner.flush()
    }
}

impl Drop for MaskedLines<'_> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Runs the agent; returns the FenceAgentAPI exit code. Everything it
/// writes is masked (see [`MaskedLines`]).
pub fn run(args: &[String], stdin: &mut dyn Read, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let mut out = MaskedLines::new(out, false);
    let mut err = MaskedLines::new(err, true);
    run_unmasked(args, stdin, &mut out, &mut err)
}

fn run_unmasked(
    args: &[String],
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let values = if args.is_empty() {
        let mut text = String::new();
        if let Err(e) = stdin.take(MAX_STDIN).read_to_string(&mut text) {
            let _ = writeln!(err, "Failed: cannot read options from stdin: {e}");
            return EXIT_FAILED;
        }
        let (values, warnings) = parse_stdin(&text);
        for w in warnings {
            let _ = writeln!(err, "fence_maestro: warning: {w}");
        }
        values
    } else {
        match parse_flags(args) {
            Ok(v) => v,
            Err(e) => {
                let _ = writeln!(err, "Failed: {e}\n{USAGE}");
                return EXIT_FAILED;
            }
        }
    };
    if truthy(values.get("help")) {
        let _ = writeln!(out, "{USAGE}");
        return EXIT_OK;
    }
    if truthy(values.get("version")) {
        let _ = writeln!(
            out,
            "fence_maestro (maestro-fence {})",
            env!("CARGO_PKG_VERSION")
        );
        return EXIT_OK;
    }
    let mut action = values
        .get("action")
        .map(|a| a.to_ascii_lowercase())
        .unwrap_or_else(|| "reboot".into());
    // The OCF spelling, as fence-agents' library accepts it.
    if action == "meta-data" {
        action = "metadata".into();
    }
    let quiet = truthy(values.get("quiet"));
    let verbose = truthy(values.get("verbose"));
    // fence-agents' library prints the same XML for both (its manual
    // pages are made from it).
    if action == "metadata" || action == "manpage" {
        let _ = out.write_all(metadata::xml().as_bytes());
        return EXIT_OK;
    }
    if !matches!(
        action.as_str(),
        "on" | "off" | "reboot" | "status" | "monitor" | "list" | "list-status" | "validate-all"
    ) {
        let _ = writeln!(err, "Failed: unknown action {action:?}");
        return EXIT_FAILED;
    }
    // The same resolution as a real fence, so validate-all fails where a
    // fence would, not later.
    let (settings, delay) = match settings_from(&values).and_then(|s| Ok((s, delay_of(&values)?))) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(err, "Failed: {e}");
            return EXIT_FAILED;
        }
    };
    let node = match device_node(&values, &settings) {
        Ok(n) => n,
        Err(e) => {
            let _ = writeln!(err, "Failed: {e}");
            return EXIT_FAILED;
        }
    };
    if action == "validate-all" {
        // A device whose every isolate would be refused (the primary's
        // address is this server's) cannot fence: say so now, not at
        // fence time.
        if settings.levels.contains(&FenceLevel::Isolate) {
            if let isolate::Targets::Refused(e) =
                isolate::targets(&settings, settings.command_timeout)
            {
                let _ = writeln!(err, "Failed: {e}");
                return EXIT_FAILED;
            }
        }
        return EXIT_OK;
    }
    if action == "list" || (action == "list-status" && node.is_none()) {
        return match &node {
            Some(name) => {
                let _ = writeln!(out, "{name}");
                EXIT_OK
            }
            None => {
                let _ = writeln!(err, "Failed: no node name to list: set [fence] node_name, or give the device node_name=NAME (pcmk_host_list alone is not enough: this device refuses to act for a node it does not know)");
                EXIT_FAILED
            }
        };
    }
    if action == "monitor" {
        return monitor(&settings, verbose, err);
    }
    if let Err(e) = check_target(&values, &settings) {
        let _ = writeln!(err, "Failed: {e}");
        return EXIT_FAILED;
    }
    let state_dir = match values.get("state_dir") {
        Some(d) => PathBuf::from(d),
        None => match maestro_common::state::state_dir(None) {
            Ok(d) => d,
            Err(e) => {
                let _ = writeln!(err, "Failed: {e}");
                return EXIT_FAILED;
            }
        },
    };
    let mut warnings = Vec::new();
    let mut warn = |w: String| warnings.push(w);
    let mut env = Env {
        settings,
        state_dir,
        warn: &mut warn,
    };
    if matches!(action.as_str(), "off" | "reboot") {
        // Outside the run's deadline: power_timeout bounds the fence itself.
        std::thread::sleep(delay);
    }
    let (code, report) = match action.as_str() {
        "off" | "reboot" => match ops::fence(&mut env, false) {
            Ok((r, true)) => {
                if !quiet {
                    // As fence-agents' library words each action.
                    let done = if action == "reboot" {
                        "Rebooted"
                    } else {
                        "Powered OFF"
                    };
                    let _ = writeln!(out, "Success: {done}");
                }
                (EXIT_OK, Some(r))
            }
            Ok((r, false)) => {
                let _ = writeln!(err, "Failed: {}", r.summary_line());
                (EXIT_FAILED, Some(r))
            }
            Err(e) => {
                let _ = writeln!(err, "Failed: {e}");
                (EXIT_FAILED, None)
            }
        },
        "on" => match ops::unfence(&mut env, false, false) {
            Ok((r, true)) => {
                if !quiet {
                    let _ = writeln!(out, "Success: Powered ON");
                }
                (EXIT_OK, Some(r))
            }
            Ok((r, false)) => {
                let _ = writeln!(err, "Failed: {}", r.summary_line());
                (EXIT_FAILED, Some(r))
            }
            Err(e) => {
                let _ = writeln!(err, "Failed: {e}");
                (EXIT_FAILED, None)
            }
        },
        "list-status" => {
            let (r, answer) = ops::status(&mut env);
            let name = node.clone().unwrap_or_default();
            let state = match answer {
                Some(true) => "OFF",
                Some(false) => "ON",
                None => "UNKNOWN",
            };
            let _ = writeln!(out, "{name},,{state}");
            (EXIT_OK, Some(r))
        }
        "status" => {
            let (r, answer) = ops::status(&mut env);
            match answer {
                Some(true) => {
                    let _ = writeln!(out, "Status: OFF");
                    (EXIT_STATUS_OFF, Some(r))
                }
                Some(false) => {
                    let _ = writeln!(out, "Status: ON");
                    (EXIT_OK, Some(r))
                }
                None => {
                    let _ = writeln!(err, "Failed: cannot tell: {}", r.summary_line());
                    (EXIT_FAILED, Some(r))
                }
            }
        }
        other => {
            // Every other action was answered above; never a panic here.
            let _ = writeln!(err, "Failed: unknown action {other:?}");
            (EXIT_FAILED, None)
        }
    };
    if verbose {
        if let Some(mut r) = report {
            r.finish();
            let _ = render::render(&r, Format::Text, RenderOptions::default(), err);
        }
    }
    for w in warnings {
        let _ = writeln!(err, "fence_maestro: warning: {w}");
    }
    code
}

/// `monitor`: the device can act (see [`device`]); the primary is not asked.
fn monitor(s: &Settings, verbose: bool, err: &mut dyn Write) -> u8 {
    let needs = device::needs(s);
    let missing: Vec<String> = needs
        .iter()
        .filter_map(|n| {
            n.result
                .as_ref()
                .err()
                .map(|e| format!("level {}: {}: {e}", n.level.as_str(), n.what))
        })
        .collect();
    if verbose {
        for n in &needs {
            let (word, text) = match &n.result {
                Ok(t) => ("ok", t),
                Err(e) => ("missing", e),
            };
            let _ = writeln!(
                err,
                "fence_maestro: monitor: level {}: {}: {word}: {text}",
                n.level.as_str(),
                n.what
            );
        }
    }
    if missing.is_empty() {
        EXIT_OK
    } else {
        let _ = writeln!(
            err,
            "Failed: the device cannot fence: {}",
            missing.join("; ")
        );
        EXIT_FAILED
    }
}

/// The settings: the maestro-ha config with the agent's options on top.
fn settings_from(values: &BTreeMap<String, String>) -> Result<Settings, String> {
    let mut overrides = Vec::new();
    for (key, field) in [
        ("ip", "host"),
        ("ipport", "port"),
        ("username", "user"),
        ("identity_file", "identity_file"),
        ("known_hosts", "known_hosts"),
    ] {
        if let Some(v) = values.get(key) {
            if key == "ipport" && v.parse::<u16>().is_err() {
                return Err(format!("ipport: {v:?} is not a port number"));
            }
            if v.is_empty() || v.contains(['\'', '\n', '\r']) {
                return Err(format!(
                    "{key}: an empty value or one with quotes or line breaks"
                ));
            }
            // A TOML literal string, so a value is always a string taken
            // as written (Windows paths keep their backslashes).
            overrides.push(if key == "ipport" {
                format!("primary.{field}={v}")
            } else {
                format!("primary.{field}='{v}'")
            });
        }
    }
    let path = values.get("config_file").map(PathBuf::from);
    let loaded = config::load(path.as_deref(), &overrides).map_err(|e| e.to_string())?;
    let mut flags = Overrides::default();
    if let Some(l) = values.get("levels") {
        for name in l.split([',', ' ']).filter(|n| !n.is_empty()) {
            flags.levels.push(match name {
                "ssh" => FenceLevel::Ssh,
                "agent" => FenceLevel::Agent,
                "isolate" => FenceLevel::Isolate,
                other => {
                    return Err(format!(
                        "levels: unknown level {other:?} (ssh, agent, isolate)"
                    ))
                }
            });
        }
    }
    if let Some(t) = values.get("power_timeout") {
        let secs: f64 = t
            .parse()
            .map_err(|_| format!("power_timeout: {t:?} is not a number of seconds"))?;
        if !(secs > 0.0 && secs < 86_400.0) {
            return Err(format!("power_timeout: {t} is out of range"));
        }
        flags.deadline = Some(Duration::from_secs_f64(secs));
    }
    Settings::resolve(&loaded, &flags).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_agent_writes_is_masked_and_escaped() {
        let mut stdin = "action=http://u:pw-7h3xq9@h/\n".as_bytes();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run(&[], &mut stdin, &mut out, &mut err);
        let err = String::from_utf8(err).unwrap();
        assert_eq!(code, EXIT_FAILED, "{err}");
        assert!(err.contains("unknown action"), "{err}");
        assert!(!err.contains("pw-7h3xq9"), "{err}");
        // A control character in a flag's value is escaped on stderr.
        let args = ["--delay".to_string(), "1\x1b[2J".to_string()];
        let (mut out, mut err) = (Vec::new(), Vec::new());
        run(&args, &mut "".as_bytes(), &mut out, &mut err);
        let err = String::from_utf8(err).unwrap();
        assert!(!err.contains('\x1b'), "{err}");
        // The metadata keeps its tabs on stdout.
        let mut stdin = "action=metadata\n".as_bytes();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(run(&[], &mut stdin, &mut out, &mut err), EXIT_OK);
        assert!(String::from_utf8(out).unwrap().contains("\t<parameter"));
    }

    #[test]
    fn stdin_comments_last_wins_aliases_and_junk() {
        let (v, w) = parse_stdin("# comment\naction=status\noption=off\nipaddr = 192.0.2.1\nport=node1\nnonsense\n\nunknown_key=x\n");
        assert_eq!(
            v["action"], "off",
            "option is an alias of action; the last wins"
        );
        assert_eq!(v["ip"], "192.0.2.1");
        assert_eq!(v["plug"], "node1");
        assert_eq!(v["unknown_key"], "x");
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn flags_in_every_spelling() {
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let v = parse_flags(&a(&[
            "-o",
            "status",
            "--ip=h",
            "-u2222",
            "--username",
            "root",
            "-v",
        ]))
        .unwrap();
        assert_eq!(
            (
                v["action"].as_str(),
                v["ip"].as_str(),
                v["ipport"].as_str(),
                v["username"].as_str(),
                v["verbose"].as_str()
            ),
            ("status", "h", "2222", "root", "1")
        );
        assert!(parse_flags(&a(&["--bogus"])).is_err());
        assert!(parse_flags(&a(&["-o"])).is_err());
        assert!(parse_flags(&a(&["stray"])).is_err());
    }
}
