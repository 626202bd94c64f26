//! Where state (the catalog) lives: `--state-dir`, else
//! `$MAESTRO_HA_STATE_DIR`, else `/var/lib/maestro-ha` for root and
//! `$XDG_STATE_HOME/maestro-ha` (or `~/.local/state/maestro-ha`) otherwise.
//! On Windows: `%ProgramData%\maestro-ha` for an elevated administrator,
//! `%LOCALAPPDATA%\maestro-ha` otherwise.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub const ENV_STATE_DIR: &str = "MAESTRO_HA_STATE_DIR";
/// The system's state folder on Unix (see [`crate::platform::system_state_dir`]).
pub const SYSTEM_STATE_DIR: &str = "/var/lib/maestro-ha";

#[derive(Debug, thiserror::Error)]
#[error("cannot tell where to keep state: neither $XDG_STATE_HOME nor $HOME is set; give --state-dir or ${ENV_STATE_DIR}")]
pub struct NoStateDir;

/// Resolve the state folder for this process.
pub fn state_dir(flag: Option<&Path>) -> Result<PathBuf, NoStateDir> {
    let is_root = crate::platform::is_privileged();
    state_dir_from(flag, |k| std::env::var_os(k), is_root)
}

/// The rule itself, with the environment passed in so it can be tested.
pub fn state_dir_from(
    flag: Option<&Path>,
    env: impl Fn(&str) -> Option<OsString>,
    is_root: bool,
) -> Result<PathBuf, NoStateDir> {
    let non_empty = |k: &str| env(k).filter(|v| !v.is_empty());
    if let Some(p) = flag {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = non_empty(ENV_STATE_DIR) {
        return Ok(PathBuf::from(p));
    }
    if is_root {
        return Ok(crate::platform::system_state_dir());
    }
    if cfg!(windows) {
        if let Some(p) = non_empty("LOCALAPPDATA") {
            return Ok(PathBuf::from(p).join("maestro-ha"));
        }
    }
    if let Some(p) = non_empty("XDG_STATE_HOME") {
        return Ok(PathBuf::from(p).join("maestro-ha"));
    }
    if let Some(home) = non_empty("HOME") {
        return Ok(PathBuf::from(home).join(".local/state/maestro-ha"));
    }
    Err(NoStateDir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn flag_wins_then_env_then_root_then_xdg_then_home() {
        let all = env(&[
            (ENV_STATE_DIR, "/e"),
            ("XDG_STATE_HOME", "/x"),
            ("HOME", "/h"),
        ]);
        assert_eq!(
            state_dir_from(Some(Path::new("/f")), &all, true).unwrap(),
            Path::new("/f")
        );
        assert_eq!(state_dir_from(None, &all, false).unwrap(), Path::new("/e"));
        let no_env = env(&[("XDG_STATE_HOME", "/x"), ("HOME", "/h")]);
        assert_eq!(
            state_dir_from(None, &no_env, true).unwrap(),
            crate::platform::system_state_dir()
        );
        assert_eq!(
            state_dir_from(None, &no_env, false).unwrap(),
            Path::new("/x/maestro-ha")
        );
        let home = env(&[("HOME", "/h"), (ENV_STATE_DIR, "")]);
        assert_eq!(
            state_dir_from(None, &home, false).unwrap(),
            Path::new("/h/.local/state/maestro-ha")
        );
        assert!(state_dir_from(None, env(&[]), false).is_err());
    }
}
