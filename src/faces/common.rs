//! Pieces several faces' command lines share.

use crate::registry::{self, LoadError, Loaded};
use clap::Args;
use std::path::PathBuf;

/// `-r/--registry PATH` (else `$LBIP_REGISTRY`, else `./lbip.yaml`).
#[derive(Debug, Clone, Args, Default)]
pub struct RegistryArg {
    /// The registry file [default: $LBIP_REGISTRY, else ./lbip.yaml]
    #[arg(short = 'r', long = "registry", value_name = "PATH")]
    pub registry: Option<PathBuf>,
}

impl RegistryArg {
    pub fn path(&self) -> PathBuf {
        registry::resolve_path(self.registry.as_deref())
    }
    /// Reads and lints the registry.
    pub fn load(&self) -> Result<Loaded, LoadError> {
        registry::load_path(&self.path())
    }
}

/// Loads the registry for a command that acts on it: on a read/parse error or lint errors,
/// prints them to stderr and returns the exit code to use (2: the command cannot do its job).
pub fn load_valid_or_report(arg: &RegistryArg) -> Result<registry::Registry, u8> {
    let loaded = arg.load().map_err(|e| {
        eprintln!("{e}");
        crate::faces::exit::ERROR
    })?;
    loaded.require_valid().map_err(|e| {
        eprintln!("{e}");
        crate::faces::exit::ERROR
    })
}

/// `lbip 0.1.0`: what `lbip version`, `lbip --version` and `kubectl lbip version` print.
pub fn version_line() -> String {
    format!("lbip {}", env!("CARGO_PKG_VERSION"))
}
