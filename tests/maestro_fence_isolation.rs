//! The isolate level can never cut the failover server off from itself, it
//! always blocks the address the primary is reached on, and "isolated" is
//! proven by connect probes, not only by rules that list back. Two network
//! namespaces as the hosts, a real sshd in the primary's, real nftables and
//! iptables in the failover's. Needs root, like the rest of the suite in CI.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use support::maestro_fence::{World, FAILOVER_ADDR, PRIMARY_ADDR};

const REFUSAL: &str = "refusing to isolate an address of this server";

/// Points `[primary]` at `host` (and `addresses`), keeping the rest.
fn set_primary(w: &World, host: &str, addresses: &[&str]) {
    let path = w.path("config.toml");
    let text = fs::read_to_string(&path).unwrap();
    let list = addresses
        .iter()
        .map(|a| format!("{a:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut line = format!("host = {host:?}\n");
    if !addresses.is_empty() {
        line.push_str(&format!("addresses = [{list}]\n"));
    }
    let text = text.replacen(&format!("host = \"{PRIMARY_ADDR}\"\n"), &line, 1);
    fs::write(&path, text).unwrap();
}

fn history(w: &World) -> String {
    w.fence(&["history"]).stdout
}

#[test]
fn isolate_refuses_every_address_of_this_server_before_any_change() {
    let w = World::new();
    let cases: &[(&str, &[&str])] = &[
        ("127.0.0.1", &[]),
        ("127.0.0.2", &[]),
        ("::1", &[]),
        ("localhost", &[]),
        (FAILOVER_ADDR, &[]),
        // The primary's own address is fine, one listed beside it is not.
        (PRIMARY_ADDR, &[FAILOVER_ADDR]),
    ];
    for (host, addresses) in cases {
        w.write_config("", "levels = [\"isolate\"]\nfirewall = \"nft\"");
        set_primary(&w, host, addresses);
        let r = w.fence(&["fence"]);
        assert_eq!(r.code, Some(2), "{host} {addresses:?}: {}", r.all());
        assert!(r.stdout.contains(REFUSAL), "{host}: {}", r.all());
        assert!(
            r.stdout.contains("nothing was changed"),
            "{host}: {}",
            r.all()
        );
        let rules = w.failover_ruleset();
        assert!(
            !rules.contains("maestro_fence"),
            "{host}: a rule was installed:\n{rules}"
        );
        // The dry run says the same and exits 2.
        let d = w.fence(&["fence", "--dry-run"]);
        assert_eq!(d.code, Some(2), "{host}: {}", d.all());
        assert!(d.stdout.contains(REFUSAL), "{host}: {}", d.all());
    }
    // No epoch was taken: nothing was tried.
    assert!(
        history(&w).contains("the journal is empty"),
        "{}",
        history(&w)
    );
}

#[test]
fn the_agent_refuses_this_servers_address_with_the_default_levels() {
    let w = World::new();
    w.write_config("", "firewall = \"nft\"\nlevels = [\"ssh\", \"isolate\"]");
    let input = format!(
        "action=off\nip=127.0.0.1\nconfig_file={}\nstate_dir={}\n",
        w.path("config.toml").display(),
        w.path("state").display()
    );
    let r = w.agent(&input);
    assert_eq!(r.code, Some(1), "{}", r.all());
    assert!(!r.stdout.contains("Success"), "{}", r.all());
    assert!(r.stderr.contains(REFUSAL), "{}", r.all());
    let rules = w.failover_ruleset();
    assert!(!rules.contains("maestro_fence"), "{rules}");
}

#[test]
fn isolate_always_blocks_the_address_the_host_resolves_to() {
    let mut w = World::new();
    w.listen_on_failover(8022);
    w.write_config("", "levels = [\"isolate\"]\nfirewall = \"nft\"");
    // `addresses` lists another address of the primary, not the one `host` names.
    set_primary(&w, PRIMARY_ADDR, &["198.18.0.6"]);
    assert!(w.failover_can_connect(PRIMARY_ADDR, w.sshd.port()));
    let r = w.fence(&["fence"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(
        !w.failover_can_connect(PRIMARY_ADDR, w.sshd.port()),
        "the primary still answers on SSH after isolate: {}",
        r.all()
    );
    assert!(!w.primary_can_connect(FAILOVER_ADDR, 8022));
    assert!(
        r.stdout.contains("no connection"),
        "the probe is reported: {}",
        r.all()
    );
    let rules = w.failover_ruleset();
    assert!(
        rules.contains(PRIMARY_ADDR) && rules.contains("198.18.0.6"),
        "{rules}"
    );
}

#[test]
fn rules_that_list_back_but_let_the_primary_through_are_not_fenced() {
    let w = World::new();
    w.write_config("", "levels = [\"isolate\"]\nfirewall = \"iptables\"");
    let r = w.fence(&["fence"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert_eq!(w.fence(&["status"]).code, Some(0));
    // Another tool puts ACCEPT rules for the primary above the fence's
    // chain: the chain still lists back with the address and is still
    // hooked into INPUT, but the primary gets through.
    for args in [
        [
            "-w",
            "5",
            "-I",
            "INPUT",
            "1",
            "-s",
            PRIMARY_ADDR,
            "-j",
            "ACCEPT",
        ],
        [
            "-w",
            "5",
            "-I",
            "OUTPUT",
            "1",
            "-d",
            PRIMARY_ADDR,
            "-j",
            "ACCEPT",
        ],
    ] {
        let o = w.on_failover("iptables", &args);
        assert_eq!(o.code, Some(0), "{}", o.all());
    }
    assert!(w.failover_can_connect(PRIMARY_ADDR, w.sshd.port()));
    let s = w.fence(&["status"]);
    assert_eq!(s.code, Some(2), "{}", s.all());
    assert!(s.stdout.contains("still answers"), "{}", s.all());
    let c = w.fence(&["check"]);
    assert_eq!(c.code, Some(2), "{}", c.all());
    assert!(c.stdout.contains("NOT fenced any more"), "{}", c.all());
}

#[test]
fn a_firewall_that_says_yes_and_blocks_nothing_is_not_fenced() {
    let w = World::new();
    // An `nft` that accepts every ruleset and lists back a perfect table,
    // and changes nothing: as when the rules land where traffic never passes.
    let bin = w.path("fakebin");
    fs::create_dir_all(&bin).unwrap();
    let fake = bin.join("nft");
    fs::write(
        &fake,
        format!(
            "#!/bin/sh\nif [ \"$1\" = list ]; then printf 'table inet maestro_fence {{\\n\\tchain input {{\\n\\t\\tip saddr {{ {PRIMARY_ADDR} }} drop\\n\\t}}\\n}}\\n'; exit 0; fi\ncat >/dev/null\nexit 0\n"
        ),
    )
    .unwrap();
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    w.write_config("", "levels = [\"isolate\"]\nfirewall = \"nft\"");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let r = w.on_failover(
        "env",
        &[
            &format!("PATH={path}"),
            support::maestro_fence::BIN,
            "--config",
            w.path("config.toml").to_str().unwrap(),
            "--state-dir",
            w.path("state").to_str().unwrap(),
            "fence",
        ],
    );
    assert_eq!(r.code, Some(2), "{}", r.all());
    assert!(r.stdout.contains("still answers"), "{}", r.all());
    assert!(r.stdout.contains("NOT fenced"), "{}", r.all());
}
