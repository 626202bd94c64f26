//! The agent's manual page, `ocf_maestro-ha_maestro(7)`, made from the
//! same parameters and actions as its metadata (resource-agents names the
//! pages of its agents `ocf_<provider>_<type>` in section 7).

use crate::metadata::{ACTIONS, DESCRIPTION, PARAMS, SHORTDESC};

/// The page's name and section.
pub const PAGE: &str = "ocf_maestro-ha_maestro";
pub const SECTION: &str = "7";

/// Text for roff: a `-` is a hyphen unless written `\-`, a backslash
/// starts an escape, and a line starting with `.` or `'` is a request.
fn esc(text: &str) -> String {
    let t = text.replace('\\', "\\e").replace('-', "\\-");
    if t.starts_with('.') || t.starts_with('\'') {
        format!("\\&{t}")
    } else {
        t
    }
}

pub fn roff() -> String {
    let mut m = String::new();
    m.push_str(&format!(
        ".TH {} {SECTION} \"maestro-ha {}\" maestro-ha \"OCF resource agents\"\n",
        esc(PAGE),
        env!("CARGO_PKG_VERSION")
    ));
    m.push_str(".SH NAME\n");
    m.push_str(&format!("{} \\- {}\n", esc(PAGE), esc(SHORTDESC)));
    m.push_str(".SH SYNOPSIS\n");
    m.push_str(
        ".B /usr/lib/ocf/resource.d/maestro\\-ha/maestro\n[start | stop | monitor | validate\\-all | meta\\-data]\n",
    );
    m.push_str(".PP\n.B pcs resource create\n.I ID\n.B ocf:maestro\\-ha:maestro\n[\\fIPARAMETER\\fR=\\fIVALUE\\fR]...\n");
    m.push_str(".SH DESCRIPTION\n");
    m.push_str(&esc(DESCRIPTION));
    m.push('\n');
    m.push_str(".PP\nThe agent is a mode of maestro\\-fence: the package installs /usr/lib/ocf/resource.d/maestro\\-ha/maestro as a link to /usr/sbin/maestro\\-fence, and the binary invoked under the name maestro is the agent. It runs the other tools from the folder of the binary it links to, each as a process bounded by the operation\\(aqs timeout, and writes their output to the log Pacemaker keeps.\n");
    m.push_str(".SH PARAMETERS\n");
    for p in PARAMS {
        m.push_str(&format!(
            ".TP\n\\fB{}\\fR ({}{})\n{}\n",
            esc(p.name),
            if p.integer { "integer" } else { "string" },
            p.default
                .map(|d| format!(", default \\fI{}\\fR", esc(d)))
                .unwrap_or_default(),
            esc(p.longdesc)
        ));
    }
    m.push_str(".SH ACTIONS\n");
    m.push_str(".TP\n.B start\nThe gates in order, each bounded by what is left of the start timeout (less a margin, so that the agent reports its own failure before Pacemaker kills it, and a reserve to stop the services again). Any gate that does not hold: exit 1 (OCF_ERR_GENERIC) with the tool\\(aqs line as the exit reason; a configuration the tools refuse: 6 (OCF_ERR_CONFIGURED); a tool or service missing on this node: 5 (OCF_ERR_INSTALLED). A resource whose services all run already: 0 without the gates; partly running: 1.\n");
    m.push_str(".TP\n.B stop\nStops the services in reverse order, then asks each until it is seen stopped, within the stop timeout: 0, else 1 (Pacemaker then fences the node).\n");
    m.push_str(".TP\n.B monitor\nDepth from OCF_CHECK_LEVEL of the operation, else monitor_depth. 0: every service runs (0), none runs (7, OCF_NOT_RUNNING), some run (1). 10: also the LUI answers http_url with 2xx or 3xx. 20: also maestro\\-smoketest click \\-\\-message smoketest_message holds. A depth between these runs the next lower one. A probe (interval 0) on a node without the configuration file: 7.\n");
    m.push_str(".TP\n.B validate\\-all\nThe tools are installed, the services known to this node, and the config check of every tool the start runs passes: 0, else 5 or 6.\n");
    m.push_str(".TP\n.B meta\\-data\nThe metadata XML (valid against resource\\-agents\\(aq ra\\-api\\-1.dtd and metadata.rng).\n");
    m.push_str(".PP\nAdvised timeouts (the metadata\\(aqs):\n");
    for (name, attrs) in ACTIONS {
        m.push_str(&format!(
            ".br\n{}: {}\n",
            esc(name),
            esc(&attrs.replace('"', ""))
        ));
    }
    m.push_str(".SH \"EXIT STATUS\"\nThe OCF Resource Agent API\\(aqs codes, not the monitoring\\-plugin codes of the tools:\n");
    for (code, name, meaning) in [
        ("0", "OCF_SUCCESS", "done; for monitor, running"),
        (
            "1",
            "OCF_ERR_GENERIC",
            "a gate did not hold, a service stayed up, a monitor failed",
        ),
        ("2", "OCF_ERR_ARGS", "no action given"),
        (
            "3",
            "OCF_ERR_UNIMPLEMENTED",
            "an action the agent does not have (notify, promote, demote, migrate, reload)",
        ),
        (
            "5",
            "OCF_ERR_INSTALLED",
            "a tool, a service or the configuration file is missing on this node",
        ),
        (
            "6",
            "OCF_ERR_CONFIGURED",
            "the parameters or the configuration are wrong wherever the resource runs",
        ),
        ("7", "OCF_NOT_RUNNING", "monitor: cleanly stopped"),
    ] {
        m.push_str(&format!(
            ".TP\n.B {code}\n{} \\- {}.\n",
            esc(name),
            esc(meaning)
        ));
    }
    m.push_str(".SH ENVIRONMENT\n");
    for (var, meaning) in [
        ("OCF_RESKEY_name", "the parameters above"),
        ("OCF_RESKEY_CRM_meta_timeout", "the operation's timeout in milliseconds (by hand, without it: start 900 s, stop 300 s, others 60 s)"),
        ("OCF_RESKEY_CRM_meta_interval", "0 for a probe"),
        ("OCF_RESKEY_CRM_meta_on_node", "this node's name in the cluster (else the host name), compared with primary_node"),
        ("OCF_CHECK_LEVEL", "the monitor's depth"),
        ("OCF_RESOURCE_INSTANCE", "the resource's name, in the log tag and the record of a gated start"),
        ("HA_LOGFILE, HA_LOGFACILITY, HA_debug", "where the log goes (a file, syslog), and debug lines; without either, standard error, which Pacemaker keeps with the result"),
        ("OCF_EXIT_REASON_PREFIX", "the prefix of the exit reason line (default ocf-exit-reason:); Pacemaker keeps its first 128 bytes"),
    ] {
        m.push_str(&format!(".TP\n.B {}\n{}.\n", esc(var), esc(meaning)));
    }
    m.push_str(".SH FILES\n.TP\n.I /etc/maestro\\-ha/config.toml\nThe configuration shared by the tools ([services] manager and names, start_command for the commands manager).\n.TP\n.I /var/lib/maestro\\-ha/ocf\\-maestro\\-RESOURCE.started\nThe fence epoch of the last gated start on this node: a start at the same epoch does not compare Maestro\\(aqs own data with the primary\\(aqs manifest again. Remove it to make the next start check the replica.\n");
    m.push_str(".SH EXAMPLE\n.nf\n");
    for line in [
        "pcs resource create maestro ocf:maestro-ha:maestro \\",
        "    manifest=/var/lib/maestro-ha/primary-manifest.jsonl \\",
        "    op start timeout=900s op stop timeout=300s \\",
        "    op monitor interval=30s timeout=60s OCF_CHECK_LEVEL=10 \\",
        "    --group maestro-group",
        "pcs resource create maestro-ip ocf:heartbeat:IPaddr2 ip=192.0.2.10 \\",
        "    cidr_netmask=24 --group maestro-group",
    ] {
        m.push_str(&esc(line));
        m.push('\n');
    }
    m.push_str(".fi\n");
    m.push_str(".SH \"SEE ALSO\"\n.BR fence_maestro (8),\n.BR maestro\\-fence (8),\n.BR maestro\\-snapshot\\-verify (8),\n.BR maestro\\-logscan (8),\n.BR maestro\\-smoketest (8),\n.BR maestro\\-ha\\-config (5)\n.PP\nocf\\-tester(8) and ocf_heartbeat_IPaddr2(7) of resource\\-agents, pcs(8).\n");
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parameter_and_exit_code_is_on_the_page() {
        let page = roff();
        for p in PARAMS {
            assert!(
                page.contains(&format!("\\fB{}\\fR", esc(p.name))),
                "{}",
                p.name
            );
        }
        for code in ["OCF_SUCCESS", "OCF_ERR_CONFIGURED", "OCF_NOT_RUNNING"] {
            assert!(page.contains(code));
        }
        assert!(page.lines().all(|l| !l.starts_with('\'')));
    }
}
