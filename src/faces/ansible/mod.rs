//! The Ansible module face (not written yet).

use std::ffi::OsString;
use std::process::ExitCode;

/// True when invoked with one argument that is a JSON args file carrying `_ansible_*` keys.
pub fn is_args_file_invocation(args: &[OsString]) -> bool {
    if args.len() != 2 {
        return false;
    }
    let Ok(text) = std::fs::read_to_string(&args[1]) else {
        return false;
    };
    let trimmed = text.trim_start();
    trimmed.starts_with('{') && trimmed.contains("\"_ansible_")
}

pub fn main(_args: Vec<OsString>) -> ExitCode {
    println!("{{\"failed\": true, \"msg\": \"the lbip Ansible module is not implemented yet\"}}");
    ExitCode::from(crate::faces::exit::OK)
}
