//! libFuzzer target `mcast_frame`: see `fuzz_harness::mcast_frame` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_harness::mcast_frame(data));
