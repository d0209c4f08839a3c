#![no_main]
//! Fuzzes the stream splitter alone (fast, so it reaches deep into marker and directive
//! edge cases); the invariants are in `fuzz/check.rs`.

use libfuzzer_sys::fuzz_target;

#[path = "../check.rs"]
mod check;

fuzz_target!(|data: &[u8]| check::check_split(data));
