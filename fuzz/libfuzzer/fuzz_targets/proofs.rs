#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| govrec_fuzz::proofs(data));
