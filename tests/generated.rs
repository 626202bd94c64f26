//! The man pages in man/ (section 8: the tools are root's, in /usr/sbin;
//! fence_maestro(8) for the Pacemaker agent) and the completions in
//! completions/ are generated from the clap definitions and committed, so
//! that packagers and people reading the repository have them. This test regenerates them all and
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
        maestro_sync::command(),
    ]
}

/// The manual section of the tools: system administration commands, as
/// they are root's tools (installed in /usr/sbin).
const SECTION: &str = "8";

/// Escape text for roff: a `-` is a hyphen unless written `\-`, and a
/// backslash starts an escape.
fn roff_escape(text: &str) -> String {
    text.replace('\\', "\\e").replace('-', "\\-")
}

/// The pages a page refers to: the other tools, the page of the command a
/// subcommand belongs to, the Pacemaker agent's page for maestro-fence.
/// Never the page itself, never a page that is not generated.
fn see_also(page: &str, tool: &str) -> String {
    let mut refs: Vec<String> = Vec::new();
    if page != tool {
        refs.push(tool.to_string());
    }
    if tool == "maestro-fence" && page != "fence_maestro" {
        refs.push("fence_maestro".into());
    }
    for other in TOOL_NAMES {
        if other != tool {
            refs.push(other.to_string());
        }
    }
    let mut out = String::from(".SH \"SEE ALSO\"\n");
    let n = refs.len();
    for (i, r) in refs.iter().enumerate() {
        let comma = if i + 1 < n { "," } else { "" };
        out.push_str(&format!(".BR {} ({SECTION}){comma}\n", roff_escape(r)));
    }
    out
}

const TOOL_NAMES: [&str; 6] = [
    "maestro-fence",
    "maestro-snapshot-verify",
    "maestro-logscan",
    "maestro-smoketest",
    "maestro-watch",
    "maestro-sync",
];

/// Sections every page has that clap does not know about.
fn extra_sections(page: &str, tool: &str) -> String {
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
writes "SERVICE STATUS: text | perfdata" and then long output. Diagnostics go to standard error, prefixed with "{tool}:".
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
{}"#,
        see_also(page, tool)
    )
}

/// SYNOPSIS with a placeholder for every value (`[--config PATH]`), which
/// clap_mangen leaves out.
fn synopsis(cmd: &clap::Command) -> String {
    // `maestro-watch run`, as it is typed, for a subcommand's page.
    let typed = cmd.get_bin_name().unwrap_or_else(|| cmd.get_name());
    let mut parts = vec![format!(".B {}", roff_escape(typed))];
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        let flag = match (arg.get_short(), arg.get_long()) {
            (Some(s), Some(l)) => format!("\\fB\\-{s}\\fR|\\fB\\-\\-{}\\fR", roff_escape(l)),
            (Some(s), None) => format!("\\fB\\-{s}\\fR"),
            (None, Some(l)) => format!("\\fB\\-\\-{}\\fR", roff_escape(l)),
            (None, None) => continue,
        };
        let value = if arg.get_action().takes_values() {
            let names = arg
                .get_value_names()
                .map(|v| v.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap_or_else(|| vec![arg.get_id().as_str().to_uppercase()]);
            format!(" \\fI{}\\fR", roff_escape(&names.join(" ")))
        } else {
            String::new()
        };
        let repeat = matches!(
            arg.get_action(),
            clap::ArgAction::Append | clap::ArgAction::Count
        );
        let dots = if repeat { "..." } else { "" };
        if arg.is_required_set() {
            parts.push(format!("{flag}{value}{dots}"));
        } else {
            parts.push(format!("[{flag}{value}]{dots}"));
        }
    }
    for arg in cmd.get_positionals().filter(|a| !a.is_hide_set()) {
        let name = arg
            .get_value_names()
            .map(|v| {
                v.iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_else(|| arg.get_id().as_str().to_uppercase());
        let many = matches!(arg.get_action(), clap::ArgAction::Append)
            || arg.get_num_args().is_some_and(|n| n.max_values() > 1);
        let dots = if many { "..." } else { "" };
        if arg.is_required_set() {
            parts.push(format!("\\fI{}\\fR{dots}", roff_escape(&name)));
        } else {
            parts.push(format!("[\\fI{}\\fR]{dots}", roff_escape(&name)));
        }
    }
    if cmd.has_subcommands() {
        parts.push("\\fICOMMAND\\fR".into());
    }
    format!(".SH SYNOPSIS\n{}\n", parts.join("\n"))
}

/// One page: clap_mangen's title, NAME, DESCRIPTION, OPTIONS, subcommands
/// and VERSION, our SYNOPSIS, and the shared sections. The `after_help`
/// exit-code list is not rendered: EXIT STATUS says it once.
fn man_page(cmd: &clap::Command, tool: &str) -> Vec<u8> {
    let man = clap_mangen::Man::new(cmd.clone())
        .section(SECTION)
        .manual("maestro-ha")
        .source(format!("maestro-ha {}", env!("CARGO_PKG_VERSION")));
    let mut out = Vec::new();
    man.render_title(&mut out).expect("render");
    man.render_name_section(&mut out).expect("render");
    out.extend_from_slice(synopsis(cmd).as_bytes());
    man.render_description_section(&mut out).expect("render");
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out).expect("render");
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(&mut out).expect("render");
    }
    if cmd.get_version().is_some() {
        man.render_version_section(&mut out).expect("render");
    }
    out.extend_from_slice(extra_sections(cmd.get_name(), tool).as_bytes());
    out
}

fn completion(cmd: &clap::Command, shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    let mut cmd = cmd.clone();
    let name = cmd.get_name().to_string();
    clap_complete::generate(shell, &mut cmd, name, &mut out);
    out
}

/// A page for the command and one for each subcommand, named as the
/// SUBCOMMANDS section refers to them (`maestro-fence-config`).
fn man_pages(cmd: &clap::Command, tool: &str, dir: &Path, files: &mut Vec<(PathBuf, Vec<u8>)>) {
    // `help` is clap's, not a page of ours.
    let mut cmd = cmd.clone().disable_help_subcommand(true);
    cmd.build();
    files.push((
        dir.join(format!("{}.{SECTION}", cmd.get_name())),
        man_page(&cmd, tool),
    ));
    for sub in cmd
        .get_subcommands()
        .filter(|s| s.get_name() != "help" && !s.is_hide_set())
    {
        let sub = sub
            .clone()
            .name(format!("{}-{}", cmd.get_name(), sub.get_name()));
        man_pages(&sub, tool, dir, files);
    }
}

/// fence_maestro(8): maestro-fence's agent mode under the name Pacemaker
/// and the fence-agents documentation use.
fn fence_agent_page() -> (String, clap::Command) {
    let mut fence = maestro_fence::command();
    fence.build();
    let agent = fence
        .find_subcommand("agent")
        .expect("maestro-fence has an agent subcommand")
        .clone()
        .name("fence_maestro")
        .display_name("fence_maestro")
        .bin_name("fence_maestro");
    ("fence_maestro".into(), agent)
}

/// Every generated file with what it must contain.
fn expected() -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let (agent_name, agent) = fence_agent_page();
    files.push((
        root.join("man").join(format!("{agent_name}.{SECTION}")),
        man_page(&agent, "maestro-fence"),
    ));
    for cmd in tools() {
        let name = cmd.get_name().to_string();
        man_pages(&cmd, &name, &root.join("man"), &mut files);
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
        let page = String::from_utf8(man_page(&cmd, cmd.get_name())).unwrap();
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

#[test]
fn pages_refer_only_to_pages_that_exist_and_never_to_themselves() {
    let files = expected();
    let pages: Vec<String> = files
        .iter()
        .filter_map(|(p, _)| {
            let name = p.file_name()?.to_str()?;
            let (stem, section) = name.rsplit_once('.')?;
            (p.parent()?.ends_with("man")).then(|| format!("{stem}({section})"))
        })
        .collect();
    for (path, content) in &files {
        if !path.parent().unwrap().ends_with("man") {
            continue;
        }
        let text = String::from_utf8(content.clone()).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let (stem, section) = name.rsplit_once('.').unwrap();
        let this = format!("{stem}({section})");
        assert_eq!(
            text.matches(".SH \"EXIT STATUS\"").count(),
            1,
            "{name}: EXIT STATUS once"
        );
        assert!(!text.contains(".SH EXTRA"), "{name}: the exit codes again");
        let see_also = text.split(".SH \"SEE ALSO\"").nth(1).expect("SEE ALSO");
        for line in see_also.lines().filter(|l| l.starts_with(".BR ")) {
            let r = line
                .trim_start_matches(".BR ")
                .trim_end_matches(',')
                .replace("\\-", "-")
                .replace(" (", "(");
            assert_ne!(r, this, "{name} refers to itself");
            assert!(
                pages.contains(&r),
                "{name} refers to {r}, which is not generated"
            );
        }
        // Subcommands named in the page are pages too.
        for r in text.lines().filter_map(|l| {
            let l = l.replace("\\-", "-");
            (l.starts_with("maestro-") && l.ends_with(")") && !l.contains(' ')).then_some(l)
        }) {
            assert!(
                pages.contains(&r),
                "{name} lists {r}, which is not generated"
            );
        }
    }
}

#[test]
fn the_synopsis_names_the_value_of_each_option() {
    let mut watch = maestro_watch::command();
    watch.build();
    let run = watch
        .find_subcommand("run")
        .unwrap()
        .clone()
        .name("maestro-watch-run");
    let page = String::from_utf8(man_page(&run, "maestro-watch")).unwrap();
    let synopsis = page
        .split(".SH SYNOPSIS")
        .nth(1)
        .unwrap()
        .split(".SH")
        .next()
        .unwrap();
    assert!(
        synopsis.contains("[\\fB\\-\\-config\\fR \\fIPATH\\fR]"),
        "{synopsis}"
    );
    assert!(
        synopsis.contains("[\\fB\\-v\\fR|\\fB\\-\\-verbose\\fR]..."),
        "{synopsis}"
    );
}
