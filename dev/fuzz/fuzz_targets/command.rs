//! libFuzzer target `command`: see `fuzz_harness::command` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::command(data));
