//! The registry: the one file that says which Service gets which IP.
//!
//! Loading (`load`), the data model (`model`), address arithmetic (`ranges`) and the
//! positioned YAML tree (`tree`). Every face reads the registry through [`load_path`] and
//! refuses one with errors through [`Loaded::require_valid`], so no face acts on a registry
//! that `lbip lint` would reject.

pub mod export;
pub mod load;
pub mod model;
pub mod query;
pub mod ranges;
pub mod rules;
pub mod space;
pub mod tree;

pub use load::LoadError;
pub use model::*;

use crate::diagnostic::{Finding, has_errors, render_human};
use std::path::{Path, PathBuf};

/// The environment variable naming the registry when `-r/--registry` is not given.
pub const REGISTRY_ENV: &str = "LBIP_REGISTRY";
/// The file used when neither the flag nor the variable is set.
pub const DEFAULT_REGISTRY: &str = "lbip.yaml";

/// `-r/--registry PATH`, else `$LBIP_REGISTRY`, else `./lbip.yaml`.
pub fn resolve_path(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    match std::env::var_os(REGISTRY_ENV) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(DEFAULT_REGISTRY),
    }
}

/// A registry as read from a file, with everything lint found.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub registry: Registry,
    /// Errors, warnings and notes, in file order.
    pub findings: Vec<Finding>,
    /// The path as the user named it, for messages.
    pub path: String,
    /// The file's text, for quoting lines in diagnostics.
    pub source: String,
}

/// The registry has lint errors; faces refuse to act on it.
#[derive(Debug)]
pub struct RegistryInvalid {
    pub path: String,
    pub errors: Vec<Finding>,
    /// The errors rendered like `lbip lint` renders them.
    pub rendered: String,
}

impl std::fmt::Display for RegistryInvalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}the registry {} has {} error(s); fix them first (`lbip lint -r {}` shows them)",
            self.rendered,
            self.path,
            self.errors.len(),
            self.path
        )
    }
}

impl std::error::Error for RegistryInvalid {}

impl Loaded {
    /// Parses registry text and runs every lint rule.
    pub fn from_text(text: &str, path: &str) -> Result<Loaded, LoadError> {
        let (registry, mut findings) = load::parse(text, path)?;
        findings.extend(rules_hook(&registry));
        findings.sort_by_key(|f| (f.line.unwrap_or(u32::MAX), f.column.unwrap_or(0)));
        Ok(Loaded {
            registry,
            findings,
            path: path.to_string(),
            source: text.to_string(),
        })
    }

    /// The registry, when it has no errors; otherwise every error, rendered.
    pub fn require_valid(self) -> Result<Registry, RegistryInvalid> {
        if !has_errors(&self.findings) {
            return Ok(self.registry);
        }
        let errors: Vec<Finding> = self
            .findings
            .into_iter()
            .filter(Finding::is_error)
            .collect();
        let rendered = render_human(&errors, &self.path, Some(&self.source));
        Err(RegistryInvalid {
            path: self.path,
            errors,
            rendered,
        })
    }
}

/// Reads and lints the registry at `path`.
pub fn load_path(path: &Path) -> Result<Loaded, LoadError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| LoadError::Read {
        path: shown.clone(),
        error,
    })?;
    Loaded::from_text(&text, &shown)
}

/// Semantic rules run after loading (pools, overlaps, duplicates...).
fn rules_hook(registry: &Registry) -> Vec<Finding> {
    rules::check(registry)
}
