//! Is the old primary fenced? maestro-fence's journal in the shared state
//! catalog says so: a confirmed fence of `[primary] host` newer than its
//! last unfence (even a failed unfence voids it, as for `maestro-fence
//! check`). The ip method takes an address that still answers elsewhere
//! only then.

use maestro_fence::journal::Journal;
use std::path::Path;

/// The fence that holds now, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fenced {
    pub epoch: u64,
    pub level: Option<String>,
    pub at: String,
}

pub fn current_fence(state_dir: &Path, primary_host: &str) -> Result<Option<Fenced>, String> {
    if !state_dir.join(maestro_common::catalog::FILE_NAME).exists() {
        return Ok(None);
    }
    let journal = Journal::open(state_dir).map_err(|e| e.to_string())?;
    let fence = journal
        .last_confirmed_fence(primary_host)
        .map_err(|e| e.to_string())?;
    let unfence = journal
        .last_unfence(primary_host)
        .map_err(|e| e.to_string())?;
    Ok(match (fence, unfence) {
        (Some(f), Some(u)) if u.epoch > f.epoch => None,
        (Some(f), _) => Some(Fenced {
            epoch: f.epoch,
            level: f.confirmed_level,
            at: f.finished_at.unwrap_or(f.started_at),
        }),
        (None, _) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use maestro_fence::journal::{FENCED, UNFENCED};

    #[test]
    fn a_confirmed_fence_holds_until_an_unfence() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(current_fence(dir.path(), "p").unwrap(), None);
        let mut j = Journal::open(dir.path()).unwrap();
        let e = j.begin("fence", "p", "f").unwrap();
        assert_eq!(
            current_fence(dir.path(), "p").unwrap(),
            None,
            "running is not fenced"
        );
        j.finish(
            e,
            FENCED,
            Some("isolate"),
            &serde_json::json!([]),
            &serde_json::json!([]),
        )
        .unwrap();
        let f = current_fence(dir.path(), "p").unwrap().unwrap();
        assert_eq!((f.epoch, f.level.as_deref()), (e, Some("isolate")));
        assert_eq!(current_fence(dir.path(), "other").unwrap(), None);
        let u = j.begin("unfence", "p", "f").unwrap();
        j.finish(
            u,
            UNFENCED,
            None,
            &serde_json::json!([]),
            &serde_json::json!([]),
        )
        .unwrap();
        assert_eq!(current_fence(dir.path(), "p").unwrap(), None);
    }
}
