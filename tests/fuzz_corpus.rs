//! Replays the committed fuzz corpus (fuzz/corpus/<target>/, minimised after each campaign)
//! through the fuzz targets' invariants on stable Rust, so every input a campaign found
//! interesting, crashes it fixed included, stays a regression test in `cargo test`.

use std::path::PathBuf;

#[path = "../fuzz/check.rs"]
mod check;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no corpus", dir.display());
    files
}

fn replay(target: &str, check: impl Fn(&[u8])) {
    for (path, bytes) in corpus(target) {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&bytes)));
        assert!(
            outcome.is_ok(),
            "fuzz/corpus/{target}: {} fails",
            path.display()
        );
    }
}

#[test]
fn the_post_render_corpus_holds_every_invariant() {
    let registry = check::registry();
    replay("post_render", |b| check::check_post_render(&registry, b));
}

#[test]
fn the_split_corpus_holds_every_invariant() {
    replay("split", check::check_split);
}

#[test]
fn the_registry_corpus_holds_every_invariant() {
    replay("registry", check::check_registry);
}

#[test]
fn the_ansible_args_corpus_holds_every_invariant() {
    replay("ansible_args", check::check_ansible_args);
}
