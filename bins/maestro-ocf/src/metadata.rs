//! The agent's meta-data: its parameters and actions, as XML valid against
//! both schemas Pacemaker's tools know (resource-agents' `ra-api-1.dtd`,
//! which `ocf-tester` validates with, and its `metadata.rng`): only the
//! `string` and `integer` content types, which both accept, and `lang` on
//! every description.

/// One instance parameter (`OCF_RESKEY_<name>`).
pub struct Param {
    pub name: &'static str,
    pub integer: bool,
    /// The default as the metadata shows it (what applies when unset).
    pub default: Option<&'static str>,
    pub shortdesc: &'static str,
    pub longdesc: &'static str,
}

pub const PARAMS: &[Param] = &[
    Param {
        name: "config_file",
        integer: false,
        default: Some("/etc/maestro-ha/config.toml"),
        shortdesc: "The maestro-ha configuration file",
        longdesc: "The configuration file every maestro-ha tool reads on this node ([services], [site], [primary], [fence], [verify], [logscan], [smoketest], [sync]). The agent passes it to every tool it runs.",
    },
    Param {
        name: "state_dir",
        integer: false,
        default: Some("/var/lib/maestro-ha"),
        shortdesc: "The maestro-ha state folder",
        longdesc: "The state folder of the tools on this node (the fence journal, the hash cache). The agent passes it to every tool it runs and keeps its own record of a gated start there.",
    },
    Param {
        name: "services",
        integer: false,
        default: None,
        shortdesc: "Maestro's services, in start order",
        longdesc: "The Maestro services this resource starts, in this order (stopped in the reverse order), separated by spaces or commas, managed as [services] manager says (systemd, sysv or commands). Default: [services] names of the configuration file.",
    },
    Param {
        name: "manifest",
        integer: false,
        default: None,
        shortdesc: "The primary's last manifest on this node",
        longdesc: "The file holding the primary's last manifest (maestro-snapshot-verify capture): before Maestro starts on a node other than the primary, the replica must match it (maestro-snapshot-verify check --manifest). Not needed when [sync] generations is configured: the current generation of maestro-sync is checked against its own manifest instead.",
    },
    Param {
        name: "primary_node",
        integer: false,
        default: None,
        shortdesc: "The primary's node name",
        longdesc: "The cluster node name of the primary server. On that node Maestro starts after maestro-fence guard (the primary is not fenced and the failover has not taken over); on every other node after maestro-fence check (the primary is fenced) and the replica check. Default: [fence] node_name; without either, every node starts as a failover.",
    },
    Param {
        name: "ready_logs",
        integer: false,
        default: Some("db lui"),
        shortdesc: "The start-up logs that must say ready",
        longdesc: "The components (db, lui, hub, tracker) whose start-up log maestro-logscan follows after the services are started, in this order: each must log its readiness with no critical finding of this start, within the start timeout.",
    },
    Param {
        name: "http_url",
        integer: false,
        default: Some("http://127.0.0.1/lui/"),
        shortdesc: "The URL a depth 10 monitor requests",
        longdesc: "The LUI's URL on this node: a monitor of depth 10 or more requests it (without following redirects) and fails unless it answers with a 2xx or 3xx status within the monitor's timeout.",
    },
    Param {
        name: "smoketest_message",
        integer: false,
        default: None,
        shortdesc: "A saved test mailing for a depth 20 monitor",
        longdesc: "A test message Maestro sent earlier (an .eml file). A monitor of depth 20 runs maestro-smoketest click --message on it: each tracker link of the message must redirect to an expected target ([smoketest] expect_targets). No mailing is sent. Depth 20 needs it.",
    },
    Param {
        name: "monitor_depth",
        integer: true,
        default: Some("0"),
        shortdesc: "The depth of a monitor that names none",
        longdesc: "The depth (0, 10 or 20) of a monitor operation that sets no OCF_CHECK_LEVEL: 0 the services run, 10 also the LUI answers HTTP, 20 also the tracker links of a saved test mailing redirect.",
    },
];

/// What the agent does, as the metadata and the manual page say it.
pub const DESCRIPTION: &str =
    "LISTSERV Maestro's services on this node, started only through maestro-ha's gates. \
On a node that takes over: maestro-fence check (the old primary is fenced at the current epoch), \
then maestro-snapshot-verify check of the replica against the primary's last manifest (or of \
maestro-sync's current generation, which maestro-sync hold then pins), then the services, then \
maestro-logscan following the database's and the LUI's start-up logs until they say ready with \
no critical finding of this start. On the primary's node: maestro-fence guard instead of the \
first two. Any gate that does not hold fails the start (the services it started are stopped \
again), with the tool's words in the log and as the exit reason. A node where Maestro already \
ran after a gated start, at the same fence epoch, does not check its data against the primary's \
manifest again (it is Maestro's own data now). Stop stops the services in reverse order and \
fails unless every one is seen stopped. Monitor: depth 0 the services run, 10 the LUI answers \
HTTP, 20 maestro-smoketest click on a saved test mailing.";

/// The one-line summary.
pub const SHORTDESC: &str = "LISTSERV Maestro, started through maestro-ha's gates";

/// The actions with their advised timeouts. The start timeout must cover
/// the fence check, the replica check (which hashes the replica: with a
/// warm hash cache seconds, cold as long as reading it), the services' start
/// and the wait for their readiness.
pub const ACTIONS: &[(&str, &str)] = &[
    ("start", r#"timeout="900s""#),
    ("stop", r#"timeout="300s""#),
    ("monitor", r#"depth="0" timeout="60s" interval="30s""#),
    ("monitor", r#"depth="10" timeout="60s" interval="60s""#),
    ("monitor", r#"depth="20" timeout="300s" interval="3600s""#),
    ("validate-all", r#"timeout="60s""#),
    ("meta-data", r#"timeout="5s""#),
];

/// The default timeout of an action Pacemaker runs without one (by hand).
pub fn default_timeout(action: &str) -> std::time::Duration {
    let secs = match action {
        "start" => 900,
        "stop" => 300,
        _ => 60,
    };
    std::time::Duration::from_secs(secs)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn xml() -> String {
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\"?>\n");
    x.push_str("<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">\n");
    x.push_str(&format!(
        "<resource-agent name=\"maestro\" version=\"{}\">\n",
        env!("CARGO_PKG_VERSION")
    ));
    x.push_str("<version>1.1</version>\n");
    x.push_str("<longdesc lang=\"en\">\n");
    x.push_str(&xml_escape(DESCRIPTION));
    x.push_str("\n</longdesc>\n");
    x.push_str(
        "<shortdesc lang=\"en\">LISTSERV Maestro, started through maestro-ha's gates</shortdesc>\n",
    );
    x.push_str("<parameters>\n");
    for p in PARAMS {
        x.push_str(&format!(
            "<parameter name=\"{}\" unique=\"0\" required=\"0\">\n",
            p.name
        ));
        x.push_str(&format!(
            "<longdesc lang=\"en\">{}</longdesc>\n",
            xml_escape(p.longdesc)
        ));
        x.push_str(&format!(
            "<shortdesc lang=\"en\">{}</shortdesc>\n",
            xml_escape(p.shortdesc)
        ));
        let kind = if p.integer { "integer" } else { "string" };
        match p.default {
            Some(d) => x.push_str(&format!(
                "<content type=\"{kind}\" default=\"{}\" />\n",
                xml_escape(d)
            )),
            None => x.push_str(&format!("<content type=\"{kind}\" />\n")),
        }
        x.push_str("</parameter>\n");
    }
    x.push_str("</parameters>\n");
    x.push_str("<actions>\n");
    for (name, attrs) in ACTIONS {
        x.push_str(&format!("<action name=\"{name}\" {attrs} />\n"));
    }
    x.push_str("</actions>\n");
    x.push_str("</resource-agent>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parameter_is_described_once() {
        let xml = xml();
        for p in PARAMS {
            assert_eq!(
                xml.matches(&format!("<parameter name=\"{}\"", p.name))
                    .count(),
                1
            );
            assert!(!p.shortdesc.is_empty() && !p.longdesc.is_empty());
        }
        assert!(xml.starts_with("<?xml"));
        assert!(xml.contains("<action name=\"monitor\" depth=\"20\""));
    }
}
