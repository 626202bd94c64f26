//! SIGINT and SIGTERM: a tool stopped by Ctrl-C, or by systemd's or
//! Pacemaker's default stop, lets its wait loops end the run cleanly (the
//! final summary record, a released lock, a closed channel) and exits
//! 128 + the signal's number, as shells expect: 130 for SIGINT, 143 for
//! SIGTERM.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Once;
use std::time::Duration;

/// The exit code of a run ended by SIGINT (Ctrl-C).
pub const EXIT_INTERRUPTED: u8 = 130;
/// The exit code of a run ended by SIGTERM (`systemctl stop`, `kill`).
pub const EXIT_TERMINATED: u8 = 143;

/// How long wait loops get to notice the signal before the process exits
/// anyway: a tool blocked in a call that does not poll must not turn a stop
/// into a hang.
const GRACE: Duration = Duration::from_secs(2);

/// The number of the first signal that arrived, 0 while none has.
static RECEIVED: AtomicI32 = AtomicI32::new(0);
static INSTALL: Once = Once::new();

const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

fn exit_code_for(signal: i32) -> u8 {
    if signal == SIGTERM {
        EXIT_TERMINATED
    } else {
        EXIT_INTERRUPTED
    }
}

/// What to do when a signal arrives: the first one sets the flag the wait
/// loops look at and starts the grace period; a second one means it.
fn on_signal(signal: i32) {
    if RECEIVED
        .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        std::process::exit(exit_code().into());
    }
    std::thread::spawn(|| {
        std::thread::sleep(GRACE);
        std::process::exit(exit_code().into());
    });
}

/// Install the handlers (once per process; later calls do nothing).
pub fn install() {
    INSTALL.call_once(|| {
        #[cfg(unix)]
        {
            use signal_hook::consts::{SIGINT as INT, SIGTERM as TERM};
            debug_assert_eq!((INT, TERM), (SIGINT, SIGTERM));
            // A thread reads the signals: the handler itself only writes to
            // a pipe, so nothing unsafe runs in signal context. If this
            // fails, the default actions stay (the process is killed):
            // acceptable.
            if let Ok(mut signals) = signal_hook::iterator::Signals::new([INT, TERM]) {
                std::thread::spawn(move || {
                    for s in signals.forever() {
                        on_signal(s);
                    }
                });
            }
        }
        #[cfg(not(unix))]
        {
            let _ = ctrlc::set_handler(|| on_signal(SIGINT));
        }
    });
}

/// Whether SIGINT or SIGTERM has arrived. Long loops check this and stop.
pub fn interrupted() -> bool {
    RECEIVED.load(Ordering::SeqCst) != 0
}

/// The exit code for the signal that arrived: 130 for SIGINT (also when
/// none did, for a run a tool ended as interrupted), 143 for SIGTERM.
pub fn exit_code() -> u8 {
    exit_code_for(RECEIVED.load(Ordering::SeqCst))
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
