//! Free addresses to move a Service to when the plan needs one (an unregistered squatter
//! evicted from a registry IP, a Service parked to break a cycle): addresses of the
//! registry's pools that nobody holds, requests or is given by the registry, chosen the way
//! MetalLB will accept them as a request:
//!
//! - **one address per IP family the Service has** (MetalLB refuses a request whose families
//!   differ from the Service's: a dual-stack Service needs an IPv4 and an IPv6 address, an
//!   IPv6 Service an IPv6 one);
//! - **all from one cluster IPAddressPool that admits the Service** (`admission`: its
//!   `serviceAllocation`), and not an address that pool avoids (`.0`/`.255`). One pool for both
//!   families is what every MetalLB release accepts.
//!
//! The lowest such address wins, IPv4 first, so plans stay deterministic. When the cluster's
//! pools are unknown (CRDs absent or not readable) only the families are checked.

use super::admission::{self, Admission};
use super::observed::{IpFamily, Observed, ObservedPool, ObservedService};
use crate::registry::Registry;
use std::collections::BTreeSet;
use std::net::IpAddr;

pub struct FreeAddresses<'a> {
    registry: &'a Registry,
    observed: &'a Observed,
    /// Held, requested, given by the registry, or already handed out by this plan.
    used: BTreeSet<IpAddr>,
}

impl<'a> FreeAddresses<'a> {
    pub fn new(
        registry: &'a Registry,
        observed: &'a Observed,
        used: BTreeSet<IpAddr>,
    ) -> FreeAddresses<'a> {
        FreeAddresses {
            registry,
            observed,
            used,
        }
    }

    /// Free addresses of one family, lowest first.
    fn of_family(&self, family: IpFamily) -> impl Iterator<Item = IpAddr> + '_ {
        self.registry
            .free_addresses(None, &self.used)
            .filter(move |ip| IpFamily::of(*ip) == family)
    }

    /// Cluster pools that admit `svc` (all of them when pools are unknown: `None`).
    fn admitting(&self, svc: &ObservedService) -> Option<Vec<&'a ObservedPool>> {
        let pools = self.observed.pools.as_ref()?;
        Some(
            pools
                .iter()
                .filter(|p| {
                    admission::admits(p, svc, self.observed.namespace_labels.as_ref()).is_yes()
                })
                .collect(),
        )
    }

    /// One free address per family of `svc`, from one pool that admits it, now reserved for
    /// it; `Err` says why there is none.
    pub fn take_for(&mut self, svc: &ObservedService) -> Result<Vec<IpAddr>, String> {
        let families = &svc.ip_families;
        let picked = match self.admitting(svc) {
            None => families
                .iter()
                .map(|f| self.of_family(*f).next())
                .collect::<Option<Vec<_>>>(),
            Some(pools) => self.in_one_pool(svc, &pools),
        };
        let Some(ips) = picked else {
            let names: Vec<&str> = families
                .iter()
                .map(|f| match f {
                    IpFamily::V4 => "IPv4",
                    IpFamily::V6 => "IPv6",
                })
                .collect();
            return Err(format!(
                "no free {} address in an IPAddressPool that admits {} (lbip moves a Service only to a free address of each of its families, from one pool whose serviceAllocation admits it)",
                names.join(" + "),
                svc.key()
            ));
        };
        self.used.extend(ips.iter().copied());
        Ok(super::observed::sorted(ips))
    }

    /// The lowest address of the first family whose pool admits `svc` and also has a free
    /// address of every other family.
    fn in_one_pool(&self, svc: &ObservedService, pools: &[&ObservedPool]) -> Option<Vec<IpAddr>> {
        let (first, rest) = svc.ip_families.split_first()?;
        self.of_family(*first).find_map(|ip| {
            let pool = pools.iter().find(|p| p.can_assign(ip))?;
            let mut ips = vec![ip];
            for family in rest {
                ips.push(
                    self.of_family(*family)
                        .find(|other| pool.can_assign(*other))?,
                );
            }
            Some(ips)
        })
    }
}

/// Why MetalLB would refuse `ip` as a request of `svc`, judged from the cluster's pools: no
/// pool covers it, or the one that does does not admit the Service. `None` when it would take
/// it, or when the pools (or namespace labels) are unknown.
pub fn refusal(observed: &Observed, svc: &ObservedService, ip: IpAddr) -> Option<String> {
    let pools = observed.pools.as_ref()?;
    let Some(pool) = pools.iter().find(|p| p.can_assign(ip)) else {
        return Some(format!(
            "{ip} is in no IPAddressPool of the cluster; MetalLB would refuse it and the Service would lose its IP (`kubectl lbip doctor` explains)"
        ));
    };
    match admission::admits(pool, svc, observed.namespace_labels.as_ref()) {
        Admission::No(why) => Some(format!(
            "{ip} is in IPAddressPool {}, which does not admit {}: {why}; MetalLB would refuse it (\"pool {} not compatible for ip assignment\") and the Service would lose its IP",
            pool.name,
            svc.key(),
            pool.name
        )),
        Admission::Yes | Admission::Unknown(_) => None,
    }
}
