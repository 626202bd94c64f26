//! The TSIG key (RFC 8945) that signs the dynamic update, read from a
//! secret file or variable, and the TSIG error a server answers with.
//!
//! The signing itself is hickory-proto's (`TSigner`, HMAC through ring).
//! The key file may hold the bare base64 secret, or a BIND `key` clause as
//! `tsig-keygen` writes it, from which the key's name and algorithm come too.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hickory_proto::dnssec::rdata::tsig::TsigAlgorithm;
use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::dnssec::tsig::TSigner;
use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RData};
use hickory_proto::serialize::binary::BinEncodable;
use std::fmt;

/// BIND's default: a signature is good for five minutes either side.
pub const FUDGE_SECONDS: u16 = 300;

#[derive(Clone, PartialEq, Eq)]
pub struct TsigKey {
    /// The key's name, as the server knows it (`maestro-ha.`).
    pub name: String,
    pub algorithm: &'static str,
    secret: Vec<u8>,
}

impl fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

const ALGORITHMS: [&str; 3] = ["hmac-sha256", "hmac-sha384", "hmac-sha512"];

impl TsigKey {
    /// Reads the secret's text: a BIND `key "NAME" { algorithm A; secret "B64"; };`
    /// clause, or the base64 secret alone (then `configured_name` names the key).
    /// Errors never quote the secret.
    pub fn parse(text: &str, configured_name: Option<&str>) -> Result<TsigKey, String> {
        let (file_name, algorithm, secret_b64) = if text.contains("secret") && text.contains('{') {
            parse_bind_clause(text)?
        } else {
            (None, None, text.trim().to_string())
        };
        let name = match (file_name, configured_name) {
            (Some(f), Some(c)) if !same_name(&f, c) => {
                return Err(format!(
                    "the key file names the key {f:?}, but dns_key_name says {c:?}"
                ))
            }
            (Some(f), _) => f,
            (None, Some(c)) => c.to_string(),
            (None, None) => {
                return Err(
                    "the key's name is unknown: set dns_key_name, or give a key file in BIND's format (tsig-keygen NAME)"
                        .into(),
                )
            }
        };
        Name::from_ascii(&name).map_err(|e| format!("key name {name:?}: {e}"))?;
        let algorithm = match algorithm {
            None => "hmac-sha256",
            Some(a) => {
                let a = a.to_ascii_lowercase();
                let a = a.trim_end_matches('.');
                *ALGORITHMS
                    .iter()
                    .find(|known| **known == a)
                    .ok_or_else(|| format!("algorithm {a:?} is not supported (use hmac-sha256)"))?
            }
        };
        // A secret of a few bytes is a placeholder, not a key.
        let secret = STANDARD
            .decode(secret_b64.as_bytes())
            .map_err(|_| "the secret is not base64 (as tsig-keygen writes it)".to_string())?;
        if secret.len() < 16 {
            return Err(format!(
                "the secret is {} bytes long; a TSIG key has 16 or more",
                secret.len()
            ));
        }
        // Known from now on, so masked wherever it could be printed.
        maestro_common::secret::Secret::new(&secret_b64);
        Ok(TsigKey {
            name: if name.ends_with('.') {
                name
            } else {
                format!("{name}.")
            },
            algorithm,
            secret,
        })
    }

    fn hickory_algorithm(&self) -> TsigAlgorithm {
        match self.algorithm {
            "hmac-sha384" => TsigAlgorithm::HmacSha384,
            "hmac-sha512" => TsigAlgorithm::HmacSha512,
            _ => TsigAlgorithm::HmacSha256,
        }
    }

    pub fn signer(&self) -> Result<TSigner, String> {
        let name = Name::from_ascii(&self.name).map_err(|e| e.to_string())?;
        TSigner::new(
            self.secret.clone(),
            self.hickory_algorithm(),
            name,
            FUDGE_SECONDS,
        )
        .map_err(|e| format!("cannot sign with the key {}: {e}", self.name))
    }
}

fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// The name, algorithm and secret of a BIND `key` clause.
fn parse_bind_clause(text: &str) -> Result<(Option<String>, Option<String>, String), String> {
    let name = regex::Regex::new(r#"key\s+"?([^"\s{]+)"?\s*\{"#)
        .expect("valid regex")
        .captures(text)
        .map(|c| c[1].to_string());
    let algorithm = regex::Regex::new(r#"algorithm\s+"?([A-Za-z0-9.-]+)"?\s*;"#)
        .expect("valid regex")
        .captures(text)
        .map(|c| c[1].to_string());
    let secret = regex::Regex::new(r#"secret\s+"([^"]+)"\s*;"#)
        .expect("valid regex")
        .captures(text)
        .map(|c| c[1].to_string())
        .ok_or("a `key` clause without `secret \"...\";`")?;
    Ok((name, algorithm, secret))
}

/// The TSIG error code of an answer (BADSIG 16, BADKEY 17, BADTIME 18,
/// BADTRUNC 22), when it carries a TSIG record. hickory-proto 0.25 keeps
/// the field private, so it is read from the record's wire form:
/// algorithm name, time (6), fudge (2), MAC size (2), MAC, original id (2),
/// error (2), other length (2), other data.
pub fn answer_tsig_error(message: &Message) -> Option<u16> {
    let record = message.signature().iter().find_map(|r| match r.data() {
        RData::DNSSEC(DNSSECRData::TSIG(t)) => Some(t),
        _ => None,
    })?;
    let wire = record.to_bytes().ok()?;
    tsig_error_from_wire(&wire)
}

fn tsig_error_from_wire(wire: &[u8]) -> Option<u16> {
    let mut at = 0usize;
    // The algorithm name: labels up to the root, or a compression pointer.
    loop {
        let len = *wire.get(at)? as usize;
        if len == 0 {
            at += 1;
            break;
        }
        if len & 0xc0 == 0xc0 {
            at += 2;
            break;
        }
        at += 1 + len;
    }
    at += 6 + 2; // time signed, fudge
    let mac_len = u16::from_be_bytes([*wire.get(at)?, *wire.get(at + 1)?]) as usize;
    at += 2 + mac_len + 2; // MAC, original id
    Some(u16::from_be_bytes([*wire.get(at)?, *wire.get(at + 1)?]))
}

/// An RCODE as DNS people write it, with the TSIG error where there is
/// one: `NOTAUTH(BADSIG)`, `REFUSED`.
pub fn rcode_text(rcode: u16, tsig_error: Option<u16>) -> String {
    let base = match rcode {
        0 => "NOERROR".to_string(),
        1 => "FORMERR".to_string(),
        2 => "SERVFAIL".to_string(),
        3 => "NXDOMAIN".to_string(),
        4 => "NOTIMP".to_string(),
        5 => "REFUSED".to_string(),
        6 => "YXDOMAIN".to_string(),
        7 => "YXRRSET".to_string(),
        8 => "NXRRSET".to_string(),
        9 => "NOTAUTH".to_string(),
        10 => "NOTZONE".to_string(),
        other => format!("RCODE{other}"),
    };
    match tsig_error.filter(|e| *e != 0) {
        None => base,
        Some(e) => {
            let t = match e {
                16 => "BADSIG".to_string(),
                17 => "BADKEY".to_string(),
                18 => "BADTIME".to_string(),
                19 => "BADMODE".to_string(),
                20 => "BADNAME".to_string(),
                21 => "BADALG".to_string(),
                22 => "BADTRUNC".to_string(),
                other => format!("TSIG error {other}"),
            };
            format!("{base}({t})")
        }
    }
}

/// What a refusal usually means, for the admin.
pub fn refusal_advice(text: &str) -> &'static str {
    if text.contains("BADSIG") {
        "the server knows the key's name but the secret differs: check the key file against the server's key"
    } else if text.contains("BADKEY") {
        "the server does not know this key (name or algorithm): check dns_key_name and the server's key clause"
    } else if text.contains("BADTIME") {
        "the clocks of this server and the DNS server differ by more than 5 minutes"
    } else if text.starts_with("REFUSED") {
        "the server does not allow this update (allow-update/update-policy): allow the key to change these names"
    } else if text.starts_with("NOTAUTH") {
        "the server is not authoritative for the zone, or did not accept the signature"
    } else if text.starts_with("NOTZONE") {
        "a name is not in the zone"
    } else {
        "the server refused the update"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B64: &str = "4tQbuMvYQH3OQ2QzWBsSWIOqAyY2yA0pDOWnEMyQK1c=";

    #[test]
    fn a_bind_key_file_gives_name_algorithm_and_secret() {
        let text =
            format!("key \"maestro-ha\" {{\n\talgorithm hmac-sha256;\n\tsecret \"{B64}\";\n}};\n");
        let k = TsigKey::parse(&text, None).unwrap();
        assert_eq!(
            (k.name.as_str(), k.algorithm),
            ("maestro-ha.", "hmac-sha256")
        );
        assert!(TsigKey::parse(&text, Some("maestro-ha.")).is_ok());
        let e = TsigKey::parse(&text, Some("other")).unwrap_err();
        assert!(e.contains("other") && !e.contains(B64), "{e}");
        assert!(!format!("{k:?}").contains("secret: "), "{k:?}");
    }

    #[test]
    fn a_bare_secret_needs_the_configured_name() {
        let k = TsigKey::parse(&format!("{B64}\n"), Some("ddns-key")).unwrap();
        assert_eq!(k.name, "ddns-key.");
        assert!(TsigKey::parse(B64, None)
            .unwrap_err()
            .contains("dns_key_name"));
        let e = TsigKey::parse("not base64 at all!", Some("k")).unwrap_err();
        assert!(e.contains("not base64") && !e.contains("at all"), "{e}");
        assert!(TsigKey::parse("c2hvcnQ=", Some("k"))
            .unwrap_err()
            .contains("16 or more"));
        let e = TsigKey::parse(
            &format!("key k {{ algorithm hmac-md5; secret \"{B64}\"; }};"),
            None,
        )
        .unwrap_err();
        assert!(e.contains("hmac-md5"), "{e}");
    }

    #[test]
    fn refusals_are_named() {
        assert_eq!(rcode_text(9, Some(16)), "NOTAUTH(BADSIG)");
        assert_eq!(rcode_text(9, Some(17)), "NOTAUTH(BADKEY)");
        assert_eq!(rcode_text(5, None), "REFUSED");
        assert_eq!(rcode_text(5, Some(0)), "REFUSED");
        assert!(refusal_advice("NOTAUTH(BADSIG)").contains("secret differs"));
    }

    #[test]
    fn the_error_field_is_read_from_the_wire_form() {
        // hmac-sha256. (13 bytes), time, fudge, empty MAC, id 0x1234, error 17, no other data.
        let mut wire = vec![11];
        wire.extend_from_slice(b"hmac-sha256");
        wire.push(0);
        wire.extend_from_slice(&[0, 0, 0x65, 0, 0, 0, 1, 0x2c, 0, 0, 0x12, 0x34, 0, 17, 0, 0]);
        assert_eq!(tsig_error_from_wire(&wire), Some(17));
        assert_eq!(tsig_error_from_wire(&wire[..10]), None);
    }
}
