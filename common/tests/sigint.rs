//! SIGINT ends a tool with exit code 130 and SIGTERM with 143: at once when
//! it waits in an interruptible loop, and within the grace period when it is
//! stuck in a call that does not look at the flag. A tool whose loop ends
//! with a report has it written before the exit.
//!
//! The tool runs in a child process (this test binary started again with a
//! filter), because a signal handler is process-wide.

use clap::Parser;
use maestro_common::cli::{self, Context, GlobalArgs, Tool, ToolError};
use maestro_common::{signal, Report};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "MAESTRO_HA_TEST_SIGINT_CHILD";

#[derive(Debug, Parser)]
#[command(name = "sleepy")]
struct Sleepy {
    #[command(flatten)]
    globals: GlobalArgs,
    /// Sleep without looking at the interrupted flag.
    #[arg(long)]
    stuck: bool,
    /// End the loop with a report when interrupted, as `maestro-watch run` does.
    #[arg(long)]
    report: bool,
}

impl Tool for Sleepy {
    const NAME: &'static str = "sleepy";

    fn globals(&self) -> &GlobalArgs {
        &self.globals
    }

    fn run(self, _ctx: &mut Context) -> Result<Report, ToolError> {
        println!("\nready");
        std::io::stdout().flush().ok();
        if self.stuck {
            std::thread::sleep(Duration::from_secs(30));
        } else if !signal::sleep(Duration::from_secs(30)) {
            if self.report {
                let mut r = Report::new("sleepy", Some("run"));
                r.push(maestro_common::Check::ok("loop", "stopped by a signal"));
                return Ok(r);
            }
            return Err(ToolError::Interrupted);
        }
        Err(ToolError::Usage("slept 30 s without a signal".into()))
    }
}

#[test]
#[ignore = "run as a child process by the tests below"]
fn child() {
    let Some(mode) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let mut args = vec!["sleepy".to_string()];
    if mode == "stuck" {
        args.push("--stuck".into());
    }
    if mode == "report" {
        args.extend(["--report".into(), "--format".into(), "json".into()]);
    }
    std::process::exit(cli::run::<Sleepy, _, _>(args).into());
}

/// Start the child in `mode`, send it `signal` once it is ready; its exit
/// code, how long it took after the signal, and what it printed after "ready".
fn interrupt_with(mode: &str, signal: libc::c_int) -> (Option<i32>, Duration, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, mode)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines
            .next()
            .expect("child ended before it was ready")
            .unwrap();
        if line.trim_end().ends_with("ready") {
            break;
        }
    }
    let sent = Instant::now();
    // SAFETY: kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(rc, 0);
    let reader = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());
    let deadline = sent + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let took = sent.elapsed();
            let rest = reader.join().unwrap().join("\n");
            return (status.code(), took, rest);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("child did not exit within 10 s of signal {signal}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn interrupt(mode: &str) -> (Option<i32>, Duration) {
    let (code, took, _) = interrupt_with(mode, libc::SIGINT);
    (code, took)
}

#[test]
fn sigint_exits_130_promptly() {
    let (code, took) = interrupt("polling");
    assert_eq!(code, Some(130));
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[test]
fn sigint_exits_130_even_when_stuck() {
    let (code, took) = interrupt("stuck");
    assert_eq!(code, Some(130));
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn sigterm_exits_143_promptly_and_even_when_stuck() {
    let (code, took, _) = interrupt_with("polling", libc::SIGTERM);
    assert_eq!(code, Some(143));
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let (code, took, _) = interrupt_with("stuck", libc::SIGTERM);
    assert_eq!(code, Some(143));
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn a_loop_stopped_by_sigterm_writes_its_summary_first() {
    let (code, _, out) = interrupt_with("report", libc::SIGTERM);
    assert_eq!(code, Some(143));
    let summary = out
        .lines()
        .find(|l| l.contains("\"type\":\"summary\""))
        .unwrap_or_else(|| panic!("no summary record in {out:?}"));
    assert!(summary.contains("\"status\":\"OK\""), "{summary}");
}
