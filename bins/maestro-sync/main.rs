#[cfg(unix)]
fn main() -> std::process::ExitCode {
    maestro_ha::run(maestro_sync::main)
}

/// maestro-sync needs rsync, file-system snapshots and mounts the Linux way:
/// on Windows it says so and exits UNKNOWN.
#[cfg(not(unix))]
fn main() -> std::process::ExitCode {
    eprintln!("maestro-sync: UNKNOWN: maestro-sync runs on Linux only");
    std::process::ExitCode::from(3)
}
