//! The command-line harness every tool's `main` goes through.
//!
//! As in ripgrep, `main` is thin and [`run`] returns the exit code. The
//! harness owns the rules that must be the same in every tool:
//! - usage errors exit 3 (UNKNOWN), not clap's 2, which would read as CRITICAL;
//! - `--help` and `--version` exit 0;
//! - errors become an UNKNOWN report, so a Nagios or JSON consumer reads
//!   an answer on stdout, and a diagnostic on stderr prefixed with the tool;
//! - what is written is masked and escaped ([`crate::safe_output`]): the
//!   report by [`crate::render::render`], diagnostics and clap's usage
//!   errors here;
//! - a broken pipe on stdout ends the run quietly;
//! - SIGINT exits 130, SIGTERM 143: a tool stopped by a signal returns the
//!   report of what it did so far, which is written, and the exit code is
//!   the signal's. [`ToolError::Interrupted`] ends the run without a
//!   report: for a run that has nothing to report, or no reader left.

use crate::config::{self, ConfigError, LoadedConfig};
use crate::render::{self, Format, RenderOptions, Verbosity};
use crate::report::{Check, Report};
use crate::signal;
use crate::status::Status;
use clap::error::ErrorKind;
use std::ffi::OsString;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// The flags every tool has, flattened into each tool's `Cli`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GlobalArgs {
    /// Configuration file [default: $MAESTRO_HA_CONFIG, else /etc/maestro-ha/config.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Override one configuration key, like site.install_root=/srv/maestro (repeatable)
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,

    /// Output format
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// State folder holding the catalog [default: $MAESTRO_HA_STATE_DIR, else /var/lib/maestro-ha for root, else $XDG_STATE_HOME/maestro-ha]
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Say less: only what is not OK, and the summary
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Say more: details, timings and perfdata (-vv: debug diagnostics)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// The exit codes, for every tool's `--help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes (monitoring-plugin convention):
  0  OK        the check holds; safe to proceed
  1  WARNING   it holds, with findings a person should read
  2  CRITICAL  it does not hold: unsafe to proceed
  3  UNKNOWN   could not decide (bad arguments, unreadable config, unreachable target)
  130, 143     stopped by SIGINT, SIGTERM (the report so far is written)";

/// `config` subcommands, the same in every tool.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ConfigCommand {
    /// Read and validate the configuration; errors name the file, line and key
    Check,
}

/// Why a run could not produce its report. Each maps to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The arguments do not make sense together (beyond what clap checks).
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("interrupted")]
    Interrupted,
    #[error("{0:#}")]
    Failed(#[from] anyhow::Error),
}

impl ToolError {
    pub fn exit_code(&self) -> u8 {
        match self {
            ToolError::Interrupted => signal::exit_code(),
            _ => Status::Unknown.exit_code(),
        }
    }
}

/// What a tool is, for the harness.
pub trait Tool: clap::Parser {
    /// The binary's name, `maestro-fence`.
    const NAME: &'static str;

    fn globals(&self) -> &GlobalArgs;

    /// Do the work and return the report; the harness renders it.
    fn run(self, ctx: &mut Context) -> Result<Report, ToolError>;
}

/// What a running tool may ask of the harness: its flags, the config
/// (loaded on first use), the state folder, diagnostics on stderr.
pub struct Context {
    pub tool: &'static str,
    pub globals: GlobalArgs,
    pub render: RenderOptions,
    config: Option<LoadedConfig>,
}

impl Context {
    pub fn new(tool: &'static str, globals: GlobalArgs) -> Context {
        let color = globals.format == Format::Text && color_wanted(io::stdout().is_terminal());
        let render = RenderOptions {
            color,
            verbosity: Verbosity::from_flags(globals.quiet, globals.verbose),
        };
        Context {
            tool,
            globals,
            render,
            config: None,
        }
    }

    /// The configuration, read once.
    pub fn config(&mut self) -> Result<&LoadedConfig, ToolError> {
        if self.config.is_none() {
            let loaded = config::load(self.globals.config.as_deref(), &self.globals.overrides)?;
            self.config = Some(loaded);
        }
        self.config
            .as_ref()
            .ok_or_else(|| ToolError::Usage("configuration not loaded".into()))
    }

    pub fn state_dir(&self) -> Result<PathBuf, ToolError> {
        crate::state::state_dir(self.globals.state_dir.as_deref())
            .map_err(|e| ToolError::Usage(e.to_string()))
    }

    /// A warning on stderr (not with -q).
    pub fn warn(&self, message: impl AsRef<str>) {
        if self.render.verbosity > Verbosity::Quiet {
            diagnostic(self.tool, "warning", message.as_ref());
        }
    }

    /// A note on stderr with -v.
    pub fn info(&self, message: impl AsRef<str>) {
        if self.render.verbosity >= Verbosity::Verbose {
            diagnostic(self.tool, "info", message.as_ref());
        }
    }
}

/// Colour on a terminal, unless NO_COLOR is set (https://no-color.org) or TERM is dumb.
pub fn color_wanted(stdout_is_tty: bool) -> bool {
    stdout_is_tty
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
}

/// A line on stderr: secrets masked, control characters escaped, like
/// everything else a tool prints.
pub fn diagnostic(tool: &str, level: &str, message: &str) {
    let message = crate::safe_output::printable(message);
    // stderr going away is no reason to fail; there is nobody left to tell.
    let _ = writeln!(io::stderr().lock(), "{tool}: {level}: {message}");
}

/// The entry point of every binary: `fn main() -> ExitCode { maestro_common::cli::main::<Cli>() }`.
pub fn main<T: Tool>() -> ExitCode {
    ExitCode::from(run::<T, _, _>(std::env::args_os()))
}

/// Parse `args`, run the tool, render, and return the exit code.
pub fn run<T, I, A>(args: I) -> u8
where
    T: Tool,
    I: IntoIterator<Item = A>,
    A: Into<OsString> + Clone,
{
    signal::install();
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let cli = match T::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return usage_error::<T>(e, &args),
    };
    let mut ctx = Context::new(T::NAME, cli.globals().clone());
    let format = ctx.globals.format;
    let code = match cli.run(&mut ctx) {
        Ok(mut report) => {
            report.finish();
            emit(&report, format, ctx.render)
        }
        Err(ToolError::Interrupted) => signal::exit_code(),
        Err(e) => {
            diagnostic(T::NAME, "error", &e.to_string());
            let code = e.exit_code();
            if format != Format::Text {
                let mut report = Report::new(T::NAME, None);
                report.push(Check::new("error", Status::Unknown, e.to_string()));
                report.finish();
                emit(&report, format, ctx.render);
            }
            code
        }
    };
    if signal::interrupted() {
        return signal::exit_code();
    }
    code
}

/// Render to stdout (masked by the renderer); a reader that went away ends
/// the run quietly.
fn emit(report: &Report, format: Format, opts: RenderOptions) -> u8 {
    let status = report.status();
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    match render::render(report, format, opts, &mut out) {
        Ok(()) => status.exit_code(),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => status.exit_code(),
        Err(e) => {
            diagnostic(
                &report.tool,
                "error",
                &format!("cannot write the report: {e}"),
            );
            status.worst(Status::Unknown).exit_code()
        }
    }
}

/// Clap's errors: help and version go to stdout with exit 0; everything
/// else is a usage error, exit 3 (UNKNOWN) rather than clap's 2 (CRITICAL).
fn usage_error<T: Tool>(e: clap::Error, args: &[OsString]) -> u8 {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            // A closed stdout (`--help | head -1`) is not an error.
            let _ = e.print();
            0
        }
        _ => {
            // clap quotes the value it refused, which may be a URL with a
            // password or a secret given where it does not belong.
            let text = crate::safe_output::printable_lines(&e.render().to_string());
            let _ = io::stderr().lock().write_all(text.as_bytes());
            let format = format_from_args(args);
            if format != Format::Text {
                let first = crate::safe_output::mask_secrets(&e.to_string()).into_owned();
                let first = first
                    .lines()
                    .next()
                    .unwrap_or("usage error")
                    .trim_start_matches("error: ");
                let mut report = Report::new(T::NAME, None);
                report.push(Check::new(
                    "usage",
                    Status::Unknown,
                    format!("usage error: {first}"),
                ));
                report.finish();
                emit(&report, format, RenderOptions::default());
            }
            Status::Unknown.exit_code()
        }
    }
}

/// The `--format` the user asked for, read from raw args: when parsing
/// failed, a Nagios consumer must still get its one status line.
fn format_from_args(args: &[OsString]) -> Format {
    let mut wanted = Format::Text;
    let mut iter = args.iter().map(|a| a.to_string_lossy());
    while let Some(arg) = iter.next() {
        let value = if arg == "--format" {
            iter.next().map(|v| v.into_owned())
        } else {
            arg.strip_prefix("--format=").map(str::to_string)
        };
        match value.as_deref() {
            Some("json") => wanted = Format::Json,
            Some("nagios") => wanted = Format::Nagios,
            Some("text") => wanted = Format::Text,
            _ => {}
        }
    }
    wanted
}

/// The site layout the `[site]` section resolves to: an error there names the key.
fn site_check(site: &crate::site::SiteConfig) -> Check {
    use crate::site::{Component, SiteLayout};
    match SiteLayout::resolve(site) {
        Err(e) => Check::new("site", Status::Critical, e.to_string()),
        Ok(layout) => {
            let today = chrono::Local::now().date_naive();
            let mut c = Check::ok(
                "site",
                format!(
                    "Maestro at {} ({} layout, {} paths)",
                    layout.install_root(),
                    layout.profile().as_str(),
                    layout.style().as_str()
                ),
            );
            for comp in Component::ALL {
                c = c.detail(
                    format!("{}_home", comp.as_str()),
                    layout.home(comp).to_string(),
                );
                c = c.detail(
                    format!("{}_log", comp.as_str()),
                    layout.log_file_for(comp, today).to_string(),
                );
            }
            c.detail("db_data_dir", layout.db_data_dir().to_string())
        }
    }
}

/// `config check`: read and validate the configuration, and say what it
/// resolves to. Shared by every tool.
pub fn config_check(ctx: &mut Context) -> Result<Report, ToolError> {
    config_check_with(ctx, |_| Vec::new())
}

/// [`config_check`] with the checks of the tool's own resolution: the tool
/// passes the same function a real run resolves its settings with, so that
/// `config check` passes only for a configuration the tool can run with.
pub fn config_check_with(
    ctx: &mut Context,
    tool_checks: impl FnOnce(&LoadedConfig) -> Vec<Check>,
) -> Result<Report, ToolError> {
    let state_dir = ctx.state_dir();
    let loaded = ctx.config()?.clone();
    let mut report = Report::new(ctx.tool, Some("config check"));
    let file = if loaded.file_found {
        format!("{} (from {})", loaded.path.display(), loaded.source)
    } else {
        format!("{} not found; built-in defaults", loaded.path.display())
    };
    let mut c = Check::ok("config", format!("valid: {file}"))
        .detail("path", loaded.path.display().to_string());
    if !loaded.overrides.is_empty() {
        // The keys only: `--set` may (wrongly) carry a secret.
        c = c.detail("overrides", loaded.override_keys().join(" "));
    }
    report.push(c);
    report.push(site_check(&loaded.config.site));
    for (role, host) in [
        ("primary", &loaded.config.primary),
        ("failover", &loaded.config.failover),
    ] {
        let Some(h) = host else {
            report.push(Check::ok(role, format!("[{role}] not configured")));
            continue;
        };
        let mut c = Check::ok(role, format!("{}@{}:{}", h.user, h.host, h.port))
            .detail("known_hosts", h.known_hosts_path().display().to_string())
            .detail("connect_timeout_s", h.connect_timeout().as_secs_f64());
        if let Some(key) = &h.identity_file {
            c = c.detail("identity_file", key.display().to_string());
            match std::fs::metadata(key) {
                Err(e) => {
                    c.status = Status::Critical;
                    c.message = format!("identity file {}: {e}", key.display());
                }
                Ok(_) => {
                    if let Some(w) = crate::secret::world_readable_warning(key) {
                        c.status = Status::Warning;
                        c.message = w;
                    }
                }
            }
        }
        report.push(c);
    }
    match state_dir {
        Ok(dir) => report.push(Check::ok(
            "state",
            format!("state folder {}", dir.display()),
        )),
        Err(e) => report.push(Check::new("state", Status::Unknown, e.to_string())),
    }
    for check in tool_checks(&loaded) {
        report.push(check);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_is_found_in_raw_args() {
        let a = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            format_from_args(&a(&["t", "--format", "nagios", "--bogus"])),
            Format::Nagios
        );
        assert_eq!(format_from_args(&a(&["t", "--format=json"])), Format::Json);
        assert_eq!(format_from_args(&a(&["t", "--bogus"])), Format::Text);
        assert_eq!(format_from_args(&a(&["t", "--format"])), Format::Text);
    }

    #[test]
    fn errors_are_unknown_and_interruption_is_130() {
        assert_eq!(ToolError::Usage("x".into()).exit_code(), 3);
        assert_eq!(ToolError::Failed(anyhow::anyhow!("x")).exit_code(), 3);
        assert_eq!(ToolError::Interrupted.exit_code(), 130);
    }
}
