//! The `[smoketest]` section of the shared configuration: the test
//! mailing checked end to end. Every key has a flag of the same name, and
//! the flag wins.

use maestro_common::config::Section;
use maestro_common::duration::HumanDuration;
use maestro_common::secret::SecretRef;
use serde::Deserialize;
use std::path::PathBuf;

/// `[smoketest]`, as every binary checks it.
pub const SECTION: Section = Section::typed::<SmoketestConfig>("smoketest");

/// `[smoketest]`: the test mailing checked end to end by maestro-smoketest.
/// Every key has a flag of the same name, and the flag wins.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmoketestConfig {
    /// Maestro's trigger URL without the token, e.g.
    /// `https://maestro.example.org/lui/externalAction.do`. Unset: no trigger
    /// (a person sends the test mailing).
    pub trigger_url: Option<String>,
    /// The trigger token of the prepared test job.
    pub trigger_token: Option<SecretRef>,
    /// The seed mailbox: `imaps://user@host:993/INBOX`, `imap://user@host:143/INBOX`
    /// (STARTTLS is required) or `maildir:/path`.
    pub mailbox: Option<String>,
    /// The seed mailbox's IMAP password.
    pub mailbox_password: Option<SecretRef>,
    /// PEM file of extra CA certificates trusted for IMAPS/STARTTLS (besides the built-in roots).
    pub ca_file: Option<PathBuf>,
    /// The folder a copy in Junk is looked for in. Default: the folder marked
    /// `\Junk`, else one named Junk or Spam.
    pub junk_folder: Option<String>,
    /// The test message is the one whose subject contains this. Default "maestro-ha smoke test".
    pub subject: Option<String>,
    /// ... or whose text contains this marker.
    pub marker: Option<String>,
    /// How long to wait for the test message. Default 120s.
    pub timeout: Option<HumanDuration>,
    /// Leave the test message in the mailbox. Default false.
    pub keep: Option<bool>,
    /// The tracker's `HOST` or `HOST:PORT` in the links; links to other hosts
    /// are not clicked. Default: every `/trk/click?ref=` link.
    pub tracker_host: Option<String>,
    /// This server's addresses the tracker host name must resolve to.
    /// Default: the addresses of this machine's interfaces.
    #[serde(default)]
    pub server_addresses: Vec<String>,
    /// Where the tracker must redirect to (any one of them).
    #[serde(default)]
    pub expect_targets: Vec<String>,
    /// Maestro's report export URL (job data, token-protected), without the token.
    pub report_url: Option<String>,
    /// The report export token.
    pub report_token: Option<SecretRef>,
    /// How long to wait for the report to count a click or a bounce. Default 60s.
    pub report_timeout: Option<HumanDuration>,
    /// LISTSERV's SMTP listener the bounce is sent to: `host:port`. Default: the trigger URL's host, port 25.
    pub smtp: Option<String>,
    /// The seed address the bounce says failed. Default: the test message's recipient.
    pub bounce_recipient: Option<String>,
    /// Every single network step (HTTP request, SMTP session, IMAP command). Default 10s.
    pub io_timeout: Option<HumanDuration>,
}
