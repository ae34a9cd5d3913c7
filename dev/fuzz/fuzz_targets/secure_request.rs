//! libFuzzer target `secure_request`: see `fuzz_harness::secure_request` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::secure_request(data));
