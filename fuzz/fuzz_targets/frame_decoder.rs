#![no_main] libfuzzer_sys::fuzz_target!(|data: &[u8]| dnstcp::_fuzz::frame_decoder(data));
