//! fence_maestro, the FenceAgentAPI face of maestro-fence, as Pacemaker
//! calls it: options on stdin or as flags, the API's exit codes, metadata
//! valid against fence-agents' schema (xmllint --relaxng).

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use support::maestro_fence::{run, Run, BIN};

const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/maestro_fence/fence-agents-metadata.rng"
);

/// A `fence_maestro` link beside a temporary folder, as installed.
struct Agent {
    dir: tempfile::TempDir,
    link: PathBuf,
}

impl Agent {
    fn new() -> Agent {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("fence_maestro");
        std::os::unix::fs::symlink(BIN, &link).unwrap();
        Agent { dir, link }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn stdin(&self, input: &str) -> Run {
        run(self.link.to_str().unwrap(), &[], input)
    }

    fn flags(&self, args: &[&str]) -> Run {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        run(self.link.to_str().unwrap(), &args, "")
    }

    /// A config whose only level is fence_dummy with a status file.
    fn dummy_config(&self, state: &str) -> PathBuf {
        let status = self.path("dummy.status");
        fs::write(&status, state).unwrap();
        let p = self.path("config.toml");
        fs::write(
            &p,
            format!(
                "[primary]\nhost = \"198.18.0.2\"\n[fence]\nlevels = [\"agent\"]\nagent = \"fence_dummy\"\nagent_options = {{ status_file = \"{}\" }}\n",
                status.display()
            ),
        )
        .unwrap();
        p
    }

    fn common(&self, config: &Path) -> String {
        format!(
            "config_file={}\nstate_dir={}\n",
            config.display(),
            self.path("state").display()
        )
    }
}

#[test]
fn metadata_validates_against_the_fence_agents_schema() {
    let a = Agent::new();
    let r = a.flags(&["-o", "metadata"]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    let xml = a.path("metadata.xml");
    fs::write(&xml, &r.stdout).unwrap();
    let v = std::process::Command::new("xmllint")
        .args(["--noout", "--relaxng", SCHEMA])
        .arg(&xml)
        .output()
        .expect("xmllint runs (Debian libxml2-utils)");
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    for action in [
        "on",
        "off",
        "reboot",
        "status",
        "monitor",
        "list",
        "list-status",
        "metadata",
        "manpage",
        "validate-all",
    ] {
        assert!(
            r.stdout.contains(&format!("<action name=\"{action}\"")),
            "{action}"
        );
    }
    assert!(
        r.stdout.contains("<parameter name=\"delay\""),
        "{}",
        r.stdout
    );
    // The same from stdin, in the OCF spelling, as `manpage` (fence-agents'
    // library prints the XML for both) and from `maestro-fence agent`.
    assert_eq!(a.stdin("action=metadata\n").stdout, r.stdout);
    assert_eq!(a.stdin("action=meta-data\n").stdout, r.stdout);
    assert_eq!(a.flags(&["-o", "manpage"]).stdout, r.stdout);
    let sub = run(BIN, &["agent".into(), "--action=metadata".into()], "");
    assert_eq!(sub.code, Some(0));
    assert_eq!(sub.stdout, r.stdout);
}

#[test]
fn stdin_is_parsed_as_the_api_says() {
    let a = Agent::new();
    let config = a.dummy_config("on");
    // Comments, blank lines, unknown keys (Pacemaker's own), the last value wins.
    let input = format!("# from stonithd\n{}nodename=maestro1\nport=maestro1\npcmk_host_list=maestro1\nnode_name=maestro1\naction=off\n\naction=list\n", a.common(&config));
    let r = a.stdin(&input);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert_eq!(r.stdout, "maestro1\n");
    // `option` is the old name of `action`.
    let r = a.stdin(&format!(
        "{}option=list\nnode-name=maestro9\n",
        a.common(&config)
    ));
    assert_eq!(r.stdout, "maestro9\n", "{}", r.all());
    // A line that is not key=value is warned about, not fatal.
    let r = a.stdin(&format!(
        "{}garbage line\naction=validate-all\n",
        a.common(&config)
    ));
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(r.stderr.contains("not key=value"), "{}", r.all());
}

#[test]
fn each_action_has_the_api_exit_code() {
    let a = Agent::new();
    let config = a.dummy_config("on");
    let c = a.common(&config);
    // status: 0 on (not fenced).
    let r = a.stdin(&format!("{c}action=status\n"));
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(r.stdout.contains("Status: ON"));
    // monitor: 0, the level can answer.
    assert_eq!(a.stdin(&format!("{c}action=monitor\n")).code, Some(0));
    // off: fences through the agent level, verified.
    let r = a.stdin(&format!("{c}action=off\n"));
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(r.stdout.contains("Success: Powered OFF"));
    assert_eq!(fs::read_to_string(a.path("dummy.status")).unwrap(), "off");
    // status: 2 off (fenced).
    let r = a.stdin(&format!("{c}action=status\n"));
    assert_eq!(r.code, Some(2), "{}", r.all());
    // reboot fences too and leaves the primary fenced.
    fs::write(a.path("dummy.status"), "on").unwrap();
    let r = a.flags(&[
        "--config-file",
        config.to_str().unwrap(),
        "--state-dir",
        a.path("state").to_str().unwrap(),
        "-o",
        "reboot",
    ]);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert_eq!(fs::read_to_string(a.path("dummy.status")).unwrap(), "off");
    // The journal has both fences.
    let h = run(
        BIN,
        &[
            "--state-dir".into(),
            a.path("state").display().to_string(),
            "epoch".into(),
        ],
        "",
    );
    assert!(h.stdout.contains("epoch 2"), "{}", h.all());
    // on: unfences over SSH; an unreachable primary (closed port) is a failure.
    let r = a.stdin(&format!(
        "{c}action=on\nip=127.0.0.1\nipport=1\npower_timeout=5\n"
    ));
    assert_eq!(r.code, Some(1), "{}", r.all());
    // validate-all: 0 with a valid config, 1 without a primary.
    assert_eq!(a.stdin(&format!("{c}action=validate-all\n")).code, Some(0));
    let empty = a.path("empty.toml");
    fs::write(&empty, "").unwrap();
    let r = a.stdin(&format!(
        "config_file={}\naction=validate-all\n",
        empty.display()
    ));
    assert_eq!(r.code, Some(1), "{}", r.all());
    assert!(r.stderr.contains("[primary]"), "{}", r.all());
    // An unknown action, an unknown flag: 1.
    assert_eq!(a.stdin(&format!("{c}action=explode\n")).code, Some(1));
    assert_eq!(a.flags(&["--frobnicate"]).code, Some(1));
    // help and version: 0.
    assert_eq!(a.flags(&["-h"]).code, Some(0));
    assert_eq!(a.flags(&["--version"]).code, Some(0));
    // monitor with only an unreachable ssh level: 1.
    let r = a.stdin(&format!(
        "{c}action=monitor\nlevels=ssh\nip=127.0.0.1\nipport=1\nknown_hosts={}\n",
        a.path("kh").display()
    ));
    assert_eq!(r.code, Some(1), "{}", r.all());
}

/// A config whose levels need no primary at hand to be checked.
fn write(a: &Agent, name: &str, text: &str) -> PathBuf {
    let p = a.path(name);
    fs::write(&p, text).unwrap();
    p
}

#[test]
fn list_prints_the_configured_node_name_and_nothing_else() {
    let a = Agent::new();
    let named = write(
        &a,
        "named.toml",
        "[primary]\nhost = \"198.18.0.2\"\n[fence]\nnode_name = \"maestro1\"\n",
    );
    let r = a.stdin(&format!("config_file={}\naction=list\n", named.display()));
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (Some(0), "maestro1\n"),
        "{}",
        r.all()
    );
    // No name anywhere: not a guess at one (Pacemaker would take the host
    // address for a node name), but an error that says what to set.
    let bare = write(&a, "bare.toml", "[primary]\nhost = \"198.18.0.2\"\n");
    let r = a.stdin(&format!("config_file={}\naction=list\n", bare.display()));
    assert_eq!(r.code, Some(1), "{}", r.all());
    assert_eq!(r.stdout, "");
    assert!(r.stderr.contains("pcmk_host_list"), "{}", r.all());
    // Asked to fence another node than its own: refused, nothing tried.
    let r = a.stdin(&format!(
        "config_file={}\nstate_dir={}\naction=off\nnodename=maestro2\nport=maestro2\n",
        named.display(),
        a.path("state").display()
    ));
    assert_eq!(r.code, Some(1), "{}", r.all());
    assert!(
        r.stderr.contains("this device fences maestro1"),
        "{}",
        r.all()
    );
    assert!(!a.path("state").exists(), "no epoch was taken");
}

#[test]
fn monitor_checks_the_device_never_the_primary() {
    let a = Agent::new();
    let key = a.path("id");
    fs::write(&key, "not really a key").unwrap();
    let kh = a.path("known_hosts");
    // 198.18.0.2 is routed nowhere from here: the primary is unreachable.
    fs::write(
        &kh,
        "[198.18.0.2]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0fHPvTCvpSBqKOU0gImpJJVPnGMMunlr3z8Z5uoudX\n",
    )
    .unwrap();
    let config = write(
        &a,
        "c.toml",
        &format!(
            "[primary]\nhost = \"198.18.0.2\"\nport = 2222\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\nconnect_timeout = \"10s\"\n[fence]\nlevels = [\"ssh\"]\n",
            key.display(),
            kh.display()
        ),
    );
    let c = format!(
        "config_file={}\nstate_dir={}\n",
        config.display(),
        a.path("state").display()
    );
    let r = a.stdin(&format!("{c}action=monitor\nverbose=1\n"));
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(
        r.took < std::time::Duration::from_secs(2),
        "took {:?}",
        r.took
    );
    assert!(r.stderr.contains("holds a host key"), "{}", r.all());
    // Each thing the device needs, missing, fails the monitor by name.
    let r = a.stdin(&format!("{c}action=monitor\nipport=22\n"));
    assert_eq!(r.code, Some(1), "{}", r.all());
    assert!(
        r.stderr.contains("no host key for 198.18.0.2"),
        "{}",
        r.all()
    );
    let r = a.stdin(&format!(
        "{c}action=monitor\nidentity_file={}\n",
        a.path("gone").display()
    ));
    assert_eq!(r.code, Some(1), "{}", r.all());
    assert!(r.stderr.contains("identity file"), "{}", r.all());
    let agent = write(
        &a,
        "agent.toml",
        "[primary]\nhost = \"198.18.0.2\"\n[fence]\nlevels = [\"agent\"]\nagent = \"fence_no_such_agent\"\n",
    );
    let r = a.stdin(&format!(
        "config_file={}\naction=monitor\n",
        agent.display()
    ));
    assert_eq!(r.code, Some(1), "{}", r.all());
    assert!(r.stderr.contains("fence_no_such_agent"), "{}", r.all());
}

#[test]
fn validate_all_runs_the_resolution_of_a_real_fence() {
    let a = Agent::new();
    let config = write(
        &a,
        "c.toml",
        "[primary]\nhost = \"198.18.0.2\"\n[fence]\nlevels = [\"agent\"]\n",
    );
    let r = a.stdin(&format!(
        "config_file={}\naction=validate-all\n",
        config.display()
    ));
    assert_eq!(r.code, Some(1), "{}", r.all());
    assert!(r.stderr.contains("fence.agent"), "{}", r.all());
    // The levels option goes through the same resolution.
    let ok = write(&a, "ok.toml", "[primary]\nhost = \"198.18.0.2\"\n");
    let r = a.stdin(&format!(
        "config_file={}\nlevels=ssh,agent\naction=validate-all\n",
        ok.display()
    ));
    assert_eq!(r.code, Some(1), "{}", r.all());
    let r = a.stdin(&format!(
        "config_file={}\ndelay=soon\naction=validate-all\n",
        ok.display()
    ));
    assert_eq!(r.code, Some(1), "{}", r.all());
    assert!(r.stderr.contains("delay"), "{}", r.all());
    assert_eq!(
        a.stdin(&format!(
            "config_file={}\naction=validate-all\n",
            ok.display()
        ))
        .code,
        Some(0)
    );
}

#[test]
fn delay_waits_before_fencing_and_list_status_reports_the_state() {
    let a = Agent::new();
    let config = a.dummy_config("on");
    let c = a.common(&config);
    let r = a.stdin(&format!("{c}action=list-status\nnode_name=maestro1\n"));
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (Some(0), "maestro1,,ON\n"),
        "{}",
        r.all()
    );
    let r = a.stdin(&format!("{c}action=off\ndelay=2\n"));
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert!(
        r.took >= std::time::Duration::from_secs(2),
        "took {:?}",
        r.took
    );
    assert_eq!(fs::read_to_string(a.path("dummy.status")).unwrap(), "off");
    let r = a.stdin(&format!("{c}action=list-status\nnode_name=maestro1\n"));
    assert_eq!(r.stdout, "maestro1,,OFF\n", "{}", r.all());
    // status is never delayed.
    let r = a.stdin(&format!("{c}action=status\ndelay=30\n"));
    assert_eq!(r.code, Some(2), "{}", r.all());
    assert!(
        r.took < std::time::Duration::from_secs(10),
        "took {:?}",
        r.took
    );
}

/// The Pacemaker example leaves a retry room: Pacemaker kills the agent at
/// pcmk_off_timeout (default 60 s) and retries within what is left.
#[test]
fn the_pacemaker_example_keeps_power_timeout_below_pacemakers_timeouts() {
    let script = fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/maestro-fence/pacemaker-stonith.sh"
    ))
    .unwrap();
    let create: String = script
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ");
    let seconds = |key: &str| -> Option<f64> {
        let v = create
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{key}=")))?;
        Some(v.trim_end_matches('s').parse().unwrap())
    };
    let power = seconds("power_timeout").expect("the example sets power_timeout");
    for key in ["pcmk_off_timeout", "pcmk_reboot_timeout"] {
        // Unset is Pacemaker's default stonith-timeout.
        let pacemaker = seconds(key).unwrap_or(60.0);
        assert!(
            power * 2.0 <= pacemaker,
            "power_timeout={power} leaves no time for a retry within {key}={pacemaker}"
        );
    }
}

/// The device fences one node: the one named by `[fence] node_name` or by
/// the device option `node_name`. Pacemaker always passes the node it
/// asks for as `nodename`, and as `plug` too unless the device sets its
/// own plug, so `plug` can never say which node the device owns. A
/// request for another node is refused before anything is asked or
/// changed, whichever option carries it, and a device that knows no node
/// name refuses every request naming a node: otherwise Pacemaker's status
/// fallback (when `list` fails) would let it claim every node.
#[test]
fn a_request_for_a_node_the_device_does_not_fence_is_refused() {
    let a = Agent::new();
    let config = a.dummy_config("on");
    let named = a.path("named.toml");
    fs::write(
        &named,
        fs::read_to_string(&config)
            .unwrap()
            .replace("[fence]\n", "[fence]\nnode_name = \"maestro1\"\n"),
    )
    .unwrap();
    let c = a.common(&named);
    // Pacemaker keeps an explicit plug and adds the victim as nodename.
    for action in ["status", "off", "reboot", "on"] {
        let r = a.stdin(&format!(
            "{c}action={action}\nplug=maestro1\nnodename=maestro2\n"
        ));
        assert_eq!(r.code, Some(1), "{action}: {}", r.all());
        assert!(
            r.stderr.contains("this device fences maestro1"),
            "{action}: {}",
            r.all()
        );
    }
    assert_eq!(fs::read_to_string(a.path("dummy.status")).unwrap(), "on");
    // Its own node is fine.
    let r = a.stdin(&format!(
        "{c}action=status\nplug=maestro1\nnodename=maestro1\n"
    ));
    assert_eq!(r.code, Some(0), "{}", r.all());

    // The device option node_name names it as well.
    let c = a.common(&config);
    let r = a.stdin(&format!(
        "{c}action=status\nnode_name=maestro1\nnodename=maestro2\n"
    ));
    assert_eq!(r.code, Some(1), "{}", r.all());
    let r = a.stdin(&format!(
        "{c}action=status\nnode_name=maestro1\nnodename=maestro1\n"
    ));
    assert_eq!(r.code, Some(0), "{}", r.all());
    // No name at all, asked for a node (plug as Pacemaker fills it in):
    // refused, it cannot know.
    for action in ["status", "off"] {
        let r = a.stdin(&format!(
            "{c}action={action}\nplug=any-node\nnodename=any-node\n"
        ));
        assert_eq!(r.code, Some(1), "{action}: {}", r.all());
        assert!(r.stderr.contains("node_name"), "{action}: {}", r.all());
    }
    assert_eq!(fs::read_to_string(a.path("dummy.status")).unwrap(), "on");
    // A person running the agent by hand, naming no node, is not refused.
    let r = a.stdin(&format!("{c}action=status\n"));
    assert_eq!(r.code, Some(0), "{}", r.all());
}

/// validate-all, monitor and `config check` refuse a device whose every
/// isolate fence would be refused (the primary's address is this server's).
#[test]
fn a_device_that_would_isolate_this_server_fails_validate_all_monitor_and_config_check() {
    let a = Agent::new();
    let config = write(
        &a,
        "own.toml",
        "[primary]\nhost = \"127.0.0.1\"\n[fence]\nlevels = [\"isolate\"]\nfirewall = \"nft\"\n",
    );
    for action in ["validate-all", "monitor"] {
        let r = a.stdin(&format!(
            "config_file={}\naction={action}\n",
            config.display()
        ));
        assert_eq!(r.code, Some(1), "{action}: {}", r.all());
        assert!(
            r.stderr
                .contains("refusing to isolate an address of this server"),
            "{action}: {}",
            r.all()
        );
    }
    let r = run(
        BIN,
        &[
            "--config".into(),
            config.display().to_string(),
            "config".into(),
            "check".into(),
        ],
        "",
    );
    assert_eq!(r.code, Some(2), "{}", r.all());
    assert!(
        r.stdout
            .contains("refusing to isolate an address of this server"),
        "{}",
        r.all()
    );
}

/// `reboot` answers as fence-agents' library does for it.
#[test]
fn reboot_says_rebooted() {
    let a = Agent::new();
    let config = a.dummy_config("on");
    let r = a.stdin(&format!("{}action=reboot\n", a.common(&config)));
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert_eq!(r.stdout, "Success: Rebooted\n", "{}", r.all());
}
