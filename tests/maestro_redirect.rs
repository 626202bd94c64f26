//! maestro-redirect against real servers in network namespaces made by the
//! test (198.18.0.0/24, inside the lab only): BIND 9 as the zone's primary
//! (TSIG key, update policy) and as a secondary following it by NOTIFY and
//! IXFR; a floating address between the old primary and the failover on
//! one bridge, verified by a witness with a real sshd; a private Postfix
//! whose relay rules name only the old primary. Needs root.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::netns::Lab;
use support::plugin_output::parse_json_lines;
use support::redirect_lab::{dig, private, tsig_key, Banner, Bind, NetnsEtc, Relay, ZONE};
use support::sshd::Sshd;

const REDIRECT: &str = env!("CARGO_BIN_EXE_maestro-redirect");
const OLD: &str = "198.18.0.1";
const HERE: &str = "198.18.0.2";
const NS1: &str = "198.18.0.53";
const NS2: &str = "198.18.0.54";
const FLOATING: &str = "198.18.0.10";

/// A tool run: exit code, the JSON records, stderr.
struct Run {
    code: Option<i32>,
    records: Vec<Value>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn summary(&self) -> &Value {
        self.records
            .iter()
            .rev()
            .find(|r| r["type"] == "summary")
            .unwrap_or_else(|| panic!("no summary:\n{}\n{}", self.stdout, self.stderr))
    }
    fn message(&self) -> String {
        self.summary()["message"].as_str().unwrap_or("").to_string()
    }
    /// Every message, of checks and findings, one a line.
    fn text(&self) -> String {
        self.records
            .iter()
            .filter_map(|r| {
                let loc = r["location"]
                    .as_str()
                    .map(|l| format!("{l}: "))
                    .unwrap_or_default();
                r["message"]
                    .as_str()
                    .map(|m| format!("{} {loc}{m}", r["status"].as_str().unwrap_or("")))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
    fn check(&self, name: &str) -> &Value {
        self.records
            .iter()
            .find(|r| r["type"] == "check" && r["name"] == name)
            .unwrap_or_else(|| panic!("no check {name}:\n{}", self.text()))
    }
    fn findings(&self, check: &str) -> Vec<&Value> {
        self.records
            .iter()
            .filter(|r| r["type"] == "finding" && r["check"] == check)
            .collect()
    }
}

fn run(lab: &Lab, host: &str, config: &Path, state: &Path, args: &[&str]) -> Run {
    let mut all: Vec<String> = vec![
        "--config".into(),
        config.display().to_string(),
        "--state-dir".into(),
        state.display().to_string(),
        "--format".into(),
        "json".into(),
    ];
    all.extend(args.iter().map(|a| a.to_string()));
    let out = lab.run_bounded(host, REDIRECT, &all, Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let records = parse_json_lines(&stdout).unwrap_or_else(|e| panic!("{e}:\n{stdout}\n{stderr}"));
    Run {
        code: out.status.code(),
        records,
        stdout,
        stderr,
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// The DNS part of a config: the zone at ns1, the key, the names.
fn dns_config(key: &Path, extra: &str) -> String {
    format!(
        "[primary]\nhost = \"{OLD}\"\n\n[redirect]\nmethods = [\"dns\"]\naddresses = [\"{HERE}\"]\nstep_timeout = \"1s\"\ndns_zone = \"{ZONE}\"\ndns_server = \"{NS1}\"\ndns_names = [\"maestro.{ZONE}\", \"trk.{ZONE}\"]\ndns_key = {{ file = \"{}\" }}\ndns_wait = \"3s\"\n{extra}",
        key.display()
    )
}

struct DnsLab {
    lab: Lab,
    dir: tempfile::TempDir,
    key: PathBuf,
    rndc: PathBuf,
    _primary: Bind,
    secondary: Bind,
}

impl DnsLab {
    fn new() -> DnsLab {
        let mut lab = Lab::new();
        lab.add_host("f", 2);
        lab.add_host("n1", 53);
        lab.add_host("n2", 54);
        let dir = tempfile::tempdir().unwrap();
        let key = tsig_key(dir.path(), "maestro-ha");
        let rndc = tsig_key(dir.path(), "rndc-key");
        let primary = Bind::primary(
            &lab,
            ZONE,
            "n1",
            NS1,
            dir.path().join("n1"),
            &key,
            "maestro-ha",
            &rndc,
            &[NS2],
            OLD,
        );
        let secondary = Bind::secondary(&lab, ZONE, "n2", NS2, dir.path().join("n2"), NS1);
        // The secondary has the zone (its first transfer) before any test step.
        wait_for(&lab, NS2, &format!("maestro.{ZONE}"), OLD);
        DnsLab {
            lab,
            dir,
            key,
            rndc,
            _primary: primary,
            secondary,
        }
    }

    fn config(&self, name: &str, key: &Path, extra: &str) -> PathBuf {
        write(self.dir.path(), name, &dns_config(key, extra))
    }

    fn run(&self, config: &Path, args: &[&str]) -> Run {
        run(&self.lab, "f", config, &self.dir.path().join("state"), args)
    }

    fn answers(&self, server: &str, name: &str) -> String {
        dig(&self.lab, "f", server, &format!("{name}.{ZONE}"), "A")
    }
}

fn wait_for(lab: &Lab, server: &str, name: &str, want: &str) {
    let started = Instant::now();
    while dig(lab, "f", server, name, "A") != want {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{server} never answered {want} for {name}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A copy of the key file with another secret (same name) or another name.
fn altered_key(dir: &Path, key: &Path, name: &str, rename: bool) -> PathBuf {
    let text = std::fs::read_to_string(key).unwrap();
    let text = if rename {
        text.replace("\"maestro-ha\"", "\"not-on-the-server\"")
    } else {
        let start = text.find("secret \"").unwrap() + 8;
        let end = start + text[start..].find('"').unwrap();
        format!(
            "{}{}{}",
            &text[..start],
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            &text[end..]
        )
    };
    let p = write(dir, name, &text);
    private(&p);
    p
}

#[test]
fn dns_update_reaches_every_authoritative_server_and_refusals_are_named() {
    let d = DnsLab::new();
    let good = d.config("good.toml", &d.key, "");

    // A dry run says what and where, and changes nothing.
    let r = d.run(&good, &["move", "--dry-run"]);
    assert_eq!(r.code, Some(0), "{}", r.text());
    assert!(
        r.text().contains(&format!("update {NS1}:53: zone {ZONE}")),
        "{}",
        r.text()
    );
    assert_eq!(d.answers(NS1, "maestro"), OLD);

    // Refusals, each named with the server's RCODE; nothing changes.
    let wrong_secret = altered_key(d.dir.path(), &d.key, "wrong-secret.key", false);
    let unknown_key = altered_key(d.dir.path(), &d.key, "unknown.key", true);
    for (key, rcode) in [
        (&wrong_secret, "NOTAUTH(BADSIG)"),
        (&unknown_key, "NOTAUTH(BADKEY)"),
    ] {
        let c = d.config("refused.toml", key, "");
        let r = d.run(&c, &["move"]);
        assert_eq!(r.code, Some(2), "{rcode}: {}", r.text());
        assert!(r.message().contains(rcode), "{rcode}: {}", r.text());
        assert!(
            r.message().starts_with("dns: not redirected"),
            "{}",
            r.message()
        );
        let f = r.findings("dns");
        assert_eq!(f[0]["id"], "dns-update-refused", "{}", r.text());
        assert_eq!(f[0]["details"]["rcode"], rcode);
    }
    // A name the key may not change: REFUSED, and the update is one
    // transaction, so the permitted names did not move either.
    let c = d.config("policy.toml", &d.key, "");
    let text = std::fs::read_to_string(&c).unwrap().replace(
        &format!("\"trk.{ZONE}\"]"),
        &format!("\"trk.{ZONE}\", \"maestro1.{ZONE}\"]"),
    );
    std::fs::write(&c, text).unwrap();
    let r = d.run(&c, &["move"]);
    assert_eq!(r.code, Some(2), "{}", r.text());
    assert!(r.message().contains("REFUSED"), "{}", r.text());
    assert!(r.text().contains("update-policy"), "{}", r.text());
    assert_eq!(d.answers(NS1, "maestro"), OLD);

    // Service addresses that are not this server's (the config read on
    // the wrong server, or a NAT address no witness proves): refused,
    // nothing sent.
    let elsewhere = write(
        d.dir.path(),
        "elsewhere.toml",
        &std::fs::read_to_string(&good).unwrap().replace(
            &format!("addresses = [\"{HERE}\"]"),
            "addresses = [\"198.18.0.99\"]",
        ),
    );
    let r = d.run(&elsewhere, &["move"]);
    assert_eq!(r.code, Some(2), "{}", r.text());
    assert!(
        r.message().contains("refused: 198.18.0.99") && r.message().contains("nothing was changed"),
        "{}",
        r.text()
    );
    assert_eq!(d.answers(NS1, "maestro"), OLD);

    // The old primary also has an AAAA record with a day's TTL (added
    // with nsupdate and the same key): what resolvers may keep longest.
    let cmds = write(
        d.dir.path(),
        "aaaa.nsupdate",
        &format!(
            "server {NS1}\nzone {ZONE}\nupdate add maestro.{ZONE} 86400 AAAA 2001:db8::1\nsend\n"
        ),
    );
    support::redirect_lab::must(
        d.lab
            .command("f", "nsupdate")
            .arg("-k")
            .arg(&d.key)
            .arg(&cmds),
        "the old primary's AAAA record",
    );
    wait_for_aaaa(&d.lab, NS2, &format!("maestro.{ZONE}"), "2001:db8::1");

    // The move: both servers answer here (both families replaced), the
    // old TTL reported is the longest of A (300s) and AAAA (86400s).
    let r = d.run(&good, &["move"]);
    assert_eq!(r.code, Some(0), "{}", r.text());
    let m = r.message();
    assert!(
        m.contains(&format!(
            "-> {HERE} on all 2 authoritative servers of {ZONE}"
        )),
        "{m}"
    );
    assert!(
        m.contains("old TTL 86400s: resolvers may send clients to"),
        "{m}"
    );
    let dns = r.check("dns");
    assert_eq!(dns["details"]["old_ttl_s"], 86400);
    assert_eq!(dns["details"]["old_addresses"][0], OLD);
    assert_eq!(dns["details"]["primary_serial"], 3);
    assert_eq!(
        dig(&d.lab, "f", NS1, &format!("maestro.{ZONE}"), "AAAA"),
        ""
    );
    for server in [NS1, NS2] {
        assert_eq!(d.answers(server, "maestro"), HERE, "{server}");
        assert_eq!(d.answers(server, "trk"), HERE, "{server}");
    }
    // Again: nothing to change, still verified everywhere.
    let r = d.run(&good, &["move"]);
    assert_eq!(r.code, Some(0), "{}", r.text());
    assert!(r.check("dns")["details"]["update"]
        .as_str()
        .unwrap()
        .starts_with("not needed"));

    // The failback restores exactly what the names held before the first
    // move: the A and the AAAA record, each with its TTL.
    let r = d.run(&good, &["undo"]);
    assert_eq!(r.code, Some(0), "{}", r.text());
    for server in [NS1, NS2] {
        assert_eq!(d.answers(server, "maestro"), OLD, "{server}");
    }
    let aaaa = dig_ttl(&d.lab, NS1, &format!("maestro.{ZONE}"), "AAAA");
    assert_eq!(
        aaaa, "86400 2001:db8::1",
        "the AAAA record and its TTL are back"
    );
    assert_eq!(
        dig_ttl(&d.lab, NS1, &format!("maestro.{ZONE}"), "A"),
        format!("300 {OLD}")
    );
    // Nothing left to undo: said so, and nothing is sent.
    let r = d.run(&good, &["undo"]);
    assert_eq!(r.code, Some(0), "{}", r.text());
    assert!(r.message().contains("nothing to undo"), "{}", r.text());
}

/// `TTL ADDRESS` of a name's records of `rtype`, as `server` answers.
fn dig_ttl(lab: &Lab, server: &str, name: &str, rtype: &str) -> String {
    let out = lab
        .command("f", "dig")
        .args([
            "+noall",
            "+answer",
            "+norec",
            "+time=2",
            "+tries=1",
            &format!("@{server}"),
            name,
            rtype,
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            format!("{} {}", f.get(1).unwrap_or(&""), f.last().unwrap_or(&""))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits (bounded) until `server` answers `want` for the name's AAAA.
fn wait_for_aaaa(lab: &Lab, server: &str, name: &str, want: &str) {
    let until = Instant::now() + Duration::from_secs(10);
    while dig(lab, "f", server, name, "AAAA") != want {
        assert!(
            Instant::now() < until,
            "{server} never answered {want} for {name}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_secondary_that_lags_is_a_warning_with_its_serial_and_notify_catches_it_up() {
    let mut d = DnsLab::new();
    let fast = "step_timeout = \"1s\"\ndns_wait = \"1s\"\n";
    let c = d.config("c.toml", &d.key, "");
    let text = std::fs::read_to_string(&c)
        .unwrap()
        .replace("dns_wait = \"3s\"\n", "")
        .replace("step_timeout = \"1s\"\n", fast);
    std::fs::write(&c, &text).unwrap();

    // Stopped (SIGSTOP): the secondary answers nothing within the bound.
    d.secondary.pause();
    let started = Instant::now();
    let r = d.run(&c, &["move"]);
    d.secondary.resume();
    assert_eq!(r.code, Some(1), "{}", r.text());
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(
        r.message()
            .contains(&format!("on 1 of 2 authoritative servers of {ZONE}")),
        "{}",
        r.text()
    );
    let lag = r.findings("dns");
    assert_eq!(lag[0]["id"], "dns-lagging", "{}", r.text());
    assert!(
        lag[0]["location"].as_str().unwrap().contains(NS2),
        "{}",
        r.text()
    );
    assert!(
        lag[0]["message"]
            .as_str()
            .unwrap()
            .contains("gives no answer"),
        "{}",
        r.text()
    );
    // Resumed, it reads the queued NOTIFY and follows.
    wait_for(&d.lab, NS2, &format!("maestro.{ZONE}"), HERE);

    // Down during the next update, then up again from its zone file: it
    // serves the old records until the next NOTIFY or refresh. The names
    // move to another address of this server.
    support::redirect_lab::must(
        d.lab
            .command("f", "ip")
            .args(["addr", "add", "198.18.0.7/32", "dev", "eth0"]),
        "a second address of this server",
    );
    d.secondary.kill();
    let c2 = write(
        d.dir.path(),
        "c2.toml",
        &text.replace(
            &format!("addresses = [\"{HERE}\"]"),
            "addresses = [\"198.18.0.7\"]",
        ),
    );
    let r = d.run(&c2, &["move"]);
    assert_eq!(r.code, Some(1), "{}", r.text());
    d.secondary.restart(&d.lab);
    assert_eq!(
        d.answers(NS2, "maestro"),
        HERE,
        "the restarted secondary is stale"
    );
    let r = d.run(&c2, &["move"]);
    assert_eq!(r.code, Some(1), "{}", r.text());
    let lag = r.findings("dns");
    let msg = lag[0]["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("answers maestro.{ZONE} -> {HERE}")),
        "{msg}"
    );
    assert!(msg.contains("(serial 2, the primary has 3)"), "{msg}");
    assert!(
        msg.contains("rndc notify"),
        "the advice names the way out: {msg}"
    );
    assert_eq!(lag[0]["details"]["serial"], 2);

    // Allowed to re-send NOTIFY through the primary (rndc): it catches up.
    let c3 = write(
        d.dir.path(),
        "c3.toml",
        &format!(
            "{}dns_notify_command = \"rndc -s {NS1} -k {} notify {ZONE}\"\n",
            std::fs::read_to_string(&c2).unwrap(),
            d.rndc.display()
        ),
    );
    let r = d.run(&c3, &["move"]);
    assert_eq!(r.code, Some(0), "{}", r.text());
    assert!(r.message().contains("(NOTIFY re-sent)"), "{}", r.message());
    assert_eq!(d.answers(NS2, "maestro"), "198.18.0.7");
}

/// The old primary (p), the failover (f) and a witness (w, real sshd).
struct IpLab {
    lab: Lab,
    dir: tempfile::TempDir,
    _sshd: Sshd,
    config: PathBuf,
}

impl IpLab {
    fn new(floating: &str, v6: bool) -> IpLab {
        let mut lab = Lab::new();
        lab.add_host("p", 1);
        lab.add_host("f", 2);
        lab.add_host("w", 3);
        if v6 {
            for (h, n) in [("p", 1), ("f", 2), ("w", 3)] {
                support::redirect_lab::must(
                    lab.command(h, "ip").args([
                        "addr",
                        "add",
                        &format!("2001:2::{n}/64"),
                        "dev",
                        "eth0",
                        "nodad",
                    ]),
                    "an IPv6 address",
                );
            }
        }
        let sshd = Sshd::start_in_netns(&lab.ns("w"), &lab.addr(3));
        let dir = tempfile::tempdir().unwrap();
        let config = write(
            dir.path(),
            "config.toml",
            &format!(
                "[primary]\nhost = \"{OLD}\"\n\n[redirect]\nmethods = [\"ip\"]\nfloating_address = \"{floating}\"\ninterface = \"eth0\"\nverify_port = 8080\nstep_timeout = \"3s\"\n\n[[redirect.witnesses]]\nhost = \"{w}\"\nport = {port}\nuser = \"{user}\"\nidentity_file = \"{key}\"\nknown_hosts = \"{kh}\"\nconnect_timeout = \"3s\"\n",
                w = lab.addr(3),
                port = sshd.port(),
                user = sshd.user(),
                key = sshd.user_key_path().display(),
                kh = sshd.known_hosts().display(),
            ),
        );
        IpLab {
            lab,
            dir,
            _sshd: sshd,
            config,
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        run(
            &self.lab,
            "f",
            &self.config,
            &self.dir.path().join("state"),
            args,
        )
    }

    fn holds(&self, host: &str, addr: &str) -> bool {
        let out = self
            .lab
            .command(host, "ip")
            .args(["-o", "addr", "show", "dev", "eth0"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains(&format!(" {addr}/"))
    }

    fn mac(&self, host: &str) -> String {
        let out = self
            .lab
            .command(host, "cat")
            .arg("/sys/class/net/eth0/address")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn witness_neighbour(&self, addr: &str) -> String {
        let out = self
            .lab
            .command("w", "ip")
            .args(["neigh", "show", addr])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// The witness talks to the address first, so its neighbour table holds
/// the old primary's MAC, as a client's would.
fn prime_witness(l: &IpLab, addr: &str) {
    let ping = if addr.contains(':') { "-6" } else { "-4" };
    let _ = l
        .lab
        .command("w", "ping")
        .args([ping, "-c", "1", "-W", "2", addr])
        .output();
}

#[test]
fn floating_address_refused_while_the_old_primary_holds_it_then_taken_after_the_fence() {
    let l = IpLab::new(FLOATING, false);
    support::redirect_lab::must(
        l.lab
            .command("p", "ip")
            .args(["addr", "add", &format!("{FLOATING}/32"), "dev", "eth0"]),
        "the old primary holds the floating address",
    );
    let _old_service = Banner::start(&l.lab, "p", FLOATING, 8080, "old-primary");
    prime_witness(&l, FLOATING);
    let p_mac = l.mac("p");
    assert!(l.witness_neighbour(FLOATING).contains(&p_mac));

    // The dry run plans, names the witness, changes nothing.
    let r = l.run(&["move", "--dry-run"]);
    assert_eq!(r.code, Some(0), "{}", r.text());
    assert!(r.text().contains("arping -D"), "{}", r.text());
    assert_eq!(r.check("ip")["details"]["dry_run"], true, "{}", r.stdout);
    assert!(
        r.check("ip")["message"]
            .as_str()
            .unwrap()
            .starts_with("dry run: would"),
        "{}",
        r.stdout
    );
    assert!(!l.holds("f", FLOATING));

    // Less time left than the probe and the announcement take: refused
    // before anything is asked or changed, within the deadline.
    let started = Instant::now();
    let r = l.run(&["move", "--deadline", "1s"]);
    assert_eq!(r.code, Some(3), "{}", r.text());
    assert!(r.message().contains("nothing was changed"), "{}", r.text());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(!l.holds("f", FLOATING));

    // The old primary still answers for it and is not fenced: refused.
    let r = l.run(&["move"]);
    assert_eq!(r.code, Some(2), "{}", r.text());
    assert!(r.message().contains("refused"), "{}", r.message());
    assert!(
        r.message().contains(&p_mac),
        "names the holder's MAC: {}",
        r.message()
    );
    assert!(!l.holds("f", FLOATING), "nothing was added");

    // Fenced: its link is down. The failover takes the address, announces
    // it, and the witness's connection reads this run's token here.
    l.lab.link("p", false);
    let r = l.run(&["move"]);
    assert_eq!(r.code, Some(0), "{}", r.text());
    assert!(l.holds("f", FLOATING));
    assert!(
        r.message().contains("1 of 1 witnesses reach this server"),
        "{}",
        r.message()
    );
    let f = r.findings("ip");
    assert_eq!(f[0]["id"], "ip-verified", "{}", r.text());
    let f_mac = l.mac("f");
    assert!(
        l.witness_neighbour(FLOATING).contains(&f_mac),
        "the gratuitous ARP moved the witness's entry: {}",
        l.witness_neighbour(FLOATING)
    );
    assert!(
        r.check("ip")["perfdata"][0]["label"] == "verified",
        "{}",
        r.stdout
    );

    // The old primary comes back still holding it: both have it now, and
    // a second run refuses to announce it (it would only split the clients).
    l.lab.link("p", true);
    let r = l.run(&["move"]);
    assert_eq!(r.code, Some(2), "{}", r.text());
    assert!(
        r.message().contains("it is on this server too"),
        "{}",
        r.message()
    );

    // Failback: the address leaves this server.
    let r = l.run(&["undo"]);
    assert_eq!(r.code, Some(0), "{}", r.text());
    assert!(!l.holds("f", FLOATING));

    // The old primary holds the address, but maestro-fence's journal holds
    // a confirmed fence of it: taken, with a WARNING that it answers.
    let mut journal = maestro_fence::journal::Journal::open(&l.dir.path().join("state")).unwrap();
    let epoch = journal.begin("fence", OLD, HERE).unwrap();
    journal
        .finish(
            epoch,
            maestro_fence::journal::FENCED,
            Some("isolate"),
            &serde_json::json!([]),
            &serde_json::json!([]),
        )
        .unwrap();
    drop(journal);
    // Taken, because the primary is fenced, but it still answers after
    // the announcement: the fence did not silence it (an isolate fence is
    // a firewall on this server), so clients may reach either machine.
    // Never "redirected"; the address this run added is removed again.
    let r = l.run(&["move"]);
    assert_eq!(r.code, Some(2), "{}", r.text());
    let still = r.findings("ip");
    assert!(
        still.iter().any(|f| f["id"] == "ip-still-answers"
            && f["message"]
                .as_str()
                .unwrap()
                .contains("primary is fenced (epoch 1")),
        "{}",
        r.text()
    );
    assert!(
        r.message().contains("the fence did not silence it") && r.message().contains(&l.mac("p")),
        "{}",
        r.text()
    );
    assert!(!l.holds("f", FLOATING), "removed again: {}", r.text());
    assert_eq!(
        r.check("ip")["details"]["rolled_back"],
        true,
        "{}",
        r.text()
    );
    // The address on another interface of this server (a bond, a VLAN, a
    // renamed NIC), not added by a move: undo looks at every interface,
    // says where it is and leaves it (CRITICAL), never "nothing to release".
    support::redirect_lab::must(
        l.lab.command("f", "ip").args([
            "link", "add", "vlan7", "type", "veth", "peer", "name", "vlan7p",
        ]),
        "a second interface",
    );
    support::redirect_lab::must(
        l.lab
            .command("f", "ip")
            .args(["addr", "add", &format!("{FLOATING}/32"), "dev", "vlan7"]),
        "the address on it",
    );
    let r = l.run(&["undo"]);
    assert_eq!(r.code, Some(2), "{}", r.text());
    assert!(
        r.message().contains("vlan7") && r.message().contains("not released"),
        "{}",
        r.text()
    );
}

#[test]
fn floating_ipv6_address_is_announced_by_unsolicited_neighbour_advertisement() {
    let addr = "2001:2::10";
    let l = IpLab::new(addr, true);
    support::redirect_lab::must(
        l.lab.command("p", "ip").args([
            "addr",
            "add",
            &format!("{addr}/128"),
            "dev",
            "eth0",
            "nodad",
        ]),
        "the old primary holds the address",
    );
    prime_witness(&l, addr);
    assert!(
        l.witness_neighbour(addr).contains(&l.mac("p")),
        "{}",
        l.witness_neighbour(addr)
    );
    let r = l.run(&["move"]);
    assert_eq!(r.code, Some(2), "{}", r.text());
    assert!(r.message().contains("refused"), "{}", r.text());

    l.lab.link("p", false);
    let r = l.run(&["move"]);
    assert_eq!(r.code, Some(0), "{}", r.text());
    assert!(l.holds("f", addr));
    assert!(
        l.witness_neighbour(addr).contains(&l.mac("f")),
        "the neighbour advertisement moved the witness's entry: {}",
        l.witness_neighbour(addr)
    );
}

#[test]
fn check_finds_ini_values_names_relay_rules_and_ports_that_still_point_at_the_old_primary() {
    let mut lab = Lab::new();
    lab.add_host("p", 1);
    lab.add_host("f", 2);
    lab.add_host("w", 3);
    lab.add_host("m", 25);
    lab.add_host("n1", 53);
    let dir = tempfile::tempdir().unwrap();
    let key = tsig_key(dir.path(), "maestro-ha");
    let rndc = tsig_key(dir.path(), "rndc-key");
    let _bind = Bind::primary(
        &lab,
        ZONE,
        "n1",
        NS1,
        dir.path().join("n1"),
        &key,
        "maestro-ha",
        &rndc,
        &[],
        OLD,
    );
    // The failover and the witness resolve through the zone's server.
    let resolv = format!("nameserver {NS1}\noptions timeout:1 attempts:1\n");
    let etc_f = NetnsEtc::new(&lab, "f");
    etc_f.write("resolv.conf", &resolv);
    etc_f.write("hosts", "127.0.0.1 localhost\n");
    let etc_w = NetnsEtc::new(&lab, "w");
    etc_w.write("resolv.conf", &resolv);
    etc_w.write("hosts", "127.0.0.1 localhost\n");
    let sshd = Sshd::start_in_netns(&lab.ns("w"), &lab.addr(3));
    let relay = Relay::start(
        &lab,
        "m",
        "198.18.0.25",
        dir.path().join("relay"),
        &format!("127.0.0.0/8, {OLD}/32"),
    );
    // A firewall rule on the failover that lets only the old primary reach 8081.
    lab.nft("f", &format!("table inet t {{\n chain input {{\n  type filter hook input priority 0;\n  tcp dport 8081 ip saddr != {OLD} drop\n }}\n}}\n"));

    // A Maestro tree: lui.ini pins the old primary's address, tracker.ini
    // names the old primary, hub.ini has a literal address of another server.
    let root = dir.path().join("maestro");
    for d in ["hub", "lui", "trk"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(
        root.join("hub/hub.ini"),
        "# HUB\nHubPort=1099\nMailRelay=198.18.0.25\n",
    )
    .unwrap();
    std::fs::write(
        root.join("lui/lui.ini"),
        format!("# LUI\nDBPort=3306\nDBHost={OLD}\nRemoteAdminPassword={OLD}\nDBDriver=com.mysql.jdbc.Driver\n"),
    )
    .unwrap();
    std::fs::write(
        root.join("trk/tracker.ini"),
        format!("TrackerURL=http://maestro1.{ZONE}:8080/trk/\nServerName=maestro.{ZONE}\n"),
    )
    .unwrap();
    let state = dir.path().join("state");
    let config = write(
        dir.path(),
        "config.toml",
        &format!(
            "[site]\ninstall_root = \"{root}\"\n\n[primary]\nhost = \"{OLD}\"\n\n[redirect]\naddresses = [\"{HERE}\"]\nstep_timeout = \"2s\"\nnames = [\"maestro.{ZONE}\", \"trk.{ZONE}\"]\nsmtp_relay = \"relay.{ZONE}\"\nsmtp_rcpt = \"probe@example.net\"\nsmtp_helo = \"maestro2.{ZONE}\"\nports = [8080, 8081]\n\n[[redirect.witnesses]]\nhost = \"{w}\"\nport = {port}\nuser = \"{user}\"\nidentity_file = \"{k}\"\nknown_hosts = \"{kh}\"\nconnect_timeout = \"3s\"\n",
            root = root.display(),
            w = lab.addr(3),
            port = sshd.port(),
            user = sshd.user(),
            k = sshd.user_key_path().display(),
            kh = sshd.known_hosts().display(),
        ),
    );
    let r = run(&lab, "f", &config, &state, &["check"]);
    assert_eq!(r.code, Some(2), "{}", r.text());

    // INI: file:line and key; the password's value is never read.
    let ini = r.findings("ini");
    let at = |id: &str, loc_end: &str| {
        ini.iter()
            .find(|f| f["id"] == id && f["location"].as_str().unwrap().ends_with(loc_end))
            .copied()
    };
    let pinned = at("ini-old-primary", "lui/lui.ini:3").unwrap_or_else(|| panic!("{}", r.text()));
    assert_eq!(pinned["details"]["key"], "DBHost");
    assert_eq!(pinned["status"], "CRITICAL");
    let named =
        at("ini-old-primary", "trk/tracker.ini:1").unwrap_or_else(|| panic!("{}", r.text()));
    assert!(
        named["message"]
            .as_str()
            .unwrap()
            .contains(&format!("maestro1.{ZONE}, which resolves to {OLD}")),
        "{}",
        r.text()
    );
    let foreign =
        at("ini-foreign-address", "hub/hub.ini:3").unwrap_or_else(|| panic!("{}", r.text()));
    assert_eq!(foreign["status"], "WARNING");
    assert!(
        !r.stdout.contains("RemoteAdminPassword"),
        "a secret key is never read"
    );
    // The service's own name counts too while the DNS still has the old primary.
    let service =
        at("ini-old-primary", "trk/tracker.ini:2").unwrap_or_else(|| panic!("{}", r.text()));
    assert_eq!(service["details"]["key"], "ServerName");
    let msg = r.check("ini")["message"].as_str().unwrap().to_string();
    assert!(
        msg.contains("3 INI value(s) still point at the old primary"),
        "{msg}"
    );

    // The names still point at the old primary, from here and from the witness.
    let names = r.findings("names");
    for from in ["here", "witness"] {
        assert!(
            names.iter().any(|f| f["id"] == "name-old-primary"
                && f["location"].as_str().unwrap().starts_with(from)),
            "{from}: {}",
            r.text()
        );
    }
    // The relay refuses mail from this server, quoted; it got no DATA.
    let smtp = r.check("smtp");
    assert_eq!(smtp["status"], "CRITICAL", "{}", r.text());
    let m = smtp["message"].as_str().unwrap();
    assert!(
        m.contains("at RCPT TO") && m.contains("Relay access denied"),
        "{m}"
    );
    assert!(m.contains(&format!("from {HERE}")), "{m}");
    assert!(!relay.log().contains("DATA"), "{}", relay.log());
    // Port 8080 is reachable from the witness (it read the token), 8081 is not.
    let ports = r.findings("ports");
    assert!(
        ports
            .iter()
            .any(|f| f["id"] == "port-here" && f["details"]["port"] == 8080),
        "{}",
        r.text()
    );
    let blocked = ports.iter().find(|f| f["details"]["port"] == 8081).unwrap();
    assert_eq!(blocked["id"], "port-blocked", "{}", r.text());

    // After the fixes: names moved, relay rule widened, INI fixed, rule gone.
    let dns = write(dir.path(), "dns.toml", &dns_config(&key, ""));
    assert_eq!(run(&lab, "f", &dns, &state, &["move"]).code, Some(0));
    relay.set_mynetworks(
        &lab,
        "m",
        "198.18.0.25",
        &format!("127.0.0.0/8, {OLD}/32, {HERE}/32"),
    );
    std::fs::write(root.join("lui/lui.ini"), "DBHost=localhost\n").unwrap();
    std::fs::write(
        root.join("trk/tracker.ini"),
        format!("TrackerURL=http://maestro.{ZONE}:8080/trk/\nServerName=maestro.{ZONE}\n"),
    )
    .unwrap();
    lab.nft_delete_table("f", "inet t");
    let r = run(&lab, "f", &config, &state, &["check"]);
    assert_eq!(
        r.code,
        Some(1),
        "only the hub.ini literal is left, a WARNING:\n{}",
        r.text()
    );
    assert_eq!(r.check("names")["status"], "OK", "{}", r.text());
    assert_eq!(r.check("ports")["status"], "OK", "{}", r.text());
    let smtp = r.check("smtp");
    assert_eq!(smtp["status"], "OK", "{}", r.text());
    assert!(
        smtp["message"]
            .as_str()
            .unwrap()
            .contains("stopped before DATA"),
        "{}",
        r.text()
    );
}

#[test]
fn the_command_method_is_bounded_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("nat-rule");
    let config = |name: &str, mv: &str, verify: &str, timeout: &str| {
        write(
            dir.path(),
            name,
            &format!(
                "[redirect]\nmethods = [\"command\"]\nmove_command = \"{mv}\"\nundo_command = \"rm -f {f}\"\nverify_command = \"{verify}\"\nundo_verify_command = \"test ! -e {f}\"\ncommand_timeout = \"{timeout}\"\n",
                f = flag.display()
            ),
        )
    };
    let tool = |c: &Path, args: &[&str]| {
        let out = std::process::Command::new(REDIRECT)
            .args(["--config", c.to_str().unwrap(), "--format", "json"])
            .args(args)
            .env_remove("MAESTRO_HA_CONFIG")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.code(), stdout)
    };
    let verify = format!("test -e {}", flag.display());
    let good = config(
        "good.toml",
        &format!("touch {}", flag.display()),
        &verify,
        "5s",
    );
    let (code, out) = tool(&good, &["move"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(flag.exists());
    let (code, out) = tool(&good, &["undo"]);
    assert_eq!(
        code,
        Some(0),
        "undo holds when undo_verify_command says 'at the primary': {out}"
    );
    assert!(!flag.exists());
    // Without undo_verify_command nothing runs: a verify command that
    // merely fails (exit 1) would have passed for "traffic left".
    std::fs::write(&flag, "").unwrap();
    let unverifiable = write(
        dir.path(),
        "no-undo-verify.toml",
        &std::fs::read_to_string(&good)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("undo_verify_command"))
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    );
    let (code, out) = tool(&unverifiable, &["undo"]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("undo_verify_command is not set"), "{out}");
    assert!(flag.exists(), "the undo command did not run");
    // An undo verify that fails (a pipe into `grep -q` that finds nothing) is CRITICAL.
    let failing = write(
        dir.path(),
        "undo-verify-fails.toml",
        &std::fs::read_to_string(&good).unwrap().replace(
            &format!("undo_verify_command = \"test ! -e {}\"", flag.display()),
            "undo_verify_command = \"echo primary-down | grep -q primary-up\"",
        ),
    );
    let (code, out) = tool(&failing, &["undo"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("not undone"), "{out}");
    // The move ran but the verify says no: never "redirected".
    let (code, out) = tool(&config("no.toml", "true", &verify, "5s"), &["move"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("not redirected"), "{out}");
    // A verify that cannot tell (exit 5): UNKNOWN.
    let (code, _) = tool(&config("unk.toml", "true", "exit 5", "5s"), &["move"]);
    assert_eq!(code, Some(3));
    // A hung command is killed at its bound.
    let started = Instant::now();
    let (code, out) = tool(&config("hang.toml", "sleep 30", &verify, "1s"), &["move"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(out.contains("did not finish"), "{out}");

    // A dry run says so in every record, and a plan that could never be
    // verified (the ip method without a witness) is UNKNOWN, not OK.
    let (code, out) = tool(&good, &["move", "--dry-run"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("\"dry_run\":true") && out.contains("dry run: would"),
        "{out}"
    );
    let unwitnessed = write(
        dir.path(),
        "ip-no-witness.toml",
        "[redirect]\nmethods = [\"ip\"]\nfloating_address = \"192.0.2.30\"\ninterface = \"eth0\"\n",
    );
    let (code, out) = tool(&unwitnessed, &["move", "--dry-run"]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("no witness could prove it"), "{out}");

    // A witness that is this server proves nothing: refused before any
    // login (no sshd is needed for that), the names' check says so.
    let own_witness = write(
        dir.path(),
        "own-witness.toml",
        "[redirect]\nnames = [\"localhost\"]\n\n[[redirect.witnesses]]\nhost = \"127.0.0.1\"\nport = 9\nuser = \"nobody\"\n",
    );
    let (code, out) = tool(&own_witness, &["check"]);
    assert_ne!(code, Some(0), "{out}");
    assert!(
        out.contains("witness-unreachable") && out.contains("a witness must be another machine"),
        "{out}"
    );
}

#[test]
fn config_check_runs_the_tools_own_resolution() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("tsig.key");
    std::fs::write(&key, "key \"maestro-ha\" { algorithm hmac-sha256; secret \"4tQbuMvYQH3OQ2QzWBsSWIOqAyY2yA0pDOWnEMyQK1c=\"; };\n").unwrap();
    private(&key);
    let c = write(dir.path(), "ok.toml", &dns_config(&key, ""));
    let out = std::process::Command::new(REDIRECT)
        .args([
            "--config",
            c.to_str().unwrap(),
            "--state-dir",
            dir.path().to_str().unwrap(),
            "config",
            "check",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("redirect: methods dns"), "{text}");
    assert!(
        !text.contains("4tQbuMvYQH3OQ2QzWBsSWIOqAyY2yA0pDOWnEMyQK1c="),
        "{text}"
    );
    // A key file that is not a key: the check names the key and fails.
    std::fs::write(&key, "not a key\n").unwrap();
    let out = std::process::Command::new(REDIRECT)
        .args([
            "--config",
            c.to_str().unwrap(),
            "--state-dir",
            dir.path().to_str().unwrap(),
            "config",
            "check",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("redirect.dns_key"), "{text}");
    // A typo in [redirect] is named with its line and key, by this tool and
    // by any other (every binary knows every section).
    let typo = write(
        dir.path(),
        "typo.toml",
        "[redirect]\nmethods = [\"dns\"]\ndns_zoen = \"example.org\"\n",
    );
    for bin in [REDIRECT, env!("CARGO_BIN_EXE_maestro-watch")] {
        let out = std::process::Command::new(bin)
            .args(["--config", typo.to_str().unwrap(), "config", "check"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{bin}: {err}");
        assert!(
            err.contains("typo.toml:3: key `redirect.dns_zoen`: unknown field `dns_zoen`"),
            "{bin}: {err}"
        );
    }
}

#[test]
fn check_counts_only_what_is_on_this_server_now_and_proven() {
    let mut lab = Lab::new();
    lab.add_host("p", 1);
    lab.add_host("f", 2);
    lab.add_host("w", 3);
    // The names, as each host's resolver answers them: the service name
    // points at the floating address (still on the old primary), the
    // tracker's name at the failover; on the witness the tracker's name
    // is a loopback address (a broken resolver).
    let hosts =
        |trk: &str| format!("127.0.0.1 localhost\n{FLOATING} maestro.{ZONE}\n{trk} trk.{ZONE}\n");
    let resolv = "options timeout:1 attempts:1\n";
    let mut etcs = Vec::new();
    for (h, trk) in [("p", HERE), ("f", HERE), ("w", "127.0.0.1")] {
        let etc = NetnsEtc::new(&lab, h);
        etc.write("hosts", &hosts(trk));
        etc.write("resolv.conf", resolv);
        etcs.push(etc);
    }
    let sshd = Sshd::start_in_netns(&lab.ns("w"), &lab.addr(3));
    support::redirect_lab::must(
        lab.command("p", "ip")
            .args(["addr", "add", &format!("{FLOATING}/32"), "dev", "eth0"]),
        "the old primary holds the floating address",
    );
    let _old_service = Banner::start(&lab, "p", FLOATING, 8080, "old-primary");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = |name: &str, ports: &str| {
        write(
            dir.path(),
            name,
            &format!(
                "[primary]\nhost = \"{OLD}\"\n\n[redirect]\naddresses = [\"{HERE}\"]\nfloating_address = \"{FLOATING}\"\ninterface = \"eth0\"\nstep_timeout = \"2s\"\nnames = [\"maestro.{ZONE}\", \"trk.{ZONE}\"]\n{ports}\n[[redirect.witnesses]]\nhost = \"{w}\"\nport = {port}\nuser = \"{user}\"\nidentity_file = \"{k}\"\nknown_hosts = \"{kh}\"\nconnect_timeout = \"3s\"\n",
                w = lab.addr(3),
                port = sshd.port(),
                user = sshd.user(),
                k = sshd.user_key_path().display(),
                kh = sshd.known_hosts().display(),
            ),
        )
    };

    // On the failover: the floating address is configured but on the old
    // primary; the witness's connection to it reads the old primary's
    // banner, not a token: CRITICAL, never "a service listens there".
    let r = run(
        &lab,
        "f",
        &config("f.toml", "ports = [8080]\n"),
        &state,
        &["check"],
    );
    assert_eq!(r.code, Some(2), "{}", r.text());
    let ports = r.findings("ports");
    let to_floating = ports
        .iter()
        .find(|f| {
            f["message"]
                .as_str()
                .unwrap()
                .contains(&format!("{FLOATING}:8080"))
        })
        .unwrap_or_else(|| panic!("{}", r.text()));
    assert_eq!(to_floating["id"], "port-elsewhere", "{}", r.text());
    assert!(
        to_floating["message"]
            .as_str()
            .unwrap()
            .contains("old-primary"),
        "{}",
        r.text()
    );
    assert_eq!(r.check("ports")["status"], "CRITICAL", "{}", r.text());
    // The same address is not "this server" for the names either, from
    // here or from the witness; the witness's loopback answer is CRITICAL.
    let names = r.findings("names");
    let about = |from: &str, name: &str| {
        names
            .iter()
            .find(|f| {
                f["location"].as_str().unwrap().starts_with(from)
                    && f["message"].as_str().unwrap().starts_with(name)
            })
            .unwrap_or_else(|| panic!("{from} {name}: {}", r.text()))
    };
    for from in ["here", "witness"] {
        let f = about(from, &format!("maestro.{ZONE}"));
        assert_eq!(f["id"], "name-elsewhere", "{}", r.text());
    }
    assert_eq!(about("here", &format!("trk.{ZONE}"))["id"], "name-here");
    assert_eq!(
        about("witness", &format!("trk.{ZONE}"))["id"],
        "name-not-routable",
        "{}",
        r.text()
    );

    // On the primary (the same config, as a failback runs check there):
    // a name pointing at the failover's [redirect] addresses is the old
    // server's, not "this server".
    let r = run(&lab, "p", &config("p.toml", ""), &state, &["check"]);
    assert_eq!(r.code, Some(2), "{}", r.text());
    let names = r.findings("names");
    let trk_here = names
        .iter()
        .find(|f| f["location"] == "here" && f["message"].as_str().unwrap().starts_with("trk."))
        .unwrap_or_else(|| panic!("{}", r.text()));
    assert_eq!(trk_here["id"], "name-old-primary", "{}", r.text());
    // The floating address is on the primary: there it is this server.
    let maestro_here = names
        .iter()
        .find(|f| f["location"] == "here" && f["message"].as_str().unwrap().starts_with("maestro."))
        .unwrap();
    assert_eq!(maestro_here["id"], "name-here", "{}", r.text());
}
