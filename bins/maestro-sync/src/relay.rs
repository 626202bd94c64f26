//! `relay`: rsync's remote shell (`-e`) when rsync's stream goes through
//! the run's own session (see [`crate::carried`]). rsync runs it as it
//! would run ssh, `[-l USER] HOST COMMAND...`; descriptors 3 and 4 are
//! pipes from and to the run (`push` or `pull`), which carries the stream
//! over its session. The relay sends the [`Handover`] line (rsync's command
//! line), then passes rsync's stream both ways until the other side ends it.

use crate::protocol::Handover;
use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::mem::ManuallyDrop;
use std::os::fd::{FromRawFd, RawFd};
use std::process::ExitCode;

/// ssh's own code for its failures, which rsync reports as such.
const FAILED: u8 = 255;

/// What comes from the other side (the relay reads it).
pub const FROM_REMOTE_FD: RawFd = 3;
/// What goes to the other side (the relay writes it).
pub const TO_REMOTE_FD: RawFd = 4;

/// The command line rsync gives its remote shell after the host: the
/// options before the host (`-l USER`, `-4`, `-6`) are ssh's, and the
/// session is already open. Every word must be UTF-8 (the line is JSON);
/// rsync's own words are, and so are the paths maestro-sync makes.
pub fn command_of(args: &[OsString]) -> Result<String, String> {
    let mut words = Vec::new();
    let mut host_seen = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let w = a
            .to_str()
            .ok_or_else(|| format!("an argument that is not UTF-8: {a:?}"))?;
        if host_seen {
            words.push(w);
        } else if w == "-l" {
            it.next();
        } else if !w.starts_with('-') {
            host_seen = true;
        }
    }
    if words.is_empty() {
        return Err("no command after the host".into());
    }
    Ok(words.join(" "))
}

fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the descriptor's flags.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// `maestro-sync relay ARGS...`.
pub fn run(args: &[OsString]) -> ExitCode {
    let fail = |why: String| {
        eprintln!("maestro-sync: error: relay: {why}");
        ExitCode::from(FAILED)
    };
    let command = match command_of(args) {
        Ok(c) => c,
        Err(why) => return fail(why),
    };
    if !(is_open(FROM_REMOTE_FD) && is_open(TO_REMOTE_FD)) {
        return fail(format!(
            "descriptors {FROM_REMOTE_FD} and {TO_REMOTE_FD} are not open: the relay is started by push and pull, through rsync"
        ));
    }
    // SAFETY: both are open (checked above), handed to this process for
    // the relay alone; each is owned by one File from here on.
    let (mut from_remote, mut to_remote) = unsafe {
        (
            File::from_raw_fd(FROM_REMOTE_FD),
            File::from_raw_fd(TO_REMOTE_FD),
        )
    };
    let line = match serde_json::to_string(&Handover { command }) {
        Ok(l) => l,
        Err(e) => return fail(e.to_string()),
    };
    if let Err(e) = writeln!(to_remote, "{line}") {
        return fail(format!("the run closed before rsync's command: {e}"));
    }
    // rsync's stream, unbuffered both ways (std's stdout holds bytes back
    // until a newline): rsync's descriptors 0 and 1 as files.
    std::thread::spawn(move || {
        // SAFETY: descriptor 0 stays open for the life of the process;
        // ManuallyDrop leaves it open.
        let mut from_rsync = ManuallyDrop::new(unsafe { File::from_raw_fd(0) });
        let _ = pump(&mut from_rsync, &mut to_remote);
        // `to_remote` dropped: the other side reads the end of its input.
    });
    // SAFETY: as above, descriptor 1.
    let mut to_rsync = ManuallyDrop::new(unsafe { File::from_raw_fd(1) });
    match pump(&mut from_remote, &mut to_rsync) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(format!("rsync's stream: {e}")),
    }
}

/// Copies `from` to `to` until the end of `from`, each read passed on at
/// once (rsync's protocol waits for short messages). Not `std::io::copy`: on Linux it splices with a length of 2 GiB,
/// and a splice between a socket and a pipe may hold a short message
/// back; rsync's protocol waits for it (a stall until rsync's keepalive).
pub(crate) fn pump(from: &mut File, to: &mut File) -> std::io::Result<()> {
    each_read(from, 64 * 1024, |b| to.write_all(b))
}

/// Reads `from` to its end, at most `size` bytes a read, and hands each
/// read to `pass` at once; the first error of either ends it.
pub(crate) fn each_read(
    from: &mut impl std::io::Read,
    size: usize,
    mut pass: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; size];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        pass(&buf[..n])?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_pump_passes_each_piece_on_at_once() {
        use std::os::unix::net::UnixStream;
        // As in a run: rsync's socket in, the session's pipe out.
        let (mut rsync, relay_in) = UnixStream::pair().unwrap();
        let mut ends = [0 as RawFd; 2];
        // SAFETY: pipe writes two descriptors into the array we own.
        assert_eq!(unsafe { libc::pipe(ends.as_mut_ptr()) }, 0);
        // SAFETY: both were just made by pipe and are owned here only.
        let (mut remote, mut to) =
            unsafe { (File::from_raw_fd(ends[0]), File::from_raw_fd(ends[1])) };
        let mut from = File::from(std::os::fd::OwnedFd::from(relay_in));
        let t = std::thread::spawn(move || pump(&mut from, &mut to));
        let remote_fd = std::os::fd::AsRawFd::as_raw_fd(&remote);
        let readable = move || {
            let mut p = libc::pollfd {
                fd: remote_fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: poll on the one pollfd we own.
            unsafe { libc::poll(&mut p, 1, 3000) == 1 }
        };
        // A short message must arrive while the writer waits for the
        // answer (rsync's protocol), not later.
        for msg in [
            &b"\x04\x00\x00\x07"[..],
            b"x",
            b"a longer piece of the stream",
        ] {
            rsync.write_all(msg).unwrap();
            let mut got = vec![0u8; msg.len()];
            let mut have = 0;
            while have < msg.len() {
                assert!(readable(), "{have} of {} bytes passed on", msg.len());
                have += std::io::Read::read(&mut remote, &mut got[have..]).unwrap();
            }
            assert_eq!(got, msg);
        }
        drop(rsync);
        t.join().unwrap().unwrap();
    }

    #[test]
    fn the_command_is_what_follows_the_host() {
        assert_eq!(
            command_of(&os(&[
                "maestro2",
                "rsync",
                "--server",
                "-e.LsfxCIvu",
                ".",
                "/g/a\\ b/"
            ]))
            .unwrap(),
            "rsync --server -e.LsfxCIvu . /g/a\\ b/"
        );
        assert_eq!(
            command_of(&os(&["-l", "sync", "-6", "fd00::2", "rsync", "--server"])).unwrap(),
            "rsync --server"
        );
        assert!(command_of(&os(&["maestro2"])).is_err());
        assert!(command_of(&os(&[])).is_err());
        use std::os::unix::ffi::OsStringExt;
        let odd = vec![
            OsString::from("h"),
            OsString::from("rsync"),
            OsString::from_vec(vec![0xff]),
        ];
        assert!(command_of(&odd).unwrap_err().contains("UTF-8"));
    }
}
