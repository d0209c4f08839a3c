//! `kubectl lbip doctor`: the environment checks, each finding with a fix.

use super::{Ctx, Outcome, Output, render};
use crate::diagnostic::has_errors;
use crate::faces::exit;
use crate::plan::doctor;
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {}

#[derive(Serialize)]
struct Report<'a> {
    metallb: Option<&'a crate::plan::observed::MetallbInstall>,
    pools: usize,
    findings: &'a [crate::diagnostic::Finding],
}

pub async fn run(ctx: &Ctx, _args: Args) -> Outcome {
    let observed = ctx.observe(|r| r.environment()).await?;
    let findings = doctor::doctor(&ctx.registry, &observed);
    let pools = observed.pools.as_ref().map_or(0, Vec::len);
    match ctx.global.output {
        Output::Json | Output::Yaml => {
            let report = Report {
                metallb: observed.metallb.as_ref(),
                pools,
                findings: &findings,
            };
            print!("{}", render::structured(&report, ctx.global.output));
        }
        _ => {
            match &observed.metallb {
                Some(m) => println!(
                    "MetalLB: {} in {}/{} (image {}); {pools} IPAddressPool(s); registry prefix {}",
                    m.version.as_deref().unwrap_or("version unknown"),
                    m.namespace,
                    m.deployment,
                    m.image,
                    ctx.registry.prefix
                ),
                None => println!("MetalLB: controller not found; {pools} IPAddressPool(s)"),
            }
            if findings.is_empty() {
                println!("No problems found.");
            } else {
                print!("{}", render::findings(&findings));
            }
        }
    }
    Ok(if has_errors(&findings) {
        exit::FINDINGS
    } else {
        exit::OK
    })
}
