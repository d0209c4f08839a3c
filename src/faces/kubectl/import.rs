//! `kubectl lbip import`: a registry drafted from the cluster, for adopting lbip.

use super::{Ctx, Outcome};
use crate::faces::exit;
use crate::plan::import;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(ctx: &Ctx, _args: Args) -> Outcome {
    // Pools for the registry's `pools:`, the controller's version for its prefix.
    let observed = ctx.observe(|r| r.metallb_controller()).await?;
    let text = import::import(&observed);
    print!("{text}");
    eprintln!("Review the draft, save it as lbip.yaml and run `lbip lint -r lbip.yaml`.");
    Ok(exit::OK)
}
