fn main() -> std::process::ExitCode {
    // Installed as /usr/lib/ocf/resource.d/maestro-ha/maestro (a link to
    // this binary), it is Pacemaker's resource agent ocf:maestro-ha:maestro.
    #[cfg(unix)]
    if maestro_ocf::invoked_as_agent() {
        return maestro_ha::run(maestro_ocf::main);
    }
    maestro_ha::run(maestro_fence::main)
}
