#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = cpx_connect_fuzz::host::run(data);
});
