//! What the OCF Resource Agent API gives an agent and expects back: the
//! exit codes, the environment Pacemaker passes (`OCF_RESKEY_*` parameters,
//! `OCF_RESKEY_CRM_meta_*` attributes, `OCF_CHECK_LEVEL`), and the log that
//! Pacemaker keeps (resource-agents' `ocf_log` and `ocf_exit_reason`
//! conventions: `HA_LOGFILE`, `HA_LOGFACILITY`, else standard error; the
//! exit reason as an `ocf-exit-reason:` line on standard error, which
//! Pacemaker shows in `crm_mon`).

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The exit codes of the OCF Resource Agent API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OcfStatus {
    Success = 0,
    /// Failed here (Pacemaker: a hard error on this node; for stop, fencing).
    ErrGeneric = 1,
    ErrArgs = 2,
    ErrUnimplemented = 3,
    ErrPerm = 4,
    /// What the resource needs is not installed on this node.
    ErrInstalled = 5,
    /// The parameters are wrong whatever the node (Pacemaker stops the resource everywhere).
    ErrConfigured = 6,
    /// Cleanly stopped (monitor only).
    NotRunning = 7,
}

impl OcfStatus {
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn name(self) -> &'static str {
        match self {
            OcfStatus::Success => "OCF_SUCCESS",
            OcfStatus::ErrGeneric => "OCF_ERR_GENERIC",
            OcfStatus::ErrArgs => "OCF_ERR_ARGS",
            OcfStatus::ErrUnimplemented => "OCF_ERR_UNIMPLEMENTED",
            OcfStatus::ErrPerm => "OCF_ERR_PERM",
            OcfStatus::ErrInstalled => "OCF_ERR_INSTALLED",
            OcfStatus::ErrConfigured => "OCF_ERR_CONFIGURED",
            OcfStatus::NotRunning => "OCF_NOT_RUNNING",
        }
    }
}

/// An action that ends with `status`, and why (the exit reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: OcfStatus,
    pub reason: String,
}

impl Failure {
    pub fn new(status: OcfStatus, reason: impl Into<String>) -> Failure {
        Failure {
            status,
            reason: reason.into(),
        }
    }

    pub fn generic(reason: impl Into<String>) -> Failure {
        Failure::new(OcfStatus::ErrGeneric, reason)
    }

    pub fn configured(reason: impl Into<String>) -> Failure {
        Failure::new(OcfStatus::ErrConfigured, reason)
    }

    pub fn installed(reason: impl Into<String>) -> Failure {
        Failure::new(OcfStatus::ErrInstalled, reason)
    }
}

/// The environment of one action, as Pacemaker (or `ocf-tester`, or a
/// person testing by hand) sets it.
#[derive(Debug, Clone)]
pub struct Env {
    vars: Vec<(String, String)>,
}

impl Env {
    pub fn from_process() -> Env {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .filter(|(k, _)| {
                    k.starts_with("OCF_") || k.starts_with("HA_") || k.starts_with("PCMK_")
                })
                .collect(),
        }
    }

    /// For tests: exactly these variables.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Env {
        Env {
            vars: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Instance parameter `name` (`OCF_RESKEY_name`); empty counts as not set,
    /// as `pcs resource update R name=` unsets it.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.var(&format!("OCF_RESKEY_{name}"))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    /// The resource's name in the cluster.
    pub fn instance(&self) -> &str {
        self.var("OCF_RESOURCE_INSTANCE").unwrap_or("maestro")
    }

    /// The operation's timeout (`OCF_RESKEY_CRM_meta_timeout`, in ms).
    pub fn timeout(&self) -> Option<Duration> {
        self.var("OCF_RESKEY_CRM_meta_timeout")?
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
    }

    /// A monitor with interval 0 is a probe: Pacemaker asks whether the
    /// resource runs here at all, also on nodes it may never run on.
    pub fn is_probe(&self) -> bool {
        self.var("OCF_RESKEY_CRM_meta_interval")
            .is_some_and(|v| v.trim() == "0")
    }

    /// The node this action runs on: Pacemaker's name for it, else this
    /// host's name.
    pub fn node(&self) -> String {
        if let Some(n) = self
            .var("OCF_RESKEY_CRM_meta_on_node")
            .filter(|n| !n.is_empty())
        {
            return n.to_string();
        }
        host_name()
    }

    /// The depth a monitor asks for: the operation's `OCF_CHECK_LEVEL`,
    /// else the resource's `monitor_depth`, else 0. Levels between the
    /// ones the agent knows run the next lower one, as the API asks.
    pub fn check_level(&self) -> Result<u32, Failure> {
        let (name, value) = match self
            .var("OCF_CHECK_LEVEL")
            .or_else(|| self.var("OCF_RESKEY_OCF_CHECK_LEVEL"))
            .filter(|v| !v.trim().is_empty())
        {
            Some(v) => ("OCF_CHECK_LEVEL", v),
            None => match self.param("monitor_depth") {
                Some(v) => ("monitor_depth", v),
                None => return Ok(0),
            },
        };
        value.trim().parse::<u32>().map_err(|_| {
            Failure::configured(format!("{name}={value:?} is not a depth (0, 10 or 20)"))
        })
    }
}

/// This host's name (the node name when Pacemaker does not pass one).
pub fn host_name() -> String {
    maestro_common::platform::host_name().unwrap_or_default()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Err,
}

impl Level {
    fn word(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARNING",
            Level::Err => "ERROR",
        }
    }

    fn syslog_priority(self) -> libc::c_int {
        match self {
            Level::Debug => libc::LOG_DEBUG,
            Level::Info => libc::LOG_INFO,
            Level::Warn => libc::LOG_WARNING,
            Level::Err => libc::LOG_ERR,
        }
    }
}

/// Where the agent's lines go, as resource-agents' `ocf_log` decides:
/// `HA_LOGFILE` (Pacemaker's own log file) and `HA_LOGFACILITY` (syslog)
/// when Pacemaker sets them, else standard error (which Pacemaker also
/// records with the action's result).
pub struct Log {
    tag: String,
    file: Option<PathBuf>,
    facility: Option<libc::c_int>,
    stderr: bool,
    debug: bool,
}

impl Log {
    pub fn new(env: &Env) -> Log {
        let tag = format!("maestro({})[{}]", env.instance(), std::process::id());
        let file = env
            .var("HA_LOGFILE")
            .or_else(|| env.var("PCMK_LOGFILE"))
            .filter(|f| !f.is_empty() && *f != "none" && *f != "/dev/null")
            .map(PathBuf::from);
        let facility = env
            .var("HA_LOGFACILITY")
            .or_else(|| env.var("PCMK_LOGFACILITY"))
            .and_then(syslog_facility);
        let debug = env
            .var("HA_debug")
            .is_some_and(|v| !v.is_empty() && v != "0");
        // A person at a terminal sees every line.
        let tty = unsafe { libc::isatty(2) } == 1;
        let stderr = tty || (file.is_none() && facility.is_none());
        if let Some(f) = facility {
            let ident = std::ffi::CString::new(tag.clone()).unwrap_or_default();
            // openlog keeps the pointer: the identity lives as long as the process.
            let ident: &'static std::ffi::CStr = Box::leak(ident.into_boxed_c_str());
            // SAFETY: ident is a valid C string that is never freed.
            unsafe { libc::openlog(ident.as_ptr(), 0, f) };
        }
        Log {
            tag,
            file,
            facility,
            stderr,
            debug,
        }
    }

    /// A log that writes nowhere (tests of the pieces).
    pub fn silent() -> Log {
        Log {
            tag: String::new(),
            file: None,
            facility: None,
            stderr: false,
            debug: false,
        }
    }

    pub fn log(&self, level: Level, message: &str) {
        self.write(level, message, self.stderr);
    }

    fn write(&self, level: Level, message: &str, to_stderr: bool) {
        if level == Level::Debug && !self.debug {
            return;
        }
        for line in message.lines().filter(|l| !l.trim().is_empty()) {
            let line = escape_controls(line);
            let text = format!("{}: {line}", level.word());
            if let Some(path) = &self.file {
                let stamp = chrono::Local::now().format("%b %d %H:%M:%S");
                if let Ok(mut f) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                {
                    let _ = writeln!(f, "{stamp} {}:    {text}", self.tag);
                }
            }
            if self.facility.is_some() {
                if let Ok(c) = std::ffi::CString::new(text.clone()) {
                    // SAFETY: "%s" with one valid C string argument.
                    unsafe { libc::syslog(level.syslog_priority(), c"%s".as_ptr(), c.as_ptr()) };
                }
            }
            if to_stderr {
                eprintln!("{}: {text}", self.tag);
            }
        }
    }

    pub fn info(&self, message: &str) {
        self.log(Level::Info, message)
    }

    pub fn warn(&self, message: &str) {
        self.log(Level::Warn, message)
    }

    pub fn err(&self, message: &str) {
        self.log(Level::Err, message)
    }

    pub fn debug(&self, message: &str) {
        self.log(Level::Debug, message)
    }

    /// The one line Pacemaker keeps as the action's reason (`crm_mon`
    /// shows it with the failed action), and the same in the log, whole.
    pub fn exit_reason(&self, env: &Env, reason: &str) {
        let prefix = env
            .var("OCF_EXIT_REASON_PREFIX")
            .filter(|p| !p.is_empty())
            .unwrap_or("ocf-exit-reason:");
        let one_line = escape_controls(&reason.replace(['\n', '\r'], " "));
        eprintln!("{prefix}{}", shortened(&one_line, EXIT_REASON_MAX));
        // On stderr once: the log file and syslog get it as an error line.
        self.write(Level::Err, &one_line, false);
    }
}

/// Pacemaker keeps at most this many bytes of an exit reason (it cuts the
/// rest, possibly inside a character); the whole reason is in the log.
pub const EXIT_REASON_MAX: usize = 128;

/// `s` cut at a character boundary to at most `max` bytes, ending in
/// "..." when it was cut.
pub fn shortened(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub(3);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// Control characters from a tool's output or a file name never reach the
/// log as they are.
fn escape_controls(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

fn syslog_facility(name: &str) -> Option<libc::c_int> {
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "daemon" => libc::LOG_DAEMON,
        "user" => libc::LOG_USER,
        "local0" => libc::LOG_LOCAL0,
        "local1" => libc::LOG_LOCAL1,
        "local2" => libc::LOG_LOCAL2,
        "local3" => libc::LOG_LOCAL3,
        "local4" => libc::LOG_LOCAL4,
        "local5" => libc::LOG_LOCAL5,
        "local6" => libc::LOG_LOCAL6,
        "local7" => libc::LOG_LOCAL7,
        "authpriv" => libc::LOG_AUTHPRIV,
        _ => return None,
    })
}

/// The time an action has, from its start: Pacemaker's timeout less a
/// margin, so that the agent reports its own failure (with its reason)
/// before Pacemaker kills it.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    end: Instant,
    budget: Duration,
}

impl Deadline {
    pub fn new(timeout: Duration) -> Deadline {
        let margin = (timeout / 10).min(Duration::from_secs(5));
        let budget = timeout.saturating_sub(margin);
        Deadline {
            end: Instant::now() + budget,
            budget,
        }
    }

    pub fn budget(&self) -> Duration {
        self.budget
    }

    pub fn remaining(&self) -> Duration {
        self.end.saturating_duration_since(Instant::now())
    }

    pub fn expired(&self) -> bool {
        self.remaining().is_zero()
    }

    /// An earlier deadline, `reserve` before this one.
    pub fn less(&self, reserve: Duration) -> Deadline {
        Deadline {
            end: self.end.checked_sub(reserve).unwrap_or(self.end),
            budget: self.budget.saturating_sub(reserve),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_and_meta_attributes() {
        let env = Env::from_pairs(&[
            ("OCF_RESKEY_config_file", " /etc/x.toml "),
            ("OCF_RESKEY_services", ""),
            ("OCF_RESKEY_CRM_meta_timeout", "20000"),
            ("OCF_RESKEY_CRM_meta_interval", "0"),
            ("OCF_RESKEY_CRM_meta_on_node", "node1"),
        ]);
        assert_eq!(env.param("config_file"), Some("/etc/x.toml"));
        assert_eq!(env.param("services"), None);
        assert_eq!(env.timeout(), Some(Duration::from_secs(20)));
        assert!(env.is_probe());
        assert_eq!(env.node(), "node1");
        assert!(!Env::from_pairs(&[]).is_probe());
    }

    #[test]
    fn check_level_from_the_operation_then_the_parameter() {
        let level = |pairs: &[(&str, &str)]| Env::from_pairs(pairs).check_level();
        assert_eq!(level(&[]), Ok(0));
        assert_eq!(level(&[("OCF_RESKEY_monitor_depth", "10")]), Ok(10));
        assert_eq!(
            level(&[
                ("OCF_RESKEY_monitor_depth", "10"),
                ("OCF_CHECK_LEVEL", "20")
            ]),
            Ok(20)
        );
        assert_eq!(level(&[("OCF_RESKEY_OCF_CHECK_LEVEL", "10")]), Ok(10));
        let e = level(&[("OCF_CHECK_LEVEL", "deep")]).unwrap_err();
        assert_eq!(e.status, OcfStatus::ErrConfigured);
        assert!(e.reason.contains("OCF_CHECK_LEVEL"), "{e:?}");
    }

    #[test]
    fn a_long_exit_reason_is_cut_where_pacemaker_would_cut_it() {
        assert_eq!(shortened("short", 128), "short");
        let long = "é".repeat(100);
        let cut = shortened(&long, EXIT_REASON_MAX);
        assert!(
            cut.len() <= EXIT_REASON_MAX && cut.ends_with("..."),
            "{cut}"
        );
        assert_eq!(cut.len(), 2 * 62 + 3);
    }

    #[test]
    fn the_deadline_keeps_a_margin_before_pacemaker_kills() {
        let d = Deadline::new(Duration::from_secs(20));
        assert_eq!(d.budget(), Duration::from_secs(18));
        let d = Deadline::new(Duration::from_secs(600));
        assert_eq!(d.budget(), Duration::from_secs(595));
        assert!(d.less(Duration::from_secs(30)).remaining() < Duration::from_secs(566));
    }
}
