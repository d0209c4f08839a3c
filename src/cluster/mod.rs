//! Cluster access: a kube-rs client set up from kubectl's flags, reads with one LIST per
//! kind, patches with optimistic concurrency, and waits on watches. No printing here:
//! results are data, progress goes through a callback, so the kubectl face and the Ansible
//! module share it.

mod apply;
pub mod clusters;
mod connect;
mod error;
pub mod kubeconfig;
mod read;
pub mod retry;
pub mod secrets;

pub use apply::{
    AppliedStep, ApplyFailure, ApplyOptions, ApplyReport, Progress, Replan, Replanner, ServiceNow,
    apply,
};
pub use connect::{Connection, KubeOptions, connect, install_crypto_provider};
pub use error::{ClusterError, Op};
pub use read::{ObserveOptions, observe, services};
