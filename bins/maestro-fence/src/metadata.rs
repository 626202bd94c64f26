//! `fence_maestro -o metadata`: the XML fence-agents' metadata schema
//! describes (fence-agents `lib/metadata.rng`), so that
//! `pcs stonith create ... fence_maestro` knows the parameters.

/// (name, getopt, type, default, required, description)
type Param = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    bool,
    &'static str,
);

pub const PARAMETERS: &[Param] = &[
    (
        "action",
        "-o, --action=[action]",
        "string",
        Some("reboot"),
        false,
        "Fencing action (off and reboot fence, on unfences)",
    ),
    (
        "ip",
        "-a, --ip=[ip]",
        "string",
        None,
        false,
        "The primary's SSH address (default: [primary] host of the config)",
    ),
    (
        "ipport",
        "-u, --ipport=[port]",
        "integer",
        Some("22"),
        false,
        "The primary's SSH port",
    ),
    (
        "username",
        "-l, --username=[name]",
        "string",
        None,
        false,
        "SSH login name (default: [primary] user)",
    ),
    (
        "identity_file",
        "-k, --identity-file=[filename]",
        "string",
        None,
        false,
        "SSH private key (default: [primary] identity_file)",
    ),
    (
        "known_hosts",
        "--known-hosts=[filename]",
        "string",
        None,
        false,
        "known_hosts file the primary's host key is checked against",
    ),
    (
        "config_file",
        "--config-file=[filename]",
        "string",
        Some("/etc/maestro-ha/config.toml"),
        false,
        "The maestro-ha configuration file",
    ),
    (
        "state_dir",
        "--state-dir=[dir]",
        "string",
        None,
        false,
        "The maestro-ha state folder (fence journal)",
    ),
    (
        "levels",
        "--levels=[ssh,agent,isolate]",
        "string",
        None,
        false,
        "Fence levels to try in order (default: [fence] levels)",
    ),
    (
        "plug",
        "-n, --plug=[name]",
        "string",
        None,
        false,
        "The node asked for (Pacemaker sets it): refused unless it is the device's node_name",
    ),
    (
        "node_name",
        "--node-name=[name]",
        "string",
        None,
        false,
        "The primary's node name: the only node this device fences, and what list prints (default [fence] node_name; one of the two is needed: Pacemaker's pcmk_host_list is not passed to the agent)",
    ),
    (
        "power_timeout",
        "--power-timeout=[seconds]",
        "second",
        Some("60"),
        false,
        "Deadline of a whole fence, unfence or status run; keep it (plus delay) below Pacemaker's pcmk_off_timeout, so a retry has time",
    ),
    (
        "delay",
        "--delay=[seconds]",
        "second",
        Some("0"),
        false,
        "Wait this many seconds before fencing (off, reboot)",
    ),
    (
        "verbose",
        "-v, --verbose",
        "boolean",
        None,
        false,
        "Verbose mode",
    ),
    (
        "quiet",
        "-q, --quiet",
        "boolean",
        None,
        false,
        "Print nothing on success",
    ),
    (
        "version",
        "-V, --version",
        "boolean",
        None,
        false,
        "Display version information and exit",
    ),
    (
        "help",
        "-h, --help",
        "boolean",
        None,
        false,
        "Display help and exit",
    ),
];

pub const ACTIONS: &[(&str, &str)] = &[
    ("on", " automatic=\"0\""),
    ("off", ""),
    ("reboot", ""),
    ("status", ""),
    ("monitor", ""),
    ("list", ""),
    ("list-status", ""),
    ("metadata", ""),
    ("manpage", ""),
    ("validate-all", ""),
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn xml() -> String {
    let mut x = String::from("<?xml version=\"1.0\" ?>\n");
    x.push_str("<resource-agent name=\"fence_maestro\" shortdesc=\"Fence agent for a LISTSERV Maestro primary (maestro-ha)\" >\n");
    x.push_str("<longdesc>fence_maestro fences the old primary of a LISTSERV Maestro failover pair: over SSH it stops and disables the Maestro services and the file synchronization and writes a fence marker, then re-queries all of it; where SSH fails it can call a power fence agent or isolate the primary with nftables on this server. It reports success only after verifying. The reboot action fences and leaves the primary fenced; on unfences (failback). Configuration: /etc/maestro-ha/config.toml (see fence_maestro(8) and maestro-ha-config(5)).</longdesc>\n");
    x.push_str("<vendor-url>https://example.invalid/maestro-ha</vendor-url>\n<parameters>\n");
    for (name, getopt, kind, default, required, desc) in PARAMETERS {
        let default = default
            .map(|d| format!(" default=\"{}\"", escape(d)))
            .unwrap_or_default();
        x.push_str(&format!(
            "\t<parameter name=\"{name}\" unique=\"0\" required=\"{}\">\n\t\t<getopt mixed=\"{}\" />\n\t\t<content type=\"{kind}\"{default} />\n\t\t<shortdesc lang=\"en\">{}</shortdesc>\n\t</parameter>\n",
            u8::from(*required),
            escape(getopt),
            escape(desc)
        ));
    }
    x.push_str("</parameters>\n<actions>\n");
    for (name, extra) in ACTIONS {
        x.push_str(&format!("\t<action name=\"{name}\"{extra} />\n"));
    }
    x.push_str("</actions>\n</resource-agent>\n");
    x
}
