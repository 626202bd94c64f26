//! Which INI values hold an address or a host name.
//!
//! Maestro's INI keys are not documented publicly, so this does not rely
//! on key names alone: every IP literal anywhere in a value counts, and so
//! does the host of every URL (`http://host:8080/trk/`, `jdbc:mysql://host/db`).
//! A bare name counts only where the key says it is one (a key made of
//! words like Host, Server, Address, URL, Domain, IP, SMTP, Relay), since a
//! dotted Java class name (`com.mysql.jdbc.Driver`) looks like a host name.
//! Keys that hold secrets (password, secret, token) are never read: their
//! values must not end up in a report.

use regex::Regex;
use std::net::IpAddr;
use std::sync::OnceLock;

/// One address or name found in a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mention {
    Address(IpAddr),
    Name(String),
}

fn url_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)[a-z][a-z0-9+.\-]*:(?:[a-z0-9+.\-]*:)*//(?:[^@/\s?#]*@)?(\[[0-9a-f:.]+\]|[^:/\s?#,;'\x22<>]+)")
            .expect("valid regex")
    })
}

fn ipv4_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}").expect("valid regex"))
}

/// The words of a key: `DBHost` -> db, host; `smtp.relay_server` -> smtp, relay, server.
fn key_words(key: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = key.chars().collect();
    for (i, &ch) in chars.iter().enumerate() {
        if !ch.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            continue;
        }
        // `URLs`, `IPs`: a lone `s` after capitals is a plural, no new word.
        let plural_s = chars.get(i + 1) == Some(&'s')
            && chars
                .get(i + 2)
                .is_none_or(|n| !n.is_ascii_lowercase() && !n.is_ascii_digit());
        let boundary = ch.is_ascii_uppercase()
            && i > 0
            && (chars[i - 1].is_ascii_lowercase()
                || (chars[i - 1].is_ascii_uppercase()
                    && !plural_s
                    && chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase())));
        if boundary && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        cur.push(ch.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

const HOST_WORDS: [&str; 17] = [
    "host", "hostname", "server", "address", "addr", "url", "uri", "domain", "ip", "smtp", "relay",
    "proxy", "dns", "mx", "gateway", "endpoint", "listen",
];
const SECRET_WORDS: [&str; 6] = ["password", "passwd", "pwd", "secret", "token", "passphrase"];

/// Whether a key names a host (or hosts: `DBHosts`, `TrackerURLs`,
/// `MailRelays`, `AllowedIPs`, `ServerAddresses`).
pub fn key_names_host(key: &str) -> bool {
    key_words(key).iter().any(|w| {
        let singular = [Some(w.as_str()), w.strip_suffix('s'), w.strip_suffix("es")];
        singular
            .into_iter()
            .flatten()
            .any(|s| HOST_WORDS.contains(&s))
    })
}

/// Whether a key holds a secret (its value is never read).
pub fn key_is_secret(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| lower.contains(w))
}

/// A bare host name, with an optional `:port`, also in brackets
/// (`[host]`, `[host]:port`).
fn bare_name(value: &str) -> Option<String> {
    let v = value.trim();
    let v = match v.strip_prefix('[').and_then(|r| r.split_once(']')) {
        Some((inner, rest)) if rest.is_empty() || rest.starts_with(':') => {
            return bare_name(&format!("{inner}{rest}"))
        }
        _ => v,
    };
    let host = match v.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty() => h,
        _ => v,
    };
    (crate::net::check_host_name(host).is_ok() && host.chars().any(|c| c.is_ascii_alphabetic()))
        .then(|| host.to_ascii_lowercase())
}

/// Every address and name a value holds, in order, without repeats.
pub fn mentions(key: &str, value: &str) -> Vec<Mention> {
    let mut out: Vec<Mention> = Vec::new();
    let mut push = |m: Mention| {
        if !out.contains(&m) {
            out.push(m);
        }
    };
    if key_is_secret(key) {
        return Vec::new();
    }
    for c in url_re().captures_iter(value) {
        let host = &c[1];
        match crate::net::parse_ip(host) {
            Some(ip) => push(Mention::Address(ip)),
            None => {
                if let Some(n) = bare_name(host) {
                    push(Mention::Name(n));
                }
            }
        }
    }
    // Each candidate is judged by its neighbours without consuming them,
    // so `a,b` and `a b` give both addresses; a digit or dot next to it
    // makes it part of something else (a version, a longer number).
    let bytes = value.as_bytes();
    let part_of_more = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_digit() || *b == b'.');
    for m in ipv4_re().find_iter(value) {
        let before = m.start().checked_sub(1).and_then(|i| bytes.get(i));
        if part_of_more(before) || part_of_more(bytes.get(m.end())) {
            continue;
        }
        if let Ok(ip) = m.as_str().parse::<std::net::Ipv4Addr>() {
            push(Mention::Address(IpAddr::V4(ip)));
        }
    }
    // IPv6 literals: tokens between separators that parse as one.
    for token in value.split(|c: char| c.is_whitespace() || ",;'\"()<>|=".contains(c)) {
        let t = token.trim_start_matches('[');
        let t = t.split(']').next().unwrap_or(t);
        if t.contains(':') && t.chars().filter(|c| *c == ':').count() >= 2 {
            if let Ok(ip) = t.parse::<std::net::Ipv6Addr>() {
                // `::ffff:c000:20a` is 192.0.2.10, as the old primary's list has it.
                push(Mention::Address(maestro_common::net::canonical(
                    IpAddr::V6(ip),
                )));
            }
        }
    }
    if key_names_host(key) {
        for part in value.split(|c: char| c.is_whitespace() || c == ',' || c == ';') {
            if part.contains("//") {
                continue;
            }
            if let Some(n) = bare_name(part) {
                push(Mention::Name(n));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Mention {
        Mention::Address(s.parse().unwrap())
    }
    fn name(s: &str) -> Mention {
        Mention::Name(s.into())
    }

    #[test]
    fn key_words_split_camel_case_and_separators() {
        assert_eq!(key_words("DBHost"), vec!["db", "host"]);
        assert_eq!(
            key_words("smtp.relay_server"),
            vec!["smtp", "relay", "server"]
        );
        assert_eq!(key_words("TrackerURL"), vec!["tracker", "url"]);
        assert_eq!(key_words("TrackerURLs"), vec!["tracker", "urls"]);
        assert_eq!(key_words("AllowedIPs"), vec!["allowed", "ips"]);
        assert_eq!(key_words("DBServer"), vec!["db", "server"]);
        assert!(key_names_host("MailServer"));
        assert!(
            !key_names_host("RecipientCount"),
            "ip inside a word is no IP"
        );
        assert!(!key_names_host("DriverClassName"));
    }

    #[test]
    fn addresses_and_url_hosts_anywhere() {
        assert_eq!(
            mentions("Whatever", "198.51.100.1"),
            vec![ip("198.51.100.1")]
        );
        assert_eq!(
            mentions("TrackerURL", "http://maestro1.example.org:8080/trk/"),
            vec![name("maestro1.example.org")]
        );
        assert_eq!(
            mentions("Jdbc", "jdbc:mysql://192.0.2.5:3306/maestro?useSSL=false"),
            vec![ip("192.0.2.5")]
        );
        assert_eq!(
            mentions("Base", "http://[2001:db8::5]:80/lui"),
            vec![ip("2001:db8::5")]
        );
        assert_eq!(
            mentions("Allowed", "10.0.0.1, 10.0.0.2"),
            vec![ip("10.0.0.1"), ip("10.0.0.2")]
        );
        assert_eq!(mentions("Listen", "2001:db8::7"), vec![ip("2001:db8::7")]);
        assert!(
            mentions("Version", "1.2.3.4.5").is_empty(),
            "a version is no address"
        );
        assert!(mentions("Time", "12:30:45").is_empty());
    }

    #[test]
    fn bare_names_only_where_the_key_says_host() {
        assert_eq!(
            mentions("DBHost", "maestro1.example.org"),
            vec![name("maestro1.example.org")]
        );
        assert_eq!(mentions("DBServer", "db1:3306"), vec![name("db1")]);
        assert!(mentions("DBDriver", "com.mysql.jdbc.Driver").is_empty());
        assert!(mentions("Title", "maestro.example.org newsletter").is_empty());
    }

    #[test]
    fn lists_plural_keys_brackets_and_mapped_addresses() {
        // Every address of a list, whatever separates them.
        for v in [
            "127.0.0.1,192.0.2.10",
            "127.0.0.1 192.0.2.10",
            "127.0.0.1;192.0.2.10",
            "127.0.0.1, 192.0.2.10",
        ] {
            assert_eq!(
                mentions("Whatever", v),
                vec![ip("127.0.0.1"), ip("192.0.2.10")],
                "{v}"
            );
        }
        assert_eq!(
            mentions("AllowedIPs", "10.0.0.1,10.0.0.2,10.0.0.3"),
            vec![ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3")]
        );
        // Plural keys name hosts too.
        assert_eq!(
            mentions("DBHosts", "maestro1.example.test"),
            vec![name("maestro1.example.test")]
        );
        assert_eq!(
            mentions("ListservServers", "maestro1.example.test:2306"),
            vec![name("maestro1.example.test")]
        );
        for key in [
            "MailRelays",
            "TrustedHosts",
            "TrackerURLs",
            "ServerAddresses",
        ] {
            assert!(key_names_host(key), "{key}");
        }
        assert!(!key_names_host("Aliases"));
        // A bracketed name.
        assert_eq!(
            mentions("LSHost", "[maestro1.example.test]"),
            vec![name("maestro1.example.test")]
        );
        assert_eq!(
            mentions("LSHost", "[maestro1.example.test]:2306"),
            vec![name("maestro1.example.test")]
        );
        // The IPv4-mapped form, in either spelling, is the IPv4 address.
        assert_eq!(mentions("Peer", "::ffff:c000:20a"), vec![ip("192.0.2.10")]);
        assert_eq!(
            mentions("Peer", "[::ffff:192.0.2.10]"),
            vec![ip("192.0.2.10")]
        );
        assert!(mentions("Version", "v1.2.3.4.5 build 10.0.0").is_empty());
    }

    #[test]
    fn secrets_are_never_read() {
        assert!(mentions("RemoteAdminPassword", "192.0.2.1").is_empty());
        assert!(mentions("ApiToken", "http://192.0.2.1/").is_empty());
    }
}
