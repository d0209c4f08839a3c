//! `state: checked`: drift reported like `kubectl lbip check`.

use super::args::ModuleArgs;
use super::not_available;
use super::result::ModuleResult;

pub fn run(args: &ModuleArgs) -> ModuleResult {
    not_available(args.state, "the cluster plan core")
}
