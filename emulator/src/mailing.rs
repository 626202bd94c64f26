//! The prepared test mailing, sent once a trigger: HTML and text
//! (multipart/alternative, the text quoted-printable, the HTML base64),
//! tracker links `TRACKER/trk/click?ref=<ref>&` as Maestro writes them,
//! and a VERP envelope sender `bounce-<job>-<n>@<bounce domain>` a seed.

use crate::{Delivery, Shared};
use lettre::address::Envelope;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{MultiPart, SinglePart};
use lettre::transport::smtp::SmtpTransport;
use lettre::{Address, Message, Transport};
use std::io::Write;
use std::time::Duration;

struct Prepared {
    envelope_from: String,
    to: String,
    raw: Vec<u8>,
}

fn links(shared: &Shared, job: u64, n: usize) -> Vec<(String, String)> {
    let mut st = shared.state();
    shared
        .config
        .link_targets
        .iter()
        .enumerate()
        .map(|(k, target)| {
            let r = format!("{job}-{n}-{}", k + 1);
            st.refs.insert(r.clone(), target.clone());
            (
                format!("{}/trk/click?ref={r}&", shared.tracker_base),
                target.clone(),
            )
        })
        .collect()
}

fn good_message(
    shared: &Shared,
    job: u64,
    to: &str,
    links: &[(String, String)],
) -> anyhow::Result<Vec<u8>> {
    let c = &shared.config;
    let mut text = format!("Hello,\r\n\r\nthis is the test mailing of job {job}, sent by the Maestro emulator.\r\n\r\n");
    let mut html = format!("<html><body><p>Hello,</p><p>this is the test mailing of job {job}, sent by the Maestro emulator.</p>\r\n");
    for (i, (link, _)) in links.iter().enumerate() {
        text.push_str(&format!("Link {}: {link}\r\n", i + 1));
        html.push_str(&format!(
            "<p><a href=\"{}\">Link {}</a></p>\r\n",
            link.replace('&', "&amp;"),
            i + 1
        ));
    }
    html.push_str("</body></html>\r\n");
    let msg = Message::builder()
        .from(c.from.parse()?)
        .to(to.parse()?)
        .subject(format!("{} (job {job})", c.subject))
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .header(ContentTransferEncoding::QuotedPrintable)
                        .body(text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .header(ContentTransferEncoding::Base64)
                        .body(html),
                ),
        )?;
    Ok(msg.formatted())
}

/// Broken MIME: the boundary announced is not the one used, and the HTML
/// part's base64 has bytes outside the alphabet.
fn malformed_message(shared: &Shared, job: u64, to: &str, links: &[(String, String)]) -> Vec<u8> {
    let c = &shared.config;
    let link = links.first().map(|l| l.0.clone()).unwrap_or_default();
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject} (job {job})\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"announced\"\r\n\r\n\
--actual\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
Link: {link}\r\n\
--actual\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
PGh0bWw+!!!$$$***\r\n--actual--\r\n",
        from = c.from,
        subject = c.subject,
    )
    .into_bytes()
}

/// Send the mailing of a new job to every seed address; the job number.
pub(crate) fn send_job(shared: &Shared) -> anyhow::Result<u64> {
    let job = {
        let mut st = shared.state();
        st.counts.jobs += 1;
        st.counts.jobs
    };
    let mut prepared = Vec::new();
    for (i, seed) in shared.config.seeds.iter().enumerate() {
        let n = i + 1;
        let envelope_from = format!("bounce-{job}-{n}@{}", shared.config.bounce_domain);
        shared
            .state()
            .bounce_addresses
            .insert(envelope_from.to_ascii_lowercase());
        let links = links(shared, job, n);
        let raw = if shared.config.faults.malformed_mime {
            malformed_message(shared, job, seed, &links)
        } else {
            good_message(shared, job, seed, &links)?
        };
        prepared.push(Prepared {
            envelope_from,
            to: seed.clone(),
            raw,
        });
    }
    for p in &prepared {
        if let Err(e) = deliver(shared, p) {
            if let Some(log) = &shared.log {
                log.write(
                    "ERROR",
                    "http-nio-8080-exec-1",
                    "com.lsoft.maestro.job.Delivery",
                    &format!("Job {job}: delivery to {} failed: {e}", p.to),
                    &[],
                );
            }
            return Err(e);
        }
        shared.state().counts.sent += 1;
    }
    shared.log_info(
        "com.lsoft.maestro.job.Delivery",
        &format!("Job {job} delivered to {} recipient(s)", prepared.len()),
    );
    Ok(job)
}

fn deliver(shared: &Shared, p: &Prepared) -> anyhow::Result<()> {
    match &shared.config.delivery {
        Delivery::Smtp { host, port } => {
            let from: Address = p.envelope_from.parse()?;
            let to: Address = p.to.parse()?;
            let envelope = Envelope::new(Some(from), vec![to])?;
            let transport = SmtpTransport::builder_dangerous(host.as_str())
                .port(*port)
                .timeout(Some(Duration::from_secs(10)))
                .build();
            transport
                .send_raw(&envelope, &p.raw)
                .map_err(|e| anyhow::anyhow!("SMTP {host}:{port}: {e}"))?;
            Ok(())
        }
        Delivery::Maildir(dir) => {
            // As an MDA does: the envelope into headers, write in tmp/, rename into new/.
            let unique = format!(
                "{}.M{}P{}.maestro-emulator",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_micros())
                    .unwrap_or(0),
                std::process::id()
            );
            let tmp = dir.join("tmp").join(&unique);
            let mut f = std::fs::File::create(&tmp)
                .map_err(|e| anyhow::anyhow!("{}: {e}", tmp.display()))?;
            write!(
                f,
                "Return-Path: <{}>\r\nDelivered-To: {}\r\n",
                p.envelope_from, p.to
            )?;
            f.write_all(&p.raw)?;
            f.sync_all()?;
            let new = dir.join("new").join(&unique);
            std::fs::rename(&tmp, &new).map_err(|e| anyhow::anyhow!("{}: {e}", new.display()))?;
            Ok(())
        }
    }
}
