//! The faces: thin shells that parse one tool's calling convention, call the library and
//! print in that tool's convention. Which face runs is decided from how the binary was
//! invoked, because each host tool invokes it differently:
//!
//! - Ansible copies the binary as `AnsiballZ_lbip` and calls it with one argument, a JSON
//!   args file (see `ansible`).
//! - kubectl runs `kubectl-lbip` found on PATH (see `kubectl`); its completion helper is
//!   `kubectl_complete-lbip`.
//! - Everything else is the `lbip` CLI, including `lbip post-render` for Helm.

pub mod ansible;
pub mod cli;
pub mod common;
pub mod helm_parent;
pub mod kubectl;
pub mod post_render;

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

/// Exit codes shared by every command (documented in README).
pub mod exit {
    /// Success: nothing wrong, nothing to change.
    pub const OK: u8 = 0;
    /// The command worked and found problems (lint errors, drift, changes needed).
    pub const FINDINGS: u8 = 1;
    /// The command could not do its job: unreadable input, bad usage, cluster unreachable.
    pub const ERROR: u8 = 2;
}

/// How the binary was invoked.
#[derive(Debug, PartialEq, Eq)]
pub enum Face {
    Ansible,
    Kubectl,
    KubectlComplete,
    Cli,
}

/// Picks the face from argv (see the module docs).
pub fn detect(args: &[OsString]) -> Face {
    let program = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if program.starts_with("AnsiballZ_") || ansible::is_args_file_invocation(args) {
        Face::Ansible
    } else if program.starts_with("kubectl_complete-lbip") {
        Face::KubectlComplete
    } else if program.starts_with("kubectl-lbip") {
        Face::Kubectl
    } else {
        Face::Cli
    }
}

/// The binary's entry point.
pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    match detect(&args) {
        Face::Ansible => ansible::main(args),
        Face::Kubectl => kubectl::main_as_plugin(args),
        Face::KubectlComplete => kubectl::complete(args),
        Face::Cli => cli::main(args),
    }
}
