//! `doctor`: environment problems that make pinning fail, each with a fix. Pure over
//! [`Observed`] (the doctor's reads add the MetalLB Deployment and ServiceLB DaemonSets).

use super::analyze::{codes, key_findings};
use super::observed::Observed;
use crate::diagnostic::Finding;
use crate::metallb::{Prefix, Reader};
use crate::registry::Registry;

pub const METALLB_MISSING: &str = "metallb-missing";
pub const METALLB_VERSION_UNKNOWN: &str = "metallb-version-unknown";
pub const PREFIX_VERSION_MISMATCH: &str = "prefix-version-mismatch";
pub const IP_OUTSIDE_POOL: &str = "ip-outside-pool";
pub const STEALABLE_IP: &str = "stealable-ip";
pub const POOL_NOT_ADVERTISED: &str = "pool-not-advertised";
pub const SERVICELB_RUNNING: &str = "servicelb-running";
pub const IP_NOT_FROM_POOL: &str = "ip-not-from-pool";
pub const ALLOCATION_FAILED: &str = "allocation-failed";
pub const POOLS_UNKNOWN: &str = "pools-unknown";

/// Every environment finding, most important first.
pub fn doctor(registry: &Registry, observed: &Observed) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(why) = &observed.pools_unreadable {
        out.push(
            Finding::error(
                POOLS_UNKNOWN,
                format!("cannot read the IPAddressPools ({why}): pool coverage, stealable IPs and advertisements were not checked"),
            )
            .hint("grant verb `list` on resource `ipaddresspools.metallb.io` (README: \"RBAC\")"),
        );
    }
    metallb_install(registry, observed, &mut out);
    servicelb(observed, &mut out);
    pools(registry, observed, &mut out);
    let reader = observed.reader();
    for svc in observed
        .load_balancers()
        .filter(|s| observed.scope.includes_service(s))
    {
        out.extend(
            key_findings(svc, &registry.pin_style(), reader)
                .into_iter()
                .filter(|f| f.code == codes::ANNOTATION_AND_SPEC),
        );
    }
    for ev in observed
        .events
        .iter()
        .filter(|e| e.reason == "AllocationFailed" && observed.scope.includes(&e.namespace))
    {
        out.push(
            Finding::warning(
                ALLOCATION_FAILED,
                format!(
                    "{}/{}: MetalLB could not allocate an IP{}: {}",
                    ev.namespace,
                    ev.service,
                    ev.last_seen.as_deref().map(|t| format!(" (at {t})")).unwrap_or_default(),
                    ev.message
                ),
            )
            .hint("`kubectl lbip status` shows who holds what; `kubectl lbip apply` frees registry IPs"),
        );
    }
    out.sort_by_key(|f| f.severity);
    out
}

fn metallb_install(registry: &Registry, observed: &Observed, out: &mut Vec<Finding>) {
    let Some(m) = &observed.metallb else {
        if observed.pools.is_none() && observed.pools_unreadable.is_none() {
            out.push(
                Finding::error(METALLB_MISSING, "MetalLB is not installed: no controller Deployment and no IPAddressPool CRD")
                    .hint("install MetalLB (https://metallb.io/installation/), then `lbip export metallb | kubectl apply -f -`"),
            );
        } else {
            out.push(
                Finding::warning(METALLB_VERSION_UNKNOWN, "MetalLB's CRDs are installed but no controller Deployment was found")
                    .hint("check that the MetalLB controller runs (`kubectl get deploy -A | grep metallb`)"),
            );
        }
        return;
    };
    let Some(version) = m.version.as_deref() else {
        out.push(
            Finding::info(
                METALLB_VERSION_UNKNOWN,
                format!("MetalLB controller {}/{} runs image {} whose version cannot be read", m.namespace, m.deployment, m.image),
            )
            .hint("make sure the registry's annotationPrefix matches: metallb.io needs MetalLB >= 0.14.9"),
        );
        return;
    };
    match (Reader::for_version(version), registry.prefix) {
        (Some(Reader::UniverseTfOnly), Prefix::MetallbIo) => out.push(
            Finding::error(
                PREFIX_VERSION_MISMATCH,
                format!("MetalLB {version} ({}/{}) ignores metallb.io/* annotations, but the registry's annotationPrefix is metallb.io: no pin is read", m.namespace, m.deployment),
            )
            .hint("set `provider: {annotationPrefix: metallb.universe.tf}` in the registry, or upgrade MetalLB to >= 0.14.9"),
        ),
        (Some(Reader::Current), Prefix::UniverseTf) => out.push(
            Finding::warning(
                PREFIX_VERSION_MISMATCH,
                format!("MetalLB {version} reads metallb.io/* annotations; the registry's metallb.universe.tf prefix still works but is deprecated"),
            )
            .hint("set `provider: {annotationPrefix: metallb.io}` and run `kubectl lbip apply`"),
        ),
        _ => {}
    }
}

fn servicelb(observed: &Observed, out: &mut Vec<Finding>) {
    if !observed.servicelb.is_empty() {
        out.push(
            Finding::error(
                SERVICELB_RUNNING,
                format!("k3s ServiceLB runs beside MetalLB ({}): both write status.loadBalancer and fight over it", observed.servicelb.join(", ")),
            )
            .hint("start every k3s server with `--disable=servicelb` (or `disable: [servicelb]` in /etc/rancher/k3s/config.yaml)"),
        );
    }
    let Some(pools) = &observed.pools else { return };
    for svc in observed
        .load_balancers()
        .filter(|s| observed.scope.includes_service(s))
    {
        for ip in svc
            .assigned
            .iter()
            .filter(|ip| !pools.iter().any(|p| p.contains(**ip)))
        {
            out.push(
                Finding::warning(
                    IP_NOT_FROM_POOL,
                    format!("{}: has {ip}, which is in no MetalLB pool (a node IP written by ServiceLB or another load balancer?)", svc.key()),
                )
                .hint("disable k3s ServiceLB, or give the Service a spec.loadBalancerClass another controller owns"),
            );
        }
    }
}

fn pools(registry: &Registry, observed: &Observed, out: &mut Vec<Finding>) {
    let Some(pools) = &observed.pools else { return };
    // Registry IPs per auto-assign pool, reported once per pool.
    let mut stealable: Vec<(&super::observed::ObservedPool, Vec<String>)> = Vec::new();
    for entry in &registry.services {
        for ip in entry.ip_values() {
            match pools.iter().find(|p| p.contains(ip)) {
                None => out.push(
                    Finding::error(
                        IP_OUTSIDE_POOL,
                        format!("registry entry `{}` ({}) has {ip}, which no IPAddressPool in the cluster covers: MetalLB answers \"not allowed in config\"", entry.id(), entry.qualified_name()),
                    )
                    .for_id(entry.id())
                    .hint("`lbip export metallb | kubectl apply -f -` creates pools for the registry"),
                ),
                Some(p) if p.auto_assign && p.service_allocation.is_none() => {
                    let label = format!("{ip} ({})", entry.id());
                    match stealable.iter_mut().find(|(q, _)| q.name == p.name && q.namespace == p.namespace) {
                        Some((_, ips)) => ips.push(label),
                        None => stealable.push((p, vec![label])),
                    }
                }
                _ => {}
            }
        }
    }
    for (p, ips) in stealable {
        out.push(
            Finding::warning(
                STEALABLE_IP,
                format!(
                    "{} registry IP(s) are inside auto-assign pool {}/{}, so any unpinned Service can take them: {}",
                    ips.len(),
                    p.namespace,
                    p.name,
                    ips.join(", ")
                ),
            )
            .hint("`lbip export metallb` writes pools that keep registry IPs out of auto-assignment"),
        );
    }
    for p in pools {
        if !observed.advertisements.iter().any(|a| a.announces(p)) {
            out.push(
                Finding::error(
                    POOL_NOT_ADVERTISED,
                    format!("IPAddressPool {}/{} has no L2Advertisement or BGPAdvertisement: its IPs are assigned but never announced", p.namespace, p.name),
                )
                .hint(format!("create an L2Advertisement listing it: `spec: {{ipAddressPools: [{}]}}`", p.name)),
            );
        }
    }
}
