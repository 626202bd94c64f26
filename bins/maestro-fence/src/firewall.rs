//! The firewall rules of the `isolate` level: what is loaded (nftables, or
//! iptables where `nft` is missing), how it is read back, how the probe's
//! drops are counted, and how it is removed.
//!
//! nftables: one table `inet <table>` with the primary's addresses in two
//! named sets (`primary_v4`, `primary_v6`), dropped in an input and an
//! output chain; one rule per address and probe port, before the general
//! drop, that drops only the connect probe's own packets (marked with
//! [`PROBE_MARK`]) and counts them. iptables: chains `<table>_in` and
//! `<table>_out`, hooked first into INPUT and OUTPUT, with the same rules.
//!
//! The counters are the probe's proof: a connect that only timed out says
//! nothing (the primary may have dropped that SYN, or be down for another
//! reason); a connect whose SYNs the fence's own rule counted was stopped
//! by the fence.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

/// The mark the connect probe's packets carry (SO_MARK), so the fence's
/// probe rules count them and nothing else ("mf" and 1).
pub const PROBE_MARK: u32 = 0x6d66_0001;

/// The named sets of the nftables table.
pub const SET_V4: &str = "primary_v4";
pub const SET_V6: &str = "primary_v6";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Firewall {
    Nft,
    Iptables,
    /// Windows Firewall: a rule group (see [`crate::winfw`]).
    Windows,
}

impl Firewall {
    pub fn as_str(self) -> &'static str {
        match self {
            Firewall::Nft => "nft",
            Firewall::Iptables => "iptables",
            Firewall::Windows => "windows",
        }
    }

    /// Whether this firewall exists on the system this build runs on.
    pub fn is_here(self) -> bool {
        match self {
            Firewall::Nft | Firewall::Iptables => cfg!(target_os = "linux"),
            Firewall::Windows => cfg!(windows),
        }
    }

    pub fn parse(name: &str) -> Option<Firewall> {
        match name {
            "nft" => Some(Firewall::Nft),
            "iptables" => Some(Firewall::Iptables),
            "windows" => Some(Firewall::Windows),
            _ => None,
        }
    }

    /// What the block is called in messages.
    pub fn block_name(self, table: &str) -> String {
        match self {
            Firewall::Nft => format!("nftables table inet {table}"),
            Firewall::Iptables => format!("iptables chains {table}_in/{table}_out"),
            Firewall::Windows => format!("Windows Firewall rule group {table}"),
        }
    }
}

/// One local command.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalCommand {
    pub name: String,
    pub program: String,
    pub args: Vec<String>,
    pub input: String,
    /// Failure is expected sometimes (creating a chain that exists).
    pub may_fail: bool,
}

impl LocalCommand {
    pub fn new(name: &str, program: &str, args: &[&str]) -> LocalCommand {
        LocalCommand {
            name: name.to_string(),
            program: program.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            input: String::new(),
            may_fail: false,
        }
    }

    /// The command as a person would type it: in `sh` quoting, or for a
    /// Windows program (`.exe`) as on a `cmd.exe` line.
    pub fn shown(&self) -> String {
        let quote: fn(&str) -> String = if self.program.ends_with(".exe") {
            win_quote
        } else {
            crate::remote::sh_quote
        };
        let mut s = std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .map(quote)
            .collect::<Vec<_>>()
            .join(" ");
        if !self.input.is_empty() {
            s.push_str(&format!(" <<< {:?}", self.input));
        }
        s
    }
}

/// An argument as on a `cmd.exe` line: in double quotes when it holds a
/// space or a quote (inner double quotes backslash-escaped, as
/// Windows' argument parsing reads them).
fn win_quote(arg: &str) -> String {
    if !arg.is_empty() && !arg.contains([' ', '\t', '"']) {
        return arg.to_string();
    }
    format!("\"{}\"", arg.replace('"', "\\\""))
}

/// The comment that names the probe rule of one address and port.
pub fn probe_comment(target: SocketAddr) -> String {
    format!("maestro-fence probe {target}")
}

/// Every address and port the probe connects to.
pub fn probe_targets(addrs: &[IpAddr], ports: &[u16]) -> Vec<SocketAddr> {
    addrs
        .iter()
        .flat_map(|&ip| ports.iter().map(move |&p| SocketAddr::new(ip, p)))
        .collect()
}

fn family(ip: &IpAddr) -> &'static str {
    if ip.is_ipv6() {
        "ip6"
    } else {
        "ip"
    }
}

/// The nftables script that loads the block, in one atomic transaction
/// (adding then deleting the table first makes the load idempotent).
pub fn nft_script(table: &str, addrs: &[IpAddr], ports: &[u16]) -> String {
    let list = |v6: bool| {
        addrs
            .iter()
            .filter(|a| a.is_ipv6() == v6)
            .map(IpAddr::to_string)
            .collect::<Vec<_>>()
    };
    let (v4, v6) = (list(false), list(true));
    let mut sets = String::new();
    let mut input = String::new();
    let mut output = String::new();
    for target in probe_targets(addrs, ports) {
        output.push_str(&format!(
            "\t\t{} daddr {} tcp dport {} meta mark {PROBE_MARK:#x} counter drop comment \"{}\"\n",
            family(&target.ip()),
            target.ip(),
            target.port(),
            probe_comment(target)
        ));
    }
    for (set, kind, fam, members) in [
        (SET_V4, "ipv4_addr", "ip", &v4),
        (SET_V6, "ipv6_addr", "ip6", &v6),
    ] {
        if members.is_empty() {
            continue;
        }
        sets.push_str(&format!(
            "\tset {set} {{\n\t\ttype {kind}\n\t\telements = {{ {} }}\n\t}}\n",
            members.join(", ")
        ));
        input.push_str(&format!("\t\t{fam} saddr @{set} counter drop\n"));
        output.push_str(&format!("\t\t{fam} daddr @{set} counter drop\n"));
    }
    format!(
        "table inet {table}\ndelete table inet {table}\ntable inet {table} {{\n{sets}\tchain input {{\n\t\ttype filter hook input priority -10; policy accept;\n{input}\t}}\n\tchain output {{\n\t\ttype filter hook output priority -10; policy accept;\n{output}\t}}\n}}\n"
    )
}

pub fn chains(table: &str) -> (String, String) {
    (format!("{table}_in"), format!("{table}_out"))
}

/// `iptables` or `ip6tables`, for an address.
pub fn ipt(a: &IpAddr) -> &'static str {
    if a.is_ipv6() {
        "ip6tables"
    } else {
        "iptables"
    }
}

fn host_prefix(a: &IpAddr) -> String {
    if a.is_ipv6() {
        format!("{a}/128")
    } else {
        format!("{a}/32")
    }
}

/// The commands that load the block.
pub fn load_commands(
    fw: Firewall,
    table: &str,
    addrs: &[IpAddr],
    ports: &[u16],
    stamp: &str,
) -> Vec<LocalCommand> {
    match fw {
        Firewall::Nft => {
            let mut c = LocalCommand::new("load the nftables block", "nft", &["-f", "-"]);
            c.input = nft_script(table, addrs, ports);
            vec![c]
        }
        Firewall::Windows => vec![crate::winfw::load_command(table, addrs, stamp)],
        Firewall::Iptables => {
            let (cin, cout) = chains(table);
            let mut v = Vec::new();
            for fam in ["iptables", "ip6tables"] {
                let fam_addrs: Vec<&IpAddr> = addrs.iter().filter(|a| ipt(a) == fam).collect();
                if fam_addrs.is_empty() {
                    continue;
                }
                for (chain, hook) in [(&cin, "INPUT"), (&cout, "OUTPUT")] {
                    let mut n = LocalCommand::new(
                        &format!("create chain {chain}"),
                        fam,
                        &["-w", "5", "-N", chain],
                    );
                    n.may_fail = true;
                    v.push(n);
                    v.push(LocalCommand::new(
                        &format!("flush chain {chain}"),
                        fam,
                        &["-w", "5", "-F", chain],
                    ));
                    if hook == "OUTPUT" {
                        for a in &fam_addrs {
                            for &port in ports {
                                let target = SocketAddr::new(**a, port);
                                v.push(LocalCommand::new(
                                    &format!("count the probe to {target} in {chain}"),
                                    fam,
                                    &[
                                        "-w",
                                        "5",
                                        "-A",
                                        chain,
                                        "-d",
                                        &host_prefix(a),
                                        "-p",
                                        "tcp",
                                        "--dport",
                                        &port.to_string(),
                                        "-m",
                                        "mark",
                                        "--mark",
                                        &format!("{PROBE_MARK:#x}"),
                                        "-m",
                                        "comment",
                                        "--comment",
                                        &probe_comment(target),
                                        "-j",
                                        "DROP",
                                    ],
                                ));
                            }
                        }
                    }
                    for a in &fam_addrs {
                        let flag = if hook == "INPUT" { "-s" } else { "-d" };
                        v.push(LocalCommand::new(
                            &format!("drop {a} in {chain}"),
                            fam,
                            &["-w", "5", "-A", chain, flag, &host_prefix(a), "-j", "DROP"],
                        ));
                    }
                    let mut del = LocalCommand::new(
                        &format!("unhook {chain} from {hook}"),
                        fam,
                        &["-w", "5", "-D", hook, "-j", chain],
                    );
                    del.may_fail = true;
                    v.push(del);
                    v.push(LocalCommand::new(
                        &format!("hook {chain} first in {hook}"),
                        fam,
                        &["-w", "5", "-I", hook, "1", "-j", chain],
                    ));
                }
            }
            v
        }
    }
}

/// What makes the names of a new load's Windows Firewall rules unique:
/// the time, in milliseconds.
pub fn load_stamp() -> String {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
        .to_string()
}

/// The commands that remove the block, each allowed to fail (a part that
/// is not there): what counts is the check afterwards that it is gone
/// ([`nft_table_present`], [`iptables_leftovers`]).
pub fn removal_commands(fw: Firewall, table: &str) -> Vec<LocalCommand> {
    let mut v = Vec::new();
    match fw {
        Firewall::Windows => v.push(crate::winfw::removal_command(table)),
        Firewall::Nft => {
            let mut c = LocalCommand::new("remove the nftables block", "nft", &["-f", "-"]);
            c.input = format!("table inet {table}\ndelete table inet {table}\n");
            c.may_fail = true;
            v.push(c);
        }
        Firewall::Iptables => {
            let (cin, cout) = chains(table);
            for fam in ["iptables", "ip6tables"] {
                for (chain, hook) in [(&cin, "INPUT"), (&cout, "OUTPUT")] {
                    // Hooked twice by hand is unhooked twice.
                    for args in [
                        vec!["-w", "5", "-D", hook, "-j", chain],
                        vec!["-w", "5", "-D", hook, "-j", chain],
                        vec!["-w", "5", "-F", chain],
                        vec!["-w", "5", "-X", chain],
                    ] {
                        let mut c =
                            LocalCommand::new(&format!("remove {chain} ({fam})"), fam, &args);
                        c.may_fail = true;
                        v.push(c);
                    }
                }
            }
        }
    }
    v
}

/// The command that lifts the block of one address only (for an address
/// that became this server's after the fence).
pub fn lift_command(fw: Firewall, table: &str, ip: IpAddr) -> String {
    match fw {
        Firewall::Nft => format!(
            "nft delete element inet {table} {} {{ {ip} }}",
            if ip.is_ipv6() { SET_V6 } else { SET_V4 }
        ),
        Firewall::Iptables => {
            let (cin, cout) = chains(table);
            let (fam, p) = (ipt(&ip), host_prefix(&ip));
            format!("{fam} -D {cin} -s {p} -j DROP; {fam} -D {cout} -d {p} -j DROP")
        }
        Firewall::Windows => crate::winfw::lift_command(table, ip),
    }
}

/// The fence's nftables table as `nft -j list table` gives it: its sets
/// and its rules.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct NftTable {
    pub sets: BTreeMap<String, Vec<String>>,
    pub rules: Vec<NftRule>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NftRule {
    pub chain: String,
    pub comment: Option<String>,
    pub expr: serde_json::Value,
}

impl NftRule {
    fn has_drop(&self) -> bool {
        self.expr
            .as_array()
            .is_some_and(|e| e.iter().any(|x| x.get("drop").is_some()))
    }

    /// `<fam> <field> @<set> ... drop`.
    fn drops_set(&self, fam: &str, field: &str, set: &str) -> bool {
        let want = format!("@{set}");
        self.has_drop()
            && self.expr.as_array().is_some_and(|e| {
                e.iter().any(|x| {
                    let m = &x["match"];
                    m["op"] == "=="
                        && m["left"]["payload"]["protocol"] == fam
                        && m["left"]["payload"]["field"] == field
                        && m["right"] == want.as_str()
                })
            })
    }

    fn packets(&self) -> Option<u64> {
        self.expr
            .as_array()?
            .iter()
            .find_map(|x| x["counter"]["packets"].as_u64())
    }
}

/// Reads `nft -j list table inet <table>`.
pub fn parse_nft_json(text: &str) -> Result<NftTable, String> {
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("nft's JSON listing cannot be read: {e}"))?;
    let items = v["nftables"]
        .as_array()
        .ok_or("nft's JSON listing has no \"nftables\" array")?;
    let mut t = NftTable::default();
    for item in items {
        if let Some(set) = item.get("set") {
            let name = set["name"].as_str().unwrap_or_default().to_string();
            let elems = match &set["elem"] {
                serde_json::Value::Array(a) => a
                    .iter()
                    .filter_map(|e| e.as_str().map(str::to_string))
                    .collect(),
                serde_json::Value::String(s) => vec![s.clone()],
                _ => Vec::new(),
            };
            t.sets.insert(name, elems);
        } else if let Some(rule) = item.get("rule") {
            t.rules.push(NftRule {
                chain: rule["chain"].as_str().unwrap_or_default().to_string(),
                comment: rule["comment"].as_str().map(str::to_string),
                expr: rule["expr"].clone(),
            });
        }
    }
    Ok(t)
}

impl NftTable {
    /// Whether the table drops `ip` in `chain` (input: from it; output: to it).
    pub fn drops(&self, chain: &str, ip: IpAddr) -> bool {
        let (set, fam) = if ip.is_ipv6() {
            (SET_V6, "ip6")
        } else {
            (SET_V4, "ip")
        };
        let field = if chain == "input" { "saddr" } else { "daddr" };
        let listed = self
            .sets
            .get(set)
            .is_some_and(|m| m.iter().any(|e| e.parse::<IpAddr>().ok() == Some(ip)));
        listed
            && self
                .rules
                .iter()
                .any(|r| r.chain == chain && r.drops_set(fam, field, set))
    }

    /// The probe rule's packet count for `target`, if there is such a rule.
    pub fn probe_packets(&self, target: SocketAddr) -> Option<u64> {
        let comment = probe_comment(target);
        self.rules
            .iter()
            .find(|r| r.chain == "output" && r.comment.as_deref() == Some(&comment) && r.has_drop())
            .and_then(NftRule::packets)
    }
}

/// `iptables -v -S <chain>` lines as words, with the counters (`-c N B`)
/// taken out and kept apart.
fn ipt_rules<'a>(listing: &'a str, chain: &str) -> Vec<(Vec<&'a str>, Option<u64>)> {
    listing
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.len() < 2 || w[0] != "-A" || w[1] != chain {
                return None;
            }
            let mut words = Vec::new();
            let mut packets = None;
            let mut i = 0;
            while i < w.len() {
                if w[i] == "-c" && i + 2 < w.len() {
                    packets = w[i + 1].parse().ok();
                    i += 3;
                } else {
                    words.push(w[i]);
                    i += 1;
                }
            }
            Some((words, packets))
        })
        .collect()
}

/// Whether the chain's listing drops `ip` (`-s` in the input chain, `-d`
/// in the output chain), as a rule of its own: not a probe rule, which
/// drops only the probe's packets.
pub fn iptables_drops(listing: &str, chain: &str, flag: &str, ip: IpAddr) -> bool {
    let want = host_prefix(&ip);
    ipt_rules(listing, chain)
        .iter()
        .any(|(w, _)| w.as_slice() == ["-A", chain, flag, want.as_str(), "-j", "DROP"])
}

/// The probe rule's packet count for `target` in an `iptables -v -S` listing.
pub fn iptables_probe_packets(listing: &str, chain: &str, target: SocketAddr) -> Option<u64> {
    let comment = probe_comment(target);
    listing
        .lines()
        .filter(|l| l.contains(&comment) && l.contains("-j DROP"))
        .find_map(|l| {
            ipt_rules(l, chain)
                .into_iter()
                .next()
                .and_then(|(_, packets)| packets)
        })
}

/// Whether `nft list table inet <table>` says there is no such table
/// (rather than failing for another reason).
pub fn nft_says_absent(stderr: &str) -> bool {
    stderr.contains("No such file or directory")
}

/// What `iptables -S` (the whole filter table) still holds of the fence's
/// chains: their declarations and every jump to them.
pub fn iptables_leftovers(listing: &str, table: &str) -> Vec<String> {
    let (cin, cout) = chains(table);
    listing
        .lines()
        .filter(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() == 2 && w[0] == "-N" && (w[1] == cin || w[1] == cout))
                || w.windows(2)
                    .any(|p| p[0] == "-j" && (p[1] == cin || p[1] == cout))
        })
        .map(|l| l.trim().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_script_blocks_both_ways_in_one_transaction_and_counts_the_probe() {
        let s = nft_script("t", &[ip("198.18.0.2"), ip("2001:db8::2")], &[22]);
        assert!(s.starts_with("table inet t\ndelete table inet t\n"), "{s}");
        assert!(s.contains("set primary_v4 {\n\t\ttype ipv4_addr\n\t\telements = { 198.18.0.2 }"));
        assert!(s.contains("ip saddr @primary_v4 counter drop"));
        assert!(s.contains("ip6 daddr @primary_v6 counter drop"));
        let probe = s.find("meta mark 0x6d660001").unwrap();
        assert!(
            probe < s.find("ip daddr @primary_v4").unwrap(),
            "the probe rule comes first"
        );
        assert!(s.contains(
            "ip6 daddr 2001:db8::2 tcp dport 22 meta mark 0x6d660001 counter drop comment \"maestro-fence probe [2001:db8::2]:22\""
        ));
        // No empty set: nft refuses `elements = { }`.
        assert!(!nft_script("t", &[ip("198.18.0.2")], &[22]).contains(SET_V6));
    }

    /// As nft 1.0.6 lists the table (`nft -j list table inet t`).
    const LISTING: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "t", "handle": 2}}, {"set": {"family": "inet", "name": "primary_v4", "table": "t", "type": "ipv4_addr", "handle": 3, "elem": ["198.18.0.2", "198.18.0.3"]}}, {"chain": {"family": "inet", "table": "t", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": -10, "policy": "accept"}}, {"chain": {"family": "inet", "table": "t", "name": "output", "handle": 2, "type": "filter", "hook": "output", "prio": -10, "policy": "accept"}}, {"rule": {"family": "inet", "table": "t", "chain": "input", "handle": 5, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@primary_v4"}}, {"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}}, {"rule": {"family": "inet", "table": "t", "chain": "output", "handle": 7, "comment": "maestro-fence probe 198.18.0.2:22", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "198.18.0.2"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"match": {"op": "==", "left": {"meta": {"key": "mark"}}, "right": 1835401217}}, {"counter": {"packets": 4, "bytes": 240}}, {"drop": null}]}}, {"rule": {"family": "inet", "table": "t", "chain": "output", "handle": 8, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "@primary_v4"}}, {"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}}]}"#;

    #[test]
    fn an_nft_listing_is_read_for_drops_and_probe_counts() {
        let t = parse_nft_json(LISTING).unwrap();
        assert!(t.drops("input", ip("198.18.0.2")) && t.drops("output", ip("198.18.0.3")));
        // Not in the set, or a set no rule drops: not blocked.
        assert!(!t.drops("input", ip("198.18.0.20")));
        assert!(!t.drops("input", ip("2001:db8::2")));
        assert_eq!(t.probe_packets("198.18.0.2:22".parse().unwrap()), Some(4));
        assert_eq!(t.probe_packets("198.18.0.2:873".parse().unwrap()), None);
        assert!(parse_nft_json("table inet t {").is_err());
        // A set that lists the address but a rule that only counts it.
        let no_drop = LISTING.replace(
            r#"{"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}}, {"rule": {"family": "inet", "table": "t", "chain": "output", "handle": 7"#,
            r#"{"counter": {"packets": 0, "bytes": 0}}]}}, {"rule": {"family": "inet", "table": "t", "chain": "output", "handle": 7"#,
        );
        assert!(!parse_nft_json(&no_drop)
            .unwrap()
            .drops("input", ip("198.18.0.2")));
    }

    #[test]
    fn an_iptables_listing_is_read_for_drops_and_probe_counts() {
        let l = "-N t_out\n-A t_out -d 198.18.0.2/32 -p tcp -m tcp --dport 22 -m mark --mark 0x6d660001 -m comment --comment \"maestro-fence probe 198.18.0.2:22\" -c 2 120 -j DROP\n-A t_out -d 198.18.0.2/32 -c 0 0 -j DROP\n";
        let a = ip("198.18.0.2");
        assert!(iptables_drops(l, "t_out", "-d", a));
        assert!(!iptables_drops(l, "t_in", "-s", a));
        assert_eq!(
            iptables_probe_packets(l, "t_out", "198.18.0.2:22".parse().unwrap()),
            Some(2)
        );
        // The probe rule alone is no block.
        let only_probe = l.lines().take(2).collect::<Vec<_>>().join("\n");
        assert!(!iptables_drops(&only_probe, "t_out", "-d", a));
        // Without -v: no counters.
        assert!(iptables_drops(
            "-A t_in -s 198.18.0.2/32 -j DROP\n",
            "t_in",
            "-s",
            a
        ));
    }

    #[test]
    fn leftovers_of_the_chains_are_found() {
        let l = "-P INPUT ACCEPT\n-N t_in\n-N t_inx\n-A FORWARD -j t_in\n-A INPUT -j other\n";
        assert_eq!(
            iptables_leftovers(l, "t"),
            vec!["-N t_in", "-A FORWARD -j t_in"]
        );
        assert!(iptables_leftovers("-P INPUT ACCEPT\n", "t").is_empty());
    }

    #[test]
    fn lifting_one_address() {
        assert_eq!(
            lift_command(Firewall::Nft, "t", ip("198.18.0.5")),
            "nft delete element inet t primary_v4 { 198.18.0.5 }"
        );
        assert_eq!(
            lift_command(Firewall::Iptables, "t", ip("2001:db8::5")),
            "ip6tables -D t_in -s 2001:db8::5/128 -j DROP; ip6tables -D t_out -d 2001:db8::5/128 -j DROP"
        );
    }

    #[test]
    fn windows_commands_are_shown_as_on_a_cmd_line() {
        let mut c = LocalCommand::new(
            "x",
            "sc.exe",
            &["config", "Rsync Server", "start=", "disabled"],
        );
        assert_eq!(c.shown(), "sc.exe config \"Rsync Server\" start= disabled");
        c.args = vec![
            "-Command".into(),
            "Get-X 'a b'".into(),
            "say \"hi\"".into(),
            String::new(),
        ];
        assert_eq!(
            c.shown(),
            "sc.exe -Command \"Get-X 'a b'\" \"say \\\"hi\\\"\" \"\""
        );
        // Linux commands keep sh quoting.
        let n = LocalCommand::new("x", "systemctl", &["mask", "a b"]);
        assert_eq!(n.shown(), "systemctl mask 'a b'");
    }
}
