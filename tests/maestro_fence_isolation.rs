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

/// An `nft` on the failover that takes every ruleset and changes nothing,
/// and lists back what a real fence's table looked like (`json` for
/// `nft -j`, `text` otherwise): rules that list back perfectly and block
/// nothing, counters that never move. Returns the PATH to run it with.
fn fake_nft(w: &World, json: &str, text: &str) -> String {
    let bin = w.path("fakebin");
    fs::create_dir_all(&bin).unwrap();
    fs::write(bin.join("table.json"), json).unwrap();
    fs::write(bin.join("table.txt"), text).unwrap();
    let fake = bin.join("nft");
    fs::write(
        &fake,
        format!(
            "#!/bin/sh\ncase \"$*\" in\n  *-j*list*) cat {dir}/table.json ;;\n  *list*) cat {dir}/table.txt ;;\n  *) cat >/dev/null ;;\nesac\nexit 0\n",
            dir = bin.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap())
}

fn fence_with_path(w: &World, path: &str) -> support::maestro_fence::Run {
    w.on_failover(
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
    )
}

/// The connect probe is the proof of isolation, and a connect that only
/// timed out proves nothing by itself: the primary may just have dropped
/// that one SYN, or be unreachable for another reason, while the fence's
/// rules block nothing. The probe holds only when the fence's own drop
/// rule counted the probe's SYNs, within a window long enough for SYN
/// retransmits to get an answer.
#[test]
fn a_probe_holds_only_when_the_fences_own_rule_counted_its_syns() {
    let w = World::new();
    w.write_config("", "levels = [\"isolate\"]\nfirewall = \"nft\"");
    // What a real fence's table lists like, counters and all.
    let r = w.fence(&["fence"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    let json = w
        .on_failover("nft", &["-j", "list", "table", "inet", "maestro_fence"])
        .stdout;
    let text = w
        .on_failover("nft", &["list", "table", "inet", "maestro_fence"])
        .stdout;
    let d = w.on_failover("nft", &["delete", "table", "inet", "maestro_fence"]);
    assert_eq!(d.code, Some(0), "{}", d.all());
    let path = fake_nft(&w, &json, &text);

    // The primary does not answer the failover at all (its own firewall,
    // a dead link further on): every probe times out, yet the fence's
    // rules are not what stops it.
    w.primary_nft(&format!(
        "table inet blackhole {{\n\tchain input {{\n\t\ttype filter hook input priority 0; policy accept;\n\t\tip saddr {FAILOVER_ADDR} drop\n\t}}\n}}\n"
    ));
    let r = fence_with_path(&w, &path);
    assert_eq!(r.code, Some(2), "{}", r.all());
    assert!(r.stdout.contains("NOT fenced"), "{}", r.all());
    assert!(
        r.stdout.contains("not counted by the fence's own rule"),
        "{}",
        r.all()
    );
    let d = w.on_primary_ns("nft", &["delete", "table", "inet", "blackhole"]);
    assert_eq!(d.code, Some(0), "{}", d.all());

    // The primary drops every other SYN from the failover, and the probe's
    // own timeout is short: the first SYN is lost, its retransmit (1 s
    // later) would connect. A short window must not count as proof.
    let config = fs::read_to_string(w.path("config.toml"))
        .unwrap()
        .replace("connect_timeout = \"2s\"", "connect_timeout = \"800ms\"");
    fs::write(w.path("config.toml"), config).unwrap();
    w.primary_nft(&format!(
        "table inet lossy {{\n\tchain input {{\n\t\ttype filter hook input priority 0; policy accept;\n\t\tip saddr {FAILOVER_ADDR} tcp flags & (syn | ack) == syn numgen inc mod 2 == 0 drop\n\t}}\n}}\n"
    ));
    let r = fence_with_path(&w, &path);
    assert_eq!(r.code, Some(2), "{}", r.all());
    assert!(r.stdout.contains("still answers"), "{}", r.all());
}

/// Levels before `isolate` cannot eat the time its probe needs: with too
/// little left, the probe's answer is "cannot tell", never "holds".
#[test]
fn a_probe_window_too_short_for_syn_retransmits_cannot_tell() {
    let w = World::new();
    w.write_config(
        "",
        "levels = [\"ssh\", \"isolate\"]\nfirewall = \"nft\"\ndeadline = \"2s\"",
    );
    let config = fs::read_to_string(w.path("config.toml"))
        .unwrap()
        .replace("connect_timeout = \"2s\"", "connect_timeout = \"1900ms\"");
    fs::write(w.path("config.toml"), config).unwrap();
    w.pair.link_down();
    let r = w.fence(&["fence"]);
    assert_eq!(r.code, Some(2), "{}", r.all());
    assert!(r.stdout.contains("probe window"), "{}", r.all());
    assert!(!r.stdout.contains("fenced by"), "{}", r.all());
}

/// `::ffff:a.b.c.d` travels as IPv4: a rule for its IPv6 spelling would
/// never match. The fence blocks (and probes) the IPv4 address.
#[test]
fn an_ipv4_mapped_primary_address_is_blocked_as_ipv4() {
    let mut w = World::new();
    w.listen_on_failover(8022);
    w.write_config("", "levels = [\"isolate\"]\nfirewall = \"nft\"");
    set_primary(&w, &format!("::ffff:{PRIMARY_ADDR}"), &[]);
    // The primary does not answer while the fence runs (its own firewall).
    w.primary_nft(&format!(
        "table inet blackhole {{\n\tchain input {{\n\t\ttype filter hook input priority 0; policy accept;\n\t\tip saddr {FAILOVER_ADDR} drop\n\t}}\n}}\n"
    ));
    let r = w.fence(&["fence"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    let d = w.on_primary_ns("nft", &["delete", "table", "inet", "blackhole"]);
    assert_eq!(d.code, Some(0), "{}", d.all());
    assert!(
        !w.failover_can_connect(PRIMARY_ADDR, w.sshd.port()),
        "the failover still reaches the primary: {}\n{}",
        r.all(),
        w.failover_ruleset()
    );
    assert!(!w.primary_can_connect(FAILOVER_ADDR, 8022));
    let rules = w.failover_ruleset();
    assert!(
        rules.contains(PRIMARY_ADDR) && !rules.contains("::ffff:"),
        "{rules}"
    );
    let c = w.fence(&["check"]);
    assert_eq!(c.code, Some(0), "{}", c.all());
}

/// `[primary] addresses` listing an address that later moves to this
/// server (a service address the runbook moves): `status` and `check`
/// name exactly that, say the primary is still blocked, and give the
/// command that lifts only that address.
#[test]
fn an_address_that_moves_here_after_the_fence_is_named_and_can_be_lifted_alone() {
    let mut w = World::new();
    let moving = "198.18.0.5";
    let (p, f) = (w.pair.primary.name.clone(), w.pair.failover.name.clone());
    let ip = |args: &[&str]| {
        let o = std::process::Command::new("ip")
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "ip {args:?}: {o:?}");
    };
    ip(&[
        "-n",
        &p,
        "addr",
        "add",
        &format!("{moving}/32"),
        "dev",
        "veth0",
    ]);
    ip(&["-n", &f, "route", "add", moving, "dev", "veth1"]);
    w.write_config("", "levels = [\"isolate\"]\nfirewall = \"nft\"");
    set_primary(&w, PRIMARY_ADDR, &[moving]);
    let r = w.fence(&["fence"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    // The runbook moves the service address to this server.
    ip(&[
        "-n",
        &p,
        "addr",
        "del",
        &format!("{moving}/32"),
        "dev",
        "veth0",
    ]);
    ip(&["-n", &f, "route", "del", moving, "dev", "veth1"]);
    ip(&[
        "-n",
        &f,
        "addr",
        "add",
        &format!("{moving}/32"),
        "dev",
        "veth1",
    ]);
    w.listen(&f, moving, 8080, support::maestro_fence::Listener::Backlog);
    assert!(
        !w.failover_can_connect(moving, 8080),
        "the fence's rule should cut this server off from its own new address"
    );
    let lift = format!("nft delete element inet maestro_fence primary_v4 {{ {moving} }}");
    for sub in ["check", "status"] {
        let c = w.fence(&[sub]);
        assert_eq!(c.code, Some(2), "{sub}: {}", c.all());
        assert!(
            c.stdout
                .contains(&format!("blocks {moving}, an address of this server now")),
            "{sub}: {}",
            c.all()
        );
        assert!(c.stdout.contains(&lift), "{sub}: {}", c.all());
        assert!(!c.stdout.contains(REFUSAL), "{sub}: {}", c.all());
        assert!(
            c.stdout.contains("still isolated"),
            "{sub}: the primary is still blocked: {}",
            c.all()
        );
    }
    // The printed command lifts that one address, nothing else.
    let o = w.on_failover("sh", &["-c", &lift]);
    assert_eq!(o.code, Some(0), "{}", o.all());
    assert!(w.failover_can_connect(moving, 8080));
    assert!(!w.failover_can_connect(PRIMARY_ADDR, w.sshd.port()));
    let c = w.fence(&["check"]);
    assert_eq!(c.code, Some(0), "{}", c.all());
}
