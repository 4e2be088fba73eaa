#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ku0_fuzz::sandbox_policy(data));
