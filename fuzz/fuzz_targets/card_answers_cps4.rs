#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = cpx_connect_fuzz::card_answers::run_cps4(data);
});
