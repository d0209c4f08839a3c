//! `state: pinned`: the cluster brought to the registry with `kubectl lbip apply`'s plan.

use super::args::ModuleArgs;
use super::not_available;
use super::result::ModuleResult;

pub fn run(args: &ModuleArgs) -> ModuleResult {
    not_available(args.state, "the cluster plan/apply core")
}
