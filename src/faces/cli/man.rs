//! `lbip man DIR`: man pages from the same clap definitions that parse the command line, so
//! they never drift from it: `lbip.1` and `lbip-<command>.1` for the CLI, `kubectl-lbip.1`
//! and `kubectl-lbip-<command>.1` for the kubectl plugin (whose own parser has the kubectl
//! flags; `lbip cluster` is the same). The release archives ship them under `man/man1/`.

use crate::faces::exit;
use crate::faces::kubectl::Plugin;
use anyhow::Context;
use clap::CommandFactory;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory to write the pages into (created when missing)
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("cannot create {}", args.dir.display()))?;
    let cli = super::Cli::command().name("lbip");
    let plugin = Plugin::command()
        .name("kubectl-lbip")
        .bin_name("kubectl lbip");
    for cmd in [cli, plugin] {
        clap_mangen::generate_to(cmd, &args.dir)
            .with_context(|| format!("cannot write man pages into {}", args.dir.display()))?;
    }
    Ok(exit::OK)
}
