//! The reconcile loop of MetalLB's controller (`controller/service.go` `convergeBalancer`),
//! run synchronously after each write so tests are deterministic.

use std::net::IpAddr;

use serde_json::{Value, json};

use super::allocator::{Allocator, Pool};
use super::{MetallbVersion, NAMESPACE, SvcInfo, annotation, desired_ips, quote_ips};
use crate::events::{self, METALLB};
use crate::resources::{POOLS, SERVICES};
use crate::store::Store;

pub struct MetalLb {
    version: MetallbVersion,
    alloc: Allocator,
}

fn ingress_ips(svc: &Value) -> Vec<IpAddr> {
    svc.pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|i| i.get("ip")?.as_str()?.parse().ok())
        .collect()
}

fn same_set(a: &[IpAddr], b: &[IpAddr]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}

/// The pools MetalLB would load: valid `IPAddressPool`s in its own namespace.
pub fn load_pools(store: &Store) -> Vec<Pool> {
    store
        .list(POOLS, Some(NAMESPACE))
        .into_iter()
        .filter_map(|p| Pool::parse(p).ok())
        .collect()
}

impl MetalLb {
    pub fn new(version: MetallbVersion) -> Self {
        MetalLb {
            version,
            alloc: Allocator::default(),
        }
    }

    pub fn version(&self) -> MetallbVersion {
        self.version
    }

    /// A full pass, as after a pool change or at start-up: Services that already hold an IP
    /// first (MetalLB >= 0.14.2), so a restart never hands a held IP to a pending Service.
    pub fn resync(&mut self, store: &mut Store) {
        self.alloc.set_pools(load_pools(store));
        let mut keys: Vec<(bool, String, String)> = store
            .list(SERVICES, None)
            .into_iter()
            .map(|s| {
                (
                    ingress_ips(s).is_empty(),
                    meta(s, "namespace"),
                    meta(s, "name"),
                )
            })
            .collect();
        keys.sort();
        let before = self.alloc.used_ips();
        for (_, ns, name) in keys {
            self.converge(store, &ns, &name);
        }
        self.after(store, before);
    }

    /// Forgets all allocations and rebuilds them from Service status, like a controller restart.
    pub fn restart(&mut self, store: &mut Store) {
        self.alloc = Allocator::default();
        self.resync(store);
    }

    pub fn service_changed(&mut self, store: &mut Store, ns: &str, name: &str) {
        let before = self.alloc.used_ips();
        self.converge(store, ns, name);
        self.after(store, before);
    }

    pub fn service_deleted(&mut self, store: &mut Store, ns: &str, name: &str) {
        let before = self.alloc.used_ips();
        self.alloc.unassign(&format!("{ns}/{name}"));
        self.after(store, before);
    }

    /// There is no periodic retry: a pending Service is looked at again only when an IP was
    /// freed (or pools or its own object changed).
    fn after(&mut self, store: &mut Store, before: std::collections::BTreeSet<IpAddr>) {
        let after = self.alloc.used_ips();
        if before.iter().all(|ip| after.contains(ip)) {
            return;
        }
        let pending: Vec<(String, String)> = store
            .list(SERVICES, None)
            .into_iter()
            .filter(|s| ingress_ips(s).is_empty() && wants_lb(s))
            .map(|s| (meta(s, "namespace"), meta(s, "name")))
            .collect();
        for (ns, name) in pending {
            self.converge(store, &ns, &name);
        }
    }

    fn converge(&mut self, store: &mut Store, ns: &str, name: &str) {
        let Some(svc) = store.get(SERVICES, ns, name).cloned() else {
            return;
        };
        let key = format!("{ns}/{name}");
        if svc
            .pointer("/spec/loadBalancerClass")
            .is_some_and(|c| !c.is_null())
        {
            // Not ours: MetalLB does not even see such Services.
            self.alloc.unassign(&key);
            return;
        }
        if !wants_lb(&svc) {
            self.alloc.unassign(&key);
            if !ingress_ips(&svc).is_empty() {
                self.write(store, &svc, &[], None);
            }
            return;
        }
        let info = SvcInfo::new(&svc, self.version, crate::namespaces::labels(store, ns));
        let desired = desired_ips(&svc, self.version);
        let mut ips = ingress_ips(&svc);
        if ips.is_empty() {
            self.alloc.unassign(&key);
        } else {
            if let Err(e) = self.alloc.assign(&info, &ips) {
                let msg = format!(
                    "current IP for \"{key}\" not allowed by config, will attempt for new IP assignment: {e}"
                );
                events::emit(store, &svc, "Normal", "ClearAssignment", &msg, METALLB);
                self.alloc.unassign(&key);
                ips.clear();
            }
            let pool = annotation(&svc, "address-pool", self.version).filter(|p| !p.is_empty());
            if !ips.is_empty() && pool.is_some_and(|p| self.alloc.pool_of(&key) != Some(p.as_str()))
            {
                self.alloc.unassign(&key);
                ips.clear();
            }
            match &desired {
                Ok(want) if !ips.is_empty() && !want.is_empty() && !same_set(want, &ips) => {
                    self.alloc.unassign(&key);
                    ips.clear();
                }
                Err(e) if !ips.is_empty() => {
                    // An invalid request never takes away an IP the Service already has.
                    events::emit(store, &svc, "Warning", "LoadBalancerFailed", e, METALLB);
                }
                _ => {}
            }
        }
        if ips.is_empty() {
            match desired.and_then(|want| self.allocate(&svc, &info, want)) {
                Ok(got) => {
                    events::emit(
                        store,
                        &svc,
                        "Normal",
                        "IPAllocated",
                        &format!("Assigned IP {}", quote_ips(&got)),
                        METALLB,
                    );
                    ips = got;
                }
                Err(e) => {
                    let msg = format!("Failed to allocate IP for \"{key}\": {e}");
                    events::emit(store, &svc, "Warning", "AllocationFailed", &msg, METALLB);
                    if !ingress_ips(&svc).is_empty() {
                        self.write(store, &svc, &[], None);
                    }
                    return;
                }
            }
        }
        let pool = self.alloc.pool_of(&key).map(str::to_string);
        self.write(store, &svc, &ips, pool.as_deref());
    }

    /// MetalLB's `allocateIPs`: explicit IPs, else the requested pool, else any pool.
    fn allocate(
        &mut self,
        svc: &Value,
        info: &SvcInfo,
        want: Vec<IpAddr>,
    ) -> Result<Vec<IpAddr>, String> {
        let pool = annotation(svc, "address-pool", self.version).filter(|p| !p.is_empty());
        if !want.is_empty() {
            // MetalLB's `ipfamily.ForAddressesIPs(want) != ipfamily.ForService(svc)`: the
            // request must have exactly the Service's families.
            let mut asked: Vec<bool> = want.iter().map(IpAddr::is_ipv6).collect();
            let mut has = info.families.clone();
            asked.sort();
            has.sort();
            if asked != has {
                return Err(format!(
                    "requested loadBalancer IP(s) {} does not match the ipFamily of the service",
                    quote_ips(&want)
                ));
            }
            if let Some(p) = &pool
                && !self.alloc.ips_in_pool(&want, p)
            {
                return Err(format!(
                    "requested loadBalancer IP(s) {} is not compatible with requested address pool {p}",
                    quote_ips(&want)
                ));
            }
            self.alloc.assign(info, &want)?;
            return Ok(want);
        }
        match pool {
            Some(p) => self.alloc.allocate_from_pool(info, &p),
            None => self.alloc.allocate(info),
        }
    }

    /// Writes status (and the pool annotation) when they differ from what is stored.
    fn write(&self, store: &mut Store, svc: &Value, ips: &[IpAddr], pool: Option<&str>) {
        let mut next = svc.clone();
        if let Some(p) = pool {
            next["metadata"]["annotations"]
                [format!("{}/ip-allocated-from-pool", self.version.prefix())] = json!(p);
        }
        let ingress: Vec<Value> = ips
            .iter()
            .map(|ip| json!({"ip": ip.to_string(), "ipMode": "VIP"}))
            .collect();
        next["status"]["loadBalancer"] = if ingress.is_empty() {
            json!({})
        } else {
            json!({"ingress": ingress})
        };
        if &next == svc {
            return;
        }
        if self.version >= MetallbVersion::METALLB_IO_PREFIX {
            let deprecated: Vec<String> = svc
                .pointer("/metadata/annotations")
                .and_then(Value::as_object)
                .map(|a| {
                    a.keys()
                        .filter(|k| k.starts_with("metallb.universe.tf"))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            for k in deprecated {
                events::emit(
                    store,
                    svc,
                    "Warning",
                    "deprecatedAnnotation",
                    &format!("Service uses deprecated annotation {k}"),
                    METALLB,
                );
            }
        }
        store.replace(SERVICES, next);
    }
}

fn meta(obj: &Value, field: &str) -> String {
    obj.pointer(&format!("/metadata/{field}"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn wants_lb(svc: &Value) -> bool {
    svc.pointer("/spec/type").and_then(Value::as_str) == Some("LoadBalancer")
        && svc
            .pointer("/spec/loadBalancerClass")
            .is_none_or(Value::is_null)
}
