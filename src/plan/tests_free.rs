//! Planner tests for the addresses evicted and parked Services move to: one per IP family,
//! from one cluster pool whose serviceAllocation admits the Service.

use super::admission::ServiceAllocation;
use super::observed::{IpFamily, ObservedPool};
use super::*;
use crate::registry::{Loaded, Registry};
use serde_json::json;
use std::collections::BTreeMap;
use std::net::IpAddr;

const REGISTRY: &str = "
pools:
  - name: lab
    addresses: [\"10.20.0.1-10.20.0.60\", \"fd00:20::1-fd00:20::60\"]
services:
  gitea: {namespace: gitea, name: gitea-http, ips: [10.20.0.10, \"fd00:20::10\"]}
  web: {namespace: web, ip: 10.20.0.11}
  v6only: {namespace: web, name: api6, ip: \"fd00:20::12\"}
  grafana: {namespace: monitoring, ip: 10.20.0.40}
  forge: {namespace: forge, ips: [10.20.0.13, \"fd00:20::13\"]}
";

fn registry() -> Registry {
    Loaded::from_text(REGISTRY, "r.yaml")
        .unwrap()
        .require_valid()
        .unwrap()
}

fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|s| s.parse().unwrap()).collect()
}

fn svc(ns: &str, name: &str, assigned: &[&str], families: &[IpFamily]) -> ObservedService {
    ObservedService {
        namespace: ns.into(),
        name: name.into(),
        service_type: "LoadBalancer".into(),
        load_balancer_class: None,
        annotations: BTreeMap::new(),
        labels: BTreeMap::new(),
        spec_load_balancer_ip: None,
        assigned: observed::sorted(ips(assigned)),
        ingress_hostnames: Vec::new(),
        ports: vec!["80/TCP".into()],
        resource_version: Some("1".into()),
        ip_families: families.to_vec(),
    }
}

fn pool(name: &str, addresses: &[&str], allocation: Option<serde_json::Value>) -> ObservedPool {
    ObservedPool {
        namespace: "metallb-system".into(),
        name: name.into(),
        addresses: addresses.iter().map(|s| s.to_string()).collect(),
        auto_assign: true,
        avoid_buggy_ips: false,
        service_allocation: allocation.map(|a| ServiceAllocation::from_json(&a)),
        labels: BTreeMap::new(),
    }
}

const DUAL: &[IpFamily] = &[IpFamily::V4, IpFamily::V6];

fn evict_target(p: &Plan, name: &str) -> Vec<IpAddr> {
    p.steps
        .iter()
        .find(|s| s.name == name && s.action == Action::Evict)
        .unwrap_or_else(|| panic!("no evict step for {name}: {p:?}"))
        .to
        .clone()
}

#[test]
fn a_dual_stack_squatter_gets_one_free_address_per_family_from_one_pool() {
    let reg = registry();
    let mut observed = Observed::new(
        Scope::all(),
        vec![
            svc("other", "squatter", &["10.20.0.10", "fd00:20::10"], DUAL),
            svc("gitea", "gitea-http", &[], DUAL),
        ],
    );
    observed.pools = Some(vec![pool("lab", &["10.20.0.0/24", "fd00:20::/120"], None)]);
    let p = plan(&reg, &observed, &PlanOptions::default());
    assert!(p.blocked.is_empty(), "{:?}", p.blocked);
    assert_eq!(
        evict_target(&p, "squatter"),
        ips(&["10.20.0.1", "fd00:20::1"])
    );
    let pin = p.steps.iter().find(|s| s.name == "gitea-http").unwrap();
    assert_eq!(pin.to, ips(&["10.20.0.10", "fd00:20::10"]));
}

#[test]
fn an_ipv6_squatter_gets_an_ipv6_address() {
    let reg = registry();
    let mut observed = Observed::new(
        Scope::all(),
        vec![svc(
            "other",
            "v6squatter",
            &["fd00:20::12"],
            &[IpFamily::V6],
        )],
    );
    observed
        .services
        .push(svc("web", "api6", &[], &[IpFamily::V6]));
    let p = plan(&reg, &observed, &PlanOptions::default());
    assert_eq!(evict_target(&p, "v6squatter"), ips(&["fd00:20::1"]));
    // Pools unknown: still one address of the right family.
    assert!(observed.pools.is_none());
}

#[test]
fn only_pools_whose_service_allocation_admits_the_service_are_used() {
    let reg = registry();
    let squatter = |ns: &str| svc(ns, "squatter", &["10.20.0.40"], &[IpFamily::V4]);
    let pools = || {
        vec![
            // Lowest addresses, but only for namespaces labelled team=a.
            pool(
                "team-a",
                &["10.20.0.1-10.20.0.20"],
                Some(json!({"namespaceSelectors": [{"matchLabels": {"team": "a"}}]})),
            ),
            pool(
                "general",
                &["10.20.0.21-10.20.0.60"],
                Some(
                    json!({"serviceSelectors": [{"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]}]}),
                ),
            ),
        ]
    };
    let mut observed = Observed::new(
        Scope::all(),
        vec![
            squatter("web"),
            svc("monitoring", "grafana", &[], &[IpFamily::V4]),
        ],
    );
    observed.pools = Some(pools());
    observed.namespace_labels = Some(BTreeMap::from([
        ("web".to_string(), BTreeMap::new()),
        (
            "ml".to_string(),
            BTreeMap::from([("team".to_string(), "a".to_string())]),
        ),
    ]));
    let p = plan(&reg, &observed, &PlanOptions::default());
    assert_eq!(
        evict_target(&p, "squatter"),
        ips(&["10.20.0.21"]),
        "team-a does not admit web"
    );
    // In a team=a namespace the lowest address of team-a is fine.
    observed.services[0] = squatter("ml");
    let p = plan(&reg, &observed, &PlanOptions::default());
    assert_eq!(evict_target(&p, "squatter"), ips(&["10.20.0.1"]));
    // Namespace labels unknown: team-a's admission is unknown, so it is not used.
    observed.namespace_labels = None;
    let p = plan(&reg, &observed, &PlanOptions::default());
    assert_eq!(evict_target(&p, "squatter"), ips(&["10.20.0.21"]));
    // A squatter that no pool admits cannot be moved: the entry is blocked, with why.
    let mut db = squatter("web");
    db.labels.insert("tier".into(), "db".into());
    observed.services[0] = db;
    let p = plan(&reg, &observed, &PlanOptions::default());
    assert!(p.steps.is_empty(), "{:?}", p.steps);
    assert!(
        p.blocked[0].reason.contains("there is nowhere to move it: no free IPv4 address in an IPAddressPool that admits web/squatter"),
        "{:?}",
        p.blocked
    );
}

#[test]
fn a_registry_ip_in_a_pool_that_does_not_admit_its_service_is_blocked() {
    let reg = registry();
    let mut observed = Observed::new(
        Scope::all(),
        vec![svc(
            "monitoring",
            "grafana",
            &["10.20.0.30"],
            &[IpFamily::V4],
        )],
    );
    observed.pools = Some(vec![pool(
        "restricted",
        &["10.20.0.1-10.20.0.60"],
        Some(json!({"namespaces": ["ml"]})),
    )]);
    let p = plan(&reg, &observed, &PlanOptions::default());
    assert!(p.steps.is_empty(), "{:?}", p.steps);
    assert_eq!(p.blocked.len(), 1);
    assert!(
        p.blocked[0].reason.starts_with(
            "10.20.0.40 is in IPAddressPool restricted, which does not admit monitoring/grafana: IPAddressPool restricted admits only namespaces ml (serviceAllocation), not monitoring"
        ),
        "{}",
        p.blocked[0].reason
    );
}

#[test]
fn a_dual_stack_swap_is_broken_with_a_scratch_pair() {
    let reg = registry();
    // gitea holds forge's pair and forge holds gitea's.
    let mut observed = Observed::new(
        Scope::all(),
        vec![
            svc("gitea", "gitea-http", &["10.20.0.13", "fd00:20::13"], DUAL),
            svc("forge", "forge", &["10.20.0.10", "fd00:20::10"], DUAL),
        ],
    );
    observed.pools = Some(vec![pool("lab", &["10.20.0.0/24", "fd00:20::/120"], None)]);
    let p = plan(&reg, &observed, &PlanOptions::default());
    assert!(p.blocked.is_empty(), "{:?}", p.blocked);
    let scratch = p
        .steps
        .iter()
        .find(|s| s.action == Action::Scratch)
        .unwrap();
    assert_eq!(scratch.to, ips(&["10.20.0.1", "fd00:20::1"]));
    assert_eq!(p.steps.len(), 3, "{:?}", p.steps);
}
