//! libFuzzer target `cbc_frame`: see `fuzz_harness::cbc_frame` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::cbc_frame(data));
