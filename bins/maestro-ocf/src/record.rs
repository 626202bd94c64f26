//! The agent's record of a gated start on a node that took over.
//!
//! Once Maestro has run from the replica, the data is Maestro's own: it no
//! longer matches the primary's manifest (nor maestro-sync's generation
//! manifest), and a restart on the same node (a failed monitor, a
//! `pcs resource restart`) would fail the replica check for the writes
//! Maestro made itself. The record says at which fence epoch the gated
//! start passed. A later start on this node at the same epoch skips only
//! the replica check (the fence check, the start-up logs and everything
//! else still run): with the old primary fenced and no fence or unfence
//! since, nothing but this node's Maestro has written the data. A new
//! epoch (a failback and a new takeover) needs the full check again.

use maestro_common::fsio;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub epoch: u64,
    pub started_at: String,
    pub node: String,
}

/// `STATE/ocf-maestro-<resource>.started`: one record per resource.
pub fn path(state_dir: &Path, instance: &str) -> PathBuf {
    let safe: String = instance
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    state_dir.join(format!("ocf-maestro-{safe}.started"))
}

pub fn read(path: &Path) -> Result<Option<Record>, String> {
    let text = match fsio::read_regular_to_string(path, 4096) {
        Ok(t) => t,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(str::trim)
    };
    let epoch = field("epoch")
        .and_then(|e| e.parse::<u64>().ok())
        .ok_or_else(|| format!("{}: no epoch= line", path.display()))?;
    Ok(Some(Record {
        epoch,
        started_at: field("started_at").unwrap_or("").to_string(),
        node: field("node").unwrap_or("").to_string(),
    }))
}

pub fn write(path: &Path, record: &Record) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let text = format!(
        "# ocf:maestro-ha:maestro: Maestro started here through the gates; remove this file to make the next start check the replica again\nepoch={}\nstarted_at={}\nnode={}\n",
        record.epoch, record.started_at, record.node
    );
    fsio::write_atomic(path, text.as_bytes(), 0o600).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = path(&dir.path().join("state"), "maestro:0");
        assert!(p.ends_with("ocf-maestro-maestro_0.started"));
        assert_eq!(read(&p).unwrap(), None);
        let r = Record {
            epoch: 7,
            started_at: "2026-11-28 04:00:00".into(),
            node: "node2".into(),
        };
        write(&p, &r).unwrap();
        assert_eq!(read(&p).unwrap(), Some(r));
        std::fs::write(&p, "garbage\n").unwrap();
        assert!(read(&p).unwrap_err().contains("epoch"));
    }
}
