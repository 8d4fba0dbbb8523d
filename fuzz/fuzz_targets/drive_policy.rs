//! Fuzz target `drive_policy`: see `tableau_auth_proto::fuzzing::run_target`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tableau_auth_proto::fuzzing::run_target("drive_policy", std::time::Instant::now(), data);
});
