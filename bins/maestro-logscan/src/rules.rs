//! Rules: what a log line means. Two built-in packs (the Maestro/Tomcat/JDBC
//! pack for the LUI, HUB and Tracker logs; the InnoDB/MariaDB pack for the
//! database's error log), extended or overridden by TOML rule files.
//!
//! Rules match bytes, as grep does in the C locale: `\w`, `\d`, `\s`, `\b`
//! and `(?i)` are ASCII, `.` and `[^x]` match any byte, so a Latin-1 or
//! broken line is matched the same as a clean one and the fast whole-block
//! prefilter sees exactly what the per-line rules see.

use crate::level::Level;
use maestro_common::site::Component;
use maestro_common::Status;
use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use serde::Deserialize;
use std::path::Path;

/// How serious a finding is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Deserialize,
    clap::ValueEnum,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// Info findings are reported but never make a run fail.
    pub fn status(self) -> Status {
        match self {
            Severity::Info => Status::Ok,
            Severity::Warning => Status::Warning,
            Severity::Critical => Status::Critical,
        }
    }
}

/// What a match of a rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    /// Report the record.
    Finding,
    /// The component started: `--since-start` counts from the last one.
    Startup,
    /// The component is ready: `--until-ready` returns here.
    Ready,
    /// Like check_logfiles' okpatterns: findings before it no longer count.
    Ok,
}

impl RuleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Finding => "finding",
            RuleKind::Startup => "startup",
            RuleKind::Ready => "ready",
            RuleKind::Ok => "ok",
        }
    }
}

/// Which logs a rule is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pack {
    /// LUI, HUB and Tracker logs (Java, Tomcat, JDBC).
    Maestro,
    /// The MySQL/MariaDB error log.
    Db,
    /// Every log (the default for rules from files).
    Any,
}

impl Pack {
    pub fn for_component(c: Component) -> Pack {
        match c {
            Component::Db => Pack::Db,
            _ => Pack::Maestro,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Pack::Maestro => "maestro",
            Pack::Db => "db",
            Pack::Any => "any",
        }
    }

    fn applies_to(self, active: Pack) -> bool {
        self == Pack::Any || self == active
    }
}

/// One rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: String,
    pub pack: Pack,
    pub kind: RuleKind,
    pub severity: Severity,
    pub regex: String,
    pub description: String,
    pub advice: String,
    pub enabled: bool,
    /// The severity of a match in a record logged at WARN level (`WARN`,
    /// `WARNING`, `WARNUNG`, ...), in the record's own message or the
    /// exception chain under it: a retry a program logs while the database
    /// is still starting is not the failure it logs at ERROR when it gives
    /// up. A match at another level, or one only in lines printed into the
    /// record, keeps `severity`; so does a second such retry in one start
    /// (see [`crate::collect`]). None: `severity` whatever the level.
    pub warn_severity: Option<Severity>,
    /// The rule counts only in records logged at this level or above (the
    /// level the record says, see [`crate::level`]); None: any record.
    pub min_level: Option<Level>,
}

impl Rule {
    /// The severity of a match in a record logged at `level`: the lower
    /// `warn_severity` at exactly WARN level, else the full severity (also
    /// when the level is not known).
    pub fn severity_at(&self, level: Option<Level>) -> Severity {
        match (self.warn_severity, level) {
            (Some(s), Some(Level::Warn)) => s.min(self.severity),
            _ => self.severity,
        }
    }

    /// Whether a record logged at `level` is one this rule is about.
    pub fn applies_at(&self, level: Option<Level>) -> bool {
        self.min_level
            .is_none_or(|min| level.is_some_and(|l| l >= min))
    }
}

fn rule(
    pack: Pack,
    kind: RuleKind,
    id: &str,
    severity: Severity,
    regex: &str,
    description: &str,
    advice: &str,
) -> Rule {
    Rule {
        id: id.into(),
        pack,
        kind,
        severity,
        regex: regex.into(),
        description: description.into(),
        advice: advice.into(),
        enabled: true,
        warn_severity: None,
        min_level: None,
    }
}

/// What MariaDB and MySQL say, in their own log and to a client, when
/// they refuse a user.
const ACCESS_DENIED: &str = r"Access denied for user '[^']*'@'[^']*'";

/// [`rule`], with a lower severity for matches in WARN-level records.
#[allow(clippy::too_many_arguments)]
fn rule_warn_level(
    pack: Pack,
    id: &str,
    severity: Severity,
    warn_severity: Severity,
    regex: &str,
    description: &str,
    advice: &str,
) -> Rule {
    Rule {
        warn_severity: Some(warn_severity),
        ..rule(
            pack,
            RuleKind::Finding,
            id,
            severity,
            regex,
            description,
            advice,
        )
    }
}

/// The built-in rules, most specific first: when one record matches
/// several rules of one severity, the first names the finding.
pub fn built_in() -> Vec<Rule> {
    use Pack::{Db, Maestro};
    use RuleKind::{Finding, Ready, Startup};
    use Severity::{Critical, Info, Warning};
    vec![
        // ---- Maestro / Tomcat / JDBC (the LUI, HUB and Tracker logs). The
        // markers are guesses: Maestro's own wording is not documented, so
        // they name LISTSERV Maestro in so many words (not "Maestro
        // scheduler started"), and count only as a record's first line
        // (or java.util.logging's message line) logged at INFO (see
        // collect.rs). Tomcat's first line of a start is the version
        // listener's (in every server.xml Tomcat ships); its later start
        // lines ("Starting service [Catalina]", one "Initializing
        // ProtocolHandler" a connector) come after errors of the same
        // start, such as a port already taken, and must not clear them.
        rule(Maestro, Startup, "maestro-startup", Info,
            r"\b[Ss]tarting LISTSERV Maestro\b|Server version name:",
            "the component is starting",
            "--since-start counts from the last of these"),
        rule(Maestro, Ready, "maestro-ready", Info,
            r"Server startup in \[?\d[\d,.]*\]? ?(ms|milliseconds)\s*$|\bLISTSERV Maestro (started|is ready|startup completed?( in \d+ ?(ms|milliseconds))?)\s*$",
            "the component finished starting",
            "--until-ready returns here"),
        rule(Maestro, Finding, "table-missing", Critical,
            r"Table '[^']*' doesn't exist",
            "a database table Maestro needs is missing",
            "the database does not match the application files: do not go on; restore Maestro's last on-disk backup (application files and database together) or copy both again from one point in time"),
        rule(Maestro, Finding, "table-crashed", Critical,
            r"is marked as crashed",
            "a MyISAM table is marked as crashed",
            "stop Maestro, repair the table (mariadb-check --repair / REPAIR TABLE) and look for lost data; if it fails, restore the last on-disk backup"),
        rule(Maestro, Finding, "table-key-file", Critical,
            r"Incorrect key file",
            "a table's index file is corrupt",
            "stop Maestro and repair the table (REPAIR TABLE); a copy taken while the database ran can cause this"),
        rule(Maestro, Finding, "out-of-memory", Critical,
            r"java\.lang\.OutOfMemoryError",
            "the Java VM ran out of memory",
            "raise the heap size of the component (-Xmx) and restart it; the component may be in an undefined state"),
        rule(Maestro, Finding, "port-in-use", Critical,
            r"java\.net\.BindException|Address already in use",
            "a port is already taken: another instance may be running",
            "make sure the old primary is fenced and no second Maestro runs (two instances on one database corrupt it); find the process with `ss -ltnp`"),
        // What the JDBC drivers and pools the LUI may run with write when
        // the database is down, refuses the LUI's user, or the driver is
        // missing; then what Tomcat writes when the application does not
        // deploy. The wordings are those of MariaDB Connector/J 2.x and 3.x
        // (`address=(host=..)(port=..)(type=master|primary)`), MySQL
        // Connector/J, HikariCP, Commons DBCP, Tomcat's JDBC pool and c3p0
        // (its exception, and its give-up after the configured number of
        // acquisition attempts, which it logs at WARN).
        rule(Maestro, Finding, "db-access-denied", Critical,
            &format!("{ACCESS_DENIED}|SQLInvalidAuthorizationSpecException"),
            "the database refused the component's user (wrong password, or the user or its host grant is missing)",
            "compare the database user and password in the component's configuration (lui.ini) with the database's grants (SELECT user, host FROM mysql.user); after a failover the copied grants may name the old primary's host"),
        rule(Maestro, Finding, "db-pool-gave-up", Critical,
            r"Exception during pool initialization|PoolInitializationException|Cannot create PoolableConnectionFactory|Cannot get a connection, pool error|Unable to create initial connections of pool|Connection is not available, request timed out after \d+|CannotAcquireResourceException|could not acquire a resource from its primary factory|Acquisition Attempt Failed!!!|failed to succeed more than the maximum number of allowed acquisition attempts|A RESOURCE POOL IS PERMANENTLY BROKEN",
            "the database connection pool gave up: the component has no database connection",
            "the component does not work without its database: check that the database runs and listens on the address and port the component is configured with, then restart the component"),
        rule(Maestro, Finding, "db-driver-missing", Critical,
            r"No suitable driver found for jdbc:|ClassNotFoundException: (org\.mariadb\.jdbc\.Driver|com\.mysql\.(cj\.)?jdbc\.Driver)",
            "the JDBC driver is not on the component's class path",
            "the application files are incomplete (the driver .jar is missing): copy them again from one point in time"),
        rule_warn_level(Maestro, "db-unreachable", Critical, Warning,
            r"Could not connect to (address=\(host=|HostAddress)|Socket fail to connect to|Communications link failure|Connection refused.{0,80}(\bport:? ?|:)3306\b",
            "the database cannot be reached (refused, down, or the wrong address); a WARN-level retry while it starts is a warning",
            "start the database and check that it listens where the component connects (host, port, bind-address); a component that gave up must be restarted after it"),
        rule(Maestro, Finding, "tomcat-context-failed", Critical,
            r"One or more listeners failed to start|One or more [Ff]ilters failed to start|Context \[[^\]]*\] startup failed due to previous errors|Error listenerStart|Error filterStart|One or more components marked the context as not correctly configured|Marking this application unavailable due to previous error",
            "Tomcat did not start the web application: its later \"Server startup in\" does not mean the application runs",
            "the cause is in the lines before and in localhost.*.log (the exception of the listener or filter): fix it and restart Tomcat"),
        rule(Maestro, Finding, "tomcat-deploy-exception", Critical,
            r"Exception sending context initialized event to listener|Exception starting [Ff]ilter|threw load\(\) exception|Error deploying web application|Parse error in application web\.xml|Parse fatal error at line|Error configuring application listener of class|Servlet\.init\(\) for servlet \[[^\]]*\] threw exception",
            "a part of the web application (listener, filter, servlet, web.xml) failed while Tomcat deployed it",
            "read the exception's root cause (the last \"Caused by:\"): a database that cannot be reached, a missing file or class; fix it and restart Tomcat"),
        rule(Maestro, Finding, "tomcat-component-failed", Critical,
            r"Failed to (initialize|start) component \[",
            "a Tomcat component (a connector, a host) did not start: the web interface may not be reachable",
            "read the cause below it (a port already taken, a missing key store) and restart Tomcat"),
        rule(Maestro, Finding, "db-connection-lost", Warning,
            r"CommunicationsException|Could not create connection to database server",
            "the component lost or could not open its database connection",
            "check that the database runs and listens; if it persists after startup, Maestro is not working"),
        rule(Maestro, Finding, "deadlock", Warning,
            r"Deadlock found when trying to get lock|DeadlockLoserDataAccessException|[Dd]eadlock detected",
            "a database deadlock",
            "usually retried by the application; many of them point to two writers on one database"),
        rule(Maestro, Finding, "duplicate-key", Warning,
            r"Duplicate entry '[^']*' for key|[Dd]uplicate key",
            "a duplicate key: data the database already has was written again",
            "at startup after a failover this means application files and database are from different points in time; compare with maestro-snapshot-verify"),
        rule(Maestro, Finding, "hub-unreachable", Warning,
            r"(?i)(cannot|could not|can't|unable to|failed to) (connect|reach|contact) (to )?(the )?(administration )?hub\b|(?i)\bhub (is )?(unreachable|not reachable|not available)",
            "the component cannot reach the Administration Hub",
            "check that the HUB started and that its host name resolves to this server after the failover"),
        rule(Maestro, Finding, "sql-exception", Warning,
            r"SQL\w*Exception|com\.mysql\.(cj\.)?jdbc\.exceptions|(JDBC|Jdbc)\w*Exception",
            "an SQL/JDBC error",
            "read the stack trace; at startup it often names a table the replica lacks"),
        // The level word anywhere in a record is not its level (a JVM
        // argument `-Dlog.level=ERROR` in Tomcat's INFO lines): the record
        // must be logged at ERROR (its level, see level.rs).
        Rule {
            min_level: Some(Level::Error),
            ..rule(Maestro, Finding, "error-level", Warning,
                r"\b(SEVERE|ERROR|FATAL|SCHWERWIEGEND|GRAVE|ALLVARLIG)\b",
                "a record logged at SEVERE/ERROR level",
                "read it; the tool does not know this message")
        },
        // ---- InnoDB / MySQL / MariaDB crash recovery (the error log).
        rule(Db, Startup, "db-startup", Info,
            r"\bstarting as process \d+|\bas process \d+\s*(\.\.\.)?\s*$|\bmysqld(\.exe)?: ?Started\b",
            "the database server is starting",
            "--since-start counts from the last of these"),
        rule(Db, Ready, "db-ready", Info,
            r"ready for connections",
            "the database server accepts connections",
            "--until-ready returns here"),
        rule(Db, Finding, "innodb-lsn-future", Critical,
            r"(?i)log sequence number \d+ is in the future|copied the InnoDB tablespace but not the|is higher than the log sequence number in the ib_logfiles|Are you sure you are using the right ib_logfiles?\d? to start up|Log sequence number in the ib_logfiles? is \d+, less than",
            "data files are newer than the redo log: files from different points in time",
            "the database folder was copied at two moments: do not let it run; copy it again from one point in time (stop the database or use a snapshot) or restore the last on-disk backup"),
        rule(Db, Finding, "innodb-page-corruption", Critical,
            r"(?i)database page corruption|page corruption|\bcorrupted page\b|Failed to read page \d+ from file|Data structure corruption|checksum mismatch|is corrupted|Cannot apply log to",
            "InnoDB found a corrupt page",
            "do not let the database run on: restore from one point in time; innodb_force_recovery only helps to dump data"),
        rule(Db, Finding, "innodb-missing-tablespace", Critical,
            r"Tablespace \d+ was not found at|(?i)could not find a valid tablespace file for|Cannot open datafile for|Failed to find tablespace for table|(?i)missing tablespace|doesn't exist in engine|table \S+ does not exist in the InnoDB internal",
            "a tablespace (.ibd file) is missing",
            "the copy of the data folder is incomplete; copy it again or restore the backup"),
        rule(Db, Finding, "innodb-init-failed", Critical,
            r"Plugin 'InnoDB' init function returned error|Plugin 'InnoDB' registration as a STORAGE ENGINE failed|Unknown/unsupported storage engine: InnoDB|InnoDB: Database creation was aborted|InnoDB: Cannot continue operation",
            "InnoDB failed to start",
            "the database is not usable; read the lines before this one"),
        rule(Db, Finding, "db-aborting", Critical,
            r"\[ERROR\] (mysqld|mariadbd)?:? ?Aborting|\bAborting\s*$",
            "the database server gave up starting",
            "the database is down; read the errors before this line"),
        rule(Db, Finding, "db-table-crashed", Critical,
            r"is marked as crashed|Incorrect key file",
            "a MyISAM table is crashed",
            "run mariadb-check --repair on it before Maestro uses it"),
        rule(Db, Finding, "os-error", Warning,
            r"Operating system error number \d+|\bOS error:? \d+|\berrno:? \d+",
            "the operating system refused a file operation",
            "the error number tells which (2: file missing, 13: permission denied, 28: disk full)"),
        rule(Db, Finding, "db-crashed", Warning,
            r"(mysqld|mariadbd) got signal \d+|Got signal \d+ from thread",
            "the database server crashed",
            "the next start runs crash recovery; read whether it completed"),
        rule(Db, Finding, "db-user-refused", Warning,
            ACCESS_DENIED,
            "the database refused a user's login",
            "when it is the user of the LUI, HUB or Tracker, that component cannot start: check its password and the user's host grants"),
        rule(Db, Finding, "db-error", Warning,
            r"\[ERROR\]",
            "an error the database logged",
            "read it; the tool does not know this message"),
        rule(Db, Finding, "innodb-crash-recovery", Info,
            r"Starting crash recovery|(?i)database was not shut ?down normally|Doing recovery: scanned up to|To recover: \d+ pages|Starting final batch to recover|Apply batch completed|Rolling back trx|Starting (a batch|an apply batch) to recover|Crash recovery finished|Starting recovery for XA transactions",
            "InnoDB crash recovery (expected after a failover from a running server)",
            "normal after a crash or a block-level copy; check that it ends with \"ready for connections\" and no errors"),
    ]
}

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("rule file {0}")]
    Read(#[from] maestro_common::fsio::FsioError),
    #[error("rule file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("rule `{id}`{from}: invalid regex: {message}")]
    Regex {
        id: String,
        from: String,
        message: String,
    },
}

/// A rule as a TOML file writes it; fields left out keep the built-in
/// rule's values when the id exists, so a file can change one field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    pack: Option<Pack>,
    kind: Option<RuleKind>,
    severity: Option<Severity>,
    regex: Option<String>,
    description: Option<String>,
    advice: Option<String>,
    enabled: Option<bool>,
    warn_severity: Option<Severity>,
    min_level: Option<Level>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<RuleSpec>,
}

/// The largest rule file read.
pub const MAX_RULE_FILE: u64 = maestro_common::fsio::MIB;

/// Merge a rule file into `rules`: a known id is overridden field by field,
/// a new id is added (it needs a regex).
pub fn merge_file(rules: &mut Vec<Rule>, path: &Path) -> Result<(), RulesError> {
    let shown = path.display().to_string();
    // A rule file is a few KiB: a FIFO, a device or a huge file is refused.
    let text = maestro_common::fsio::read_regular_to_string(path, MAX_RULE_FILE)?;
    merge_text(rules, &text, &shown)
}

pub fn merge_text(rules: &mut Vec<Rule>, text: &str, shown: &str) -> Result<(), RulesError> {
    let file: RuleFile = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| {
                format!(
                    "line {}: ",
                    text[..s.start.min(text.len())].matches('\n').count() + 1
                )
            })
            .unwrap_or_default();
        RulesError::Parse {
            path: shown.to_string(),
            message: format!("{line}{}", e.message().trim()),
        }
    })?;
    for spec in file.rule {
        let parse_err = |message: String| RulesError::Parse {
            path: shown.to_string(),
            message,
        };
        if spec.id.trim().is_empty() {
            return Err(parse_err("a rule has an empty id".into()));
        }
        let r = match rules.iter_mut().find(|r| r.id == spec.id) {
            Some(r) => r,
            None => {
                let regex = spec
                    .regex
                    .clone()
                    .ok_or_else(|| parse_err(format!("new rule `{}` needs a regex", spec.id)))?;
                rules.push(Rule {
                    id: spec.id.clone(),
                    pack: Pack::Any,
                    kind: RuleKind::Finding,
                    severity: Severity::Warning,
                    regex,
                    description: String::new(),
                    advice: String::new(),
                    enabled: true,
                    warn_severity: None,
                    min_level: None,
                });
                rules
                    .last_mut()
                    .ok_or_else(|| parse_err("internal".into()))?
            }
        };
        if let Some(v) = spec.pack {
            r.pack = v;
        }
        if let Some(v) = spec.kind {
            r.kind = v;
        }
        if let Some(v) = spec.severity {
            r.severity = v;
        }
        if let Some(v) = spec.regex {
            r.regex = v;
        }
        if let Some(v) = spec.description {
            r.description = v;
        }
        if let Some(v) = spec.advice {
            r.advice = v;
        }
        if let Some(v) = spec.enabled {
            r.enabled = v;
        }
        if let Some(v) = spec.warn_severity {
            r.warn_severity = Some(v);
        }
        if let Some(v) = spec.min_level {
            r.min_level = Some(v);
        }
    }
    Ok(())
}

/// Replace a pack's marker regex (from `[logscan] *_marker` keys).
pub fn set_marker(rules: &mut [Rule], id: &str, regex: &str) {
    if let Some(r) = rules.iter_mut().find(|r| r.id == id) {
        r.regex = regex.to_string();
    }
}

fn builder(pattern: &str) -> RegexBuilder {
    let mut b = RegexBuilder::new(pattern);
    b.unicode(false).multi_line(true).crlf(true);
    b
}

/// Check one regex the way the scanner compiles it.
pub fn check_regex(r: &Rule, from: &str) -> Result<(), RulesError> {
    let invalid = |message: String| RulesError::Regex {
        id: r.id.clone(),
        from: from.to_string(),
        message,
    };
    builder(&r.regex)
        .build()
        .map_err(|e| invalid(e.to_string()))?;
    if crate::literals::anchors_to_text_ends(&r.regex) {
        // The prefilters search whole blocks of lines, where \A and \z
        // hold only at a block's ends: such a rule would match a line or
        // not depending on where a read happened to end.
        return Err(invalid(
            "\\A, \\z and (?-m:^ $) match only at the ends of the scanned text, and rules match line by line: use ^ and $".into(),
        ));
    }
    Ok(())
}

/// How the lines worth asking the rules about are found in a block.
#[derive(Debug, Clone)]
pub enum Prefilter {
    /// The lower-cased literals every match of some rule contains (see
    /// [`crate::literals`]), searched in a lower-cased copy of the block:
    /// a SIMD literal search, several times faster than the rules' regex,
    /// used whenever every rule has such literals. Its hits may include
    /// lines no rule matches.
    Literals(aho_corasick::AhoCorasick),
    /// All rules as one alternation: exact, and the fallback.
    Regex(Regex),
}

impl Prefilter {
    /// Whether [`find_at`](Self::find_at) searches a lower-cased copy
    /// ([`crate::literals::fold_into`]) rather than the bytes themselves.
    pub fn wants_folded(&self) -> bool {
        matches!(self, Prefilter::Literals(_))
    }

    /// The start of the first hit at or after `at`. A line a rule matches
    /// always has a hit.
    pub fn find_at(&self, hay: &[u8], at: usize) -> Option<usize> {
        match self {
            Prefilter::Literals(ac) => ac
                .find(aho_corasick::Input::new(hay).range(at..))
                .map(|m| m.start()),
            Prefilter::Regex(re) => re.find_at(hay, at).map(|m| m.start()),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Prefilter::Literals(_) => "literals",
            Prefilter::Regex(_) => "regex",
        }
    }
}

/// The rules that apply to one pack, compiled: a prefilter that runs over
/// whole blocks of lines, and a set that says which rules a line matches.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub prefilter: Option<Prefilter>,
    /// The rules' regex, when `prefilter` is the literals: for blocks
    /// where the literals hit so many lines that asking the rules about
    /// each costs more than the regex over the whole block.
    pub fallback: Option<Prefilter>,
    pub set: RegexSet,
}

impl RuleSet {
    /// The enabled rules of `pack` (and `any`); finding rules below
    /// `min_severity` are left out (markers always stay).
    pub fn compile(
        all: &[Rule],
        pack: Pack,
        min_severity: Severity,
    ) -> Result<RuleSet, RulesError> {
        let rules: Vec<Rule> = all
            .iter()
            .filter(|r| r.enabled && r.pack.applies_to(pack))
            .filter(|r| r.kind != RuleKind::Finding || r.severity >= min_severity)
            .cloned()
            .collect();
        for r in &rules {
            check_regex(r, "")?;
        }
        let patterns: Vec<&str> = rules.iter().map(|r| r.regex.as_str()).collect();
        let set = RegexSetBuilder::new(&patterns)
            .unicode(false)
            .multi_line(true)
            .crlf(true)
            .size_limit(64 << 20)
            .build()
            .map_err(|e| RulesError::Regex {
                id: "(all)".into(),
                from: String::new(),
                message: e.to_string(),
            })?;
        let (prefilter, fallback) = if patterns.is_empty() {
            (None, None)
        } else {
            let regex = Prefilter::Regex(regex_prefilter(&patterns)?);
            match literal_prefilter(&patterns) {
                Some(ac) => (Some(Prefilter::Literals(ac)), Some(regex)),
                None => (Some(regex), None),
            }
        };
        Ok(RuleSet {
            rules,
            prefilter,
            fallback,
            set,
        })
    }

    /// The same rules with the combined regex as prefilter: the reference
    /// the literal prefilter is tested against. With the literals in use,
    /// the regex is their fallback already; without, it is the prefilter.
    pub fn with_regex_prefilter(mut self) -> RuleSet {
        if let Some(regex) = self.fallback.take() {
            self.prefilter = Some(regex);
        }
        self
    }

    /// The patterns, one a line, for `rg -f` / `grep -E -f` comparisons.
    pub fn patterns(&self) -> Vec<&str> {
        self.rules.iter().map(|r| r.regex.as_str()).collect()
    }
}

/// A multi-literal searcher over the required literals of every pattern,
/// or None when one pattern has none (then the rules' regex is the
/// prefilter).
fn literal_prefilter(patterns: &[&str]) -> Option<aho_corasick::AhoCorasick> {
    let mut all = Vec::new();
    for p in patterns {
        all.extend(crate::literals::required(p)?);
    }
    all.sort();
    all.dedup();
    // A literal that contains another is found through that one: fewer
    // literals keep the SIMD search's false hits down.
    let all: Vec<Vec<u8>> = all
        .iter()
        .filter(|l| {
            !all.iter()
                .any(|o| o.len() < l.len() && memchr::memmem::find(l, o).is_some())
        })
        .cloned()
        .collect();
    if all.is_empty() || all.len() > crate::literals::MAX_LITERALS {
        return None;
    }
    // Leftmost-first lets aho-corasick use its SIMD (Teddy) searcher.
    aho_corasick::AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostFirst)
        .build(&all)
        .ok()
}

fn regex_prefilter(patterns: &[&str]) -> Result<Regex, RulesError> {
    let joined = patterns
        .iter()
        .map(|p| format!("(?:{p})"))
        .collect::<Vec<_>>()
        .join("|");
    builder(&joined)
        .size_limit(64 << 20)
        .dfa_size_limit(32 << 20)
        .build()
        .map_err(|e| RulesError::Regex {
            id: "(all)".into(),
            from: String::new(),
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(set: &RuleSet, line: &str) -> Vec<String> {
        set.set
            .matches(line.as_bytes())
            .into_iter()
            .map(|i| set.rules[i].id.clone())
            .collect()
    }

    #[test]
    fn text_anchors_are_refused_with_advice() {
        for regex in [r"\AFATAL", r"FATAL\z", r"(?-m:^)FATAL", r"(?:x|\A)FATAL"] {
            let mut r = built_in().remove(0);
            r.regex = regex.into();
            let e = check_regex(&r, "").unwrap_err().to_string();
            assert!(e.contains("use ^ and $"), "{regex}: {e}");
        }
        let mut r = built_in().remove(0);
        r.regex = r"^FATAL\b.*$".into();
        check_regex(&r, "").unwrap();
    }

    #[test]
    fn built_in_rules_compile_and_have_unique_ids() {
        let all = built_in();
        let mut seen = std::collections::HashSet::new();
        for r in &all {
            assert!(seen.insert(r.id.clone()), "duplicate {}", r.id);
            check_regex(r, "").unwrap();
            assert!(
                !r.description.is_empty() && !r.advice.is_empty(),
                "{}",
                r.id
            );
        }
        RuleSet::compile(&all, Pack::Maestro, Severity::Info).unwrap();
        RuleSet::compile(&all, Pack::Db, Severity::Info).unwrap();
    }

    #[test]
    fn built_in_packs_use_the_literal_prefilter_and_others_fall_back() {
        let all = built_in();
        for pack in [Pack::Maestro, Pack::Db] {
            let set = RuleSet::compile(&all, pack, Severity::Info).unwrap();
            assert_eq!(
                set.prefilter.as_ref().unwrap().kind(),
                "literals",
                "{pack:?}"
            );
        }
        let mut rules = all.clone();
        merge_text(
            &mut rules,
            "[[rule]]\nid = \"digits\"\nregex = \"\\\\d+ errors\"\n",
            "x.toml",
        )
        .unwrap();
        let set = RuleSet::compile(&rules, Pack::Maestro, Severity::Info).unwrap();
        assert_eq!(set.prefilter.as_ref().unwrap().kind(), "literals");
        merge_text(
            &mut rules,
            "[[rule]]\nid = \"short\"\nregex = \"E\\\\d\"\n",
            "y.toml",
        )
        .unwrap();
        let set = RuleSet::compile(&rules, Pack::Maestro, Severity::Info).unwrap();
        assert_eq!(set.prefilter.as_ref().unwrap().kind(), "regex");
        // Whatever the prefilter, every line a rule matches is a hit.
        let hay = b"x\n12 errors\nE5\nsevere\n";
        let pf = set.prefilter.as_ref().unwrap();
        assert_eq!(pf.find_at(hay, 0), Some(2));
    }

    #[test]
    fn maestro_pack_classifies_typical_lines() {
        let set = RuleSet::compile(&built_in(), Pack::Maestro, Severity::Info).unwrap();
        assert!(ids(
            &set,
            "java.sql.SQLSyntaxErrorException: Table 'maestro.lui_job' doesn't exist"
        )
        .contains(&"table-missing".to_string()));
        assert!(ids(&set, "Caused by: com.mysql.jdbc.exceptions.jdbc4.CommunicationsException: Communications link failure")
            .contains(&"db-connection-lost".to_string()));
        assert!(ids(&set, "java.net.BindException: Address already in use")
            .contains(&"port-in-use".to_string()));
        assert!(ids(&set, "SEVERE: something").contains(&"error-level".to_string()));
        assert!(ids(&set, "INFO: errors=0, all fine").is_empty());
        // Latin-1 bytes inside a quoted table name still match.
        let line = b"Table 'maestro.t\xe4b' doesn't exist";
        assert!(set.set.is_match(line));
    }

    /// The wordings of the drivers no make.sh run could produce here
    /// (MySQL Connector/J, MariaDB Connector/J 3.x), from their message
    /// texts; the 2.x driver, the pools and Tomcat are in the real logs.
    #[test]
    fn driver_wordings_without_a_real_run() {
        let set = RuleSet::compile(&built_in(), Pack::Maestro, Severity::Info).unwrap();
        for (line, want) in [
            ("java.sql.SQLNonTransientConnectionException: Socket fail to connect to address=(host=db.example.org)(port=3306)(type=primary). Connection refused", "db-unreachable"),
            ("java.sql.SQLNonTransientConnectionException: Could not connect to address=(host=localhost)(port=3306)(type=primary) : Socket fail to connect to address=(host=localhost)(port=3306)(type=primary). Connection refused", "db-unreachable"),
            ("com.mysql.cj.jdbc.exceptions.CommunicationsException: Communications link failure", "db-unreachable"),
            ("Caused by: java.net.ConnectException: Connection refused (Connection refused) host 10.0.0.5 port 3306", "db-unreachable"),
            ("java.sql.SQLException: Access denied for user 'lui'@'localhost' (using password: YES)", "db-access-denied"),
            ("java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out after 30000ms.", "db-pool-gave-up"),
            ("java.lang.ClassNotFoundException: com.mysql.cj.jdbc.Driver", "db-driver-missing"),
            ("SEVERE: Error listenerStart", "tomcat-context-failed"),
            ("SEVERE: Error filterStart", "tomcat-context-failed"),
            ("SEVERE: Error deploying web application directory [/var/lib/tomcat/webapps/lui]", "tomcat-deploy-exception"),
        ] {
            let got = ids(&set, line);
            assert!(got.contains(&want.to_string()), "{line}: {got:?}");
            let first = set.set.matches(line.as_bytes()).into_iter().find(|&i| {
                set.rules[i].kind == RuleKind::Finding && set.rules[i].severity == Severity::Critical
            });
            assert_eq!(first.map(|i| set.rules[i].id.as_str()), Some(want), "{line}");
        }
        // Not the database: a HUB on another port, a plain refusal.
        assert!(ids(
            &set,
            "Could not connect to the HUB at maestro.example.org:1099: Connection refused"
        )
        .iter()
        .all(|id| id != "db-unreachable"));
    }

    /// A refusal names the database only by its port (3306 as a port, not
    /// "3306 ms" nor 33060) or by the driver's own wording; the HUB's
    /// refusal is the HUB's.
    #[test]
    fn db_unreachable_is_about_the_database_only() {
        let set = RuleSet::compile(&built_in(), Pack::Maestro, Severity::Info).unwrap();
        for line in [
            "2026-11-26 08:00:00 ERROR [main] x - Cannot reach the HUB (host hub.example.org port 1099): Connection refused",
            "2026-11-26 08:00:00 ERROR [main] x - Connection refused (after 3306 ms)",
            "2026-11-26 08:00:00 ERROR [main] x - Connection refused: connect to 10.0.0.5:33060",
        ] {
            let got = ids(&set, line);
            assert!(!got.contains(&"db-unreachable".to_string()), "{line}: {got:?}");
        }
        let hub = ids(&set, "2026-11-26 08:00:00 ERROR [main] x - Cannot reach the HUB (host hub.example.org port 1099): Connection refused");
        assert!(hub.contains(&"hub-unreachable".to_string()), "{hub:?}");
        for line in [
            "Caused by: java.net.ConnectException: Connection refused (Connection refused) host 10.0.0.5 port 3306",
            "java.net.ConnectException: Connection refused: db.example.org:3306",
        ] {
            assert!(ids(&set, line).contains(&"db-unreachable".to_string()), "{line}");
        }
    }

    /// The markers: LISTSERV Maestro's start and readiness in so many
    /// words, not any component of it that starts.
    #[test]
    fn markers_name_listserv_maestro_itself() {
        let set = RuleSet::compile(&built_in(), Pack::Maestro, Severity::Info).unwrap();
        for (line, want) in [
            ("INFO Starting LISTSERV Maestro", Some("maestro-startup")),
            ("INFO Starting Maestro scheduler", None),
            ("ERROR Error while initializing Maestro", None),
            ("INFO Initializing LISTSERV Maestro", None),
            ("INFO org.apache.catalina.startup.Catalina.start Server startup in [2477] milliseconds", Some("maestro-ready")),
            ("INFO Server startup in 4000 ms", Some("maestro-ready")),
            ("INFO LISTSERV Maestro started", Some("maestro-ready")),
            ("INFO LISTSERV Maestro startup completed in 812 ms", Some("maestro-ready")),
            ("INFO LISTSERV Maestro startup completed for 3 of 4 parts", None),
            ("INFO Maestro scheduler started", None),
            ("INFO Maestro started the cleanup job", None),
        ] {
            let got: Vec<String> = ids(&set, line)
                .into_iter()
                .filter(|id| id == "maestro-startup" || id == "maestro-ready")
                .collect();
            assert_eq!(got.first().map(String::as_str), want, "{line}");
        }
    }

    #[test]
    fn a_warn_level_retry_is_a_warning() {
        use crate::level::Level;
        let rules = built_in();
        let r = rules.iter().find(|r| r.id == "db-unreachable").unwrap();
        assert_eq!(r.severity_at(Some(Level::Error)), Severity::Critical);
        assert_eq!(
            r.severity_at(None),
            Severity::Critical,
            "unknown level: full severity"
        );
        assert_eq!(r.severity_at(Some(Level::Warn)), Severity::Warning);
        assert_eq!(
            r.severity_at(Some(Level::Info)),
            Severity::Critical,
            "only WARN demotes: an INFO line with a stack under it is no retry"
        );
        let pool = rules.iter().find(|r| r.id == "db-pool-gave-up").unwrap();
        assert_eq!(pool.severity_at(Some(Level::Warn)), Severity::Critical);
        // A rule file can set it, and it never raises a severity.
        let mut rules = built_in();
        merge_text(
            &mut rules,
            "[[rule]]\nid = \"deadlock\"\nwarn_severity = \"critical\"\n",
            "x.toml",
        )
        .unwrap();
        let d = rules.iter().find(|r| r.id == "deadlock").unwrap();
        assert_eq!(d.severity_at(Some(Level::Warn)), Severity::Warning);
    }

    #[test]
    fn db_pack_classifies_real_mariadb_lines() {
        let set = RuleSet::compile(&built_in(), Pack::Db, Severity::Info).unwrap();
        let future = "2026-11-26  1:13:54 0 [ERROR] InnoDB: Page [page id: space=0, page number=7] log sequence number 204824 is in the future! Current system log sequence number 46606.";
        assert!(ids(&set, future).contains(&"innodb-lsn-future".to_string()));
        assert!(ids(&set, "2026-11-26  1:08:48 0 [Note] InnoDB: Starting crash recovery from checkpoint LSN=44880")
            .contains(&"innodb-crash-recovery".to_string()));
        assert!(ids(&set, "2026-11-26  1:08:45 0 [Note] Starting MariaDB 10.11.19-MariaDB-0+deb12u1 source revision 5843 server_uid zB2= as process 14707")
            .contains(&"db-startup".to_string()));
        assert!(ids(
            &set,
            "2026-11-26  1:08:46 0 [Note] /usr/sbin/mariadbd: ready for connections."
        )
        .contains(&"db-ready".to_string()));
        assert!(ids(
            &set,
            "2026-11-26  1:08:46 0 [Note] InnoDB: log sequence number 44864; transaction id 14"
        )
        .is_empty());
    }

    #[test]
    fn rule_files_override_and_add() {
        let mut rules = built_in();
        merge_text(
            &mut rules,
            "[[rule]]\nid = \"deadlock\"\nseverity = \"critical\"\n[[rule]]\nid = \"mine\"\nregex = \"FOO\\\\d+\"\nseverity = \"info\"\ndescription = \"foo\"\n[[rule]]\nid = \"error-level\"\nenabled = false\n",
            "x.toml",
        )
        .unwrap();
        let d = rules.iter().find(|r| r.id == "deadlock").unwrap();
        assert_eq!(d.severity, Severity::Critical);
        assert!(d.regex.contains("Deadlock"), "fields left out are kept");
        let m = rules.iter().find(|r| r.id == "mine").unwrap();
        assert_eq!(
            (m.pack, m.kind, m.severity),
            (Pack::Any, RuleKind::Finding, Severity::Info)
        );
        let set = RuleSet::compile(&rules, Pack::Db, Severity::Info).unwrap();
        assert!(set.rules.iter().any(|r| r.id == "mine"));
        let set = RuleSet::compile(&rules, Pack::Maestro, Severity::Warning).unwrap();
        assert!(!set
            .rules
            .iter()
            .any(|r| r.id == "mine" || r.id == "error-level"));
        assert!(
            set.rules.iter().any(|r| r.id == "maestro-startup"),
            "markers stay"
        );
    }

    #[test]
    fn bad_rule_files_say_what_is_wrong() {
        let mut rules = built_in();
        let e = merge_text(&mut rules, "[[rule]]\nid = \"new\"\n", "r.toml").unwrap_err();
        assert!(e.to_string().contains("needs a regex"), "{e}");
        let e =
            merge_text(&mut rules, "[[rule]]\nid = \"x\"\nregx = \"a\"\n", "r.toml").unwrap_err();
        assert!(
            e.to_string().contains("line 3") && e.to_string().contains("regx"),
            "{e}"
        );
        merge_text(
            &mut rules,
            "[[rule]]\nid = \"x\"\nregex = \"(\"\n",
            "r.toml",
        )
        .unwrap();
        let e = RuleSet::compile(&rules, Pack::Maestro, Severity::Info).unwrap_err();
        assert!(e.to_string().contains("rule `x`"), "{e}");
    }
}
