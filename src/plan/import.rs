//! `import`: a registry drafted from what the cluster runs today, for adopting lbip on an
//! existing cluster. Every LoadBalancer Service with an IP becomes an entry on that IP.

use super::observed::Observed;
use crate::metallb::{self, Prefix, Reader};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// Registry YAML for the observed cluster.
pub fn import(observed: &Observed) -> String {
    let prefix = match observed.reader().metallb {
        Reader::UniverseTfOnly => Prefix::UniverseTf,
        Reader::Current => Prefix::MetallbIo,
    };
    let mut y = String::new();
    y.push_str("# Drafted by `kubectl lbip import` from the cluster's current assignments.\n");
    y.push_str("# Review it, then run `lbip lint` and `kubectl lbip check`.\n");
    let _ = writeln!(y, "provider:\n  annotationPrefix: {}", prefix.as_str());
    let pools = observed.pools.as_ref().filter(|p| !p.is_empty());
    if pools.is_none() {
        y.push_str(
            "# No MetalLB IPAddressPool was found: add `pools:` before `lbip lint` passes.\n",
        );
    }
    if let Some(pools) = pools {
        y.push_str("pools:\n");
        for p in pools {
            let addrs: Vec<String> = p.addresses.iter().map(|a| quote(a)).collect();
            let _ = writeln!(
                y,
                "  - name: {}\n    addresses: [{}]",
                quote(&p.name),
                addrs.join(", ")
            );
            if p.avoid_buggy_ips {
                y.push_str("    avoidBuggyIPs: true\n");
            }
        }
    }
    let services: Vec<_> = observed
        .load_balancers()
        .filter(|s| observed.scope.includes_service(s) && !s.assigned.is_empty())
        .collect();
    if services.is_empty() {
        y.push_str("services: {}\n");
        return y;
    }
    let mut name_count: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &services {
        *name_count.entry(s.name.as_str()).or_default() += 1;
    }
    // IPs several Services hold: they share on purpose (MetalLB allowed it), keep the key.
    let mut holders: BTreeMap<_, usize> = BTreeMap::new();
    for s in &services {
        for ip in &s.assigned {
            *holders.entry(*ip).or_default() += 1;
        }
    }
    y.push_str("services:\n");
    let mut ids = BTreeSet::new();
    for s in services {
        let mut id = if name_count[s.name.as_str()] == 1 {
            s.name.clone()
        } else {
            format!("{}-{}", s.namespace, s.name)
        };
        while !ids.insert(id.clone()) {
            id.push('x');
        }
        let _ = writeln!(
            y,
            "  {}:\n    namespace: {}",
            quote(&id),
            quote(&s.namespace)
        );
        if id != s.name {
            let _ = writeln!(y, "    name: {}", quote(&s.name));
        }
        if s.assigned.len() == 1 {
            let _ = writeln!(y, "    ip: {}", s.assigned[0]);
        } else {
            let ips: Vec<String> = s.assigned.iter().map(|i| i.to_string()).collect();
            let _ = writeln!(y, "    ips: [{}]", ips.join(", "));
        }
        if !s.ports.is_empty() {
            let ports: Vec<String> = s
                .ports
                .iter()
                .map(|p| {
                    p.strip_suffix("/TCP")
                        .map(String::from)
                        .unwrap_or_else(|| quote(p))
                })
                .collect();
            let _ = writeln!(y, "    ports: [{}]", ports.join(", "));
        }
        if s.assigned.iter().any(|ip| holders[ip] > 1) {
            let key = Prefix::ALL
                .iter()
                .find_map(|p| s.annotations.get(&p.allow_shared_ip()))
                .cloned()
                .unwrap_or_else(|| metallb::format_ip_list(&s.assigned));
            let _ = writeln!(y, "    sharedKey: {}", quote(&key));
        }
    }
    y
}

/// Plain YAML scalars stay bare; anything YAML could misread is double-quoted.
fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        && !s.starts_with(['-', '.'])
        && s.parse::<f64>().is_err()
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n" | "~"
        );
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).expect("a string serialises")
    }
}
