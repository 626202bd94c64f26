//! The level a record was logged at (log4j's `WARN`, java.util.logging's
//! `WARNING:` line, Tomcat's `SEVERE`), as far as the record says: some
//! rules weigh a retry logged at WARN less than the same failure logged at
//! ERROR, and a startup or readiness line counts only at INFO.
//!
//! java.util.logging (and Tomcat, which logs through it) writes its level
//! names in the JVM's language: `SCHWERWIEGEND`, `WARNUNG`, `INFORMATION`
//! in German, `GRAVE`, `AVERTISSEMENT`, `INFOS` in French, and so on. The
//! names of the languages whose names are ASCII words are known here.

/// Log levels, least serious first; the names of log4j, java.util.logging,
/// Tomcat and syslog map onto them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// How far into a line (after its timestamp) the level word is looked for:
/// log4j puts it first, Tomcat after the time, some layouts after a thread
/// name in brackets.
const LOOK_BYTES: usize = 48;

fn word_level(word: &str) -> Option<Level> {
    Some(match word {
        "FINEST" | "FINER" | "TRACE" => Level::Trace,
        "FINE" | "DEBUG" | "CONFIG" => Level::Debug,
        "INFO" | "NOTICE" => Level::Info,
        "WARN" | "WARNING" => Level::Warn,
        "ERROR" | "SEVERE" | "FATAL" | "CRITICAL" | "ERR" => Level::Error,
        // java.util.logging in German, French, Italian, Spanish,
        // Portuguese and Swedish (the JDK's own level names).
        "FEIN" | "FEINER" | "KONFIGURATION" => Level::Debug,
        "INFORMATION" | "INFOS" | "INFORMAZIONI" => Level::Info,
        "WARNUNG" | "AVERTISSEMENT" | "AVVERTENZA" | "ADVERTENCIA" | "VARNING" => Level::Warn,
        "SCHWERWIEGEND" | "GRAVE" | "ALLVARLIG" => Level::Error,
        _ => return None,
    })
}

/// The level of a record: the first level word in the first bytes of its
/// first line after the timestamp (`rest`), else the word before the colon
/// of java.util.logging's message line (`message`). None when neither
/// says: then a rule's full severity holds.
pub fn of_record(rest: &str, message: Option<&str>) -> Option<Level> {
    let mut end = rest.len().min(LOOK_BYTES);
    while !rest.is_char_boundary(end) {
        end -= 1;
    }
    let head = &rest[..end];
    let found = head
        .split(|c: char| !c.is_ascii_alphabetic())
        .find_map(word_level);
    found.or_else(|| {
        message
            .and_then(|m| m.split_once(':'))
            .and_then(|(w, _)| word_level(w.trim()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_of_the_usual_layouts() {
        assert_eq!(
            of_record(" WARN  [main] x.Y - retrying", None),
            Some(Level::Warn)
        );
        assert_eq!(
            of_record(" ERROR [main] x.Y - failed", None),
            Some(Level::Error)
        );
        assert_eq!(
            of_record(
                " SEVERE [main] org.apache.catalina.core.StandardContext.startInternal x",
                None
            ),
            Some(Level::Error)
        );
        assert_eq!(
            of_record(" com.example.Db retry", Some("WARNING: not reachable yet")),
            Some(Level::Warn)
        );
        assert_eq!(
            of_record(" com.example.Db retry", Some("SEVERE: gave up")),
            Some(Level::Error)
        );
        // A level word far into the message is the message's, not the level.
        assert_eq!(
            of_record(
                " [main] com.example.lui.db.DatabaseStartup - this is only a WARN",
                None
            ),
            None
        );
        assert_eq!(
            of_record(" x", Some("SCHWERWIEGEND: y")),
            Some(Level::Error)
        );
        assert_eq!(of_record(" x", Some("WARNUNG: y")), Some(Level::Warn));
        assert_eq!(
            of_record(
                " INFORMATION [main] x.Y.z Server startup in [1] milliseconds",
                None
            ),
            Some(Level::Info)
        );
        assert_eq!(of_record(" x", Some("KRITISCH: y")), None);
        assert!(Level::Info < Level::Warn && Level::Warn < Level::Error);
    }
}
