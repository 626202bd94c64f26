fn main() -> std::process::ExitCode {
    maestro_smoketest::main()
}
