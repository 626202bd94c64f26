fn main() -> std::process::ExitCode {
    maestro_ha::run(maestro_sync::main)
}
