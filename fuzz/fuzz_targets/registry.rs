#![no_main]
//! Fuzzes the registry loader, lint and exports; the invariants are in `fuzz/check.rs`.

use libfuzzer_sys::fuzz_target;

#[path = "../check.rs"]
mod check;

fuzz_target!(|data: &[u8]| check::check_registry(data));
