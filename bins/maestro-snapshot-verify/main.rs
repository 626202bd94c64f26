fn main() -> std::process::ExitCode {
    maestro_snapshot_verify::main()
}
