fn main() -> std::process::ExitCode {
    maestro_logscan::main()
}
