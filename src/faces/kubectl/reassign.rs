//! `kubectl lbip reassign NAMESPACE/NAME --ip IP`: forced reassignment of one Service,
//! moving the current holder off first. Never restarts MetalLB: it only patches Services.

use super::apply::{ApplyFlags, execute};
use super::{Ctx, Failure, Outcome};
use crate::plan::{self, PlanOptions, Scope};
use std::collections::BTreeMap;
use std::net::IpAddr;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The Service, as NAMESPACE/NAME
    pub service: String,
    /// The address to give it
    #[arg(long)]
    pub ip: String,
    /// Reassign even when the registry gives the Service another IP, or the IP to another entry
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub flags: ApplyFlags,
}

pub async fn run(ctx: &Ctx, args: Args) -> Outcome {
    let Some((ns, name)) = args.service.split_once('/') else {
        return Err(Failure(format!("`{}` is not NAMESPACE/NAME", args.service)));
    };
    let ip: IpAddr = args
        .ip
        .trim()
        .parse()
        .map_err(|_| Failure(format!("`{}` is not an IP address", args.ip)))?;
    let reg = &ctx.registry;
    let mut disagreements = Vec::new();
    match reg.lookup(ns, name) {
        Some(e) if !e.ip_values().contains(&ip) => disagreements.push(format!(
            "the registry gives {ns}/{name} {} (entry `{}`)",
            crate::metallb::format_ip_list(&e.ip_values()),
            e.id()
        )),
        None => disagreements.push(format!("{ns}/{name} is not in the registry")),
        _ => {}
    }
    for owner in reg
        .owners_of(ip)
        .iter()
        .filter(|o| !(o.namespace() == ns && o.name() == name))
    {
        disagreements.push(format!(
            "the registry gives {ip} to {} (entry `{}`)",
            owner.qualified_name(),
            owner.id()
        ));
    }
    if !disagreements.is_empty() && !args.force {
        return Err(Failure(format!(
            "refusing to reassign {ns}/{name} to {ip}: {}\n  = help: change the registry and run `kubectl lbip apply`, or pass --force (the next `apply` moves it back to the registry's IP)",
            disagreements.join("; ")
        )));
    }
    for d in &disagreements {
        eprintln!("warning: --force: {d}");
    }
    // Scope: the Service's namespace, plus -n, or everything with -A.
    let mut scoped = ctx.clone();
    if !ctx.global.all_namespaces {
        let mut set = scoped.scope.namespaces.clone().unwrap_or_default();
        set.insert(ns.to_string());
        scoped.scope = Scope {
            namespaces: Some(set),
            selector: None,
        };
    }
    let observed = scoped.observe(|r| r.planning()).await?;
    if observed
        .service(ns, name)
        .is_none_or(|s| !s.is_load_balancer())
    {
        return Err(Failure(format!(
            "there is no LoadBalancer Service {ns}/{name}"
        )));
    }
    let key = (ns.to_string(), name.to_string());
    let options = PlanOptions {
        only: Some(std::collections::BTreeSet::from([key.clone()])),
        overrides: BTreeMap::from([(key, vec![ip])]),
        ..Default::default()
    };
    let plan = plan::plan(&scoped.registry, &observed, &options);
    execute(&scoped, &observed, &plan, &options, &[], &args.flags).await
}
