//! libFuzzer target `reset`: see `fuzz_harness::reset` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::reset(data));
