#![no_main] libfuzzer_sys::fuzz_target!(|data: &[u8]| dnstcp::_fuzz::builder_roundtrip(data));
