//! `lbip export <format> [--write FILE]`: the registry as /etc/hosts, dnsmasq, markdown,
//! Ansible vars or MetalLB pools. Stdout by default; `--write` replaces the file atomically
//! (for `hosts`, only the block between `# BEGIN lbip` and `# END lbip`).

use crate::faces::common::{RegistryArg, load_valid_or_report};
use crate::faces::exit;
use crate::registry::export::{self, Format, hosts};
use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};

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
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Hosts => Format::Hosts,
            FormatArg::Dnsmasq => Format::Dnsmasq,
            FormatArg::Markdown => Format::Markdown,
            FormatArg::AnsibleVars => Format::AnsibleVars,
            FormatArg::Metallb => Format::Metallb,
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
}

pub fn run(args: Args) -> anyhow::Result<u8> {
    let registry = match load_valid_or_report(&args.registry) {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let format = Format::from(args.format);
    let text = export::render(&registry, format);
    let Some(path) = args.write else {
        std::io::stdout().write_all(text.as_bytes())?;
        return Ok(exit::OK);
    };
    // Write through a symlink (e.g. /etc/hosts -> /run/...) instead of replacing the link.
    let path = std::fs::canonicalize(&path).unwrap_or(path);
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
    write_atomically(&path, content.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(exit::OK)
}

/// Writes through a temporary file in the same directory and renames it over `path`, so a
/// reader sees the old file or the new one, never half of it. An existing file's
/// permissions are kept.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.lbip-{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        if let Ok(meta) = std::fs::metadata(path) {
            f.set_permissions(meta.permissions())?;
        }
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
