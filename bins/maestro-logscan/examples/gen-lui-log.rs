//! Writes a realistic LUI log of about SIZE bytes to stdout, for the
//! benchmark (scripts/bench-logscan.sh): log4j-style lines from many
//! threads and classes, 0.1% of records errors with Java stack traces.
//!
//!     cargo run --release -p maestro-logscan --example gen-lui-log -- 1073741824 > LUI.LOG

use std::io::{BufWriter, Write};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: deterministic, so every run benchmarks the same file.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const CLASSES: &[&str] = &[
    "com.lsoft.maestro.lui.job.JobManager",
    "com.lsoft.maestro.lui.delivery.DeliveryScheduler",
    "com.lsoft.maestro.lui.recipients.RecipientLoader",
    "com.lsoft.maestro.lui.web.SessionFilter",
    "com.lsoft.maestro.lui.tracking.TrackingEventImporter",
    "com.lsoft.maestro.common.db.ConnectionPool",
    "org.apache.catalina.core.StandardContext",
];

const INFO: &[&str] = &[
    "Job {n} delivered to LISTSERV ({m} recipients)",
    "Session {n} for user admin{m} authenticated",
    "Imported {m} tracking events for job {n}",
    "Recipient list {n} loaded: {m} rows",
    "Scheduled delivery of job {n} at slot {m}",
    "Connection pool: {m} of 50 connections in use",
    "GET /lui/job/overview.do?jobId={n} 200 {m}ms",
];

const ERRORS: &[(&str, &str)] = &[
    ("ERROR", "java.sql.SQLSyntaxErrorException: Table 'maestro.lui_job_{n}' doesn't exist"),
    ("ERROR", "com.mysql.cj.jdbc.exceptions.CommunicationsException: Communications link failure"),
    ("WARN ", "com.mysql.cj.jdbc.exceptions.MySQLTransactionRollbackException: Deadlock found when trying to get lock; try restarting transaction"),
    ("ERROR", "java.sql.SQLIntegrityConstraintViolationException: Duplicate entry '{n}' for key 'PRIMARY'"),
];

fn main() {
    let size: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1 << 30);
    let out = std::io::stdout();
    let mut w = BufWriter::with_capacity(1 << 20, out.lock());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut written = 0u64;
    let mut ms: u64 = 8 * 3600 * 1000;
    let mut line = String::with_capacity(512);
    while written < size {
        ms += rng.below(3);
        let (h, m, s, milli) = (
            (ms / 3_600_000) % 24,
            (ms / 60_000) % 60,
            (ms / 1000) % 60,
            ms % 1000,
        );
        let thread = rng.below(40);
        let class = CLASSES[rng.below(CLASSES.len() as u64) as usize];
        let n = rng.below(100_000);
        let k = rng.below(5000);
        line.clear();
        if rng.below(1000) == 0 {
            let (level, ex) = ERRORS[rng.below(ERRORS.len() as u64) as usize];
            let ex = ex.replace("{n}", &n.to_string());
            line.push_str(&format!(
                "2026-11-26 {h:02}:{m:02}:{s:02},{milli:03} {level} [http-nio-8080-exec-{thread}] {class} - Processing job {n} failed\n{ex}\n"
            ));
            for f in 0..(8 + rng.below(20)) {
                line.push_str(&format!(
                    "\tat {class}.step{f}({}.java:{})\n",
                    class.rsplit('.').next().unwrap_or("X"),
                    40 + f * 7
                ));
            }
            line.push_str("\tat org.apache.catalina.core.ApplicationFilterChain.internalDoFilter(ApplicationFilterChain.java:193)\n");
            line.push_str(&format!("\t... {} more\n", 20 + rng.below(30)));
        } else {
            let msg = INFO[rng.below(INFO.len() as u64) as usize]
                .replace("{n}", &n.to_string())
                .replace("{m}", &k.to_string());
            let level = if rng.below(10) == 0 { "DEBUG" } else { "INFO " };
            line.push_str(&format!(
                "2026-11-26 {h:02}:{m:02}:{s:02},{milli:03} {level} [http-nio-8080-exec-{thread}] {class} - {msg}\n"
            ));
        }
        if w.write_all(line.as_bytes()).is_err() {
            return;
        }
        written += line.len() as u64;
    }
    let _ = w.flush();
}
