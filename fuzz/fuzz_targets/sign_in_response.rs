//! A sign-in answered by an arbitrary status and body, then the session's timers.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let status = 100 + u16::from(first) * 2;
    tableau_auth_proto::fuzzing::sign_in_then_out(Instant::now(), first & 1 == 1, status, &[], rest);
});
