//! `lbip export <format> [--write FILE]`: the registry as /etc/hosts, dnsmasq, markdown,
//! Ansible vars or MetalLB pools. Stdout by default; `--write` replaces the file atomically
//! (for `hosts`, only the block between `# BEGIN lbip` and `# END lbip`), through
//! `atomic_file`, which follows symlinks.

use crate::atomic_file;
use crate::faces::common::{RegistryArg, load_valid_or_report};
use crate::faces::exit;
use crate::registry::export::{self, Format, hosts};
use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FormatArg {
    /// /etc/hosts lines between `# BEGIN lbip` and `# END lbip`
    Hosts,
    /// dnsmasq / Pi-hole `address=/host/ip` lines
    Dnsmasq,
    /// The "Stable IP Assignments" table
    Markdown,
    /// Flat `<id>_loadbalancer_ip: "ip"` Ansible variables
    AnsibleVars,
    /// MetalLB IPAddressPools and an L2Advertisement
    Metallb,
    /// The reservation of the registry's load balancer(s): MetalLB pools, Cilium
    /// CiliumLoadBalancerIPPools, the kube-vip ConfigMap or PureLB ServiceGroups
    Pools,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Hosts => Format::Hosts,
            FormatArg::Dnsmasq => Format::Dnsmasq,
            FormatArg::Markdown => Format::Markdown,
            FormatArg::AnsibleVars => Format::AnsibleVars,
            FormatArg::Metallb => Format::Metallb,
            FormatArg::Pools => Format::Pools,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub registry: RegistryArg,
    /// What to write
    #[arg(value_enum)]
    pub format: FormatArg,
    /// Write to FILE (atomically) instead of stdout; for `hosts`, replace only lbip's block
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// Only this cluster's entries (and its pools): with `clusters:` in the registry, the
    /// pool formats need one; the others merge every cluster without it
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    /// The apiVersion of Cilium's pools (`pools`): cilium.io/v2 for Cilium >= 1.18,
    /// cilium.io/v2alpha1 before
    #[arg(long, value_name = "VERSION", default_value = "cilium.io/v2")]
    pub cilium_api_version: String,
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let registry = match load_valid_or_report(&args.registry) {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let format = Format::from(args.format);
    // Pools are per cluster; names and addresses can be merged (one /etc/hosts for the
    // segment).
    let registry = if args.cluster.is_some() || format.is_per_cluster() {
        match registry.view_named(
            args.cluster.as_deref(),
            "this export needs to know which one (pools are per cluster): pass --cluster NAME",
        ) {
            Ok(view) => view,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(exit::ERROR);
            }
        }
    } else {
        registry
    };
    let text = match format {
        Format::Pools => export::pools::render(
            &registry,
            &export::pools::Options {
                cilium_api_version: args.cilium_api_version.clone(),
            },
        ),
        f => export::render(&registry, f),
    };
    let Some(path) = args.write else {
        std::io::stdout().write_all(text.as_bytes())?;
        return Ok(exit::OK);
    };
    // A symlink is followed (core policy, `atomic_file`): its target is read and replaced.
    let content = if format == Format::Hosts {
        let existing = match std::fs::read_to_string(&path) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        match hosts::splice(&existing, &text) {
            Ok(c) if c == existing => return Ok(exit::OK),
            Ok(c) => c,
            Err(e) => anyhow::bail!("{}: {e}", path.display()),
        }
    } else {
        text
    };
    atomic_file::write(&path, content.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(exit::OK)
}
