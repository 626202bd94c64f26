//! Witnesses: third-party servers that run the same probes over SSH
//! (`maestro-watch probe --format json`) and report what they see.

use crate::decision::WitnessView;
use crate::probe::{ProbeOutcome, ProbeSpec, ProbeState};
use maestro_common::config::WitnessConfig;
use maestro_common::ssh::SshClient;
use serde_json::Value;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Quote one word for a POSIX shell.
pub fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b))
    {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The command a witness runs: the same probes, with an empty config
/// (`--config /dev/null`) so the witness's own settings cannot change them.
pub fn probe_command(program: &str, probes: &[ProbeSpec], timeout: Duration) -> String {
    let mut words = vec![
        program.to_string(),
        "--config".into(),
        "/dev/null".into(),
        "--format".into(),
        "json".into(),
        "probe".into(),
        "--probe-timeout".into(),
        format!("{}ms", timeout.as_millis()),
    ];
    for p in probes {
        match p {
            ProbeSpec::Tcp { host, port } => {
                words.extend(["--tcp".into(), format!("{host}:{port}")])
            }
            ProbeSpec::Http { url, expect } => {
                words.extend(["--http".into(), url.clone()]);
                for code in expect {
                    words.extend(["--http-expect".into(), code.to_string()]);
                }
            }
            ProbeSpec::Icmp { host } => words.extend(["--icmp-host".into(), host.clone()]),
        }
    }
    words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Read the JSON Lines of `maestro-watch probe`: one check record a probe,
/// exactly the probes `asked`, each once. A witness that reports fewer or
/// other probes (an old version, another configuration) is not believed:
/// "all down" over a smaller set is not agreement.
pub fn parse_probe_output(text: &str, asked: &[ProbeSpec]) -> Result<Vec<ProbeOutcome>, String> {
    let mut probes = Vec::new();
    let mut summary = false;
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: Value =
            serde_json::from_str(line).map_err(|e| format!("line {}: not JSON: {e}", i + 1))?;
        match v["type"].as_str() {
            Some("check") => {
                let d = &v["details"];
                let spec: ProbeSpec = serde_json::from_value(d["spec"].clone())
                    .map_err(|e| format!("line {}: bad probe spec: {e}", i + 1))?;
                let state: ProbeState = serde_json::from_value(d["state"].clone())
                    .map_err(|e| format!("line {}: bad probe state: {e}", i + 1))?;
                probes.push(ProbeOutcome {
                    name: spec.name(),
                    spec,
                    state,
                    detail: v["message"].as_str().unwrap_or_default().to_string(),
                    elapsed_ms: v["elapsed_ms"].as_f64().unwrap_or(0.0),
                });
            }
            Some("summary") => summary = true,
            _ => {}
        }
    }
    if !summary {
        return Err("no summary record: the output is cut off".into());
    }
    if probes.is_empty() {
        return Err("no probe result in the output".into());
    }
    let mut problems = Vec::new();
    for a in asked {
        match probes.iter().filter(|p| p.spec == *a).count() {
            1 => {}
            0 => problems.push(format!("no answer for {}", a.name())),
            n => problems.push(format!("{n} answers for {}", a.name())),
        }
    }
    for p in probes.iter().filter(|p| !asked.contains(&p.spec)) {
        problems.push(format!("an answer for {}, which was not asked", p.name));
    }
    if !problems.is_empty() {
        return Err(format!(
            "the answers are not for the probes asked: {}",
            problems.join("; ")
        ));
    }
    Ok(probes)
}

/// What a witness's `probe --format json` may write: a record of under
/// 1 KiB a probe. A witness writing more is not believed.
pub const WITNESS_OUTPUT_LIMIT: usize = 1024 * 1024;

fn ask(w: &WitnessConfig, probes: &[ProbeSpec], probe_timeout: Duration) -> WitnessView {
    let name = format!("{}@{}:{}", w.user, w.host, w.port);
    let unreachable = |detail: String| WitnessView {
        name: name.clone(),
        reachable: false,
        probes: vec![],
        detail,
    };
    let client = match SshClient::connect(&w.ssh_options()) {
        Ok(c) => c,
        Err(e) => return unreachable(e.to_string()),
    };
    let program = w.command.as_deref().unwrap_or("maestro-watch");
    let cmd = probe_command(program, probes, probe_timeout);
    let out = match client.exec_limited(
        &cmd,
        probe_timeout + Duration::from_secs(5),
        WITNESS_OUTPUT_LIMIT,
    ) {
        Ok(o) => o,
        Err(e) => return unreachable(format!("probe command: {e}")),
    };
    match parse_probe_output(&String::from_utf8_lossy(&out.stdout), probes) {
        Ok(probes) => {
            let up = probes.iter().filter(|p| p.state == ProbeState::Up).count();
            let detail = format!("{up} of {} probes answer", probes.len());
            WitnessView {
                name,
                reachable: true,
                probes,
                detail,
            }
        }
        Err(e) => unreachable(format!(
            "probe command exited {} with unreadable output ({e}): {}",
            out.exit_status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}

/// The longest asking the witnesses may take: name lookup, connect and
/// login each bounded by the connect timeout, then the remote probes.
pub fn bound(witnesses: &[WitnessConfig], probe_timeout: Duration) -> Duration {
    witnesses
        .iter()
        .map(|w| w.ssh_options().connect_timeout * 3 + probe_timeout + Duration::from_secs(6))
        .max()
        .unwrap_or(Duration::ZERO)
}

/// Ask every witness at once; one that has not answered by the bound is unreachable.
pub fn ask_all(
    witnesses: &[WitnessConfig],
    probes: &[ProbeSpec],
    probe_timeout: Duration,
) -> Vec<WitnessView> {
    let (tx, rx) = mpsc::channel();
    let bound = bound(witnesses, probe_timeout);
    for (i, w) in witnesses.iter().enumerate() {
        let (tx, w, probes) = (tx.clone(), w.clone(), probes.to_vec());
        thread::spawn(move || {
            let _ = tx.send((i, ask(&w, &probes, probe_timeout)));
        });
    }
    drop(tx);
    let mut views: Vec<Option<WitnessView>> = vec![None; witnesses.len()];
    let deadline = Instant::now() + bound;
    while views.iter().any(Option::is_none) {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok((i, v)) => views[i] = Some(v),
            Err(_) => break,
        }
    }
    views
        .into_iter()
        .zip(witnesses)
        .map(|(v, w)| {
            v.unwrap_or_else(|| WitnessView {
                name: format!("{}@{}:{}", w.user, w.host, w.port),
                reachable: false,
                probes: vec![],
                detail: format!("no answer within {}s", bound.as_secs()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_the_shell() {
        assert_eq!(shell_quote("abc"), "abc");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("http://h/lui/?a=1&b"), "'http://h/lui/?a=1&b'");
    }

    #[test]
    fn the_probe_command_names_every_probe() {
        let probes = [
            ProbeSpec::Tcp {
                host: "p".into(),
                port: 80,
            },
            ProbeSpec::Http {
                url: "http://p/lui/".into(),
                expect: vec![200],
            },
            ProbeSpec::Icmp { host: "p".into() },
        ];
        let cmd = probe_command("/usr/bin/maestro-watch", &probes, Duration::from_secs(3));
        assert_eq!(
            cmd,
            "/usr/bin/maestro-watch --config /dev/null --format json probe --probe-timeout 3000ms --tcp p:80 --http http://p/lui/ --http-expect 200 --icmp-host p"
        );
    }

    #[test]
    fn cut_off_or_garbled_output_is_refused() {
        let asked = [tcp(80)];
        assert!(parse_probe_output("", &asked).is_err());
        assert!(parse_probe_output("{\"type\":\"summary\"}\n", &asked).is_err());
        assert!(parse_probe_output("garbage\n", &asked).is_err());
        let line = check_line(80, "down");
        assert!(
            parse_probe_output(&line, &asked).is_err(),
            "no summary: cut off"
        );
        let ok = parse_probe_output(&format!("{line}\n{SUMMARY}\n"), &asked).unwrap();
        assert_eq!(ok[0].state, ProbeState::Down);
        assert_eq!(ok[0].name, "tcp p:80");
    }

    fn tcp(port: u16) -> ProbeSpec {
        ProbeSpec::Tcp {
            host: "p".into(),
            port,
        }
    }

    fn check_line(port: u16, state: &str) -> String {
        format!(
            r#"{{"type":"check","name":"tcp p:{port}","status":"CRITICAL","message":"refused","details":{{"spec":{{"kind":"tcp","host":"p","port":{port}}},"state":"{state}"}},"elapsed_ms":1.5}}"#
        )
    }

    const SUMMARY: &str = r#"{"type":"summary"}"#;

    #[test]
    fn answers_for_other_probes_than_asked_are_refused() {
        let asked = [tcp(80), tcp(443)];
        // Fewer: only the probe that is down here.
        let e = parse_probe_output(&format!("{}\n{SUMMARY}\n", check_line(80, "down")), &asked)
            .unwrap_err();
        assert!(e.contains("no answer for tcp p:443"), "{e}");
        // Other: a probe not asked, in place of one asked.
        let e = parse_probe_output(
            &format!(
                "{}\n{}\n{SUMMARY}\n",
                check_line(80, "down"),
                check_line(8080, "down")
            ),
            &asked,
        )
        .unwrap_err();
        assert!(e.contains("tcp p:8080, which was not asked"), "{e}");
        // Twice the same.
        let e = parse_probe_output(
            &format!(
                "{}\n{}\n{}\n{SUMMARY}\n",
                check_line(80, "down"),
                check_line(80, "down"),
                check_line(443, "down")
            ),
            &asked,
        )
        .unwrap_err();
        assert!(e.contains("2 answers for tcp p:80"), "{e}");
        let ok = parse_probe_output(
            &format!(
                "{}\n{}\n{SUMMARY}\n",
                check_line(443, "down"),
                check_line(80, "down")
            ),
            &asked,
        )
        .unwrap();
        assert_eq!(ok.len(), 2);
    }
}
