//! Table definitions (`.frm`, MySQL 3.23 to 5.7 and MariaDB): which storage
//! engine each table of a data folder uses, so that a folder whose tables
//! are all MyISAM is known to keep no table data in InnoDB.
//!
//! A binary `.frm` starts with `FE 01`, the format version, then the
//! engine as the servers' `legacy_db_type` number at offset 3 (9 MyISAM,
//! 12 InnoDB, ...). A view's `.frm` is text starting with `TYPE=VIEW`.
//! Engines loaded as plugins (numbers from 42 on, which MariaDB also gives
//! Aria) and partitioned tables (20, the partitions' engine is elsewhere)
//! are not known from the number alone and count as "might be InnoDB".

use maestro_common::fsio;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What one `.frm` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Definition {
    /// A table of an engine that keeps nothing in InnoDB.
    OtherEngine(&'static str),
    InnoDb,
    View,
    /// Not known to keep nothing in InnoDB: why.
    Unknown(String),
}

/// The `legacy_db_type` numbers of engines that keep no data in InnoDB,
/// the same in MySQL 4.1 to 5.7 and MariaDB.
fn non_innodb_engine(code: u8) -> Option<&'static str> {
    Some(match code {
        6 => "MEMORY",
        7 => "ISAM",
        8 => "MRG_ISAM",
        9 => "MyISAM",
        10 => "MERGE",
        11 => "BerkeleyDB",
        16 => "ARCHIVE",
        17 => "CSV",
        19 => "BLACKHOLE",
        _ => return None,
    })
}

const INNODB: u8 = 12;

/// Reads the head of a `.frm`; a FIFO or a device in its place is an
/// error at once, never waited on.
pub fn read(path: &Path) -> Result<Definition, String> {
    let mut head = [0u8; 9];
    let mut f = fsio::open_regular(path).map_err(|e| e.to_string())?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
    }
    if head[..n].starts_with(b"TYPE=VIEW") {
        return Ok(Definition::View);
    }
    if n < 4 || head[..2] != [0xFE, 0x01] {
        return Ok(Definition::Unknown("not a table definition".into()));
    }
    Ok(match head[3] {
        INNODB => Definition::InnoDb,
        code => match non_innodb_engine(code) {
            Some(name) => Definition::OtherEngine(name),
            None => Definition::Unknown(format!("engine number {code}")),
        },
    })
}

/// The tables of a data folder (`DATADIR/DB/TABLE.frm`) by what they say.
#[derive(Debug, Default)]
pub struct Tables {
    /// Tables of engines that keep nothing in InnoDB, by engine.
    pub other_engines: BTreeMap<&'static str, u64>,
    pub views: u64,
    pub innodb: Vec<PathBuf>,
    pub unknown: Vec<(PathBuf, String)>,
}

impl Tables {
    /// No table keeps its data in InnoDB, as far as the definitions tell.
    /// A folder without a single definition tells nothing (MySQL 8.0 keeps
    /// none, and a copy may have lost them): that is not "none".
    pub fn none_in_innodb(&self) -> bool {
        self.innodb.is_empty() && self.unknown.is_empty() && self.other_engine() + self.views > 0
    }

    /// How many tables use other engines.
    pub fn other_engine(&self) -> u64 {
        self.other_engines.values().sum()
    }

    /// `MyISAM 3, MEMORY 1`.
    pub fn engines_text(&self) -> String {
        self.other_engines
            .iter()
            .map(|(e, n)| format!("{e} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The definitions of a data folder, its database folders reached through
/// links included (the server reads those too).
pub fn tables(datadir: &Path) -> Tables {
    let mut out = Tables::default();
    let listing = crate::datadir::list(datadir);
    for (at, why) in listing.errors {
        out.unknown.push((at, why));
    }
    for f in listing.files {
        if f.top || !f.name.ends_with(".frm") || f.is_folder() {
            continue;
        }
        match read(&f.path) {
            Ok(Definition::OtherEngine(engine)) => {
                *out.other_engines.entry(engine).or_insert(0) += 1
            }
            Ok(Definition::View) => out.views += 1,
            Ok(Definition::InnoDb) => out.innodb.push(f.path),
            Ok(Definition::Unknown(why)) => out.unknown.push((f.path, why)),
            Err(e) => out.unknown.push((f.path, e)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_views_and_strangers() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("maestro");
        std::fs::create_dir(&db).unwrap();
        let frm = |code: u8| {
            let mut h = vec![0xFE, 0x01, 0x0A, code, 0x03, 0x00];
            h.resize(64, 0);
            h
        };
        assert!(
            !tables(dir.path()).none_in_innodb(),
            "no definition at all tells nothing"
        );
        std::fs::write(db.join("a.frm"), frm(9)).unwrap();
        std::fs::write(db.join("v.frm"), b"TYPE=VIEW\nquery=select 1\n").unwrap();
        assert_eq!(
            read(&db.join("a.frm")).unwrap(),
            Definition::OtherEngine("MyISAM")
        );
        let t = tables(dir.path());
        assert_eq!((t.other_engine(), t.views), (1, 1));
        assert_eq!(t.engines_text(), "MyISAM 1");
        assert!(t.none_in_innodb());

        std::fs::write(db.join("b.frm"), frm(12)).unwrap();
        assert!(!tables(dir.path()).none_in_innodb());
        std::fs::remove_file(db.join("b.frm")).unwrap();
        std::fs::write(db.join("p.frm"), frm(20)).unwrap();
        let t = tables(dir.path());
        assert_eq!(t.unknown.len(), 1, "{t:?}");
        std::fs::write(db.join("p.frm"), b"garbage").unwrap();
        assert!(!tables(dir.path()).none_in_innodb());
        // A FIFO in place of a definition is not read, and tells nothing.
        std::fs::remove_file(db.join("p.frm")).unwrap();
        let fifo = std::ffi::CString::new(db.join("q.frm").to_str().unwrap()).unwrap();
        // SAFETY: a valid C string.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let t = tables(dir.path());
        assert!(t.unknown[0].1.contains("FIFO"), "{t:?}");
    }
}
