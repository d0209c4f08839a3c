//! `lbip post-render` (not written yet).

use crate::faces::common::RegistryArg;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub registry: RegistryArg,
}

pub fn run(_args: Args) -> ExitCode {
    eprintln!("error: `lbip post-render` is not implemented yet");
    ExitCode::from(crate::faces::exit::ERROR)
}
