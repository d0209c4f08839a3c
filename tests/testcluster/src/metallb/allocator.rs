//! Pools and address bookkeeping, after MetalLB's `internal/allocator` and `internal/config`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Subnets, Ipv6Subnets};
use serde_json::Value;

use super::{SvcInfo, quote_ips};
use crate::selector::Selector;

/// `spec.serviceAllocation` of a pool.
#[derive(Debug, Clone, Default)]
pub struct ServiceAllocation {
    priority: i64,
    namespaces: Vec<String>,
    /// Matched against the labels of the Service's namespace (MetalLB resolves them to
    /// namespace names when it loads the pool).
    namespace_selectors: Vec<Selector>,
    service_selectors: Vec<Selector>,
}

/// An `IPAddressPool`, parsed.
#[derive(Debug, Clone)]
pub struct Pool {
    pub name: String,
    /// In `spec.addresses` order; ranges are split into ascending CIDRs, host bits masked.
    cidrs: Vec<IpNet>,
    auto_assign: bool,
    avoid_buggy_ips: bool,
    allocation: Option<ServiceAllocation>,
}

/// Parses one `spec.addresses` entry: a CIDR or a `start-end` range.
fn parse_entry(entry: &str) -> Result<Vec<IpNet>, String> {
    let bad = || format!("invalid CIDR {entry:?}");
    if let Some((a, b)) = entry.split_once('-') {
        let (a, b): (IpAddr, IpAddr) = (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        );
        let nets: Vec<IpNet> = match (a, b) {
            (IpAddr::V4(a), IpAddr::V4(b)) if a <= b => {
                Ipv4Subnets::new(a, b, 0).map(IpNet::V4).collect()
            }
            (IpAddr::V6(a), IpAddr::V6(b)) if a <= b => {
                Ipv6Subnets::new(a, b, 0).map(IpNet::V6).collect()
            }
            _ => {
                return Err(format!(
                    "invalid IP range {entry:?}: start must be lower than end, same family"
                ));
            }
        };
        return Ok(nets);
    }
    let net: IpNet = entry.trim().parse().map_err(|_| bad())?;
    Ok(vec![net.trunc()])
}

impl Pool {
    pub fn parse(obj: &Value) -> Result<Pool, String> {
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let spec = obj.get("spec").cloned().unwrap_or_default();
        let mut cidrs = Vec::new();
        for entry in spec
            .get("addresses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            cidrs.extend(parse_entry(entry.as_str().unwrap_or_default())?);
        }
        let allocation = spec
            .get("serviceAllocation")
            .filter(|v| v.is_object())
            .map(|a| ServiceAllocation {
                priority: a.get("priority").and_then(Value::as_i64).unwrap_or(0),
                namespaces: a
                    .get("namespaces")
                    .and_then(Value::as_array)
                    .map(|v| {
                        v.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
                namespace_selectors: a
                    .get("namespaceSelectors")
                    .and_then(Value::as_array)
                    .map(|v| v.iter().map(Selector::from_object).collect())
                    .unwrap_or_default(),
                service_selectors: a
                    .get("serviceSelectors")
                    .and_then(Value::as_array)
                    .map(|v| v.iter().map(Selector::from_object).collect())
                    .unwrap_or_default(),
            });
        Ok(Pool {
            name,
            cidrs,
            auto_assign: spec
                .get("autoAssign")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            avoid_buggy_ips: spec
                .get("avoidBuggyIPs")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            allocation,
        })
    }

    /// The webhook's overlap check: within this pool, then against the others.
    pub fn check_overlaps<'a>(&self, others: impl Iterator<Item = &'a Pool>) -> Result<(), String> {
        let overlap = |a: &IpNet, b: &IpNet| a.contains(&b.network()) || b.contains(&a.network());
        let mut seen: Vec<IpNet> = Vec::new();
        for c in &self.cidrs {
            if let Some(prev) = seen.iter().find(|p| overlap(p, c)) {
                return Err(format!(
                    "CIDR \"{c}\" overlaps with already defined CIDR \"{prev}\""
                ));
            }
            seen.push(*c);
        }
        for other in others.filter(|o| o.name != self.name) {
            for c in &self.cidrs {
                if let Some(prev) = other.cidrs.iter().find(|p| overlap(p, c)) {
                    return Err(format!(
                        "CIDR \"{c}\" overlaps with already defined CIDR \"{prev}\""
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.cidrs.iter().any(|c| c.contains(&ip))
    }

    /// `.0` and `.255` IPv4 addresses, which some old client stacks mishandle.
    fn buggy(&self, ip: IpAddr) -> bool {
        self.avoid_buggy_ips && matches!(ip, IpAddr::V4(v4) if matches!(v4.octets()[3], 0 | 255))
    }

    /// MetalLB's `isPoolCompatibleWithService`; a pool without `serviceAllocation` takes all.
    fn compatible(&self, svc: &SvcInfo) -> bool {
        let Some(a) = &self.allocation else {
            return true;
        };
        let ns_ok = (a.namespaces.is_empty() && a.namespace_selectors.is_empty())
            || a.namespaces.contains(&svc.namespace)
            || a.namespace_selectors
                .iter()
                .any(|s| s.matches(Some(&svc.namespace_labels)));
        let svc_ok = a.service_selectors.is_empty()
            || a.service_selectors
                .iter()
                .any(|s| s.matches(Some(&svc.labels)));
        ns_ok && svc_ok
    }

    /// Every address, walking `spec.addresses` in the listed order.
    fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.cidrs.iter().flat_map(|c| {
            let (lo, hi) = (to_u128(c.network()), to_u128(c.broadcast()));
            let v6 = c.network().is_ipv6();
            (lo..=hi).map(move |n| from_u128(n, v6))
        })
    }
}

fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_u128(n: u128, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(n.into())
    } else {
        IpAddr::V4((n as u32).into())
    }
}

#[derive(Debug, Clone)]
struct Assignment {
    ips: Vec<IpAddr>,
    pool: String,
    ports: Vec<String>,
    sharing: String,
    backend: String,
}

/// The controller's in-memory allocation state (lost on restart, rebuilt from Service status).
#[derive(Debug, Default)]
pub struct Allocator {
    /// Sorted by name. Real MetalLB walks its fallback pools over a Go map, i.e. in random
    /// order; a test server must be deterministic, so name order stands in for it.
    pools: Vec<Pool>,
    assigned: BTreeMap<String, Assignment>,
}

impl Allocator {
    pub fn set_pools(&mut self, mut pools: Vec<Pool>) {
        pools.sort_by(|a, b| a.name.cmp(&b.name));
        self.pools = pools;
    }

    pub fn pool_of(&self, key: &str) -> Option<&str> {
        self.assigned.get(key).map(|a| a.pool.as_str())
    }

    pub fn used_ips(&self) -> BTreeSet<IpAddr> {
        self.assigned
            .values()
            .flat_map(|a| a.ips.iter().copied())
            .collect()
    }

    pub fn unassign(&mut self, key: &str) {
        self.assigned.remove(key);
    }

    fn pool_for(&self, ip: IpAddr) -> Option<&Pool> {
        self.pools.iter().find(|p| p.contains(ip))
    }

    /// MetalLB's `checkSharing`: may `svc` take `ip` next to its current users?
    fn check_sharing(&self, svc: &SvcInfo, ip: IpAddr) -> Result<(), String> {
        let others: Vec<(&String, &Assignment)> = self
            .assigned
            .iter()
            .filter(|(k, a)| **k != svc.key && a.ips.contains(&ip))
            .collect();
        let Some((_, first)) = others.first() else {
            return Ok(());
        };
        let sharing_ok = !first.sharing.is_empty()
            && first.sharing == svc.sharing
            && first.backend == svc.backend;
        if !sharing_ok {
            let users: Vec<&str> = others.iter().map(|(k, _)| k.as_str()).collect();
            return Err(format!(
                "can't change sharing key for \"{}\", address also in use by {}",
                svc.key,
                users.join(",")
            ));
        }
        for port in &svc.ports {
            if others.iter().any(|(_, a)| a.ports.contains(port)) {
                return Err(format!("port {port} is already in use on \"{ip}\""));
            }
        }
        Ok(())
    }

    fn record(&mut self, svc: &SvcInfo, ips: Vec<IpAddr>, pool: String) {
        let a = Assignment {
            ips,
            pool,
            ports: svc.ports.clone(),
            sharing: svc.sharing.clone(),
            backend: svc.backend.clone(),
        };
        self.assigned.insert(svc.key.clone(), a);
    }

    /// Gives `svc` exactly `ips` (MetalLB's `Assign`): used for explicit requests and to
    /// re-validate an IP a Service already holds.
    pub fn assign(&mut self, svc: &SvcInfo, ips: &[IpAddr]) -> Result<(), String> {
        let mut pool_name = String::new();
        for &ip in ips {
            let Some(pool) = self.pool_for(ip).filter(|p| !p.buggy(ip)) else {
                return Err(format!("{} is not allowed in config", quote_ips(ips)));
            };
            if !pool.compatible(svc) {
                return Err(format!(
                    "pool {} not compatible for ip assignment",
                    pool.name
                ));
            }
            self.check_sharing(svc, ip)?;
            pool_name = pool.name.clone();
        }
        self.record(svc, ips.to_vec(), pool_name);
        Ok(())
    }

    /// Whether every IP lies in the named pool (for `address-pool` plus explicit IPs).
    pub fn ips_in_pool(&self, ips: &[IpAddr], pool: &str) -> bool {
        ips.iter()
            .all(|ip| self.pool_for(*ip).is_some_and(|p| p.name == pool))
    }

    /// One address per family of `svc` from `pool` (MetalLB's `getIPFromCIDR` per family:
    /// a dual-stack Service gets both from the same pool, or none).
    fn first_fit(&self, svc: &SvcInfo, pool: &Pool) -> Option<Vec<IpAddr>> {
        svc.families
            .iter()
            .map(|v6| self.first_fit_family(svc, pool, *v6))
            .collect()
    }

    fn first_fit_family(&self, svc: &SvcInfo, pool: &Pool, v6: bool) -> Option<IpAddr> {
        let used = self.used_ips();
        let candidates = || {
            pool.addresses()
                .filter(move |ip| ip.is_ipv6() == v6 && !pool.buggy(*ip))
        };
        // A Service with a sharing key first joins an address already in use that it may share.
        if !svc.sharing.is_empty()
            && let Some(ip) =
                candidates().find(|ip| used.contains(ip) && self.check_sharing(svc, *ip).is_ok())
        {
            return Some(ip);
        }
        candidates().find(|ip| !used.contains(ip))
    }

    /// MetalLB's `AllocateFromPool` (the `address-pool` annotation).
    pub fn allocate_from_pool(&mut self, svc: &SvcInfo, name: &str) -> Result<Vec<IpAddr>, String> {
        let pool = self
            .pools
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| format!("unknown pool \"{name}\""))?;
        if !pool.compatible(svc) {
            return Err(format!("pool {name} not compatible for ip assignment"));
        }
        let ips = self
            .first_fit(svc, pool)
            .ok_or_else(|| format!("no available IPs in pool \"{name}\""))?;
        self.record(svc, ips.clone(), name.to_string());
        Ok(ips)
    }

    /// MetalLB's `Allocate`: pinned pools (matching `serviceAllocation`, by ascending priority,
    /// 0 last), then auto-assign pools without `serviceAllocation`.
    pub fn allocate(&mut self, svc: &SvcInfo) -> Result<Vec<IpAddr>, String> {
        let mut pinned: Vec<&Pool> = self
            .pools
            .iter()
            .filter(|p| p.auto_assign && p.allocation.is_some() && p.compatible(svc))
            .collect();
        pinned.sort_by_key(|p| {
            let prio = p.allocation.as_ref().map_or(0, |a| a.priority);
            (prio <= 0, prio)
        });
        let fallback = self
            .pools
            .iter()
            .filter(|p| p.auto_assign && p.allocation.is_none());
        let found = pinned
            .into_iter()
            .chain(fallback)
            .find_map(|p| Some((self.first_fit(svc, p)?, p.name.clone())));
        let (ips, pool) = found.ok_or_else(|| "no available IPs".to_string())?;
        self.record(svc, ips.clone(), pool);
        Ok(ips)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pool(name: &str, spec: Value) -> Pool {
        Pool::parse(&json!({"metadata": {"name": name}, "spec": spec})).unwrap()
    }

    fn svc(key: &str, sharing: &str, port: u16) -> SvcInfo {
        let (ns, _) = key.split_once('/').unwrap();
        SvcInfo {
            key: key.into(),
            namespace: ns.into(),
            labels: Default::default(),
            ports: vec![format!("TCP/{port}")],
            sharing: sharing.into(),
            backend: String::new(),
            families: vec![false],
            namespace_labels: Default::default(),
        }
    }

    #[test]
    fn host_bits_are_masked_and_ranges_split() {
        let p = pool(
            "p",
            json!({"addresses": ["192.168.1.240/24", "10.0.0.1-10.0.0.6"]}),
        );
        assert!(p.contains("192.168.1.0".parse().unwrap()));
        assert_eq!(p.addresses().count(), 256 + 6);
        assert_eq!(p.addresses().next().unwrap().to_string(), "192.168.1.0");
        assert!(
            Pool::parse(&json!({"metadata": {"name": "x"}, "spec": {"addresses": ["10.0.0.1"]}}))
                .is_err()
        );
    }

    #[test]
    fn overlaps_are_reported_like_the_webhook() {
        let a = pool("a", json!({"addresses": ["10.0.0.0/24"]}));
        let b = pool("b", json!({"addresses": ["10.0.0.128/25"]}));
        assert_eq!(
            b.check_overlaps([&a].into_iter()).unwrap_err(),
            "CIDR \"10.0.0.128/25\" overlaps with already defined CIDR \"10.0.0.0/24\""
        );
        let c = pool(
            "c",
            json!({"addresses": ["10.1.0.0/24", "10.1.0.5-10.1.0.6"]}),
        );
        assert!(c.check_overlaps(std::iter::empty()).is_err());
    }

    #[test]
    fn first_free_in_listed_order_buggy_and_auto_assign() {
        let mut a = Allocator::default();
        a.set_pools(vec![
            pool(
                "manual",
                json!({"addresses": ["10.9.0.0/30"], "autoAssign": false}),
            ),
            pool(
                "z",
                json!({"addresses": ["10.0.1.0/30", "10.0.0.0/30"], "avoidBuggyIPs": true}),
            ),
        ]);
        assert_eq!(
            a.allocate(&svc("n/a", "", 80)).unwrap()[0].to_string(),
            "10.0.1.1"
        );
        assert_eq!(
            a.allocate(&svc("n/b", "", 80)).unwrap()[0].to_string(),
            "10.0.1.2"
        );
        assert_eq!(
            a.allocate(&svc("n/c", "", 80)).unwrap()[0].to_string(),
            "10.0.1.3"
        );
        assert_eq!(
            a.allocate(&svc("n/d", "", 80)).unwrap()[0].to_string(),
            "10.0.0.1"
        );
        assert_eq!(
            a.allocate_from_pool(&svc("n/e", "", 80), "manual").unwrap()[0].to_string(),
            "10.9.0.0"
        );
        assert_eq!(a.pool_of("n/e"), Some("manual"));
        assert_eq!(
            a.assign(&svc("n/f", "", 80), &["10.0.0.0".parse().unwrap()])
                .unwrap_err(),
            r#"["10.0.0.0"] is not allowed in config"#
        );
    }

    #[test]
    fn sharing_rules() {
        let mut a = Allocator::default();
        a.set_pools(vec![pool("p", json!({"addresses": ["10.0.0.0/30"]}))]);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        a.assign(&svc("n/a", "k", 80), &[ip]).unwrap();
        a.assign(&svc("n/b", "k", 81), &[ip]).unwrap();
        assert_eq!(
            a.assign(&svc("n/c", "k", 80), &[ip]).unwrap_err(),
            r#"port TCP/80 is already in use on "10.0.0.1""#
        );
        assert_eq!(
            a.assign(&svc("n/d", "", 82), &[ip]).unwrap_err(),
            r#"can't change sharing key for "n/d", address also in use by n/a,n/b"#
        );
        // Automatic allocation with the key joins the shared address first.
        assert_eq!(a.allocate(&svc("n/e", "k", 83)).unwrap(), vec![ip]);
    }

    #[test]
    fn pinned_pools_by_priority_and_restrictions() {
        let mut a = Allocator::default();
        a.set_pools(vec![
            pool("any", json!({"addresses": ["10.0.0.0/30"]})),
            pool("late", json!({"addresses": ["10.2.0.0/30"], "serviceAllocation": {"namespaces": ["ml"]}})),
            pool("first", json!({"addresses": ["10.1.0.0/30"], "serviceAllocation": {"priority": 1, "namespaces": ["ml"]}})),
        ]);
        assert_eq!(
            a.allocate(&svc("ml/a", "", 80)).unwrap()[0].to_string(),
            "10.1.0.0"
        );
        assert_eq!(
            a.allocate(&svc("web/a", "", 80)).unwrap()[0].to_string(),
            "10.0.0.0"
        );
        assert_eq!(
            a.assign(&svc("web/b", "", 80), &["10.2.0.1".parse().unwrap()])
                .unwrap_err(),
            "pool late not compatible for ip assignment"
        );
    }
}
