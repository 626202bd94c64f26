//! What a run of maestro-watch uses: the flags over the `[watch]` section
//! over the built-in defaults.

use crate::config::Sources as Config;
use crate::probe::ProbeSpec;
use clap::Args;
use maestro_common::config::WitnessConfig;
use maestro_common::duration::parse_duration;
use std::time::Duration;

/// Maestro's ports (reference/maestro-facts.md): HTTP, HTTPS, SMTP
/// (LISTSERV), the internal RMI port, the internal database.
pub const DEFAULT_TCP_PORTS: [u16; 5] = [80, 443, 25, 1099, 3306];
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(3);
pub const DEFAULT_THRESHOLD: Duration = Duration::from_secs(120);
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
pub const DEFAULT_EXEC_TIMEOUT: Duration = Duration::from_secs(30 * 60);

#[derive(Debug, Clone, Default, Args)]
pub struct ProbeArgs {
    /// The primary as probed [default: [watch] target, else [primary] host]
    #[arg(long, value_name = "HOST")]
    pub target: Option<String>,

    /// TCP port of the target, or HOST:PORT, to connect to (repeatable). Any probe flag replaces the configured probes [default: 80, 443, 25, 1099, 3306]
    #[arg(long = "tcp", value_name = "[HOST:]PORT")]
    pub tcp: Vec<String>,

    /// URL to GET without following redirects (repeatable)
    #[arg(long = "http", value_name = "URL")]
    pub http: Vec<String>,

    /// HTTP status that counts as up (repeatable) [default: any 2xx or 3xx]
    #[arg(long = "http-expect", value_name = "CODE")]
    pub http_expect: Vec<u16>,

    /// Also ping the target (`ping` on Linux, the ICMP API on Windows; an ICMP-only failure never means DOWN)
    #[arg(long)]
    pub icmp: bool,

    /// Ping this host (repeatable)
    #[arg(long = "icmp-host", value_name = "HOST")]
    pub icmp_host: Vec<String>,

    /// Timeout of each probe [default: 3s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub probe_timeout: Option<Duration>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct DecideArgs {
    /// How long every probe must fail before DOWN is confirmed [default: 120s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub threshold: Option<Duration>,

    /// Time between evaluations; also the expected spacing of `once` runs (a gap of more than three restarts the timer) [default: 10s]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub interval: Option<Duration>,

    /// HOST:PORT (TCP) or HOST (ping) that proves this host is connected
    #[arg(long, value_name = "ADDRESS")]
    pub gateway: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ProbeSettings {
    pub target: Option<String>,
    pub probes: Vec<ProbeSpec>,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct DecideSettings {
    pub threshold: Duration,
    pub interval: Duration,
    pub gateway: Option<ProbeSpec>,
    pub witnesses: Vec<WitnessConfig>,
}

fn parse_tcp(word: &str, target: Option<&str>) -> Result<ProbeSpec, String> {
    let (host, port) = match word.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => (h.to_string(), p),
        _ => {
            let t = target
                .ok_or_else(|| format!("--tcp {word}: no host; give HOST:PORT or --target"))?;
            (t.to_string(), word)
        }
    };
    let port: u16 = port
        .parse()
        .map_err(|_| format!("--tcp {word}: {port:?} is not a port number"))?;
    if port == 0 {
        return Err(format!("--tcp {word}: port 0"));
    }
    Ok(ProbeSpec::Tcp { host, port })
}

/// `HOST:PORT` is a TCP connect, `HOST` a ping.
pub fn parse_gateway(word: &str) -> Result<ProbeSpec, String> {
    match word.rsplit_once(':') {
        Some((h, p))
            if !h.is_empty() && p.chars().all(|c| c.is_ascii_digit()) && !h.ends_with(':') =>
        {
            parse_tcp(word, None)
        }
        _ => Ok(ProbeSpec::Icmp {
            host: word.to_string(),
        }),
    }
}

/// A probe URL may not carry a password: it would show in `ps` here and
/// on every witness (whose command line repeats the probes), and in every
/// report. The message masks it.
fn check_probe_url(url: &str) -> Result<(), String> {
    // The shared masking knows a URL's password; where it masks one, there is one.
    let shown = maestro_common::safe_output::shown_url(url);
    if shown != url {
        return Err(format!(
            "HTTP probe {shown:?}: a password may not be written in a probe URL (it would show in ps here and on every witness); probe a URL that needs no login, or count its 401 as up with --http-expect 401 ([watch] http_expect)"
        ));
    }
    Ok(())
}

pub fn probe_settings(args: &ProbeArgs, config: &Config) -> Result<ProbeSettings, String> {
    let w = &config.watch;
    let target = args
        .target
        .clone()
        .or_else(|| w.target.clone())
        .or_else(|| config.primary.as_ref().map(|p| p.host.clone()));
    let expect = if args.http_expect.is_empty() {
        w.http_expect.clone().unwrap_or_default()
    } else {
        args.http_expect.clone()
    };
    let from_flags = !(args.tcp.is_empty() && args.http.is_empty() && args.icmp_host.is_empty());
    let mut probes = Vec::new();
    if from_flags {
        for t in &args.tcp {
            probes.push(parse_tcp(t, target.as_deref())?);
        }
        for url in &args.http {
            probes.push(ProbeSpec::Http {
                url: url.clone(),
                expect: expect.clone(),
            });
        }
        for h in &args.icmp_host {
            probes.push(ProbeSpec::Icmp { host: h.clone() });
        }
    } else {
        let ports = w
            .tcp_ports
            .clone()
            .unwrap_or_else(|| DEFAULT_TCP_PORTS.to_vec());
        if !ports.is_empty() {
            let t = target.as_deref().ok_or(
                "no target to probe: give --target, or set [watch] target or [primary] host",
            )?;
            for port in ports {
                probes.push(ProbeSpec::Tcp {
                    host: t.to_string(),
                    port,
                });
            }
        }
        for url in &w.http {
            probes.push(ProbeSpec::Http {
                url: url.clone(),
                expect: expect.clone(),
            });
        }
    }
    if args.icmp || (!from_flags && w.icmp == Some(true)) {
        let t = target
            .as_deref()
            .ok_or("--icmp needs a target: give --target")?;
        probes.push(ProbeSpec::Icmp {
            host: t.to_string(),
        });
    }
    for p in &probes {
        if let ProbeSpec::Http { url, .. } = p {
            check_probe_url(url)?;
        }
    }
    if probes.is_empty() {
        return Err(
            "no probe configured: give --tcp, --http or --icmp, or set [watch] tcp_ports or http"
                .into(),
        );
    }
    let timeout = args
        .probe_timeout
        .or(w.probe_timeout.map(|d| d.0))
        .unwrap_or(DEFAULT_PROBE_TIMEOUT);
    Ok(ProbeSettings {
        target,
        probes,
        timeout,
    })
}

/// The probes `once` and `run` decide on. A probe set that is all ICMP is
/// refused: ping is what firewalls drop first, so with no TCP or HTTP
/// probe to answer, a blocked ping would read as an outage and start a
/// failover of a primary that serves everyone.
pub fn decision_probe_settings(args: &ProbeArgs, config: &Config) -> Result<ProbeSettings, String> {
    let s = probe_settings(args, config)?;
    if s.probes.iter().all(|p| p.is_icmp()) {
        let from_flags =
            !(args.tcp.is_empty() && args.http.is_empty() && args.icmp_host.is_empty());
        let given = if from_flags {
            "--icmp-host (or --icmp) with no --tcp or --http".to_string()
        } else {
            let w = &config.watch;
            let ports = match &w.tcp_ports {
                Some(p) if p.is_empty() => "[watch] tcp_ports = []".to_string(),
                _ => "[watch] tcp_ports".to_string(),
            };
            let icmp = if args.icmp {
                "--icmp"
            } else {
                "[watch] icmp = true"
            };
            format!("{ports}, [watch] http = [] and {icmp}")
        };
        return Err(format!(
            "every probe is ICMP ({given}): a blocked ping would look like an outage and could start a failover; add a TCP or HTTP probe of the primary ([watch] tcp_ports or http, or --tcp or --http)"
        ));
    }
    Ok(s)
}

pub fn decide_settings(args: &DecideArgs, config: &Config) -> Result<DecideSettings, String> {
    let w = &config.watch;
    let threshold = args
        .threshold
        .or(w.threshold.map(|d| d.0))
        .unwrap_or(DEFAULT_THRESHOLD);
    let interval = args
        .interval
        .or(w.interval.map(|d| d.0))
        .unwrap_or(DEFAULT_INTERVAL);
    if interval.is_zero() {
        return Err("the interval must be longer than 0".into());
    }
    let gateway = match args.gateway.as_deref().or(w.gateway.as_deref()) {
        Some(g) => Some(parse_gateway(g)?),
        None => None,
    };
    Ok(DecideSettings {
        threshold,
        interval,
        gateway,
        witnesses: w.witnesses.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        let loaded =
            maestro_common::config::LoadedConfig::from_text(text, std::path::Path::new("t.toml"))
                .unwrap();
        Config::from_loaded(&loaded).unwrap()
    }

    #[test]
    fn defaults_probe_maestros_ports_on_the_primary() {
        let c = config("[primary]\nhost = \"m1\"\n");
        let s = probe_settings(&ProbeArgs::default(), &c).unwrap();
        assert_eq!(s.probes.len(), 5);
        assert_eq!(
            s.probes[0],
            ProbeSpec::Tcp {
                host: "m1".into(),
                port: 80
            }
        );
        assert_eq!(s.timeout, DEFAULT_PROBE_TIMEOUT);
    }

    #[test]
    fn flags_replace_configured_probes() {
        let c = config("[watch]\ntarget = \"m1\"\ntcp_ports = [80]\nhttp = [\"http://m1/lui/\"]\nicmp = true\n");
        let args = ProbeArgs {
            tcp: vec!["443".into(), "other:25".into()],
            ..Default::default()
        };
        let s = probe_settings(&args, &c).unwrap();
        assert_eq!(
            s.probes,
            vec![
                ProbeSpec::Tcp {
                    host: "m1".into(),
                    port: 443
                },
                ProbeSpec::Tcp {
                    host: "other".into(),
                    port: 25
                }
            ]
        );
        let s = probe_settings(&ProbeArgs::default(), &c).unwrap();
        assert_eq!(s.probes.len(), 3, "{:?}", s.probes);
        assert!(s.probes[2].is_icmp());
    }

    #[test]
    fn bad_input_is_named() {
        let c = config("");
        let e = probe_settings(&ProbeArgs::default(), &c).unwrap_err();
        assert!(e.contains("no target"), "{e}");
        let args = ProbeArgs {
            tcp: vec!["m1:http".into()],
            ..Default::default()
        };
        assert!(probe_settings(&args, &c)
            .unwrap_err()
            .contains("not a port number"));
        assert_eq!(
            parse_gateway("10.0.0.1:22").unwrap(),
            ProbeSpec::Tcp {
                host: "10.0.0.1".into(),
                port: 22
            }
        );
        assert_eq!(
            parse_gateway("gw").unwrap(),
            ProbeSpec::Icmp { host: "gw".into() }
        );
        let d = DecideArgs {
            interval: Some(Duration::ZERO),
            ..Default::default()
        };
        assert!(decide_settings(&d, &c).is_err());
    }

    #[test]
    fn a_probe_set_of_icmp_alone_is_refused_for_decisions() {
        let c = config("[watch]\ntarget = \"m1\"\ntcp_ports = []\nicmp = true\n");
        let e = decision_probe_settings(&ProbeArgs::default(), &c).unwrap_err();
        assert!(
            e.contains("every probe is ICMP")
                && e.contains("[watch] tcp_ports = []")
                && e.contains("[watch] icmp = true"),
            "{e}"
        );
        let args = ProbeArgs {
            icmp_host: vec!["m1".into()],
            ..Default::default()
        };
        let e = decision_probe_settings(&args, &c).unwrap_err();
        assert!(e.contains("--icmp-host"), "{e}");
        // A witness's `probe` only reports: ICMP alone is fine there.
        assert!(probe_settings(&args, &c).is_ok());
        // ICMP beside a TCP or HTTP probe is what --icmp is for.
        let c = config("[watch]\ntarget = \"m1\"\ntcp_ports = [80]\nicmp = true\n");
        assert_eq!(
            decision_probe_settings(&ProbeArgs::default(), &c)
                .unwrap()
                .probes
                .len(),
            2
        );
    }

    #[test]
    fn a_password_in_a_probe_url_is_refused_and_masked() {
        let args = ProbeArgs {
            http: vec!["http://u:pw-probe-7@m1/lui/".into()],
            ..Default::default()
        };
        let e = probe_settings(&args, &config("")).unwrap_err();
        assert!(
            e.contains("http://u:***@m1/lui/") && !e.contains("pw-probe-7"),
            "{e}"
        );
        let args = ProbeArgs {
            http: vec!["http://m1/lui/?mail=a@b".into()],
            ..Default::default()
        };
        assert!(probe_settings(&args, &config("")).is_ok());
    }
}
