fn main() -> std::process::ExitCode {
    maestro_watch::main()
}
