fn main() -> std::process::ExitCode {
    maestro_sync::main()
}
