//! The `isolate` level on a Windows failover: the Windows Firewall rules
//! that block the primary, how they are read back, and what the connect
//! probe can prove there. Pure: every function here builds a command or
//! reads an answer, so it is compiled and tested on Linux too; only
//! running the commands is Windows-only (see [`crate::isolate`]).
//!
//! The block is a rule group (`[fence] firewall_table`, default
//! `maestro_fence`) of two rules made with PowerShell's
//! `New-NetFirewallRule`: `<group>-in` blocks everything from the
//! primary's addresses, `<group>-out` everything to them, in every
//! profile. `netsh advfirewall` cannot put a rule in a group, so the rules
//! are made with PowerShell; they are read back with `netsh advfirewall
//! firewall show rule name=<group>-in verbose`, whose text names every
//! field this needs (group, direction, profiles, remote addresses,
//! protocol, action), and the firewall's state with `netsh advfirewall
//! show allprofiles state`. A block rule wins over every allow rule in
//! Windows Firewall, so nothing else loaded can open the primary again.
//!
//! netsh prints its labels in the language of the system (`Enabled:` is
//! `Aktiviert:` on a German one): a listing that does not read as the
//! English one is "cannot tell", never "blocked".

use crate::firewall::LocalCommand;
use crate::probe::Reach;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The programs, by their full names (PowerShell's `sc` is another command).
pub const POWERSHELL: &str = "powershell.exe";
pub const NETSH: &str = "netsh.exe";

/// The rule of one direction: its display name, which netsh selects by.
/// Letters, digits, `_` and `-` only, so no quoting is needed anywhere.
pub fn rule_name(group: &str, inbound: bool) -> String {
    format!("{group}-{}", if inbound { "in" } else { "out" })
}

/// The PowerShell script that loads the block. The new rules get a fresh
/// unique `-Name` (`stamp`) and are in force before the group's older
/// rules are removed, so a fence run again never opens a gap.
pub fn load_script(group: &str, addrs: &[IpAddr], stamp: &str) -> String {
    let list = addrs
        .iter()
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(",");
    let rule = |inbound: bool| {
        let display = rule_name(group, inbound);
        format!(
            "New-NetFirewallRule -Name '{display}-{stamp}' -DisplayName '{display}' -Group '{group}' -Description 'maestro-fence isolate: the old primary is cut off (unfence removes it)' -Direction {} -Action Block -Profile Any -Protocol Any -RemoteAddress {list} -Enabled True | Out-Null",
            if inbound { "Inbound" } else { "Outbound" }
        )
    };
    format!(
        "$ErrorActionPreference = 'Stop'; $old = @(Get-NetFirewallRule -Group '{group}' -ErrorAction SilentlyContinue); {}; {}; $old | Remove-NetFirewallRule",
        rule(true),
        rule(false)
    )
}

fn powershell(name: &str, script: String) -> LocalCommand {
    let mut c = LocalCommand::new(
        name,
        POWERSHELL,
        &[
            "-NoProfile",
            "-NonInteractive",
            "-ExecutionPolicy",
            "Bypass",
            "-Command",
        ],
    );
    // One argument, with single quotes only: Windows' argument quoting
    // passes it to PowerShell as it is.
    c.args.push(script);
    c
}

/// The command that loads the block.
pub fn load_command(group: &str, addrs: &[IpAddr], stamp: &str) -> LocalCommand {
    powershell(
        "load the Windows Firewall rules",
        load_script(group, addrs, stamp),
    )
}

/// The command that removes the whole group (allowed to fail: a group
/// that is not there; what counts is the read-back afterwards).
pub fn removal_command(group: &str) -> LocalCommand {
    let mut c = powershell(
        "remove the Windows Firewall rules",
        format!("Remove-NetFirewallRule -Group '{group}' -ErrorAction SilentlyContinue"),
    );
    c.may_fail = true;
    c
}

/// Reads one rule back (`netsh` exits 1 when there is no such rule).
pub fn show_rule_command(group: &str, inbound: bool) -> LocalCommand {
    let name = rule_name(group, inbound);
    let mut c = LocalCommand::new(
        &format!("read back {name}"),
        NETSH,
        &[
            "advfirewall",
            "firewall",
            "show",
            "rule",
            &format!("name={name}"),
            "verbose",
        ],
    );
    c.may_fail = true;
    c
}

/// Reads whether the firewall is on, per profile.
pub fn profiles_command() -> LocalCommand {
    LocalCommand::new(
        "the firewall is on in every profile",
        NETSH,
        &["advfirewall", "show", "allprofiles", "state"],
    )
}

/// The command that lifts the block of one address only (for an address
/// that became this server's after the fence), for messages. A rule left
/// with no address is removed, never given an empty list: an empty
/// `-RemoteAddress` would mean every address.
pub fn lift_command(group: &str, ip: IpAddr) -> String {
    format!(
        "powershell -Command \"Get-NetFirewallRule -Group '{group}' | ForEach-Object {{ $a = @(($_ | Get-NetFirewallAddressFilter).RemoteAddress | Where-Object {{ $_ -ne '{ip}' }}); if ($a.Count -eq 0) {{ Remove-NetFirewallRule -Name $_.Name }} else {{ Set-NetFirewallRule -Name $_.Name -RemoteAddress $a }} }}\""
    )
}

/// One rule as `netsh advfirewall firewall show rule ... verbose` lists
/// it: its fields by label.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetshRule {
    pub fields: BTreeMap<String, String>,
}

impl NetshRule {
    fn get(&self, key: &str) -> &str {
        self.fields.get(key).map(String::as_str).unwrap_or("")
    }

    pub fn name(&self) -> &str {
        self.get("Rule Name")
    }
}

/// Reads netsh's rule listing: blocks that start with `Rule Name:`, one
/// `Label: value` a line (the value may hold colons: IPv6 addresses).
pub fn parse_rules(text: &str) -> Result<Vec<NetshRule>, String> {
    let mut rules: Vec<NetshRule> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        let t = line.trim();
        if t.is_empty() || t.starts_with("---") || t == "Ok." {
            continue;
        }
        let Some((key, value)) = t.split_once(':') else {
            return Err(format!("netsh's rule listing has a line that is not `Label: value`: {t:?} (a listing in another language than English cannot be read)"));
        };
        let (key, value) = (key.trim(), value.trim());
        if key == "Rule Name" {
            rules.push(NetshRule::default());
        }
        let Some(rule) = rules.last_mut() else {
            return Err(format!("netsh's rule listing does not start with `Rule Name:` but with {t:?} (a listing in another language than English cannot be read)"));
        };
        rule.fields.insert(key.to_string(), value.to_string());
    }
    Ok(rules)
}

/// Whether netsh said there is no rule of that name (rather than failing
/// for another reason).
pub fn says_no_rule(stdout: &str) -> bool {
    stdout.contains("No rules match the specified criteria")
}

/// The addresses of a `RemoteIP:` value that are single hosts
/// (`198.18.0.2`, `198.18.0.2/32`, `2001:db8::2/128`); subnets, ranges and
/// keywords are not counted as blocking any one address.
fn remote_hosts(value: &str) -> Vec<IpAddr> {
    value
        .split(',')
        .filter_map(|part| {
            let part = part.trim();
            let (addr, prefix) = match part.split_once('/') {
                Some((a, p)) => (a, Some(p)),
                None => (part, None),
            };
            let ip: IpAddr = addr.parse().ok()?;
            let host = match (ip, prefix) {
                (_, None) => true,
                (IpAddr::V4(_), Some(p)) => p == "32" || p == "255.255.255.255",
                (IpAddr::V6(_), Some(p)) => p == "128",
            };
            host.then_some(ip)
        })
        .collect()
}

/// What keeps one listed rule from blocking every address of `addrs` in
/// its direction, all traffic, in every profile; empty when it does.
pub fn rule_problems(
    rule: &NetshRule,
    group: &str,
    inbound: bool,
    addrs: &[IpAddr],
) -> Vec<String> {
    let mut p = Vec::new();
    let mut want = |key: &str, ok: bool, expected: &str| {
        if !ok {
            p.push(format!("{key} is {:?}, not {expected}", rule.get(key)));
        }
    };
    want("Enabled", rule.get("Enabled") == "Yes", "Yes");
    let dir = if inbound { "In" } else { "Out" };
    want("Direction", rule.get("Direction") == dir, dir);
    want("Action", rule.get("Action") == "Block", "Block");
    want("Grouping", rule.get("Grouping") == group, group);
    want("Protocol", rule.get("Protocol") == "Any", "Any");
    want("LocalIP", rule.get("LocalIP") == "Any", "Any");
    let profiles: Vec<&str> = rule.get("Profiles").split(',').map(str::trim).collect();
    let every = profiles.contains(&"Any")
        || ["Domain", "Private", "Public"]
            .iter()
            .all(|x| profiles.contains(x));
    want("Profiles", every, "Domain,Private,Public");
    // Not limited to some interfaces, programs or services.
    for key in ["InterfaceTypes", "Program", "Service"] {
        if let Some(v) = rule.fields.get(key) {
            want(key, v == "Any", "Any");
        }
    }
    let hosts = remote_hosts(rule.get("RemoteIP"));
    let missing: Vec<String> = addrs
        .iter()
        .filter(|a| !hosts.contains(a))
        .map(IpAddr::to_string)
        .collect();
    if !missing.is_empty() {
        p.push(format!(
            "RemoteIP {:?} does not hold {}",
            rule.get("RemoteIP"),
            missing.join(", ")
        ));
    }
    p
}

/// Whether the rules listed under one direction's name block `addrs`:
/// `Ok` when one of them does, else what is wrong with each.
pub fn rules_block(
    rules: &[NetshRule],
    group: &str,
    inbound: bool,
    addrs: &[IpAddr],
) -> Result<(), String> {
    let name = rule_name(group, inbound);
    if rules.is_empty() {
        return Err(format!("no rule {name} is listed"));
    }
    let mut why = Vec::new();
    for r in rules {
        let p = rule_problems(r, group, inbound, addrs);
        if p.is_empty() {
            return Ok(());
        }
        why.push(p.join(", "));
    }
    Err(format!(
        "rule {name} does not block as written: {}",
        why.join("; ")
    ))
}

/// Whether the firewall is on, per profile, from `netsh advfirewall show
/// allprofiles state`.
pub fn parse_profiles(text: &str) -> Result<BTreeMap<String, bool>, String> {
    let mut out = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some(profile) = t.strip_suffix(" Profile Settings:") {
            current = Some(profile.to_string());
        } else if let Some(state) = t.strip_prefix("State") {
            let Some(profile) = current.take() else {
                return Err(format!(
                    "netsh's profile listing has a State line outside a profile: {t:?}"
                ));
            };
            let on = match state.trim() {
                "ON" => true,
                "OFF" => false,
                other => {
                    return Err(format!(
                        "netsh's profile listing gives the {profile} profile the state {other:?}, not ON or OFF"
                    ))
                }
            };
            out.insert(profile, on);
        }
    }
    Ok(out)
}

/// `Ok` when the firewall is on in the domain, private and public
/// profiles: a rule does nothing in a profile whose firewall is off, and
/// which profile a network gets can change (a domain controller that
/// cannot be reached makes a domain network private or public).
pub fn profiles_on(text: &str) -> Result<(), (bool, String)> {
    let states = parse_profiles(text).map_err(|e| (false, e))?;
    let mut off = Vec::new();
    for p in ["Domain", "Private", "Public"] {
        match states.get(p) {
            Some(true) => {}
            Some(false) => off.push(p),
            None => {
                return Err((
                    false,
                    format!("netsh's profile listing has no state for the {p} profile (a listing in another language than English cannot be read)"),
                ))
            }
        }
    }
    if off.is_empty() {
        Ok(())
    } else {
        Err((
            true,
            format!(
                "Windows Firewall is off in the {} profile(s): its rules do nothing there (turn it on: netsh advfirewall set allprofiles state on)",
                off.join(", ")
            ),
        ))
    }
}

/// What a connect to a witness found, during the probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WitnessSeen {
    /// No witness is configured (`[[watch.witnesses]]`).
    None,
    /// This witness answered (a connection or a reset): this server's
    /// network works, and the rules did not cut it off.
    Answered(String),
    /// No witness answered: whatever the primary did, this server may be
    /// off the network.
    Silent(String),
}

/// How one connect to the primary reads on Windows, where no per-rule
/// counter tells the fence's drop from the primary's silence: `holds`,
/// `does-not-hold` or `cannot-tell`, and what was seen.
///
/// - connected or reset: the primary still answers: does not hold;
/// - refused by this server before anything was sent (a filter here, as
///   Windows Firewall's block rules are): holds;
/// - timed out or unreachable: holds only while a witness answers in the
///   same window (the failover's own network works, and the block is
///   listed both ways); with no witness, or a silent one, cannot tell.
pub fn judge_probe(reach: &Reach, witness: &WitnessSeen) -> (&'static str, String) {
    match reach {
        Reach::Connected => ("does-not-hold", "connected: the primary answers".into()),
        Reach::Refused => (
            "does-not-hold",
            "connection refused: the primary's packets still get here".into(),
        ),
        Reach::Blocked(why) => (
            "holds",
            format!("refused on this server before anything was sent ({why}): a filter here blocks it"),
        ),
        Reach::NoConnection(why) | Reach::NoRoute(why) => match witness {
            WitnessSeen::Answered(w) => (
                "holds",
                format!("no connection ({why}), while the witness {w} answered: this server's network works and the primary does not get through; Windows has no per-rule counter, so the rules read back are what proves the fence stopped it"),
            ),
            WitnessSeen::Silent(w) => (
                "cannot-tell",
                format!("no connection ({why}), but no witness answered either ({w}): this server may be off the network"),
            ),
            WitnessSeen::None => (
                "cannot-tell",
                format!("no connection ({why}), which a primary that is down also gives: on Windows no per-rule counter tells the fence's drop apart, so configure a witness ([[watch.witnesses]]) that must answer meanwhile"),
            ),
        },
        Reach::Unknown(why) => ("cannot-tell", format!("the probe could not be made: {why}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_script_makes_both_rules_before_removing_the_old_ones() {
        let s = load_script("maestro_fence", &[ip("198.18.0.2"), ip("2001:db8::2")], "7");
        let new_in = s.find("New-NetFirewallRule -Name 'maestro_fence-in-7' -DisplayName 'maestro_fence-in' -Group 'maestro_fence'").unwrap();
        let new_out = s
            .find("-Name 'maestro_fence-out-7' -DisplayName 'maestro_fence-out'")
            .unwrap();
        let old = s
            .find("$old = @(Get-NetFirewallRule -Group 'maestro_fence'")
            .unwrap();
        let remove = s.find("$old | Remove-NetFirewallRule").unwrap();
        assert!(old < new_in && new_in < new_out && new_out < remove, "{s}");
        assert!(s.contains("-Direction Inbound -Action Block -Profile Any -Protocol Any -RemoteAddress '198.18.0.2','2001:db8::2' -Enabled True"));
        assert!(s.contains("-Direction Outbound -Action Block"));
        assert!(s.starts_with("$ErrorActionPreference = 'Stop'"));
        // Single quotes only: Windows' argument quoting keeps it whole.
        assert!(!s.contains('"'), "{s}");
        let c = load_command("maestro_fence", &[ip("198.18.0.2")], "7");
        assert_eq!(c.program, "powershell.exe");
        assert_eq!(
            c.args[..5],
            [
                "-NoProfile",
                "-NonInteractive",
                "-ExecutionPolicy",
                "Bypass",
                "-Command"
            ]
        );
        assert_eq!(c.args.len(), 6);
        assert!(!c.may_fail);
    }

    #[test]
    fn the_read_back_commands() {
        let c = show_rule_command("maestro_fence", false);
        assert_eq!(c.program, "netsh.exe");
        assert_eq!(
            c.args,
            [
                "advfirewall",
                "firewall",
                "show",
                "rule",
                "name=maestro_fence-out",
                "verbose"
            ]
        );
        assert_eq!(
            profiles_command().args,
            ["advfirewall", "show", "allprofiles", "state"]
        );
        let r = removal_command("g");
        assert!(r.may_fail);
        assert_eq!(
            r.args.last().unwrap(),
            "Remove-NetFirewallRule -Group 'g' -ErrorAction SilentlyContinue"
        );
        let lift = lift_command("g", ip("198.18.0.5"));
        assert!(
            lift.contains("Where-Object { $_ -ne '198.18.0.5' }"),
            "{lift}"
        );
        assert!(
            lift.contains("if ($a.Count -eq 0) { Remove-NetFirewallRule"),
            "never an empty list: {lift}"
        );
    }

    fn fixture(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/windows-firewall")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// A published listing of an allow rule in a group: parsed field by
    /// field, and rightly not a block.
    #[test]
    fn a_published_rule_listing_is_read() {
        let rules = parse_rules(&fixture("show-rule-winrm.txt")).unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].name(), "Windows Remote Management (HTTP-In)");
        assert_eq!(rules[0].get("Grouping"), "Windows Remote Management");
        assert_eq!(rules[1].get("RemoteIP"), "LocalSubnet");
        let p = rule_problems(
            &rules[0],
            "Windows Remote Management",
            true,
            &[ip("198.18.0.2")],
        );
        let text = p.join("; ");
        for bad in ["Enabled", "Action", "Protocol", "Profiles", "RemoteIP"] {
            assert!(text.contains(bad), "{bad} not named in {text}");
        }
        assert!(
            !text.contains("Direction") && !text.contains("Grouping"),
            "{text}"
        );
    }

    #[test]
    fn a_block_rule_as_the_fence_writes_it_reads_back_as_a_block() {
        let text = fixture("show-rule-verbose-fence-in.txt");
        let rules = parse_rules(&text).unwrap();
        let a = [ip("198.18.0.2"), ip("2001:db8::2")];
        assert_eq!(rules_block(&rules, "maestro_fence", true, &a), Ok(()));
        // The other direction, another group, an address it does not hold.
        assert!(rules_block(&rules, "maestro_fence", false, &a).is_err());
        assert!(rules_block(&rules, "other", true, &a).is_err());
        let e = rules_block(&rules, "maestro_fence", true, &[ip("198.18.0.9")]).unwrap_err();
        assert!(e.contains("does not hold 198.18.0.9"), "{e}");
        // Anything that does not read back as written fails.
        for (from, to) in [
            (
                "Enabled:                              Yes",
                "Enabled:                              No",
            ),
            (
                "Action:                               Block",
                "Action:                               Allow",
            ),
            (
                "Profiles:                             Domain,Private,Public",
                "Profiles:                             Domain",
            ),
            (
                "Protocol:                             Any",
                "Protocol:                             TCP",
            ),
            ("198.18.0.2/32,", "198.18.0.0/24,"),
        ] {
            assert!(text.contains(from), "{from}");
            let changed = parse_rules(&text.replace(from, to)).unwrap();
            assert!(
                rules_block(&changed, "maestro_fence", true, &a).is_err(),
                "{to}"
            );
        }
        assert!(rules_block(&[], "maestro_fence", true, &a)
            .unwrap_err()
            .contains("no rule maestro_fence-in"));
    }

    #[test]
    fn no_such_rule_and_unreadable_listings() {
        assert!(says_no_rule(&fixture("show-rule-none.txt")));
        assert!(!says_no_rule(&fixture("show-rule-verbose-fence-in.txt")));
        // Another language: not read as English, so never "blocked".
        let e = parse_rules("Regelname: maestro_fence-in\nAktiviert Ja\n").unwrap_err();
        assert!(e.contains("another language"), "{e}");
        assert!(parse_rules("Enabled: Yes\n").is_err());
    }

    #[test]
    fn the_profiles_must_all_be_on() {
        assert_eq!(
            profiles_on(&fixture("show-allprofiles-state-on.txt")),
            Ok(())
        );
        let off = fixture("show-allprofiles-state-on.txt").replacen("ON", "OFF", 2);
        let e = profiles_on(&off).unwrap_err();
        assert!(e.0, "the firewall off is a problem, not cannot-tell");
        assert!(e.1.contains("Domain, Private"), "{}", e.1);
        let full = parse_profiles(&fixture("show-currentprofile.txt")).unwrap();
        assert_eq!(full.get("Domain"), Some(&true));
        // One profile only, or another language: cannot tell.
        let e = profiles_on(&fixture("show-currentprofile.txt")).unwrap_err();
        assert!(!e.0 && e.1.contains("Private"), "{}", e.1);
        let german =
            "Domänenprofil-Einstellungen:\n----\nStatus                                EIN\n";
        assert!(!profiles_on(german).unwrap_err().0);
        assert!(parse_profiles("Domain Profile Settings:\nState  MAYBE\n").is_err());
    }

    #[test]
    fn remote_addresses_count_single_hosts_only() {
        assert_eq!(
            remote_hosts(
                "198.18.0.2/32,2001:db8:0:0:0:0:0:2/128,10.0.0.0/8,LocalSubnet,198.18.0.7"
            ),
            vec![ip("198.18.0.2"), ip("2001:db8::2"), ip("198.18.0.7")]
        );
        assert!(remote_hosts("Any").is_empty());
        assert!(remote_hosts("198.18.0.1-198.18.0.9").is_empty());
    }

    #[test]
    fn a_windows_probe_holds_only_when_it_can_tell() {
        let answered = WitnessSeen::Answered("198.18.0.9:22".into());
        let silent = WitnessSeen::Silent("198.18.0.9:22: timed out".into());
        let timeout = Reach::NoConnection("timed out".into());
        assert_eq!(judge_probe(&Reach::Connected, &answered).0, "does-not-hold");
        assert_eq!(judge_probe(&Reach::Refused, &answered).0, "does-not-hold");
        assert_eq!(
            judge_probe(&Reach::Blocked("os error 10013".into()), &WitnessSeen::None).0,
            "holds"
        );
        assert_eq!(judge_probe(&timeout, &answered).0, "holds");
        assert_eq!(judge_probe(&timeout, &silent).0, "cannot-tell");
        let (o, why) = judge_probe(&timeout, &WitnessSeen::None);
        assert_eq!(o, "cannot-tell");
        assert!(why.contains("[[watch.witnesses]]"), "{why}");
        assert_eq!(
            judge_probe(&Reach::Unknown("x".into()), &answered).0,
            "cannot-tell"
        );
    }
}
