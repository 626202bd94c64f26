//! maestro-smoketest against real parts: the Maestro emulator (in-process)
//! sends the test mailing over SMTP to a real Postfix, which delivers over
//! LMTP to a real Dovecot, whose IMAP the tool reads; the tracker, the
//! report export and the bounce listener are the emulator's. Each fault
//! must end CRITICAL or UNKNOWN with a message naming the step.
//! The Dovecot/Postfix tests need root (scripts/test.sh runs them so).

mod support;

use maestro_emulator::{Delivery, Emulator, EmulatorConfig};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};
use support::plugin_output::{parse_json_lines, parse_nagios};
use support::smoketest_mail::{free_port, MailLab, DOMAIN, PASSWORD};

const SMOKETEST: &str = env!("CARGO_BIN_EXE_maestro-smoketest");
const TRIGGER: &str = "trigger-token-5f2a";
const REPORT: &str = "report-token-91c3";
const TARGET: &str = "https://www.example.org/landing";

fn smoketest(args: &[&str]) -> Output {
    std::process::Command::new(SMOKETEST)
        .args(["--config", "/dev/null", "--format", "json"])
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// The check records by name, and the summary.
struct Outcome {
    code: Option<i32>,
    checks: Vec<Value>,
    summary: Value,
    stderr: String,
}

impl Outcome {
    fn of(out: Output) -> Outcome {
        let stdout = String::from_utf8(out.stdout).unwrap();
        let records = parse_json_lines(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
        Outcome {
            code: out.status.code(),
            checks: records
                .iter()
                .filter(|r| r["type"] == "check")
                .cloned()
                .collect(),
            summary: records
                .iter()
                .find(|r| r["type"] == "summary")
                .cloned()
                .unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    fn check(&self, name: &str) -> &Value {
        self.checks
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no check {name}: {:#?}", self.checks))
    }

    fn status(&self, name: &str) -> String {
        self.check(name)["status"].as_str().unwrap().to_string()
    }

    fn message(&self, name: &str) -> String {
        self.check(name)["message"].as_str().unwrap().to_string()
    }
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n")
}

/// The emulator sending through the lab's Postfix, tracker links on `localhost`.
fn emulator(lab: &MailLab, seed: &str, tweak: impl FnOnce(&mut EmulatorConfig)) -> Emulator {
    let mut c = EmulatorConfig::new(
        TRIGGER,
        &format!("{seed}@{DOMAIN}"),
        Delivery::Smtp {
            host: "127.0.0.1".into(),
            port: lab.smtp_port,
        },
    );
    c.report_token = Some(REPORT.into());
    c.link_targets = vec![TARGET.into(), format!("{TARGET}?second")];
    let http_port = free_port();
    c.http_listen = format!("127.0.0.1:{http_port}").parse().unwrap();
    c.tracker_base = Some(format!("http://localhost:{http_port}"));
    tweak(&mut c);
    Emulator::start(c).unwrap()
}

struct Run {
    trigger_token: PathBuf,
    report_token: PathBuf,
    password: PathBuf,
}

impl Run {
    fn new(lab: &MailLab) -> Run {
        Run {
            trigger_token: lab.secret_file("trigger", TRIGGER),
            report_token: lab.secret_file("report", REPORT),
            password: lab.secret_file("password", PASSWORD),
        }
    }

    /// `all` against the emulator and the lab, plus `extra` flags.
    fn args(&self, lab: &MailLab, emu: &Emulator, user: &str, extra: &[&str]) -> Vec<String> {
        let p = |p: &Path| p.display().to_string();
        let mut v: Vec<String> = vec![
            "all".into(),
            "--trigger-url".into(),
            emu.trigger_url(),
            "--trigger-token-file".into(),
            p(&self.trigger_token),
            "--mailbox".into(),
            lab.imap_url(user),
            "--password-file".into(),
            p(&self.password),
            "--insecure-plain".into(),
            "--report-url".into(),
            emu.trigger_url(),
            "--report-token-file".into(),
            p(&self.report_token),
            "--smtp".into(),
            emu.smtp_addr().to_string(),
            "--expect-target".into(),
            TARGET.into(),
            "--expect-target".into(),
            format!("{TARGET}?second"),
            "--timeout".into(),
            "15s".into(),
            "--report-timeout".into(),
            "3s".into(),
            "--io-timeout".into(),
            "3s".into(),
        ];
        // An extra flag given already replaces its value.
        let mut extra = extra.iter();
        while let Some(flag) = extra.next() {
            let value = if flag.starts_with("--") && !["--keep", "--insecure-plain"].contains(flag)
            {
                extra.next()
            } else {
                None
            };
            match v.iter().position(|a| a == flag) {
                Some(i) if value.is_some() => v[i + 1] = value.unwrap().to_string(),
                _ => {
                    v.push(flag.to_string());
                    v.extend(value.map(|s| s.to_string()));
                }
            }
        }
        v
    }
}

fn run_all(lab: &MailLab, emu: &Emulator, user: &str, extra: &[&str]) -> Outcome {
    let r = Run::new(lab);
    let args = r.args(lab, emu, user, extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Outcome::of(smoketest(&args))
}

macro_rules! needs_root {
    () => {
        if !is_root() {
            eprintln!(
                "skipped: needs root to start Dovecot and Postfix (scripts/test.sh runs as root)"
            );
            return;
        }
    };
}

#[test]
fn the_whole_chain_works_end_to_end_in_a_few_seconds() {
    needs_root!();
    let t = Instant::now();
    let lab = MailLab::start();
    eprintln!("lab start: {:?}", t.elapsed());
    let emu = emulator(&lab, "seed", |_| {});
    let started = Instant::now();
    let o = run_all(&lab, &emu, "seed", &[]);
    let took = started.elapsed();
    assert_eq!(
        o.code,
        Some(0),
        "{:#?}\n{}\n{}",
        o.checks,
        o.stderr,
        lab.logs()
    );
    for name in [
        "trigger",
        "deliver",
        "tracker-dns",
        "click",
        "click-count",
        "bounce",
        "bounce-count",
        "cleanup",
    ] {
        assert_eq!(o.status(name), "OK", "{name}: {}", o.message(name));
    }
    assert!(
        o.message("deliver").contains("arrived in INBOX"),
        "{}",
        o.message("deliver")
    );
    let perf = &o.check("deliver")["perfdata"];
    assert_eq!(perf[0]["label"], "delivery_latency");
    assert!(perf[0]["value"].as_f64().unwrap() > 0.0);
    // Both links clicked and counted, one bounce counted, one mail sent.
    let c = emu.counts();
    assert_eq!((c.jobs, c.sent, c.clicks, c.bounces), (1, 1, 2, 1));
    assert!(
        o.message("bounce").contains("250"),
        "{}",
        o.message("bounce")
    );
    // The test message is gone from the seed mailbox (read, not written, here).
    assert_eq!(lab.count("seed", ""), 0, "removed after the run");
    assert!(
        took < Duration::from_secs(10),
        "the whole run took {took:?}"
    );
    eprintln!("all against the emulator, Postfix and Dovecot: {took:?}");
}

#[test]
fn keep_leaves_the_message_and_nagios_output_has_the_timings() {
    needs_root!();
    let lab = MailLab::start();
    let emu = emulator(&lab, "seed", |_| {});
    let r = Run::new(&lab);
    let mut args = r.args(&lab, &emu, "seed", &["--keep"]);
    args.splice(0..0, ["--format".to_string(), "nagios".to_string()]);
    let out = std::process::Command::new(SMOKETEST)
        .arg("--config")
        .arg("/dev/null")
        .args(&args)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}");
    let p = parse_nagios(&text).unwrap();
    assert_eq!(p.status, "OK");
    let labels: Vec<&str> = p.perfdata.iter().map(|i| i.label.as_str()).collect();
    for l in [
        "trigger_time",
        "delivery_latency",
        "click_1_time",
        "click_2_time",
        "smtp_time",
        "total_time",
    ] {
        assert!(labels.contains(&l), "{l} in {labels:?}");
    }
    assert_eq!(lab.count("seed", ""), 1, "--keep leaves it");
}

#[test]
fn a_copy_in_the_junk_folder_is_a_warning() {
    needs_root!();
    let lab = MailLab::start();
    // Dovecot's LMTP files seed+Junk@ into the Junk folder, as a spam filter would.
    let emu = emulator(&lab, "seed+Junk", |_| {});
    let o = run_all(&lab, &emu, "seed", &[]);
    assert_eq!(o.code, Some(1), "{:#?}\n{}", o.checks, lab.logs());
    assert_eq!(o.status("deliver"), "WARNING");
    assert!(
        o.message("deliver").contains("junk folder Junk"),
        "{}",
        o.message("deliver")
    );
    assert_eq!(lab.count("seed", ".Junk"), 0, "removed from Junk too");
}

#[test]
fn imap_login_refused_is_unknown_and_nothing_is_sent() {
    needs_root!();
    let lab = MailLab::start();
    let emu = emulator(&lab, "seed", |_| {});
    let r = Run::new(&lab);
    let wrong = lab.secret_file("wrong", "not-the-password");
    let mut args = r.args(&lab, &emu, "seed", &[]);
    let i = args.iter().position(|a| a == "--password-file").unwrap();
    args[i + 1] = wrong.display().to_string();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = Outcome::of(smoketest(&args));
    assert_eq!(o.code, Some(3), "{:#?}", o.checks);
    assert_eq!(o.status("deliver"), "UNKNOWN");
    let m = o.message("deliver");
    assert!(
        m.contains("IMAP login as seed@seed.test refused") && m.contains("NO"),
        "{m}"
    );
    assert!(o.message("trigger").contains("not run"));
    assert_eq!(
        emu.counts().jobs,
        0,
        "no mailing is sent that nobody can watch"
    );
}

#[test]
fn a_message_that_never_arrives_is_critical_after_the_timeout() {
    needs_root!();
    let lab = MailLab::start();
    // The mailing goes to another mailbox: the seed never gets it.
    let emu = emulator(&lab, "other", |_| {});
    let started = Instant::now();
    let o = run_all(&lab, &emu, "seed", &["--timeout", "2s"]);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "bounded: {:?}",
        started.elapsed()
    );
    assert_eq!(o.code, Some(2), "{:#?}", o.checks);
    assert_eq!(o.status("deliver"), "CRITICAL");
    assert!(
        o.message("deliver").contains("did not arrive"),
        "{}",
        o.message("deliver")
    );
    assert!(o.message("click").starts_with("not run"));
    assert_eq!(o.status("click"), "UNKNOWN");
}

#[test]
fn tracker_down_is_critical_and_named() {
    needs_root!();
    let lab = MailLab::start();
    let dead = free_port();
    let emu = emulator(&lab, "seed", |c| {
        c.tracker_base = Some(format!("http://localhost:{dead}"))
    });
    let o = run_all(&lab, &emu, "seed", &[]);
    assert_eq!(o.code, Some(2), "{:#?}", o.checks);
    assert_eq!(o.status("click"), "CRITICAL");
    let m = o.message("click");
    assert!(
        m.contains("no HTTP answer") && m.contains("tracker down"),
        "{m}"
    );
    // The bounce still went through: each link of the chain is told apart.
    assert_eq!(o.status("bounce"), "OK");
}

#[test]
fn a_redirect_to_the_wrong_place_is_critical() {
    needs_root!();
    let lab = MailLab::start();
    let emu = emulator(&lab, "seed", |c| {
        c.link_targets = vec!["https://phish.example.net/".into()]
    });
    let o = run_all(&lab, &emu, "seed", &[]);
    assert_eq!(o.code, Some(2), "{:#?}", o.checks);
    let m = o.message("click");
    assert!(
        m.contains("wrong place") && m.contains("phish.example.net"),
        "{m}"
    );
}

#[test]
fn a_bounce_rejected_by_smtp_is_critical_with_the_reply() {
    needs_root!();
    let lab = MailLab::start();
    let emu = emulator(&lab, "seed", |_| {});
    // A LISTSERV that does not know the job (say, a replica from before
    // it): a second emulator with fresh state rejects the bounce address.
    let stale = emulator(&lab, "seed", |_| {});
    let stale_smtp = stale.smtp_addr().to_string();
    let o = run_all(&lab, &emu, "seed", &["--smtp", &stale_smtp]);
    assert_eq!(o.code, Some(2), "{:#?}", o.checks);
    assert_eq!(o.status("bounce"), "CRITICAL");
    let m = o.message("bounce");
    assert!(
        m.contains("550") && m.contains("bounce-1-1@maestro.test"),
        "{m}"
    );
    assert_eq!(o.status("bounce-count"), "UNKNOWN");
}

#[test]
fn malformed_mime_is_critical() {
    needs_root!();
    let lab = MailLab::start();
    let emu = emulator(&lab, "seed", |c| c.faults.malformed_mime = true);
    let o = run_all(&lab, &emu, "seed", &[]);
    assert_eq!(o.code, Some(2), "{:#?}", o.checks);
    assert_eq!(o.status("deliver"), "OK");
    let m = o.message("click");
    assert!(m.contains("malformed MIME"), "{m}");
}

#[test]
fn a_tracker_name_resolving_elsewhere_is_critical() {
    needs_root!();
    let lab = MailLab::start();
    let emu = emulator(&lab, "seed", |_| {});
    let o = run_all(&lab, &emu, "seed", &["--server-address", "192.0.2.10"]);
    assert_eq!(o.code, Some(2), "{:#?}", o.checks);
    assert_eq!(o.status("tracker-dns"), "CRITICAL");
    let m = o.message("tracker-dns");
    assert!(
        m.contains("tracker host localhost resolves to")
            && m.contains("not to this server (192.0.2.10)"),
        "{m}"
    );
}

#[test]
fn a_wrong_trigger_token_is_critical_with_the_http_status() {
    needs_root!();
    let lab = MailLab::start();
    let emu = emulator(&lab, "seed", |_| {});
    let r = Run::new(&lab);
    let wrong = lab.secret_file("wrong-token", "guessed");
    let mut args = r.args(&lab, &emu, "seed", &[]);
    let i = args
        .iter()
        .position(|a| a == "--trigger-token-file")
        .unwrap();
    args[i + 1] = wrong.display().to_string();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = Outcome::of(smoketest(&args));
    assert_eq!(o.code, Some(2), "{:#?}", o.checks);
    let m = o.message("trigger");
    assert!(m.contains("HTTP 403"), "{m}");
    assert!(
        !format!("{:?}{}", o.checks, o.stderr).contains("guessed"),
        "the token never shows"
    );
    assert!(o.message("deliver").starts_with("not run"));
}

#[test]
fn imap_without_starttls_is_refused_unless_insecure_plain() {
    needs_root!();
    let lab = MailLab::start();
    let r = Run::new(&lab);
    let out = smoketest(&[
        "deliver",
        "--no-trigger",
        "--mailbox",
        &lab.imap_url("seed"),
        "--password-file",
        r.password.to_str().unwrap(),
        "--timeout",
        "1s",
    ]);
    let o = Outcome::of(out);
    assert_eq!(o.code, Some(3), "{:#?}", o.checks);
    assert!(
        o.message("deliver").contains("does not offer STARTTLS"),
        "{}",
        o.message("deliver")
    );
}

/// Without root: the emulator delivering into a Maildir itself.
#[test]
fn maildir_mode_without_a_mail_server() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("Maildir");
    for s in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(md.join(s)).unwrap();
    }
    let mut c = EmulatorConfig::new(TRIGGER, "seed@seed.test", Delivery::Maildir(md.clone()));
    c.link_targets = vec![TARGET.into()];
    let emu = Emulator::start(c).unwrap();
    let token = dir.path().join("t");
    std::fs::write(&token, TRIGGER).unwrap();
    let maildir = format!("maildir:{}", md.display());
    let smtp = emu.smtp_addr().to_string();
    let out = smoketest(&[
        "all",
        "--trigger-url",
        &emu.trigger_url(),
        "--trigger-token-file",
        token.to_str().unwrap(),
        "--mailbox",
        &maildir,
        "--smtp",
        &smtp,
        "--expect-target",
        TARGET,
        "--timeout",
        "5s",
    ]);
    let o = Outcome::of(out);
    assert_eq!(o.code, Some(0), "{:#?} {}", o.checks, o.stderr);
    assert_eq!(o.summary["status"], "OK");
    let c = emu.counts();
    assert_eq!((c.clicks, c.bounces), (1, 1));
    assert_eq!(std::fs::read_dir(md.join("new")).unwrap().count(), 0);

    // click on a saved message file, without mailbox and trigger; no --expect-target: WARNING.
    let mut c = EmulatorConfig::new(TRIGGER, "seed@seed.test", Delivery::Maildir(md.clone()));
    c.link_targets = vec![TARGET.into()];
    let emu2 = Emulator::start(c).unwrap();
    let _ = ureq_get(&format!("{}?token={TRIGGER}", emu2.trigger_url()));
    let file = std::fs::read_dir(md.join("new"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let o = Outcome::of(smoketest(&["click", "--message", file.to_str().unwrap()]));
    assert_eq!(o.code, Some(1), "{:#?}", o.checks);
    assert!(
        o.message("click").contains("not compared"),
        "{}",
        o.message("click")
    );
}

fn ureq_get(url: &str) -> u16 {
    // std only: one HTTP/1.0 GET.
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(s, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    buf.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn usage_errors_name_what_is_missing() {
    let o = smoketest(&["all", "--mailbox", "maildir:/nonexistent"]);
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.contains("--no-trigger"), "{err}");
    let o = smoketest(&[
        "all",
        "--no-trigger",
        "--mailbox",
        "imaps://seed@mx.example/INBOX",
        "--password-env",
        "X",
        "--trigger-url",
        "http://x/",
    ]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "--no-trigger and --trigger-url conflict"
    );
}
