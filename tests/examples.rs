//! The integrations in examples/: every shell script parses (`bash -n`),
//! the runbooks' dry runs print the tools in the runbook's order and run
//! nothing, and the guide's "The examples" section lists every file.

use std::path::{Path, PathBuf};
use std::process::Command;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn all_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    files(&examples(), &mut out);
    out.sort();
    out
}

#[test]
fn every_shell_script_parses() {
    let scripts: Vec<PathBuf> = all_files()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "sh"))
        .collect();
    assert!(scripts.len() >= 4, "{scripts:?}");
    for s in scripts {
        let out = Command::new("bash").arg("-n").arg(&s).output().unwrap();
        assert!(
            out.status.success(),
            "bash -n {}: {}",
            s.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The `+ ` lines of a dry run, and the exit code.
fn dry_run(script: &str, args: &[&str]) -> (Option<i32>, Vec<String>, String) {
    // An empty PATH apart from bash's own: a dry run that tried to run a
    // tool, ssh or systemctl would fail to find it.
    let out = Command::new("/bin/bash")
        .arg(examples().join(script))
        .arg("--dry-run")
        .args(args)
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let commands = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("+ "))
        .map(str::to_string)
        .collect();
    (out.status.code(), commands, stdout)
}

/// The tool (or program) and subcommand of each printed command, skipping
/// `ssh HOST` and the global flags.
fn shape(commands: &[String]) -> Vec<String> {
    commands
        .iter()
        .map(|c| {
            let mut words: Vec<&str> = c.split_whitespace().collect();
            if words.first() == Some(&"ssh") {
                words.drain(..2);
            }
            let mut out = vec![words[0]];
            let mut i = 1;
            while i < words.len() {
                match words[i] {
                    "--config" => i += 2,
                    w if w.starts_with('-') => break,
                    w => {
                        out.push(w);
                        break;
                    }
                }
            }
            out.join(" ")
        })
        .collect()
}

#[test]
fn failover_dry_run_prints_the_runbook_in_order() {
    let (code, commands, stdout) = dry_run("failover.sh", &[]);
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(
        shape(&commands),
        [
            "maestro-watch once",
            "maestro-fence fence",
            "maestro-redirect move",
            "maestro-redirect check",
            "maestro-snapshot-verify check",
            "maestro-fence check",
            "systemctl start",
            "maestro-logscan",
            "maestro-logscan",
            "maestro-smoketest all",
        ],
        "{stdout}"
    );
    assert!(commands[1].contains("--level isolate"), "{stdout}");
    assert!(
        commands[7].contains("--component db --follow --until-ready"),
        "{stdout}"
    );
    assert!(
        commands[8].contains("--component lui --follow --until-ready"),
        "{stdout}"
    );
    // Both name the time noted before `systemctl start`: an earlier
    // start's lines in the same log never pass for this one.
    let logscans: Vec<&String> = commands
        .iter()
        .filter(|c| c.starts_with("maestro-logscan"))
        .collect();
    assert_eq!(logscans.len(), 2, "{stdout}");
    for c in logscans {
        assert!(c.contains("--since-start-after"), "{stdout}");
    }
    assert!(stdout.contains("dry run: nothing ran"), "{stdout}");
}

#[test]
fn planned_switchover_dry_run_fences_over_ssh_without_the_watch() {
    let (code, commands, stdout) = dry_run("failover.sh", &["--planned"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(
        shape(&commands)[..5],
        [
            "maestro-fence fence",
            "maestro-redirect move",
            "maestro-redirect check",
            "maestro-snapshot-verify check",
            "maestro-fence check",
        ],
        "{stdout}"
    );
    assert!(commands[0].contains("--level ssh"), "{stdout}");
    assert!(!stdout.contains("maestro-watch"), "{stdout}");
}

#[test]
fn failback_dry_run_prints_the_runbook_in_order() {
    let (code, commands, stdout) = dry_run("failback.sh", &["root@maestro1"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(
        shape(&commands),
        [
            "maestro-fence guard",
            "systemctl stop",
            "maestro-fence unfence",
            "maestro-snapshot-verify capture",
            "rsync",
            "rsync",
            "maestro-snapshot-verify check",
            "maestro-fence guard",
            "maestro-redirect undo",
            "maestro-redirect move",
            "maestro-redirect check",
            "systemctl start",
            "maestro-logscan",
            "maestro-smoketest all",
            "maestro-fence unfence",
        ],
        "{stdout}"
    );
    assert!(commands[0].starts_with("ssh root@maestro1 "), "{stdout}");
    assert!(!commands[8].starts_with("ssh "), "undo runs here: {stdout}");
    assert!(commands[9].starts_with("ssh root@maestro1 "), "{stdout}");
    assert!(commands[14].ends_with("unfence --resume-sync"), "{stdout}");
    // The primary's start-up log is judged from the start after its clock
    // was read (an earlier start in the log copied back never passes).
    assert!(
        commands
            .iter()
            .any(|c| c.contains("maestro-logscan") && c.contains("--since-start-after")),
        "{stdout}"
    );
    // Without the primary it refuses, before printing anything.
    let (code, commands, _) = dry_run("failback.sh", &[]);
    assert_eq!((code, commands.len()), (Some(3), 0));
}

#[test]
fn a_failing_step_stops_the_runbook_and_says_where() {
    // Fake tools on PATH: maestro-watch says DOWN (2), maestro-fence fails.
    let bin = tempfile::tempdir().unwrap();
    let log = bin.path().join("ran");
    for (tool, rc) in [
        ("maestro-watch", 2),
        ("maestro-fence", 2),
        ("maestro-snapshot-verify", 0),
    ] {
        let p = bin.path().join(tool);
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\necho {tool} \"$@\" >> {}\nexit {rc}\n",
                log.display()
            ),
        )
        .unwrap();
        let mut perm = std::fs::metadata(&p).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&p, perm).unwrap();
    }
    let out = Command::new("bash")
        .arg(examples().join("failover.sh"))
        .env("PATH", format!("{}:/usr/bin:/bin", bin.path().display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("STOP at \"fence\""), "{stderr}");
    let ran = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        ran.lines().count(),
        2,
        "nothing after the failed fence may run: {ran}"
    );
}

#[test]
fn the_guide_lists_every_example() {
    let guide =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/guide.md"))
            .unwrap();
    let section = guide
        .split("\n## The examples")
        .nth(1)
        .expect("a \"## The examples\" section in docs/guide.md");
    let section = section.split("\n## ").next().unwrap();
    for f in all_files() {
        let rel = f
            .strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")))
            .unwrap();
        let rel = rel.to_string_lossy();
        assert!(
            section.contains(rel.as_ref()),
            "the guide's \"The examples\" section does not list {rel}"
        );
    }
}
