//! `kubectl lbip import`: a registry drafted from the cluster, for adopting lbip.

use super::{Ctx, Outcome};
use crate::faces::exit;
use crate::plan::import;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(ctx: &Ctx, _args: Args) -> Outcome {
    let observed = ctx.observe(false, true).await?;
    let text = import::import(&observed);
    print!("{text}");
    eprintln!("Review the draft, save it as lbip.yaml and run `lbip lint -r lbip.yaml`.");
    Ok(exit::OK)
}
