//! Flat Ansible variables, `<id>_loadbalancer_ip: "ip"`, the shape of the hand-kept vars
//! files lbip replaces, so playbooks written against them keep working unchanged. Dual-stack
//! entries also get `<id>_loadbalancer_ips: ["v4", "v6"]`.

use crate::registry::model::Registry;

pub fn render(registry: &Registry) -> String {
    let mut out = String::from("# Written by `lbip export ansible-vars`.\n");
    for e in &registry.services {
        let var = var_name(e.id());
        let ips = e.ip_values();
        if let Some(primary) = ips.first() {
            out.push_str(&format!("{var}_loadbalancer_ip: \"{primary}\"\n"));
        }
        if ips.len() > 1 {
            let quoted: Vec<String> = ips.iter().map(|i| format!("\"{i}\"")).collect();
            out.push_str(&format!(
                "{var}_loadbalancer_ips: [{}]\n",
                quoted.join(", ")
            ));
        }
    }
    out
}

/// The registry id as an Ansible variable prefix: `-` (and anything else a variable name
/// cannot hold) becomes `_`.
pub fn var_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
