//! A real mail system on loopback ports for maestro-smoketest's tests:
//! Postfix (a private instance: its own config folder, queue and ports,
//! started with `postfix -c DIR start`) receives over SMTP and delivers
//! over LMTP to Dovecot (its own config, base_dir and Maildirs, users in a
//! passwd-file), whose IMAP the tool reads. Nothing is written behind the
//! servers' backs: mail only enters through Postfix's SMTP port.
//! Needs root (both servers drop privileges) and Debian's postfix,
//! dovecot-imapd and dovecot-lmtpd. Everything stops on Drop.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub const DOMAIN: &str = "seed.test";
pub const PASSWORD: &str = "seed-password";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, what: &str, log: &Path) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(15) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "{what} did not listen on 127.0.0.1:{port}; log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// Run a command that starts a daemon. Its output goes to a file, not a
/// pipe: the daemon keeps the descriptors open, and a pipe would never end.
fn run(cmd: &mut Command, what: &str) {
    if let Err(e) = try_run(cmd, what) {
        panic!("{e}");
    }
}

fn try_run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let log = tempfile::NamedTempFile::new().unwrap();
    let status = cmd
        .stdin(std::process::Stdio::null())
        .stdout(log.reopen().unwrap())
        .stderr(log.reopen().unwrap())
        .status()
        .map_err(|e| format!("{what}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what}: {status}\n{}",
            std::fs::read_to_string(log.path()).unwrap_or_default()
        ))
    }
}

/// How Dovecot's IMAP is secured.
#[derive(Debug, Clone, Default)]
pub enum ImapTls {
    /// `ssl = no`: plain IMAP only, no STARTTLS offered.
    #[default]
    Off,
    /// `ssl = required` with a throwaway self-signed certificate made at
    /// start: STARTTLS on the `imap` port, implicit TLS on `imaps_port`.
    SelfSigned {
        /// The certificate's subjectAltName, e.g. `IP:127.0.0.1,DNS:localhost`.
        subject_alt_name: String,
        /// `-addext` values for `openssl req` beyond the subjectAltName,
        /// e.g. `basicConstraints=critical,CA:FALSE`.
        extra_extensions: Vec<String>,
    },
}

impl ImapTls {
    /// A certificate a client connecting to 127.0.0.1 can verify (given
    /// the certificate as its CA): a leaf for IP 127.0.0.1 and localhost.
    pub fn for_loopback() -> ImapTls {
        ImapTls::SelfSigned {
            subject_alt_name: "IP:127.0.0.1,DNS:localhost".into(),
            extra_extensions: vec!["basicConstraints=critical,CA:FALSE".into()],
        }
    }
}

/// A self-signed certificate and its key, written by `openssl req -x509`.
pub fn self_signed_certificate(
    dir: &Path,
    name: &str,
    subject_alt_name: &str,
    extra_extensions: &[String],
) -> (PathBuf, PathBuf) {
    let cert = dir.join(format!("{name}-cert.pem"));
    let key = dir.join(format!("{name}-key.pem"));
    let mut cmd = Command::new("openssl");
    cmd.args([
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
    ])
    .args(["-subj", "/CN=127.0.0.1"])
    .arg("-addext")
    .arg(format!("subjectAltName={subject_alt_name}"));
    for e in extra_extensions {
        cmd.arg("-addext").arg(e);
    }
    run(
        cmd.arg("-keyout").arg(&key).arg("-out").arg(&cert),
        "make a self-signed certificate with openssl",
    );
    (cert, key)
}

pub struct MailLab {
    pub dir: tempfile::TempDir,
    pub imap_port: u16,
    /// Dovecot's implicit-TLS port; 0 when the lab runs without TLS.
    pub imaps_port: u16,
    pub smtp_port: u16,
    /// The certificate Dovecot presents, when it runs with TLS.
    pub certificate: Option<PathBuf>,
    dovecot_conf: PathBuf,
    postfix_conf: PathBuf,
    started_postfix: bool,
    started_dovecot: bool,
}

impl MailLab {
    /// Dovecot and Postfix with the users `seed` and `other` of seed.test.
    pub fn start() -> MailLab {
        MailLab::start_with(ImapTls::Off)
    }

    /// The same, with Dovecot's IMAP secured as `tls` says.
    pub fn start_with(tls: ImapTls) -> MailLab {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        // Both servers' unprivileged users must reach their files.
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let imap_port = free_port();
        let lmtp_port = free_port();
        let smtp_port = free_port();
        let (imaps_port, certificate) = match &tls {
            ImapTls::Off => (0, None),
            ImapTls::SelfSigned {
                subject_alt_name,
                extra_extensions,
            } => {
                let (cert, key) =
                    self_signed_certificate(&root, "dovecot", subject_alt_name, extra_extensions);
                (free_port(), Some((cert, key)))
            }
        };
        let mut lab = MailLab {
            dir,
            imap_port,
            imaps_port,
            smtp_port,
            certificate: certificate.as_ref().map(|(c, _)| c.clone()),
            dovecot_conf: root.join("dovecot/dovecot.conf"),
            postfix_conf: root.join("postfix"),
            started_postfix: false,
            started_dovecot: false,
        };
        lab.start_dovecot(&root, lmtp_port, certificate.as_ref());
        lab.start_postfix(&root, lmtp_port);
        lab
    }

    fn start_dovecot(&mut self, root: &Path, lmtp_port: u16, tls: Option<&(PathBuf, PathBuf)>) {
        let d = root.join("dovecot");
        for sub in ["", "run", "state", "mail"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        run(
            Command::new("chown").arg("nobody:").arg(d.join("mail")),
            "chown the mail folder",
        );
        let users: String = ["seed", "other"]
            .iter()
            .map(|u| format!("{u}@{DOMAIN}:{{PLAIN}}{PASSWORD}::::::\n"))
            .collect();
        std::fs::write(d.join("passwd"), users).unwrap();
        let (uid, gid) = (id("-u"), id("-g"));
        // With TLS, `required` also refuses a login before STARTTLS: a
        // client that skipped TLS would fail here, not pass unnoticed.
        let ssl = match tls {
            None => "ssl = no".to_string(),
            Some((cert, key)) => format!(
                "ssl = required\nssl_cert = <{}\nssl_key = <{}",
                cert.display(),
                key.display()
            ),
        };
        let imaps_listener = match tls {
            None => "port = 0".to_string(),
            Some(_) => format!("address = 127.0.0.1\n    port = {}", self.imaps_port),
        };
        let conf = format!(
            r#"base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{d}/mail/%u/Maildir
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = 0
recipient_delimiter = +
lmtp_save_to_detail_mailbox = yes
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/passwd
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    {imaps_listener}
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp}
  }}
}}
namespace inbox {{
  inbox = yes
  separator = .
  mailbox Junk {{
    special_use = \Junk
    auto = create
  }}
}}
"#,
            d = d.display(),
            imap = self.imap_port,
            lmtp = lmtp_port,
        );
        std::fs::write(&self.dovecot_conf, conf).unwrap();
        run(
            Command::new("dovecot").arg("-c").arg(&self.dovecot_conf),
            "start dovecot",
        );
        self.started_dovecot = true;
        wait_for_port(self.imap_port, "Dovecot IMAP", &d.join("dovecot.log"));
        if tls.is_some() {
            wait_for_port(self.imaps_port, "Dovecot IMAPS", &d.join("dovecot.log"));
        }
        wait_for_port(lmtp_port, "Dovecot LMTP", &d.join("dovecot.log"));
    }

    fn start_postfix(&mut self, root: &Path, lmtp_port: u16) {
        let p = &self.postfix_conf;
        std::fs::create_dir_all(p).unwrap();
        std::fs::create_dir_all(root.join("postfix-queue")).unwrap();
        std::fs::create_dir_all(root.join("postfix-data")).unwrap();
        run(
            Command::new("chown")
                .arg("postfix")
                .arg(root.join("postfix-data")),
            "chown postfix data",
        );
        let log = root.join("postfix.log");
        std::fs::write(
            p.join("main.cf"),
            format!(
                "compatibility_level = 3.6
queue_directory = {root}/postfix-queue
data_directory = {root}/postfix-data
maillog_file = {log}
maillog_file_prefixes = {root}
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.{DOMAIN}
mydomain = {DOMAIN}
myorigin = {DOMAIN}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
virtual_mailbox_domains = {DOMAIN}
virtual_transport = lmtp:inet:127.0.0.1:{lmtp_port}
recipient_delimiter = +
mynetworks = 127.0.0.0/8
relay_domains =
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
default_transport = error:outbound mail is disabled in tests
alias_maps =
alias_database =
biff = no
smtputf8_enable = no
",
                root = root.display(),
                log = log.display(),
            ),
        )
        .unwrap();
        std::fs::write(
            p.join("master.cf"),
            format!(
                "127.0.0.1:{smtp} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
",
                smtp = self.smtp_port
            ),
        )
        .unwrap();
        // `postfix start` failed once in a whole CI run with exit 1 and
        // nothing on its output (the reason goes to its maillog): try once
        // more, and say what the maillog holds if that fails too.
        let start = || {
            try_run(
                Command::new("postfix").arg("-c").arg(p).arg("start"),
                "start postfix",
            )
        };
        if let Err(first) = start() {
            std::thread::sleep(Duration::from_secs(1));
            if let Err(second) = start() {
                panic!(
                    "{first}\n{second}\nmaillog:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        }
        self.started_postfix = true;
        wait_for_port(self.smtp_port, "Postfix SMTP", &log);
    }

    /// `imap://seed%40seed.test@127.0.0.1:PORT/INBOX`
    pub fn imap_url(&self, user: &str) -> String {
        format!(
            "imap://{user}%40{DOMAIN}@127.0.0.1:{}/INBOX",
            self.imap_port
        )
    }

    /// `imaps://seed%40seed.test@127.0.0.1:PORT/INBOX` (a lab with TLS).
    pub fn imaps_url(&self, user: &str) -> String {
        assert!(self.imaps_port != 0, "this lab runs without TLS");
        format!(
            "imaps://{user}%40{DOMAIN}@127.0.0.1:{}/INBOX",
            self.imaps_port
        )
    }

    /// A file holding `secret`, readable by its owner only.
    pub fn secret_file(&self, name: &str, secret: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, secret).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        p
    }

    /// Messages in a user's folder ("" is INBOX, ".Junk" the junk folder), read only.
    pub fn count(&self, user: &str, folder: &str) -> usize {
        let base = self
            .dir
            .path()
            .join(format!("dovecot/mail/{user}@{DOMAIN}/Maildir"))
            .join(folder);
        ["new", "cur"]
            .iter()
            .map(|s| std::fs::read_dir(base.join(s)).map_or(0, |d| d.count()))
            .sum()
    }

    pub fn logs(&self) -> String {
        let r = |p: &str| std::fs::read_to_string(self.dir.path().join(p)).unwrap_or_default();
        format!(
            "--- postfix\n{}--- dovecot\n{}",
            r("postfix.log"),
            r("dovecot/dovecot.log")
        )
    }
}

/// Running, not a zombie nobody reaps (a container's PID 1 may not).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie)
}

fn id(flag: &str) -> String {
    let out = Command::new("id").arg(flag).arg("nobody").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

impl Drop for MailLab {
    fn drop(&mut self) {
        if self.started_postfix {
            let _ = Command::new("postfix")
                .arg("-c")
                .arg(&self.postfix_conf)
                .arg("stop")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
        if self.started_dovecot {
            let _ = Command::new("dovecot")
                .arg("-c")
                .arg(&self.dovecot_conf)
                .arg("stop")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
        // Wait (bounded) for both masters to be gone before the folder goes.
        let pids: Vec<PathBuf> = vec![
            self.dir.path().join("postfix-queue/pid/master.pid"),
            self.dir.path().join("dovecot/run/master.pid"),
        ];
        let started = Instant::now();
        for pidfile in pids {
            let Some(pid) = std::fs::read_to_string(&pidfile)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
            else {
                continue;
            };
            while alive(pid) {
                if started.elapsed() > Duration::from_secs(5) {
                    let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}
