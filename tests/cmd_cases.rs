//! The command-line cases of `tests/cmd/*.toml` (trycmd): each tool's
//! output and exit code for a command, compared with what is written there.
//! A test binary of its own, without the shared test support (real servers,
//! namespaces), so that it also builds and runs for Windows under Wine.

const TOOLS: [(&str, &str); 7] = [
    ("maestro-fence", env!("CARGO_BIN_EXE_maestro-fence")),
    (
        "maestro-snapshot-verify",
        env!("CARGO_BIN_EXE_maestro-snapshot-verify"),
    ),
    ("maestro-logscan", env!("CARGO_BIN_EXE_maestro-logscan")),
    ("maestro-smoketest", env!("CARGO_BIN_EXE_maestro-smoketest")),
    ("maestro-watch", env!("CARGO_BIN_EXE_maestro-watch")),
    ("maestro-sync", env!("CARGO_BIN_EXE_maestro-sync")),
    ("maestro-redirect", env!("CARGO_BIN_EXE_maestro-redirect")),
];

#[test]
fn trycmd_cases() {
    let cases = trycmd::TestCases::new();
    for (name, path) in TOOLS {
        cases.register_bin(name, std::path::Path::new(path));
    }
    cases.env("NO_COLOR", "1").case("tests/cmd/*.toml");
}
