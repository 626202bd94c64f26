//! The services the `isolate` level stops on this failover server (the
//! daemon that receives the sync, `[sync] rsync_daemon_unit`): through
//! systemd on Linux and the service control manager (`sc.exe`) on
//! Windows. Pure: what runs and how its answer is judged, so both are
//! tested on Linux; [`crate::isolate`] runs them.

use crate::firewall::LocalCommand;
use crate::remote::Judge;

/// The program that asks Windows' service control manager (by its full
/// name: in PowerShell `sc` is `Set-Content`).
pub const SC: &str = "sc.exe";

/// Which service manager this server has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    Systemd,
    /// Windows' service control manager, through `sc.exe`.
    Sc,
}

impl Manager {
    /// The one this build runs on.
    pub fn here() -> Manager {
        if cfg!(windows) {
            Manager::Sc
        } else {
            Manager::Systemd
        }
    }
}

/// Keeps the service from starting again (at boot or by hand) and stops
/// it, in order. `sc.exe stop` of a service that is not running exits
/// 1062: allowed, the queries afterwards decide. `sc.exe stop` only asks:
/// the service may still be stopping when it returns, so the fence waits
/// for `STOPPED` ([`stopped_query`]).
pub fn stop_commands(m: Manager, name: &str) -> Vec<LocalCommand> {
    match m {
        Manager::Systemd => vec![
            LocalCommand::new(
                &format!("stop {name}"),
                "systemctl",
                &["disable", "--now", name],
            ),
            LocalCommand::new(&format!("mask {name}"), "systemctl", &["mask", name]),
        ],
        Manager::Sc => {
            // Disabled first: between a stop and a disable, a recovery
            // action, a scheduled task or a person could start it again,
            // and it would keep running.
            let mut stop = LocalCommand::new(&format!("stop {name}"), SC, &["stop", name]);
            stop.may_fail = true;
            vec![
                LocalCommand::new(
                    &format!("disable {name}"),
                    SC,
                    &["config", name, "start=", "disabled"],
                ),
                stop,
            ]
        }
    }
}

/// Undoes [`stop_commands`] (unfence --resume-sync). On Windows the
/// service is set to start automatically: the start type it had before
/// the fence is not recorded, and a daemon that receives the sync starts
/// with the server.
pub fn start_commands(m: Manager, name: &str) -> Vec<LocalCommand> {
    match m {
        Manager::Systemd => vec![
            LocalCommand::new(&format!("unmask {name}"), "systemctl", &["unmask", name]),
            LocalCommand::new(
                &format!("start {name}"),
                "systemctl",
                &["enable", "--now", name],
            ),
        ],
        Manager::Sc => vec![
            LocalCommand::new(
                &format!("enable {name}"),
                SC,
                &["config", name, "start=", "auto"],
            ),
            LocalCommand::new(&format!("start {name}"), SC, &["start", name]),
        ],
    }
}

/// The query whose answer says the service is stopped, and its judge.
pub fn stopped_query(m: Manager, name: &str) -> (LocalCommand, Judge) {
    match m {
        Manager::Systemd => (
            LocalCommand::new(
                &format!("{name} stopped and masked"),
                "systemctl",
                &[
                    "show",
                    "-p",
                    "LoadState",
                    "-p",
                    "ActiveState",
                    "-p",
                    "UnitFileState",
                    name,
                ],
            ),
            Judge::SystemdStoppedMasked,
        ),
        Manager::Sc => (
            LocalCommand::new(&format!("{name} stopped"), SC, &["query", name]),
            Judge::ScStopped,
        ),
    }
}

/// Every query that must hold after the fence: stopped, and kept from
/// starting (systemd's one query says both).
pub fn fenced_queries(m: Manager, name: &str) -> Vec<(LocalCommand, Judge)> {
    let mut v = vec![stopped_query(m, name)];
    if m == Manager::Sc {
        v.push((
            LocalCommand::new(&format!("{name} disabled"), SC, &["qc", name]),
            Judge::ScDisabled,
        ));
    }
    v
}

/// What the fence does to the service, for `--dry-run`.
pub fn describe_stop(m: Manager, name: &str) -> String {
    match m {
        Manager::Systemd => format!("systemctl disable --now {name}; systemctl mask {name}"),
        Manager::Sc => format!(
            "sc.exe config {name:?} start= disabled; sc.exe stop {name:?}; then sc.exe query must say STOPPED and sc.exe qc START_TYPE DISABLED"
        ),
    }
}

/// What unfence --resume-sync does to it, for `--dry-run`.
pub fn describe_start(m: Manager, name: &str) -> String {
    match m {
        Manager::Systemd => format!("systemctl unmask {name}; systemctl enable --now {name}"),
        Manager::Sc => format!("sc.exe config {name:?} start= auto; sc.exe start {name:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::Answer;
    use maestro_common::ssh::ExecOutput;
    use std::time::Duration;

    fn out(code: i32, stdout: &str) -> ExecOutput {
        ExecOutput {
            stdout: stdout.as_bytes().to_vec(),
            stderr: Vec::new(),
            exit_status: code,
            exit_signal: None,
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn windows_services_are_stopped_disabled_and_queried_with_sc() {
        let stop = stop_commands(Manager::Sc, "RsyncServer");
        assert_eq!(stop.len(), 2);
        // Disabled before it is stopped: nothing can start it in between.
        assert_eq!(stop[0].program, "sc.exe");
        assert_eq!(
            stop[0].args,
            ["config", "RsyncServer", "start=", "disabled"]
        );
        assert!(!stop[0].may_fail);
        assert_eq!(stop[1].program, "sc.exe");
        assert_eq!(stop[1].args, ["stop", "RsyncServer"]);
        assert!(
            stop[1].may_fail,
            "a service already stopped is not a failure"
        );
        let shown = describe_stop(Manager::Sc, "RsyncServer");
        assert!(
            shown.find("start= disabled") < shown.find("sc.exe stop"),
            "{shown}"
        );
        let q = fenced_queries(Manager::Sc, "RsyncServer");
        assert_eq!(q.len(), 2);
        assert_eq!(q[0].0.args, ["query", "RsyncServer"]);
        assert_eq!(q[0].1, Judge::ScStopped);
        assert_eq!(q[1].0.args, ["qc", "RsyncServer"]);
        assert_eq!(q[1].1, Judge::ScDisabled);
        let start = start_commands(Manager::Sc, "Rsync Server");
        assert_eq!(start[0].args, ["config", "Rsync Server", "start=", "auto"]);
        assert_eq!(start[1].args, ["start", "Rsync Server"]);
    }

    #[test]
    fn linux_services_stay_systemd() {
        let stop = stop_commands(Manager::Systemd, "rsync.service");
        assert_eq!(stop[0].args, ["disable", "--now", "rsync.service"]);
        assert_eq!(stop[1].args, ["mask", "rsync.service"]);
        let q = fenced_queries(Manager::Systemd, "rsync.service");
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].1, Judge::SystemdStoppedMasked);
        assert_eq!(
            describe_start(Manager::Systemd, "rsync.service"),
            "systemctl unmask rsync.service; systemctl enable --now rsync.service"
        );
        assert_eq!(
            Manager::here(),
            if cfg!(windows) {
                Manager::Sc
            } else {
                Manager::Systemd
            }
        );
    }

    /// `sc.exe query` and `sc.exe qc` as Windows prints them (the layout of
    /// Microsoft's `sc query` documentation): a service still stopping is
    /// not stopped, and a missing service (exit 1060) cannot tell.
    #[test]
    fn sc_answers_are_judged() {
        let query = "\r\nSERVICE_NAME: RsyncServer\r\n        TYPE               : 10  WIN32_OWN_PROCESS\r\n        STATE              : 3  STOP_PENDING\r\n                                (STOPPABLE, NOT_PAUSABLE, ACCEPTS_SHUTDOWN)\r\n        WIN32_EXIT_CODE    : 0  (0x0)\r\n        SERVICE_EXIT_CODE  : 0  (0x0)\r\n        CHECKPOINT         : 0x0\r\n        WAIT_HINT          : 0x0\r\n";
        assert!(matches!(
            Judge::ScStopped.judge(&out(0, query)),
            Answer::Fails(_)
        ));
        let stopped = query.replace("3  STOP_PENDING", "1  STOPPED");
        assert!(matches!(
            Judge::ScStopped.judge(&out(0, &stopped)),
            Answer::Holds(_)
        ));
        let missing = "[SC] EnumQueryServicesStatus:OpenService FAILED 1060:\r\n\r\nThe specified service does not exist as an installed service.\r\n";
        assert!(matches!(
            Judge::ScStopped.judge(&out(1060, missing)),
            Answer::CannotTell(_)
        ));
        let qc = "[SC] QueryServiceConfig SUCCESS\r\n\r\nSERVICE_NAME: RsyncServer\r\n        TYPE               : 10  WIN32_OWN_PROCESS\r\n        START_TYPE         : 4   DISABLED\r\n        ERROR_CONTROL      : 1   NORMAL\r\n";
        assert!(matches!(
            Judge::ScDisabled.judge(&out(0, qc)),
            Answer::Holds(_)
        ));
        let auto = qc.replace("4   DISABLED", "2   AUTO_START");
        assert!(matches!(
            Judge::ScDisabled.judge(&out(0, &auto)),
            Answer::Fails(_)
        ));
    }

    /// The real `sc.exe` of the system it runs on (Windows, or Wine's),
    /// through the Job Object runner: the Plug and Play service runs on
    /// every Windows and in Wine, so it is not "stopped"; a service that
    /// does not exist cannot tell (never "stopped").
    #[cfg(windows)]
    #[test]
    fn the_systems_own_sc_query_is_judged() {
        let ask = |name: &str| {
            let (c, judge) = stopped_query(Manager::Sc, name);
            let o = crate::process::run(&c.program, &c.args, b"", Duration::from_secs(30)).unwrap();
            judge.judge(&out(o.code.unwrap_or(-1), &o.stdout))
        };
        let running = ask("PlugPlay");
        assert!(matches!(running, Answer::Fails(_)), "{running:?}");
        let missing = ask("no-such-service-maestro-fence");
        assert!(matches!(missing, Answer::CannotTell(_)), "{missing:?}");
    }
}
