#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    cpx_connect_fuzz::pkcs15::run(data);
});
