//! `state: rendered`: a manifest file post-rendered to `dest`, as `lbip post-render` does.

use super::args::ModuleArgs;
use super::not_available;
use super::result::ModuleResult;

pub fn run(args: &ModuleArgs) -> ModuleResult {
    not_available(args.state, "the post-renderer core")
}
