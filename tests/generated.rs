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
        maestro_redirect::command(),
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
    for r in &refs {
        out.push_str(&format!(".BR {} ({SECTION}),\n", roff_escape(r)));
    }
    out.push_str(&format!(".BR {} (5)\n", roff_escape(CONFIG_PAGE)));
    out
}

const TOOL_NAMES: [&str; 7] = [
    "maestro-fence",
    "maestro-snapshot-verify",
    "maestro-logscan",
    "maestro-smoketest",
    "maestro-watch",
    "maestro-sync",
    "maestro-redirect",
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
    files.push((
        root.join("man").join(format!("{CONFIG_PAGE}.5")),
        config_man_page().into_bytes(),
    ));
    files.push((
        root.join("docs").join("configuration.md"),
        config_markdown().into_bytes(),
    ));
    files.push((
        root.join("docs").join("schema").join("records.schema.json"),
        records_schema().into_bytes(),
    ));
    files.push((
        root.join("docs").join("commands.md"),
        commands_markdown().into_bytes(),
    ));
    let (agent_name, agent) = fence_agent_page();
    files.push((
        root.join("man").join(format!("{agent_name}.{SECTION}")),
        man_page(&agent, "maestro-fence"),
    ));
    // The OCF resource agent's page, from its metadata.
    files.push((
        root.join("man").join(format!(
            "{}.{}",
            maestro_ocf::manpage::PAGE,
            maestro_ocf::manpage::SECTION
        )),
        maestro_ocf::manpage::roff().into_bytes(),
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
    for dir in ["man", "completions", "docs/schema"] {
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
        let exit_sections = if section == "5" { 0 } else { 1 };
        assert_eq!(
            text.matches(".SH \"EXIT STATUS\"").count(),
            exit_sections,
            "{name}: EXIT STATUS once a command's page, none in a file's"
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

// ---------------------------------------------------------------------------
// The configuration reference: docs/configuration.md and
// maestro-ha-config(5), both rendered from the same source, the JSON Schema
// of each section's type (its doc comments).

/// One key of a section, as the reference lists it.
struct KeyDoc {
    key: String,
    value: String,
    text: String,
}

/// One section: `[name]` (or `[[name]]` for a list of tables).
struct SectionDoc {
    header: String,
    text: String,
    keys: Vec<KeyDoc>,
}

const CONFIG_PAGE: &str = "maestro-ha-config";

const CONFIG_INTRO: &[&str] = &[
    "One TOML file, shared by every maestro-ha tool: `--config PATH`, else `$MAESTRO_HA_CONFIG`, else `/etc/maestro-ha/config.toml`. A file named by the flag or the variable must exist; the default file may be absent, and then every setting has its built-in default. `--config /dev/null` means no configuration file.",
    "Every section is typed and refuses keys it does not know, so a typo is an error naming the file, the line and the key, found by any tool's `config check` and by every run, whichever tool owns the section.",
    "Precedence: a tool's own flag, then `--set SECTION.KEY=VALUE` (repeatable), then the file, then the built-in default. Durations are written `250ms`, `90s`, `5m`, `1h30m`; a bare number is seconds. Relative `[site]` paths are relative to `install_root`.",
    "Secrets (tokens, passwords) are never written in the file and never given on the command line: a secret key takes `{ file = \"/etc/maestro-ha/NAME\" }` or `{ env = \"VARIABLE\" }`. A secret file that every user can read gives a warning. Secrets are masked in everything the tools print.",
];

fn schema_defs(root: &serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    root.get("$defs")
        .and_then(|d| d.as_object())
        .cloned()
        .unwrap_or_default()
}

fn resolve_ref<'a>(
    s: &'a serde_json::Value,
    defs: &'a serde_json::Map<String, serde_json::Value>,
) -> &'a serde_json::Value {
    match s.get("$ref").and_then(|r| r.as_str()) {
        Some(r) => defs
            .get(r.trim_start_matches("#/$defs/"))
            .unwrap_or_else(|| panic!("no definition for {r}")),
        None => s,
    }
}

/// A value's kind in words: `string`, `true or false`, `"ssh" | "agent"`,
/// `list of integers`, `duration`, `secret`.
fn value_text(s: &serde_json::Value, defs: &serde_json::Map<String, serde_json::Value>) -> String {
    if let Some(r) = s.get("$ref").and_then(|r| r.as_str()) {
        let name = r.trim_start_matches("#/$defs/");
        match name {
            "Duration" => return "duration".into(),
            "Secret" => return "secret".into(),
            _ => {}
        }
        let def = resolve_ref(s, defs);
        return value_text(def, defs);
    }
    for alt in ["anyOf", "oneOf"] {
        if let Some(list) = s.get(alt).and_then(|a| a.as_array()) {
            // Variants with a doc comment come as `const`, the others
            // together in one `enum`.
            let names = |v: &serde_json::Value| -> Option<Vec<String>> {
                if let Some(c) = v.get("const").and_then(|c| c.as_str()) {
                    return Some(vec![format!("\"{c}\"")]);
                }
                v.get("enum").and_then(|e| e.as_array()).map(|e| {
                    e.iter()
                        .filter_map(|c| c.as_str().map(|c| format!("\"{c}\"")))
                        .collect()
                })
            };
            let consts: Option<Vec<Vec<String>>> = list.iter().map(names).collect();
            if let Some(consts) = consts {
                return consts.concat().join(" | ");
            }
            let parts: Vec<String> = list
                .iter()
                .filter(|v| v.get("type").and_then(|t| t.as_str()) != Some("null"))
                .map(|v| value_text(v, defs))
                .collect();
            return parts.join(" or ");
        }
    }
    if let Some(e) = s.get("enum").and_then(|e| e.as_array()) {
        return e
            .iter()
            .filter_map(|c| c.as_str().map(|c| format!("\"{c}\"")))
            .collect::<Vec<_>>()
            .join(" | ");
    }
    let types: Vec<&str> = match s.get("type") {
        Some(serde_json::Value::String(t)) => vec![t.as_str()],
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(|t| t.as_str()).collect(),
        _ => vec![],
    };
    let types: Vec<&str> = types.into_iter().filter(|t| *t != "null").collect();
    match types.as_slice() {
        ["array"] => {
            let item = s
                .get("items")
                .map(|i| value_text(i, defs))
                .unwrap_or_else(|| "values".into());
            format!("list of {item}")
        }
        ["object"] => match s.get("additionalProperties") {
            Some(v) if v.is_object() => format!("table of {}", value_text(v, defs)),
            _ => "table".into(),
        },
        ["boolean"] => "true or false".into(),
        ["integer"] => "integer".into(),
        ["string", "number"] => "duration".into(),
        [one] => (*one).to_string(),
        _ => "value".into(),
    }
}

/// The doc comment of a key: its own, else its type's.
fn key_text(s: &serde_json::Value, defs: &serde_json::Map<String, serde_json::Value>) -> String {
    let own = s.get("description").and_then(|d| d.as_str());
    let of_type = || {
        let d = resolve_ref(s, defs);
        d.get("description").and_then(|d| d.as_str())
    };
    own.or_else(of_type)
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn section_docs(header: String, root: &serde_json::Value, out: &mut Vec<SectionDoc>) {
    let defs = schema_defs(root);
    section_docs_in(header, root, &defs, out);
}

fn section_docs_in(
    header: String,
    schema: &serde_json::Value,
    defs: &serde_json::Map<String, serde_json::Value>,
    out: &mut Vec<SectionDoc>,
) {
    let schema = resolve_ref(schema, defs);
    let text = schema
        .get("description")
        .and_then(|d| d.as_str())
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let mut doc = SectionDoc {
        header: header.clone(),
        text,
        keys: Vec::new(),
    };
    let mut nested = Vec::new();
    if let Some(props) = schema.get("properties").and_then(|p| p.as_object()) {
        for (key, s) in props {
            // A list of tables is a section of its own: [[watch.witnesses]].
            let item = s.get("items").map(|i| resolve_ref(i, defs));
            if item.is_some_and(|i| i.get("properties").is_some()) {
                let name = header.trim_matches(|c| c == '[' || c == ']');
                nested.push((format!("[[{name}.{key}]]"), s.get("items").unwrap().clone()));
                doc.keys.push(KeyDoc {
                    key: key.clone(),
                    value: "list of tables".into(),
                    text: format!("{} (see `[[{name}.{key}]]`)", key_text(s, defs)),
                });
                continue;
            }
            doc.keys.push(KeyDoc {
                key: key.clone(),
                value: value_text(s, defs),
                text: key_text(s, defs),
            });
        }
    }
    out.push(doc);
    for (h, s) in nested {
        section_docs_in(h, &s, defs, out);
    }
}

/// Every section the configuration may hold, shared ones first.
fn config_sections() -> Vec<SectionDoc> {
    let mut out = Vec::new();
    for (name, schema) in maestro_common::config::shared_sections() {
        section_docs(format!("[{name}]"), &schema.to_value(), &mut out);
    }
    for section in maestro_ha::SECTIONS {
        section_docs(
            format!("[{}]", section.name),
            &(section.schema)().to_value(),
            &mut out,
        );
    }
    out
}

fn config_markdown() -> String {
    let mut md = String::from(
        "# Configuration reference\n\n<!-- Generated from the configuration types' doc comments by tests/generated.rs; edit those, then run scripts/gen-docs.sh. The same text is the manual page maestro-ha-config(5). -->\n\n",
    );
    for p in CONFIG_INTRO {
        md.push_str(p);
        md.push_str("\n\n");
    }
    md.push_str("An example with every section, commented: [`examples/config.toml`](../examples/config.toml) (installed as `/etc/maestro-ha/config.toml`).\n\n");
    for s in config_sections() {
        md.push_str(&format!("## `{}`\n\n", s.header));
        if !s.text.is_empty() {
            md.push_str(&s.text);
            md.push_str("\n\n");
        }
        md.push_str("| key | value | meaning |\n|---|---|---|\n");
        for k in &s.keys {
            md.push_str(&format!(
                "| `{}` | {} | {} |\n",
                k.key,
                k.value.replace('|', "\\|"),
                k.text.replace('|', "\\|")
            ));
        }
        md.push('\n');
    }
    md
}

/// Inline Markdown (`code`, **bold**) as roff.
fn roff_inline(text: &str) -> String {
    let mut out = String::new();
    let mut code = false;
    for (i, part) in roff_escape(text).split('`').enumerate() {
        if i > 0 {
            out.push_str(if code { "\\fR" } else { "\\fB" });
            code = !code;
        }
        out.push_str(part);
    }
    if code {
        out.push_str("\\fR");
    }
    // A line starting with . or ' would be a roff request.
    if out.starts_with('.') || out.starts_with('\'') {
        out.insert_str(0, "\\&");
    }
    out
}

fn config_man_page() -> String {
    let mut m = format!(
        ".TH {} 5 \"\" \"maestro-ha {}\" \"maestro-ha\"\n.SH NAME\n{} \\- the configuration file of the maestro\\-ha tools\n.SH SYNOPSIS\n.I /etc/maestro\\-ha/config.toml\n.SH DESCRIPTION\n",
        CONFIG_PAGE.to_uppercase().replace('-', "\\-"),
        env!("CARGO_PKG_VERSION"),
        roff_escape(CONFIG_PAGE)
    );
    for p in CONFIG_INTRO {
        m.push_str(".PP\n");
        m.push_str(&roff_inline(p));
        m.push('\n');
    }
    for s in config_sections() {
        m.push_str(&format!(".SH \"{}\"\n", roff_escape(&s.header)));
        if !s.text.is_empty() {
            m.push_str(&roff_inline(&s.text));
            m.push('\n');
        }
        for k in &s.keys {
            m.push_str(&format!(
                ".TP\n\\fB{}\\fR (\\fI{}\\fR)\n{}\n",
                roff_escape(&k.key),
                roff_escape(&k.value),
                roff_inline(&k.text)
            ));
        }
    }
    m.push_str(".SH FILES\n.TP\n.I /etc/maestro\\-ha/config.toml\nThe configuration file.\n.SH \"SEE ALSO\"\n");
    let n = TOOL_NAMES.len();
    for (i, t) in TOOL_NAMES.iter().enumerate() {
        let comma = if i + 1 < n { "," } else { "" };
        m.push_str(&format!(".BR {} (8){comma}\n", roff_escape(t)));
    }
    m
}

#[test]
fn every_configuration_key_is_documented() {
    let missing: Vec<String> = config_sections()
        .iter()
        .flat_map(|s| {
            s.keys
                .iter()
                .filter(|k| k.text.is_empty())
                .map(move |k| format!("{} {}", s.header, k.key))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "keys without a doc comment (say what each is and its default):\n  {}",
        missing.join("\n  ")
    );
}

// ---------------------------------------------------------------------------
// The JSON Lines contract: docs/schema/records.schema.json, the schema of
// every record the tools write, from the types they serialize.

/// One schema for every record: a report record (check, finding,
/// live-finding, summary) or one of maestro-watch's (event, exec).
fn records_schema() -> String {
    use serde_json::{json, Map, Value};
    let mut defs = Map::new();
    let mut one_of = Vec::new();
    for (name, schema) in [
        (
            "ReportRecord",
            schemars::schema_for!(maestro_common::render::json::Record<'static>),
        ),
        (
            "WatchRecord",
            schemars::schema_for!(maestro_watch::records::WatchRecord<'static>),
        ),
    ] {
        let mut root = schema.to_value();
        let obj = root.as_object_mut().expect("a schema object");
        if let Some(Value::Object(d)) = obj.remove("$defs") {
            for (k, v) in d {
                if let Some(old) = defs.get(&k) {
                    assert_eq!(old, &v, "two record types define {k} differently");
                }
                defs.insert(k, v);
            }
        }
        obj.remove("$schema");
        obj.remove("title");
        defs.insert(name.to_string(), root);
        one_of.push(json!({ "$ref": format!("#/$defs/{name}") }));
    }
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://maestro-ha.example.invalid/schema/records.schema.json",
        "title": "maestro-ha JSON Lines records",
        "description": "One line of `--format json` output of any maestro-ha tool. Generated by tests/generated.rs from the record types; see docs/json.md.",
        "oneOf": one_of,
        "$defs": Value::Object(defs),
    });
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    text.push('\n');
    text
}

// ---------------------------------------------------------------------------
// docs/commands.md: every command and flag, from the clap definitions (the
// one place a flag is described; --help and the manual pages say the same).

fn flag_line(arg: &clap::Arg) -> Option<(String, String)> {
    if arg.is_hide_set() {
        return None;
    }
    let value = if arg.get_action().takes_values() {
        let names = arg
            .get_value_names()
            .map(|v| {
                v.iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_else(|| arg.get_id().as_str().to_uppercase());
        format!(" {names}")
    } else {
        String::new()
    };
    let flag = match (arg.get_short(), arg.get_long()) {
        (Some(s), Some(l)) => format!("-{s}, --{l}{value}"),
        (Some(s), None) => format!("-{s}{value}"),
        (None, Some(l)) => format!("--{l}{value}"),
        (None, None) => {
            let name = arg
                .get_value_names()
                .map(|v| {
                    v.iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_else(|| arg.get_id().as_str().to_uppercase());
            name
        }
    };
    let help = arg
        .get_long_help()
        .or_else(|| arg.get_help())
        .map(|h| h.to_string())
        .unwrap_or_default();
    let mut help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| format!("`{}`", v.get_name()))
        .collect();
    if !values.is_empty() && arg.get_action().takes_values() {
        help.push_str(&format!(" (one of {})", values.join(", ")));
    }
    Some((flag, help))
}

fn command_markdown(cmd: &clap::Command, typed: &str, out: &mut String) {
    let globals = [
        "config",
        "overrides",
        "format",
        "state_dir",
        "quiet",
        "verbose",
        "help",
        "version",
    ];
    out.push_str(&format!("### `{typed}`\n\n"));
    if let Some(about) = cmd.get_long_about().or_else(|| cmd.get_about()) {
        out.push_str(
            &about
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        );
        out.push_str("\n\n");
    }
    let rows: Vec<(String, String)> = cmd
        .get_arguments()
        .filter(|a| !globals.contains(&a.get_id().as_str()))
        .filter_map(flag_line)
        .collect();
    if !rows.is_empty() {
        out.push_str("| flag | meaning |\n|---|---|\n");
        for (f, h) in rows {
            out.push_str(&format!(
                "| `{}` | {} |\n",
                f.replace('|', "\\|"),
                h.replace('|', "\\|")
            ));
        }
        out.push('\n');
    }
    for sub in cmd
        .get_subcommands()
        .filter(|s| s.get_name() != "help" && !s.is_hide_set())
    {
        command_markdown(sub, &format!("{typed} {}", sub.get_name()), out);
    }
}

fn commands_markdown() -> String {
    let mut md = String::from(
        "# Commands and flags\n\n<!-- Generated from the tools' clap definitions by tests/generated.rs (scripts/gen-docs.sh); the same text is in --help and the manual pages. -->\n\n",
    );
    md.push_str("Every tool also takes the shared flags (see [what every tool shares](conventions.md#flags)): `--config PATH`, `--set KEY=VALUE`, `--format text|json|nagios`, `--state-dir DIR`, `-q`, `-v`, `-h`, `-V`.\n\n");
    for cmd in tools() {
        let mut cmd = cmd.disable_help_subcommand(true);
        cmd.build();
        let name = cmd.get_name().to_string();
        md.push_str(&format!("## {name}\n\n"));
        command_markdown(&cmd, &name, &mut md);
    }
    md
}
