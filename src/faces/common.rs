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
