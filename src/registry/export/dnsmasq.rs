//! dnsmasq (and Pi-hole) `address=/host/ip` lines for entries with a hostname.

use crate::registry::model::Registry;

pub fn render(registry: &Registry) -> String {
    let mut out = String::from("# Written by `lbip export dnsmasq`.\n");
    let mut seen = std::collections::BTreeSet::new();
    for entry in &registry.services {
        let Some(host) = entry.hostname() else {
            continue;
        };
        for ip in entry.ip_values() {
            if seen.insert((ip, host.to_ascii_lowercase())) {
                out.push_str(&format!("address=/{host}/{ip}\n"));
            }
        }
    }
    out
}
