#![no_main]
//! Fuzzes the post-renderer's splitter and rewriter with arbitrary bytes; the invariants are
//! in `fuzz/check.rs`.

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

#[path = "../check.rs"]
mod check;

static REGISTRY: OnceLock<lbip::registry::Registry> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let registry = REGISTRY.get_or_init(check::registry);
    check::check(registry, data);
});
