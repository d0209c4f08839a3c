//! kube-rs, the client lbip uses, against the test server over TLS with the generated
//! kubeconfig: both auth methods, every patch type, conflicts, watches and the test hooks.

mod common;

use common::client;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Event, Service};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{WatchStreamExt, conditions, wait::await_condition, watcher};
use kube::{Client, Config};
use lbip_testcluster::{Fault, FaultAction, Options, TestCluster, Verb};
use serde_json::json;

const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/cluster");

fn api_error(e: kube::Error) -> (u16, String, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.reason.clone(), s.message.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn token_auth_list_get_patch_and_conflicts() {
    let c = TestCluster::start(Options::default().seed_path(SEED))
        .await
        .unwrap();
    let client = client(&c).await;
    let all: Api<Service> = Api::all(client.clone());
    c.request_log().clear();
    let list = all.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 12);
    // One LIST, no per-Service GET.
    let log = c.request_log();
    assert_eq!(log.count(Verb::List, "services"), 1);
    assert_eq!(log.count(Verb::Get, "services"), 0);
    assert!(log.mutating().is_empty());

    let mlflow: Api<Service> = Api::namespaced(client.clone(), "mlflow");
    let svc = mlflow.get("mlflow").await.unwrap();
    let ingress = svc.status.unwrap().load_balancer.unwrap().ingress.unwrap();
    assert_eq!(ingress[0].ip.as_deref(), Some("192.168.1.203"));

    // Merge patch.
    let p = json!({"metadata": {"annotations": {"lbip.example/owner": "registry"}}});
    let patched = mlflow
        .patch("mlflow", &PatchParams::default(), &Patch::Merge(&p))
        .await
        .unwrap();
    assert_eq!(
        patched.metadata.annotations.unwrap()["lbip.example/owner"],
        "registry"
    );
    // Strategic merge patch keeps the other port.
    let p = json!({"spec": {"ports": [{"name": "grpc", "port": 5001}]}});
    let patched = mlflow
        .patch("mlflow", &PatchParams::default(), &Patch::Strategic(&p))
        .await
        .unwrap();
    assert_eq!(patched.spec.unwrap().ports.unwrap().len(), 2);
    // Server-side apply creates, then updates.
    let ssa = PatchParams::apply("lbip").force();
    let desired = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "new", "namespace": "mlflow"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}});
    let created = mlflow
        .patch("new", &ssa, &Patch::Apply(&desired))
        .await
        .unwrap();
    assert_eq!(
        created.metadata.managed_fields.as_ref().unwrap()[0]
            .manager
            .as_deref(),
        Some("lbip")
    );
    assert_eq!(c.lb_ips("mlflow", "new"), ["192.168.1.206"]);

    // A write with a stale resourceVersion is a 409 Conflict.
    let mut stale = svc_with_rv(&svc_named(&mlflow, "mlflow").await, "1");
    stale.metadata.labels = Some([("x".to_string(), "y".to_string())].into());
    let (code, reason, msg) = api_error(
        mlflow
            .replace("mlflow", &PostParams::default(), &stale)
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    assert!(
        msg.starts_with("Operation cannot be fulfilled on services \"mlflow\""),
        "{msg}"
    );
    let p = json!({"metadata": {"resourceVersion": "1", "labels": {"x": "y"}}});
    assert_eq!(
        api_error(
            mlflow
                .patch("mlflow", &PatchParams::default(), &Patch::Merge(&p))
                .await
                .unwrap_err()
        )
        .0,
        409
    );
    // Creating an existing Service is AlreadyExists; a missing one is NotFound.
    let (code, reason, _) = api_error(
        mlflow
            .create(&PostParams::default(), &created)
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (409, "AlreadyExists"));
    let (code, _, msg) = api_error(mlflow.get("nope").await.unwrap_err());
    assert_eq!((code, msg.as_str()), (404, "services \"nope\" not found"));
    mlflow
        .delete("new", &DeleteParams::default())
        .await
        .unwrap();
    assert!(c.get_service("mlflow", "new").is_none());

    // Events are listed like any resource.
    let events: Api<Event> = Api::all(client);
    let evs = events
        .list(&ListParams::default().fields("involvedObject.name=new"))
        .await
        .unwrap();
    assert_eq!(evs.items[0].reason.as_deref(), Some("IPAllocated"));
}

async fn svc_named(api: &Api<Service>, name: &str) -> Service {
    api.get(name).await.unwrap()
}

fn svc_with_rv(svc: &Service, rv: &str) -> Service {
    let mut s = svc.clone();
    s.metadata.resource_version = Some(rv.to_string());
    s
}

#[tokio::test]
async fn client_certificate_auth_and_401_without_credentials() {
    let c = TestCluster::start(Options::default().client_cert().seed_path(SEED))
        .await
        .unwrap();
    let kc = std::fs::read_to_string(c.kubeconfig_path()).unwrap();
    assert!(kc.contains("client-certificate-data:") && !kc.contains("token:"));
    let svcs: Api<Service> = Api::all(client(&c).await);
    assert_eq!(
        svcs.list(&ListParams::default()).await.unwrap().items.len(),
        12
    );

    // Same CA, no user credentials: 401 with a Status.
    let anon =
        kc.split("users:").next().unwrap().to_string() + "users:\n- name: default\n  user: {}\n";
    let path = c.kubeconfig_path().with_file_name("anon.yaml");
    std::fs::write(&path, anon).unwrap();
    let kc = Kubeconfig::read_from(&path).unwrap();
    let cfg = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap();
    let svcs: Api<Service> = Api::all(Client::try_from(cfg).unwrap());
    let (code, reason, _) = api_error(svcs.list(&ListParams::default()).await.unwrap_err());
    assert_eq!((code, reason.as_str()), (401, "Unauthorized"));
}

#[tokio::test]
async fn watcher_and_await_condition_follow_the_simulator() {
    let c = TestCluster::start(Options::default().seed_path(SEED))
        .await
        .unwrap();
    let client = client(&c).await;
    let mlflow: Api<Service> = Api::namespaced(client.clone(), "mlflow");
    // Ask for the dashboard's IP: pending until the dashboard moves.
    let p = json!({"metadata": {"annotations": {"metallb.io/loadBalancerIPs": "192.168.1.215"}}});
    mlflow
        .patch("mlflow", &PatchParams::default(), &Patch::Merge(&p))
        .await
        .unwrap();
    assert!(c.lb_ips("mlflow", "mlflow").is_empty());

    let has_ip = |s: Option<&Service>| {
        s.and_then(|s| s.status.as_ref()?.load_balancer.as_ref()?.ingress.as_ref())
            .is_some_and(|i| !i.is_empty())
    };
    let wait = tokio::spawn(await_condition(mlflow.clone(), "mlflow", has_ip));
    let mut stream = watcher(mlflow.clone(), watcher::Config::default())
        .applied_objects()
        .boxed();
    // The initial list delivers the pending Service.
    let first = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.metadata.name.as_deref(), Some("mlflow"));

    let dash: Api<Service> = Api::namespaced(client, "kubernetes-dashboard");
    let p = json!({"metadata": {"annotations": {"metallb.io/loadBalancerIPs": "192.168.1.208"}}});
    dash.patch(
        "kubernetes-dashboard",
        &PatchParams::default(),
        &Patch::Merge(&p),
    )
    .await
    .unwrap();

    let got = tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .unwrap()
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        got.status.unwrap().load_balancer.unwrap().ingress.unwrap()[0]
            .ip
            .as_deref(),
        Some("192.168.1.215")
    );
    let modified = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(s) = stream.try_next().await.unwrap() {
            if has_ip(Some(&s)) {
                return s;
            }
        }
        panic!("watch ended")
    })
    .await
    .unwrap();
    assert_eq!(modified.metadata.name.as_deref(), Some("mlflow"));
    assert!(c.request_log().count(Verb::Watch, "services") >= 1);
    // A deletion ends a condition wait too.
    let gone = tokio::spawn(await_condition(
        mlflow.clone(),
        "mlflow",
        conditions::is_deleted(""),
    ));
    mlflow
        .delete("mlflow", &DeleteParams::default())
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), gone)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn raw_watches_replay_expire_and_time_out() {
    let c = TestCluster::start(Options::default().seed_path(SEED))
        .await
        .unwrap();
    let mlflow: Api<Service> = Api::namespaced(client(&c).await, "mlflow");
    let rv = mlflow
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    c.patch_service(
        "mlflow",
        "mlflow",
        json!({"metadata": {"labels": {"a": "b"}}}),
    )
    .unwrap();

    // Changes after the version are replayed; the stream ends at timeoutSeconds.
    let started = std::time::Instant::now();
    let params = WatchParams::default().timeout(1);
    let events: Vec<WatchEvent<Service>> = mlflow
        .watch(&params, &rv)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(
        matches!(&events[..], [WatchEvent::Modified(s)] if s.metadata.labels.as_ref().unwrap()["a"] == "b"),
        "{events:?}"
    );
    assert!(started.elapsed() >= Duration::from_secs(1));

    // A version older than the kept history is answered with 410 Gone.
    let events: Vec<WatchEvent<Service>> = mlflow
        .watch(&params, "1")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert!(
        matches!(&events[..], [WatchEvent::Error(e)] if e.code == 410),
        "{events:?}"
    );
}

#[tokio::test]
async fn faults_and_rbac_reach_the_client() {
    let c = TestCluster::start(Options::default().seed_path(SEED))
        .await
        .unwrap();
    let mlflow: Api<Service> = Api::namespaced(client(&c).await, "mlflow");
    let p = json!({"metadata": {"labels": {"a": "b"}}});
    let pp = PatchParams::default();

    c.inject(
        Fault::on(Verb::Patch, "services")
            .name("mlflow")
            .nth(2)
            .action(FaultAction::Status(500)),
    );
    mlflow
        .patch("mlflow", &pp, &Patch::Merge(&p))
        .await
        .unwrap();
    assert_eq!(
        api_error(
            mlflow
                .patch("mlflow", &pp, &Patch::Merge(&p))
                .await
                .unwrap_err()
        )
        .0,
        500
    );
    mlflow
        .patch("mlflow", &pp, &Patch::Merge(&p))
        .await
        .unwrap();

    // kube-rs retries a 429 after its Retry-After (1s).
    c.request_log().clear();
    c.inject(Fault::on(Verb::Get, "services").action(FaultAction::Status(429)));
    mlflow.get("mlflow").await.unwrap();
    let statuses: Vec<u16> = c.request_log().entries().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 200]);

    c.inject(Fault::on(Verb::Get, "services").action(FaultAction::Drop));
    assert!(matches!(
        mlflow.get("mlflow").await.unwrap_err(),
        kube::Error::HyperError(_) | kube::Error::Service(_)
    ));
    assert_eq!(c.request_log().entries().last().unwrap().status, 0);

    c.inject(
        Fault::on(Verb::List, "services").action(FaultAction::Delay(Duration::from_millis(200))),
    );
    let t = std::time::Instant::now();
    mlflow.list(&ListParams::default()).await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(200));

    c.deny(Verb::Patch, "services", Some("mlflow"));
    let (code, _, msg) = api_error(
        mlflow
            .patch("mlflow", &pp, &Patch::Merge(&p))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 403);
    assert_eq!(
        msg,
        "services \"mlflow\" is forbidden: User \"lbip-test\" cannot patch resource \"services\" in API group \"\" in the namespace \"mlflow\""
    );
    c.clear_hooks();
    mlflow
        .patch(
            "mlflow",
            &pp,
            &Patch::Merge(&json!({"metadata": {"labels": {"c": "d"}}})),
        )
        .await
        .unwrap();
    let statuses: Vec<u16> = c
        .request_log()
        .mutating()
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [403, 200]);
}

#[tokio::test]
async fn lists_come_in_pages_with_continue_tokens_that_expire() {
    let c = TestCluster::start(Options::default().seed_path(SEED))
        .await
        .unwrap();
    let client = client(&c).await;
    let all: Api<Service> = Api::all(client.clone());
    let first = all.list(&ListParams::default().limit(5)).await.unwrap();
    assert_eq!(first.items.len(), 5);
    assert_eq!(first.metadata.remaining_item_count, Some(7));
    let token = first.metadata.continue_.clone().unwrap();
    let second = all
        .list(&ListParams::default().limit(5).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(second.items.len(), 5);
    // Pages do not overlap and keep the order of a full list.
    let full = all.list(&ListParams::default()).await.unwrap();
    let names = |items: &[Service]| -> Vec<String> {
        items
            .iter()
            .map(|s| {
                format!(
                    "{}/{}",
                    s.metadata.namespace.clone().unwrap(),
                    s.metadata.name.clone().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(names(&first.items), names(&full.items[..5]));
    assert_eq!(names(&second.items), names(&full.items[5..10]));
    assert!(full.metadata.continue_.is_none());
    // A label selector filters before paging; no remainingItemCount then, as on a real server.
    let selected = all
        .list(
            &ListParams::default()
                .labels("app.kubernetes.io/name")
                .limit(1),
        )
        .await
        .unwrap();
    assert!(selected.metadata.remaining_item_count.is_none());
    // An expired token: 410 Expired, with a fresh token in the Status.
    c.expire_continue_tokens();
    let err = all
        .list(&ListParams::default().limit(5).continue_token(&token))
        .await
        .unwrap_err();
    let (code, reason, message) = api_error(err);
    assert_eq!((code, reason.as_str()), (410, "Expired"));
    assert!(
        message.starts_with("The provided continue parameter is too old"),
        "{message}"
    );
}

#[tokio::test]
async fn namespaces_carry_labels_that_patches_change() {
    let c =
        TestCluster::start(Options::default().seed_yaml(
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: ml, labels: {team: a}}\n",
        ))
        .await
        .unwrap();
    let client = client(&c).await;
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client);
    let ml = api.get("ml").await.unwrap();
    let labels = ml.metadata.labels.unwrap();
    assert_eq!(labels.get("team").map(String::as_str), Some("a"));
    assert_eq!(
        labels
            .get("kubernetes.io/metadata.name")
            .map(String::as_str),
        Some("ml")
    );
    // `kubectl label namespace ml team=b tier=gpu`
    let p = json!({"metadata": {"labels": {"team": "b", "tier": "gpu"}}});
    api.patch("ml", &PatchParams::default(), &Patch::Merge(&p))
        .await
        .unwrap();
    let listed = api.list(&ListParams::default()).await.unwrap();
    let ml = listed
        .items
        .iter()
        .find(|n| n.metadata.name.as_deref() == Some("ml"))
        .unwrap();
    let labels = ml.metadata.labels.clone().unwrap();
    assert_eq!(labels.get("team").map(String::as_str), Some("b"));
    assert_eq!(labels.get("tier").map(String::as_str), Some("gpu"));
}
