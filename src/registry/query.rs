//! Questions the faces ask the registry: who owns an IP, which entry a Service is, which
//! addresses are still free. Answers are computed here once so every face agrees.

use super::model::{Cluster, Entry, Located, Registry};
use super::ranges::AddrRange;
use crate::provider::ProviderKind;
use std::collections::BTreeSet;
use std::net::IpAddr;

impl Registry {
    /// The entry with this registry id.
    pub fn entry(&self, id: &str) -> Option<&Entry> {
        self.services.iter().find(|e| e.id() == id)
    }

    /// The entry for the Service `namespace/name`.
    pub fn lookup(&self, namespace: &str, name: &str) -> Option<&Entry> {
        self.services
            .iter()
            .find(|e| e.namespace() == namespace && e.name() == name)
    }

    /// Every entry whose Service is called `name`, in any namespace (for manifests whose
    /// namespace is unknown).
    pub fn entries_named(&self, name: &str) -> Vec<&Entry> {
        self.services.iter().filter(|e| e.name() == name).collect()
    }

    /// Entries that are given `ip`.
    pub fn owners_of(&self, ip: IpAddr) -> Vec<&Entry> {
        self.services
            .iter()
            .filter(|e| e.ips.iter().any(|i| i.value == ip))
            .collect()
    }

    /// Every IP some entry is given.
    /// Every IP some entry is given (in a cluster's view, other clusters' entries too: no
    /// address of theirs is ever free here).
    pub fn registered_ips(&self) -> BTreeSet<IpAddr> {
        self.services
            .iter()
            .chain(&self.elsewhere)
            .flat_map(|e| e.ips.iter().map(|i| i.value))
            .collect()
    }

    /// The pool holding `ip`.
    pub fn pool_of(&self, ip: IpAddr) -> Option<&super::model::Pool> {
        self.pools.iter().find(|p| p.contains(ip))
    }

    /// The reserved range holding `ip`.
    pub fn reserved_range_of(&self, ip: IpAddr) -> Option<&super::model::NamedRanges> {
        self.reserved.iter().find(|r| r.contains(ip))
    }

    /// True when the load balancer could hand `ip` out from the registry's pools and the
    /// registry does not forbid it: inside a pool, outside every reserved range, and not
    /// `.0`/`.255` in a pool that avoids them ([`Registry::avoids_buggy_ips`]).
    pub fn is_assignable(&self, ip: IpAddr) -> bool {
        let Some(pool) = self.pool_of(ip) else {
            return false;
        };
        if self.avoids_buggy_ips(pool) && is_buggy(ip) {
            return false;
        }
        self.reserved_range_of(ip).is_none()
    }

    /// Free addresses, lowest first: assignable, not given to any entry and not in
    /// `also_used` (e.g. IPs the cluster has handed out). Restricted to `block` when given.
    /// Pools are walked in file order, like MetalLB walks them.
    pub fn free_addresses<'a>(
        &'a self,
        block: Option<&'a super::model::NamedRanges>,
        also_used: &'a BTreeSet<IpAddr>,
    ) -> impl Iterator<Item = IpAddr> + 'a {
        let taken = self.registered_ips();
        let ranges: Vec<AddrRange> = match block {
            Some(b) => b.ranges().copied().collect(),
            None => self
                .pools
                .iter()
                .flat_map(|p| p.ranges.ranges().copied())
                .collect(),
        };
        let mut seen = BTreeSet::new();
        ranges
            .into_iter()
            .flat_map(|r| {
                let v: Vec<IpAddr> = r.iter().take(1 << 20).collect();
                v.into_iter()
            })
            .filter(move |ip| {
                seen.insert(*ip)
                    && self.is_assignable(*ip)
                    && !taken.contains(ip)
                    && !also_used.contains(ip)
            })
    }

    /// Whether addresses ending in `.0` and `.255` are left out of `pool`: MetalLB's
    /// `avoidBuggyIPs`, or a load balancer that never hands them out (kube-vip's cloud
    /// provider skips them in every range).
    pub fn avoids_buggy_ips(&self, pool: &super::model::Pool) -> bool {
        pool.avoid_buggy_ips
            || self
                .providers_of(self.cluster_named(pool.cluster.as_ref()))
                .iter()
                .all(|k| k.provider().behaviour().skips_dot_zero_and_255)
    }

    /// The block named `name`.
    pub fn block(&self, name: &str) -> Option<&super::model::NamedRanges> {
        self.blocks.iter().find(|b| b.name.value == name)
    }

    /// How pins are written for this registry: its load balancer(s) and MetalLB's prefix.
    pub fn pin_style(&self) -> crate::provider::pins::PinStyle {
        crate::provider::pins::PinStyle {
            providers: self.providers.clone(),
            prefix: self.prefix,
        }
    }

    /// What an entry's pin says: its addresses, its sharing key, and the namespaces of the
    /// other entries sharing that key (Cilium shares across namespaces only when told).
    pub fn want_of(&self, entry: &Entry) -> crate::provider::Want {
        let share_namespaces = match entry.shared_key() {
            None => Vec::new(),
            Some(key) => {
                let mut ns: Vec<String> = self
                    .services
                    .iter()
                    .filter(|e| e.shared_key() == Some(key) && e.namespace() != entry.namespace())
                    .map(|e| e.namespace().to_string())
                    .collect();
                ns.sort();
                ns.dedup();
                ns
            }
        };
        crate::provider::Want {
            ips: entry.ip_values(),
            shared_key: entry.shared_key().map(str::to_string),
            share_namespaces,
        }
    }

    /// The cluster named `name`.
    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name() == name)
    }

    /// The cluster a pool or an entry with this `cluster:` value belongs to: the one it
    /// names, else the registry's only cluster; `None` in a registry without clusters (or
    /// when the value names no cluster, which lint reports).
    pub fn cluster_named(&self, cluster: Option<&Located<String>>) -> Option<&Cluster> {
        match cluster {
            Some(name) => self.cluster(&name.value),
            None if self.clusters.len() == 1 => self.clusters.first(),
            None => None,
        }
    }

    /// The cluster reached through kubeconfig context `context`.
    pub fn cluster_for_context(&self, context: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.context() == context)
    }

    /// The load balancers a cluster runs: its own `provider`, else the registry's.
    pub fn providers_of(&self, cluster: Option<&Cluster>) -> Vec<ProviderKind> {
        cluster
            .and_then(|c| c.providers.as_ref())
            .map_or_else(|| self.providers.clone(), |p| p.value.clone())
    }

    /// The registry as one cluster sees it: that cluster's pools and entries, the
    /// load balancers it runs, and every reserved range and block. The faces that act on a
    /// cluster work on this view, so every rule applies per cluster unchanged. `None` when
    /// no cluster has that name.
    pub fn for_cluster(&self, name: &str) -> Option<Registry> {
        let cluster = self.cluster(name)?;
        let ours =
            |c: Option<&Located<String>>| self.cluster_named(c).is_some_and(|c| c.name() == name);
        Some(Registry {
            providers: self.providers_of(Some(cluster)),
            clusters: vec![cluster.clone()],
            pools: self
                .pools
                .iter()
                .filter(|p| ours(p.cluster.as_ref()))
                .cloned()
                .collect(),
            services: self
                .services
                .iter()
                .filter(|e| ours(e.cluster.as_ref()))
                .cloned()
                .collect(),
            elsewhere: self
                .services
                .iter()
                .filter(|e| !ours(e.cluster.as_ref()))
                .cloned()
                .collect(),
            ..self.clone()
        })
    }

    /// The view of the cluster a command names (`--cluster NAME`, Ansible `cluster:`): that
    /// cluster's; with no name, the whole registry when it has at most one cluster, else an
    /// error asking for one (`what` finishes the sentence: who needs it and how to say it).
    pub fn view_named(&self, name: Option<&str>, what: &str) -> Result<Registry, String> {
        let names = || {
            self.clusters
                .iter()
                .map(|c| c.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match name {
            Some(n) => self.for_cluster(n).ok_or_else(|| {
                if self.clusters.is_empty() {
                    format!("the registry has no `clusters:`, so there is no cluster `{n}`")
                } else {
                    format!("the registry has no cluster `{n}` (clusters: {})", names())
                }
            }),
            None if self.clusters.len() > 1 => {
                Err(format!("the registry has clusters {}, so {what}", names()))
            }
            None => Ok(match self.clusters.first() {
                Some(only) => self.for_cluster(only.name()).expect("exists"),
                None => self.clone(),
            }),
        }
    }

    /// The cluster a kubeconfig context reaches and its view: `Ok(None)` for a registry
    /// without `clusters:`; an error naming the clusters when the context is none of theirs
    /// (a command must never act on a cluster with another cluster's entries).
    pub fn view_for_context(&self, context: &str) -> Result<Option<(String, Registry)>, String> {
        if self.clusters.is_empty() {
            return Ok(None);
        }
        match self.cluster_for_context(context) {
            Some(c) => Ok(Some((
                c.name().to_string(),
                self.for_cluster(c.name()).expect("the cluster exists"),
            ))),
            None => {
                let known: Vec<String> = self
                    .clusters
                    .iter()
                    .map(|c| format!("{} (context {})", c.name(), c.context()))
                    .collect();
                Err(format!(
                    "the kubeconfig context `{context}` is none of the registry's clusters: {}\n  = help: pass --context for one of them, or set its `context:` in the registry's `clusters:`",
                    known.join(", ")
                ))
            }
        }
    }

    /// In a cluster's view: the entry of another cluster that is given `ip`.
    pub fn owner_elsewhere(&self, ip: IpAddr) -> Option<&Entry> {
        self.elsewhere
            .iter()
            .find(|e| e.ips.iter().any(|i| i.value == ip))
    }

    /// The pools of the cluster `cluster` belongs to (every pool in a registry without
    /// clusters).
    pub fn pools_of_cluster<'a>(
        &'a self,
        cluster: Option<&'a Cluster>,
    ) -> impl Iterator<Item = &'a super::model::Pool> + 'a {
        self.pools.iter().filter(move |p| match cluster {
            None => true,
            Some(c) => self
                .cluster_named(p.cluster.as_ref())
                .is_some_and(|pc| pc.name() == c.name()),
        })
    }
}

/// `.0` or `.255` in the last IPv4 octet: addresses some old network gear mishandles,
/// which MetalLB skips when a pool sets `avoidBuggyIPs`.
pub fn is_buggy(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => matches!(v4.octets()[3], 0 | 255),
        IpAddr::V6(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use crate::registry::Loaded;
    use std::collections::BTreeSet;

    const EXAMPLE: &str = include_str!("../../examples/registry.yaml");

    #[test]
    fn the_example_loads_and_answers_lookups() {
        let loaded = Loaded::from_text(EXAMPLE, "examples/registry.yaml").unwrap();
        assert!(
            loaded.findings.iter().all(|f| !f.is_error()),
            "{:?}",
            loaded.findings
        );
        let reg = loaded.require_valid().unwrap();
        assert_eq!(reg.services.len(), 12);
        let jh = reg.lookup("jupyterhub", "proxy-public").unwrap();
        assert_eq!(jh.id(), "jupyterhub");
        assert_eq!(reg.entries_named("seldon-scheduler").len(), 2);
        assert_eq!(
            reg.owners_of("192.168.1.215".parse().unwrap())[0].id(),
            "mlflow"
        );
        let used = BTreeSet::new();
        let free: Vec<String> = reg
            .free_addresses(None, &used)
            .take(2)
            .map(|i| i.to_string())
            .collect();
        assert_eq!(free, ["192.168.1.203", "192.168.1.210"]);
        let platform = reg.block("platform").unwrap();
        let first = reg.free_addresses(Some(platform), &used).next().unwrap();
        assert_eq!(first.to_string(), "192.168.1.210");
    }

    #[test]
    fn nesting_under_lbip_key_is_the_same_registry() {
        let nested = format!(
            "lbip:\n{}",
            EXAMPLE
                .lines()
                .map(|l| format!("  {l}\n"))
                .collect::<String>()
        );
        let a = Loaded::from_text(EXAMPLE, "a").unwrap();
        let b = Loaded::from_text(&nested, "b").unwrap();
        assert_eq!(a.registry.services.len(), b.registry.services.len());
        assert_eq!(
            a.registry.services[0].ip_values(),
            b.registry.services[0].ip_values()
        );
    }

    #[test]
    fn unknown_keys_are_errors_with_a_hint_at_the_key() {
        let text = "services:\n  mlflow:\n    namespace: mlflow\n    ip: 192.168.1.215\n    hostnme: mlflow.test\n";
        let loaded = Loaded::from_text(text, "r.yaml").unwrap();
        let f = loaded
            .findings
            .iter()
            .find(|f| f.code == "unknown-key")
            .unwrap();
        assert_eq!(
            (f.code, f.line, f.column),
            ("unknown-key", Some(5), Some(5))
        );
        assert_eq!(f.hint.as_deref(), Some("did you mean `hostname`?"));
        assert_eq!(f.id.as_deref(), Some("mlflow"));
    }
}
