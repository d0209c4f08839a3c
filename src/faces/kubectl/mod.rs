//! `kubectl lbip ...` (not written yet).

use std::ffi::OsString;
use std::process::ExitCode;

/// Invoked as `kubectl-lbip`.
pub fn main_as_plugin(args: Vec<OsString>) -> ExitCode {
    main_with_args(args)
}

/// Invoked as `kubectl-lbip` or `lbip cluster`; `args[0]` is the program name.
pub fn main_with_args(_args: Vec<OsString>) -> ExitCode {
    eprintln!("error: the cluster commands are not implemented yet");
    ExitCode::from(crate::faces::exit::ERROR)
}

/// Invoked as `kubectl_complete-lbip` by kubectl's completion.
pub fn complete(_args: Vec<OsString>) -> ExitCode {
    ExitCode::from(crate::faces::exit::OK)
}
