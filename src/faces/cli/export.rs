//! `lbip export` (not written yet).

use crate::faces::common::RegistryArg;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub registry: RegistryArg,
}

pub fn run(_args: Args) -> anyhow::Result<u8> {
    anyhow::bail!("`lbip export` is not implemented yet")
}
