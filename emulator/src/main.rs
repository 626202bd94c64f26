//! `maestro-emulator`: run the Maestro emulator from the command line
//! until interrupted. Prints one line with its addresses when ready.

use anyhow::Context as _;
use clap::Parser;
use maestro_emulator::{Delivery, Emulator, EmulatorConfig, Faults};
use std::net::SocketAddr;
use std::path::PathBuf;

/// A stand-in for LISTSERV Maestro's trigger URL, tracker, report export and bounce listener (tests and demos only).
#[derive(Debug, Parser)]
#[command(name = "maestro-emulator", version)]
struct Args {
    /// Address the LUI and tracker web server listens on
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    http_listen: SocketAddr,
    /// Address the bounce SMTP listener listens on
    #[arg(long, default_value = "127.0.0.1:2525", value_name = "ADDR:PORT")]
    smtp_listen: SocketAddr,
    /// File holding the trigger token
    #[arg(long, value_name = "PATH")]
    trigger_token_file: PathBuf,
    /// File holding the report export token (no report export without it)
    #[arg(long, value_name = "PATH")]
    report_token_file: Option<PathBuf>,
    /// Seed address the test mailing goes to (repeatable)
    #[arg(long = "seed", value_name = "ADDRESS", required = true)]
    seeds: Vec<String>,
    /// SMTP server the mailing is sent through (the seed mailbox's MTA)
    #[arg(
        long,
        value_name = "HOST:PORT",
        required_unless_present = "maildir",
        conflicts_with = "maildir"
    )]
    relay: Option<String>,
    /// Deliver the mailing into this Maildir instead, as an MDA would (demo without a mail server)
    #[arg(long, value_name = "DIR")]
    maildir: Option<PathBuf>,
    /// Tracker base URL written into the links [default: http://<http-listen>]
    #[arg(long, value_name = "URL")]
    tracker_base: Option<String>,
    /// Where the tracker redirects; one link per target (repeatable)
    #[arg(
        long = "link-target",
        value_name = "URL",
        default_value = "https://www.example.org/"
    )]
    link_targets: Vec<String>,
    /// Subject of the test mailing (the job number is appended)
    #[arg(long, default_value = "maestro-ha smoke test")]
    subject: String,
    /// From address of the test mailing
    #[arg(long, default_value = "news@maestro.test")]
    from: String,
    /// Domain of the VERP bounce addresses bounce-<job>-<n>@DOMAIN
    #[arg(long, default_value = "maestro.test")]
    bounce_domain: String,
    /// Fault: send the mailing with malformed MIME
    #[arg(long)]
    malformed_mime: bool,
    /// The LUI's log folder: write LUI-yyyymmdd.LOG there (start-up, database check, jobs, clicks, bounces)
    #[arg(long, value_name = "DIR")]
    log_dir: Option<PathBuf>,
    /// Shell command the start-up runs to check the database; a failure is logged as a JDBC exception (needs --log-dir)
    #[arg(long, value_name = "COMMAND", requires = "log_dir")]
    db_check_command: Option<String>,
}

fn read_token(path: &PathBuf) -> anyhow::Result<String> {
    let t =
        std::fs::read_to_string(path).with_context(|| format!("token file {}", path.display()))?;
    let t = t.trim_end_matches(['\r', '\n']).to_string();
    anyhow::ensure!(!t.is_empty(), "token file {} is empty", path.display());
    Ok(t)
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let delivery = match (&a.relay, &a.maildir) {
        (_, Some(d)) => Delivery::Maildir(d.clone()),
        (Some(r), None) => {
            let (host, port) = r.rsplit_once(':').context("--relay HOST:PORT")?;
            Delivery::Smtp {
                host: host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string(),
                port: port.parse().context("--relay: the port is not a number")?,
            }
        }
        (None, None) => anyhow::bail!("give --relay HOST:PORT or --maildir DIR"),
    };
    let mut config =
        EmulatorConfig::new(&read_token(&a.trigger_token_file)?, &a.seeds[0], delivery);
    config.http_listen = a.http_listen;
    config.smtp_listen = a.smtp_listen;
    config.report_token = a.report_token_file.as_ref().map(read_token).transpose()?;
    config.seeds = a.seeds;
    config.tracker_base = a.tracker_base;
    config.link_targets = a.link_targets;
    config.subject = a.subject;
    config.from = a.from;
    config.bounce_domain = a.bounce_domain;
    config.faults = Faults {
        malformed_mime: a.malformed_mime,
    };
    config.log_dir = a.log_dir;
    config.db_check = a.db_check_command;
    let emulator = Emulator::start(config)?;
    println!(
        "maestro-emulator: http={} smtp={} trigger={}",
        emulator.http_addr(),
        emulator.smtp_addr(),
        emulator.trigger_url()
    );
    loop {
        std::thread::park();
    }
}
