//! What the `ssh` level runs on the primary, per service manager and sync
//! method: the changes for `fence` and `unfence`, and the probes that prove
//! them. Pure: building a plan touches nothing, so `--dry-run` prints the
//! very commands a real run would send.

use crate::level::DISABLED_TAG;
use crate::marker::Marker;
use crate::remote::{sh_quote, Judge, Probe, RemoteOs, RemoteStep};
use crate::settings::Settings;
use maestro_common::config::ServiceManager;

/// The `ssh` level's commands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SshPlan {
    /// Asked before anything changes: a service name that does not exist
    /// would otherwise "stop" and "disable" fine and prove nothing.
    pub prechecks: Vec<Probe>,
    pub actions: Vec<RemoteStep>,
    /// Asked after the changes: all must hold.
    pub verify: Vec<Probe>,
}

fn step(name: impl Into<String>, command: impl Into<String>) -> RemoteStep {
    RemoteStep {
        name: name.into(),
        command: command.into(),
        input: None,
        undo: String::new(),
    }
}

/// A change of `fence`, with what undoes it.
fn change(name: impl Into<String>, command: impl Into<String>, undo: &str) -> RemoteStep {
    RemoteStep {
        undo: undo.to_string(),
        ..step(name, command)
    }
}

const UNDO_START: &str =
    "not undone: unfence leaves services stopped (start them after the checks)";
const UNDO_ENABLE: &str = "unfence enables it again";
const UNDO_SYNC: &str = "unfence --resume-sync";
const UNDO_NOTHING: &str = "nothing to undo";
const UNDO_MARKER: &str = "unfence removes it";

fn probe(name: impl Into<String>, command: impl Into<String>, judge: Judge) -> Probe {
    Probe {
        name: name.into(),
        command: command.into(),
        judge,
    }
}

/// `{name}` in a configured command, replaced by the quoted service name.
fn fill(template: &str, name: &str) -> String {
    template.replace("{name}", &sh_quote(name))
}

fn win(name: &str) -> String {
    format!("\"{name}\"")
}

fn unix_dir(path: &str) -> String {
    match path.rfind('/') {
        Some(0) => "/".to_string(),
        Some(i) => path[..i].to_string(),
        None => ".".to_string(),
    }
}

fn win_dir(path: &str) -> String {
    match path.rfind('\\') {
        Some(i) => path[..i].to_string(),
        None => ".".to_string(),
    }
}

/// Probes that hold when every service is stopped and kept from starting.
fn service_probes(s: &Settings, plan: &mut SshPlan) {
    let sv = &s.services;
    for name in &sv.names {
        let q = sh_quote(name);
        match sv.manager {
            ServiceManager::Systemd => {
                let show =
                    format!("systemctl show -p LoadState -p ActiveState -p UnitFileState {q}");
                plan.prechecks.push(probe(
                    format!("{name} exists"),
                    show.clone(),
                    Judge::SystemdKnown,
                ));
                plan.verify.push(probe(
                    format!("{name} stopped and masked"),
                    show,
                    Judge::SystemdStoppedMasked,
                ));
            }
            ServiceManager::Sysv => {
                plan.prechecks.push(probe(
                    format!("{name} exists"),
                    format!("test -x /etc/init.d/{q}"),
                    Judge::ExitZero,
                ));
                plan.verify.push(probe(
                    format!("{name} stopped"),
                    format!("/etc/init.d/{q} status"),
                    Judge::LsbStopped,
                ));
                plan.verify.push(probe(
                    format!("{name} disabled"),
                    start_links(name),
                    Judge::NoOutput,
                ));
            }
            ServiceManager::Windows => {
                plan.verify.push(probe(
                    format!("{name} stopped"),
                    format!("sc.exe query {}", win(name)),
                    Judge::ScStopped,
                ));
                plan.verify.push(probe(
                    format!("{name} disabled"),
                    format!("sc.exe qc {}", win(name)),
                    Judge::ScDisabled,
                ));
            }
            ServiceManager::Commands => {
                let active = sv.active_command.as_deref().unwrap_or("false");
                let enabled = sv.enabled_command.as_deref().unwrap_or("false");
                plan.verify.push(probe(
                    format!("{name} stopped"),
                    fill(active, name),
                    Judge::CommandStopped,
                ));
                plan.verify.push(probe(
                    format!("{name} disabled"),
                    fill(enabled, name),
                    Judge::CommandDisabled,
                ));
            }
        }
    }
}

/// `sc.exe stop` only asks a Windows service to stop and returns while it is
/// still stopping (a Tomcat takes seconds): the step waits for `Stopped`,
/// a little less than the command timeout, and fails when the service is
/// not stopped by then. One already stopped (`sc.exe stop` exit 1062) passes.
/// Always `sc.exe`, never `sc`: when the SSH server's default shell is
/// PowerShell, `sc` is its alias of Set-Content, and `sc stop "X"` writes
/// a file named `stop` and exits 0.
fn sc_stop_and_wait(s: &Settings, name: &str) -> String {
    let wait = s
        .command_timeout
        .saturating_sub(std::time::Duration::from_secs(2))
        .max(std::time::Duration::from_secs(1));
    format!(
        "sc.exe stop {} & powershell -NoProfile -NonInteractive -Command \"(Get-Service -Name '{name}').WaitForStatus('Stopped', [TimeSpan]::FromMilliseconds({}))\"",
        win(name),
        wait.as_millis()
    )
}

/// Lists the SysV start links of a service (Debian and Red Hat layouts).
fn start_links(name: &str) -> String {
    let q = sh_quote(name);
    format!(
        "for f in /etc/rc[2345].d/S[0-9][0-9]{q} /etc/rc.d/rc[2345].d/S[0-9][0-9]{q}; do if [ -e \"$f\" ]; then echo \"$f\"; fi; done"
    )
}

fn sync_fence(s: &Settings, plan: &mut SshPlan) {
    let sy = &s.sync;
    match s.os {
        RemoteOs::Unix => {
            if let Some(t) = &sy.timer {
                let q = sh_quote(t);
                plan.actions.push(change(
                    format!("stop sync timer {t}"),
                    format!("systemctl stop {q}; systemctl disable {q}; systemctl mask {q}"),
                    UNDO_SYNC,
                ));
                plan.verify.push(probe(
                    format!("sync timer {t} stopped and masked"),
                    format!("systemctl show -p LoadState -p ActiveState -p UnitFileState {q}"),
                    Judge::SystemdStoppedMasked,
                ));
            }
            if let Some(f) = &sy.cron_file {
                let q = sh_quote(f);
                plan.actions.push(change(
                    format!("comment out the sync entries of {f}"),
                    format!(
                        "test -f {q} || exit 1; {}",
                        rewrite_sh(
                            f,
                            &format!("sed -e '/^[[:space:]]*#/b' -e '/^[[:space:]]*$/b' -e 's/^/{DISABLED_TAG}/' \"$f\""),
                            "0644"
                        )
                    ),
                    UNDO_SYNC,
                ));
                plan.verify.push(probe(
                    format!("no active entry in {f}"),
                    format!("test -f {q} || exit 2; grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' {q}"),
                    Judge::GrepNothing,
                ));
            }
            if let Some(p) = s.sync_process() {
                let q = sh_quote(&p);
                plan.actions.push(change(
                    format!("end running {p}"),
                    format!("pkill -TERM -x {q}; i=0; while pgrep -x {q} >/dev/null && [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done; pkill -KILL -x {q}; true"),
                    UNDO_NOTHING,
                ));
                plan.verify.push(probe(
                    format!("no {p} running"),
                    format!("pgrep -x {q}"),
                    Judge::NoProcess,
                ));
            }
        }
        RemoteOs::Windows => {
            if let Some(t) = &sy.scheduled_task {
                plan.actions.push(change(
                    format!("disable sync task {t}"),
                    format!("schtasks /Change /TN {} /DISABLE", win(t)),
                    UNDO_SYNC,
                ));
                plan.actions.push(change(
                    format!("end sync task {t}"),
                    format!("schtasks /End /TN {}", win(t)),
                    UNDO_NOTHING,
                ));
                plan.verify.push(probe(
                    format!("sync task {t} disabled"),
                    format!("schtasks /Query /TN {} /FO LIST", win(t)),
                    Judge::TaskDisabled,
                ));
            }
            if let Some(p) = s.sync_process() {
                plan.actions.push(change(
                    format!("end running {p}"),
                    format!("taskkill /F /IM {}", win(&p)),
                    UNDO_NOTHING,
                ));
                plan.verify.push(probe(
                    format!("no {p} running"),
                    format!("tasklist /NH /FI \"IMAGENAME eq {p}\""),
                    Judge::NoTask(p.clone()),
                ));
            }
        }
    }
}

/// A shell command that replaces the file `path` with what `producer`
/// prints (it reads the old file as `"$f"`), the way every file the fence
/// rewrites is written: into a temporary file beside it, an existing
/// file's mode and owner copied over (a chown that fails fails the step:
/// the file would change hands), flushed, renamed over the old one, and the
/// folder flushed. On any failure the temporary file is removed and the
/// old file is left as it was. A symbolic link at the path is refused
/// (the rename would replace the link with a copy, and what it named
/// would stay as it was), as the fence refuses one on this side.
pub fn rewrite_sh(path: &str, producer: &str, mode_if_new: &str) -> String {
    format!(
        "f={q}; d={dir}; if [ -L \"$f\" ]; then echo \"$f is a symbolic link; refusing to replace it\" >&2; exit 1; fi; t=$(mktemp \"$d/.maestro-fence.XXXXXX\") || exit 1; if {{ {producer} >\"$t\" && if [ -e \"$f\" ]; then chmod --reference=\"$f\" \"$t\" && chown --reference=\"$f\" \"$t\"; else chmod {mode_if_new} \"$t\"; fi && sync \"$t\" && mv -f \"$t\" \"$f\" && sync \"$d\"; }}; then exit 0; else rm -f \"$t\"; exit 1; fi",
        q = sh_quote(path),
        dir = sh_quote(&unix_dir(path)),
    )
}

fn write_file_step(s: &Settings, name: &str, path: &str, text: String) -> RemoteStep {
    let command = match s.os {
        RemoteOs::Unix => format!(
            "mkdir -p {} || exit 1; {}",
            sh_quote(&unix_dir(path)),
            rewrite_sh(path, "cat", "0644")
        ),
        RemoteOs::Windows => format!(
            "powershell -NoProfile -NonInteractive -Command \"New-Item -ItemType Directory -Force -Path '{}' | Out-Null; [IO.File]::WriteAllText('{path}', [Console]::In.ReadToEnd())\"",
            win_dir(path)
        ),
    };
    RemoteStep {
        name: name.to_string(),
        command,
        input: Some(text),
        undo: UNDO_MARKER.to_string(),
    }
}

fn read_file(s: &Settings, path: &str) -> String {
    match s.os {
        RemoteOs::Unix => format!("cat {}", sh_quote(path)),
        RemoteOs::Windows => format!("type \"{path}\""),
    }
}

/// The probes that say the primary is fenced (any marker epoch when `epoch` is `None`).
pub fn fenced_probes(s: &Settings, epoch: Option<u64>) -> SshPlan {
    let mut plan = SshPlan::default();
    service_probes(s, &mut plan);
    sync_fence(s, &mut plan);
    plan.actions.clear();
    plan.verify.push(probe(
        "fence marker reads back",
        read_file(s, &s.marker_file),
        Judge::Marker(epoch),
    ));
    plan
}

/// The `ssh` level of `fence`.
pub fn fence_plan(s: &Settings, marker: &Marker) -> SshPlan {
    let mut plan = SshPlan::default();
    service_probes(s, &mut plan);
    // A file the fence replaces must not be a symbolic link: refused before
    // anything changes (the rewrite refuses it too).
    if s.os == RemoteOs::Unix {
        for (what, path) in [
            ("the cron file", s.sync.cron_file.as_deref()),
            ("the fence marker", Some(s.marker_file.as_str())),
        ] {
            if let Some(p) = path {
                plan.prechecks.push(probe(
                    format!("{what} {p} is not a symbolic link"),
                    format!("test ! -L {}", sh_quote(p)),
                    Judge::ExitZero,
                ));
            }
        }
    }
    let sv = &s.services;
    // Disabled before stopped: whatever starts a service on its own (a
    // dependency, a watchdog, a recovery action) finds it disabled, so it
    // cannot come back between the two steps.
    for name in &sv.names {
        let q = sh_quote(name);
        match sv.manager {
            ServiceManager::Systemd => {
                plan.actions.push(change(
                    format!("disable and mask {name}"),
                    format!("systemctl disable {q}; systemctl mask {q}"),
                    UNDO_ENABLE,
                ));
                plan.actions.push(change(
                    format!("stop {name}"),
                    format!("systemctl stop {q}"),
                    UNDO_START,
                ));
            }
            ServiceManager::Sysv => {
                plan.actions.push(change(
                    format!("disable {name}"),
                    format!("if command -v update-rc.d >/dev/null; then update-rc.d {q} disable; elif command -v chkconfig >/dev/null; then chkconfig {q} off; else echo 'neither update-rc.d nor chkconfig' >&2; exit 1; fi"),
                    UNDO_ENABLE,
                ));
                plan.actions.push(change(
                    format!("stop {name}"),
                    format!("/etc/init.d/{q} stop"),
                    UNDO_START,
                ));
            }
            ServiceManager::Windows => {
                plan.actions.push(change(
                    format!("disable {name}"),
                    format!("sc.exe config {} start= disabled", win(name)),
                    UNDO_ENABLE,
                ));
                plan.actions.push(change(
                    format!("stop {name}"),
                    sc_stop_and_wait(s, name),
                    UNDO_START,
                ));
            }
            ServiceManager::Commands => {
                let stop = sv.stop_command.as_deref().unwrap_or("false");
                let disable = sv.disable_command.as_deref().unwrap_or("false");
                plan.actions.push(change(
                    format!("disable {name}"),
                    fill(disable, name),
                    UNDO_ENABLE,
                ));
                plan.actions
                    .push(change(format!("stop {name}"), fill(stop, name), UNDO_START));
            }
        }
    }
    sync_fence(s, &mut plan);
    plan.actions.push(write_file_step(
        s,
        "write the fence marker",
        &s.marker_file,
        marker.render(),
    ));
    plan.verify.push(probe(
        "fence marker reads back",
        read_file(s, &s.marker_file),
        Judge::Marker(Some(marker.epoch)),
    ));
    plan
}

/// The `ssh` part of `unfence`: services may start at boot again, the
/// marker goes, the new epoch is written; the sync resumes only when asked.
/// Services are not started: that stays the admin's step after the checks.
pub fn unfence_plan(s: &Settings, epoch: u64, resume_sync: bool) -> SshPlan {
    let mut plan = SshPlan::default();
    let sv = &s.services;
    for name in &sv.names {
        let q = sh_quote(name);
        match sv.manager {
            ServiceManager::Systemd => {
                plan.actions.push(step(
                    format!("unmask and enable {name}"),
                    format!("systemctl unmask {q} && systemctl enable {q}"),
                ));
                plan.verify.push(probe(
                    format!("{name} enabled"),
                    format!("systemctl show -p LoadState -p ActiveState -p UnitFileState {q}"),
                    Judge::SystemdEnabled,
                ));
            }
            ServiceManager::Sysv => {
                plan.actions.push(step(
                    format!("enable {name}"),
                    format!("if command -v update-rc.d >/dev/null; then update-rc.d {q} enable; elif command -v chkconfig >/dev/null; then chkconfig {q} on; else exit 1; fi"),
                ));
                plan.verify.push(probe(
                    format!("{name} enabled"),
                    start_links(name),
                    Judge::SomeOutput,
                ));
            }
            ServiceManager::Windows => {
                plan.actions.push(step(
                    format!("enable {name}"),
                    format!("sc.exe config {} start= auto", win(name)),
                ));
                plan.verify.push(probe(
                    format!("{name} enabled"),
                    format!("sc.exe qc {}", win(name)),
                    Judge::ScNotDisabled,
                ));
            }
            ServiceManager::Commands => {
                let enable = sv.enable_command.as_deref().unwrap_or("false");
                let enabled = sv.enabled_command.as_deref().unwrap_or("false");
                plan.actions
                    .push(step(format!("enable {name}"), fill(enable, name)));
                plan.verify.push(probe(
                    format!("{name} enabled"),
                    fill(enabled, name),
                    Judge::CommandEnabled,
                ));
            }
        }
    }
    if resume_sync {
        let sy = &s.sync;
        match s.os {
            RemoteOs::Unix => {
                if let Some(t) = &sy.timer {
                    let q = sh_quote(t);
                    plan.actions.push(step(
                        format!("resume sync timer {t}"),
                        format!("systemctl unmask {q} && systemctl enable --now {q}"),
                    ));
                }
                if let Some(f) = &sy.cron_file {
                    let q = sh_quote(f);
                    plan.actions.push(step(
                        format!("restore the sync entries of {f}"),
                        format!(
                            "test -f {q} || exit 1; {}",
                            rewrite_sh(f, &format!("sed -e 's/^{DISABLED_TAG}//' \"$f\""), "0644")
                        ),
                    ));
                }
            }
            RemoteOs::Windows => {
                if let Some(t) = &sy.scheduled_task {
                    plan.actions.push(step(
                        format!("enable sync task {t}"),
                        format!("schtasks /Change /TN {} /ENABLE", win(t)),
                    ));
                }
            }
        }
    }
    let (remove, absent) = match s.os {
        RemoteOs::Unix => {
            let q = sh_quote(&s.marker_file);
            (
                format!("rm -f {q}"),
                format!("if [ -e {q} ]; then echo present; else echo absent; fi"),
            )
        }
        RemoteOs::Windows => {
            let p = &s.marker_file;
            (
                format!("if exist \"{p}\" del /f /q \"{p}\""),
                format!("if exist \"{p}\" (echo present) else (echo absent)"),
            )
        }
    };
    plan.actions.push(write_file_step(
        s,
        "write the unfence epoch",
        &s.epoch_file,
        format!("{epoch}\n"),
    ));
    plan.actions.push(step("remove the fence marker", remove));
    plan.verify
        .push(probe("fence marker gone", absent, Judge::NoMarker));
    plan.verify.push(probe(
        "epoch file reads back",
        read_file(s, &s.epoch_file),
        Judge::EpochFile(epoch),
    ));
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Overrides;
    use std::path::Path;

    fn settings(text: &str) -> Settings {
        let c = maestro_common::config::LoadedConfig::from_text(text, Path::new("t.toml")).unwrap();
        Settings::resolve(&c, &Overrides::default()).unwrap()
    }

    fn marker() -> Marker {
        Marker {
            epoch: 4,
            failover: "f".into(),
            fenced_at: "now".into(),
        }
    }

    #[test]
    fn systemd_plan_stops_masks_and_verifies_everything() {
        let s = settings("[primary]\nhost = \"p\"\n[services]\nnames = [\"maestro-lui\", \"maestro-hub\"]\n[sync]\ntimer = \"sync.timer\"\ncron_file = \"/etc/cron.d/maestro sync\"\n");
        let p = fence_plan(&s, &marker());
        let cmds: Vec<&str> = p.actions.iter().map(|a| a.command.as_str()).collect();
        assert!(cmds.contains(&"systemctl stop maestro-lui"));
        assert!(cmds.contains(&"systemctl disable maestro-hub; systemctl mask maestro-hub"));
        assert!(cmds.iter().any(|c| c.contains("systemctl mask sync.timer")));
        assert!(cmds
            .iter()
            .any(|c| c.contains("mktemp") && c.contains("'/etc/cron.d/maestro sync'")));
        assert!(cmds.iter().any(|c| c.starts_with("pkill -TERM -x rsync")));
        // Two services exist; neither the cron file nor the marker is a link.
        assert_eq!(p.prechecks.len(), 4);
        assert!(p.prechecks[2]
            .command
            .starts_with("test ! -L '/etc/cron.d/maestro sync'"));
        // two services, timer, cron, process, marker
        assert_eq!(p.verify.len(), 6);
        assert_eq!(p.verify.last().unwrap().judge, Judge::Marker(Some(4)));
        let marker_step = p.actions.last().unwrap();
        assert!(marker_step.input.as_deref().unwrap().contains("epoch=4"));
    }

    #[cfg(unix)]
    #[test]
    fn a_rewrite_keeps_mode_and_owner_and_leaves_no_temporary_file() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("cron file");
        std::fs::write(&f, "a\n# b\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        let run = |cmd: &str| {
            std::process::Command::new("sh")
                .arg("-c")
                .arg(cmd)
                .output()
                .unwrap()
        };
        let out = run(&rewrite_sh(
            f.to_str().unwrap(),
            "sed -e 's/^a/x/' \"$f\"",
            "0644",
        ));
        assert!(out.status.success(), "{out:?}");
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "x\n# b\n");
        let meta = std::fs::metadata(&f).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // A producer that fails leaves the old file and no temporary one.
        let out = run(&rewrite_sh(f.to_str().unwrap(), "false", "0644"));
        assert!(!out.status.success());
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "x\n# b\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // A new file gets the mode asked for.
        let g = dir.path().join("new");
        assert!(run(&rewrite_sh(g.to_str().unwrap(), "echo hi", "0644"))
            .status
            .success());
        assert_eq!(std::fs::metadata(&g).unwrap().mode() & 0o7777, 0o644);
        // A symbolic link is refused: neither replaced by a copy nor
        // written through.
        let real = dir.path().join("real");
        std::fs::write(&real, "active\n").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let out = run(&rewrite_sh(link.to_str().unwrap(), "echo changed", "0644"));
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("is a symbolic link"));
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "active\n");
    }

    #[test]
    fn windows_plan_uses_sc_and_schtasks() {
        let s = settings("[primary]\nhost = \"p\"\n[services]\nmanager = \"windows\"\nnames = [\"MaestroLUI\"]\n[sync]\nscheduled_task = \"Maestro Sync\"\n");
        let p = fence_plan(&s, &marker());
        let cmds: Vec<&str> = p.actions.iter().map(|a| a.command.as_str()).collect();
        assert!(cmds.contains(&"sc.exe stop \"MaestroLUI\" & powershell -NoProfile -NonInteractive -Command \"(Get-Service -Name 'MaestroLUI').WaitForStatus('Stopped', [TimeSpan]::FromMilliseconds(13000))\""), "{cmds:?}");
        assert!(cmds.contains(&"sc.exe config \"MaestroLUI\" start= disabled"));
        // Never a bare `sc` (PowerShell's Set-Content): every command
        // sent to a Windows primary names sc.exe.
        let u = unfence_plan(&s, 5, false);
        let all = p
            .actions
            .iter()
            .chain(&u.actions)
            .map(|x| x.command.as_str());
        let probes = p.verify.iter().chain(&u.verify).map(|x| x.command.as_str());
        let all: Vec<&str> = all.chain(probes).collect();
        assert!(all.iter().any(|c| c.starts_with("sc.exe qc")), "{all:?}");
        for c in all {
            assert!(!c.starts_with("sc ") && !c.contains("& sc "), "{c}");
        }
        assert!(cmds.contains(&"schtasks /Change /TN \"Maestro Sync\" /DISABLE"));
        assert!(cmds.contains(&"taskkill /F /IM \"rsync.exe\""));
    }

    #[test]
    fn commands_fill_the_name_and_unfence_reverses() {
        let s = settings("[primary]\nhost = \"p\"\n[services]\nmanager = \"commands\"\nnames = [\"lui\"]\nstop_command = \"svc stop {name}\"\ndisable_command = \"svc off {name}\"\nenable_command = \"svc on {name}\"\nactive_command = \"svc st {name}\"\nenabled_command = \"svc en {name}\"\n[sync]\nprocess_name = \"\"\n");
        let p = fence_plan(&s, &marker());
        // Disabled first: nothing can start it between the two.
        assert_eq!(p.actions[0].command, "svc off lui");
        assert_eq!(p.actions[1].command, "svc stop lui");
        assert_eq!(p.verify[0].command, "svc st lui");
        assert_eq!(p.verify.len(), 3, "stopped, disabled, marker; no process");
        let u = unfence_plan(&s, 5, false);
        assert_eq!(u.actions[0].command, "svc on lui");
        assert!(u.verify.iter().any(|v| v.judge == Judge::EpochFile(5)));
        assert!(u.verify.iter().any(|v| v.judge == Judge::NoMarker));
    }
}
