//! `kubectl lbip who-has IP`: which Services request or hold an address, and whose it is
//! in the registry.

use super::{Ctx, Failure, Outcome, Output, render};
use crate::faces::exit;
use serde::Serialize;
use std::net::IpAddr;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The address to look up
    pub ip: String,
}

#[derive(Serialize)]
struct Holder {
    namespace: String,
    name: String,
    holds: bool,
    requests: bool,
    /// The registry entry of this Service, if any.
    registry_id: Option<String>,
}

#[derive(Serialize)]
struct Answer {
    ip: IpAddr,
    /// Registry entries given this IP (`namespace/name (id)`).
    registry: Vec<String>,
    services: Vec<Holder>,
}

pub async fn run(ctx: &Ctx, args: Args) -> Outcome {
    let ip: IpAddr = args
        .ip
        .trim()
        .parse()
        .map_err(|_| Failure(format!("`{}` is not an IP address", args.ip)))?;
    // Who holds or requests an IP is all in the Services.
    let observed = ctx.observe(|r| r).await?;
    let reader = observed.reader();
    let services: Vec<Holder> = observed
        .load_balancers()
        .filter(|s| ctx.scope.includes_service(s))
        .filter_map(|s| {
            let holds = s.assigned.contains(&ip);
            let requests = s.requested_ips(reader).contains(&ip);
            (holds || requests).then(|| Holder {
                namespace: s.namespace.clone(),
                name: s.name.clone(),
                holds,
                requests,
                registry_id: ctx
                    .registry
                    .lookup(&s.namespace, &s.name)
                    .map(|e| e.id().to_string()),
            })
        })
        .collect();
    let answer = Answer {
        ip,
        registry: ctx
            .registry
            .owners_of(ip)
            .iter()
            .map(|e| format!("{} ({})", e.qualified_name(), e.id()))
            .collect(),
        services,
    };
    match ctx.global.output {
        Output::Json | Output::Yaml => print!("{}", render::structured(&answer, ctx.global.output)),
        Output::Name => print!(
            "{}",
            render::names(answer.services.iter().map(|h| h.name.as_str()))
        ),
        _ => {
            let rows: Vec<Vec<String>> = answer
                .services
                .iter()
                .map(|h| {
                    vec![
                        h.namespace.clone(),
                        h.name.clone(),
                        if h.holds { "yes".into() } else { "no".into() },
                        if h.requests {
                            "yes".into()
                        } else {
                            "no".into()
                        },
                        h.registry_id
                            .clone()
                            .unwrap_or_else(|| "<not registered>".into()),
                    ]
                })
                .collect();
            if !rows.is_empty() {
                print!(
                    "{}",
                    render::table(
                        &["NAMESPACE", "NAME", "HOLDS", "REQUESTS", "REGISTRY-ENTRY"],
                        &rows
                    )
                );
            } else {
                println!("No Service holds or requests {ip}.");
            }
            match answer.registry.as_slice() {
                [] => println!("Registry: {ip} belongs to no entry."),
                owners => println!("Registry: {ip} belongs to {}.", owners.join(", ")),
            }
        }
    }
    Ok(if answer.services.is_empty() {
        exit::FINDINGS
    } else {
        exit::OK
    })
}
