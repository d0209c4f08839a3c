//! Through kube-rs over TLS: server-side apply with field ownership (what Helm 4 relies on),
//! and the kinds stored without a model (what charts create next to their Services, and
//! Helm's release Secrets, found by label selector). Real Helm 3 and 4 run against the
//! server in the lbip crate's tests/helm_cluster.rs.

mod common;

use common::client;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::rbac::v1::Role;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use lbip_testcluster::{Options, TestCluster};
use serde_json::{Value, json};

fn service(annotations: Value, ports: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "annotations": annotations},
        "spec": {"type": "ClusterIP", "ports": ports}})
}

fn managers(svc: &Service) -> Vec<(String, String)> {
    svc.metadata
        .managed_fields
        .iter()
        .flatten()
        .map(|m| {
            (
                m.manager.clone().unwrap_or_default(),
                m.operation.clone().unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn apply_owns_its_fields_removes_what_it_drops_and_conflicts_on_others() {
    let c = TestCluster::start(Options::default()).await.unwrap();
    let api: Api<Service> = Api::namespaced(client(&c).await, "apps");
    let helm = PatchParams::apply("helm");
    let v1 = service(
        json!({"a": "1", "b": "2"}),
        json!([{"port": 80}, {"port": 81}]),
    );
    let created = api.patch("web", &helm, &Patch::Apply(&v1)).await.unwrap();
    assert_eq!(managers(&created), [("helm".into(), "Apply".into())]);

    // Another manager takes one annotation and adds another, with a merge patch.
    let mine = PatchParams {
        field_manager: Some("lbip".into()),
        ..PatchParams::default()
    };
    let patch = json!({"metadata": {"annotations": {"a": "9", "c": "3"}}});
    api.patch("web", &mine, &Patch::Merge(&patch))
        .await
        .unwrap();

    // Applying `a` back to 1 now conflicts with lbip, which owns it...
    let err = api
        .patch("web", &helm, &Patch::Apply(&v1))
        .await
        .unwrap_err();
    let kube::Error::Api(status) = err else {
        panic!("{err:?}")
    };
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        status.message,
        "Apply failed with 1 conflict: conflict with \"lbip\" using v1: .metadata.annotations.a"
    );
    // ...until forced. Dropping `b` and port 81 removes them; lbip's `c` stays.
    let v2 = service(json!({"a": "1"}), json!([{"port": 80}]));
    let out = api
        .patch("web", &helm.clone().force(), &Patch::Apply(&v2))
        .await
        .unwrap();
    let annotations = out.metadata.annotations.clone().unwrap();
    assert_eq!(
        annotations.into_iter().collect::<Vec<_>>(),
        [("a".into(), "1".into()), ("c".into(), "3".into())]
    );
    let ports: Vec<i32> = out
        .spec
        .as_ref()
        .unwrap()
        .ports
        .iter()
        .flatten()
        .map(|p| p.port)
        .collect();
    assert_eq!(ports, [80]);

    // The same apply again changes nothing: same resourceVersion.
    let again = api.patch("web", &helm, &Patch::Apply(&v2)).await.unwrap();
    assert_eq!(
        again.metadata.resource_version,
        out.metadata.resource_version
    );
}

#[tokio::test]
async fn generic_kinds_round_trip_and_helm_finds_its_releases_by_label() {
    let c = TestCluster::start(Options::default()).await.unwrap();
    let client = client(&c).await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "mlflow");
    for (version, status) in [(1, "superseded"), (2, "deployed")] {
        let release: Secret = serde_json::from_value(json!({
            "metadata": {"name": format!("sh.helm.release.v1.mlflow.v{version}"),
                "labels": {"owner": "helm", "name": "mlflow", "status": status, "version": version.to_string()}},
            "type": "helm.sh/release.v1",
            "data": {"release": "SDRzSQ=="},
        }))
        .unwrap();
        secrets
            .create(&PostParams::default(), &release)
            .await
            .unwrap();
    }
    let other: Secret = serde_json::from_value(json!({
        "metadata": {"name": "env"}, "stringData": {"password": "hunter2"}}))
    .unwrap();
    let stored = secrets
        .create(&PostParams::default(), &other)
        .await
        .unwrap();
    // The API server turns stringData into data and defaults the type.
    assert_eq!(stored.type_.as_deref(), Some("Opaque"));
    assert_eq!(stored.data.unwrap()["password"].0, b"hunter2");
    assert!(stored.string_data.is_none());

    // Helm's queries: all revisions of a release, and the deployed one.
    let names = |l: kube::core::ObjectList<Secret>| -> Vec<String> {
        l.items
            .into_iter()
            .map(|s| s.metadata.name.unwrap())
            .collect()
    };
    let all = secrets
        .list(&ListParams::default().labels("name=mlflow,owner=helm"))
        .await
        .unwrap();
    assert_eq!(
        names(all),
        [
            "sh.helm.release.v1.mlflow.v1",
            "sh.helm.release.v1.mlflow.v2"
        ]
    );
    let deployed = secrets
        .list(&ListParams::default().labels("name=mlflow,owner=helm,status=deployed"))
        .await
        .unwrap();
    assert_eq!(names(deployed), ["sh.helm.release.v1.mlflow.v2"]);

    // Other kinds: stored and served as sent.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "mlflow");
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "cfg"}, "data": {"workers": "4"}}))
            .unwrap();
    cms.create(&PostParams::default(), &cm).await.unwrap();
    assert_eq!(cms.get("cfg").await.unwrap().data.unwrap()["workers"], "4");
    let roles: Api<Role> = Api::namespaced(client, "mlflow");
    let role: Role = serde_json::from_value(json!({"metadata": {"name": "r"},
        "rules": [{"apiGroups": [""], "resources": ["services"], "verbs": ["get"]}]}))
    .unwrap();
    roles.create(&PostParams::default(), &role).await.unwrap();
    let patch = json!({"rules": [{"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list"]}]});
    let patched = roles
        .patch("r", &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .unwrap();
    assert_eq!(patched.rules.unwrap()[0].verbs, ["get", "list"]);
}
