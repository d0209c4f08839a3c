//! Planning: pure functions from the registry and the observed cluster to statuses,
//! findings and ordered steps. No I/O here; `cluster` reads and applies, faces print.

pub mod admission;
pub mod analyze;
pub mod doctor;
pub mod free;
pub mod hints;
pub mod import;
pub mod observed;
pub mod order;

pub use analyze::{ServiceStatus, State, analyze};
pub use observed::{LabelSelector, Observed, ObservedService, Scope};
pub use order::{
    Action, Blocked, EvictPolicy, Plan, PlanOptions, Step, plan, revert_step, step_moves,
    target_holders,
};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_free;
