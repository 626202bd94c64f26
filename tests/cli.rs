//! The conventions every binary shares, tested on the real binaries:
//! help and version, exit codes, usage errors, config errors, output
//! formats read back by a consumer's parser, broken pipes.

mod support;

use assert_cmd::Command;
use std::io::Write;
use std::process::Stdio;
use support::plugin_output::{parse_json_lines, parse_nagios};

const TOOLS: [&str; 7] = [
    "maestro-fence",
    "maestro-snapshot-verify",
    "maestro-logscan",
    "maestro-smoketest",
    "maestro-watch",
    "maestro-sync",
    "maestro-redirect",
];

fn bin_path(tool: &str) -> &'static str {
    match tool {
        "maestro-fence" => env!("CARGO_BIN_EXE_maestro-fence"),
        "maestro-snapshot-verify" => env!("CARGO_BIN_EXE_maestro-snapshot-verify"),
        "maestro-logscan" => env!("CARGO_BIN_EXE_maestro-logscan"),
        "maestro-smoketest" => env!("CARGO_BIN_EXE_maestro-smoketest"),
        "maestro-watch" => env!("CARGO_BIN_EXE_maestro-watch"),
        "maestro-sync" => env!("CARGO_BIN_EXE_maestro-sync"),
        "maestro-redirect" => env!("CARGO_BIN_EXE_maestro-redirect"),
        other => panic!("no such tool {other}"),
    }
}

/// A tool with a clean environment: no config or state from the machine.
fn tool(name: &str) -> Command {
    let mut cmd = Command::new(bin_path(name));
    cmd.env_remove("MAESTRO_HA_CONFIG")
        .env_remove("MAESTRO_HA_STATE_DIR")
        .env("NO_COLOR", "1");
    cmd
}

fn write_config(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let p = dir.path().join("config.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn every_tool_answers_help_and_version() {
    for t in TOOLS {
        let out = tool(t).arg("--help").output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{t} --help");
        let help = String::from_utf8(out.stdout).unwrap();
        for flag in [
            "--config",
            "--format",
            "--state-dir",
            "--quiet",
            "--verbose",
            "Exit codes",
        ] {
            assert!(help.contains(flag), "{t} --help lacks {flag}");
        }
        let out = tool(t).arg("--version").output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{t} --version");
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!("{t} {}\n", env!("CARGO_PKG_VERSION"))
        );
    }
}

#[test]
fn usage_errors_exit_3_not_2() {
    for t in TOOLS {
        let out = tool(t).arg("--no-such-flag").output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{t}");
        let out = tool(t)
            .args(["--format", "yaml", "config", "check"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{t}");
        let out = tool(t)
            .args(["-q", "-v", "config", "check"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{t}: -q and -v conflict");
    }
}

#[test]
fn usage_error_in_nagios_format_still_gives_a_status_line() {
    let out = tool("maestro-watch")
        .args(["--format", "nagios", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let parsed = parse_nagios(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(parsed.service, "MAESTRO-WATCH");
    assert_eq!(parsed.status, "UNKNOWN");
    assert!(parsed.text.contains("--bogus"), "{}", parsed.text);
    let out = tool("maestro-watch")
        .args(["--format=json", "--bogus"])
        .output()
        .unwrap();
    let records = parse_json_lines(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(records.last().unwrap()["status"], "UNKNOWN");
}

#[test]
fn config_check_json_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(&dir, "[site]\ninstall_root = \"/srv/maestro\"\n[primary]\nhost = \"maestro1.example.org\"\nport = 2222\n");
    let out = tool("maestro-fence")
        .args(["--format", "json", "config", "check", "--config"])
        .arg(&cfg)
        .arg("--state-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = parse_json_lines(&String::from_utf8(out.stdout).unwrap()).unwrap();
    let check = |name: &str| {
        records
            .iter()
            .find(|r| r["type"] == "check" && r["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        check("primary")["message"],
        "root@maestro1.example.org:2222"
    );
    assert_eq!(check("site")["details"]["lui_home"], "/srv/maestro/lui");
    let summary = records.last().unwrap();
    assert_eq!(summary["status"], "OK");
    assert_eq!(summary["exit_code"], 0);
    assert_eq!(summary["tool"], "maestro-fence");
    assert_eq!(summary["command"], "config check");
}

#[test]
fn config_check_nagios_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(&dir, "[site]\ninstall_root = \"/srv/maestro\"\n");
    let out = tool("maestro-logscan")
        .args(["config", "check", "--format", "nagios", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let parsed = parse_nagios(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(
        (parsed.service.as_str(), parsed.status.as_str()),
        ("MAESTRO-LOGSCAN", "OK")
    );
    assert!(parsed
        .long_output
        .iter()
        .any(|l| l.starts_with("[OK] site: Maestro at /srv/maestro")));
}

#[test]
fn config_errors_name_file_line_and_key_and_exit_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(&dir, "[primary]\nhost = \"a\"\nprot = 22\n");
    let out = tool("maestro-smoketest")
        .args(["config", "check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8(out.stderr).unwrap();
    let expected = format!(
        "maestro-smoketest: error: {}:3: key `primary.prot`: unknown field `prot`",
        cfg.display()
    );
    assert!(err.starts_with(&expected), "{err}");
}

#[test]
fn config_is_found_through_the_environment_and_flag_wins() {
    let dir = tempfile::tempdir().unwrap();
    let env_cfg = write_config(&dir, "[primary]\nhost = \"from-env\"\n");
    let flag_cfg = dir.path().join("flag.toml");
    std::fs::write(&flag_cfg, "[primary]\nhost = \"from-flag\"\n").unwrap();
    let run = |extra: &[&std::ffi::OsStr]| {
        let out = tool("maestro-fence")
            .env("MAESTRO_HA_CONFIG", &env_cfg)
            .args(["config", "check", "--format", "json"])
            .args(extra)
            .output()
            .unwrap();
        let records = parse_json_lines(&String::from_utf8(out.stdout).unwrap()).unwrap();
        records.iter().find(|r| r["name"] == "primary").unwrap()["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(run(&[]), "root@from-env:22");
    assert_eq!(
        run(&["--config".as_ref(), flag_cfg.as_os_str()]),
        "root@from-flag:22"
    );
    assert_eq!(
        run(&["--set".as_ref(), "primary.host=from-set".as_ref()]),
        "root@from-set:22"
    );
    // A config file named explicitly must exist.
    let out = tool("maestro-fence")
        .env("MAESTRO_HA_CONFIG", dir.path().join("missing.toml"))
        .args(["config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("MAESTRO_HA_CONFIG"));
}

#[test]
fn world_readable_identity_file_warns() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id_ed25519");
    std::fs::write(&key, "not really a key").unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let cfg = write_config(
        &dir,
        &format!(
            "[primary]\nhost = \"a\"\nidentity_file = \"{}\"\n",
            key.display()
        ),
    );
    let out = tool("maestro-fence")
        .args(["config", "check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("readable by every user"));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    tool("maestro-fence")
        .args(["config", "check", "--config"])
        .arg(&cfg)
        .assert()
        .code(0);
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(&dir, "");
    // maestro-logscan needs nothing more than an empty config to be OK.
    let mut child = std::process::Command::new(bin_path("maestro-logscan"))
        .args(["config", "check", "-v", "--format", "json", "--config"])
        .arg(&cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.is_empty(),
        "a broken pipe is not an error to report: {err}"
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn colour_only_on_request_of_a_tty() {
    // stdout is a pipe here, so even without NO_COLOR there is no colour.
    let out = Command::new(bin_path("maestro-fence"))
        .env_remove("NO_COLOR")
        .env_remove("MAESTRO_HA_CONFIG")
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(!out.stdout.contains(&0x1b));
    let mut sink = Vec::new();
    sink.write_all(&out.stdout).unwrap();
    assert!(String::from_utf8(sink).unwrap().contains("OK"));
}

#[test]
fn trycmd_cases() {
    let cases = trycmd::TestCases::new();
    for t in TOOLS {
        cases.register_bin(t, std::path::Path::new(bin_path(t)));
    }
    cases.env("NO_COLOR", "1").case("tests/cmd/*.toml");
}

#[test]
fn a_config_that_is_not_a_regular_file_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("config.toml");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    for t in TOOLS {
        for (path, kind) in [
            (fifo.to_str().unwrap(), "a FIFO"),
            ("/dev/zero", "a character device"),
        ] {
            let started = std::time::Instant::now();
            let out = tool(t)
                .args(["--config", path, "config", "check"])
                .timeout(std::time::Duration::from_secs(20))
                .output()
                .unwrap();
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "{t} --config {path} took {:?}",
                started.elapsed()
            );
            assert_eq!(out.status.code(), Some(3), "{t} --config {path}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains(&format!("{path}: is {kind}, not a regular file")),
                "{t} --config {path}: {err}"
            );
        }
    }
}

#[test]
fn a_config_larger_than_any_real_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = "# padding\n".repeat(200_000);
    let path = write_config(&dir, &big);
    let out = tool("maestro-watch")
        .args(["--config", path.to_str().unwrap(), "config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("larger than 1 MiB"));
}

#[test]
fn every_tool_names_a_typo_in_any_tools_section() {
    let dir = tempfile::tempdir().unwrap();
    for (section, key) in [
        ("fence", "lvels"),
        ("verify", "max_skwe"),
        ("logscan", "componnet"),
        ("smoketest", "mailbx"),
        ("watch", "treshold"),
        ("redirect", "methdos"),
    ] {
        let path = write_config(&dir, &format!("# a comment\n[{section}]\n{key} = 1\n"));
        for t in TOOLS {
            let out = tool(t)
                .args(["--config", path.to_str().unwrap(), "config", "check"])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(3), "{t} with [{section}] {key}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains(&format!(":3: key `{section}.{key}`: unknown field `{key}`")),
                "{t} with [{section}] {key}: {err}"
            );
        }
    }
}

#[test]
fn config_check_runs_the_resolution_a_real_run_does() {
    let dir = tempfile::tempdir().unwrap();
    // logscan: a rule file that does not compile fails config check, as it
    // would fail every scan.
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nid = \"x\"\nseverity = \"critical\"\nregex = \"(unclosed\"\n",
    )
    .unwrap();
    let path = write_config(
        &dir,
        &format!("[logscan]\nrules = [{:?}]\n", rules.to_str().unwrap()),
    );
    let out = tool("maestro-logscan")
        .args(["--config", path.to_str().unwrap(), "config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("CRITICAL logscan:"));
    // snapshot-verify: a root that is a file fails; roots that exist pass.
    let file_root = dir.path().join("not-a-folder");
    std::fs::write(&file_root, "x").unwrap();
    let path = write_config(
        &dir,
        &format!("[verify]\nroots = [\"lui={}\"]\n", file_root.display()),
    );
    let out = tool("maestro-snapshot-verify")
        .args(["--config", path.to_str().unwrap(), "config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let path = write_config(
        &dir,
        &format!("[verify]\nroots = [\"lui={}\"]\n", dir.path().display()),
    );
    let out = tool("maestro-snapshot-verify")
        .args([
            "--config",
            path.to_str().unwrap(),
            "--state-dir",
            dir.path().join("state").to_str().unwrap(),
            "config",
            "check",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}
