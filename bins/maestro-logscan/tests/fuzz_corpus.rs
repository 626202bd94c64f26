//! The fuzz corpus (fuzz/corpus/parse_records) as regression tests: every
//! input libFuzzer kept, and every crash fixed, runs through the same check
//! as the fuzz target, on stable Rust, in `cargo test`.

#[test]
fn every_corpus_input_keeps_the_parser_invariants() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/parse_records");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("the corpus folder") {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let r = std::panic::catch_unwind(|| maestro_logscan::record::fuzzing::check(&data));
        assert!(r.is_ok(), "{} breaks an invariant", path.display());
        n += 1;
    }
    assert!(n >= 10, "the corpus is there ({n} inputs)");
}

#[test]
fn edge_cases_keep_the_invariants() {
    for data in [
        &b""[..],
        b"\x00",
        b"\x00\n",
        b"\x00\r\n\r\n",
        b"\x02\n\n\n2026-11-26 08:00:01 ERROR x",
        b"\x00\t\x00at x\nERROR",
        b"\xfc2026-11-26 08:00:01 SEVERE \xff\xfe",
        b"\x01261126  8:00:01 [ERROR] Aborting\n",
    ] {
        maestro_logscan::record::fuzzing::check(data);
    }
    let mut long = vec![0u8];
    long.extend(std::iter::repeat_n(b'E', 5000));
    long.extend_from_slice(b"RROR\nSEVERE\n");
    maestro_logscan::record::fuzzing::check(&long);
}
