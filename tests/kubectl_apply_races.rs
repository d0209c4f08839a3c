//! The cluster changes while `apply` runs: a Service created between the plan and a patch
//! (by the test server's hook, as a racing client would) takes the address a step moves to.
//! lbip re-reads before each move and plans the rest again, or moves a Service that lost its
//! IP back; it never leaves a Service without the IP it had. A wait that times out reports
//! where every Service stands and the command that resumes.

mod kubectl_support;

use kubectl_support::*;
use lbip_testcluster::{Fault, FaultAction, Options, TestCluster, Verb};
use serde_json::{Value, json};

/// MLflow (registry: .215) on .203, requesting nothing; .215 is free.
fn mlflow_drifted() -> TestCluster {
    let c = cluster();
    c.create_service(svc("mlflow", "mlflow", 5000, json!({})))
        .unwrap();
    c.patch_service(
        "mlflow",
        "mlflow",
        json!({"metadata": {"annotations": {"metallb.io/loadBalancerIPs": "192.168.1.203"}}}),
    )
    .unwrap();
    c.patch_service(
        "mlflow",
        "mlflow",
        json!({"metadata": {"annotations": {"metallb.io/loadBalancerIPs": null}}}),
    )
    .unwrap();
    assert_eq!(c.lb_ips("mlflow", "mlflow"), ["192.168.1.203"]);
    c
}

/// A Service another client creates in the middle of the apply, asking for .215.
fn newcomer() -> Value {
    let mut s = pinned("default", "newcomer", 8080, "192.168.1.215");
    s["apiVersion"] = json!("v1");
    s["kind"] = json!("Service");
    s
}

/// The first LIST of Services is the plan's read, the second the check right before the
/// first patch: just before that check is served, the newcomer takes .215.
fn newcomer_before_the_check(c: &TestCluster) {
    c.inject(
        Fault::on(Verb::List, "services")
            .nth(2)
            .action(FaultAction::Create(newcomer())),
    );
}

fn mlflow_on_its_ip_and_the_newcomer_elsewhere(c: &TestCluster) {
    assert_eq!(c.lb_ips("mlflow", "mlflow"), ["192.168.1.215"]);
    let moved = c.lb_ips("default", "newcomer");
    assert_eq!(moved.len(), 1, "the newcomer has no IP");
    assert_ne!(moved, ["192.168.1.215"]);
}

fn apply_all(c: &TestCluster) -> Run {
    lbip(c, &example_registry(), &["apply", "-A", "--timeout", "10s"])
}

fn no_allocation_failed_for(c: &TestCluster, ns: &str, name: &str) {
    let failed: Vec<(String, String)> = c
        .event_reasons(ns, name)
        .into_iter()
        .filter(|(r, _)| r == "AllocationFailed")
        .collect();
    assert!(failed.is_empty(), "{ns}/{name} was refused: {failed:?}");
}

#[test]
fn a_service_created_after_the_plan_on_the_target_makes_apply_plan_again() {
    let c = mlflow_drifted();
    newcomer_before_the_check(&c);
    let run = apply_all(&c);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains(
            "The cluster changed before pin mlflow/mlflow: 192.168.1.215 is now held or requested by default/newcomer (it changed after the plan was made). The rest was planned again (2 step(s)):"
        ),
        "{run:?}"
    );
    assert!(run.stderr.contains("1. evict default/newcomer"), "{run:?}");
    // Nobody was left without an IP: the newcomer moved to a free address first.
    mlflow_on_its_ip_and_the_newcomer_elsewhere(&c);
    no_allocation_failed_for(&c, "mlflow", "mlflow");
}

#[test]
fn a_newcomer_outside_the_scope_stops_apply_before_the_patch_and_says_why() {
    let c = mlflow_drifted();
    newcomer_before_the_check(&c);
    let run = lbip(
        &c,
        &example_registry(),
        &["apply", "-n", "mlflow", "--timeout", "10s"],
    );
    // The new plan cannot move the newcomer (other namespace): MLflow is blocked, untouched.
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains(
            "blocked: mlflow/mlflow: 192.168.1.215 is held by default/newcomer, outside the selected namespaces"
        ),
        "{run:?}"
    );
    assert_eq!(c.lb_ips("mlflow", "mlflow"), ["192.168.1.203"]);
    assert!(
        c.request_log()
            .mutating()
            .iter()
            .all(|r| r.name.as_deref() != Some("mlflow")),
        "MLflow was patched: {:?}",
        c.request_log().mutating()
    );
    let json = lbip(
        &c,
        &example_registry(),
        &["apply", "-n", "mlflow", "--dry-run", "-o", "json"],
    );
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["plan"]["blocked"][0]["name"], "mlflow");
}

#[test]
fn a_target_taken_in_the_moment_of_the_patch_moves_the_service_back_and_replans() {
    let c = mlflow_drifted();
    // The newcomer takes .215 right before MLflow's patch is served, after lbip's check:
    // MetalLB then releases .203 and leaves MLflow without an IP.
    c.inject(
        Fault::on(Verb::Patch, "services")
            .name("mlflow")
            .action(FaultAction::Create(newcomer())),
    );
    let run = apply_all(&c);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains(
            "192.168.1.215 was taken by default/newcomer while mlflow/mlflow moved there; it was moved back to 192.168.1.203"
        ),
        "{run:?}"
    );
    mlflow_on_its_ip_and_the_newcomer_elsewhere(&c);
}

#[test]
fn a_cluster_that_keeps_changing_stops_apply_with_every_service_it_moved_on_an_ip() {
    let c = mlflow_drifted();
    // Another client keeps creating Services that ask for .215, one before each re-read:
    // lbip plans again three times, then stops.
    for n in 0..12 {
        let mut s = newcomer();
        s["metadata"]["name"] = json!(format!("racer-{n}"));
        c.inject(
            Fault::on(Verb::List, "services")
                .nth(2 + n)
                .action(FaultAction::Create(s)),
        );
    }
    let run = apply_all(&c);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("the cluster kept changing while lbip applied the plan"),
        "{run:?}"
    );
    assert!(run.stderr.contains("Resume with `"), "{run:?}");
    assert_eq!(
        run.stderr.matches("The rest was planned again").count(),
        3,
        "{run:?}"
    );
    // MLflow and every Service lbip moved still have an IP. (Racers that asked for a held
    // address wait for it, as MetalLB makes them.)
    assert_eq!(c.lb_ips("mlflow", "mlflow").len(), 1);
    for r in c.request_log().mutating() {
        let (ns, name) = (r.namespace.unwrap(), r.name.unwrap());
        assert_eq!(c.lb_ips(&ns, &name).len(), 1, "{ns}/{name} has no IP");
    }
}

#[test]
fn a_wait_that_times_out_reports_every_service_and_the_command_that_resumes() {
    // No MetalLB at all (its controller is down): requests are patched, nobody answers.
    let c = TestCluster::start_blocking(Options {
        metallb: None,
        ..Options::default().seed_yaml(&metallb_seed()).seed_yaml(
            "apiVersion: v1\nkind: Service\nmetadata: {name: squatter, namespace: web}\nspec: {type: LoadBalancer, ports: [{port: 80}]}\nstatus: {loadBalancer: {ingress: [{ip: 192.168.1.215}]}}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: mlflow, namespace: mlflow}\nspec: {type: LoadBalancer, ports: [{port: 5000}]}\nstatus: {loadBalancer: {ingress: [{ip: 192.168.1.203}]}}\n",
        )
    })
    .unwrap();
    let reg = example_registry();
    let run = lbip(&c, &reg, &["apply", "-A", "--timeout", "1s"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains(
            "apply stopped at evict web/squatter: timed out after 1s waiting for MetalLB to assign"
        ),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains("to web/squatter (it has 192.168.1.215;"),
        "{run:?}"
    );
    // Where each Service of the plan stands.
    let now = run.stderr.split("now:\n").nth(1).unwrap_or_default();
    assert!(
        now.lines().any(|l| l.contains("mlflow/mlflow")
            && l.contains("requests nothing")
            && l.contains("has 192.168.1.203")),
        "{run:?}"
    );
    assert!(
        now.lines()
            .any(|l| l.contains("web/squatter") && l.contains("has 192.168.1.215")),
        "{run:?}"
    );
    // The exact command, to run again.
    let resume = format!(
        "Resume with `lbip cluster apply -A --timeout 1s --kubeconfig {} -r {}`",
        c.kubeconfig_path().display(),
        reg.display()
    );
    assert!(run.stderr.contains(&resume), "{run:?}");
    let json = lbip(&c, &reg, &["apply", "-A", "--timeout", "1s", "-o", "json"]);
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    let services = v["report"]["failed"]["services"].as_array().unwrap();
    assert!(
        services
            .iter()
            .any(|s| s["name"] == "mlflow" && s["assigned"] == json!(["192.168.1.203"]))
    );
}

#[test]
fn a_move_metallb_refuses_for_a_reason_lbip_could_not_see_puts_the_service_back() {
    // The pool stops at .210 and lbip may not read pools: it cannot see that MLflow's
    // registry IP .215 is in no pool, says so, and MetalLB refuses the move.
    let c = TestCluster::start_blocking(Options::default().seed_yaml(
        "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: small, namespace: metallb-system}\nspec: {addresses: [192.168.1.200-192.168.1.210]}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: mlflow, namespace: mlflow}\nspec: {type: LoadBalancer, ports: [{port: 5000}]}\nstatus: {loadBalancer: {ingress: [{ip: 192.168.1.203}]}}\n",
    ))
    .unwrap();
    c.deny(Verb::List, "ipaddresspools", None);
    let run = lbip(
        &c,
        &example_registry(),
        &["apply", "-n", "mlflow", "--timeout", "10s"],
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("cannot verify that the addresses it moves Services to are in a pool"),
        "{run:?}"
    );
    // MetalLB's own reason is in the message.
    assert!(
        run.stderr.contains(
            "MetalLB did not give 192.168.1.215 to mlflow/mlflow (MetalLB: AllocationFailed: Failed to allocate IP for \"mlflow/mlflow\": [\"192.168.1.215\"] is not allowed in config) and took its IP away; it was moved back to 192.168.1.203"
        ),
        "{run:?}"
    );
    // Not stranded: MLflow has its old address again.
    assert_eq!(c.lb_ips("mlflow", "mlflow"), ["192.168.1.203"]);
}
