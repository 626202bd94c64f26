//! The fence marker written on the primary: which epoch fenced it, from
//! which failover server, when. `guard` refuses to start Maestro while it
//! is there.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub epoch: u64,
    pub failover: String,
    pub fenced_at: String,
}

const MAGIC: &str = "maestro-fence-marker=1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MarkerError {
    #[error("not a maestro-fence marker (first line is not `{MAGIC}`)")]
    NotAMarker,
    #[error("the marker has no valid `{0}=` line")]
    Missing(&'static str),
}

impl Marker {
    pub fn render(&self) -> String {
        format!(
            "{MAGIC}\nepoch={}\nfailover={}\nfenced_at={}\n",
            self.epoch, self.failover, self.fenced_at
        )
    }

    pub fn parse(text: &str) -> Result<Marker, MarkerError> {
        let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
        if lines.next().map(str::trim) != Some(MAGIC) {
            return Err(MarkerError::NotAMarker);
        }
        let mut epoch = None;
        let mut failover = None;
        let mut fenced_at = None;
        for line in lines {
            match line.split_once('=') {
                Some(("epoch", v)) => epoch = v.trim().parse::<u64>().ok(),
                Some(("failover", v)) => failover = Some(v.trim().to_string()),
                Some(("fenced_at", v)) => fenced_at = Some(v.trim().to_string()),
                _ => {}
            }
        }
        Ok(Marker {
            epoch: epoch.ok_or(MarkerError::Missing("epoch"))?,
            failover: failover.ok_or(MarkerError::Missing("failover"))?,
            fenced_at: fenced_at.ok_or(MarkerError::Missing("fenced_at"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_junk() {
        let m = Marker {
            epoch: 7,
            failover: "maestro2".into(),
            fenced_at: "2026-01-01T00:00:00Z".into(),
        };
        assert_eq!(Marker::parse(&m.render()), Ok(m.clone()));
        assert_eq!(Marker::parse(&m.render().replace('\n', "\r\n")), Ok(m));
        assert_eq!(Marker::parse("hello"), Err(MarkerError::NotAMarker));
        assert_eq!(
            Marker::parse("maestro-fence-marker=1\nepoch=x\nfailover=a\nfenced_at=b\n"),
            Err(MarkerError::Missing("epoch"))
        );
    }
}
