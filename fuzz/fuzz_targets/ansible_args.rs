#![no_main]
//! Fuzzes the Ansible module's args-file parser; the invariants are in `fuzz/check.rs`.

use libfuzzer_sys::fuzz_target;

#[path = "../check.rs"]
mod check;

fuzz_target!(|data: &[u8]| check::check_ansible_args(data));
