fn main() -> std::process::ExitCode {
    maestro_fence::main()
}
