//! `lbip suggest`: the next free addresses, lowest first, so a new entry starts valid.

use crate::faces::common::{RegistryArg, load_valid_or_report};
use crate::faces::exit;
use std::collections::BTreeSet;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub registry: RegistryArg,
    /// Only addresses inside this block
    #[arg(long, value_name = "NAME")]
    pub block: Option<String>,
    /// How many addresses to print
    #[arg(long, short = 'n', default_value_t = 1, value_name = "N")]
    pub count: usize,
    /// Addresses of this cluster's pools (needed when the registry has several clusters)
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let registry = match load_valid_or_report(&args.registry) {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let registry = match registry.view_named(
        args.cluster.as_deref(),
        "suggest needs to know which one: pass --cluster NAME",
    ) {
        Ok(view) => view,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::ERROR);
        }
    };
    let block = match &args.block {
        None => None,
        Some(name) => match registry.block(name) {
            Some(b) => Some(b),
            None => {
                let names: Vec<&str> = registry
                    .blocks
                    .iter()
                    .map(|b| b.name.value.as_str())
                    .collect();
                let hint = match crate::diagnostic::did_you_mean(name, &names) {
                    Some(m) => format!("did you mean `{m}`?"),
                    None => format!("known blocks: {}", names.join(", ")),
                };
                eprintln!("error: the registry has no block `{name}`\n  = help: {hint}");
                return Ok(exit::ERROR);
            }
        },
    };
    let none = BTreeSet::new();
    let free: Vec<_> = registry
        .free_addresses(block, &none)
        .take(args.count)
        .collect();
    for ip in &free {
        println!("{ip}");
    }
    if free.len() < args.count {
        let place = match &args.block {
            Some(b) => format!("block `{b}`"),
            None => "the pools".to_string(),
        };
        eprintln!(
            "error: {place} has only {} free address(es); {} were asked for",
            free.len(),
            args.count
        );
        return Ok(exit::FINDINGS);
    }
    Ok(exit::OK)
}
