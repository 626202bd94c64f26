//! Real servers for maestro-redirect's tests, each in a network namespace
//! of a [`Lab`]: BIND 9 (Debian `bind9`) as a zone's primary with a TSIG
//! key and as a secondary following it by NOTIFY/IXFR, and a private
//! Postfix whose relay rules name one address. Every server runs in the
//! foreground of a child process (or, for Postfix, under its own master
//! with a private config folder) and stops on Drop.

use super::netns::Lab;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ZONE: &str = "example.test";

/// Run a short set-up program and return its stdout; panics with its
/// output when it fails (a set-up step that silently failed would make
/// the test prove nothing).
pub fn must(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A TSIG key in BIND's format, made by `tsig-keygen`, readable by root only.
pub fn tsig_key(dir: &Path, name: &str) -> PathBuf {
    let text = must(
        Command::new("tsig-keygen").args(["-a", "hmac-sha256", name]),
        "tsig-keygen (install bind9-utils)",
    );
    let p = dir.join(format!("{name}.key"));
    fs::write(&p, text).unwrap();
    private(&p);
    p
}

pub fn private(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p, fs::Permissions::from_mode(0o600)).unwrap();
}

/// `dig` from a lab host: the short answer (+norec: what the server holds).
pub fn dig(lab: &Lab, host: &str, server: &str, name: &str, rtype: &str) -> String {
    let out = lab
        .command(host, "dig")
        .args([
            "+short",
            "+norec",
            "+time=2",
            "+tries=1",
            &format!("@{server}"),
            name,
            rtype,
        ])
        .output()
        .expect("dig runs (install bind9-dnsutils)");
    // dig prints its errors (";; communications error ...") on stdout too.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with(";;"))
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

/// One named process in a lab host.
pub struct Bind {
    pub zone: String,
    pub ns_host: String,
    pub addr: String,
    pub dir: PathBuf,
    conf: PathBuf,
    child: Option<Child>,
    stopped: bool,
    ns: String,
}

impl Bind {
    fn start_with(
        lab: &Lab,
        zone: &str,
        host: &str,
        addr: &str,
        dir: PathBuf,
        conf: String,
    ) -> Bind {
        fs::create_dir_all(&dir).unwrap();
        let conf_path = dir.join("named.conf");
        fs::write(&conf_path, conf).unwrap();
        must(
            Command::new("named-checkconf").arg(&conf_path),
            "named-checkconf (install bind9)",
        );
        let mut b = Bind {
            zone: zone.to_string(),
            ns_host: host.to_string(),
            addr: addr.to_string(),
            dir,
            conf: conf_path,
            child: None,
            stopped: false,
            ns: lab.ns(host),
        };
        b.spawn(lab);
        b
    }

    fn spawn(&mut self, lab: &Lab) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("named.log"))
            .unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns, "named", "-g", "-c"])
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("named runs (install bind9)");
        self.child = Some(child);
        self.wait_ready(lab);
    }

    /// Until it answers for the zone's SOA (bounded).
    fn wait_ready(&self, lab: &Lab) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(15) {
            if !dig(lab, &self.ns_host, &self.addr, &self.zone, "SOA").is_empty() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "named on {} did not answer within 15s:\n{}",
            self.addr,
            self.log()
        );
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("named.log")).unwrap_or_default()
    }

    /// The primary of `zone`: `maestro`, `trk` and `maestro1` at the old
    /// primary, updates allowed to `key_name` for `maestro` and `trk`
    /// only, NOTIFY to the secondaries, and rndc on port 953 with `rndc_key`.
    #[allow(clippy::too_many_arguments)]
    pub fn primary(
        lab: &Lab,
        zone: &str,
        host: &str,
        addr: &str,
        dir: PathBuf,
        key: &Path,
        key_name: &str,
        rndc_key: &Path,
        secondaries: &[&str],
        old_primary: &str,
    ) -> Bind {
        fs::create_dir_all(&dir).unwrap();
        let ns: String = secondaries
            .iter()
            .enumerate()
            .map(|(i, a)| format!("@ IN NS ns{n}\nns{n} IN A {a}\n", n = i + 2))
            .collect();
        fs::write(
            dir.join("zone.db"),
            format!(
                "$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n@ IN NS ns1\nns1 IN A {addr}\n{ns}maestro IN A {old_primary}\ntrk IN A {old_primary}\nmaestro1 IN A {old_primary}\nrelay IN A 198.18.0.25\n"
            ),
        )
        .unwrap();
        let notify = if secondaries.is_empty() {
            String::new()
        } else {
            format!("also-notify {{ {}; }};", secondaries.join("; "))
        };
        let conf = format!(
            r#"include "{key}";
include "{rndc}";
options {{
  directory "{d}";
  pid-file "{d}/named.pid";
  listen-on port 53 {{ {addr}; }};
  listen-on-v6 {{ none; }};
  recursion no;
  dnssec-validation no;
  notify yes;
  // BIND holds a zone's next NOTIFY up to 5 s after the last one (sent at
  // start-up here); the lagging-secondary test covers a late secondary.
  notify-delay 0;
  {notify}
  allow-transfer {{ any; }};
}};
controls {{ inet {addr} port 953 allow {{ any; }} keys {{ "rndc-key"; }}; }};
zone "{zone}" {{
  type primary;
  file "{d}/zone.db";
  update-policy {{
    grant {key_name} name maestro.{zone}. A AAAA;
    grant {key_name} name trk.{zone}. A AAAA;
  }};
}};
"#,
            key = key.display(),
            rndc = rndc_key.display(),
            d = dir.display(),
        );
        Bind::start_with(lab, zone, host, addr, dir, conf)
    }

    /// A secondary of `zone`, following `primary` by NOTIFY and IXFR.
    pub fn secondary(
        lab: &Lab,
        zone: &str,
        host: &str,
        addr: &str,
        dir: PathBuf,
        primary: &str,
    ) -> Bind {
        let conf = format!(
            r#"options {{
  directory "{d}";
  pid-file "{d}/named.pid";
  listen-on port 53 {{ {addr}; }};
  listen-on-v6 {{ none; }};
  recursion no;
  dnssec-validation no;
}};
controls {{ }};
zone "{zone}" {{
  type secondary;
  file "{d}/zone.db";
  primaries {{ {primary}; }};
}};
"#,
            d = dir.display(),
        );
        Bind::start_with(lab, zone, host, addr, dir, conf)
    }

    /// The server goes down (its zone file stays).
    pub fn kill(&mut self) {
        self.resume();
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Up again, from its zone file: a secondary that missed a NOTIFY
    /// serves what it had until the next NOTIFY or its refresh timer.
    pub fn restart(&mut self, lab: &Lab) {
        self.kill();
        self.spawn(lab);
    }

    /// Frozen (SIGSTOP): it holds its socket but answers nothing.
    pub fn pause(&mut self) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill").args(["-STOP", &named_pid(c)]).status();
            self.stopped = true;
        }
    }

    pub fn resume(&mut self) {
        if self.stopped {
            if let Some(c) = &self.child {
                let _ = Command::new("kill").args(["-CONT", &named_pid(c)]).status();
            }
            self.stopped = false;
        }
    }
}

/// `ip netns exec` execs named, so the child is named itself.
fn named_pid(c: &Child) -> String {
    c.id().to_string()
}

impl Drop for Bind {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A private Postfix in a lab host, listening on `addr:25`, relaying only
/// for the clients in `mynetworks`. Nothing can leave it: the smtp
/// transport is deferred and has no service in master.cf (and the tool
/// never sends DATA anyway).
pub struct Relay {
    conf: PathBuf,
    root: PathBuf,
    ns: String,
}

impl Relay {
    pub fn start(lab: &Lab, host: &str, addr: &str, root: PathBuf, mynetworks: &str) -> Relay {
        let conf = root.join("postfix");
        for d in ["postfix", "queue", "data"] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        must(
            Command::new("chown").arg("postfix").arg(root.join("data")),
            "chown postfix data (install postfix)",
        );
        let relay = Relay {
            conf: conf.clone(),
            root: root.clone(),
            ns: lab.ns(host),
        };
        relay.write_main(addr, mynetworks);
        fs::write(
            conf.join("master.cf"),
            format!(
                "{addr}:25 inet n - n - - smtpd
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
proxymap  unix  -       -       n       -       -       proxymap
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"
            ),
        )
        .unwrap();
        must(
            lab.command(host, "postfix")
                .arg("-c")
                .arg(&conf)
                .arg("start"),
            "start postfix",
        );
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(15) {
            let up = lab
                .command("f", "bash")
                .args([
                    "-c",
                    &format!("exec 3<>/dev/tcp/{addr}/25 && head -c 3 <&3"),
                ])
                .output()
                .is_ok_and(|o| o.stdout.starts_with(b"220"));
            if up {
                return relay;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "postfix did not listen on {addr}:25: {}",
            fs::read_to_string(root.join("postfix.log")).unwrap_or_default()
        );
    }

    fn write_main(&self, addr: &str, mynetworks: &str) {
        fs::write(
            self.conf.join("main.cf"),
            format!(
                "compatibility_level = 3.6
queue_directory = {r}/queue
data_directory = {r}/data
maillog_file = {r}/postfix.log
maillog_file_prefixes = {r}
mail_owner = postfix
setgid_group = postdrop
myhostname = relay.{ZONE}
mydomain = {ZONE}
myorigin = {ZONE}
inet_interfaces = {addr}
inet_protocols = ipv4
mydestination =
relay_domains =
mynetworks = {mynetworks}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
default_transport = smtp
relay_transport = smtp
defer_transports = smtp
alias_maps =
alias_database =
biff = no
smtputf8_enable = no
",
                r = self.root.display()
            ),
        )
        .unwrap();
    }

    /// New relay rules, as `postfix reload` applies them.
    pub fn set_mynetworks(&self, lab: &Lab, host: &str, addr: &str, mynetworks: &str) {
        self.write_main(addr, mynetworks);
        must(
            lab.command(host, "postfix")
                .arg("-c")
                .arg(&self.conf)
                .arg("reload"),
            "postfix reload",
        );
        // The running smtpd processes finish their sessions first.
        std::thread::sleep(Duration::from_millis(500));
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.root.join("postfix.log")).unwrap_or_default()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "exec", &self.ns, "postfix", "-c"])
            .arg(&self.conf)
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        // Bounded wait for the master to go before the folder does.
        let pidfile = self.root.join("queue/pid/master.pid");
        let started = Instant::now();
        while let Some(pid) = fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        {
            if !Path::new(&format!("/proc/{pid}")).exists()
                || started.elapsed() > Duration::from_secs(5)
            {
                if started.elapsed() > Duration::from_secs(5) {
                    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `/etc/netns/NS/FILE`, which `ip netns exec` binds over `/etc/FILE` for
/// every program started in that namespace from then on; removed on Drop.
pub struct NetnsEtc {
    dir: PathBuf,
}

impl NetnsEtc {
    pub fn new(lab: &Lab, host: &str) -> NetnsEtc {
        let dir = PathBuf::from("/etc/netns").join(lab.ns(host));
        fs::create_dir_all(&dir).unwrap();
        NetnsEtc { dir }
    }

    pub fn write(&self, file: &str, text: &str) {
        fs::write(self.dir.join(file), text).unwrap();
    }
}

impl Drop for NetnsEtc {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A TCP server in a lab host that greets every connection with `banner`
/// (the old primary's service), as a Python one-liner; killed on Drop.
pub struct Banner {
    child: Child,
}

impl Banner {
    pub fn start(lab: &Lab, host: &str, addr: &str, port: u16, banner: &str) -> Banner {
        let script = format!(
            "import socket\ns=socket.socket(socket.AF_INET6 if ':' in '{addr}' else socket.AF_INET)\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('{addr}',{port}))\ns.listen(8)\nwhile True:\n c,_=s.accept()\n c.sendall(b'{banner}\\n')\n c.close()\n"
        );
        let child = lab
            .command(host, "python3")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        // Until it listens (bounded).
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            let ss = lab
                .command(host, "ss")
                .args(["-Hltn", &format!("sport = :{port}")])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains(&port.to_string()))
                .unwrap_or(false);
            if ss {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Banner { child }
    }
}

impl Drop for Banner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
