fn main() -> std::process::ExitCode {
    maestro_redirect::main()
}
