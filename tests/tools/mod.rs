//! The real tools the tests run: found through an environment variable that
//! scripts/test-all.sh sets, else in the project's `.venv/bin` (where that script installs
//! them), else on `PATH`. A missing tool fails the test (never skips it): these tests are the
//! evidence that lbip works with the real thing.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// `$env_var`, else `.venv/bin/<name>`, else `<name>` on PATH; panics with how to get it.
pub fn tool(env_var: &str, name: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env_var).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "{env_var}={} does not exist", p.display());
        return p;
    }
    venv_or_path(name).unwrap_or_else(|| {
        panic!(
            "{name} not found: set {env_var}, or run scripts/test-all.sh (it installs {name} into .venv/bin)"
        )
    })
}

/// `.venv/bin/<name>`, else `<name>` on PATH.
fn venv_or_path(name: &str) -> Option<PathBuf> {
    let venv = Path::new(REPO).join(".venv/bin").join(name);
    if venv.is_file() {
        return Some(venv);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

pub fn kubectl() -> PathBuf {
    tool("LBIP_TEST_KUBECTL", "kubectl")
}

pub fn helm3() -> PathBuf {
    tool("LBIP_TEST_HELM3", "helm3")
}

pub fn helm4() -> PathBuf {
    tool("LBIP_TEST_HELM4", "helm4")
}

/// The lbip binary under test (`$LBIP_TEST_BIN` overrides Cargo's path, for worktrees that
/// share a target directory).
pub fn lbip() -> PathBuf {
    std::env::var_os("LBIP_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_lbip")))
}

/// A copy of the lbip binary without debug information, for the tests that pack it into
/// archives: the debug build is ~165 MB, which takes seconds to compress for every archive.
/// Falls back to an unstripped copy when `strip` is not installed (slower, same result).
pub fn small_lbip(dir: &Path) -> PathBuf {
    let out = dir.join("lbip");
    std::fs::copy(lbip(), &out).unwrap();
    let _ = std::process::Command::new("strip")
        .arg(&out)
        .stderr(std::process::Stdio::null())
        .status();
    out
}

/// Go's GOOS-GOARCH for this machine, as Helm and krew name platforms.
pub fn go_platform() -> (&'static str, &'static str) {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    (os, arch)
}

/// An Ansible tool (`ansible-playbook`, `ansible-galaxy`, ...) from `$LBIP_TEST_ANSIBLE_BIN`
/// (a directory), else `.venv/bin`, else PATH.
pub fn ansible(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("LBIP_TEST_ANSIBLE_BIN").filter(|d| !d.is_empty()) {
        let p = Path::new(&dir).join(name);
        assert!(
            p.is_file(),
            "{name} is not in LBIP_TEST_ANSIBLE_BIN={}",
            Path::new(&dir).display()
        );
        return p;
    }
    venv_or_path(name).unwrap_or_else(|| {
        panic!(
            "{name} not found: set LBIP_TEST_ANSIBLE_BIN to the directory holding it, or run \
             scripts/test-all.sh (it installs ansible-core into .venv)"
        )
    })
}

/// The target triple the release builds for this machine's platform (Linux: static musl).
pub fn release_triple() -> String {
    let arch = std::env::consts::ARCH;
    match std::env::consts::OS {
        "macos" => format!("{arch}-apple-darwin"),
        _ => format!("{arch}-unknown-linux-musl"),
    }
}
