//! libFuzzer target `splitter`: see `fuzz_harness::splitter` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::splitter(data));
