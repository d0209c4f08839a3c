//! The faces: thin shells that parse one tool's calling convention, call the library and
//! print in that tool's convention. Which face runs is decided from how the binary was
//! invoked, because each host tool invokes it differently:
//!
//! - Ansible copies the binary as `AnsiballZ_lbip` and calls it with one argument, a JSON
//!   args file (see `ansible`). `lbip <args.json>` runs the module too, but only when the one
//!   argument is no subcommand or flag and the file holds Ansible's `_ansible_*` keys.
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
    // The name decides first: kubectl's plugin names are never read as an args file, so
    // `kubectl lbip status` runs the plugin even when a file called `status` is in the cwd.
    if program.starts_with("AnsiballZ_") {
        Face::Ansible
    } else if program.starts_with("kubectl_complete-lbip") {
        Face::KubectlComplete
    } else if program.starts_with("kubectl-lbip") {
        Face::Kubectl
    } else if ansible::is_args_file_invocation(args, cli::is_command_word) {
        Face::Ansible
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

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(items: &[&str]) -> Vec<OsString> {
        items.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_program_name_picks_the_face_before_any_file_is_looked_at() {
        let dir = tempfile::tempdir().unwrap();
        let args_file = dir.path().join("status");
        std::fs::write(
            &args_file,
            r#"{"_ansible_module_name": "lbip", "state": "linted"}"#,
        )
        .unwrap();
        let file = args_file.to_str().unwrap();
        assert_eq!(
            detect(&argv(&["/tmp/x/AnsiballZ_lbip", "/tmp/x/args"])),
            Face::Ansible
        );
        assert_eq!(
            detect(&argv(&["/usr/bin/kubectl-lbip", file])),
            Face::Kubectl
        );
        assert_eq!(
            detect(&argv(&["kubectl_complete-lbip", file])),
            Face::KubectlComplete
        );
        assert_eq!(detect(&argv(&["lbip", file])), Face::Ansible);
    }

    #[test]
    fn only_an_args_file_that_looks_like_one_makes_lbip_a_module() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p.to_str().unwrap().to_string()
        };
        let wrapped = write(
            "wrapped.json",
            r#"{"ANSIBLE_MODULE_ARGS": {"_ansible_check_mode": false, "registry": "r"}}"#,
        );
        assert_eq!(detect(&argv(&["lbip", &wrapped])), Face::Ansible);
        for text in [
            r#"{"registry": "r", "state": "linted"}"#,
            r#"["_ansible_check_mode"]"#,
            r#"{"note": "\"_ansible_x\" in a value"}"#,
            "registry=r state=linted _ansible_check_mode=False",
            "",
        ] {
            let f = write("candidate", text);
            assert_eq!(detect(&argv(&["lbip", &f])), Face::Cli, "{text}");
        }
        // A directory, or a missing file, is no args file.
        let d = dir.path().to_str().unwrap().to_string();
        assert_eq!(detect(&argv(&["lbip", &d])), Face::Cli);
        assert_eq!(detect(&argv(&["lbip", "/nonexistent/args"])), Face::Cli);
        // Two arguments never are.
        assert_eq!(detect(&argv(&["lbip", &wrapped, "x"])), Face::Cli);
    }
}
