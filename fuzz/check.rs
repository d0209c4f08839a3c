//! The invariants the fuzz target checks, shared with the stable property test
//! (`tests/post_render_prop.rs` includes this file), so both exercise the same code.
//!
//! For any input bytes:
//! - the splitter's ranges cover the input exactly, in order;
//! - post-render never panics;
//! - when it succeeds, every untouched document is byte-identical, and a second run over the
//!   output succeeds and changes nothing (idempotence).

use lbip::manifest::{Options, Unpinned, post_render, split};
use lbip::registry::{Loaded, Registry};

pub fn registry() -> Registry {
    let text = include_str!("../examples/registry.yaml");
    Loaded::from_text(text, "examples/registry.yaml")
        .unwrap()
        .require_valid()
        .unwrap()
}

pub fn check(registry: &Registry, data: &[u8]) {
    let ranges = split::split(data);
    let mut at = 0;
    for r in &ranges {
        assert_eq!(r.start, at, "ranges are contiguous");
        assert!(r.end >= r.start);
        at = r.end;
    }
    assert_eq!(at, data.len(), "ranges cover the input");

    for unpinned in [Unpinned::Allow, Unpinned::Fail] {
        let opts = Options {
            namespace: Some("mlflow".into()),
            unpinned,
        };
        let Ok(first) = post_render(data, registry, &opts) else {
            continue;
        };
        let out = first.to_bytes(data);
        if first.changes.is_empty() {
            assert_eq!(out, data, "no change means byte-identical output");
        }
        let second = post_render(&out, registry, &opts)
            .unwrap_or_else(|e| panic!("the output of a successful run must be accepted: {e}"));
        assert!(
            second.changes.is_empty(),
            "idempotent: {:?}",
            second.changes
        );
        assert_eq!(second.to_bytes(&out), out, "idempotent output");
    }
}
