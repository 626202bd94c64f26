//! One run: get the test message (trigger + deliver, or a file), then the
//! click and bounce checks on it, then remove it. Each step is a check
//! with its timings as perfdata; a step that could not run because an
//! earlier one failed is UNKNOWN and says which one.

use crate::bounce::{self, Dsn};
use crate::click;
use crate::config::SmoketestConfig;
use crate::dns;
use crate::http;
use crate::mailbox::{
    self, Found, ImapMailbox, ImapOptions, Mailbox, MailboxError, MailboxSpec, MaildirMailbox,
    Wanted,
};
use crate::message::{self, TestMessage};
use crate::report_export::{self, Counter};
use crate::settings::{self, MessageSource, Settings, SmokeArgs};
use crate::Steps;
use maestro_common::cli::{Context, ToolError};
use maestro_common::perfdata::{Perfdata, Range};
use maestro_common::report::{Check, Finding, Report};
use maestro_common::secret::{Secret, SecretRef};
use maestro_common::{signal, Status};
use std::time::{Duration, Instant, SystemTime};

fn load_secret(ctx: &Context, what: &str, r: &SecretRef) -> Result<Secret, ToolError> {
    let mut warnings = Vec::new();
    let s = r
        .load(&mut |w| warnings.push(w))
        .map_err(|e| ToolError::Usage(format!("{what}: {e}")))?;
    for w in warnings {
        ctx.warn(w);
    }
    Ok(s)
}

/// The secrets a run reads before it sends anything, by what they are for.
fn secret_refs(s: &Settings) -> Vec<(&'static str, &SecretRef)> {
    let mut refs = Vec::new();
    if let Some(t) = &s.trigger {
        refs.push(("trigger token", &t.token));
    }
    if let Some(r) = &s.report {
        refs.push(("report token", &r.token));
    }
    if let MessageSource::Mailbox {
        password: Some(p), ..
    } = &s.source
    {
        refs.push(("IMAP password", p));
    }
    refs
}

/// `config check`: the `[smoketest]` section resolved as `maestro-smoketest
/// all` resolves it with no flags (without a trigger URL as `--no-trigger`,
/// without an SMTP listener as `deliver`), and its secrets read; so the
/// check passes only when such a run can start.
pub fn config_check(c: &SmoketestConfig) -> Check {
    if *c == SmoketestConfig::default() {
        return Check::ok(
            "smoketest",
            "[smoketest] not configured: a run takes every setting from its flags",
        );
    }
    let args = SmokeArgs {
        no_trigger: c.trigger_url.is_none(),
        ..SmokeArgs::default()
    };
    let wants_bounce = c.smtp.is_some();
    let s = match settings::resolve(&args, c, wants_bounce) {
        Ok(s) => s,
        Err(e) => return Check::new("smoketest", Status::Critical, format!("[smoketest]: {e}")),
    };
    let mut check = Check::ok("smoketest", "");
    let mut problems = Vec::new();
    for (what, r) in secret_refs(&s) {
        let mut warnings = Vec::new();
        match r.load(&mut |w| warnings.push(w)) {
            Ok(_) => {}
            Err(e) => problems.push(format!("{what} ({}): {e}", r.describe())),
        }
        for w in warnings {
            check.add_finding(Finding::new(Status::Warning, "secret-readable", w));
        }
    }
    if !problems.is_empty() {
        return Check::new("smoketest", Status::Critical, problems.join("; "));
    }
    let source = match &s.source {
        MessageSource::Mailbox { spec, .. } => spec.describe(),
        MessageSource::File(p) => p.display().to_string(),
    };
    check.message = match check.findings.first() {
        Some(f) => f.message.clone(),
        None => format!(
            "{} into {source}{}",
            match &s.trigger {
                Some(t) => format!("trigger {}", t.url),
                None => "no trigger (a person sends the test mailing)".into(),
            },
            match &s.smtp {
                Some((h, p)) => format!(", bounce through {h}:{p}"),
                None => String::new(),
            }
        ),
    };
    check
        .detail("mailbox", source)
        .detail("timeout_s", s.timeout.as_secs_f64())
        .detail("io_timeout_s", s.io_timeout.as_secs_f64())
}

/// stdin as the test message: at most `limit` bytes, within `timeout` (a
/// pipe whose writer never ends or never closes must not hold the run).
fn read_stdin(limit: u64, timeout: Duration) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let (tx, rx) = std::sync::mpsc::channel();
    // The reader thread is left behind on a timeout; the process ends soon after.
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let r = std::io::stdin()
            .lock()
            .take(limit + 1)
            .read_to_end(&mut buf)
            .map(|_| buf);
        let _ = tx.send(r);
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(buf)) if buf.len() as u64 > limit => Err(format!(
            "larger than {} (refused: a test message is never that big)",
            maestro_common::fsio::size_text(limit)
        )),
        Ok(Ok(buf)) => Ok(buf),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "stdin did not end within {}",
            maestro_common::bounded_io::seconds_text(timeout)
        )),
    }
}

/// Where the SMTP listener's name points when that is not this server
/// (`--server-address`, else this machine's interfaces): a relay or a proxy
/// that takes the DSN proves nothing about LISTSERV here. None when it is
/// this server, or when that cannot be told.
fn smtp_elsewhere(s: &Settings, host: &str) -> Option<String> {
    let ours = dns::server_addresses(&s.server_addresses, s.io_timeout).ok()?;
    let v = dns::compare(dns::resolve(host, s.io_timeout).ok()?, &ours);
    (!v.elsewhere.is_empty()).then(|| format!("{host} resolves to {}", dns::join(&v.elsewhere)))
}

/// The most tracker links requested in one run.
const MAX_LINKS: usize = 20;

/// Why a step did not run after a SIGTERM or SIGINT.
const STOPPED: &str = "the run was stopped by a signal";

fn not_run(name: &str, why: &str) -> Check {
    Check::new(name, Status::Unknown, format!("not run: {why}"))
}

/// The test message as obtained, with the open mailbox to remove it from.
struct Obtained {
    raw: Vec<u8>,
    found: Option<Found>,
    mailbox: Option<Box<dyn Mailbox>>,
}

pub fn run(ctx: &mut Context, steps: Steps, args: &SmokeArgs) -> Result<Report, ToolError> {
    let config: SmoketestConfig = ctx.config()?.section(crate::config::SECTION.name)?;
    let s = settings::resolve(args, &config, steps.bounce()).map_err(ToolError::Usage)?;
    // Every secret is read before anything is sent: a missing one stops the run cleanly.
    let trigger_token = match &s.trigger {
        Some(t) => Some(load_secret(ctx, "trigger token", &t.token)?),
        None => None,
    };
    let report_token = match &s.report {
        Some(r) => Some(load_secret(ctx, "report token", &r.token)?),
        None => None,
    };
    let password = match &s.source {
        MessageSource::Mailbox {
            password: Some(p), ..
        } => Some(load_secret(ctx, "IMAP password", p)?),
        _ => None,
    };
    let mut report = Report::new(ctx.tool, Some(steps.name()));
    let started = Instant::now();

    let obtained = obtain(
        ctx,
        &s,
        trigger_token.as_ref(),
        password.as_ref(),
        &mut report,
    )?;
    let Some(mut obtained) = obtained else {
        let why = if signal::interrupted() {
            STOPPED
        } else {
            "no test message (see deliver)"
        };
        if steps.click() {
            report.push(not_run("click", why));
        }
        if steps.bounce() {
            report.push(not_run("bounce", why));
        }
        return Ok(finish(report, started));
    };

    let parsed = TestMessage::parse(&obtained.raw);
    if steps.click() {
        match &parsed {
            Ok(m) => click_checks(ctx, &s, m, report_token.as_ref(), &mut report),
            Err(e) => report.push(Check::new(
                "click",
                Status::Critical,
                format!("cannot read the test message: {e}"),
            )),
        }
    }
    if steps.bounce() && signal::interrupted() {
        // No bounce is sent once the run is told to stop.
        report.push(not_run("bounce", STOPPED));
    } else if steps.bounce() {
        match &parsed {
            Ok(m) => bounce_checks(&s, m, report_token.as_ref(), &mut report),
            Err(e) => report.push(Check::new(
                "bounce",
                Status::Critical,
                format!("cannot read the test message: {e}"),
            )),
        }
    }
    if let (Some(found), Some(mb)) = (&obtained.found, obtained.mailbox.as_mut()) {
        if s.keep {
            report.push(Check::ok(
                "cleanup",
                format!("kept the test message in {} (--keep)", found.folder),
            ));
        } else {
            match mb.remove(found) {
                Ok(()) => report.push(Check::ok(
                    "cleanup",
                    format!("removed the test message from {}", found.folder),
                )),
                Err(e) => report.push(Check::new(
                    "cleanup",
                    Status::Warning,
                    format!("the test message stays in {}: {e}", found.folder),
                )),
            }
        }
        mb.close();
    }
    Ok(finish(report, started))
}

fn finish(mut report: Report, started: Instant) -> Report {
    if let Some(last) = report.checks.last_mut() {
        last.perfdata
            .push(Perfdata::seconds("total_time", started.elapsed()));
    }
    report
}

fn open_mailbox(
    s: &Settings,
    spec: &MailboxSpec,
    password: Option<&Secret>,
) -> Result<Box<dyn Mailbox>, MailboxError> {
    match spec {
        MailboxSpec::Maildir(p) => Ok(Box::new(MaildirMailbox::open(p, s.junk_folder.as_deref())?)),
        MailboxSpec::Imap {
            security,
            user,
            host,
            port,
            folder,
        } => {
            let opts = ImapOptions {
                security: *security,
                user: user.clone(),
                host: host.clone(),
                port: *port,
                folder: folder.clone(),
                junk_folder: s.junk_folder.clone(),
                insecure_plain: s.insecure_plain,
                ca_file: s.ca_file.clone(),
                io_timeout: s.io_timeout,
            };
            let pw = password.ok_or_else(|| MailboxError::Secret("no IMAP password".into()))?;
            Ok(Box::new(ImapMailbox::connect(opts, pw.expose())?))
        }
    }
}

/// Trigger and wait for the message (or read it from a file). Pushes the
/// trigger and deliver checks; None when there is no message to go on with.
fn obtain(
    ctx: &Context,
    s: &Settings,
    trigger_token: Option<&Secret>,
    password: Option<&Secret>,
    report: &mut Report,
) -> Result<Option<Obtained>, ToolError> {
    let spec = match &s.source {
        MessageSource::File(path) => {
            let raw = if path.as_os_str() == "-" {
                read_stdin(mailbox::MESSAGE_LIMIT, s.timeout)
            } else {
                maestro_common::fsio::read_regular(path, mailbox::MESSAGE_LIMIT)
                    .map_err(|e| e.to_string())
            }
            .map_err(|e| ToolError::Usage(format!("--message {}: {e}", path.display())))?;
            report.push(
                Check::ok(
                    "deliver",
                    format!(
                        "test message read from {} (no mailbox, no trigger)",
                        path.display()
                    ),
                )
                .detail("source", path.display().to_string()),
            );
            return Ok(Some(Obtained {
                raw,
                found: None,
                mailbox: None,
            }));
        }
        MessageSource::Mailbox { spec, .. } => spec,
    };
    let where_ = spec.describe();
    let t_open = Instant::now();
    let mut mb = match open_mailbox(s, spec, password) {
        Ok(m) => m,
        Err(e) => {
            if s.trigger.is_some() {
                report.push(not_run(
                    "trigger",
                    "the seed mailbox cannot be watched, so no test mailing is sent",
                ));
            }
            report.push(
                Check::new(
                    "deliver",
                    Status::Unknown,
                    format!("seed mailbox {where_}: {e}"),
                )
                .detail("mailbox", where_),
            );
            return Ok(None);
        }
    };
    ctx.info(format!(
        "opened {where_} in {:.3}s; folders {}",
        t_open.elapsed().as_secs_f64(),
        mb.folders().join(", ")
    ));

    let mut want = Wanted {
        matcher: s.matcher.clone(),
        sent_not_before: None,
        until: None,
    };
    let since = match (&s.trigger, trigger_token) {
        (Some(t), Some(token)) => {
            if let Err(e) = mb.snapshot() {
                report.push(not_run("trigger", "the seed mailbox cannot be read"));
                report.push(Check::new(
                    "deliver",
                    Status::Unknown,
                    format!("seed mailbox {where_}: {e}"),
                ));
                return Ok(None);
            }
            // A message dated before this moment (less the clocks' skew) is
            // an earlier mailing, not the one this trigger sends.
            want.sent_not_before = Some(SystemTime::now() - mailbox::CLOCK_SKEW);
            let answer = http::get(&t.url, Some(token), s.io_timeout);
            let refusal = answer
                .as_ref()
                .ok()
                .filter(|a| (200..300).contains(&a.status))
                .and_then(|a| trigger_refusal(&a.body));
            let ok = match &answer {
                Ok(a) if refusal.is_some() => {
                    report.push(
                        Check::new(
                            "trigger",
                            Status::Critical,
                            format!(
                                "HTTP {} from {}, but the answer says it failed: {}",
                                a.status,
                                t.url,
                                refusal.unwrap_or_default()
                            ),
                        )
                        .timed(a.elapsed)
                        .perf(Perfdata::seconds("trigger_time", a.elapsed)),
                    );
                    false
                }
                Ok(a) if (200..300).contains(&a.status) => {
                    report.push(
                        Check::ok("trigger", format!("HTTP {} from {}", a.status, t.url))
                            .timed(a.elapsed)
                            .perf(
                                Perfdata::seconds("trigger_time", a.elapsed)
                                    .with_max(s.io_timeout.as_secs_f64()),
                            ),
                    );
                    true
                }
                Ok(a) => {
                    report.push(
                        Check::new(
                            "trigger",
                            Status::Critical,
                            format!(
                                "HTTP {} from {}: {}",
                                a.status,
                                t.url,
                                http::snippet(&a.body)
                            ),
                        )
                        .timed(a.elapsed)
                        .perf(Perfdata::seconds("trigger_time", a.elapsed)),
                    );
                    false
                }
                Err(e) => {
                    report.push(
                        Check::new(
                            "trigger",
                            Status::Critical,
                            format!("no HTTP answer from {}: {e}", t.url),
                        )
                        .perf(Perfdata::unknown(
                            "trigger_time",
                            maestro_common::perfdata::Uom::Seconds,
                        )),
                    );
                    false
                }
            };
            if !ok {
                report.push(not_run("deliver", "the trigger failed"));
                mb.close();
                return Ok(None);
            }
            None
        }
        _ => Some(SystemTime::now() - s.since),
    };

    let t0 = Instant::now();
    want.until = Some(t0 + s.timeout);
    let mut pause = Duration::ZERO;
    let mut looks = 0u32;
    let found = loop {
        looks += 1;
        match mb.find(&want, since) {
            Ok(Some(f)) => break Some(f),
            Ok(None) => {}
            Err(e) => {
                report.push(
                    Check::new(
                        "deliver",
                        Status::Unknown,
                        format!("seed mailbox {where_}: {e}"),
                    )
                    .perf(Perfdata::unknown(
                        "delivery_latency",
                        maestro_common::perfdata::Uom::Seconds,
                    )),
                );
                mb.close();
                return Ok(None);
            }
        }
        let left = s.timeout.saturating_sub(t0.elapsed());
        if left.is_zero() {
            break None;
        }
        pause = mailbox::next_backoff(pause);
        if !signal::sleep(pause.min(left)) {
            // What was done so far is the report (a trigger may have sent a
            // mailing already); the harness exits with the signal's code.
            report.push(
                Check::new(
                    "deliver",
                    Status::Unknown,
                    format!(
                        "interrupted by a signal while waiting for the test message in {where_} ({:.1}s, looked {looks} times)",
                        t0.elapsed().as_secs_f64()
                    ),
                )
                .detail("mailbox", where_.clone()),
            );
            mb.close();
            return Ok(None);
        }
    };
    let latency = t0.elapsed();
    let what = s.matcher.describe();
    let folders = mb.folders().join(" and ");
    let skipped = mb.skipped();
    for why in &skipped {
        ctx.warn(format!("seed mailbox {where_}: skipped {why}"));
    }
    let Some(found) = found else {
        let skipped_text = if skipped.is_empty() {
            String::new()
        } else {
            format!(
                "; skipped {} message(s) not read: {}",
                skipped.len(),
                skipped.join("; ")
            )
        };
        report.push(
            Check::new(
                "deliver",
                Status::Critical,
                format!(
                    "the test message ({what}) did not arrive in {where_} within {:.0}s (looked {looks} times in {folders}){skipped_text}",
                    s.timeout.as_secs_f64()
                ),
            )
            .detail("skipped", skipped.len())
            .timed(latency)
            .perf(Perfdata::unknown("delivery_latency", maestro_common::perfdata::Uom::Seconds)),
        );
        mb.close();
        return Ok(None);
    };
    let subject = TestMessage::parse(&found.raw)
        .ok()
        .and_then(|m| m.subject)
        .unwrap_or_default();
    let mut check = if found.junk {
        Check::new(
            "deliver",
            Status::Warning,
            format!(
                "the test message arrived in the junk folder {} of {where_}, not in the inbox",
                found.folder
            ),
        )
    } else {
        Check::ok(
            "deliver",
            format!("the test message arrived in {} of {where_}", found.folder),
        )
    };
    if !skipped.is_empty() {
        check = check.detail("skipped", skipped.join("; "));
    }
    check = check
        .detail("mailbox", where_.clone())
        .detail("folder", found.folder.clone())
        .detail("subject", subject)
        .detail("matched_by", what)
        .timed(latency);
    if s.trigger.is_some() {
        // Seen-after time since the trigger: an upper bound of the delivery
        // latency, as exact as the polling interval.
        check = check.perf(
            Perfdata::seconds("delivery_latency", latency)
                .with_crit(Range::above(s.timeout.as_secs_f64()))
                .with_max(s.timeout.as_secs_f64()),
        );
    }
    if let Some(arrived) = found.arrived {
        check = check.detail(
            "arrived",
            chrono::DateTime::<chrono::Utc>::from(arrived)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
    }
    report.push(check);
    Ok(Some(Obtained {
        raw: found.raw.clone(),
        found: Some(found),
        mailbox: Some(mb),
    }))
}

/// The words by which a trigger's answer says that nothing was sent. Some
/// web applications answer an expired token or a failed job with HTTP 200
/// and an error page.
const REFUSAL_WORDS: &[&str] = &[
    "error",
    "invalid",
    "expired",
    "denied",
    "unauthorized",
    "unauthorised",
    "forbidden",
    "failed",
    "failure",
    "exception",
];

/// The first line of a 2xx trigger answer that holds one of
/// [`REFUSAL_WORDS`] as a word, shortened; None when there is none.
fn trigger_refusal(body: &str) -> Option<String> {
    body.lines().find_map(|line| {
        let lower = line.to_lowercase();
        lower
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| REFUSAL_WORDS.contains(&w))
            .then(|| http::snippet(line))
    })
}

fn click_checks(
    ctx: &Context,
    s: &Settings,
    m: &TestMessage,
    report_token: Option<&Secret>,
    report: &mut Report,
) {
    let on_tracker: Vec<&String> = m
        .tracker_links
        .iter()
        .filter(|l| click::on_tracker(l, s.tracker_host.as_deref()))
        .collect();
    // A test mailing has a few links; a message with hundreds would hold
    // the run for one I/O timeout each.
    let links: Vec<&String> = on_tracker.iter().take(MAX_LINKS).copied().collect();
    if links.is_empty() {
        let other = if m.tracker_links.is_empty() {
            String::new()
        } else {
            format!(
                " ({} tracker links point to other hosts than {})",
                m.tracker_links.len(),
                s.tracker_host.as_deref().unwrap_or("")
            )
        };
        report.push(
            Check::new(
                "click",
                Status::Critical,
                format!(
                    "no tracker link ({}) in the test message's parts: {}{other}",
                    message::TRACKER_PATH,
                    m.parts.join(", ")
                ),
            )
            .detail("parts", m.parts.join(", ")),
        );
        return;
    }

    // DNS: the tracker host name of the links must point here.
    let mut hosts: Vec<String> = links.iter().filter_map(|l| message::url_host(l)).collect();
    hosts.sort();
    hosts.dedup();
    let t_dns = Instant::now();
    // The addresses each host name resolved to for the DNS check: the
    // clicks connect to these, so what was judged is what is clicked.
    let mut pins: std::collections::HashMap<String, Vec<std::net::IpAddr>> =
        std::collections::HashMap::new();
    match dns::server_addresses(&s.server_addresses, s.io_timeout) {
        _ if hosts.is_empty() => report.push(Check::new(
            "tracker-dns",
            Status::Unknown,
            format!(
                "no host name could be read from the {} tracker link(s): nothing to look up",
                links.len()
            ),
        )),
        Err(e) => report.push(Check::new(
            "tracker-dns",
            Status::Unknown,
            format!("cannot tell this server's addresses: {e}"),
        )),
        Ok(ours) => {
            let mut check =
                Check::ok("tracker-dns", "").detail("server_addresses", dns::join(&ours));
            let mut msgs = Vec::new();
            for h in &hosts {
                match dns::resolve(h, s.io_timeout) {
                    Err(e) => check.add_finding(
                        Finding::new(
                            Status::Critical,
                            "tracker-unresolvable",
                            format!("tracker host {e}"),
                        )
                        .at(h.clone()),
                    ),
                    Ok(addrs) => {
                        pins.insert(h.clone(), addrs.iter().copied().collect());
                        let v = dns::compare(addrs, &ours);
                        if v.elsewhere.is_empty() {
                            msgs.push(format!(
                                "{h} resolves to this server ({})",
                                dns::join(&v.resolved)
                            ));
                        } else {
                            check.add_finding(
                                Finding::new(
                                    Status::Critical,
                                    "tracker-elsewhere",
                                    format!(
                                        "tracker host {h} resolves to {}, not to this server ({}): clicks in mail already sent go there",
                                        dns::join(&v.elsewhere),
                                        dns::join(&ours)
                                    ),
                                )
                                .at(h.clone()),
                            );
                        }
                    }
                }
            }
            check.message = match check.findings.iter().find(|f| f.status != Status::Ok) {
                Some(f) => f.message.clone(),
                None => msgs.join("; "),
            };
            report.push(
                check
                    .timed(t_dns.elapsed())
                    .perf(Perfdata::seconds("dns_time", t_dns.elapsed())),
            );
        }
    }

    let src = s.report.as_ref().zip(report_token);
    let before = src.map(|(r, t)| report_export::fetch(r, t, s.io_timeout));

    let mut check = Check::ok("click", "");
    if on_tracker.len() > links.len() {
        check.add_finding(Finding::new(
            Status::Warning,
            "too-many-links",
            format!(
                "{} tracker links; only the first {MAX_LINKS} are requested",
                on_tracker.len()
            ),
        ));
    }
    // All the clicks together within the run's --timeout, each within what
    // is left of it (and its own --io-timeout).
    let clicks_until = Instant::now() + s.timeout;
    let mut clicked_ok = 0u64;
    let mut slowest = Duration::ZERO;
    for (i, link) in links.iter().enumerate() {
        let left = clicks_until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            check.add_finding(Finding::new(
                Status::Unknown,
                "out-of-time",
                format!(
                    "{} of {} tracker links not requested: the clicks took the whole --timeout of {}",
                    links.len() - i,
                    links.len(),
                    maestro_common::bounded_io::seconds_text(s.timeout)
                ),
            ));
            break;
        }
        if signal::interrupted() {
            check.add_finding(Finding::new(
                Status::Unknown,
                "interrupted",
                format!(
                    "{STOPPED}: {} of {} tracker links not requested",
                    links.len() - i,
                    links.len()
                ),
            ));
            break;
        }
        let pinned = message::url_host(link).and_then(|h| pins.get(&h));
        let o = click::click(
            link,
            &s.expect_targets,
            s.io_timeout.min(left),
            pinned.map(Vec::as_slice),
        );
        ctx.info(format!("{link}: {}", o.seen));
        if let Some(e) = o.elapsed {
            slowest = slowest.max(e);
            check
                .perfdata
                .push(Perfdata::seconds(format!("click_{}_time", i + 1), e));
        } else {
            check.perfdata.push(Perfdata::unknown(
                format!("click_{}_time", i + 1),
                maestro_common::perfdata::Uom::Seconds,
            ));
        }
        if o.status != Status::Critical {
            clicked_ok += 1;
        }
        let mut f = Finding::new(o.status, "tracker-link", o.message.clone())
            .at(o.link.clone())
            .detail("seen", o.seen.clone());
        if let Some(l) = &o.location {
            f = f.detail("location", l.clone());
        }
        check.add_finding(f);
    }
    check.message = match check
        .findings
        .iter()
        .find(|f| f.status == check.status && f.status != Status::Ok)
    {
        Some(f) => f.message.clone(),
        None => format!(
            "{} tracker link(s) redirect to the expected target",
            links.len()
        ),
    };
    check = check.timed(slowest).detail("links", links.len());
    report.push(check);

    if let (Some((r, token)), Some(before)) = (src, before) {
        report.push(confirm(
            "click-count",
            Counter::Clicks,
            r,
            token,
            s.io_timeout,
            before,
            clicked_ok,
        ));
    }
}

fn confirm(
    name: &str,
    counter: Counter,
    r: &settings::ReportSource,
    token: &Secret,
    io_timeout: Duration,
    before: Result<report_export::Counts, String>,
    by: u64,
) -> Check {
    if by == 0 {
        return not_run(
            name,
            &format!("nothing to count ({} failed)", counter.name()),
        );
    }
    let before = match before.and_then(|c| {
        counter
            .of(&c)
            .ok_or_else(|| format!("the report has no {} count", counter.name()))
    }) {
        Ok(b) => b,
        Err(e) => {
            return Check::new(
                name,
                Status::Unknown,
                format!("report export {}: {e}", r.url),
            )
        }
    };
    if signal::interrupted() {
        return not_run(name, STOPPED);
    }
    match report_export::wait_for_increase(r, token, io_timeout, counter, before, by) {
        Ok((now, took)) => Check::ok(
            name,
            format!(
                "the report counts {} {} (was {before})",
                now,
                counter.name()
            ),
        )
        .timed(took)
        .perf(Perfdata::seconds(
            format!("{}_counted_time", counter.name()),
            took,
        )),
        Err(_) if signal::interrupted() => Check::new(
            name,
            Status::Unknown,
            format!(
                "interrupted by a signal while waiting for the report export {} to count",
                r.url
            ),
        ),
        Err(e) => Check::new(
            name,
            Status::Critical,
            format!("report export {}: {e}", r.url),
        ),
    }
}

fn bounce_checks(
    s: &Settings,
    m: &TestMessage,
    report_token: Option<&Secret>,
    report: &mut Report,
) {
    let Some((host, port)) = s.smtp.clone() else {
        report.push(Check::new(
            "bounce",
            Status::Unknown,
            "no SMTP listener to send the bounce to (--smtp)",
        ));
        return;
    };
    let to = match m.return_path.as_deref() {
        None => {
            report.push(Check::new(
                "bounce",
                Status::Unknown,
                "the test message has no Return-Path, so its bounce address is unknown",
            ));
            return;
        }
        Some("") => {
            report.push(Check::new(
                "bounce",
                Status::Critical,
                "the test message was sent with the null sender <>: bounces cannot reach Maestro",
            ));
            return;
        }
        Some(a) => a.to_string(),
    };
    let Some(failed) = s.bounce_recipient.clone().or_else(|| m.recipient.clone()) else {
        report.push(Check::new(
            "bounce",
            Status::Unknown,
            "no seed address to report as failed: give --bounce-recipient",
        ));
        return;
    };
    let hostname = bounce::hostname();
    let dsn = Dsn {
        to: &to,
        failed_recipient: &failed,
        reporting_mta: &hostname,
        original_headers: &m.headers,
        date: chrono::Utc::now(),
    }
    .build();
    let src = s.report.as_ref().zip(report_token);
    let before = src.map(|(r, t)| report_export::fetch(r, t, s.io_timeout));
    let accepted = match bounce::send(&host, port, &to, &dsn, s.io_timeout) {
        Ok(o) if o.code == 250 => {
            let mut check = Check::ok(
                "bounce",
                format!(
                    "DSN 5.1.1 for {failed} accepted for {to} by {host}:{port}: {} {}{}",
                    o.code,
                    o.reply,
                    if src.is_some() {
                        ""
                    } else {
                        " (a mail server took it; that LISTSERV counted it is shown only with --report-url)"
                    }
                ),
            );
            if let Some(elsewhere) = smtp_elsewhere(s, &host) {
                check.add_finding(Finding::new(
                    Status::Warning,
                    "smtp-elsewhere",
                    format!(
                        "the bounce went to {host}:{port}, which is not this server ({elsewhere}): another mail server took it, not this server's LISTSERV"
                    ),
                ));
                check.message = check.findings[0].message.clone();
            }
            report.push(
                check
                    .timed(o.elapsed)
                    .detail("bounce_address", to.clone())
                    .perf(Perfdata::seconds("smtp_time", o.elapsed)),
            );
            true
        }
        Ok(o) => {
            report.push(
                Check::new(
                    "bounce",
                    Status::Critical,
                    format!(
                        "SMTP {host}:{port} answered {} {} to {} (the DSN for {to}), expected 250",
                        o.code, o.reply, o.answered
                    ),
                )
                .timed(o.elapsed)
                .perf(Perfdata::seconds("smtp_time", o.elapsed)),
            );
            false
        }
        Err(e) => {
            report.push(
                Check::new(
                    "bounce",
                    Status::Critical,
                    format!("SMTP {host}:{port} did not accept the DSN for {to}: {e}"),
                )
                .perf(Perfdata::unknown(
                    "smtp_time",
                    maestro_common::perfdata::Uom::Seconds,
                )),
            );
            false
        }
    };
    if let (Some((r, token)), Some(before)) = (src, before) {
        report.push(confirm(
            "bounce-count",
            Counter::Bounces,
            r,
            token,
            s.io_timeout,
            before,
            u64::from(accepted),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trigger_answer_saying_it_failed_is_a_refusal() {
        assert_eq!(
            trigger_refusal("Error: invalid or expired token\n").as_deref(),
            Some("Error: invalid or expired token")
        );
        assert!(trigger_refusal("<html><body><h1>Access denied</h1></body></html>").is_some());
        assert_eq!(
            trigger_refusal(
                "<html><body>Job 7 was triggered and is being delivered.</body></html>\n"
            ),
            None
        );
        // Part of a longer word is not the word.
        assert_eq!(trigger_refusal("errorless terror"), None);
    }
}
