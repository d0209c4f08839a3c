//! One rule for "is this LoadBalancer MetalLB's" (issue 9, case 5): the post-renderer and the
//! cluster faces decide it the same way (`metallb::class_mismatch`: the Service's
//! `spec.loadBalancerClass` must be the class MetalLB runs with, the registry's
//! `provider.loadBalancerClass`) and say it with the same words.

mod kubectl_support;

use kubectl_support::*;
use lbip::manifest::{Options, Unpinned, post_render};
use serde_json::{Value, json};

fn with_class(mut svc: Value, class: &str) -> Value {
    svc["spec"]["loadBalancerClass"] = class.into();
    svc
}

fn example_text() -> String {
    std::fs::read_to_string(example_registry()).unwrap()
}

fn rows(run: &Run) -> Vec<Value> {
    serde_json::from_str::<Value>(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {run:?}"))
        .as_array()
        .unwrap()
        .clone()
}

fn row<'a>(rows: &'a [Value], key: &str) -> Option<&'a Value> {
    rows.iter().find(|r| {
        format!(
            "{}/{}",
            r["namespace"].as_str().unwrap(),
            r["name"].as_str().unwrap()
        ) == key
    })
}

#[test]
fn status_and_post_render_agree_on_a_foreign_class() {
    let c = cluster();
    c.create_service(with_class(
        svc("kube-system", "hubble-relay", 80, json!({})),
        "io.cilium/bgp-control-plane",
    ))
    .unwrap();
    c.create_service(with_class(
        pinned("mlflow", "mlflow", 5000, "192.168.1.215"),
        "io.cilium/bgp-control-plane",
    ))
    .unwrap();
    let reg = registry(&example_text());
    let run = lbip(&c, &reg.path, &["status", "-o", "json"]);
    assert_eq!(run.code, 0, "{run:?}");
    let rows = rows(&run);
    // Not MetalLB's and not in the registry: not lbip's business either.
    assert!(row(&rows, "kube-system/hubble-relay").is_none(), "{run:?}");
    let mlflow = row(&rows, "mlflow/mlflow").expect("the registered Service has a row");
    let finding = mlflow["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "foreign-load-balancer-class")
        .unwrap_or_else(|| panic!("{mlflow}"));
    let status_words = finding["message"].as_str().unwrap();
    assert!(
        status_words.starts_with(
            "mlflow/mlflow: sets spec.loadBalancerClass `io.cilium/bgp-control-plane`"
        ),
        "{status_words}"
    );

    // The post-renderer, on the same Service as a chart renders it, says the same words.
    let manifest = "apiVersion: v1\nkind: Service\nmetadata: {name: mlflow, namespace: mlflow}\nspec: {type: LoadBalancer, loadBalancerClass: io.cilium/bgp-control-plane}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: hubble-relay, namespace: kube-system}\nspec: {type: LoadBalancer, loadBalancerClass: io.cilium/bgp-control-plane}\n";
    let registry = lbip::registry::Loaded::from_text(&example_text(), "r.yaml")
        .unwrap()
        .require_valid()
        .unwrap();
    let outcome = post_render(
        manifest.as_bytes(),
        &registry,
        &Options {
            namespace: None,
            unpinned: Unpinned::Fail,
        },
    )
    .unwrap();
    let render_words = &outcome.findings[0].message;
    let shared = status_words.trim_start_matches("mlflow/mlflow: ");
    assert!(
        render_words.ends_with(shared),
        "{render_words}\nvs\n{shared}"
    );
    assert_eq!(
        outcome.findings.len(),
        1,
        "the unregistered one is not mentioned"
    );
}

#[test]
fn with_provider_load_balancer_class_only_that_class_is_metallbs() {
    let c = cluster();
    // An unclassed LoadBalancer belongs to another load balancer when MetalLB runs with
    // --lb-class; one of MetalLB's class is reported as unregistered.
    c.create_service(svc("apps", "plain", 80, json!({})))
        .unwrap();
    c.create_service(with_class(
        svc("apps", "ours", 80, json!({})),
        "metallb.io/homelab",
    ))
    .unwrap();
    let text = example_text().replace(
        "provider:\n",
        "provider:\n  loadBalancerClass: metallb.io/homelab\n",
    );
    let reg = registry(&text);
    let rows = rows(&lbip(&c, &reg.path, &["status", "-o", "json"]));
    assert!(row(&rows, "apps/plain").is_none());
    let ours = row(&rows, "apps/ours").expect("MetalLB's own class is its business");
    assert!(
        ours["states"]
            .as_array()
            .unwrap()
            .contains(&json!("unpinned")),
        "{ours}"
    );
}
