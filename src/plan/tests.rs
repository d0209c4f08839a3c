//! Planner tests on the running example (examples/registry.yaml).

use super::*;
use crate::registry::{Loaded, Registry};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

const EXAMPLE: &str = include_str!("../../examples/registry.yaml");

fn registry() -> Registry {
    Loaded::from_text(EXAMPLE, "registry.yaml")
        .unwrap()
        .require_valid()
        .unwrap()
}

fn svc(ns: &str, name: &str, assigned: &[&str], annotations: &[(&str, &str)]) -> ObservedService {
    ObservedService {
        namespace: ns.into(),
        name: name.into(),
        service_type: "LoadBalancer".into(),
        load_balancer_class: None,
        annotations: annotations
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        labels: BTreeMap::new(),
        spec_load_balancer_ip: None,
        assigned: assigned.iter().map(|s| s.parse().unwrap()).collect(),
        ingress_hostnames: Vec::new(),
        ports: vec!["80/TCP".into()],
        resource_version: Some("1".into()),
        ip_families: vec![observed::IpFamily::V4],
    }
}

fn pinned(ns: &str, name: &str, ip: &str) -> ObservedService {
    svc(ns, name, &[ip], &[("metallb.io/loadBalancerIPs", ip)])
}

/// Every registry entry present and pinned, except the Services given.
fn cluster(except: &[&str], extra: Vec<ObservedService>) -> Observed {
    let reg = registry();
    let mut services: Vec<ObservedService> = reg
        .services
        .iter()
        .filter(|e| !except.contains(&e.id()))
        .map(|e| {
            pinned(
                e.namespace(),
                e.name(),
                &e.primary_ip().unwrap().to_string(),
            )
        })
        .collect();
    services.extend(extra);
    Observed::new(Scope::all(), services)
}

/// Applies the steps the way MetalLB would end up if each succeeded.
fn simulate(observed: &Observed, plan: &Plan) -> Observed {
    let mut out = observed.clone();
    for step in &plan.steps {
        let s = out
            .services
            .iter_mut()
            .find(|s| s.namespace == step.namespace && s.name == step.name)
            .unwrap();
        // A step must never target an IP someone else holds at that moment.
        let _ = s;
        let holders: Vec<String> = observed_holders(&out, &step.to, &step.key());
        assert!(
            holders.is_empty(),
            "step {step:?} targets IPs held by {holders:?}"
        );
        let s = out
            .services
            .iter_mut()
            .find(|s| s.namespace == step.namespace && s.name == step.name)
            .unwrap();
        for k in &step.remove_annotations {
            s.annotations.remove(k);
        }
        s.annotations.extend(step.set_annotations.clone());
        if step.clear_spec_ip {
            s.spec_load_balancer_ip = None;
        }
        s.assigned = step.to.clone();
    }
    out
}

fn observed_holders(o: &Observed, ips: &[IpAddr], me: &str) -> Vec<String> {
    o.services
        .iter()
        .filter(|s| s.key() != me && s.assigned.iter().any(|ip| ips.contains(ip)))
        .map(|s| s.key())
        .collect()
}

fn state_of(rows: &[ServiceStatus], key: &str) -> String {
    rows.iter().find(|r| r.key() == key).unwrap().state_text()
}

#[test]
fn seldon_taking_mlflows_ip_is_stolen_and_the_plan_swaps_through_scratch() {
    let reg = registry();
    // MLflow's registry IP is .215; Seldon's scheduler came first, unpinned, and took it;
    // MLflow then got Seldon's .201.
    let observed = cluster(
        &["mlflow", "seldon-scheduler"],
        vec![
            svc("seldon-system", "seldon-scheduler", &["192.168.1.215"], &[]),
            svc("mlflow", "mlflow", &["192.168.1.201"], &[]),
        ],
    );
    let rows = analyze(&reg, &observed);
    assert_eq!(
        state_of(&rows, "seldon-system/seldon-scheduler"),
        "stolen,drift"
    );
    let stolen = rows
        .iter()
        .find(|r| r.name == "seldon-scheduler" && r.namespace == "seldon-system")
        .unwrap();
    assert!(stolen.findings.iter().any(|f| f.code == "stolen-ip"
        && f.message.contains("192.168.1.215")
        && f.message.contains("mlflow/mlflow")));
    let p = plan(&reg, &observed, &PlanOptions::default());
    assert!(p.blocked.is_empty(), "{:?}", p.blocked);
    let actions: Vec<_> = p
        .steps
        .iter()
        .map(|s| (s.action, s.name.as_str(), metallb_list(&s.to)))
        .collect();
    assert_eq!(
        actions,
        [
            (Action::Scratch, "mlflow", "192.168.1.203".to_string()),
            (Action::Pin, "seldon-scheduler", "192.168.1.201".to_string()),
            (Action::Pin, "mlflow", "192.168.1.215".to_string()),
        ]
    );
    let after = simulate(&observed, &p);
    assert!(analyze(&reg, &after).iter().all(|r| r.is_ok()));
    assert!(plan(&reg, &after, &PlanOptions::default()).is_empty());
}

fn metallb_list(ips: &[IpAddr]) -> String {
    crate::metallb::format_ip_list(ips)
}

#[test]
fn an_unregistered_squatter_is_pinned_to_a_free_address_first() {
    let reg = registry();
    let observed = cluster(
        &["mlflow"],
        vec![
            svc("mlflow", "mlflow", &[], &[]),
            svc("demo", "whoami", &["192.168.1.215"], &[]),
        ],
    );
    let rows = analyze(&reg, &observed);
    assert_eq!(state_of(&rows, "demo/whoami"), "stolen,unpinned");
    assert_eq!(state_of(&rows, "mlflow/mlflow"), "pending,drift");
    let p = plan(&reg, &observed, &PlanOptions::default());
    assert_eq!(p.steps.len(), 2);
    assert_eq!(
        (p.steps[0].action, p.steps[0].name.as_str()),
        (Action::Evict, "whoami")
    );
    assert_eq!(
        p.steps[0].to,
        vec!["192.168.1.203".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(p.steps[1].name, "mlflow");
    let after = simulate(&observed, &p);
    assert_eq!(state_of(&analyze(&reg, &after), "mlflow/mlflow"), "ok");

    let skip = PlanOptions {
        evict_unpinned: EvictPolicy::Skip,
        ..Default::default()
    };
    let p = plan(&reg, &observed, &skip);
    assert!(p.steps.is_empty());
    assert!(
        p.blocked[0].reason.contains("demo/whoami"),
        "{:?}",
        p.blocked
    );
}

#[test]
fn misconfigured_keys_are_reported_and_cleaned_without_moving() {
    let reg = registry();
    let mut grafana = svc(
        "monitoring",
        "grafana",
        &["192.168.1.207"],
        &[
            ("metallb.universe.tf/loadBalancer-ips", "192.168.1.207"),
            ("metallb.io/loadBalancerIPs", "192.168.1.207"),
        ],
    );
    grafana.spec_load_balancer_ip = Some("192.168.1.207".into());
    let observed = cluster(&["grafana"], vec![grafana]);
    let rows = analyze(&reg, &observed);
    let row = rows.iter().find(|r| r.name == "grafana").unwrap();
    assert_eq!(row.state_text(), "misconfigured");
    let codes: Vec<_> = row.findings.iter().map(|f| f.code).collect();
    assert!(
        codes.contains(&"misspelled-annotation") && codes.contains(&"annotation-and-spec"),
        "{codes:?}"
    );
    let p = plan(&reg, &observed, &PlanOptions::default());
    assert_eq!(p.steps.len(), 1);
    let step = &p.steps[0];
    assert_eq!(step.action, Action::Cleanup);
    assert_eq!(
        step.remove_annotations,
        ["metallb.universe.tf/loadBalancer-ips"]
    );
    assert!(step.clear_spec_ip);
    let patch = step.merge_patch(Some("42"));
    assert_eq!(
        patch,
        serde_json::json!({"metadata": {"annotations": {"metallb.universe.tf/loadBalancer-ips": null}, "resourceVersion": "42"}, "spec": {"loadBalancerIP": null}})
    );
    let after = simulate(&observed, &p);
    assert!(analyze(&reg, &after).iter().all(|r| r.is_ok()));
}

#[test]
fn missing_entries_and_namespace_scope() {
    let reg = registry();
    let mut observed = cluster(&["minio"], vec![]);
    let rows = analyze(&reg, &observed);
    assert_eq!(state_of(&rows, "minio/minio"), "missing");
    observed.scope = Scope::namespace("mlflow");
    let rows = analyze(&reg, &observed);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].key(), "mlflow/mlflow");
}

#[test]
fn a_squatter_outside_the_namespace_blocks_instead_of_being_touched() {
    let reg = registry();
    let mut observed = cluster(
        &["mlflow"],
        vec![
            svc("mlflow", "mlflow", &["192.168.1.230"], &[]),
            svc("demo", "whoami", &["192.168.1.215"], &[]),
        ],
    );
    observed.scope = Scope::namespace("mlflow");
    let p = plan(&reg, &observed, &PlanOptions::default());
    assert!(p.steps.is_empty(), "{:?}", p.steps);
    assert!(
        p.blocked[0]
            .reason
            .contains("outside the selected namespaces")
    );
}

#[test]
fn reassign_moves_the_registered_holder_to_a_free_address() {
    let reg = registry();
    let observed = cluster(&[], vec![]);
    let key = ("mlflow".to_string(), "mlflow".to_string());
    let opts = PlanOptions {
        only: Some(BTreeSet::from([key.clone()])),
        overrides: BTreeMap::from([(key, vec!["192.168.1.207".parse().unwrap()])]),
        ..Default::default()
    };
    let p = plan(&reg, &observed, &opts);
    let names: Vec<_> = p
        .steps
        .iter()
        .map(|s| (s.action, s.name.as_str()))
        .collect();
    assert_eq!(names, [(Action::Evict, "grafana"), (Action::Pin, "mlflow")]);
    simulate(&observed, &p);
}

#[test]
fn import_writes_a_registry_that_loads_cleanly_and_matches_the_cluster() {
    let mut observed = cluster(&[], vec![svc("demo", "whoami", &["192.168.1.230"], &[])]);
    observed.pools = Some(vec![observed::ObservedPool {
        namespace: "metallb-system".into(),
        name: "homelab".into(),
        addresses: vec!["192.168.1.200-192.168.1.250".into()],
        auto_assign: true,
        avoid_buggy_ips: false,
        service_allocation: None,
        labels: BTreeMap::new(),
    }]);
    let text = import::import(&observed);
    let loaded = Loaded::from_text(&text, "imported.yaml").unwrap();
    assert!(
        loaded.findings.iter().all(|f| !f.is_error()),
        "{:?}\n{text}",
        loaded.findings
    );
    let reg = loaded.require_valid().unwrap();
    assert_eq!(reg.services.len(), 13);
    assert_eq!(
        reg.lookup("demo", "whoami")
            .unwrap()
            .primary_ip()
            .unwrap()
            .to_string(),
        "192.168.1.230"
    );
    assert!(
        analyze(&reg, &observed)
            .iter()
            .all(|r| r.assigned == r.registry && !r.findings.iter().any(|f| f.code == "stolen-ip"))
    );
}

#[test]
fn a_pending_unrequested_service_is_a_warned_risk_when_the_plan_frees_ips() {
    let reg = registry();
    let observed = cluster(
        &["mlflow"],
        vec![
            svc("mlflow", "mlflow", &["192.168.1.230"], &[]),
            svc("demo", "whoami", &["192.168.1.215"], &[]),
            svc("demo", "queue", &[], &[]),
        ],
    );
    let p = plan(&reg, &observed, &PlanOptions::default());
    assert_eq!(p.warnings.len(), 1);
    assert!(p.warnings[0].contains("demo/queue"), "{:?}", p.warnings);
}

#[test]
fn label_selectors_filter_services_like_kubectl() {
    let sel = LabelSelector::parse("app=web,tier!=db,canary,!legacy").unwrap();
    let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert!(sel.matches(&labels(&[("app", "web"), ("canary", "")])));
    assert!(!sel.matches(&labels(&[("app", "web"), ("canary", ""), ("legacy", "1")])));
    assert!(!sel.matches(&labels(&[("app", "web"), ("canary", ""), ("tier", "db")])));
    assert!(!sel.matches(&labels(&[("app", "api"), ("canary", "")])));
    assert!(LabelSelector::parse("env in (a,b)").is_err());
}

#[test]
fn entries_sharing_an_ip_get_the_sharing_key_and_do_not_block_each_other() {
    let text = "pools:\n  - name: homelab\n    addresses: [192.168.1.200-192.168.1.250]\nservices:\n  dns-tcp: {namespace: dns, ip: 192.168.1.210, ports: [53/TCP], sharedKey: dns}\n  dns-udp: {namespace: dns, ip: 192.168.1.210, ports: [53/UDP], sharedKey: dns}\n";
    let loaded = Loaded::from_text(text, "shared.yaml").unwrap();
    assert!(
        !crate::diagnostic::has_errors(&loaded.findings),
        "{:?}",
        loaded.findings
    );
    let reg = loaded.require_valid().unwrap();
    let observed = Observed::new(
        Scope::all(),
        vec![
            svc(
                "dns",
                "dns-tcp",
                &["192.168.1.210"],
                &[("metallb.io/loadBalancerIPs", "192.168.1.210")],
            ),
            svc("dns", "dns-udp", &[], &[]),
        ],
    );
    let rows = analyze(&reg, &observed);
    assert!(
        rows[0]
            .findings
            .iter()
            .any(|f| f.code == "missing-shared-key"),
        "{:?}",
        rows[0].findings
    );
    let p = plan(&reg, &observed, &PlanOptions::default());
    assert!(p.blocked.is_empty(), "{:?}", p.blocked);
    assert_eq!(p.steps.len(), 2);
    for step in &p.steps {
        assert_eq!(
            step.set_annotations
                .get("metallb.io/allow-shared-ip")
                .map(String::as_str),
            Some("dns"),
            "{step:?}"
        );
    }
}

mod shuffled {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        /// Whatever permutation of registry and spare addresses the Services hold, and
        /// whatever unregistered squatters sit among them, the plan never targets an IP
        /// someone else holds at that moment, and ends with every entry on its IP.
        #[test]
        fn any_shuffle_converges_without_targeting_a_held_ip(
            perm in Just((0..16usize).collect::<Vec<_>>()).prop_shuffle(),
            squatters in proptest::collection::vec(0..16usize, 0..3),
            pinned_mask in proptest::collection::vec(any::<bool>(), 12),
        ) {
            let reg = registry();
            // The 12 registry IPs plus 4 spare addresses in the pool.
            let mut pool: Vec<String> = reg.services.iter().map(|e| e.primary_ip().unwrap().to_string()).collect();
            pool.extend(["192.168.1.240", "192.168.1.241", "192.168.1.242", "192.168.1.243"].map(String::from));
            let mut services = Vec::new();
            let mut taken = std::collections::BTreeSet::new();
            for (i, e) in reg.services.iter().enumerate() {
                let ip = pool[perm[i]].clone();
                taken.insert(ip.clone());
                let ann: Vec<(&str, &str)> = if pinned_mask[i] { vec![("metallb.io/loadBalancerIPs", ip.as_str())] } else { vec![] };
                services.push(svc(e.namespace(), e.name(), &[ip.as_str()], &ann));
            }
            for (n, idx) in squatters.iter().enumerate() {
                let ip = pool[perm[12 + (idx % 4)]].clone();
                if taken.insert(ip.clone()) {
                    services.push(svc("demo", &format!("squatter-{n}"), &[ip.as_str()], &[]));
                }
            }
            let observed = Observed::new(Scope::all(), services);
            let p = plan(&reg, &observed, &PlanOptions::default());
            prop_assert!(p.blocked.is_empty(), "{:?}", p.blocked);
            let after = simulate(&observed, &p);
            for row in analyze(&reg, &after).iter().filter(|r| r.registry_id.is_some()) {
                prop_assert!(row.is_ok(), "{} is {}", row.key(), row.state_text());
            }
            prop_assert!(plan(&reg, &after, &PlanOptions::default()).steps.is_empty());
        }
    }
}
