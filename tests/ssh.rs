//! The SSH client against a real OpenSSH server (see `support::sshd`).

mod support;

use std::fs;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use maestro_common::ssh::{SshClient, SshError};
use maestro_common::Status;
use support::sshd::{keygen, Sshd};

const T: Duration = Duration::from_secs(10);

fn connect(sshd: &Sshd) -> SshClient {
    SshClient::connect(&sshd.options())
        .unwrap_or_else(|e| panic!("connect failed: {e}\nsshd log:\n{}", sshd.log()))
}

#[test]
fn exec_returns_stdout_stderr_and_exit_status() {
    let sshd = Sshd::start();
    let client = connect(&sshd);
    let out = client.exec("echo out; echo err >&2; exit 3", T).unwrap();
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
    assert_eq!(out.exit_status, 3);
    assert_eq!(out.exit_signal, None);
    assert!(!out.success());

    // The same connection serves several commands.
    let out = client.exec("true", T).unwrap();
    assert!(out.success(), "{out:?}");
}

#[test]
fn host_key_fingerprint_matches_ssh_keygen() {
    let sshd = Sshd::start();
    let client = connect(&sshd);
    assert_eq!(client.host_key_fingerprint(), sshd.host_key_fingerprint());
}

#[test]
fn a_command_killed_by_a_signal_is_not_a_success() {
    let sshd = Sshd::start();
    let client = connect(&sshd);
    let out = client.exec("kill -TERM $$", T).unwrap();
    assert_eq!(out.exit_signal.as_deref(), Some("TERM"), "{out:?}");
    assert_eq!(out.exit_status, -1);
    assert!(!out.success());
}

#[test]
fn a_command_that_outlives_its_timeout_fails_with_timeout() {
    let sshd = Sshd::start();
    let client = connect(&sshd);
    let pid_file = sshd.dir().join("sleep.pid");
    let command = format!("echo $$ > {}; exec sleep 30", pid_file.display());
    let started = Instant::now();
    let err = client.exec(&command, Duration::from_secs(1)).unwrap_err();
    let took = started.elapsed();
    // OpenSSH does not signal a command without a pty when its channel
    // closes, so the sleep lives on; end it here rather than leave it behind.
    if let Ok(pid) = fs::read_to_string(&pid_file) {
        let _ = std::process::Command::new("kill").arg(pid.trim()).status();
    }
    assert!(matches!(err, SshError::Timeout { .. }), "{err:?}");
    assert_eq!(err.status(), Status::Unknown);
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(took >= Duration::from_secs(1), "took {took:?}");

    // The connection stays usable after a timed-out command.
    let out = client.exec("echo still here", T).unwrap();
    assert_eq!(out.stdout, b"still here\n");
}

#[test]
fn a_chatty_command_that_outlives_its_timeout_fails_with_timeout() {
    let sshd = Sshd::start();
    let client = connect(&sshd);
    let started = Instant::now();
    let err = client
        .exec(
            "while :; do echo out; echo err >&2; done",
            Duration::from_secs(1),
        )
        .unwrap_err();
    assert!(matches!(err, SshError::Timeout { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn exec_with_input_round_trips() {
    let sshd = Sshd::start();
    let client = connect(&sshd);
    let out = client.exec_with_input("cat", b"hello\nworld\n", T).unwrap();
    assert_eq!(out.stdout, b"hello\nworld\n");
    assert!(out.success());

    // More than the SSH windows hold, both ways and on both streams, so a
    // client that fed stdin before draining the output would deadlock.
    let big: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let out = client.exec_with_input("tee /dev/stderr", &big, T).unwrap();
    assert_eq!(out.stdout.len(), big.len());
    assert!(out.stdout == big, "stdout differs from the input");
    assert!(out.stderr == big, "stderr differs from the input");
}

#[test]
fn exec_closes_stdin_so_readers_do_not_hang() {
    let sshd = Sshd::start();
    let client = connect(&sshd);
    let out = client.exec("cat; echo done", T).unwrap();
    assert_eq!(out.stdout, b"done\n");
}

#[test]
fn sftp_reads_a_file_and_refuses_a_too_large_one() {
    let sshd = Sshd::start();
    let client = connect(&sshd);
    let path = sshd.dir().join("remote.txt");
    let content: Vec<u8> = (0..100_000u32).map(|i| (i % 256) as u8).collect();
    fs::write(&path, &content).unwrap();
    let remote = path.to_str().unwrap();

    let got = client.read_file(remote, 100_000, T).unwrap();
    assert!(got == content, "SFTP content differs");

    let err = client.read_file(remote, 99_999, T).unwrap_err();
    assert!(matches!(err, SshError::Sftp { .. }), "{err:?}");
    assert!(err.to_string().contains("limit"), "{err}");

    let missing = sshd.dir().join("missing");
    let err = client
        .read_file(missing.to_str().unwrap(), 10, T)
        .unwrap_err();
    assert!(err.to_string().contains("no such file"), "{err}");

    // Exec still works after SFTP on the same connection.
    assert!(client.exec("true", T).unwrap().success());
}

#[test]
fn an_unknown_host_key_is_refused_unless_explicitly_accepted() {
    let sshd = Sshd::start();
    let mut opts = sshd.options();
    opts.known_hosts = sshd.dir().join("new/dir/known_hosts");

    let err = SshClient::connect(&opts).unwrap_err();
    assert!(matches!(err, SshError::UnknownHostKey { .. }), "{err:?}");
    assert_eq!(err.status(), Status::Critical);
    let msg = err.to_string();
    assert!(msg.contains(&sshd.host_key_fingerprint()), "{msg}");
    assert!(msg.contains("ssh-keyscan"), "{msg}");
    assert!(!opts.known_hosts.exists());
    assert!(
        !sshd.log().contains("Accepted publickey"),
        "authenticated before checking the host key:\n{}",
        sshd.log()
    );

    opts.accept_new_host_key = true;
    let client = SshClient::connect(&opts).unwrap();
    assert!(client.exec("true", T).unwrap().success());
    // Makes sure the check above could have seen an authentication.
    assert!(sshd.log().contains("Accepted publickey"), "{}", sshd.log());
    let written = fs::read_to_string(&opts.known_hosts).unwrap();
    assert_eq!(
        written,
        format!("[127.0.0.1]:{} {}\n", sshd.port(), sshd.host_public_key())
    );

    // Now known, so it is accepted without the flag.
    opts.accept_new_host_key = false;
    SshClient::connect(&opts).unwrap();
}

#[test]
fn a_changed_host_key_is_refused_even_with_accept_new() {
    let sshd = Sshd::start();
    let other = sshd.dir().join("other_host_key");
    keygen(&other);
    let other_pub = fs::read_to_string(other.with_extension("pub")).unwrap();
    let mut opts = sshd.options();
    opts.accept_new_host_key = true;
    let known = format!("[127.0.0.1]:{} {other_pub}", sshd.port());
    fs::write(&opts.known_hosts, &known).unwrap();

    let err = SshClient::connect(&opts).unwrap_err();
    assert!(matches!(err, SshError::ChangedHostKey { .. }), "{err:?}");
    assert_eq!(err.status(), Status::Critical);
    assert!(
        err.to_string().contains(&sshd.host_key_fingerprint()),
        "{err}"
    );
    assert_eq!(fs::read_to_string(&opts.known_hosts).unwrap(), known);
}

#[test]
fn a_revoked_host_key_is_refused() {
    let sshd = Sshd::start();
    let opts = sshd.options();
    let mut known = fs::read_to_string(&opts.known_hosts).unwrap();
    known.push_str(&format!("@revoked * {}\n", sshd.host_public_key()));
    fs::write(&opts.known_hosts, known).unwrap();
    let err = SshClient::connect(&opts).unwrap_err();
    assert!(matches!(err, SshError::RevokedHostKey { .. }), "{err:?}");
    assert_eq!(err.status(), Status::Critical);
}

#[test]
fn lines_libssh2_cannot_parse_do_not_hide_later_entries() {
    let sshd = Sshd::start();
    let opts = sshd.options();
    let right = fs::read_to_string(&opts.known_hosts).unwrap();
    let known = format!(
        "@cert-authority *.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA\n\
         garbage\n\
         sk.example.org sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t\n\
         {right}"
    );
    fs::write(&opts.known_hosts, known).unwrap();
    SshClient::connect(&opts).unwrap();
}

#[test]
fn a_wrong_user_key_is_refused() {
    let sshd = Sshd::start();
    let wrong = sshd.dir().join("wrong_key");
    keygen(&wrong);
    let mut opts = sshd.options();
    opts.identity_file = Some(wrong);
    let err = SshClient::connect(&opts).unwrap_err();
    assert!(matches!(err, SshError::Auth { .. }), "{err:?}");
    assert_eq!(err.status(), Status::Unknown);

    opts.identity_file = Some(sshd.dir().join("no_such_key"));
    let err = SshClient::connect(&opts).unwrap_err();
    assert!(matches!(err, SshError::Auth { .. }), "{err:?}");
}

#[test]
fn a_closed_port_fails_fast_with_connect() {
    // Bind and release: nothing listens there afterwards.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let mut opts = maestro_common::ssh::SshOptions::new("127.0.0.1", "root", dir.path().join("kh"));
    opts.port = port;
    let started = Instant::now();
    let err = SshClient::connect(&opts).unwrap_err();
    assert!(matches!(err, SshError::Connect { .. }), "{err:?}");
    assert_eq!(err.status(), Status::Unknown);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_server_that_never_speaks_ssh_times_out() {
    // Listening but never accepting: the kernel completes the TCP handshake,
    // then nothing ever arrives.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut opts = maestro_common::ssh::SshOptions::new("127.0.0.1", "root", dir.path().join("kh"));
    opts.port = listener.local_addr().unwrap().port();
    opts.connect_timeout = Duration::from_secs(1);
    let started = Instant::now();
    let err = SshClient::connect(&opts).unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, SshError::Timeout { .. }), "{err:?}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    drop(listener);
}

#[test]
fn tcp_exchange_connects_from_the_server_and_reports_refusals_and_silence() {
    use std::io::{Read, Write};
    let sshd = Sshd::start();
    let client = connect(&sshd);
    // A service that greets and closes: its bytes come back, closed.
    let greeter = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = greeter.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = greeter.accept().unwrap();
        let mut got = [0u8; 5];
        s.read_exact(&mut got).unwrap();
        s.write_all(b"hello ").unwrap();
        s.write_all(&got).unwrap();
    });
    let x = client
        .tcp_exchange("127.0.0.1", port, b"world", 1024, T)
        .unwrap();
    server.join().unwrap();
    assert_eq!(x.received, b"hello world");
    assert!(x.closed);
    // Nothing listens: the server's refusal, at once.
    let free = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = free.local_addr().unwrap().port();
    drop(free);
    let started = Instant::now();
    let e = client
        .tcp_exchange("127.0.0.1", closed_port, b"", 64, T)
        .unwrap_err();
    assert!(matches!(e, SshError::Channel { .. }), "{e}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // A peer that accepts and says nothing: what came (nothing) at the bound, still open.
    let mute = TcpListener::bind("127.0.0.1:0").unwrap();
    let mute_port = mute.local_addr().unwrap().port();
    let started = Instant::now();
    let x = client
        .tcp_exchange("127.0.0.1", mute_port, b"", 64, Duration::from_millis(500))
        .unwrap();
    assert!(x.received.is_empty() && !x.closed, "{x:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    // The session still serves commands afterwards.
    assert!(client.exec("true", T).unwrap().success());
    drop(mute);
}

/// Every process below `pid` (its children, theirs, ...), from /proc.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // "PID (COMM) STATE PPID ...": COMM may hold spaces, so after the last ')'.
        let after = &stat[stat.rfind(')').map_or(0, |i| i + 1)..];
        if let Some(ppid) = after.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
            parent_of.push((p, ppid));
        }
    }
    let mut out = Vec::new();
    let mut queue = vec![pid];
    while let Some(q) = queue.pop() {
        for &(p, pp) in &parent_of {
            if pp == q && !out.contains(&p) {
                out.push(p);
                queue.push(p);
            }
        }
    }
    out
}

#[test]
fn tcp_exchange_through_a_session_that_dies_is_an_error_not_a_closed_peer() {
    let sshd = Sshd::start();
    let client = SshClient::connect(&sshd.options()).unwrap();
    // A peer that accepts and never answers; the SSH session serving the
    // channel is killed while the exchange waits for it.
    let mute = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = mute.local_addr().unwrap().port();
    let listener = sshd.pid();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        // Only the per-connection processes this test's sshd started.
        for p in descendants(listener) {
            // SAFETY: kill(2) with a pid read from /proc and a valid signal.
            unsafe { libc::kill(p as i32, libc::SIGKILL) };
        }
    });
    let started = Instant::now();
    let r = client.tcp_exchange("127.0.0.1", port, b"", 64, Duration::from_secs(5));
    killer.join().unwrap();
    match r {
        Err(SshError::Channel { .. }) => {}
        other => panic!("a dead session reads as {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(8));
    drop(mute);
}
