//! 429 and transient 5xx answers are retried with backoff, honouring `Retry-After`, by
//! lbip's own policy (kube-rs's built-in retry is off, so nothing is retried twice over);
//! an answer that stays an error is reported with how often it was retried.

mod kubectl_support;

use kubectl_support::*;
use lbip_testcluster::{Fault, FaultAction, Verb};
use serde_json::json;
use std::time::{Duration, Instant};

fn drifted() -> lbip_testcluster::TestCluster {
    let c = cluster();
    c.create_service(svc("mlflow", "mlflow", 5000, json!({})))
        .unwrap();
    c.create_service(svc("monitoring", "grafana", 3000, json!({})))
        .unwrap();
    c
}

/// HTTP statuses of the requests with this verb on Services, in order.
fn statuses(c: &lbip_testcluster::TestCluster, verb: Verb) -> Vec<u16> {
    c.request_log()
        .entries()
        .iter()
        .filter(|r| r.verb == verb && r.resource.as_deref() == Some("services"))
        .map(|r| r.status)
        .collect()
}

#[test]
fn transient_server_errors_are_retried_and_apply_converges() {
    let c = drifted();
    c.request_log().clear();
    // The first read answers 503 once, the first patch 500 then 502.
    c.inject(Fault::on(Verb::List, "services").action(FaultAction::Status(503)));
    c.inject(
        Fault::on(Verb::Patch, "services")
            .times(1)
            .action(FaultAction::Status(500)),
    );
    c.inject(
        Fault::on(Verb::Patch, "services")
            .nth(2)
            .action(FaultAction::Status(502)),
    );
    let run = lbip(
        &c,
        &example_registry(),
        &["apply", "-A", "--timeout", "10s"],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(c.lb_ips("mlflow", "mlflow"), ["192.168.1.215"]);
    assert_eq!(c.lb_ips("monitoring", "grafana"), ["192.168.1.207"]);
    assert_eq!(statuses(&c, Verb::List)[..2], [503, 200]);
    // Fault counters see every request: the first patch failed twice, then went through.
    assert_eq!(statuses(&c, Verb::Patch), [500, 502, 200, 200]);
}

#[test]
fn too_many_requests_waits_as_long_as_retry_after_says() {
    let c = drifted();
    c.request_log().clear();
    // The test server's 429 carries `Retry-After: 1`.
    c.inject(Fault::on(Verb::List, "services").action(FaultAction::Status(429)));
    let started = Instant::now();
    let run = lbip(&c, &example_registry(), &["status"]);
    let elapsed = started.elapsed();
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(statuses(&c, Verb::List)[..2], [429, 200]);
    assert!(
        elapsed >= Duration::from_secs(1),
        "Retry-After ignored: {elapsed:?}"
    );
}

#[test]
fn an_error_that_stays_is_reported_after_five_retries_and_is_not_retried_twice_over() {
    let c = drifted();
    c.request_log().clear();
    // 503 is one kube-rs would retry on its own, 15 times: exactly 1 + 5 requests show that
    // only lbip's policy retries.
    c.inject(
        Fault::on(Verb::List, "services")
            .times(1000)
            .action(FaultAction::Status(503)),
    );
    let run = lbip(&c, &example_registry(), &["status"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(statuses(&c, Verb::List), [503; 6]);
    assert!(
        run.stderr.contains(
            "the API server refused to list services in all namespaces (cluster scope): HTTP 503: injected fault: internal error (still so after 5 retries with backoff)"
        ),
        "{run:?}"
    );
    // Answers that will not change by asking again are not retried.
    c.clear_hooks();
    c.request_log().clear();
    c.inject(
        Fault::on(Verb::List, "services")
            .times(1000)
            .action(FaultAction::Status(404)),
    );
    let run = lbip(&c, &example_registry(), &["status"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(statuses(&c, Verb::List), [404]);
    assert!(!run.stderr.contains("retries"), "{run:?}");
}
