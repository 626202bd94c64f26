//! Can this server fence the primary at all? What `fence_maestro monitor`
//! answers, as Pacemaker means it: the fencing *device* works, whatever
//! the state of the node it fences. Nothing here contacts the primary: a
//! monitor that needs the primary fails exactly when the primary is down,
//! Pacemaker then stops the stonith resource, and the fence it needs most
//! has no device (and a fence waits behind a hanging monitor).
//!
//! Per configured level: `ssh` needs its key file and the primary's host
//! key in known_hosts; `agent` needs its fence agent program; `isolate`
//! needs addresses it may block (none of them this server's: a device
//! whose every isolate would be refused cannot fence), the firewall tool
//! (`ip6tables` too for an IPv6 address) and the authorized_keys file it
//! edits.

use crate::config::FenceLevel;
use crate::firewall::Firewall;
use crate::isolate::{self, Targets};
use crate::process;
use crate::settings::Settings;
use std::path::Path;

/// One thing the device needs, and whether it is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub level: FenceLevel,
    pub what: String,
    /// What was found, or why it is not usable.
    pub result: Result<String, String>,
}

/// A file the fence reads must be a readable regular file (a FIFO put in
/// its place is refused at once, not waited on).
fn readable_file(path: &Path) -> Result<String, String> {
    maestro_common::fsio::open_regular(path)
        .map(|_| format!("{} is readable", path.display()))
        .map_err(|e| e.to_string())
}

fn program(name: &str) -> Result<String, String> {
    process::find_program(name)
        .map(|p| format!("{} found", p.display()))
        .ok_or_else(|| format!("{name} is not found in PATH (or not executable)"))
}

/// Everything the configured levels need on this server.
pub fn needs(s: &Settings) -> Vec<Need> {
    let mut out = Vec::new();
    let mut need = |level, what: &str, result| {
        out.push(Need {
            level,
            what: what.to_string(),
            result,
        })
    };
    for &level in &s.levels {
        match level {
            FenceLevel::Ssh => {
                if let Some(key) = &s.primary.identity_file {
                    need(level, "identity file", readable_file(key));
                }
                let kh = s.primary.known_hosts_path();
                let pattern =
                    maestro_common::ssh::known_hosts_pattern(&s.primary.host, s.primary.port);
                let found = match maestro_common::ssh::known_hosts_has(
                    &kh,
                    &s.primary.host,
                    s.primary.port,
                ) {
                    Ok(true) => Ok(format!("{} holds a host key for {pattern}", kh.display())),
                    Ok(false) => Err(format!(
                        "{} holds no host key for {pattern}: a fence would refuse the primary (add it with `ssh-keyscan -p {} {} >> {}` and compare the fingerprint)",
                        kh.display(),
                        s.primary.port,
                        s.primary.host,
                        kh.display()
                    )),
                    Err(e) => Err(e.to_string()),
                };
                need(level, "known_hosts entry", found);
            }
            FenceLevel::Agent => {
                let result = match s.fence.agent.as_deref() {
                    Some(a) if !a.trim().is_empty() => program(a),
                    _ => Err("no [fence] agent configured".to_string()),
                };
                need(level, "fence agent", result);
            }
            FenceLevel::Isolate => {
                // Only name lookup and this server's interface list: the
                // primary is not contacted.
                let targets = isolate::targets(s, s.command_timeout);
                let v6 = matches!(&targets, Targets::Ready(a) if a.iter().any(|a| a.is_ipv6()));
                need(
                    level,
                    "addresses to isolate",
                    match targets {
                        Targets::Ready(a) => Ok(format!(
                            "{}: none of them this server's",
                            a.iter()
                                .map(|a| a.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                        // A lookup that fails now may work at fence time.
                        Targets::Unresolved(e) => Ok(format!("not resolved now ({e})")),
                        Targets::Refused(e) => Err(e),
                    },
                );
                match isolate::choose(s) {
                    fw if !fw.is_here() => {
                        need(level, "firewall tool", Err(isolate::elsewhere(fw)))
                    }
                    Firewall::Windows => {
                        // PowerShell loads the rules and reads them back.
                        need(level, "firewall tool", program(crate::winfw::POWERSHELL));
                    }
                    Firewall::Nft => need(level, "firewall tool", program("nft")),
                    Firewall::Iptables => {
                        need(level, "firewall tool", program("iptables"));
                        if v6 {
                            need(level, "firewall tool (IPv6)", program("ip6tables"));
                        }
                    }
                }
                if let Some(p) = &s.sync.authorized_keys {
                    need(level, "sync authorized_keys", readable_file(p));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Overrides;

    fn settings(text: &str) -> Settings {
        let c = maestro_common::config::LoadedConfig::from_text(text, Path::new("t.toml")).unwrap();
        Settings::resolve(&c, &Overrides::default()).unwrap()
    }

    #[test]
    fn each_level_names_what_it_needs_and_nothing_contacts_the_primary() {
        let dir = tempfile::tempdir().unwrap();
        let kh = dir.path().join("known_hosts");
        let key = dir.path().join("key");
        std::fs::write(&key, "k").unwrap();
        std::fs::write(
            &kh,
            "[198.18.0.2]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0fHPvTCvpSBqKOU0gImpJJVPnGMMunlr3z8Z5uoudX\n",
        )
        .unwrap();
        let s = settings(&format!(
            "[primary]\nhost = \"198.18.0.2\"\nport = 2222\nidentity_file = '{}'\nknown_hosts = '{}'\n[fence]\nlevels = [\"ssh\", \"agent\", \"isolate\"]\nagent = \"no-such-fence-agent\"\nfirewall = \"nft\"\n",
            key.display(),
            kh.display()
        ));
        let n = needs(&s);
        let by = |w: &str| n.iter().find(|x| x.what == w).unwrap().result.clone();
        assert!(by("identity file").is_ok(), "{n:?}");
        assert!(by("known_hosts entry").is_ok(), "{n:?}");
        assert!(by("fence agent")
            .unwrap_err()
            .contains("no-such-fence-agent"));
        // A firewall of another system is named as such, never looked for.
        if cfg!(windows) {
            assert!(by("firewall tool")
                .unwrap_err()
                .contains("Linux failover only"));
        }
        // Another port is another host to ssh.
        let other = settings(&format!(
            "[primary]\nhost = \"198.18.0.2\"\nknown_hosts = '{}'\n[fence]\nlevels = [\"ssh\"]\n",
            kh.display()
        ));
        assert!(needs(&other)[0].result.is_err());
    }
}
