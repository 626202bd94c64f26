//! SIGINT: a tool interrupted by Ctrl-C exits 130 (128 + SIGINT), as shells
//! expect, after its wait loops have had a moment to clean up (release a
//! lock, close a channel).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;
use std::time::Duration;

/// The exit code of a run ended by SIGINT.
pub const EXIT_INTERRUPTED: u8 = 130;

/// How long wait loops get to notice the interruption before the process
/// exits anyway: a tool blocked in a call that does not poll must not turn
/// Ctrl-C into a hang.
const GRACE: Duration = Duration::from_secs(2);

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static INSTALL: Once = Once::new();

/// Install the handler (once per process; later calls do nothing).
pub fn install() {
    INSTALL.call_once(|| {
        // If another handler is installed already, Ctrl-C keeps the
        // default behaviour (the shell still sees the signal): acceptable.
        let _ = ctrlc::set_handler(|| {
            if INTERRUPTED.swap(true, Ordering::SeqCst) {
                // A second Ctrl-C: the user means it.
                std::process::exit(EXIT_INTERRUPTED.into());
            }
            std::thread::spawn(|| {
                std::thread::sleep(GRACE);
                std::process::exit(EXIT_INTERRUPTED.into());
            });
        });
    });
}

/// Whether SIGINT has arrived. Long loops check this and stop.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Sleep up to `d`, waking early when interrupted. Returns `false` when
/// interrupted, so a wait loop reads `if !signal::sleep(step) { break }`.
pub fn sleep(d: Duration) -> bool {
    let step = Duration::from_millis(50);
    let deadline = std::time::Instant::now() + d;
    loop {
        if interrupted() {
            return false;
        }
        let now = std::time::Instant::now();
        if now >= deadline {
            return true;
        }
        std::thread::sleep(step.min(deadline - now));
    }
}
