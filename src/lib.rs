//! lbip: one registry of LoadBalancer IPs, enforced by a Helm post-renderer, a kubectl
//! plugin, an Ansible module and a CLI. The faces (in `faces`) only parse their input
//! convention, call this library, and print in their output convention.

pub mod atomic_file;
pub mod cluster;
pub mod diagnostic;
pub mod duration;
pub mod faces;
pub mod manifest;
pub mod plan;
pub mod provider;
/// What MetalLB reads, at its old path (the MetalLB provider's module).
pub use provider::metallb;
pub mod registry;
