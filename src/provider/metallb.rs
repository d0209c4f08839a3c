//! What MetalLB actually reads from a Service, in one place.
//!
//! The post-renderer (what to write and what to strip), the planner (what a live Service
//! really requests) and the linter all need the same knowledge, and getting it wrong is the
//! bug this tool exists to end: `metallb.universe.tf/loadBalancer-ips` looks right and has
//! never been read by any MetalLB release. Facts from MetalLB's `controller/service.go`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// The two annotation prefixes MetalLB has used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub enum Prefix {
    /// `metallb.io`: read by MetalLB >= 0.14.9 (and preferred over the old one when both exist).
    #[default]
    #[serde(rename = "metallb.io")]
    MetallbIo,
    /// `metallb.universe.tf`: the only prefix before 0.14.9; deprecated since.
    #[serde(rename = "metallb.universe.tf")]
    UniverseTf,
}

impl Prefix {
    pub const ALL: [Prefix; 2] = [Prefix::MetallbIo, Prefix::UniverseTf];

    pub fn as_str(self) -> &'static str {
        match self {
            Prefix::MetallbIo => "metallb.io",
            Prefix::UniverseTf => "metallb.universe.tf",
        }
    }
    pub fn parse(s: &str) -> Option<Prefix> {
        Prefix::ALL.into_iter().find(|p| p.as_str() == s)
    }
    pub fn other(self) -> Prefix {
        match self {
            Prefix::MetallbIo => Prefix::UniverseTf,
            Prefix::UniverseTf => Prefix::MetallbIo,
        }
    }
    /// `<prefix>/loadBalancerIPs`: the exact-IP request.
    pub fn load_balancer_ips(self) -> String {
        format!("{}/{}", self.as_str(), Suffix::LoadBalancerIps.as_str())
    }
    /// `<prefix>/allow-shared-ip`: the sharing key.
    pub fn allow_shared_ip(self) -> String {
        format!("{}/{}", self.as_str(), Suffix::AllowSharedIp.as_str())
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The annotation names (after the prefix) MetalLB knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Suffix {
    LoadBalancerIps,
    AllowSharedIp,
    AddressPool,
    /// Written by the controller, never read as a request.
    IpAllocatedFromPool,
}

impl Suffix {
    pub const ALL: [Suffix; 4] = [
        Suffix::LoadBalancerIps,
        Suffix::AllowSharedIp,
        Suffix::AddressPool,
        Suffix::IpAllocatedFromPool,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Suffix::LoadBalancerIps => "loadBalancerIPs",
            Suffix::AllowSharedIp => "allow-shared-ip",
            Suffix::AddressPool => "address-pool",
            Suffix::IpAllocatedFromPool => "ip-allocated-from-pool",
        }
    }
    /// Lower case with `-`, `_` and `.` removed: `loadBalancer-ips` and `loadbalancerIPs`
    /// both become `loadbalancerips`, which is how misspellings are recognised.
    fn folded(self) -> String {
        fold(self.as_str())
    }
}

fn fold(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '-' | '_' | '.'))
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// What an annotation key means to MetalLB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    /// A key MetalLB reads exactly as written (at least in some version).
    Exact(Prefix, Suffix),
    /// Looks like a MetalLB key but no release reads it: wrong case, `-` instead of camel
    /// case, or a garbled prefix. `meant` is the key the author most likely wanted.
    Misspelled { meant: Suffix },
}

/// Classifies an annotation key; `None` when it has nothing to do with MetalLB.
pub fn classify(key: &str) -> Option<KeyKind> {
    let (prefix, suffix) = key.split_once('/')?;
    if let Some(p) = Prefix::parse(prefix)
        && let Some(s) = Suffix::ALL.into_iter().find(|s| s.as_str() == suffix)
    {
        return Some(KeyKind::Exact(p, s));
    }
    let folded_prefix = fold(prefix);
    let looks_like_metallb = folded_prefix.contains("metallb") || folded_prefix.contains("metalb");
    if !looks_like_metallb {
        return None;
    }
    let folded = fold(suffix);
    Suffix::ALL
        .into_iter()
        .find(|s| s.folded() == folded)
        .map(|meant| KeyKind::Misspelled { meant })
}

/// Why MetalLB does not handle a LoadBalancer Service, or `None` when it does: the one rule
/// every face uses. MetalLB run without `--lb-class` handles only Services that set no
/// `spec.loadBalancerClass`; run with `--lb-class=X` (registry `provider.loadBalancerClass:
/// X`) it handles only Services of class X (MetalLB's `service_controller.go`).
pub fn class_mismatch(service_class: Option<&str>, metallb_class: Option<&str>) -> Option<String> {
    match (service_class, metallb_class) {
        (a, b) if a == b => None,
        (Some(c), None) => Some(format!(
            "sets spec.loadBalancerClass `{c}`, so MetalLB (run without --lb-class) leaves it to another load balancer"
        )),
        (Some(c), Some(m)) => Some(format!(
            "sets spec.loadBalancerClass `{c}`, but MetalLB runs with --lb-class={m} (registry provider.loadBalancerClass), so it leaves the Service to another load balancer"
        )),
        (None, Some(m)) => Some(format!(
            "sets no spec.loadBalancerClass, but MetalLB runs with --lb-class={m} (registry provider.loadBalancerClass) and handles only that class"
        )),
        (None, None) => None,
    }
}

/// The MetalLB release behaviour that matters for reading requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// 0.14.9 and later: reads `metallb.io/*`, falls back to `metallb.universe.tf/*`.
    Current,
    /// 0.12 to 0.14.8: reads only `metallb.universe.tf/*`.
    UniverseTfOnly,
}

impl Reader {
    /// Which reader a MetalLB version (e.g. `0.14.8`, `v0.15.2`) is.
    pub fn for_version(version: &str) -> Option<Reader> {
        let v = version.trim_start_matches('v');
        let mut parts = v.split(['.', '-']).map(|p| p.parse::<u64>().ok());
        let (major, minor, patch) = (parts.next()??, parts.next()??, parts.next().flatten()?);
        Some(if (major, minor, patch) >= (0, 14, 9) {
            Reader::Current
        } else {
            Reader::UniverseTfOnly
        })
    }
}

/// The IP request MetalLB derives from a Service (the provider-neutral type).
pub use super::Request;

/// Reads the IP request the way MetalLB's `getDesiredLbIPs` does: a present `metallb.io` key
/// (even empty) beats the `metallb.universe.tf` one; annotation and `spec.loadBalancerIP`
/// together are an error even when equal.
pub fn effective_request(
    annotations: &BTreeMap<String, String>,
    spec_load_balancer_ip: Option<&str>,
    reader: Reader,
) -> Request {
    let prefixes: &[Prefix] = match reader {
        Reader::Current => &[Prefix::MetallbIo, Prefix::UniverseTf],
        Reader::UniverseTfOnly => &[Prefix::UniverseTf],
    };
    let found = prefixes.iter().find_map(|p| {
        let key = p.load_balancer_ips();
        annotations.get(&key).map(|v| (key, v.clone()))
    });
    let spec_ip = spec_load_balancer_ip.filter(|s| !s.is_empty());
    match (found, spec_ip) {
        (Some((key, _)), Some(_)) => Request::Invalid(format!(
            "service can not have both {key} and svc.Spec.LoadBalancerIP"
        )),
        (Some((key, value)), None) => match parse_ip_list(&value) {
            Ok(ips) if ips.is_empty() => Request::None,
            Ok(ips) => Request::Ips { ips, source: key },
            Err(_) => Request::Invalid(format!("invalid {key}: {value:?}")),
        },
        (None, Some(ip)) => match ip.trim().parse::<IpAddr>() {
            Ok(ip) => Request::Ips {
                ips: vec![ip],
                source: "spec.loadBalancerIP".into(),
            },
            Err(_) => Request::Invalid(format!("invalid spec.loadBalancerIP: {ip:?}")),
        },
        (None, None) => Request::None,
    }
}

/// Parses a `loadBalancerIPs` value: comma separated, trimmed, one IP or one per family.
pub fn parse_ip_list(value: &str) -> Result<Vec<IpAddr>, String> {
    if value.trim().is_empty() {
        return Ok(Vec::new());
    }
    let ips = value
        .split(',')
        .map(|s| {
            s.trim()
                .parse::<IpAddr>()
                .map_err(|_| format!("`{}` is not an IP address", s.trim()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if ips.len() > 2 {
        return Err("more than two addresses".into());
    }
    if ips.len() == 2 && ips[0].is_ipv4() == ips[1].is_ipv4() {
        return Err("the two addresses have the same family".into());
    }
    Ok(ips)
}

/// Formats IPs the way lbip writes them into `loadBalancerIPs`: IPv4 first, comma separated.
pub fn format_ip_list(ips: &[IpAddr]) -> String {
    let mut sorted = ips.to_vec();
    sorted.sort_by_key(|ip| !ip.is_ipv4());
    sorted
        .iter()
        .map(|ip| ip.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// MetalLB as a [`super::Provider`].
pub struct MetalLb;

static BEHAVIOUR: super::Behaviour = super::Behaviour {
    list_pools: "kubectl get ipaddresspools -n metallb-system -o yaml",
    automatic: "MetalLB would give it the first free address",
    outside_pools: "MetalLB answers `is not allowed in config` and the Service stays pending",
    duplicate: "MetalLB gives it to whichever Service comes first",
    port_clash: "MetalLB refuses the second (`port is already in use`)",
    overlap: "MetalLB rejects overlapping pools and keeps its old configuration",
    dual_stack_one_pool: true,
    pins_by_pool: true,
    skips_dot_zero_and_255: false,
};

impl super::Provider for MetalLb {
    fn kind(&self) -> super::ProviderKind {
        super::ProviderKind::Metallb
    }
    fn title(&self) -> &'static str {
        "MetalLB"
    }
    /// `<prefix>/loadBalancerIPs` and, with a key, `<prefix>/allow-shared-ip`.
    fn pin_annotations(&self, want: &super::Want, prefix: Prefix) -> Vec<(String, String)> {
        let mut out = vec![(prefix.load_balancer_ips(), format_ip_list(&want.ips))];
        if let Some(k) = &want.shared_key {
            out.push((prefix.allow_shared_ip(), k.clone()));
        }
        out
    }
    fn classify(&self, key: &str) -> Option<super::KeyRole> {
        use super::KeyRole;
        Some(match classify(key)? {
            KeyKind::Exact(_, Suffix::LoadBalancerIps) => KeyRole::Pin,
            KeyKind::Exact(_, Suffix::AllowSharedIp) => KeyRole::Sharing,
            KeyKind::Exact(_, Suffix::AddressPool) => KeyRole::PoolSelect,
            KeyKind::Exact(_, Suffix::IpAllocatedFromPool) => KeyRole::Output,
            KeyKind::Misspelled { meant } => KeyRole::Misspelled {
                meant: format!("{}/{}", Prefix::default().as_str(), meant.as_str()),
            },
        })
    }
    /// MetalLB trims each address and compares the set.
    fn same_pin(&self, value: &str, wanted: &str) -> bool {
        let set = |v: &str| {
            parse_ip_list(v)
                .ok()
                .map(|ips| ips.into_iter().collect::<std::collections::BTreeSet<_>>())
        };
        set(value).is_some() && set(value) == set(wanted)
    }
    fn request(
        &self,
        annotations: &BTreeMap<String, String>,
        spec_ip: Option<&str>,
        reader: super::Reader,
    ) -> Request {
        effective_request(annotations, spec_ip, reader.metallb)
    }
    /// MetalLB without `--lb-class` answers Services without a class; with it, only that
    /// class.
    fn owns_class(&self, class: Option<&str>, configured: Option<&str>) -> bool {
        class == configured
    }
    fn classes_text(&self, configured: Option<&str>) -> String {
        match configured {
            None => "Services without a loadBalancerClass".into(),
            Some(c) => format!("Services of class `{c}` (--lb-class={c})"),
        }
    }
    fn behaviour(&self) -> &'static super::Behaviour {
        &BEHAVIOUR
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_famous_misspelling_is_recognised_as_such() {
        assert_eq!(
            classify("metallb.universe.tf/loadBalancer-ips"),
            Some(KeyKind::Misspelled {
                meant: Suffix::LoadBalancerIps
            })
        );
        assert_eq!(
            classify("metallb.io/loadbalancerips"),
            Some(KeyKind::Misspelled {
                meant: Suffix::LoadBalancerIps
            })
        );
        assert_eq!(
            classify("metallb.io/loadBalancerIPs"),
            Some(KeyKind::Exact(Prefix::MetallbIo, Suffix::LoadBalancerIps))
        );
        assert_eq!(classify("app.kubernetes.io/name"), None);
    }

    #[test]
    fn metallb_io_beats_universe_tf_and_old_readers_ignore_it() {
        let a = ann(&[
            ("metallb.io/loadBalancerIPs", "192.168.1.215"),
            ("metallb.universe.tf/loadBalancerIPs", "192.168.1.201"),
        ]);
        let Request::Ips { ips, .. } = effective_request(&a, None, Reader::Current) else {
            panic!()
        };
        assert_eq!(ips, vec!["192.168.1.215".parse::<IpAddr>().unwrap()]);
        let Request::Ips { ips, .. } = effective_request(&a, None, Reader::UniverseTfOnly) else {
            panic!()
        };
        assert_eq!(ips, vec!["192.168.1.201".parse::<IpAddr>().unwrap()]);
    }

    #[test]
    fn annotation_and_spec_together_are_invalid_even_when_equal() {
        let a = ann(&[("metallb.io/loadBalancerIPs", "192.168.1.215")]);
        assert!(matches!(
            effective_request(&a, Some("192.168.1.215"), Reader::Current),
            Request::Invalid(_)
        ));
    }

    #[test]
    fn the_class_rule_matches_metallbs_lb_class_flag() {
        assert_eq!(class_mismatch(None, None), None);
        assert_eq!(class_mismatch(Some("x/y"), Some("x/y")), None);
        assert!(class_mismatch(Some("io.cilium/bgp"), None).is_some());
        assert!(class_mismatch(None, Some("metallb.io/l2")).is_some());
        assert!(class_mismatch(Some("a/b"), Some("metallb.io/l2")).is_some());
    }

    #[test]
    fn versions_map_to_readers() {
        assert_eq!(Reader::for_version("v0.14.8"), Some(Reader::UniverseTfOnly));
        assert_eq!(Reader::for_version("v0.14.9"), Some(Reader::Current));
        assert_eq!(Reader::for_version("0.15.2"), Some(Reader::Current));
        assert_eq!(Reader::for_version("latest"), None);
    }

    #[test]
    fn ip_lists_follow_metallb_rules() {
        assert!(parse_ip_list("1.2.3.4, fd00::1").is_ok());
        assert!(parse_ip_list("1.2.3.4,1.2.3.5").is_err());
        assert!(parse_ip_list("1.2.3.0/24").is_err());
        assert_eq!(
            format_ip_list(&["fd00::1".parse().unwrap(), "1.2.3.4".parse().unwrap()]),
            "1.2.3.4,fd00::1"
        );
    }
}
