//! DNS exchanges with one server, every one bounded: queries over UDP
//! (TCP when the answer is truncated), the signed dynamic update over TCP.
//!
//! Messages are hickory-proto's; the transport is std sockets with
//! timeouts, so nothing here needs an async runtime and nothing can wait
//! longer than it is told.

use crate::tsig::{self, TsigKey};
use hickory_proto::op::{Message, MessageType, OpCode, Query, UpdateMessage};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// An answer larger than this is not one of ours (TCP allows 64 KiB).
const MAX_MESSAGE: usize = 65_535;

#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("{server}: no answer within {}", crate::human(*.after))]
    Timeout { server: SocketAddr, after: Duration },
    #[error("{server}: {reason}")]
    Io { server: SocketAddr, reason: String },
    #[error("{server}: malformed answer: {reason}")]
    Malformed { server: SocketAddr, reason: String },
    #[error("{server}: {text}")]
    Rcode {
        server: SocketAddr,
        /// `REFUSED`, `NOTAUTH(BADSIG)`, ...
        text: String,
    },
    #[error("{server}: the answer is not signed with the key {key}: {reason}")]
    Unsigned {
        server: SocketAddr,
        key: String,
        reason: String,
    },
    #[error("{0}")]
    Other(String),
}

fn io_err(server: SocketAddr, e: std::io::Error, deadline: Instant, timeout: Duration) -> DnsError {
    if matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    ) || Instant::now() >= deadline
    {
        DnsError::Timeout {
            server,
            after: timeout,
        }
    } else {
        DnsError::Io {
            server,
            reason: e.to_string(),
        }
    }
}

fn left(deadline: Instant) -> Option<Duration> {
    let l = deadline.saturating_duration_since(Instant::now());
    (!l.is_zero()).then_some(l)
}

/// A message id nobody can guess (an answer with our id is taken for ours).
fn random_id() -> Result<u16, DnsError> {
    let t = crate::net::random_token().map_err(DnsError::Other)?;
    u16::from_str_radix(&t[..4], 16).map_err(|e| DnsError::Other(e.to_string()))
}

/// One UDP exchange: sent, and the first datagram with our id read, until the deadline.
fn udp(server: SocketAddr, bytes: &[u8], id: u16, timeout: Duration) -> Result<Vec<u8>, DnsError> {
    let deadline = Instant::now() + timeout;
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    let sock = UdpSocket::bind(bind).map_err(|e| io_err(server, e, deadline, timeout))?;
    sock.connect(server)
        .map_err(|e| io_err(server, e, deadline, timeout))?;
    // Two sends, half the time each: one lost datagram is no failure.
    for attempt in 0..2 {
        sock.send(bytes)
            .map_err(|e| io_err(server, e, deadline, timeout))?;
        let attempt_end = if attempt == 0 {
            Instant::now() + timeout / 2
        } else {
            deadline
        };
        let mut buf = vec![0u8; 4096];
        while let Some(l) = left(attempt_end.min(deadline)) {
            sock.set_read_timeout(Some(l))
                .map_err(|e| io_err(server, e, deadline, timeout))?;
            match sock.recv(&mut buf) {
                Ok(n) if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id => {
                    return Ok(buf[..n].to_vec())
                }
                // Someone else's datagram, or a stale answer: keep waiting.
                Ok(_) => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break
                }
                Err(e) => return Err(io_err(server, e, deadline, timeout)),
            }
        }
    }
    Err(DnsError::Timeout {
        server,
        after: timeout,
    })
}

/// One TCP exchange (two-byte length, then the message).
fn tcp(server: SocketAddr, bytes: &[u8], timeout: Duration) -> Result<Vec<u8>, DnsError> {
    let deadline = Instant::now() + timeout;
    let mut s = TcpStream::connect_timeout(&server, timeout)
        .map_err(|e| io_err(server, e, deadline, timeout))?;
    let arm = |s: &TcpStream| -> Result<(), DnsError> {
        let l = left(deadline).ok_or(DnsError::Timeout {
            server,
            after: timeout,
        })?;
        s.set_read_timeout(Some(l))
            .and_then(|_| s.set_write_timeout(Some(l)))
            .map_err(|e| io_err(server, e, deadline, timeout))
    };
    arm(&s)?;
    let len = u16::try_from(bytes.len()).map_err(|_| DnsError::Other("message too long".into()))?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    s.write_all(&framed)
        .map_err(|e| io_err(server, e, deadline, timeout))?;
    let mut head = [0u8; 2];
    arm(&s)?;
    s.read_exact(&mut head)
        .map_err(|e| io_err(server, e, deadline, timeout))?;
    let n = u16::from_be_bytes(head) as usize;
    let mut body = vec![0u8; n.min(MAX_MESSAGE)];
    let mut got = 0;
    while got < body.len() {
        arm(&s)?;
        match s.read(&mut body[got..]) {
            Ok(0) => {
                return Err(DnsError::Malformed {
                    server,
                    reason: format!("the connection closed after {got} of {n} bytes"),
                })
            }
            Ok(k) => got += k,
            Err(e) => return Err(io_err(server, e, deadline, timeout)),
        }
    }
    Ok(body)
}

fn parse(server: SocketAddr, bytes: &[u8], id: u16) -> Result<Message, DnsError> {
    let m = Message::from_vec(bytes).map_err(|e| DnsError::Malformed {
        server,
        reason: e.to_string(),
    })?;
    if m.id() != id || m.message_type() != MessageType::Response {
        return Err(DnsError::Malformed {
            server,
            reason: "not the answer to our question".into(),
        });
    }
    Ok(m)
}

/// A question without recursion (we ask authoritative servers what they hold).
pub fn query(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    timeout: Duration,
) -> Result<Message, DnsError> {
    let id = random_id()?;
    let mut m = Message::new();
    m.set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(false);
    let mut q = Query::query(name.clone(), rtype);
    q.set_query_class(DNSClass::IN);
    m.add_query(q);
    let bytes = m.to_vec().map_err(|e| DnsError::Other(e.to_string()))?;
    let started = Instant::now();
    let answer = parse(server, &udp(server, &bytes, id, timeout)?, id)?;
    if !answer.truncated() {
        return Ok(answer);
    }
    let rest = timeout.saturating_sub(started.elapsed());
    if rest.is_zero() {
        return Err(DnsError::Timeout {
            server,
            after: timeout,
        });
    }
    parse(server, &tcp(server, &bytes, rest)?, id)
}

/// What one server holds for a name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Held {
    /// Every A and AAAA address.
    pub addresses: BTreeSet<IpAddr>,
    /// The TTL of the A records (the largest, should they differ).
    pub a_ttl: Option<u32>,
    /// The TTL of the AAAA records.
    pub aaaa_ttl: Option<u32>,
    /// The name is an alias (a CNAME's target): updating its A records would do nothing.
    pub cname: Option<String>,
    /// NXDOMAIN: the name does not exist.
    pub nxdomain: bool,
    /// Whether every answer came from an authority for the name (the AA
    /// flag): a cache's answer says nothing about the zone.
    pub authoritative: bool,
}

impl Held {
    /// How long a resolver may keep what it got: the longest TTL of the
    /// name's records (an IPv6 client holds the AAAA as long as its TTL).
    pub fn ttl(&self) -> Option<u32> {
        self.a_ttl.max(self.aaaa_ttl)
    }

    /// The addresses of one family.
    pub fn family(&self, v4: bool) -> Vec<IpAddr> {
        self.addresses
            .iter()
            .filter(|a| a.is_ipv4() == v4)
            .copied()
            .collect()
    }
}

fn held_from(name: &Name, answer: &Message, into: &mut Held) {
    into.authoritative &= answer.authoritative();
    if answer.response_code() == hickory_proto::op::ResponseCode::NXDomain {
        into.nxdomain = true;
    }
    for r in answer.answers() {
        if !r.name().eq_case(name) && r.name() != name {
            continue;
        }
        match r.data() {
            RData::A(a) => {
                into.addresses.insert(IpAddr::V4(a.0));
                into.a_ttl = into.a_ttl.max(Some(r.ttl()));
            }
            RData::AAAA(a) => {
                into.addresses.insert(IpAddr::V6(a.0));
                into.aaaa_ttl = into.aaaa_ttl.max(Some(r.ttl()));
            }
            RData::CNAME(c) => into.cname = Some(c.0.to_ascii()),
            _ => {}
        }
    }
}

/// The A and AAAA records a server holds for `name`.
pub fn held(server: SocketAddr, name: &Name, timeout: Duration) -> Result<Held, DnsError> {
    let deadline = Instant::now() + timeout;
    let mut h = Held {
        authoritative: true,
        ..Held::default()
    };
    for rtype in [RecordType::A, RecordType::AAAA] {
        let l = left(deadline).ok_or(DnsError::Timeout {
            server,
            after: timeout,
        })?;
        let answer = query(server, name, rtype, l)?;
        let rc = u16::from(answer.response_code());
        if rc != 0 && rc != 3 {
            return Err(DnsError::Rcode {
                server,
                text: tsig::rcode_text(rc, None),
            });
        }
        held_from(name, &answer, &mut h);
    }
    Ok(h)
}

/// The zone's SOA serial on a server.
pub fn serial(server: SocketAddr, zone: &Name, timeout: Duration) -> Result<u32, DnsError> {
    let answer = query(server, zone, RecordType::SOA, timeout)?;
    answer
        .answers()
        .iter()
        .find_map(|r| match r.data() {
            RData::SOA(soa) => Some(soa.serial()),
            _ => None,
        })
        .ok_or_else(|| DnsError::Rcode {
            server,
            text: format!(
                "no SOA for {zone} ({})",
                tsig::rcode_text(u16::from(answer.response_code()), None)
            ),
        })
}

/// The zone's name servers, as a server lists them.
pub fn name_servers(
    server: SocketAddr,
    zone: &Name,
    timeout: Duration,
) -> Result<Vec<String>, DnsError> {
    let answer = query(server, zone, RecordType::NS, timeout)?;
    let ns: Vec<String> = answer
        .answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::NS(ns) => Some(ns.0.to_ascii()),
            _ => None,
        })
        .collect();
    if ns.is_empty() {
        return Err(DnsError::Rcode {
            server,
            text: format!(
                "no NS records for {zone} ({})",
                tsig::rcode_text(u16::from(answer.response_code()), None)
            ),
        });
    }
    Ok(ns)
}

/// The RFC 2136 message that replaces the A and AAAA records of every name
/// with the addresses given for it, each with its own TTL (a name given
/// none ends with no A or AAAA record), in one transaction.
pub fn update_message(
    zone: &Name,
    records: &[(Name, Vec<(IpAddr, u32)>)],
) -> Result<Message, DnsError> {
    let mut m = Message::new();
    m.set_id(random_id()?)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Update)
        .set_recursion_desired(false);
    let mut zq = Query::query(zone.clone(), RecordType::SOA);
    zq.set_query_class(DNSClass::IN);
    m.add_zone(zq);
    for (name, addrs) in records {
        for rtype in [RecordType::A, RecordType::AAAA] {
            // RFC 2136 2.5.2, delete an RRset: class ANY, TTL 0, no data.
            let mut del = Record::update0(name.clone(), 0, rtype);
            del.set_dns_class(DNSClass::ANY);
            m.add_update(del);
        }
        for (ip, ttl) in addrs {
            let rdata = match ip {
                IpAddr::V4(v4) => RData::A(A(*v4)),
                IpAddr::V6(v6) => RData::AAAA(AAAA(*v6)),
            };
            m.add_update(Record::from_rdata(name.clone(), *ttl, rdata));
        }
    }
    Ok(m)
}

/// Signs `message` with `key`, sends it over TCP and checks the answer:
/// NOERROR and signed with the same key, else the server's RCODE (with the
/// TSIG error) or why the answer cannot be trusted.
pub fn send_signed(
    server: SocketAddr,
    mut message: Message,
    key: &TsigKey,
    timeout: Duration,
) -> Result<Duration, DnsError> {
    let started = Instant::now();
    let signer = key.signer().map_err(DnsError::Other)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0);
    let mut verifier = message
        .finalize(&signer, now)
        .map_err(|e| DnsError::Other(format!("cannot sign the update: {e}")))?;
    let id = message.id();
    let bytes = message
        .to_vec()
        .map_err(|e| DnsError::Other(format!("cannot encode the update: {e}")))?;
    let raw = tcp(server, &bytes, timeout)?;
    let answer = parse(server, &raw, id)?;
    let rc = u16::from(answer.response_code());
    if rc != 0 {
        return Err(DnsError::Rcode {
            server,
            text: tsig::rcode_text(rc, tsig::answer_tsig_error(&answer)),
        });
    }
    // A NOERROR that is not signed with our key could come from anyone.
    match verifier.as_mut() {
        Some(verify) => verify(&raw).map_err(|e| DnsError::Unsigned {
            server,
            key: key.name.clone(),
            reason: e.to_string(),
        })?,
        None => {
            return Err(DnsError::Unsigned {
                server,
                key: key.name.clone(),
                reason: "no verifier for the answer".into(),
            })
        }
    };
    Ok(started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_update_replaces_both_families_in_one_message() {
        let zone = Name::from_ascii("example.org.").unwrap();
        let name = Name::from_ascii("maestro.example.org.").unwrap();
        let m = update_message(
            &zone,
            &[(name, vec![("198.51.100.2".parse().unwrap(), 60)])],
        )
        .unwrap();
        assert_eq!(m.op_code(), OpCode::Update);
        assert_eq!(m.queries()[0].query_type(), RecordType::SOA);
        let updates = m.name_servers();
        assert_eq!(updates.len(), 3, "{updates:?}");
        assert!(updates[..2]
            .iter()
            .all(|r| r.dns_class() == DNSClass::ANY && r.ttl() == 0));
        assert_eq!(updates[2].ttl(), 60);
        assert_eq!(updates[2].dns_class(), DNSClass::IN);
    }

    #[test]
    fn the_old_ttl_is_the_longest_of_both_families_and_authority_needs_every_answer() {
        let name = Name::from_ascii("maestro.example.org.").unwrap();
        let answer = |rdata: RData, ttl: u32, aa: bool| {
            let mut m = Message::new();
            m.set_message_type(MessageType::Response)
                .set_authoritative(aa);
            m.add_answer(Record::from_rdata(name.clone(), ttl, rdata));
            m
        };
        let mut h = Held {
            authoritative: true,
            ..Held::default()
        };
        held_from(
            &name,
            &answer(RData::A(A("192.0.2.10".parse().unwrap())), 60, true),
            &mut h,
        );
        held_from(
            &name,
            &answer(
                RData::AAAA(AAAA("2001:db8::10".parse().unwrap())),
                86400,
                false,
            ),
            &mut h,
        );
        assert_eq!(
            (h.a_ttl, h.aaaa_ttl, h.ttl()),
            (Some(60), Some(86400), Some(86400))
        );
        assert!(!h.authoritative, "one answer without AA");
        assert_eq!(
            h.family(false),
            vec!["2001:db8::10".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn a_silent_server_times_out_in_time() {
        // A UDP socket nobody reads: no answer, ever.
        let mute = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = mute.local_addr().unwrap();
        let started = Instant::now();
        let e = query(
            addr,
            &Name::from_ascii("example.org.").unwrap(),
            RecordType::SOA,
            Duration::from_millis(400),
        )
        .unwrap_err();
        assert!(matches!(e, DnsError::Timeout { .. }), "{e}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
