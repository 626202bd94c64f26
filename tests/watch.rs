//! maestro-watch against real hosts: network namespaces made by the test
//! as the primary (with real HTTP/TCP listeners), the failover (where the
//! watcher runs) and a witness (with a real sshd, running the same binary's
//! `probe` over SSH). Faults are real too: links set down, nftables rules.

mod support;

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Output};
use std::time::{Duration, Instant};
use support::netns::Lab;
use support::plugin_output::parse_json_lines;
use support::sshd::Sshd;

const WATCH: &str = env!("CARGO_BIN_EXE_maestro-watch");
const THRESHOLD: &str = "3s";

struct Site {
    lab: Lab,
    primary: String,
    _http: KillOnDrop,
    _witness_sshd: Sshd,
    dir: tempfile::TempDir,
    config: PathBuf,
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Site {
    /// primary (.1) with an HTTP server on port 80, failover (.2), witness
    /// (.3) with sshd; a config naming the witness.
    fn new() -> Site {
        let mut lab = Lab::new();
        lab.add_host("p", 1);
        lab.add_host("f", 2);
        lab.add_host("w", 3);
        let primary = lab.addr(1);
        let dir = tempfile::tempdir().unwrap();
        let www = dir.path().join("www");
        std::fs::create_dir_all(www.join("lui")).unwrap();
        std::fs::write(www.join("lui/index.html"), "LISTSERV Maestro").unwrap();
        let http = KillOnDrop(lab.spawn(
            "p",
            "python3",
            &[
                "-m",
                "http.server",
                "80",
                "--bind",
                &primary,
                "--directory",
                www.to_str().unwrap(),
            ],
        ));
        let sshd = Sshd::start_in_netns(&lab.ns("w"), &lab.addr(3));
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            format!(
                "[watch]\ntarget = \"{primary}\"\n\n[[watch.witnesses]]\nhost = \"{}\"\nport = {}\nuser = \"{}\"\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\nconnect_timeout = \"2s\"\ncommand = \"{WATCH}\"\n",
                sshd.addr(),
                sshd.port(),
                sshd.user(),
                sshd.user_key_path().display(),
                sshd.known_hosts().display()
            ),
        )
        .unwrap();
        let site = Site {
            lab,
            primary,
            _http: http,
            _witness_sshd: sshd,
            dir,
            config,
        };
        site.wait_for_primary();
        site
    }

    fn wait_for_primary(&self) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            let out = self.watch(
                "f",
                &[
                    "probe",
                    "--tcp",
                    &format!("{}:80", self.primary),
                    "--probe-timeout",
                    "1s",
                ],
            );
            if out.status.code() == Some(0) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the primary's HTTP server did not come up");
    }

    /// Run maestro-watch inside a host with this site's config and state.
    fn watch(&self, host: &str, args: &[&str]) -> Output {
        self.lab
            .command(host, WATCH)
            .arg("--config")
            .arg(&self.config)
            .arg("--state-dir")
            .arg(self.dir.path().join(format!("state-{host}")))
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    }

    /// `once` from the failover with the test's probes and threshold.
    fn once(&self, extra: &[&str]) -> (i32, Vec<Value>) {
        let url = format!("http://{}/lui/", self.primary);
        let mut args = vec![
            "--format",
            "json",
            "once",
            "--tcp",
            "80",
            "--http",
            &url,
            "--probe-timeout",
            "1s",
            "--threshold",
            THRESHOLD,
            "--interval",
            "2s",
        ];
        args.extend_from_slice(extra);
        let out = self.watch("f", &args);
        let text = String::from_utf8(out.stdout).unwrap();
        let records = parse_json_lines(&text).unwrap_or_else(|e| {
            panic!(
                "{e}\nstdout: {text}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap_or(-1), records)
    }
}

fn decision(records: &[Value]) -> (String, String) {
    let d = records
        .iter()
        .find(|r| r["type"] == "check" && r["name"] == "decision")
        .expect("a decision record");
    (
        d["details"]["state"].as_str().unwrap().to_string(),
        d["message"].as_str().unwrap().to_string(),
    )
}

#[test]
fn healthy_primary_is_up_from_here_and_from_the_witness() {
    let site = Site::new();
    let (code, records) = site.once(&[]);
    assert_eq!(code, 0, "{records:#?}");
    assert_eq!(decision(&records).0, "UP");
    let witness = records
        .iter()
        .find(|r| {
            r["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("witness "))
        })
        .unwrap();
    assert_eq!(witness["message"], "2 of 2 probes answer", "{witness}");
}

#[test]
fn primary_link_down_is_down_after_the_threshold_and_not_before() {
    let site = Site::new();
    assert_eq!(site.once(&[]).0, 0);
    site.lab.link("p", false);
    let first_suspect = Instant::now();
    let (code, records) = site.once(&[]);
    assert_eq!(code, 1, "{records:#?}");
    assert_eq!(decision(&records).0, "SUSPECT");
    let mut confirmed = None;
    while first_suspect.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(500));
        let (code, records) = site.once(&[]);
        let (state, message) = decision(&records);
        match code {
            1 => assert_eq!(state, "SUSPECT", "{message}"),
            2 => {
                assert_eq!(state, "DOWN", "{message}");
                confirmed = Some(first_suspect.elapsed());
                break;
            }
            other => panic!("exit {other}: {state}: {message}"),
        }
    }
    let took = confirmed.expect("DOWN was never confirmed");
    assert!(
        took >= Duration::from_secs(3),
        "confirmed after {took:?}, before the 3 s threshold"
    );
    // The primary returns: UP again at once, and the timer starts afresh.
    site.lab.link("p", true);
    assert_eq!(site.once(&[]).0, 0);
    site.lab.link("p", false);
    assert_eq!(
        site.once(&[]).0,
        1,
        "a new outage starts below the threshold"
    );
}

#[test]
fn blocked_icmp_with_tcp_up_is_up_with_a_warning() {
    let site = Site::new();
    site.lab.nft("p", "table inet noping {\n chain input {\n type filter hook input priority 0;\n icmp type echo-request drop\n }\n}\n");
    for _ in 0..3 {
        let (code, records) = site.once(&["--icmp"]);
        let (state, message) = decision(&records);
        assert_eq!((code, state.as_str()), (1, "UP"), "{message}");
        assert!(message.contains("ping is blocked"), "{message}");
        std::thread::sleep(Duration::from_millis(1200));
    }
}

#[test]
fn cut_path_while_the_witness_sees_the_primary_is_never_down() {
    let site = Site::new();
    let primary = site.primary.clone();
    site.lab.nft(
        "f",
        &format!("table inet cut {{\n chain output {{\n type filter hook output priority 0;\n ip daddr {primary} drop\n }}\n}}\n"),
    );
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(6) {
        let (code, records) = site.once(&[]);
        let (state, message) = decision(&records);
        assert_eq!((code, state.as_str()), (1, "PARTITION"), "{message}");
        assert!(message.contains("still reaches the primary"), "{message}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn isolated_failover_cannot_decide() {
    let site = Site::new();
    site.lab.link("f", false);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        let (code, records) = site.once(&[]);
        let (state, message) = decision(&records);
        assert_eq!((code, state.as_str()), (3, "UNKNOWN"), "{message}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn flapping_below_the_threshold_is_never_down() {
    let site = Site::new();
    let started = Instant::now();
    let mut up = true;
    while started.elapsed() < Duration::from_secs(9) {
        up = !up;
        site.lab.link("p", up);
        let (code, records) = site.once(&[]);
        assert_ne!(code, 2, "flapping confirmed DOWN: {}", decision(&records).1);
        std::thread::sleep(Duration::from_millis(1500));
    }
}

#[test]
fn run_fires_exec_once_even_with_two_watchers() {
    let site = Site::new();
    site.lab.link("p", false);
    let fired = site.dir.path().join("fired");
    let exec = format!("echo $MAESTRO_WATCH_TARGET >> {}", fired.display());
    let url = format!("http://{}/lui/", site.primary);
    let args = [
        "--format",
        "json",
        "run",
        "--tcp",
        "80",
        "--http",
        &url,
        "--probe-timeout",
        "1s",
        "--threshold",
        "2s",
        "--interval",
        "500ms",
        "--for",
        "7s",
        "--exec",
        &exec,
    ];
    let spawn = || {
        site.lab
            .command("f", WATCH)
            .arg("--config")
            .arg(&site.config)
            .arg("--state-dir")
            .arg(site.dir.path().join("state-f"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let lines = std::fs::read_to_string(&fired).unwrap_or_default();
    assert_eq!(
        lines,
        format!("{}\n", site.primary),
        "exec must fire exactly once"
    );
    for out in [a, b] {
        assert_eq!(out.status.code(), Some(2));
        let records = parse_json_lines(&String::from_utf8(out.stdout).unwrap()).unwrap();
        let states: Vec<&str> = records
            .iter()
            .filter(|r| r["type"] == "event")
            .map(|r| r["state"].as_str().unwrap())
            .collect();
        assert_eq!(states.last(), Some(&"DOWN"), "{states:?}");
        assert!(!states.contains(&"UP"), "{states:?}");
    }
}

// ---------------------------------------------------------------------
// Hostile and long-running cases. Most run on loopback without a lab.

use std::io::{BufReader, Read};
use std::net::TcpListener;
use std::process::{Command, Stdio};

fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// maestro-watch with no config file and its own state folder.
fn watch_cmd(state: &std::path::Path, args: &[&str]) -> Command {
    let mut c = Command::new(WATCH);
    c.args(["--config", "/dev/null", "--state-dir"])
        .arg(state)
        .args(args)
        .env("NO_COLOR", "1");
    c
}

/// The processes whose process group is `pgid` (from /proc).
fn group_members(pgid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after ')'.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let zombie = fields.first() == Some(&"Z");
        if !zombie && fields.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(pgid) {
            out.push(pid);
        }
    }
    out
}

#[test]
fn exec_is_killed_with_its_whole_process_group_at_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = TcpListener::bind("127.0.0.1:0").unwrap();
    let gw = format!("127.0.0.1:{}", gateway.local_addr().unwrap().port());
    let down = format!("127.0.0.1:{}", closed_port());
    let pgfile = dir.path().join("pgid");
    let children = dir.path().join("children");
    // A runbook whose children outlive its shell unless the group is killed.
    let exec = format!(
        "echo $$ > {pg}; sleep 300 & echo $! >> {c}; sleep 301 & echo $! >> {c}; wait",
        pg = pgfile.display(),
        c = children.display()
    );
    let started = Instant::now();
    let out = watch_cmd(
        dir.path(),
        &[
            "--format",
            "json",
            "run",
            "--tcp",
            &down,
            "--gateway",
            &gw,
            "--probe-timeout",
            "1s",
            "--threshold",
            "0s",
            "--interval",
            "300ms",
            "--for",
            "4s",
            "--exec",
            &exec,
            "--exec-timeout",
            "1s",
        ],
    )
    // The command's output goes to the watcher's stderr: not a pipe here,
    // which a surviving child would hold open.
    .stderr(Stdio::null())
    .output()
    .unwrap();
    let took = started.elapsed();
    let pgid: u32 = std::fs::read_to_string(&pgfile)
        .expect("the exec command ran")
        .trim()
        .parse()
        .unwrap();
    let mut left = group_members(pgid);
    for pid in std::fs::read_to_string(&children).unwrap().lines() {
        let pid: u32 = pid.trim().parse().unwrap();
        let alive = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            !s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        });
        if alive && !left.contains(&pid) {
            left.push(pid);
        }
    }
    for pid in &left {
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
    }
    assert!(
        left.is_empty(),
        "processes of the exec command live on: {left:?}"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let records = parse_json_lines(&stdout).unwrap();
    let exec_record = records
        .iter()
        .find(|r| r["type"] == "exec")
        .unwrap_or_else(|| panic!("no exec record: {stdout}"));
    assert_eq!(exec_record["status"], "CRITICAL", "{exec_record}");
    assert!(
        exec_record["outcome"]
            .as_str()
            .unwrap()
            .contains("killed after 1.0s (its whole process group)"),
        "{exec_record}"
    );
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

/// Starts `run` with stdout piped, waits for its first event line, and
/// returns the child and a reader of the rest.
fn start_run(state: &std::path::Path, args: &[&str]) -> (Child, std::thread::JoinHandle<String>) {
    let mut child = watch_cmd(state, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        let _ = BufReader::new(stdout).read_to_string(&mut all);
        all
    });
    (child, reader)
}

fn sigterm(child: &Child) {
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
}

/// Waits up to `limit` for the child; kills it after.
fn wait_for(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn sigterm_ends_run_at_once_with_the_summary_between_and_during_evaluations() {
    let dir = tempfile::tempdir().unwrap();
    let up = TcpListener::bind("127.0.0.1:0").unwrap();
    let up = format!("127.0.0.1:{}", up.local_addr().unwrap().port());
    // Between evaluations: the watcher sleeps its interval.
    let (mut child, reader) = start_run(
        dir.path(),
        &[
            "--format",
            "json",
            "run",
            "--tcp",
            &up,
            "--probe-timeout",
            "1s",
            "--interval",
            "30s",
        ],
    );
    std::thread::sleep(Duration::from_millis(1500));
    let sent = Instant::now();
    sigterm(&child);
    let status = wait_for(&mut child, Duration::from_secs(10)).expect("run ended");
    let took = sent.elapsed();
    let records = parse_json_lines(&reader.join().unwrap()).unwrap();
    assert_eq!(status.code(), Some(143), "{records:#?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(records.first().unwrap()["type"], "event");
    let last = records.last().unwrap();
    assert_eq!(last["type"], "summary", "{records:#?}");
    assert!(
        records
            .iter()
            .any(|r| r["type"] == "check" && r["name"] == "decision"),
        "{records:#?}"
    );

    // During an evaluation: an HTTP probe of a server that never answers
    // holds it for the probe timeout (20 s).
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/lui/",
        silent.local_addr().unwrap().port()
    );
    let (mut child, reader) = start_run(
        dir.path(),
        &[
            "--format",
            "json",
            "run",
            "--http",
            &url,
            "--probe-timeout",
            "20s",
        ],
    );
    std::thread::sleep(Duration::from_millis(1000));
    let sent = Instant::now();
    sigterm(&child);
    let status = wait_for(&mut child, Duration::from_secs(10)).expect("run ended");
    let took = sent.elapsed();
    let records = parse_json_lines(&reader.join().unwrap()).unwrap();
    assert_eq!(status.code(), Some(143), "{records:#?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let last = records.last().unwrap();
    assert_eq!(last["type"], "summary", "{records:#?}");
    let decision = records
        .iter()
        .find(|r| r["type"] == "check" && r["name"] == "decision")
        .unwrap();
    assert!(
        decision["message"]
            .as_str()
            .unwrap()
            .contains("stopped before the first evaluation"),
        "{decision}"
    );
    drop(silent);
}

#[test]
fn a_probe_set_of_icmp_alone_is_refused_by_once_run_and_config_check() {
    let dir = tempfile::tempdir().unwrap();
    let gw = TcpListener::bind("127.0.0.1:0").unwrap();
    let gw = format!("127.0.0.1:{}", gw.local_addr().unwrap().port());
    let icmp_alone = ["--icmp-host", "127.0.0.1", "--gateway", &gw];
    for (mode, extra) in [("once", &[][..]), ("run", &["--for", "1s"][..])] {
        let mut args = vec![mode];
        args.extend_from_slice(&icmp_alone);
        args.extend_from_slice(extra);
        let out = watch_cmd(dir.path(), &args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{mode}: {err}");
        assert!(
            err.contains("every probe is ICMP (--icmp-host"),
            "{mode}: {err}"
        );
    }
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "[watch]\ntarget = \"127.0.0.1\"\ntcp_ports = []\nicmp = true\n",
    )
    .unwrap();
    let out = Command::new(WATCH)
        .arg("--config")
        .arg(&cfg)
        .arg("--state-dir")
        .arg(dir.path())
        .args(["--format", "json", "config", "check"])
        .output()
        .unwrap();
    let records = parse_json_lines(&String::from_utf8(out.stdout).unwrap()).unwrap();
    let check = records.iter().find(|r| r["name"] == "watch").unwrap();
    assert_eq!(out.status.code(), Some(2), "{records:#?}");
    assert_eq!(check["status"], "CRITICAL");
    let m = check["message"].as_str().unwrap();
    assert!(
        m.contains("[watch] tcp_ports = []") && m.contains("[watch] icmp = true"),
        "{m}"
    );
    std::fs::write(&cfg, "[watch]\ntarget = \"127.0.0.1\"\ntcp_ports = [80]\n").unwrap();
    let out = Command::new(WATCH)
        .arg("--config")
        .arg(&cfg)
        .arg("--state-dir")
        .arg(dir.path())
        .args(["config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

/// The case that started it: ping dropped at the primary while TCP 80
/// answers. A config probing by ICMP alone said DOWN; it is refused now.
#[test]
fn an_icmp_only_watch_is_refused_instead_of_fooled_by_a_blocked_ping() {
    let site = Site::new();
    site.lab.nft("p", "table inet noping {\n chain input {\n type filter hook input priority 0;\n icmp type echo-request drop\n }\n}\n");
    let primary = site.primary.clone();
    let out = site.watch(
        "f",
        &[
            "--format",
            "json",
            "once",
            "--icmp-host",
            &primary,
            "--probe-timeout",
            "1s",
            "--threshold",
            "0s",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("every probe is ICMP"), "{text}");
    assert!(!text.contains("DOWN"), "{text}");
}

#[test]
fn a_witness_that_writes_without_end_is_cut_off_and_unreachable() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let up = TcpListener::bind("127.0.0.1:0").unwrap();
    let up = format!("127.0.0.1:{}", up.local_addr().unwrap().port());
    let config = dir.path().join("config.toml");
    // A witness whose maestro-watch writes one line, forever.
    let endless = dir.path().join("endless-witness");
    std::fs::write(&endless, "#!/bin/sh\nexec yes '{\"type\":\"check\"}'\n").unwrap();
    std::fs::set_permissions(
        &endless,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(
        &config,
        format!(
            "[[watch.witnesses]]\nhost = \"{}\"\nport = {}\nuser = \"{}\"\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\nconnect_timeout = \"2s\"\ncommand = \"{}\"\n",
            sshd.addr(),
            sshd.port(),
            sshd.user(),
            sshd.user_key_path().display(),
            sshd.known_hosts().display(),
            endless.display()
        ),
    )
    .unwrap();
    let started = Instant::now();
    let out = Command::new(WATCH)
        .arg("--config")
        .arg(&config)
        .arg("--state-dir")
        .arg(dir.path())
        .args([
            "--format",
            "json",
            "once",
            "--tcp",
            &up,
            "--probe-timeout",
            "1s",
        ])
        .output()
        .unwrap();
    let took = started.elapsed();
    let records = parse_json_lines(&String::from_utf8(out.stdout).unwrap()).unwrap();
    let witness = records
        .iter()
        .find(|r| {
            r["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("witness "))
        })
        .unwrap();
    let m = witness["message"].as_str().unwrap();
    assert!(m.contains("more than 1 MiB of output"), "{m}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn run_fires_exec_and_goes_on_when_stdout_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = TcpListener::bind("127.0.0.1:0").unwrap();
    let gw = format!("127.0.0.1:{}", gateway.local_addr().unwrap().port());
    let down = format!("127.0.0.1:{}", closed_port());
    let fired = dir.path().join("fired");
    let exec = format!("touch {}", fired.display());
    // /dev/full: every write fails with ENOSPC, not EPIPE.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = watch_cmd(
        dir.path(),
        &[
            "run",
            "--tcp",
            &down,
            "--gateway",
            &gw,
            "--probe-timeout",
            "1s",
            "--threshold",
            "0s",
            "--interval",
            "300ms",
            "--for",
            "3s",
            "--exec",
            &exec,
        ],
    )
    .stdout(Stdio::from(full))
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(fired.exists(), "--exec did not fire: {stderr}");
    assert_ne!(out.status.code(), Some(130), "{stderr}");
    assert_eq!(
        stderr.matches("cannot write the events to stdout").count(),
        1,
        "{stderr}"
    );
}

/// A fake HTTP proxy that answers every request 200 (so a probe going
/// through it would read the primary as up).
fn fake_proxy() -> (u16, std::thread::JoinHandle<()>) {
    use std::io::Write;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    l.set_nonblocking(true).unwrap();
    let handle = std::thread::spawn(move || {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(4) {
            match l.accept() {
                Ok((s, _)) => {
                    use std::io::BufRead;
                    s.set_nonblocking(false).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                    let mut r = BufReader::new(s.try_clone().unwrap());
                    let mut w = s;
                    let head = |r: &mut BufReader<std::net::TcpStream>| {
                        let mut first = String::new();
                        let _ = r.read_line(&mut first);
                        let mut l = String::from("x");
                        while !l.trim_end().is_empty() {
                            l.clear();
                            if r.read_line(&mut l).unwrap_or(0) == 0 {
                                break;
                            }
                        }
                        first
                    };
                    // ureq tunnels even http:// through a proxy with CONNECT.
                    if head(&mut r).starts_with("CONNECT") {
                        let _ = w.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                        head(&mut r);
                    }
                    let _ = w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    (port, handle)
}

#[test]
fn the_http_probe_never_goes_through_a_proxy_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let (proxy, server) = fake_proxy();
    let down = closed_port();
    let proxy_url = format!("http://127.0.0.1:{proxy}");
    let gw = format!("127.0.0.1:{proxy}");
    let out = watch_cmd(
        dir.path(),
        &[
            "--format",
            "json",
            "once",
            "--tcp",
            &format!("127.0.0.1:{down}"),
            "--http",
            &format!("http://127.0.0.1:{down}/lui/"),
            "--gateway",
            &gw,
            "--probe-timeout",
            "1s",
        ],
    )
    .env("http_proxy", &proxy_url)
    .env("HTTP_PROXY", &proxy_url)
    .env("ALL_PROXY", &proxy_url)
    .output()
    .unwrap();
    server.join().unwrap();
    let records = parse_json_lines(&String::from_utf8(out.stdout).unwrap()).unwrap();
    let (state, message) = decision(&records);
    assert_ne!(state, "UP", "{message}: {records:#?}");
}

#[test]
fn an_answering_ping_with_every_service_down_is_not_up() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = TcpListener::bind("127.0.0.1:0").unwrap();
    let gw = format!("127.0.0.1:{}", gateway.local_addr().unwrap().port());
    let out = watch_cmd(
        dir.path(),
        &[
            "--format",
            "json",
            "once",
            "--target",
            "127.0.0.1",
            "--tcp",
            &closed_port().to_string(),
            "--icmp",
            "--gateway",
            &gw,
            "--probe-timeout",
            "1s",
        ],
    )
    .output()
    .unwrap();
    let records = parse_json_lines(&String::from_utf8(out.stdout).unwrap()).unwrap();
    let local = records.iter().find(|r| r["name"] == "local").unwrap();
    if local["message"] != "1 of 2 probes answer from here" {
        // No ping here (no binary, or no permission): nothing to show.
        eprintln!("ping does not answer here: {local}");
        return;
    }
    let (state, message) = decision(&records);
    assert_eq!(state, "UNKNOWN", "{message}");
    assert!(message.contains("Maestro may hang"), "{message}");
    assert_eq!(out.status.code(), Some(3));
}
