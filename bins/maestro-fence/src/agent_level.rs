//! The `agent` level: an existing fence agent of the fence-agents project
//! (fence_ipmilan, fence_virsh, fence_aws ...) called as its API defines:
//! options on stdin as `key=value` lines, never in argv (secrets included).
//! `action=off`, then `action=status` must answer "off" (exit 2).

use crate::config::FenceLevel;
use crate::deadline::Deadline;
use crate::level::{change_state, ChangeLog, LevelOutcome, Verdict};
use crate::process::{self, LocalOutput};
use crate::remote::brief;
use crate::settings::Settings;
use std::time::Instant;

/// The FenceAgentAPI's answer to `status` when the target is off.
pub const STATUS_OFF: i32 = 2;

/// The agent's stdin as it is written and as it is shown (secrets masked).
pub struct AgentInput {
    pub real: String,
    pub shown: String,
    /// The secret values, to mask wherever the agent echoes them (fence
    /// agents log "Ignoring unknown option 'password=...'" on stderr).
    pub secrets: Vec<String>,
}

impl AgentInput {
    pub fn redact(&self, text: &str) -> String {
        let mut t = text.to_string();
        for s in &self.secrets {
            t = t.replace(s.as_str(), "***");
        }
        t
    }
}

/// The agent's stdin: the real text, and the text as shown (secrets masked).
pub fn stdin_lines(
    s: &Settings,
    action: &str,
    warn: &mut dyn FnMut(String),
) -> Result<AgentInput, String> {
    let mut real = String::new();
    let mut shown = String::new();
    let mut secrets = Vec::new();
    let check = |k: &str, v: &str| -> Result<(), String> {
        if k.is_empty()
            || k.contains(['=', '\n', '\r'])
            || k.starts_with('#')
            || v.contains(['\n', '\r'])
        {
            Err(format!(
                "fence.agent_options: {k:?} cannot be written as one key=value line"
            ))
        } else {
            Ok(())
        }
    };
    for (k, v) in &s.fence.agent_options {
        check(k, v)?;
        if k == "action" {
            return Err(
                "fence.agent_options: `action` is set by maestro-fence, not in the config".into(),
            );
        }
        real.push_str(&format!("{k}={v}\n"));
        shown.push_str(&format!("{k}={v}\n"));
    }
    for (k, r) in &s.fence.agent_secrets {
        let secret = r
            .load(warn)
            .map_err(|e| format!("fence.agent_secrets.{k}: {e}"))?;
        check(k, secret.expose())
            .map_err(|_| format!("fence.agent_secrets.{k}: the secret holds a line break"))?;
        real.push_str(&format!("{k}={}\n", secret.expose()));
        shown.push_str(&format!("{k}=***\n"));
        secrets.push(secret.expose().to_string());
    }
    real.push_str(&format!("action={action}\n"));
    shown.push_str(&format!("action={action}\n"));
    Ok(AgentInput {
        real,
        shown,
        secrets,
    })
}

fn agent_name(s: &Settings) -> Result<String, String> {
    s.fence
        .agent
        .clone()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            "no fence agent configured (set [fence] agent, like agent = \"fence_ipmilan\")"
                .to_string()
        })
}

/// What a dry run would do: the agent and its stdin, secrets masked.
pub fn describe(s: &Settings, action: &str) -> Result<String, String> {
    let agent = agent_name(s)?;
    let mut shown = String::new();
    for (k, v) in &s.fence.agent_options {
        shown.push_str(&format!("{k}={v} "));
    }
    for k in s.fence.agent_secrets.keys() {
        shown.push_str(&format!("{k}=*** "));
    }
    Ok(format!("{agent} with stdin: {shown}action={action}"))
}

/// Calls the agent once; records the call.
fn call(
    s: &Settings,
    action: &str,
    deadline: &Deadline,
    out: &mut LevelOutcome,
    warn: &mut dyn FnMut(String),
) -> Result<LocalOutput, String> {
    let agent = agent_name(s)?;
    let input = stdin_lines(s, action, warn)?;
    let action_text = format!("{agent} <<< {}", input.shown.trim_end().replace('\n', " "));
    let Some(timeout) = deadline.cap(s.agent_timeout()) else {
        return Err(format!(
            "the run's deadline passed before {agent} action={action}"
        ));
    };
    let Some(program) = process::find_program(&agent) else {
        out.record(
            format!("action={action}"),
            "local",
            &action_text,
            "error",
            "not found",
            std::time::Duration::ZERO,
        );
        return Err(format!(
            "fence agent {agent} not found (install fence-agents, or give its path)"
        ));
    };
    let started = Instant::now();
    match process::run(
        &program.to_string_lossy(),
        &[],
        input.real.as_bytes(),
        timeout,
    ) {
        Ok(mut o) => {
            o.stdout = input.redact(&o.stdout);
            o.stderr = input.redact(&o.stderr);
            let code = o
                .code
                .map_or("killed by a signal".to_string(), |c| format!("exit {c}"));
            let seen = format!("{code}: {}", brief(&format!("{} {}", o.stdout, o.stderr)));
            // `status` answers with its exit code: 2 (off) is not a failure.
            let answered = o.success() || (action == "status" && o.code == Some(STATUS_OFF));
            out.record(
                format!("action={action}"),
                "local",
                &action_text,
                if answered { "ran" } else { "failed" },
                seen,
                started.elapsed(),
            );
            Ok(o)
        }
        Err(e) => {
            let outcome = if matches!(e, process::RunError::Timeout { .. }) {
                "timeout"
            } else {
                "error"
            };
            out.record(
                format!("action={action}"),
                "local",
                &action_text,
                outcome,
                e.to_string(),
                started.elapsed(),
            );
            Err(e.to_string())
        }
    }
}

/// Reads a `status` answer: 2 off (fenced), 0 on, anything else unknown.
fn judge_status(o: &LocalOutput) -> Verdict {
    match o.code {
        Some(STATUS_OFF) => Verdict::Confirmed("the fence agent reports the primary off".into()),
        Some(0) => Verdict::NotConfirmed("the fence agent reports the primary ON".into()),
        other => Verdict::CannotTell(format!(
            "the fence agent's status failed ({}): {}",
            other.map_or("signal".to_string(), |c| format!("exit {c}")),
            brief(&format!("{} {}", o.stdout, o.stderr))
        )),
    }
}

/// The `agent` level of `fence`: the power-off is journaled (through
/// `log`) before the agent is called.
pub fn fence(
    s: &Settings,
    deadline: &Deadline,
    warn: &mut dyn FnMut(String),
    log: &mut dyn ChangeLog,
) -> LevelOutcome {
    let mut out = LevelOutcome::new(FenceLevel::Agent);
    let index = match out.start_change(
        log,
        "action=off",
        "local",
        "not undone: unfence does not power the primary on",
        None,
    ) {
        Ok(i) => i,
        Err(e) => {
            out.verdict = Verdict::NotConfirmed(e);
            return out;
        }
    };
    let steps_before = out.steps.len();
    let off = call(s, "off", deadline, &mut out, warn);
    let state = match &off {
        Ok(o) if o.success() => Some("done"),
        Ok(_) => Some("failed"),
        // Not found, or no time left: never started.
        Err(_)
            if out.steps.len() == steps_before
                || out.steps.last().is_some_and(|st| st.outcome == "error") =>
        {
            None
        }
        Err(_) => Some(change_state("timeout")),
    };
    out.settle(log, index, state);
    match off {
        Ok(o) if o.success() => {}
        Ok(o) => {
            out.verdict = Verdict::NotConfirmed(format!(
                "the fence agent's off failed ({})",
                o.code.map_or("signal".to_string(), |c| format!("exit {c}"))
            ));
            return out;
        }
        Err(e) => {
            out.verdict = Verdict::NotConfirmed(e);
            return out;
        }
    }
    out.verdict = match call(s, "status", deadline, &mut out, warn) {
        Ok(o) => match judge_status(&o) {
            Verdict::CannotTell(why) => Verdict::NotConfirmed(why),
            v => v,
        },
        Err(e) => Verdict::NotConfirmed(e),
    };
    out
}

pub fn status(s: &Settings, deadline: &Deadline, warn: &mut dyn FnMut(String)) -> LevelOutcome {
    let mut out = LevelOutcome::new(FenceLevel::Agent);
    out.verdict = match call(s, "status", deadline, &mut out, warn) {
        Ok(o) => judge_status(&o),
        Err(e) => {
            out.unreachable = true;
            Verdict::CannotTell(e)
        }
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Overrides;
    use std::path::Path;

    #[test]
    fn secrets_go_to_stdin_only_and_are_masked() {
        std::env::set_var("MAESTRO_FENCE_TEST_PW", "hunter2");
        let c = maestro_common::config::LoadedConfig::from_text(
            "[primary]\nhost = \"p\"\n[fence]\nagent = \"fence_dummy\"\nagent_options = { ip = \"10.0.0.9\" }\nagent_secrets = { password = { env = \"MAESTRO_FENCE_TEST_PW\" } }\n",
            Path::new("t"),
        )
        .unwrap();
        let s = Settings::resolve(&c, &Overrides::default()).unwrap();
        let input = stdin_lines(&s, "off", &mut |_| {}).unwrap();
        assert_eq!(input.real, "ip=10.0.0.9\npassword=hunter2\naction=off\n");
        assert_eq!(input.shown, "ip=10.0.0.9\npassword=***\naction=off\n");
        assert_eq!(
            input.redact("Ignoring unknown option 'password=hunter2'"),
            "Ignoring unknown option 'password=***'"
        );
        assert!(!describe(&s, "off").unwrap().contains("hunter2"));
    }
}
