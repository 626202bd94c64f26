//! Test hosts in network namespaces: a "lab" of hosts joined by a bridge
//! that lives in its own namespace, so that nothing the tests do touches
//! the machine's own network. Addresses come from 198.18.0.0/15 (set aside
//! for network tests, RFC 2544) and exist only inside the lab.
//!
//! Dropping the lab deletes every namespace it made, which also removes
//! the veth pairs and any nftables rules inside them.

use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT_LAB: AtomicU32 = AtomicU32::new(0);

pub struct Lab {
    /// Short and unique per lab: interface names may hold only 15 bytes.
    id: String,
    /// The /24 of this lab, `198.18.0`.
    subnet: String,
    hosts: Vec<String>,
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn ip(args: &[&str]) -> Output {
    run(Command::new("ip").args(args))
}

impl Lab {
    /// A new lab with its switch. Needs root and iproute2.
    pub fn new() -> Lab {
        let n = NEXT_LAB.fetch_add(1, Ordering::SeqCst);
        let id = format!("m{:x}{n}", std::process::id() % 0xffff);
        // Each lab has its own bridge, so labs may use the same addresses.
        let lab = Lab {
            id,
            subnet: "198.18.0".into(),
            hosts: Vec::new(),
        };
        ip(&["netns", "add", &lab.switch()]);
        ip(&["-n", &lab.switch(), "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &lab.switch(), "link", "set", "br0", "up"]);
        lab
    }

    fn switch(&self) -> String {
        format!("{}-sw", self.id)
    }

    /// The namespace name of a host.
    pub fn ns(&self, host: &str) -> String {
        format!("{}-{host}", self.id)
    }

    /// The address of host number `n` (1-254) in this lab.
    pub fn addr(&self, n: u8) -> String {
        format!("{}.{n}", self.subnet)
    }

    /// Add a host with one interface `eth0` holding address number `n`.
    pub fn add_host(&mut self, host: &str, n: u8) -> String {
        let ns = self.ns(host);
        let outside = format!("{}{host}", self.id);
        ip(&["netns", "add", &ns]);
        self.hosts.push(ns.clone());
        ip(&[
            "link", "add", &outside, "type", "veth", "peer", "name", "eth0", "netns", &ns,
        ]);
        ip(&["link", "set", &outside, "netns", &self.switch()]);
        ip(&[
            "-n",
            &self.switch(),
            "link",
            "set",
            &outside,
            "master",
            "br0",
        ]);
        ip(&["-n", &self.switch(), "link", "set", &outside, "up"]);
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{}/24", self.addr(n)),
            "dev",
            "eth0",
        ]);
        ip(&["-n", &ns, "link", "set", "lo", "up"]);
        ip(&["-n", &ns, "link", "set", "eth0", "up"]);
        ns
    }

    /// A command that runs inside a host.
    pub fn command(&self, host: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(host), program]);
        c
    }

    /// Start a long-running program inside a host; the caller kills it.
    pub fn spawn(&self, host: &str, program: &str, args: &[&str]) -> Child {
        self.command(host, program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program} in {host}: {e}"))
    }

    /// Run a program inside a host and wait for it, bounded: `timeout -k 2`
    /// kills it (and tells it by exit 124/137) when it runs longer than
    /// `within`, so a hung step cannot hang the test.
    pub fn run_bounded(
        &self,
        host: &str,
        program: &str,
        args: &[String],
        within: std::time::Duration,
    ) -> Output {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(host), "timeout", "-k", "2"])
            .arg(format!("{}", within.as_secs().max(1)))
            .arg(program)
            .args(args)
            .env_remove("MAESTRO_HA_CONFIG")
            .env_remove("MAESTRO_HA_STATE_DIR")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        c.output()
            .unwrap_or_else(|e| panic!("cannot run {program} in {host}: {e}"))
    }

    /// Take a host's link down (the cable pulled) or up again.
    pub fn link(&self, host: &str, up: bool) {
        ip(&[
            "-n",
            &self.ns(host),
            "link",
            "set",
            "eth0",
            if up { "up" } else { "down" },
        ]);
    }

    /// Load an nftables ruleset inside a host.
    pub fn nft(&self, host: &str, ruleset: &str) {
        use std::io::Write;
        let mut child = self
            .command(host, "nft")
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nft runs (install nftables)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(ruleset.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "nft failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Remove an nftables table from a host.
    pub fn nft_delete_table(&self, host: &str, family_and_name: &str) {
        let mut args = vec!["delete", "table"];
        args.extend(family_and_name.split_whitespace());
        run(self.command(host, "nft").args(&args));
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Processes still running inside (sshd children) keep a namespace
        // alive only as long as they live; the name goes at once.
        for ns in self.hosts.iter().chain(std::iter::once(&self.switch())) {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}
