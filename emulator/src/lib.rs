//! A stand-in for LISTSERV Maestro, for the tests and the demo: Maestro
//! itself cannot be installed here. It behaves as the real URLs and mail
//! flow do, as far as they are known (see README, "Maestro emulator"):
//!
//! - `GET /lui/externalAction.do?token=T`: with the trigger token, sends
//!   the prepared test mailing (a new job each time) over SMTP to the seed
//!   addresses (or into a Maildir); with the report token, the report export
//!   (JSON, or CSV with `&format=csv`); any other token 403, none 400.
//! - `GET /trk/click?ref=R`: the tracker; a known ref counts a click and
//!   answers 302 to the link's target, an unknown one 404.
//! - an SMTP listener for bounces: mail to a bounce address the emulator
//!   handed out (`bounce-<job>-<n>@<bounce domain>`) is accepted and, when
//!   it is a permanent DSN (`Status: 5.x.x`), counted; any other recipient
//!   is rejected with 550 5.1.1.
//!
//! - with a log folder, the LUI's daily log `LUI-yyyymmdd.LOG`: the start-up
//!   (start marker, the database check, "startup completed"), and a line
//!   for each job, click and bounce (`lui_log.rs`).
//!
//! All state is in memory. [`Emulator::start`] runs it in-process (tests);
//! the `maestro-emulator` binary runs it from the command line (demo, drills).

mod http;
mod lui_log;
mod mailing;
mod smtp;

pub use lui_log::LuiLog;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Where the test mailing goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// To an SMTP server (the seed mailbox's MTA), `host:port`, plain SMTP.
    Smtp { host: String, port: u16 },
    /// Written into a Maildir by the emulator itself, as an MDA would
    /// (with Return-Path and Delivered-To added): for a demo without a mail server.
    Maildir(PathBuf),
}

/// Faults the emulator can be told to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Faults {
    /// Send the mailing with broken MIME: a multipart whose boundary never
    /// occurs and base64 with bytes outside the alphabet.
    pub malformed_mime: bool,
}

#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The LUI and the tracker (one web server, as on a single Maestro server).
    pub http_listen: SocketAddr,
    /// LISTSERV's SMTP listener for bounces.
    pub smtp_listen: SocketAddr,
    pub trigger_token: String,
    /// The report export's token; None: no report export.
    pub report_token: Option<String>,
    /// The seed addresses the test mailing goes to.
    pub seeds: Vec<String>,
    pub delivery: Delivery,
    /// The tracker's base URL written into the links, `http://HOST[:PORT]`.
    /// Default: `http://` plus the HTTP listener's address.
    pub tracker_base: Option<String>,
    /// Where each link redirects to; one link per target.
    pub link_targets: Vec<String>,
    pub subject: String,
    pub from: String,
    /// The domain of the VERP bounce addresses.
    pub bounce_domain: String,
    pub faults: Faults,
    /// The LUI's log folder: `LUI-yyyymmdd.LOG` is written there. None: no log.
    pub log_dir: Option<PathBuf>,
    /// A shell command the LUI's start-up runs to check its database (the
    /// tables it needs); its failure is logged as a JDBC exception.
    pub db_check: Option<String>,
}

impl EmulatorConfig {
    /// Loopback ports picked by the system, one seed address.
    pub fn new(trigger_token: &str, seed: &str, delivery: Delivery) -> EmulatorConfig {
        EmulatorConfig {
            http_listen: "127.0.0.1:0".parse().expect("a socket address"),
            smtp_listen: "127.0.0.1:0".parse().expect("a socket address"),
            trigger_token: trigger_token.to_string(),
            report_token: None,
            seeds: vec![seed.to_string()],
            delivery,
            tracker_base: None,
            link_targets: vec!["https://www.example.org/".to_string()],
            subject: "maestro-ha smoke test".to_string(),
            from: "news@maestro.test".to_string(),
            bounce_domain: "maestro.test".to_string(),
            faults: Faults::default(),
            log_dir: None,
            db_check: None,
        }
    }
}

/// The counts the report export gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub jobs: u64,
    pub sent: u64,
    pub clicks: u64,
    pub bounces: u64,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub counts: Counts,
    /// Tracker ref -> target.
    pub refs: BTreeMap<String, String>,
    /// Bounce addresses handed out, lower case.
    pub bounce_addresses: BTreeSet<String>,
}

pub(crate) struct Shared {
    pub config: EmulatorConfig,
    pub tracker_base: String,
    pub state: Mutex<State>,
    pub stop: AtomicBool,
    pub log: Option<LuiLog>,
}

impl Shared {
    /// An INFO line in the LUI log, when there is one.
    pub fn log_info(&self, class: &str, message: &str) {
        if let Some(log) = &self.log {
            log.info(class, message);
        }
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panicked handler thread must not take the whole emulator down.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running emulator; stops when dropped.
pub struct Emulator {
    shared: Arc<Shared>,
    http_addr: SocketAddr,
    smtp_addr: SocketAddr,
    threads: Vec<JoinHandle<()>>,
}

impl Emulator {
    pub fn start(config: EmulatorConfig) -> anyhow::Result<Emulator> {
        let web = tiny_http::Server::http(config.http_listen).map_err(|e| {
            anyhow::anyhow!("cannot listen for HTTP on {}: {e}", config.http_listen)
        })?;
        let http_addr = web
            .server_addr()
            .to_ip()
            .ok_or_else(|| anyhow::anyhow!("the HTTP listener has no IP address"))?;
        let smtp = std::net::TcpListener::bind(config.smtp_listen).map_err(|e| {
            anyhow::anyhow!("cannot listen for SMTP on {}: {e}", config.smtp_listen)
        })?;
        let smtp_addr = smtp.local_addr()?;
        let tracker_base = config
            .tracker_base
            .clone()
            .unwrap_or_else(|| format!("http://{http_addr}"))
            .trim_end_matches('/')
            .to_string();
        let log = match &config.log_dir {
            Some(dir) => Some(LuiLog::new(dir).map_err(|e| {
                anyhow::anyhow!("cannot create the log folder {}: {e}", dir.display())
            })?),
            None => None,
        };
        if let Some(log) = &log {
            log.startup(config.db_check.as_deref(), &http_addr.to_string());
        }
        let shared = Arc::new(Shared {
            config,
            tracker_base,
            state: Mutex::new(State::default()),
            stop: AtomicBool::new(false),
            log,
        });
        let threads = vec![
            http::spawn(web, shared.clone()),
            smtp::spawn(smtp, shared.clone())?,
        ];
        Ok(Emulator {
            shared,
            http_addr,
            smtp_addr,
            threads,
        })
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    pub fn smtp_addr(&self) -> SocketAddr {
        self.smtp_addr
    }

    /// `http://ADDR/lui/externalAction.do`, without a token.
    pub fn trigger_url(&self) -> String {
        format!("http://{}/lui/externalAction.do", self.http_addr)
    }

    pub fn counts(&self) -> Counts {
        self.shared.state().counts
    }

    pub fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}
