//! The "Stable IP Assignments" table people keep in their runbooks.

use crate::registry::model::{Entry, Protocol, Registry};

pub fn render(registry: &Registry) -> String {
    let mut out = String::from(
        "## Stable IP Assignments\n\n| Service | Namespace | IP | Port | URL |\n|---|---|---|---|---|\n",
    );
    for e in &registry.services {
        let ips: Vec<String> = e.ip_values().iter().map(|i| i.to_string()).collect();
        let row = [
            e.name().to_string(),
            e.namespace().to_string(),
            ips.join(", "),
            ports(e),
            e.url().unwrap_or_default(),
        ];
        let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

/// `5000`, or `53/UDP` when the protocol is not TCP.
fn ports(e: &Entry) -> String {
    let list: Vec<String> = e
        .ports
        .iter()
        .map(|p| match p.value.protocol {
            Protocol::Tcp => p.value.port.to_string(),
            _ => p.value.to_string(),
        })
        .collect();
    list.join(", ")
}

/// A table cell: `|` escaped so a value cannot break the table.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}
