//! `lbip lint` (not written yet).

use crate::faces::common::RegistryArg;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub registry: RegistryArg,
}

pub fn run(_args: Args) -> anyhow::Result<u8> {
    anyhow::bail!("`lbip lint` is not implemented yet")
}
