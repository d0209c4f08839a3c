#![no_main]
//! Fuzzes the post-renderer (splitter, parser, resolver, in-place editor) with arbitrary
//! bytes; the invariants are in `fuzz/check.rs`.

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

#[path = "../check.rs"]
mod check;

static REGISTRY: OnceLock<lbip::registry::Registry> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let registry = REGISTRY.get_or_init(check::registry);
    check::check_post_render(registry, data);
});
