//! Exports: the registry written in the formats other tools read. Every export is a pure
//! function from [`Registry`] to text, deterministic (same registry, same bytes), and lists
//! entries in registry order.

pub mod ansible_vars;
pub mod cilium;
pub mod dnsmasq;
pub mod hosts;
pub mod kube_vip;
pub mod markdown;
pub mod metallb;
pub mod pools;
pub mod purelb;

use super::model::Registry;

/// The export formats, as `lbip export <format>` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Hosts,
    Dnsmasq,
    Markdown,
    AnsibleVars,
    Metallb,
    /// The reservation objects of the registry's load balancer(s).
    Pools,
}

impl Format {
    pub const ALL: [Format; 6] = [
        Format::Hosts,
        Format::Dnsmasq,
        Format::Markdown,
        Format::AnsibleVars,
        Format::Metallb,
        Format::Pools,
    ];

    /// Formats that describe one cluster's pools (the others can merge every cluster).
    pub fn is_per_cluster(self) -> bool {
        matches!(self, Format::Metallb | Format::Pools)
    }

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Hosts => "hosts",
            Format::Dnsmasq => "dnsmasq",
            Format::Markdown => "markdown",
            Format::AnsibleVars => "ansible-vars",
            Format::Metallb => "metallb",
            Format::Pools => "pools",
        }
    }
}

/// The registry in `format`.
pub fn render(registry: &Registry, format: Format) -> String {
    match format {
        Format::Hosts => hosts::render(registry),
        Format::Dnsmasq => dnsmasq::render(registry),
        Format::Markdown => markdown::render(registry),
        Format::AnsibleVars => ansible_vars::render(registry),
        Format::Metallb => metallb::render(registry),
        Format::Pools => pools::render(registry, &pools::Options::default()),
    }
}
