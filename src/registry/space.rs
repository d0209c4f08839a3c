//! Address-space arithmetic over the registry: which parts of a pool the load balancer may
//! hand out, and how many addresses are left. Counting is done on ranges, never by walking every
//! address, so an IPv6 /64 pool costs no more than a /29.

use super::model::{Pool, Registry};
use super::ranges::{AddrRange, ip_to_u128, subtract};

/// The parts of `within` that lie inside `pool`, minus every reserved range.
pub fn assignable_in(registry: &Registry, pool: &Pool, within: &[AddrRange]) -> Vec<AddrRange> {
    let pool_ranges: Vec<AddrRange> = pool.ranges.ranges().copied().collect();
    let inside_pool = intersect(within, &pool_ranges);
    subtract(&inside_pool, &reserved_ranges(registry))
}

/// Every reserved range of the registry.
pub fn reserved_ranges(registry: &Registry) -> Vec<AddrRange> {
    registry
        .reserved
        .iter()
        .flat_map(|r| r.ranges().copied())
        .collect()
}

/// The addresses in both `a` and `b`, merged and sorted.
pub fn intersect(a: &[AddrRange], b: &[AddrRange]) -> Vec<AddrRange> {
    let outside_b = subtract(a, b);
    subtract(a, &outside_b)
}

/// How many addresses of `ranges` MetalLB would hand out: all of them, or all but `.0` and
/// `.255` when `avoid_buggy_ips` is set. `ranges` must be disjoint (as [`subtract`] returns).
pub fn count_usable(ranges: &[AddrRange], avoid_buggy_ips: bool) -> u128 {
    ranges
        .iter()
        .map(|r| {
            let all = r.len();
            if avoid_buggy_ips && r.is_ipv4() {
                all - count_buggy(r)
            } else {
                all
            }
        })
        .fold(0u128, u128::saturating_add)
}

/// IPv4 addresses ending in `.0` or `.255` inside `r`.
fn count_buggy(r: &AddrRange) -> u128 {
    let (a, b) = (ip_to_u128(r.first), ip_to_u128(r.last));
    // Numbers n in [a, b] with n % 256 == k, for k = 0 and k = 255.
    let count = |k: u128| -> u128 {
        let upto = |x: u128| -> u128 { if x < k { 0 } else { (x - k) / 256 + 1 } };
        upto(b) - if a == 0 { 0 } else { upto(a - 1) }
    };
    count(0) + count(255)
}

/// Free addresses in `pool` restricted to `within`: usable, not reserved, not given to any
/// entry.
pub fn free_count(registry: &Registry, pool: &Pool, within: &[AddrRange]) -> u128 {
    let space = assignable_in(registry, pool, within);
    let avoid = registry.avoids_buggy_ips(pool);
    let usable = count_usable(&space, avoid);
    let taken = registry
        .registered_ips()
        .into_iter()
        .filter(|ip| space.iter().any(|r| r.contains(*ip)))
        .filter(|ip| !(avoid && super::query::is_buggy(*ip)))
        .count() as u128;
    usable.saturating_sub(taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> AddrRange {
        AddrRange::parse(s).unwrap().0
    }

    #[test]
    fn buggy_addresses_are_counted_without_walking() {
        assert_eq!(count_usable(&[r("10.0.0.0/24")], true), 254);
        assert_eq!(count_usable(&[r("10.0.0.0/23")], true), 508);
        assert_eq!(count_usable(&[r("10.0.0.1-10.0.0.254")], true), 254);
        assert_eq!(
            count_usable(&[r("0.0.0.0/0")], true),
            (1u128 << 32) / 128 * 127
        );
        assert_eq!(count_usable(&[r("fd00::/64")], true), 1u128 << 64);
    }

    #[test]
    fn intersect_keeps_only_the_common_part() {
        let both = intersect(
            &[r("10.0.0.0-10.0.0.20")],
            &[r("10.0.0.10-10.0.0.30"), r("10.0.0.0/31")],
        );
        assert_eq!(both, vec![r("10.0.0.0/31"), r("10.0.0.10-10.0.0.20")]);
    }
}
