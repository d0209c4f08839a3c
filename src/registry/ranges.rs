//! Address ranges as MetalLB writes them: a CIDR (`192.168.1.0/24`) or `first-last`.
//!
//! Addresses are handled as `u128` numbers plus a family, so IPv4 and IPv6 share one code
//! path for containment, overlap, counting and compaction back into CIDRs.

use ipnet::IpNet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An inclusive range of addresses of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AddrRange {
    pub first: IpAddr,
    pub last: IpAddr,
}

/// What parsing a range noticed besides its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostBitsSet {
    /// The network MetalLB will really use, e.g. `192.168.1.0/24` for `192.168.1.240/24`.
    pub widened_to: IpNet,
}

pub fn ip_to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u32::from(v4) as u128,
        IpAddr::V6(v6) => u128::from(v6),
    }
}

pub fn u128_to_ip(value: u128, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from(value as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(value))
    }
}

impl AddrRange {
    pub fn single(ip: IpAddr) -> AddrRange {
        AddrRange {
            first: ip,
            last: ip,
        }
    }

    /// Parses `a.b.c.d/n`, `a-b` (spaces around `-` allowed, as MetalLB trims them).
    /// A CIDR with host bits set is accepted the way MetalLB accepts it (masked), and the
    /// widening is returned so the linter can say so.
    pub fn parse(text: &str) -> Result<(AddrRange, Option<HostBitsSet>), String> {
        let text = text.trim();
        if let Some((a, b)) = text.split_once('-') {
            let first: IpAddr = a
                .trim()
                .parse()
                .map_err(|_| format!("`{}` is not an IP address", a.trim()))?;
            let last: IpAddr = b
                .trim()
                .parse()
                .map_err(|_| format!("`{}` is not an IP address", b.trim()))?;
            if first.is_ipv4() != last.is_ipv4() {
                return Err(format!("`{text}` mixes IPv4 and IPv6"));
            }
            if ip_to_u128(first) > ip_to_u128(last) {
                return Err(format!("`{text}` ends before it starts"));
            }
            return Ok((AddrRange { first, last }, None));
        }
        if text.contains('/') {
            let net: IpNet = text
                .parse()
                .map_err(|_| format!("`{text}` is not a CIDR (like 192.168.1.0/24) or a range (like 192.168.1.200-192.168.1.250)"))?;
            let trunc = net.trunc();
            let note = (trunc != net).then_some(HostBitsSet { widened_to: trunc });
            return Ok((
                AddrRange {
                    first: trunc.network(),
                    last: trunc.broadcast(),
                },
                note,
            ));
        }
        if text.parse::<IpAddr>().is_ok() {
            let suffix = if text.contains(':') { 128 } else { 32 };
            return Err(format!(
                "`{text}` is a single address; pools take a CIDR or a range: write `{text}/{suffix}`"
            ));
        }
        Err(format!(
            "`{text}` is not a CIDR (like 192.168.1.0/24) or a range (like 192.168.1.200-192.168.1.250)"
        ))
    }

    pub fn is_ipv4(&self) -> bool {
        self.first.is_ipv4()
    }
    fn bounds(&self) -> (u128, u128) {
        (ip_to_u128(self.first), ip_to_u128(self.last))
    }
    pub fn contains(&self, ip: IpAddr) -> bool {
        if ip.is_ipv4() != self.is_ipv4() {
            return false;
        }
        let (a, b) = self.bounds();
        (a..=b).contains(&ip_to_u128(ip))
    }
    pub fn overlaps(&self, other: &AddrRange) -> bool {
        if self.is_ipv4() != other.is_ipv4() {
            return false;
        }
        let (a1, b1) = self.bounds();
        let (a2, b2) = other.bounds();
        a1 <= b2 && a2 <= b1
    }
    /// True when `other` lies wholly inside this range.
    pub fn covers(&self, other: &AddrRange) -> bool {
        self.contains(other.first) && self.contains(other.last)
    }
    /// How many addresses the range holds (saturating for a whole IPv6 space).
    pub fn len(&self) -> u128 {
        let (a, b) = self.bounds();
        (b - a).saturating_add(1)
    }
    pub fn is_empty(&self) -> bool {
        false
    }
    /// Every address, lowest first.
    pub fn iter(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let (a, b) = self.bounds();
        let v4 = self.is_ipv4();
        (a..=b).map(move |n| u128_to_ip(n, v4))
    }
    /// The smallest list of CIDRs that covers exactly this range.
    pub fn to_cidrs(&self) -> Vec<IpNet> {
        let (mut a, b) = self.bounds();
        let v4 = self.is_ipv4();
        let bits: u32 = if v4 { 32 } else { 128 };
        let mut out = Vec::new();
        loop {
            // Largest block aligned at `a` that does not pass `b`.
            let mut size_log = if a == 0 {
                bits
            } else {
                a.trailing_zeros().min(bits)
            };
            while size_log > 0 {
                let span = if size_log >= 128 {
                    u128::MAX
                } else {
                    (1u128 << size_log) - 1
                };
                if a.checked_add(span).is_some_and(|end| end <= b) {
                    break;
                }
                size_log -= 1;
            }
            let prefix = (bits - size_log) as u8;
            out.push(IpNet::new(u128_to_ip(a, v4), prefix).expect("prefix within family bits"));
            let span = if size_log >= 128 {
                u128::MAX
            } else {
                (1u128 << size_log) - 1
            };
            match a.checked_add(span) {
                Some(end) if end < b => a = end + 1,
                _ => break,
            }
        }
        out
    }
}

impl fmt::Display for AddrRange {
    /// Writes a single CIDR when the range is one, else `first-last`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_cidrs().as_slice() {
            [one] => write!(f, "{one}"),
            _ => write!(f, "{}-{}", self.first, self.last),
        }
    }
}

/// Subtracts `holes` from `ranges` and merges what is left into sorted, disjoint ranges.
/// Used by exports that must never produce overlapping MetalLB pools.
pub fn subtract(ranges: &[AddrRange], holes: &[AddrRange]) -> Vec<AddrRange> {
    let mut out = Vec::new();
    for v4 in [true, false] {
        let mut spans: Vec<(u128, u128)> = ranges
            .iter()
            .filter(|r| r.is_ipv4() == v4)
            .map(|r| r.bounds())
            .collect();
        spans = merge_spans(spans);
        let holes = merge_spans(
            holes
                .iter()
                .filter(|r| r.is_ipv4() == v4)
                .map(|r| r.bounds())
                .collect(),
        );
        for (start, end) in spans {
            // `next` is the first address not yet emitted or cut away; None once past `end`.
            let mut next = Some(start);
            for &(hole_start, hole_end) in &holes {
                let Some(cur) = next else { break };
                if hole_end < cur || hole_start > end {
                    continue;
                }
                if hole_start > cur {
                    out.push((cur, hole_start - 1, v4));
                }
                next = (hole_end < end).then(|| hole_end + 1);
            }
            if let Some(cur) = next {
                out.push((cur, end, v4));
            }
        }
    }
    out.into_iter()
        .map(|(a, b, v4)| AddrRange {
            first: u128_to_ip(a, v4),
            last: u128_to_ip(b, v4),
        })
        .collect()
}

/// Sorts and merges touching or overlapping ranges of one family.
pub fn merge(ranges: &[AddrRange]) -> Vec<AddrRange> {
    subtract(ranges, &[])
}

fn merge_spans(mut spans: Vec<(u128, u128)>) -> Vec<(u128, u128)> {
    spans.sort();
    let mut out: Vec<(u128, u128)> = Vec::new();
    for (a, b) in spans {
        match out.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> AddrRange {
        AddrRange::parse(s).unwrap().0
    }

    #[test]
    fn parses_ranges_and_cidrs() {
        let a = r("192.168.1.200-192.168.1.250");
        assert_eq!(a.len(), 51);
        assert!(a.contains("192.168.1.215".parse().unwrap()));
        assert!(!a.contains("192.168.1.199".parse().unwrap()));
        assert_eq!(r("10.0.0.0/30").len(), 4);
        assert_eq!(r("fd00::/126").len(), 4);
    }

    #[test]
    fn host_bits_are_masked_and_reported() {
        let (range, note) = AddrRange::parse("192.168.1.240/24").unwrap();
        assert_eq!(range.len(), 256);
        assert_eq!(note.unwrap().widened_to.to_string(), "192.168.1.0/24");
    }

    #[test]
    fn bad_text_is_rejected_with_a_reason() {
        assert!(AddrRange::parse("192.168.1.300/24").is_err());
        assert!(AddrRange::parse("192.168.1.9-192.168.1.1").is_err());
        assert!(
            AddrRange::parse("192.168.1.5")
                .unwrap_err()
                .contains("192.168.1.5/32")
        );
    }

    #[test]
    fn compacts_into_minimal_cidrs() {
        let cidrs: Vec<String> = r("192.168.1.200-192.168.1.250")
            .to_cidrs()
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(
            cidrs,
            [
                "192.168.1.200/29",
                "192.168.1.208/28",
                "192.168.1.224/28",
                "192.168.1.240/29",
                "192.168.1.248/31",
                "192.168.1.250/32"
            ]
        );
        assert_eq!(r("0.0.0.0/0").to_cidrs().len(), 1);
    }

    #[test]
    fn subtract_leaves_disjoint_pieces() {
        let left = subtract(
            &[r("192.168.1.200-192.168.1.250")],
            &[r("192.168.1.201/32"), r("192.168.1.210-192.168.1.219")],
        );
        let text: Vec<String> = left
            .iter()
            .map(|r| format!("{}-{}", r.first, r.last))
            .collect();
        assert_eq!(
            text,
            [
                "192.168.1.200-192.168.1.200",
                "192.168.1.202-192.168.1.209",
                "192.168.1.220-192.168.1.250"
            ]
        );
    }
}
