//! Information, not problems: how many addresses are still free in each pool and block,
//! so a full block shows up before someone needs an address from it.

use super::at;
use crate::diagnostic::Finding;
use crate::registry::model::{Located, Registry};
use crate::registry::ranges::AddrRange;
use crate::registry::space::{assignable_in, count_usable, free_count};

pub fn check(reg: &Registry) -> Vec<Finding> {
    let mut out = Vec::new();
    for pool in &reg.pools {
        let ranges: Vec<AddrRange> = pool.ranges.ranges().copied().collect();
        let (free, usable) = tally(reg, &ranges, Some(pool.name()));
        out.push(note("pool-free", "pool", &pool.ranges.name, free, usable));
    }
    for block in &reg.blocks {
        let ranges: Vec<AddrRange> = block.ranges().copied().collect();
        let (free, usable) = tally(reg, &ranges, None);
        out.push(note("block-free", "block", &block.name, free, usable));
    }
    out
}

/// (free, usable) addresses of `within`, across the pools (only `only_pool` if given).
fn tally(reg: &Registry, within: &[AddrRange], only_pool: Option<&str>) -> (u128, u128) {
    reg.pools
        .iter()
        .filter(|p| only_pool.is_none_or(|n| n == p.name()))
        .fold((0, 0), |(free, usable), pool| {
            let space = assignable_in(reg, pool, within);
            (
                free + free_count(reg, pool, within),
                usable + count_usable(&space, reg.avoids_buggy_ips(pool)),
            )
        })
}

fn note(
    code: &'static str,
    what: &str,
    name: &Located<String>,
    free: u128,
    usable: u128,
) -> Finding {
    at(
        Finding::info(
            code,
            format!(
                "{what} `{}`: {free} of {usable} usable addresses free",
                name.value
            ),
        ),
        name,
    )
}

#[cfg(test)]
mod tests {
    use crate::registry::rules::test_support::{HEAD, all};

    #[test]
    fn free_addresses_are_counted_per_pool_and_block() {
        let t = format!("{HEAD}  web:\n    namespace: web\n    ip: 10.0.0.12\n");
        let notes: Vec<(String, u32, u32)> = all(&t)
            .into_iter()
            .filter(|f| f.code.ends_with("-free"))
            .map(|f| (f.message, f.line.unwrap(), f.column.unwrap()))
            .collect();
        // 10.0.0.0/24 minus .0, .255 and the 9 reserved addresses = 245 usable; one taken.
        assert_eq!(
            notes,
            [
                (
                    "pool `lab`: 244 of 245 usable addresses free".to_string(),
                    2,
                    11
                ),
                (
                    "block `web`: 9 of 10 usable addresses free".to_string(),
                    9,
                    11
                ),
            ]
        );
    }
}
