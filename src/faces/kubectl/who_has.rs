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
    /// The registry cluster, when the registry has `clusters:` (every cluster is searched).
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<String>,
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
                cluster: ctx.cluster.clone(),
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
    // With `clusters:`, the other clusters were read too: who holds the address there.
    let mut services = services;
    for other in &observed.other_clusters {
        for s in other.services.iter().filter(|s| s.assigned.contains(&ip)) {
            services.push(Holder {
                cluster: Some(other.name.clone()),
                namespace: s.namespace.clone(),
                name: s.name.clone(),
                holds: true,
                requests: s.requested_ips(reader).contains(&ip),
                registry_id: ctx
                    .full
                    .for_cluster(&other.name)
                    .and_then(|v| v.lookup(&s.namespace, &s.name).map(|e| e.id().to_string())),
            });
        }
    }
    let answer = Answer {
        ip,
        registry: ctx
            .full
            .owners_of(ip)
            .iter()
            .map(|e| match &e.cluster {
                Some(c) => format!("{} ({}, cluster {})", e.qualified_name(), e.id(), c.value),
                None => format!("{} ({})", e.qualified_name(), e.id()),
            })
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
            let clusters = answer.services.iter().any(|h| h.cluster.is_some());
            let rows: Vec<Vec<String>> = answer
                .services
                .iter()
                .map(|h| {
                    let cluster = clusters.then(|| h.cluster.clone().unwrap_or_default());
                    cluster
                        .into_iter()
                        .chain([
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
                        ])
                        .collect()
                })
                .collect();
            if !rows.is_empty() {
                let mut headers = vec!["NAMESPACE", "NAME", "HOLDS", "REQUESTS", "REGISTRY-ENTRY"];
                if clusters {
                    headers.insert(0, "CLUSTER");
                }
                print!("{}", render::table(&headers, &rows));
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
