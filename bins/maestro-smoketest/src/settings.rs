//! What a run uses: the flags over the `[smoketest]` section over the
//! built-in defaults. Secrets are named (a file or an environment
//! variable), never given on the command line.

use crate::config::SmoketestConfig;
use crate::mailbox::MailboxSpec;
use crate::message::{url_authority_with_userinfo as authority, url_host};
use clap::Args;
use maestro_common::duration::parse_duration;
use maestro_common::secret::SecretRef;
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_SUBJECT: &str = "maestro-ha smoke test";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
pub const DEFAULT_REPORT_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_IO_TIMEOUT: Duration = Duration::from_secs(10);
/// The LISTSERV SMTP listener's port when `--smtp` names no port.
pub const SMTP_PORT: u16 = 25;

#[derive(Debug, Clone, Default, Args)]
pub struct SmokeArgs {
    /// Maestro's trigger URL without the token, like https://maestro.example.org/lui/externalAction.do [default: [smoketest] trigger_url]
    #[arg(long, value_name = "URL", help_heading = "Trigger")]
    pub trigger_url: Option<String>,
    /// File holding the trigger token
    #[arg(long, value_name = "PATH", help_heading = "Trigger")]
    pub trigger_token_file: Option<PathBuf>,
    /// Environment variable holding the trigger token
    #[arg(
        long,
        value_name = "VAR",
        help_heading = "Trigger",
        conflicts_with = "trigger_token_file"
    )]
    pub trigger_token_env: Option<String>,
    /// Do not trigger: a person sent the test mailing (it must have arrived within --since)
    #[arg(long, help_heading = "Trigger", conflicts_with = "trigger_url")]
    pub no_trigger: bool,
    /// With --no-trigger: how old the test message may be
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1h", help_heading = "Trigger")]
    pub since: Duration,

    /// Seed mailbox: imaps://USER@HOST[:993]/FOLDER, imap://USER@HOST[:143]/FOLDER (STARTTLS required) or maildir:/PATH [default: [smoketest] mailbox]
    #[arg(long, value_name = "URL", help_heading = "Deliver")]
    pub mailbox: Option<String>,
    /// File holding the IMAP password
    #[arg(long, value_name = "PATH", help_heading = "Deliver")]
    pub password_file: Option<PathBuf>,
    /// Environment variable holding the IMAP password
    #[arg(
        long,
        value_name = "VAR",
        help_heading = "Deliver",
        conflicts_with = "password_file"
    )]
    pub password_env: Option<String>,
    /// Allow imap:// without STARTTLS: the password crosses the network in clear. Only for loopback test servers
    #[arg(long, help_heading = "Deliver")]
    pub insecure_plain: bool,
    /// PEM file of CA certificates to trust for IMAPS/STARTTLS besides the built-in roots
    #[arg(long, value_name = "PATH", help_heading = "Deliver")]
    pub ca_file: Option<PathBuf>,
    /// Folder where a copy counts as junk [default: the \Junk folder, else Junk or Spam]
    #[arg(long, value_name = "NAME", help_heading = "Deliver")]
    pub junk_folder: Option<String>,
    /// The test message's subject contains this [default: "maestro-ha smoke test"]
    #[arg(long, value_name = "TEXT", help_heading = "Deliver")]
    pub subject: Option<String>,
    /// The test message contains this marker (instead of matching the subject)
    #[arg(long, value_name = "TEXT", help_heading = "Deliver")]
    pub marker: Option<String>,
    /// How long to wait for the test message [default: 120s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Deliver")]
    pub timeout: Option<Duration>,
    /// Leave the test message in the mailbox
    #[arg(long, help_heading = "Deliver")]
    pub keep: bool,
    /// Read the test message from this file (`-`: stdin) instead of a mailbox; no trigger
    #[arg(long, value_name = "PATH", help_heading = "Deliver", conflicts_with_all = ["mailbox", "trigger_url"])]
    pub message: Option<PathBuf>,

    /// Tracker HOST or HOST:PORT the links must point to [default: any /trk/click?ref= link]
    #[arg(long, value_name = "HOST[:PORT]", help_heading = "Click")]
    pub tracker_host: Option<String>,
    /// An address of this server the tracker host name may resolve to (repeatable) [default: this machine's interface addresses]
    #[arg(
        long = "server-address",
        value_name = "ADDRESS",
        help_heading = "Click"
    )]
    pub server_addresses: Vec<String>,
    /// Where the tracker must redirect to (repeatable: any one of them)
    #[arg(long = "expect-target", value_name = "URL", help_heading = "Click")]
    pub expect_targets: Vec<String>,

    /// Maestro's report export URL without the token (confirms that clicks and bounces were counted)
    #[arg(long, value_name = "URL", help_heading = "Report")]
    pub report_url: Option<String>,
    /// File holding the report export token
    #[arg(long, value_name = "PATH", help_heading = "Report")]
    pub report_token_file: Option<PathBuf>,
    /// Environment variable holding the report export token
    #[arg(
        long,
        value_name = "VAR",
        help_heading = "Report",
        conflicts_with = "report_token_file"
    )]
    pub report_token_env: Option<String>,
    /// How long to wait for the report to count a click or a bounce [default: 60s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = "Report")]
    pub report_timeout: Option<Duration>,

    /// LISTSERV's SMTP listener for the bounce, HOST:PORT [default: the trigger URL's host, port 25]
    #[arg(long, value_name = "HOST:PORT", help_heading = "Bounce")]
    pub smtp: Option<String>,
    /// The seed address the bounce reports as failed [default: the test message's recipient]
    #[arg(long, value_name = "ADDRESS", help_heading = "Bounce")]
    pub bounce_recipient: Option<String>,

    /// Bound on every single network step (HTTP request, SMTP session, IMAP command) [default: 10s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub io_timeout: Option<Duration>,
}

/// How the test message is recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    Subject(String),
    Marker(String),
}

impl Matcher {
    pub fn describe(&self) -> String {
        match self {
            Matcher::Subject(s) => format!("subject containing {s:?}"),
            Matcher::Marker(m) => format!("marker {m:?}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Trigger {
    pub url: String,
    pub token: SecretRef,
}

#[derive(Debug, Clone)]
pub struct ReportSource {
    pub url: String,
    pub token: SecretRef,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub enum MessageSource {
    Mailbox {
        spec: MailboxSpec,
        password: Option<SecretRef>,
    },
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub trigger: Option<Trigger>,
    pub since: Duration,
    pub source: MessageSource,
    pub insecure_plain: bool,
    pub ca_file: Option<PathBuf>,
    pub junk_folder: Option<String>,
    pub matcher: Matcher,
    pub timeout: Duration,
    pub keep: bool,
    pub tracker_host: Option<String>,
    pub server_addresses: Vec<String>,
    pub expect_targets: Vec<String>,
    pub report: Option<ReportSource>,
    pub smtp: Option<(String, u16)>,
    pub bounce_recipient: Option<String>,
    pub io_timeout: Duration,
}

fn secret(
    file: &Option<PathBuf>,
    env: &Option<String>,
    config: &Option<SecretRef>,
) -> Option<SecretRef> {
    match (file, env) {
        (Some(f), _) => Some(SecretRef::File(f.clone())),
        (None, Some(e)) => Some(SecretRef::Env(e.clone())),
        (None, None) => config.clone(),
    }
}

/// `HOST:PORT`, `[V6]:PORT` or `HOST` (port 25).
pub fn parse_host_port(word: &str, default_port: u16) -> Result<(String, u16), String> {
    let word = word.trim();
    if let Some(rest) = word.strip_prefix('[') {
        let (host, tail) = rest
            .split_once(']')
            .ok_or_else(|| format!("{word:?}: unclosed ["))?;
        let port = match tail.strip_prefix(':') {
            Some(p) => p
                .parse()
                .map_err(|_| format!("{word:?}: {p:?} is not a port"))?,
            None if tail.is_empty() => default_port,
            None => return Err(format!("{word:?}: expected [ADDRESS]:PORT")),
        };
        return Ok((host.to_string(), port));
    }
    match word.rsplit_once(':') {
        Some((h, _)) if h.contains(':') => Ok((word.to_string(), default_port)),
        Some((h, p)) if !h.is_empty() => {
            let port: u16 = p
                .parse()
                .map_err(|_| format!("{word:?}: {p:?} is not a port"))?;
            if port == 0 {
                return Err(format!("{word:?}: port 0"));
            }
            Ok((h.to_string(), port))
        }
        Some(_) => Err(format!("{word:?}: no host")),
        None if word.is_empty() => Err("empty host".into()),
        None => Ok((word.to_string(), default_port)),
    }
}

/// `url` as it may be printed: the password of its user-info (if any) as `***`.
pub fn shown_url(url: &str) -> String {
    let Some(a) = authority(url) else {
        return url.to_string();
    };
    match a.rsplit_once('@') {
        Some((info, host)) if info.contains(':') => {
            let user = info.split_once(':').map_or(info, |(u, _)| u);
            url.replacen(
                a,
                &format!("{user}:{}@{host}", maestro_common::safe_output::MASK),
                1,
            )
        }
        _ => url.to_string(),
    }
}

/// An http(s) URL whose token comes separately: a `user:password@` in it
/// is refused (it would show in `ps`, logs and every report), and so is a
/// bare `user@` (Maestro's trigger and report export know no user).
fn check_http_url(what: &str, url: &str, secret_flags: &str) -> Result<(), String> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!(
            "{what} {:?}: must start with http:// or https://",
            shown_url(url)
        ));
    }
    if authority(url).is_some_and(|a| a.contains('@')) {
        return Err(format!(
            "{what} {:?}: a user name or password may not be written in the URL (it would show in ps, logs and reports); Maestro authorizes the request by its token alone: give it with {secret_flags}",
            shown_url(url)
        ));
    }
    Ok(())
}

pub fn resolve(
    args: &SmokeArgs,
    c: &SmoketestConfig,
    wants_bounce: bool,
) -> Result<Settings, String> {
    let trigger_url = if args.no_trigger || args.message.is_some() {
        None
    } else {
        args.trigger_url.clone().or_else(|| c.trigger_url.clone())
    };
    let trigger = match trigger_url {
        None => {
            if !args.no_trigger && args.message.is_none() {
                return Err("no trigger URL: give --trigger-url (or [smoketest] trigger_url), or --no-trigger when a person sends the test mailing".into());
            }
            None
        }
        Some(url) => {
            check_http_url(
                "the trigger URL",
                &url,
                "--trigger-token-file PATH, --trigger-token-env VAR or [smoketest] trigger_token = { file = \"PATH\" }",
            )?;
            if url.contains("token=") {
                return Err("the trigger URL must not carry the token (it would show in ps and logs); give it with --trigger-token-file or --trigger-token-env".into());
            }
            let token = secret(&args.trigger_token_file, &args.trigger_token_env, &c.trigger_token)
                .ok_or("the trigger needs its token: --trigger-token-file PATH, --trigger-token-env VAR or [smoketest] trigger_token")?;
            Some(Trigger { url, token })
        }
    };
    let source = match &args.message {
        Some(p) => MessageSource::File(p.clone()),
        None => {
            let url = args
                .mailbox
                .clone()
                .or_else(|| c.mailbox.clone())
                .ok_or("no seed mailbox: give --mailbox (imaps://user@host/INBOX, imap://..., maildir:/path), [smoketest] mailbox, or --message FILE")?;
            let spec = MailboxSpec::parse(&url)?;
            let password = secret(&args.password_file, &args.password_env, &c.mailbox_password);
            if spec.is_imap() && password.is_none() {
                return Err("the IMAP mailbox needs a password: --password-file PATH, --password-env VAR or [smoketest] mailbox_password".into());
            }
            MessageSource::Mailbox { spec, password }
        }
    };
    let matcher = match (args.marker.clone(), args.subject.clone()) {
        (Some(m), _) => Matcher::Marker(m),
        (None, Some(s)) => Matcher::Subject(s),
        (None, None) => match (c.marker.clone(), c.subject.clone()) {
            (Some(m), _) => Matcher::Marker(m),
            (None, s) => Matcher::Subject(s.unwrap_or_else(|| DEFAULT_SUBJECT.to_string())),
        },
    };
    if matches!(&matcher, Matcher::Marker(m) | Matcher::Subject(m) if m.trim().is_empty()) {
        return Err("the subject or marker to match is empty".into());
    }
    let report = match args.report_url.clone().or_else(|| c.report_url.clone()) {
        None => None,
        Some(url) => {
            check_http_url(
                "the report URL",
                &url,
                "--report-token-file PATH, --report-token-env VAR or [smoketest] report_token = { file = \"PATH\" }",
            )?;
            if url.contains("token=") {
                return Err("the report URL must not carry the token; give it with --report-token-file or --report-token-env".into());
            }
            let token = secret(&args.report_token_file, &args.report_token_env, &c.report_token)
                .ok_or("the report URL needs its token: --report-token-file PATH, --report-token-env VAR or [smoketest] report_token")?;
            Some(ReportSource {
                url,
                token,
                timeout: args
                    .report_timeout
                    .or(c.report_timeout.map(|d| d.0))
                    .unwrap_or(DEFAULT_REPORT_TIMEOUT),
            })
        }
    };
    let smtp = match args.smtp.clone().or_else(|| c.smtp.clone()) {
        Some(s) => Some(parse_host_port(&s, SMTP_PORT).map_err(|e| format!("--smtp {e}"))?),
        None => trigger
            .as_ref()
            .and_then(|t| url_host(&t.url))
            .map(|h| (h, SMTP_PORT)),
    };
    if wants_bounce && smtp.is_none() {
        return Err("bounce: no SMTP listener: give --smtp HOST:PORT (or [smoketest] smtp)".into());
    }
    let tracker_host = args.tracker_host.clone().or_else(|| c.tracker_host.clone());
    Ok(Settings {
        trigger,
        since: args.since,
        source,
        insecure_plain: args.insecure_plain,
        ca_file: args.ca_file.clone().or_else(|| c.ca_file.clone()),
        junk_folder: args.junk_folder.clone().or_else(|| c.junk_folder.clone()),
        matcher,
        timeout: args
            .timeout
            .or(c.timeout.map(|d| d.0))
            .unwrap_or(DEFAULT_TIMEOUT),
        keep: args.keep || c.keep.unwrap_or(false),
        tracker_host,
        server_addresses: if args.server_addresses.is_empty() {
            c.server_addresses.clone()
        } else {
            args.server_addresses.clone()
        },
        expect_targets: if args.expect_targets.is_empty() {
            c.expect_targets.clone()
        } else {
            args.expect_targets.clone()
        },
        report,
        smtp,
        bounce_recipient: args
            .bounce_recipient
            .clone()
            .or_else(|| c.bounce_recipient.clone()),
        io_timeout: args
            .io_timeout
            .or(c.io_timeout.map(|d| d.0))
            .unwrap_or(DEFAULT_IO_TIMEOUT),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(parse_host_port("mx:2525", 25).unwrap(), ("mx".into(), 2525));
        assert_eq!(parse_host_port("mx", 25).unwrap(), ("mx".into(), 25));
        assert_eq!(parse_host_port("[::1]:26", 25).unwrap(), ("::1".into(), 26));
        assert_eq!(parse_host_port("::1", 25).unwrap(), ("::1".into(), 25));
        assert!(parse_host_port("mx:x", 25).is_err());
        assert!(parse_host_port(":25", 25).is_err());
        assert!(parse_host_port("mx:0", 25).is_err());
    }

    #[test]
    fn smtp_defaults_to_the_trigger_host() {
        assert_eq!(
            url_host("https://maestro.example.org:8443/lui/x").as_deref(),
            Some("maestro.example.org")
        );
        let args = SmokeArgs {
            trigger_url: Some("http://m.example/lui/externalAction.do".into()),
            trigger_token_env: Some("T".into()),
            mailbox: Some("maildir:/tmp/x".into()),
            ..SmokeArgs::default()
        };
        let s = resolve(&args, &SmoketestConfig::default(), true).unwrap();
        assert_eq!(s.smtp, Some(("m.example".into(), 25)));
        assert_eq!(s.matcher, Matcher::Subject(DEFAULT_SUBJECT.into()));
    }

    #[test]
    fn tokens_in_urls_and_missing_secrets_are_refused() {
        let mut args = SmokeArgs {
            trigger_url: Some("http://m/lui/externalAction.do?token=abc".into()),
            trigger_token_env: Some("T".into()),
            mailbox: Some("maildir:/tmp/x".into()),
            ..SmokeArgs::default()
        };
        let e = resolve(&args, &SmoketestConfig::default(), false).unwrap_err();
        assert!(
            e.contains("must not carry the token") && !e.contains("abc"),
            "{e}"
        );
        args.trigger_url = Some("http://m/lui/externalAction.do".into());
        args.trigger_token_env = None;
        let e = resolve(&args, &SmoketestConfig::default(), false).unwrap_err();
        assert!(e.contains("needs its token"), "{e}");
        let args = SmokeArgs {
            no_trigger: true,
            mailbox: Some("imaps://seed@mx.example/INBOX".into()),
            ..SmokeArgs::default()
        };
        let e = resolve(&args, &SmoketestConfig::default(), false).unwrap_err();
        assert!(e.contains("needs a password"), "{e}");
        let args = SmokeArgs {
            mailbox: Some("maildir:/x".into()),
            ..SmokeArgs::default()
        };
        let e = resolve(&args, &SmoketestConfig::default(), false).unwrap_err();
        assert!(e.contains("--no-trigger"), "{e}");
    }

    #[test]
    fn user_info_in_http_urls_is_refused_without_echoing_the_password() {
        assert_eq!(
            shown_url("http://u:pw-9x@m.example:81/lui/x"),
            "http://u:***@m.example:81/lui/x"
        );
        assert_eq!(shown_url("http://m.example/x@y"), "http://m.example/x@y");
        for (trigger, report) in [
            (Some("http://u:pw-9x@m.example/lui/externalAction.do"), None),
            (Some("https://u@m.example/lui/externalAction.do"), None),
            (None, Some("http://u:pw-9x@m.example/lui/externalAction.do")),
        ] {
            let args = SmokeArgs {
                trigger_url: trigger.map(str::to_string),
                no_trigger: trigger.is_none(),
                trigger_token_env: Some("T".into()),
                report_url: report.map(str::to_string),
                report_token_env: Some("R".into()),
                mailbox: Some("maildir:/tmp/x".into()),
                ..SmokeArgs::default()
            };
            let e = resolve(&args, &SmoketestConfig::default(), false).unwrap_err();
            assert!(e.contains("may not be written in the URL"), "{e}");
            assert!(e.contains("-token-file PATH"), "{e}");
            assert!(!e.contains("pw-9x"), "{e}");
        }
        let e = MailboxSpec::parse("imap://seed:pw-9x@mx.example/INBOX").unwrap_err();
        assert!(!e.contains("pw-9x") && e.contains("--password-file"), "{e}");
    }
}
