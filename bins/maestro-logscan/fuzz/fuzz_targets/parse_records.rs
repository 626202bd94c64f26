#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    maestro_logscan::record::fuzzing::check(data);
});
