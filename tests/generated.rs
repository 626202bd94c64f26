//! The man pages in man/ and the completions in completions/ are generated
//! from the clap definitions and committed, so that packagers and people
//! reading the repository have them. This test regenerates them all and
//! fails on any difference; `MAESTRO_HA_BLESS=1 cargo test --test generated`
//! (or scripts/gen-docs.sh) rewrites them.

use clap_complete::Shell;
use std::path::{Path, PathBuf};

fn tools() -> Vec<clap::Command> {
    vec![
        maestro_fence::command(),
        maestro_snapshot_verify::command(),
        maestro_logscan::command(),
        maestro_smoketest::command(),
        maestro_watch::command(),
    ]
}

/// Sections every page has that clap does not know about.
fn extra_sections(name: &str) -> String {
    format!(
        r#".SH "EXIT STATUS"
The monitoring\-plugin convention, the same for every maestro\-ha tool:
.TP
.B 0
OK: the check holds; safe to proceed.
.TP
.B 1
WARNING: it holds, with findings a person should read.
.TP
.B 2
CRITICAL: it does not hold; unsafe to proceed.
.TP
.B 3
UNKNOWN: the tool could not decide (bad arguments, unreadable configuration, unreachable target). Usage errors exit 3.
.TP
.B 130
Interrupted by SIGINT (Ctrl\-C); what was found so far is reported.
.TP
.B 143
Stopped by SIGTERM (systemctl stop, kill); what was found so far is reported.
.SH OUTPUT
.B \-\-format text
writes one line a check or finding (colour only on a terminal);
.B \-\-format json
writes JSON Lines, one object a record with a "type" field and a last "summary" record;
.B \-\-format nagios
writes "SERVICE STATUS: text | perfdata" and then long output. Diagnostics go to standard error, prefixed with "{name}:".
.SH ENVIRONMENT
.TP
.B MAESTRO_HA_CONFIG
The configuration file when \-\-config is not given.
.TP
.B MAESTRO_HA_STATE_DIR
The state folder when \-\-state\-dir is not given.
.TP
.B NO_COLOR
No colour in text output.
.SH FILES
.TP
.I /etc/maestro\-ha/config.toml
The configuration shared by all maestro\-ha tools (TOML).
.TP
.I /var/lib/maestro\-ha/catalog.sqlite
The state catalog (for root; otherwise under $XDG_STATE_HOME/maestro\-ha).
.SH "SEE ALSO"
.BR maestro\-fence (1),
.BR maestro\-snapshot\-verify (1),
.BR maestro\-logscan (1),
.BR maestro\-smoketest (1),
.BR maestro\-watch (1)
"#
    )
}

fn man_page(cmd: &clap::Command) -> Vec<u8> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut out)
        .expect("render man page");
    out.extend_from_slice(extra_sections(cmd.get_name()).as_bytes());
    out
}

fn completion(cmd: &clap::Command, shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    let mut cmd = cmd.clone();
    let name = cmd.get_name().to_string();
    clap_complete::generate(shell, &mut cmd, name, &mut out);
    out
}

/// A page for the command and one for each subcommand, named as
/// clap_mangen's SUBCOMMANDS section refers to them (`maestro-fence-config`).
fn man_pages(cmd: &clap::Command, dir: &Path, files: &mut Vec<(PathBuf, Vec<u8>)>) {
    let mut cmd = cmd.clone();
    cmd.build();
    files.push((dir.join(format!("{}.1", cmd.get_name())), man_page(&cmd)));
    for sub in cmd
        .get_subcommands()
        .filter(|s| s.get_name() != "help" && !s.is_hide_set())
    {
        let sub = sub
            .clone()
            .name(format!("{}-{}", cmd.get_name(), sub.get_name()));
        man_pages(&sub, dir, files);
    }
}

/// Every generated file with what it must contain.
fn expected() -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for cmd in tools() {
        let name = cmd.get_name().to_string();
        man_pages(&cmd, &root.join("man"), &mut files);
        files.push((
            root.join("completions").join(format!("{name}.bash")),
            completion(&cmd, Shell::Bash),
        ));
        files.push((
            root.join("completions").join(format!("_{name}")),
            completion(&cmd, Shell::Zsh),
        ));
        files.push((
            root.join("completions").join(format!("{name}.fish")),
            completion(&cmd, Shell::Fish),
        ));
    }
    files
}

#[test]
fn man_pages_and_completions_are_up_to_date() {
    let bless = std::env::var_os("MAESTRO_HA_BLESS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (path, content) in expected() {
        let current = std::fs::read(&path).ok();
        if current.as_deref() == Some(content.as_slice()) {
            continue;
        }
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &content).unwrap();
        } else {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files (run scripts/gen-docs.sh and commit them):\n  {}",
        stale.join("\n  ")
    );
}

#[test]
fn no_stray_files_in_generated_folders() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let wanted: Vec<PathBuf> = expected().into_iter().map(|(p, _)| p).collect();
    for dir in ["man", "completions"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            assert!(
                wanted.contains(&path),
                "{} is not generated by any tool: remove it",
                path.display()
            );
        }
    }
}

#[test]
fn every_page_documents_exit_codes_and_the_shared_flags() {
    for cmd in tools() {
        let page = String::from_utf8(man_page(&cmd)).unwrap();
        for needle in [
            "EXIT STATUS",
            "\\-\\-format",
            "\\-\\-config",
            "\\-\\-state\\-dir",
            "UNKNOWN",
        ] {
            assert!(
                page.contains(needle),
                "{}: man page lacks {needle}",
                cmd.get_name()
            );
        }
    }
}
