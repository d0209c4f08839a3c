//! The invariants the fuzz targets check, shared with the stable property tests
//! (`tests/post_render_prop.rs` and `tests/fuzz_corpus.rs` include this file), so both
//! exercise the same code. Every check must hold for any input bytes.

#![allow(dead_code)] // each fuzz target uses one check

use lbip::manifest::{Options, Unpinned, post_render, split};
use lbip::registry::{Loaded, Registry};

pub fn registry() -> Registry {
    registry_for("metallb")
}

/// The example registry with `provider.kind: <kind>` (`cilium`, `[metallb, cilium]`, ...).
pub fn registry_for(kind: &str) -> Registry {
    let text = include_str!("../examples/registry.yaml")
        .replace("provider:\n", &format!("provider:\n  kind: {kind}\n"));
    Loaded::from_text(&text, "examples/registry.yaml")
        .unwrap()
        .require_valid()
        .unwrap()
}

/// Every `provider.kind` the properties run under.
pub const PROVIDER_KINDS: [&str; 5] = [
    "metallb",
    "cilium",
    "kube-vip",
    "purelb",
    "[metallb, cilium]",
];

/// The splitter: ranges are contiguous, cover the input, and start at line starts; splitting
/// the concatenation of the documents again gives the same documents.
pub fn check_split(data: &[u8]) {
    let ranges = split::split(data);
    let mut at = 0;
    for r in &ranges {
        assert_eq!(r.start, at, "ranges are contiguous");
        assert!(r.end >= r.start);
        assert!(
            r.start == 0
                || r.start == 3 && data.starts_with(b"\xef\xbb\xbf")
                || data[r.start - 1] == b'\n',
            "a range starts at a line start"
        );
        at = r.end;
    }
    assert_eq!(at, data.len(), "ranges cover the input");
    let again = split::split(data);
    assert_eq!(ranges, again, "splitting is deterministic");
}

/// The post-renderer, under `fail` and `allow`: never panics; a success writes the input's
/// own bytes for every document it did not change, and only as many changed documents as it
/// reports; a changed document means what it meant (to an independent YAML reader) except
/// for the keys lbip owns; and a second run accepts the output and changes nothing.
pub fn check_post_render(registry: &Registry, data: &[u8]) {
    check_split(data);
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
        } else {
            let before = split::split(data);
            let after = split::split(&out);
            assert_eq!(before.len(), after.len(), "edits add or remove no document");
            let mut differing = 0;
            for (a, b) in before.iter().zip(&after) {
                let (a, b) = (&data[a.clone()], &out[b.clone()]);
                if a != b {
                    differing += 1;
                    same_data_but_owned(a, b);
                }
            }
            // Each changed document has at least one reported change.
            assert!(
                differing <= first.changes.len(),
                "{differing} documents differ, {} changes reported",
                first.changes.len()
            );
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

/// Two versions of one document read the same to serde-saphyr's own deserializer once the
/// owned keys of every Service are dropped (when it reads them at all).
fn same_data_but_owned(a: &[u8], b: &[u8]) {
    let (Ok(a), Ok(b)) = (std::str::from_utf8(a), std::str::from_utf8(b)) else {
        panic!("post-render output must be UTF-8");
    };
    let read = |t: &str| serde_saphyr::from_str::<serde_json::Value>(t).ok();
    let (Some(mut x), Some(mut y)) = (read(a), read(b)) else {
        return;
    };
    strip_owned(&mut x);
    strip_owned(&mut y);
    assert_eq!(
        x, y,
        "a changed document differs beyond the owned keys:\n{a}\n---\n{b}"
    );
}

fn strip_owned(v: &mut serde_json::Value) {
    use serde_json::Value;
    if let Some(items) = v.get_mut("items").and_then(Value::as_array_mut) {
        items.iter_mut().for_each(strip_owned);
        return;
    }
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        if let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            // Every key a load balancer (or a misspelling of one) could read is lbip's to
            // change: its own keys are pinned, the others' removed.
            a.retain(|k, _| {
                lbip::metallb::classify(k).is_none() && lbip::provider::classify_any(k).is_none()
            });
        }
        if meta
            .get("annotations")
            .is_some_and(|a| a.is_null() || a.as_object().is_some_and(|m| m.is_empty()))
        {
            meta.remove("annotations");
        }
    }
    if let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove("type");
        spec.remove("loadBalancerIP");
    }
    if let Some(o) = v.as_object_mut()
        && o.get("spec")
            .is_some_and(|s| s.is_null() || s.as_object().is_some_and(|m| m.is_empty()))
    {
        o.remove("spec");
    }
}

/// The registry loader: never panics; a registry it accepts lints and exports without
/// panicking, the same way twice.
pub fn check_registry(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(loaded) = Loaded::from_text(text, "fuzz.yaml") else {
        return;
    };
    let again = Loaded::from_text(text, "fuzz.yaml").expect("loading is deterministic");
    assert_eq!(loaded.findings, again.findings, "lint is deterministic");
    if let Ok(registry) = loaded.require_valid() {
        for format in lbip::registry::export::Format::ALL {
            let _ = lbip::registry::export::render(&registry, format);
        }
    }
}

/// The Ansible args parser: never panics, and an error never quotes an option's value (it
/// may be a secret: Ansible cannot apply `no_log` to what a binary module prints).
pub fn check_ansible_args(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Err(message) = lbip::faces::ansible::args::parse(text, None) else {
        return;
    };
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(text) else {
        return;
    };
    for (key, value) in &map {
        if let serde_json::Value::String(s) = value {
            let s = s.trim();
            // Short values can collide with ordinary words of a message, and an unknown
            // option's name is said by design (a value that is part of one is not quoted).
            let in_a_key = map.keys().any(|k| k.contains(s));
            if s.len() >= 12 && !in_a_key {
                assert!(
                    !message.contains(s),
                    "the error quotes the value of option {key}: {message}"
                );
            }
        }
    }
}
