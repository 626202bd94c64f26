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
use support::smoketest_mail::{free_port, ImapTls, MailLab, DOMAIN, PASSWORD};

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

/// `deliver` (trigger, deliver, cleanup) over `mailbox`, with `extra` flags.
fn deliver(lab: &MailLab, emu: &Emulator, mailbox: &str, extra: &[&str]) -> Outcome {
    let r = Run::new(lab);
    let trigger_url = emu.trigger_url();
    let mut args = vec![
        "deliver",
        "--trigger-url",
        &trigger_url,
        "--trigger-token-file",
        r.trigger_token.to_str().unwrap(),
        "--mailbox",
        mailbox,
        "--password-file",
        r.password.to_str().unwrap(),
        "--timeout",
        "15s",
        "--io-timeout",
        "3s",
    ];
    args.extend_from_slice(extra);
    Outcome::of(smoketest(&args))
}

fn tls_lab() -> MailLab {
    MailLab::start_with(ImapTls::for_loopback())
}

fn delivered_over_tls(lab: &MailLab, emu: &Emulator, o: &Outcome) {
    assert_eq!(
        o.code,
        Some(0),
        "{:#?}\n{}\n{}",
        o.checks,
        o.stderr,
        lab.logs()
    );
    for name in ["trigger", "deliver", "cleanup"] {
        assert_eq!(o.status(name), "OK", "{name}: {}", o.message(name));
    }
    assert!(
        o.message("deliver").contains("arrived in INBOX"),
        "{}",
        o.message("deliver")
    );
    assert_eq!(emu.counts().sent, 1);
    assert_eq!(lab.count("seed", ""), 0, "removed over the TLS session");
}

#[test]
fn imaps_with_the_ca_file_delivers() {
    needs_root!();
    let lab = tls_lab();
    let emu = emulator(&lab, "seed", |_| {});
    let ca = lab.certificate.clone().unwrap();
    let o = deliver(
        &lab,
        &emu,
        &lab.imaps_url("seed"),
        &["--ca-file", ca.to_str().unwrap()],
    );
    delivered_over_tls(&lab, &emu, &o);
    // Dovecot saw the logins over TLS (its `ssl = required` refuses any other).
    assert!(lab.logs().contains("TLS"), "{}", lab.logs());
}

#[test]
fn imap_with_starttls_and_the_ca_file_delivers() {
    needs_root!();
    let lab = tls_lab();
    let emu = emulator(&lab, "seed", |_| {});
    let ca = lab.certificate.clone().unwrap();
    let o = deliver(
        &lab,
        &emu,
        &lab.imap_url("seed"),
        &["--ca-file", ca.to_str().unwrap()],
    );
    delivered_over_tls(&lab, &emu, &o);
}

/// A TLS refusal: nothing sent, CRITICAL or UNKNOWN, the message naming
/// the IMAP server's TLS handshake and `words`.
fn refused_at_the_handshake(lab: &MailLab, emu: &Emulator, o: &Outcome, words: &[&str]) {
    assert!(
        matches!(o.code, Some(2) | Some(3)),
        "{:#?}\n{}",
        o.checks,
        o.stderr
    );
    assert!(
        ["CRITICAL", "UNKNOWN"].contains(&o.status("deliver").as_str()),
        "{:#?}",
        o.checks
    );
    let m = o.message("deliver");
    assert!(m.contains("IMAP server 127.0.0.1:"), "{m}");
    assert!(m.contains("(TLS handshake)"), "{m}");
    for w in words {
        assert!(m.contains(w), "{w:?} in {m}");
    }
    assert_eq!(
        emu.counts().jobs,
        0,
        "no mailing sent that nobody can watch"
    );
    assert!(
        !lab.logs().contains("Login: user=<seed"),
        "no login happened: {}",
        lab.logs()
    );
}

#[test]
fn imaps_without_the_ca_file_is_refused_as_untrusted() {
    needs_root!();
    let lab = tls_lab();
    let emu = emulator(&lab, "seed", |_| {});
    let o = deliver(&lab, &emu, &lab.imaps_url("seed"), &[]);
    refused_at_the_handshake(&lab, &emu, &o, &["UnknownIssuer", "--ca-file"]);
}

#[test]
fn starttls_without_the_ca_file_is_refused_as_untrusted() {
    needs_root!();
    let lab = tls_lab();
    let emu = emulator(&lab, "seed", |_| {});
    let o = deliver(&lab, &emu, &lab.imap_url("seed"), &[]);
    refused_at_the_handshake(&lab, &emu, &o, &["UnknownIssuer", "--ca-file"]);
}

#[test]
fn a_certificate_for_another_name_is_refused_even_when_trusted() {
    needs_root!();
    let lab = MailLab::start_with(ImapTls::SelfSigned {
        subject_alt_name: "DNS:other.invalid".into(),
        extra_extensions: vec!["basicConstraints=critical,CA:FALSE".into()],
    });
    let emu = emulator(&lab, "seed", |_| {});
    let ca = lab.certificate.clone().unwrap();
    for url in [lab.imaps_url("seed"), lab.imap_url("seed")] {
        let o = deliver(&lab, &emu, &url, &["--ca-file", ca.to_str().unwrap()]);
        refused_at_the_handshake(&lab, &emu, &o, &["not valid for name", "not for 127.0.0.1"]);
    }
}

/// `openssl req -x509` without more makes a CA certificate (CA:TRUE);
/// rustls (webpki) will not take it as the server's own certificate, even
/// from --ca-file. Refused, and the message says how to remake it.
#[test]
fn a_ca_certificate_used_as_the_server_certificate_is_refused_with_a_hint() {
    needs_root!();
    let lab = MailLab::start_with(ImapTls::SelfSigned {
        subject_alt_name: "IP:127.0.0.1,DNS:localhost".into(),
        extra_extensions: vec![],
    });
    let emu = emulator(&lab, "seed", |_| {});
    let ca = lab.certificate.clone().unwrap();
    let o = deliver(
        &lab,
        &emu,
        &lab.imaps_url("seed"),
        &["--ca-file", ca.to_str().unwrap()],
    );
    refused_at_the_handshake(
        &lab,
        &emu,
        &o,
        &["CaUsedAsEndEntity", "basicConstraints=critical,CA:FALSE"],
    );
}

// ---------------------------------------------------------------------
// Hostile servers and files: small servers written here that hang, stream
// without end or echo secrets. None needs root.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A server on 127.0.0.1 that runs `script` on each connection it accepts
/// (at most `connections`), on its own thread.
fn hostile_server(
    connections: usize,
    script: impl Fn(TcpStream) + Send + Sync + 'static,
) -> (u16, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        for _ in 0..connections {
            let Ok((s, _)) = l.accept() else { return };
            script(s);
        }
    });
    (port, handle)
}

/// Write `x` without a line end until the reader stops reading (or
/// `cap` bytes, so a tool that reads without bound is not fed forever);
/// the bytes written go into `sent`.
fn stream_endless_line(s: &mut TcpStream, cap: u64, sent: &AtomicU64) {
    let chunk = [b'x'; 64 * 1024];
    while sent.load(Ordering::SeqCst) < cap {
        match s.write(&chunk) {
            Ok(n) => {
                sent.fetch_add(n as u64, Ordering::SeqCst);
            }
            Err(_) => return,
        }
    }
    // Then say nothing more, until the client goes.
    let _ = s.read(&mut [0u8; 1]);
}

/// One line from the client, for a scripted exchange.
fn line(r: &mut BufReader<TcpStream>) -> String {
    let mut l = String::new();
    let _ = r.read_line(&mut l);
    l
}

/// What a run of the binary did: its output, how long it took, the
/// highest resident memory seen (VmHWM), killed if it ran past `limit`.
struct Watched {
    out: Output,
    took: Duration,
    peak_kib: u64,
}

fn run_watched(cmd: &mut Command, limit: Duration) -> Watched {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stdout.read_to_end(&mut b);
        b
    });
    let err_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stderr.read_to_end(&mut b);
        b
    });
    let mut peak_kib = 0;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if let Ok(st) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            if let Some(kib) = st
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak_kib = peak_kib.max(kib);
            }
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = started.elapsed();
    Watched {
        out: Output {
            status,
            stdout: out_reader.join().unwrap(),
            stderr: err_reader.join().unwrap(),
        },
        took,
        peak_kib,
    }
}

fn smoketest_cmd(format: &str, args: &[&str]) -> Command {
    let mut c = Command::new(SMOKETEST);
    c.args(["--config", "/dev/null", "--format", format])
        .args(args)
        .env("NO_COLOR", "1");
    c
}

fn secret_in(dir: &Path, name: &str, value: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, value).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

/// `deliver` over plain IMAP (loopback) from a hostile server, --io-timeout 3s.
fn deliver_from_imap(port: u16, password_file: &Path, format: &str) -> Watched {
    let mailbox = format!("imap://seed@127.0.0.1:{port}/INBOX");
    run_watched(
        &mut smoketest_cmd(
            format,
            &[
                "deliver",
                "--no-trigger",
                "--mailbox",
                &mailbox,
                "--password-file",
                password_file.to_str().unwrap(),
                "--insecure-plain",
                "--timeout",
                "3s",
                "--io-timeout",
                "3s",
            ],
        ),
        Duration::from_secs(30),
    )
}

/// Greets, answers LOGIN with OK, then answers the next command with an
/// endless line.
#[test]
fn an_imap_server_streaming_an_endless_line_after_login_ok_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let pw = secret_in(dir.path(), "pw", "seed-pw-1", 0o600);
    let sent = Arc::new(AtomicU64::new(0));
    let counted = sent.clone();
    let (port, server) = hostile_server(1, move |s| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        w.write_all(b"* OK hostile IMAP ready\r\n").unwrap();
        let login = line(&mut r);
        let tag = login.split_whitespace().next().unwrap_or("a1").to_string();
        w.write_all(format!("{tag} OK LOGIN completed\r\n").as_bytes())
            .unwrap();
        let _next = line(&mut r);
        w.write_all(b"* CAPABILITY ").unwrap();
        stream_endless_line(&mut w, 256 << 20, &counted);
    });
    let run = deliver_from_imap(port, &pw, "json");
    server.join().unwrap();
    let sent_mib = sent.load(Ordering::SeqCst) >> 20;
    assert!(
        sent_mib < 64,
        "the tool read {sent_mib} MiB of one endless line (peak memory {} MiB)",
        run.peak_kib >> 10
    );
    assert!(run.took < Duration::from_secs(8), "took {:?}", run.took);
    let o = Outcome::of(run.out);
    assert_eq!(o.code, Some(3), "{:#?}", o.checks);
    let m = o.message("deliver");
    assert!(m.contains("more than 4 MiB"), "{m}");
    eprintln!(
        "endless IMAP line: {:?}, {sent_mib} MiB sent, peak {} MiB",
        run.took,
        run.peak_kib >> 10
    );
}

#[test]
fn an_imap_server_silent_after_the_greeting_is_a_timeout_not_a_refused_login() {
    let dir = tempfile::tempdir().unwrap();
    let pw = secret_in(dir.path(), "pw", "seed-pw-2", 0o600);
    let (port, server) = hostile_server(1, |s| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        w.write_all(b"* OK hostile IMAP ready\r\n").unwrap();
        let _login = line(&mut r);
        // Silence until the client goes.
        let _ = r.read(&mut [0u8; 1]);
    });
    let run = deliver_from_imap(port, &pw, "json");
    server.join().unwrap();
    assert!(run.took < Duration::from_secs(5), "took {:?}", run.took);
    let o = Outcome::of(run.out);
    assert_eq!(o.code, Some(3), "{:#?}", o.checks);
    let m = o.message("deliver");
    assert!(m.contains("timed out after 3 s"), "{m}");
    assert!(!m.contains("refused") && !m.contains("os error"), "{m}");
}

/// A test message as a file, for `bounce --message`.
fn message_file(dir: &Path) -> PathBuf {
    let p = dir.join("test.eml");
    std::fs::write(
        &p,
        "Return-Path: <bounce-1-1@maestro.test>\r\nDelivered-To: seed@seed.test\r\n\
         To: seed@seed.test\r\nSubject: maestro-ha smoke test (job 1)\r\n\r\nhello\r\n",
    )
    .unwrap();
    p
}

fn bounce_to(port: u16, message: &Path) -> Watched {
    let smtp = format!("127.0.0.1:{port}");
    run_watched(
        &mut smoketest_cmd(
            "json",
            &[
                "bounce",
                "--message",
                message.to_str().unwrap(),
                "--smtp",
                &smtp,
                "--io-timeout",
                "3s",
            ],
        ),
        Duration::from_secs(30),
    )
}

#[test]
fn an_smtp_server_silent_after_354_ends_the_bounce_at_the_io_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (port, server) = hostile_server(1, |s| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        w.write_all(b"220 hostile ESMTP\r\n").unwrap();
        let _ehlo = line(&mut r);
        w.write_all(b"250-hostile\r\n250 8BITMIME\r\n").unwrap();
        for reply in ["250 2.1.0 Ok\r\n", "250 2.1.5 Ok\r\n", "354 go ahead\r\n"] {
            let _ = line(&mut r);
            w.write_all(reply.as_bytes()).unwrap();
        }
        // Take the message, never answer it, until the client goes.
        let mut sink = [0u8; 4096];
        while r.read(&mut sink).is_ok_and(|n| n > 0) {}
    });
    let run = bounce_to(port, &message_file(dir.path()));
    server.join().unwrap();
    let o = Outcome::of(run.out);
    assert_eq!(o.code, Some(2), "{:#?}", o.checks);
    let m = o.message("bounce");
    assert!(m.contains("timed out after 3 s"), "{m}");
    assert!(!m.contains("os error"), "{m}");
    // The whole session is one step of --io-timeout (process start aside).
    assert!(
        run.took < Duration::from_millis(4500),
        "took {:?}",
        run.took
    );
    eprintln!("SMTP silent after 354: {:?}", run.took);
}

#[test]
fn an_smtp_server_greeting_with_an_endless_line_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let sent = Arc::new(AtomicU64::new(0));
    let counted = sent.clone();
    let (port, server) = hostile_server(1, move |mut s| {
        s.write_all(b"220 ").unwrap();
        stream_endless_line(&mut s, 256 << 20, &counted);
    });
    let run = bounce_to(port, &message_file(dir.path()));
    server.join().unwrap();
    let sent_mib = sent.load(Ordering::SeqCst) >> 20;
    assert!(sent_mib < 64, "the tool read {sent_mib} MiB of one line");
    assert!(run.took < Duration::from_secs(5), "took {:?}", run.took);
    let o = Outcome::of(run.out);
    assert_eq!(o.code, Some(2), "{:#?}", o.checks);
    let m = o.message("bounce");
    assert!(m.contains("longer than 4096 bytes"), "{m}");
}

fn empty_maildir(dir: &Path) -> PathBuf {
    let md = dir.join("Maildir");
    for s in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(md.join(s)).unwrap();
    }
    md
}

fn deliver_from_maildir(md: &Path) -> Watched {
    let mailbox = format!("maildir:{}", md.display());
    run_watched(
        &mut smoketest_cmd(
            "json",
            &[
                "deliver",
                "--no-trigger",
                "--mailbox",
                &mailbox,
                "--timeout",
                "3s",
            ],
        ),
        Duration::from_secs(30),
    )
}

#[test]
fn a_message_over_the_size_limit_is_skipped_and_said_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let md = empty_maildir(dir.path());
    // 2 GB, sparse: costs no disk, but 2 GB of memory to a tool reading it whole.
    let big = std::fs::File::create(md.join("new/1700000000.big.host")).unwrap();
    big.set_len(2 << 30).unwrap();
    let run = deliver_from_maildir(&md);
    assert!(
        run.peak_kib < 200 << 10,
        "peak memory {} MiB",
        run.peak_kib >> 10
    );
    assert!(run.took < Duration::from_secs(6), "took {:?}", run.took);
    let stderr = String::from_utf8_lossy(&run.out.stderr).to_string();
    let o = Outcome::of(run.out);
    assert_eq!(o.code, Some(2), "{:#?}", o.checks);
    let m = o.message("deliver");
    assert!(m.contains("did not arrive"), "{m}");
    assert!(
        m.contains("1700000000.big.host: larger than 16 MiB") && m.contains("not read"),
        "{m}"
    );
    assert!(stderr.contains("skipped"), "{stderr}");
    eprintln!(
        "2 GB message in the Maildir: {:?}, peak {} MiB",
        run.took,
        run.peak_kib >> 10
    );
}

#[test]
fn a_fifo_in_the_maildir_never_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let md = empty_maildir(dir.path());
    for sub in ["new", "cur"] {
        let fifo = md.join(format!("{sub}/1700000001.fifo.host"));
        assert!(Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
    }
    let run = deliver_from_maildir(&md);
    assert!(run.took < Duration::from_secs(6), "took {:?}", run.took);
    let o = Outcome::of(run.out);
    assert_eq!(o.code, Some(2), "{:#?}", o.checks);
    let m = o.message("deliver");
    assert!(m.contains("is a FIFO, not a regular file"), "{m}");
}

#[test]
fn a_message_file_that_is_a_fifo_or_too_large_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("test.eml");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let run = run_watched(
        &mut smoketest_cmd("text", &["click", "--message", fifo.to_str().unwrap()]),
        Duration::from_secs(20),
    );
    assert!(run.took < Duration::from_secs(5), "took {:?}", run.took);
    assert_eq!(run.out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&run.out.stderr);
    assert!(err.contains("is a FIFO, not a regular file"), "{err}");
}

/// Every output of a run (stdout of each format, stderr), for secret checks.
fn all_outputs(args: &[&str], env: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    for format in ["text", "json", "nagios"] {
        let mut c = smoketest_cmd(format, args);
        c.arg("-v");
        for (k, v) in env {
            c.env(k, v);
        }
        let run = run_watched(&mut c, Duration::from_secs(30));
        seen.push((
            format!("{format} stdout"),
            String::from_utf8_lossy(&run.out.stdout).into_owned(),
        ));
        seen.push((
            format!("{format} stderr"),
            String::from_utf8_lossy(&run.out.stderr).into_owned(),
        ));
    }
    seen
}

fn never_shown(outputs: &[(String, String)], secret: &str) {
    for (which, text) in outputs {
        assert!(!text.contains(secret), "{which} shows the secret:\n{text}");
    }
}

#[test]
fn a_trigger_answering_500_with_the_request_line_never_shows_the_token() {
    const TOKEN: &str = "tok-Echo-5ecret-77";
    let dir = tempfile::tempdir().unwrap();
    let md = empty_maildir(dir.path());
    // Readable by every user: the run says so (and goes on).
    let token = secret_in(dir.path(), "trigger.token", TOKEN, 0o644);
    let (port, server) = hostile_server(3, |s| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        let request_line = line(&mut r);
        while !line(&mut r).trim_end().is_empty() {}
        let body = format!("Internal error in {request_line}");
        let _ = w.write_all(
            format!(
                "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
    });
    let url = format!("http://127.0.0.1:{port}/lui/externalAction.do");
    let mailbox = format!("maildir:{}", md.display());
    let outputs = all_outputs(
        &[
            "deliver",
            "--trigger-url",
            &url,
            "--trigger-token-file",
            token.to_str().unwrap(),
            "--mailbox",
            &mailbox,
            "--timeout",
            "1s",
        ],
        &[],
    );
    server.join().unwrap();
    never_shown(&outputs, TOKEN);
    let text = &outputs[0].1;
    assert!(
        text.contains("HTTP 500") && text.contains("token=***"),
        "the echo is there, masked: {text}"
    );
    let nagios = &outputs[4].1;
    assert!(nagios.starts_with("MAESTRO-SMOKETEST CRITICAL"), "{nagios}");
    for (which, stderr) in outputs.iter().skip(1).step_by(2) {
        assert!(
            stderr.contains("readable by every user"),
            "{which}: no warning about the token file: {stderr}"
        );
    }
}

#[test]
fn an_imap_no_echoing_the_login_command_never_shows_the_password() {
    const PASSWORD: &str = "pw-Echo-5ecret-88";
    let dir = tempfile::tempdir().unwrap();
    let pw = secret_in(dir.path(), "pw", PASSWORD, 0o600);
    let (port, server) = hostile_server(3, |s| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        w.write_all(b"* OK hostile IMAP ready\r\n").unwrap();
        let login = line(&mut r);
        let (tag, command) = login.trim_end().split_once(' ').unwrap_or(("a1", ""));
        let _ = w
            .write_all(format!("{tag} NO [AUTHENTICATIONFAILED] {command} refused\r\n").as_bytes());
        let _ = r.read(&mut [0u8; 1]);
    });
    let mailbox = format!("imap://seed@127.0.0.1:{port}/INBOX");
    let outputs = all_outputs(
        &[
            "deliver",
            "--no-trigger",
            "--mailbox",
            &mailbox,
            "--password-file",
            pw.to_str().unwrap(),
            "--insecure-plain",
            "--timeout",
            "1s",
            "--io-timeout",
            "3s",
        ],
        &[],
    );
    server.join().unwrap();
    never_shown(&outputs, PASSWORD);
    let text = &outputs[0].1;
    assert!(
        text.contains("refused") && text.contains("LOGIN") && text.contains("***"),
        "the echo is there, masked: {text}"
    );
}

#[test]
fn a_password_in_a_url_is_refused_and_never_shown() {
    const PASSWORD: &str = "pw-In-Url-99";
    let dir = tempfile::tempdir().unwrap();
    let mailbox = format!("maildir:{}", empty_maildir(dir.path()).display());
    let trigger = format!("http://maestro:{PASSWORD}@127.0.0.1:9/lui/externalAction.do");
    let imap = format!("imap://seed:{PASSWORD}@127.0.0.1:9/INBOX");
    for (args, names) in [
        (
            vec![
                "deliver",
                "--trigger-url",
                &trigger,
                "--trigger-token-env",
                "T",
                "--mailbox",
                &mailbox,
            ],
            "--trigger-token-file",
        ),
        (
            vec![
                "deliver",
                "--no-trigger",
                "--mailbox",
                &mailbox,
                "--report-url",
                &trigger,
                "--report-token-env",
                "T",
            ],
            "--report-token-file",
        ),
        (
            vec![
                "deliver",
                "--no-trigger",
                "--mailbox",
                &imap,
                "--password-env",
                "T",
            ],
            "--password-file",
        ),
    ] {
        let outputs = all_outputs(&args, &[("T", "tok")]);
        never_shown(&outputs, PASSWORD);
        let stderr = &outputs[1].1;
        assert!(
            stderr.contains("may not be written in the URL") && stderr.contains(names),
            "{stderr}"
        );
        let nagios = &outputs[4].1;
        assert!(nagios.starts_with("MAESTRO-SMOKETEST UNKNOWN"), "{nagios}");
    }
}

#[test]
fn config_check_runs_the_settings_a_run_would_use() {
    let dir = tempfile::tempdir().unwrap();
    let md = empty_maildir(dir.path());
    let token = secret_in(dir.path(), "t", "tok-cfg-1", 0o600);
    let check = |smoketest: &str| {
        let cfg = dir.path().join("config.toml");
        std::fs::write(&cfg, format!("[smoketest]\n{smoketest}")).unwrap();
        let out = Command::new(SMOKETEST)
            .args(["--format", "json", "--state-dir"])
            .arg(dir.path())
            .arg("--config")
            .arg(&cfg)
            .args(["config", "check"])
            .output()
            .unwrap();
        let o = Outcome::of(out);
        (o.code, o.status("smoketest"), o.message("smoketest"))
    };
    let good = format!(
        "trigger_url = \"http://127.0.0.1:9/lui/externalAction.do\"\ntrigger_token = {{ file = \"{}\" }}\nmailbox = \"maildir:{}\"\n",
        token.display(),
        md.display()
    );
    let (code, status, message) = check(&good);
    assert_eq!((code, status.as_str()), (Some(0), "OK"), "{message}");
    for (bad, words) in [
        (
            good.replace("http://", "http://u:pw-cfg@"),
            "may not be written in the URL",
        ),
        (
            good.replace("maildir:", "pop3://"),
            "expected imaps://USER@HOST/FOLDER",
        ),
        (
            good.replace(&token.display().to_string(), "/nonexistent/token"),
            "trigger token (file /nonexistent/token)",
        ),
        (
            "mailbox = \"imaps://seed@mx.example/INBOX\"\n".to_string(),
            "needs a password",
        ),
    ] {
        let (code, status, message) = check(&bad);
        assert_eq!((code, status.as_str()), (Some(2), "CRITICAL"), "{message}");
        assert!(message.contains(words), "{words:?} in {message}");
        assert!(!message.contains("pw-cfg"), "{message}");
    }
}

#[test]
fn a_sigterm_while_waiting_for_the_message_writes_the_report_so_far() {
    let dir = tempfile::tempdir().unwrap();
    let md = empty_maildir(dir.path());
    let mailbox = format!("maildir:{}", md.display());
    let child = smoketest_cmd(
        "json",
        &[
            "all",
            "--no-trigger",
            "--mailbox",
            &mailbox,
            "--smtp",
            "127.0.0.1:9",
            "--timeout",
            "20s",
        ],
    )
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let sent = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "took {:?}",
        sent.elapsed()
    );
    assert_eq!(out.status.code(), Some(143));
    let o = Outcome::of(out);
    assert_eq!(o.status("deliver"), "UNKNOWN", "{:#?}", o.checks);
    assert!(
        o.message("deliver").contains("interrupted by a signal"),
        "{:#?}",
        o.checks
    );
    for step in ["click", "bounce"] {
        assert!(
            o.message(step).contains("stopped by a signal"),
            "{step}: {:#?}",
            o.checks
        );
    }
}

/// An HTTP server that answers each of `connections` requests with `answer`,
/// then runs `after` (on its own thread).
fn http_server(
    connections: usize,
    answer: &'static str,
    after: impl Fn() + Send + Sync + 'static,
) -> (u16, std::thread::JoinHandle<()>) {
    hostile_server(connections, move |s| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        while !line(&mut r).trim_end().is_empty() {}
        let mut w = s;
        let _ = w.write_all(answer.as_bytes());
        let _ = w.flush();
        after();
    })
}

fn deliver_triggered(trigger_port: u16, md: &Path, token: &Path) -> Outcome {
    let mailbox = format!("maildir:{}", md.display());
    let url = format!("http://127.0.0.1:{trigger_port}/lui/externalAction.do");
    let run = run_watched(
        &mut smoketest_cmd(
            "json",
            &[
                "deliver",
                "--trigger-url",
                &url,
                "--trigger-token-file",
                token.to_str().unwrap(),
                "--mailbox",
                &mailbox,
                "--timeout",
                "3s",
                "--io-timeout",
                "3s",
            ],
        ),
        Duration::from_secs(30),
    );
    Outcome::of(run.out)
}

#[test]
fn a_trigger_answering_200_with_an_error_text_is_critical() {
    let dir = tempfile::tempdir().unwrap();
    let md = empty_maildir(dir.path());
    let token = secret_in(dir.path(), "token", "tok-4f1e-9a", 0o600);
    let (port, server) = http_server(
        1,
        "HTTP/1.1 200 OK\r\nContent-Length: 32\r\nConnection: close\r\n\r\nError: invalid or expired token\n",
        || {},
    );
    let o = deliver_triggered(port, &md, &token);
    server.join().unwrap();
    assert_eq!(o.status("trigger"), "CRITICAL", "{:#?}", o.checks);
    assert!(
        o.message("trigger").contains("invalid or expired token"),
        "{:#?}",
        o.checks
    );
    assert_eq!(o.code, Some(2));
}

#[test]
fn a_mailing_of_an_earlier_run_delivered_late_is_not_this_runs() {
    let dir = tempfile::tempdir().unwrap();
    let md = empty_maildir(dir.path());
    let token = secret_in(dir.path(), "token", "tok-4f1e-9a", 0o600);
    let new = md.join("new");
    // The trigger works, but what arrives is a mailing sent long before.
    let (port, server) = http_server(
        1,
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\ntriggered\n",
        move || {
            std::fs::write(
                new.join("1700000000.late.host"),
                "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nReturn-Path: <bounce-1-1@maestro.test>\r\n\
                 To: seed@seed.test\r\nSubject: maestro-ha smoke test (job 1)\r\n\r\nhello\r\n",
            )
            .unwrap();
        },
    );
    let o = deliver_triggered(port, &md, &token);
    server.join().unwrap();
    assert_eq!(o.status("trigger"), "OK", "{:#?}", o.checks);
    assert_eq!(o.status("deliver"), "CRITICAL", "{:#?}", o.checks);
    assert!(
        o.message("deliver").contains("earlier mailing"),
        "{:#?}",
        o.checks
    );
}

#[test]
fn a_click_never_goes_through_a_proxy_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let down = free_port();
    let msg = dir.path().join("msg.eml");
    std::fs::write(
        &msg,
        format!(
            "Return-Path: <bounce-7-1@maestro.test>\r\nTo: seed@seed.test\r\n\
             Subject: maestro-ha smoke test (job 7)\r\nContent-Type: text/plain\r\n\r\n\
             Link 1: http://127.0.0.1:{down}/trk/click?ref=7-1-1&\r\n"
        ),
    )
    .unwrap();
    // A proxy that answers every request with the expected redirect.
    let answer: &'static str = Box::leak(
        format!("HTTP/1.1 302 Found\r\nLocation: {TARGET}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .into_boxed_str(),
    );
    // ureq tunnels even http:// through a proxy with CONNECT.
    let (proxy, server) = hostile_server(1, move |s| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        let first = line(&mut r);
        while !line(&mut r).trim_end().is_empty() {}
        if first.starts_with("CONNECT") {
            let _ = w.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
            while !line(&mut r).trim_end().is_empty() {}
        }
        let _ = w.write_all(answer.as_bytes());
    });
    let proxy_url = format!("http://127.0.0.1:{proxy}");
    let run = run_watched(
        smoketest_cmd(
            "json",
            &[
                "click",
                "--message",
                msg.to_str().unwrap(),
                "--expect-target",
                TARGET,
                "--io-timeout",
                "2s",
            ],
        )
        .env("http_proxy", &proxy_url)
        .env("HTTP_PROXY", &proxy_url)
        .env("ALL_PROXY", &proxy_url),
        Duration::from_secs(30),
    );
    // Let the proxy's accept end, whether or not the tool came.
    let _ = TcpStream::connect(("127.0.0.1", proxy));
    server.join().unwrap();
    let o = Outcome::of(run.out);
    assert_eq!(o.status("click"), "CRITICAL", "{:#?}", o.checks);
    assert!(
        o.message("click").contains("no HTTP answer"),
        "{:#?}",
        o.checks
    );
}

#[test]
fn many_large_messages_that_do_not_match_are_read_one_at_a_time_and_once() {
    let dir = tempfile::tempdir().unwrap();
    let md = empty_maildir(dir.path());
    // 12 messages of 15 MiB each (sparse: no disk), none the test message.
    for i in 0..12 {
        let f = std::fs::File::create(md.join(format!("new/17000000{i:02}.big.host"))).unwrap();
        f.set_len(15 << 20).unwrap();
    }
    let mailbox = format!("maildir:{}", md.display());
    let run = run_watched(
        &mut smoketest_cmd(
            "json",
            &[
                "deliver",
                "--no-trigger",
                "--mailbox",
                &mailbox,
                "--timeout",
                "2s",
            ],
        ),
        Duration::from_secs(60),
    );
    let peak_mib = run.peak_kib >> 10;
    let o = Outcome::of(run.out);
    assert_eq!(o.status("deliver"), "CRITICAL", "{:#?}", o.checks);
    // One message at a time (and the best one): not 12 × 15 MiB at once.
    assert!(peak_mib < 80, "peak {peak_mib} MiB");
    // Each is read once, not again on every look, and no look runs past
    // the --timeout.
    assert!(run.took < Duration::from_secs(4), "took {:?}", run.took);
    eprintln!(
        "12 × 15 MiB non-matching: peak {peak_mib} MiB in {:?}",
        run.took
    );
}

#[test]
fn the_number_of_links_clicked_is_capped() {
    let dir = tempfile::tempdir().unwrap();
    let down = free_port();
    let links: String = (1..=25)
        .map(|i| format!("Link {i}: http://127.0.0.1:{down}/trk/click?ref=7-1-{i}&\r\n"))
        .collect();
    let msg = dir.path().join("msg.eml");
    std::fs::write(
        &msg,
        format!(
            "Return-Path: <bounce-7-1@maestro.test>\r\nTo: seed@seed.test\r\n\
             Subject: maestro-ha smoke test (job 7)\r\nContent-Type: text/plain\r\n\r\n{links}"
        ),
    )
    .unwrap();
    let run = run_watched(
        &mut smoketest_cmd(
            "json",
            &[
                "click",
                "--message",
                msg.to_str().unwrap(),
                "--io-timeout",
                "1s",
            ],
        ),
        Duration::from_secs(60),
    );
    let o = Outcome::of(run.out);
    let click = o.check("click");
    assert_eq!(click["details"]["links"], 20, "{click:#}");
    let clicked = click["perfdata"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["label"].as_str().unwrap().starts_with("click_"))
        .count();
    assert_eq!(clicked, 20, "{click:#}");
}

/// An SMTP server that takes one message (250 to everything).
fn accepting_smtp() -> (u16, std::thread::JoinHandle<()>) {
    hostile_server(1, |s| {
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut w = s;
        w.write_all(b"220 relay ESMTP\r\n").unwrap();
        let _ehlo = line(&mut r);
        w.write_all(b"250-relay\r\n250 8BITMIME\r\n").unwrap();
        for reply in ["250 2.1.0 Ok\r\n", "250 2.1.5 Ok\r\n", "354 go ahead\r\n"] {
            let _ = line(&mut r);
            w.write_all(reply.as_bytes()).unwrap();
        }
        while line(&mut r).trim_end() != "." {}
        w.write_all(b"250 2.0.0 queued\r\n").unwrap();
        let _quit = line(&mut r);
        let _ = w.write_all(b"221 bye\r\n");
    })
}

#[test]
fn a_bounce_taken_by_a_mail_server_that_is_not_this_one_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let msg = message_file(dir.path());
    for (server_address, status, words) in [
        // This server is 127.0.0.1: the bounce reached it, but only the
        // report export could show LISTSERV counted it.
        ("127.0.0.1", "OK", "shown only with --report-url"),
        // This server is elsewhere (no traffic goes there): the SMTP
        // listener on 127.0.0.1 is another mail server.
        ("192.0.2.1", "WARNING", "not this server"),
    ] {
        let (port, server) = accepting_smtp();
        let smtp = format!("127.0.0.1:{port}");
        let run = run_watched(
            &mut smoketest_cmd(
                "json",
                &[
                    "bounce",
                    "--message",
                    msg.to_str().unwrap(),
                    "--smtp",
                    &smtp,
                    "--server-address",
                    server_address,
                    "--io-timeout",
                    "3s",
                ],
            ),
            Duration::from_secs(30),
        );
        server.join().unwrap();
        let o = Outcome::of(run.out);
        assert_eq!(o.status("bounce"), status, "{:#?}", o.checks);
        assert!(o.message("bounce").contains(words), "{:#?}", o.checks);
    }
}

#[test]
fn tracker_dns_with_no_host_to_look_up_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let msg = dir.path().join("msg.eml");
    // A port past 65535: the link is a tracker link, its host unreadable.
    std::fs::write(
        &msg,
        "Return-Path: <bounce-7-1@maestro.test>\r\nTo: seed@seed.test\r\n\
         Subject: maestro-ha smoke test (job 7)\r\nContent-Type: text/plain\r\n\r\n\
         Link 1: http://127.0.0.1:99999/trk/click?ref=7-1-1&\r\n",
    )
    .unwrap();
    let run = run_watched(
        &mut smoketest_cmd(
            "json",
            &[
                "click",
                "--message",
                msg.to_str().unwrap(),
                "--io-timeout",
                "1s",
            ],
        ),
        Duration::from_secs(30),
    );
    let o = Outcome::of(run.out);
    assert_eq!(o.status("tracker-dns"), "UNKNOWN", "{:#?}", o.checks);
    assert!(
        o.message("tracker-dns")
            .contains("no host name could be read"),
        "{:#?}",
        o.checks
    );
}
