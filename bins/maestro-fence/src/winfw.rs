//! The `isolate` level on a Windows failover: the Windows Firewall rules
//! that block the primary, how they are read back, and what the connect
//! probe can prove there. Pure: every function here builds a command or
//! reads an answer, so it is compiled and tested on Linux too; only
//! running the commands is Windows-only (see [`crate::isolate`]).
//!
//! The block is a rule group (`[fence] firewall_table`, default
//! `maestro_fence`) of two rules made with PowerShell's
//! `New-NetFirewallRule`: display names `<group>-in` (everything from the
//! primary's addresses) and `<group>-out` (everything to them), in every
//! profile, each with a unique `-Name` (`<group>-in-<stamp>`) that the
//! journal records and the read-back checks.
//!
//! Everything is read back from the ACTIVE policy store (`-PolicyStore
//! ActiveStore`): the rules and settings Windows enforces now, merged
//! from the local store and Group Policy. The local store alone can list
//! a rule and say the firewall is on while a Group Policy turned a
//! profile off or ignores local rules ("apply local firewall rules: No").
//! The read-back is one PowerShell script whose answer is JSON of
//! strings (enum values by their names, which do not depend on the
//! system's language); a field that does not read back as required is
//! "not confirmed" or "cannot tell", never "blocked".
//!
//! A block rule wins over an allow rule, EXCEPT an "allow if secure"
//! rule set to override block rules (`netsh ... action=bypass`,
//! PowerShell `-OverrideBlockRules $true`): that one wins over block
//! rules. The read-back lists every enabled such rule in the active store
//! and does not confirm the block while there is one (whether it could
//! match the primary is not judged).

use crate::firewall::LocalCommand;
use crate::probe::Reach;
use serde::Deserialize;
use std::net::IpAddr;

/// The program, by its full name.
pub const POWERSHELL: &str = "powershell.exe";

/// The rule of one direction: its display name. Letters, digits, `_` and
/// `-` only, so no quoting is needed anywhere.
pub fn rule_name(group: &str, inbound: bool) -> String {
    format!("{group}-{}", if inbound { "in" } else { "out" })
}

/// The unique name (`-Name`, the rule's id) of one direction's rule made
/// by the load stamped `stamp`.
pub fn rule_id(group: &str, inbound: bool, stamp: &str) -> String {
    format!("{}-{stamp}", rule_name(group, inbound))
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
        format!(
            "New-NetFirewallRule -Name '{}' -DisplayName '{}' -Group '{group}' -Description 'maestro-fence isolate: the old primary is cut off (unfence removes it)' -Direction {} -Action Block -Profile Any -Protocol Any -RemoteAddress {list} -Enabled True | Out-Null",
            rule_id(group, inbound, stamp),
            rule_name(group, inbound),
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

/// The script that reads the active store: the group's rules with every
/// filter that could narrow them, the three profiles, and every enabled
/// rule that overrides block rules. Only "no such rule" is let through as
/// an empty list; any other error stops the script (exit code 1: cannot
/// tell). Every value is turned into a string before `ConvertTo-Json`,
/// which would write an enum as its number.
pub fn readback_script(group: &str) -> String {
    let strings = |v: &str| format!("@({v} | ForEach-Object {{ [string]$_ }})");
    let rule = [
        "Name = [string]$_.Name".to_string(),
        "DisplayName = [string]$_.DisplayName".into(),
        "Group = [string]$_.Group".into(),
        "Enabled = [string]$_.Enabled".into(),
        "Direction = [string]$_.Direction".into(),
        "Action = [string]$_.Action".into(),
        "Profile = [string]$_.Profile".into(),
        format!("LocalAddress = {}", strings("$a.LocalAddress")),
        format!("RemoteAddress = {}", strings("$a.RemoteAddress")),
        "Protocol = [string]$p.Protocol".into(),
        "InterfaceType = [string]$t.InterfaceType".into(),
        format!("InterfaceAlias = {}", strings("$i.InterfaceAlias")),
        "Program = [string]$x.Program".into(),
        "Package = [string]$x.Package".into(),
        "Service = [string]$v.Service".into(),
        "LocalUser = [string]$s.LocalUser".into(),
    ]
    .join("; ");
    format!(
        "$ErrorActionPreference = 'Stop'; \
$e = $null; \
$rules = @(Get-NetFirewallRule -PolicyStore ActiveStore -Group '{group}' -ErrorAction SilentlyContinue -ErrorVariable e); \
if (@($e | Where-Object {{ $_.CategoryInfo.Category -ne 'ObjectNotFound' }}).Count -gt 0) {{ throw $e[0] }}; \
$sf = @(Get-NetFirewallSecurityFilter -PolicyStore ActiveStore -All | Where-Object {{ $_.OverrideBlockRules }}); \
$out = [ordered]@{{ \
rules = @($rules | ForEach-Object {{ $a = $_ | Get-NetFirewallAddressFilter; $p = $_ | Get-NetFirewallPortFilter; $t = $_ | Get-NetFirewallInterfaceTypeFilter; $i = $_ | Get-NetFirewallInterfaceFilter; $x = $_ | Get-NetFirewallApplicationFilter; $v = $_ | Get-NetFirewallServiceFilter; $s = $_ | Get-NetFirewallSecurityFilter; [ordered]@{{ {rule} }} }}); \
profiles = @(Get-NetFirewallProfile -PolicyStore ActiveStore | ForEach-Object {{ [ordered]@{{ Name = [string]$_.Name; Enabled = [string]$_.Enabled; AllowLocalFirewallRules = [string]$_.AllowLocalFirewallRules }} }}); \
bypass = @(if ($sf.Count -gt 0) {{ $sf | Get-NetFirewallRule | Where-Object {{ [string]$_.Enabled -eq 'True' }} | ForEach-Object {{ [ordered]@{{ Name = [string]$_.Name; DisplayName = [string]$_.DisplayName; Direction = [string]$_.Direction }} }} }}) \
}}; \
ConvertTo-Json -InputObject $out -Depth 4 -Compress"
    )
}

/// The command that reads the active store (see [`readback_script`]).
pub fn readback_command(group: &str) -> LocalCommand {
    powershell(
        "read the active firewall policy back",
        readback_script(group),
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

/// A list PowerShell may have written as a single string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
enum Strings {
    One(String),
    Many(Vec<String>),
    #[default]
    #[serde(skip)]
    None,
}

impl Strings {
    fn list(&self) -> Vec<String> {
        match self {
            Strings::One(s) => vec![s.clone()],
            Strings::Many(v) => v.clone(),
            Strings::None => Vec::new(),
        }
    }
}

/// A list of objects PowerShell may have written as the one object.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
enum Objects<T> {
    Many(Vec<T>),
    One(T),
}

impl<T: Clone> Objects<T> {
    fn list(&self) -> Vec<T> {
        match self {
            Objects::Many(v) => v.clone(),
            Objects::One(t) => vec![t.clone()],
        }
    }
}

/// One rule of the group as the active store holds it. Every field is
/// required: one missing is an answer that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ActiveRule {
    pub name: String,
    pub display_name: String,
    pub group: String,
    pub enabled: String,
    pub direction: String,
    pub action: String,
    pub profile: String,
    local_address: Strings,
    remote_address: Strings,
    pub protocol: String,
    pub interface_type: String,
    interface_alias: Strings,
    pub program: String,
    pub package: String,
    pub service: String,
    pub local_user: String,
}

/// One profile's settings as the active store holds them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ActiveProfile {
    pub name: String,
    pub enabled: String,
    pub allow_local_firewall_rules: String,
}

/// An enabled rule that overrides block rules.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BypassRule {
    pub name: String,
    pub display_name: String,
    pub direction: String,
}

#[derive(Deserialize)]
struct Answer {
    rules: Objects<ActiveRule>,
    profiles: Objects<ActiveProfile>,
    bypass: Objects<BypassRule>,
}

/// What the read-back found in the active store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveState {
    pub rules: Vec<ActiveRule>,
    pub profiles: Vec<ActiveProfile>,
    pub bypass: Vec<BypassRule>,
}

/// Reads the read-back script's JSON; anything else is an error (cannot
/// tell).
pub fn parse_state(text: &str) -> Result<ActiveState, String> {
    let text = text.trim_start_matches('\u{feff}').trim();
    let a: Answer = serde_json::from_str(text).map_err(|e| {
        format!(
            "the active firewall policy's read-back is not the JSON expected ({e}): {}",
            crate::remote::brief(text)
        )
    })?;
    Ok(ActiveState {
        rules: a.rules.list(),
        profiles: a.profiles.list(),
        bypass: a.bypass.list(),
    })
}

/// The addresses of a `RemoteAddress` entry list that are single hosts
/// (`198.18.0.2`, `198.18.0.2/32`, `198.18.0.2/255.255.255.255`,
/// `2001:db8::2/128`); subnets, ranges and keywords are not counted as
/// blocking any one address.
fn remote_hosts(entries: &[String]) -> Vec<IpAddr> {
    entries
        .iter()
        .flat_map(|e| e.split(','))
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

/// What keeps one rule from blocking every address of `addrs` in its
/// direction, all traffic, in every profile; empty when it does.
pub fn rule_problems(
    rule: &ActiveRule,
    group: &str,
    inbound: bool,
    addrs: &[IpAddr],
) -> Vec<String> {
    let mut p = Vec::new();
    let mut want = |key: &str, value: &str, ok: bool, expected: &str| {
        if !ok {
            p.push(format!("{key} is {value:?}, not {expected}"));
        }
    };
    want("Enabled", &rule.enabled, rule.enabled == "True", "True");
    let dir = if inbound { "Inbound" } else { "Outbound" };
    want("Direction", &rule.direction, rule.direction == dir, dir);
    want("Action", &rule.action, rule.action == "Block", "Block");
    want("Group", &rule.group, rule.group == group, group);
    let name = rule_name(group, inbound);
    want(
        "DisplayName",
        &rule.display_name,
        rule.display_name == name,
        &name,
    );
    let profiles: Vec<&str> = rule.profile.split(',').map(str::trim).collect();
    let every = profiles == ["Any"]
        || ["Domain", "Private", "Public"]
            .iter()
            .all(|x| profiles.contains(x));
    want("Profile", &rule.profile, every, "Any");
    // Not narrowed to some traffic, interfaces, programs, services or users.
    want("Protocol", &rule.protocol, rule.protocol == "Any", "Any");
    let local = rule.local_address.list();
    want("LocalAddress", &local.join(","), local == ["Any"], "Any");
    let aliases = rule.interface_alias.list();
    want(
        "InterfaceAlias",
        &aliases.join(","),
        aliases == ["Any"],
        "Any",
    );
    for (key, value) in [
        ("InterfaceType", &rule.interface_type),
        ("Program", &rule.program),
        ("Package", &rule.package),
        ("Service", &rule.service),
        ("LocalUser", &rule.local_user),
    ] {
        // A package filter that is not set reads back empty.
        let ok = value == "Any" || (key == "Package" && value.is_empty());
        want(key, value, ok, "Any");
    }
    let hosts = remote_hosts(&rule.remote_address.list());
    let missing: Vec<String> = addrs
        .iter()
        .filter(|a| !hosts.contains(a))
        .map(IpAddr::to_string)
        .collect();
    if !missing.is_empty() {
        p.push(format!(
            "RemoteAddress {:?} does not hold {}",
            rule.remote_address.list().join(","),
            missing.join(", ")
        ));
    }
    p
}

/// Whether the group's rule of one direction blocks `addrs`: exactly one
/// rule of that direction in the group, named `expected` (the name this
/// load gave it) or, when that is not known (`status`, `check`), a name
/// of the fence's form `<group>-in-<stamp>`, and blocking as written.
/// More than one is refused: which one Windows enforces is not read
/// here, and a second one nobody expects is not the fence's.
pub fn rules_block(
    state: &ActiveState,
    group: &str,
    inbound: bool,
    addrs: &[IpAddr],
    expected: Option<&str>,
) -> Result<(), String> {
    let display = rule_name(group, inbound);
    let dir = if inbound { "Inbound" } else { "Outbound" };
    let of_dir: Vec<&ActiveRule> = state
        .rules
        .iter()
        .filter(|r| r.direction == dir || r.display_name == display)
        .collect();
    let rule = match of_dir.as_slice() {
        [] => {
            return Err(format!(
                "no {dir} rule of group {group} is in the active store"
            ))
        }
        [one] => *one,
        many => {
            let names: Vec<&str> = many.iter().map(|r| r.name.as_str()).collect();
            return Err(format!(
                "{} {dir} rules of group {group} are in the active store ({}): the fence makes one; remove the others or fence again",
                many.len(),
                names.join(", ")
            ));
        }
    };
    let named = match expected {
        Some(want) => rule.name == want,
        None => rule
            .name
            .strip_prefix(&format!("{display}-"))
            .is_some_and(|stamp| !stamp.is_empty() && stamp.bytes().all(|b| b.is_ascii_digit())),
    };
    if !named {
        return Err(format!(
            "the {dir} rule of group {group} is named {:?}, not {} (not the rule this fence made)",
            rule.name,
            expected.map_or(format!("{display}-<stamp>"), str::to_string)
        ));
    }
    let p = rule_problems(rule, group, inbound, addrs);
    if p.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "rule {} does not block as written: {}",
            rule.name,
            p.join(", ")
        ))
    }
}

/// `Ok` when Windows enforces the firewall in the domain, private and
/// public profiles and applies local rules there (a Group Policy can set
/// "apply local firewall rules: No", and then the fence's rules, which
/// are local, do nothing). A rule does nothing in a profile whose
/// firewall is off, and which profile a network gets can change.
/// `Err((true, _))`: a profile reads as off (not confirmed);
/// `Err((false, _))`: a value that is neither True nor False (cannot
/// tell).
pub fn profiles_on(state: &ActiveState) -> Result<(), (bool, String)> {
    let mut off = Vec::new();
    let mut unclear = Vec::new();
    for name in ["Domain", "Private", "Public"] {
        let Some(p) = state.profiles.iter().find(|p| p.name == name) else {
            unclear.push(format!("the active store lists no {name} profile"));
            continue;
        };
        for (key, value) in [
            ("Enabled", &p.enabled),
            ("AllowLocalFirewallRules", &p.allow_local_firewall_rules),
        ] {
            match value.as_str() {
                "True" => {}
                "False" => off.push(format!("{name}: {key} is False")),
                other => unclear.push(format!(
                    "{name}: {key} reads {other:?} in the active store, not True"
                )),
            }
        }
    }
    if !off.is_empty() {
        off.extend(unclear);
        return Err((
            true,
            format!(
                "Windows Firewall does not enforce the fence's rules in every profile ({}): a profile with the firewall off, or one that ignores local rules (a Group Policy's \"apply local firewall rules: No\"), lets the primary through",
                off.join("; ")
            ),
        ));
    }
    if !unclear.is_empty() {
        return Err((false, unclear.join("; ")));
    }
    Ok(())
}

/// `Ok` when no enabled rule of the active store overrides block rules;
/// else names them. Whether one could match the primary is not judged:
/// any one is a reason not to confirm.
pub fn no_bypass(state: &ActiveState) -> Result<(), String> {
    if state.bypass.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = state
        .bypass
        .iter()
        .map(|r| format!("{} ({:?}, {})", r.name, r.display_name, r.direction))
        .collect();
    Err(format!(
        "the active store has enabled rule(s) that override block rules (\"allow if secure\" with block override): {}; such a rule wins over the fence's block, so the block is not confirmed while one is enabled",
        names.join(", ")
    ))
}

/// How one connect to the primary reads on Windows: `holds`,
/// `does-not-hold` or `cannot-tell`, and what was seen. A Windows Firewall
/// outbound block refuses the connect at once on this server with
/// WSAEACCES (10013), whatever the primary does; so only that holds.
///
/// - connected or reset: the primary still answers: does not hold;
/// - WSAEACCES: a filter here refused it before anything was sent: holds
///   (the outbound direction; the inbound rule is proved by the
///   read-back only);
/// - timed out, or host unreachable: the SYN left this server, so the
///   outbound rule did not refuse it: does not hold;
/// - network unreachable: no route, nothing reached the filter: cannot
///   tell.
pub fn judge_probe(reach: &Reach) -> (&'static str, String) {
    match reach {
        Reach::Connected => ("does-not-hold", "connected: the primary answers".into()),
        Reach::Refused => (
            "does-not-hold",
            "connection refused: the primary's packets still get here".into(),
        ),
        Reach::Blocked(why) => (
            "holds",
            format!("refused on this server before anything was sent ({why}): the outbound block refused it"),
        ),
        Reach::NoConnection(why) => (
            "does-not-hold",
            format!("no connection ({why}), but not refused here: the SYN left this server, so the outbound rule did not refuse the connect (an enforced Windows Firewall block fails it at once with WSAEACCES)"),
        ),
        Reach::NoRoute(why) => (
            "cannot-tell",
            format!("no route ({why}): the connect did not get as far as the firewall, so it proves nothing about the outbound rule"),
        ),
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
        assert_eq!(rule_id("g", false, "7"), "g-out-7");
    }

    /// The read-back asks the ACTIVE store (what Windows enforces, with
    /// Group Policy merged in) for all three things, lets only "no such
    /// rule" through, and writes strings, not enum numbers.
    #[test]
    fn the_read_back_reads_the_active_store() {
        let s = readback_script("maestro_fence");
        assert!(
            s.contains("Get-NetFirewallRule -PolicyStore ActiveStore -Group 'maestro_fence'"),
            "{s}"
        );
        assert!(
            s.contains("Get-NetFirewallProfile -PolicyStore ActiveStore"),
            "{s}"
        );
        assert!(
            s.contains("Get-NetFirewallSecurityFilter -PolicyStore ActiveStore -All | Where-Object { $_.OverrideBlockRules }"),
            "{s}"
        );
        assert!(s.contains("AllowLocalFirewallRules = [string]$_.AllowLocalFirewallRules"));
        assert!(s.contains("$_.CategoryInfo.Category -ne 'ObjectNotFound' }).Count -gt 0) { throw"));
        // Rules that override blocks are looked up only when there are
        // some: Get-NetFirewallRule with no input would list every rule.
        assert!(
            s.contains("@(if ($sf.Count -gt 0) { $sf | Get-NetFirewallRule"),
            "{s}"
        );
        assert!(s.starts_with("$ErrorActionPreference = 'Stop'"));
        assert!(s.ends_with("ConvertTo-Json -InputObject $out -Depth 4 -Compress"));
        assert!(!s.contains('"'), "{s}");
        assert!(!s.contains("netsh"), "{s}");
        let c = readback_command("g");
        assert_eq!(c.program, "powershell.exe");
        assert!(!c.may_fail);
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

    const A: [&str; 2] = ["198.18.0.2", "2001:db8::2"];

    fn addrs() -> Vec<IpAddr> {
        A.iter().map(|a| ip(a)).collect()
    }

    #[test]
    fn the_fences_rules_read_back_as_a_block() {
        let st = parse_state(&fixture("readback-fenced.json")).unwrap();
        let a = addrs();
        for inbound in [true, false] {
            assert_eq!(rules_block(&st, "maestro_fence", inbound, &a, None), Ok(()));
            let id = rule_id("maestro_fence", inbound, "1764322496123");
            assert_eq!(
                rules_block(&st, "maestro_fence", inbound, &a, Some(&id)),
                Ok(())
            );
        }
        assert_eq!(profiles_on(&st), Ok(()));
        assert_eq!(no_bypass(&st), Ok(()));
        // Another group, an address it does not hold, another load's name.
        assert!(rules_block(&st, "other", true, &a, None).is_err());
        let e = rules_block(&st, "maestro_fence", true, &[ip("198.18.0.9")], None).unwrap_err();
        assert!(e.contains("does not hold 198.18.0.9"), "{e}");
        let e =
            rules_block(&st, "maestro_fence", true, &a, Some("maestro_fence-in-5")).unwrap_err();
        assert!(e.contains("not the rule this fence made"), "{e}");
    }

    /// Anything that does not read back as written fails.
    #[test]
    fn every_field_that_differs_fails() {
        let text = fixture("readback-fenced.json");
        let a = addrs();
        for (from, to) in [
            ("\"Enabled\":\"True\",\"Direction\":\"Inbound\"", "\"Enabled\":\"False\",\"Direction\":\"Inbound\""),
            ("\"Inbound\",\"Action\":\"Block\"", "\"Inbound\",\"Action\":\"Allow\""),
            ("\"Inbound\",\"Action\":\"Block\",\"Profile\":\"Any\"", "\"Inbound\",\"Action\":\"Block\",\"Profile\":\"Domain\""),
            ("\"RemoteAddress\":[\"198.18.0.2\",\"2001:db8::2\"],\"Protocol\":\"Any\",\"InterfaceType\":\"Any\",\"InterfaceAlias\":[\"Any\"],\"Program\":\"Any\",\"Package\":\"\",\"Service\":\"Any\",\"LocalUser\":\"Any\"},{", "\"RemoteAddress\":[\"198.18.0.0/255.255.255.0\",\"2001:db8::2\"],\"Protocol\":\"Any\",\"InterfaceType\":\"Any\",\"InterfaceAlias\":[\"Any\"],\"Program\":\"Any\",\"Package\":\"\",\"Service\":\"Any\",\"LocalUser\":\"Any\"},{"),
            ("\"Protocol\":\"Any\",\"InterfaceType\":\"Any\",\"InterfaceAlias\":[\"Any\"],\"Program\":\"Any\",\"Package\":\"\",\"Service\":\"Any\",\"LocalUser\":\"Any\"},{", "\"Protocol\":\"TCP\",\"InterfaceType\":\"Any\",\"InterfaceAlias\":[\"Any\"],\"Program\":\"Any\",\"Package\":\"\",\"Service\":\"Any\",\"LocalUser\":\"Any\"},{"),
            ("\"InterfaceAlias\":[\"Any\"],\"Program\":\"Any\",\"Package\":\"\",\"Service\":\"Any\",\"LocalUser\":\"Any\"},{", "\"InterfaceAlias\":[\"Ethernet 2\"],\"Program\":\"Any\",\"Package\":\"\",\"Service\":\"Any\",\"LocalUser\":\"Any\"},{"),
            ("\"Program\":\"Any\",\"Package\":\"\",\"Service\":\"Any\",\"LocalUser\":\"Any\"},{", "\"Program\":\"C:\\\\x.exe\",\"Package\":\"\",\"Service\":\"Any\",\"LocalUser\":\"Any\"},{"),
            ("\"Group\":\"maestro_fence\",\"Enabled\":\"True\",\"Direction\":\"Inbound\"", "\"Group\":\"\",\"Enabled\":\"True\",\"Direction\":\"Inbound\""),
        ] {
            assert!(text.contains(from), "{from}");
            let st = parse_state(&text.replacen(from, to, 1)).unwrap();
            assert!(
                rules_block(&st, "maestro_fence", true, &a, None).is_err(),
                "{to}"
            );
        }
        // A field missing: the answer cannot be read at all.
        assert!(parse_state(&text.replacen("\"LocalUser\":\"Any\"", "\"X\":\"Any\"", 1)).is_err());
        assert!(parse_state("Get-NetFirewallRule : Access is denied.").is_err());
        assert!(parse_state("").is_err());
    }

    /// Display names are not unique: a second rule of the same direction
    /// in the group (even a block) is refused, not "the first one counts".
    #[test]
    fn a_second_rule_of_one_direction_is_refused() {
        let text = fixture("readback-fenced.json");
        let st = parse_state(&text).unwrap();
        let mut two = st.clone();
        let mut extra = two.rules[0].clone();
        extra.name = "{0C1D2E3F-0000-4000-8000-000000000001}".into();
        extra.action = "Allow".into();
        two.rules.push(extra);
        let e = rules_block(&two, "maestro_fence", true, &addrs(), None).unwrap_err();
        assert!(e.contains("2 Inbound rules"), "{e}");
        // The outbound one is still judged on its own.
        assert_eq!(
            rules_block(&two, "maestro_fence", false, &addrs(), None),
            Ok(())
        );
        // A rule of the fence's display name made by someone else.
        let mut other = st.clone();
        other.rules[0].name = "maestro_fence-in".into();
        let e = rules_block(&other, "maestro_fence", true, &addrs(), None).unwrap_err();
        assert!(e.contains("not the rule this fence made"), "{e}");
        let none = parse_state(&fixture("readback-none.json")).unwrap();
        let e = rules_block(&none, "maestro_fence", true, &addrs(), None).unwrap_err();
        assert!(e.contains("no Inbound rule"), "{e}");
    }

    /// A Group Policy that turns a profile off or ignores local rules, and
    /// a rule that overrides blocks: the local store would still list the
    /// rules and say ON; the active store says otherwise, and it is what
    /// is read. PowerShell's single objects (not arrays) are read too.
    #[test]
    fn group_policy_and_block_overrides_are_not_confirmed() {
        let st = parse_state(&fixture("readback-gpo.json")).unwrap();
        let a = [ip("198.18.0.2")];
        assert_eq!(rules_block(&st, "maestro_fence", true, &a, None), Ok(()));
        let (problem, e) = profiles_on(&st).unwrap_err();
        assert!(problem, "{e}");
        assert!(
            e.contains("Domain: AllowLocalFirewallRules is False"),
            "{e}"
        );
        assert!(e.contains("Private: Enabled is False"), "{e}");
        let e = no_bypass(&st).unwrap_err();
        assert!(e.contains("IPsec admin access (block override)"), "{e}");
        // A value neither True nor False, or a profile missing: cannot tell.
        let text = fixture("readback-fenced.json");
        let nc = parse_state(&text.replacen(
            "\"Domain\",\"Enabled\":\"True\",\"AllowLocalFirewallRules\":\"True\"",
            "\"Domain\",\"Enabled\":\"True\",\"AllowLocalFirewallRules\":\"NotConfigured\"",
            1,
        ))
        .unwrap();
        let (problem, e) = profiles_on(&nc).unwrap_err();
        assert!(!problem && e.contains("NotConfigured"), "{e}");
        let mut two = parse_state(&text).unwrap();
        two.profiles.retain(|p| p.name != "Public");
        let (problem, e) = profiles_on(&two).unwrap_err();
        assert!(!problem && e.contains("no Public profile"), "{e}");
    }

    #[test]
    fn remote_addresses_count_single_hosts_only() {
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            remote_hosts(&l(&[
                "198.18.0.2/255.255.255.255",
                "2001:db8:0:0:0:0:0:2/128",
                "10.0.0.0/255.0.0.0",
                "LocalSubnet",
                "198.18.0.7"
            ])),
            vec![ip("198.18.0.2"), ip("2001:db8::2"), ip("198.18.0.7")]
        );
        assert!(remote_hosts(&l(&["Any"])).is_empty());
        assert!(remote_hosts(&l(&["198.18.0.1-198.18.0.9"])).is_empty());
    }

    /// An enforced outbound block fails the connect at once with
    /// WSAEACCES; a timeout means the SYN left this server, whatever a
    /// witness elsewhere does.
    #[test]
    fn a_windows_probe_holds_only_when_refused_here() {
        assert_eq!(judge_probe(&Reach::Connected).0, "does-not-hold");
        assert_eq!(judge_probe(&Reach::Refused).0, "does-not-hold");
        assert_eq!(
            judge_probe(&Reach::Blocked("os error 10013".into())).0,
            "holds"
        );
        let (o, why) = judge_probe(&Reach::NoConnection("timed out".into()));
        assert_eq!(o, "does-not-hold");
        assert!(
            why.contains("the outbound rule did not refuse the connect"),
            "{why}"
        );
        assert_eq!(
            judge_probe(&Reach::NoConnection("host unreachable".into())).0,
            "does-not-hold"
        );
        assert_eq!(
            judge_probe(&Reach::NoRoute("network unreachable".into())).0,
            "cannot-tell"
        );
        assert_eq!(judge_probe(&Reach::Unknown("x".into())).0, "cannot-tell");
    }
}
