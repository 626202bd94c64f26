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
        "metadata",
        "validate-all",
    ] {
        assert!(
            r.stdout.contains(&format!("<action name=\"{action}\"")),
            "{action}"
        );
    }
    // The same from stdin and from `maestro-fence agent`.
    assert_eq!(a.stdin("action=metadata\n").stdout, r.stdout);
    let sub = run(BIN, &["agent".into(), "--action=metadata".into()], "");
    assert_eq!(sub.code, Some(0));
    assert_eq!(sub.stdout, r.stdout);
}

#[test]
fn stdin_is_parsed_as_the_api_says() {
    let a = Agent::new();
    let config = a.dummy_config("on");
    // Comments, blank lines, unknown keys (Pacemaker's own), the last value wins.
    let input = format!("# from stonithd\n{}nodename=maestro1\nport=maestro1\npcmk_host_list=maestro1\naction=off\n\naction=list\n", a.common(&config));
    let r = a.stdin(&input);
    assert_eq!(r.code, Some(0), "{}", r.all());
    assert_eq!(r.stdout, "198.18.0.2,primary\n");
    // `option` is the old name of `action`; `ip` overrides the config's host.
    let r = a.stdin(&format!(
        "{}option=list\nip=198.18.0.7\n",
        a.common(&config)
    ));
    assert_eq!(r.stdout, "198.18.0.7,primary\n", "{}", r.all());
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
