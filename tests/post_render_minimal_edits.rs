//! Property: for any changed document, the line diff between input and output touches only
//! the lines of the keys lbip owns (annotations, `spec.loadBalancerIP`, `spec.type`), plus
//! the head comment of an owned key it removes. Every other line (indentation, quoting,
//! flow mappings, block scalars, comments, line endings) comes out byte for byte. And the
//! output means what the input meant, except for those keys.

use lbip::manifest::{Options, Unpinned, post_render};
use lbip::registry::{Loaded, Registry};
use proptest::prelude::*;

fn registry() -> Registry {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/registry.yaml"),
    )
    .unwrap()
    .replace(
        "  argo-workflows-server:\n    namespace: argowf\n",
        "  argo-workflows-server:\n    namespace: argowf\n    forceLoadBalancer: true\n",
    );
    Loaded::from_text(&text, "registry.yaml")
        .unwrap()
        .require_valid()
        .unwrap()
}

/// How a generated Service is written.
#[derive(Debug, Clone)]
struct Shape {
    service: (&'static str, &'static str),
    step: usize,
    crlf: bool,
    compact_seq: bool,
    labels: Labels,
    annotations: Annotations,
    description: Option<bool>,
    spec_ip: Option<&'static str>,
    type_line: Option<&'static str>,
    comments: bool,
}

#[derive(Debug, Clone, Copy)]
enum Labels {
    None,
    Block,
    Flow,
}

#[derive(Debug, Clone, Copy)]
enum Annotations {
    Absent,
    Null,
    EmptyFlow,
    Unrelated,
    Misspelled,
    WrongIp,
    OtherPrefix,
    Flow,
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        prop_oneof![
            Just(("mlflow", "mlflow")),
            Just(("grafana", "monitoring")),
            Just(("argo-workflows-server", "argowf")),
            Just(("minio", "minio")),
        ],
        2..=4usize,
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(Labels::None), Just(Labels::Block), Just(Labels::Flow)],
        prop_oneof![
            Just(Annotations::Absent),
            Just(Annotations::Null),
            Just(Annotations::EmptyFlow),
            Just(Annotations::Unrelated),
            Just(Annotations::Misspelled),
            Just(Annotations::WrongIp),
            Just(Annotations::OtherPrefix),
            Just(Annotations::Flow),
        ],
        prop::option::of(any::<bool>()),
        prop::option::of(prop_oneof![Just("192.168.1.201"), Just("\"\"")]),
        prop::option::of(prop_oneof![
            Just("LoadBalancer"),
            Just("\"LoadBalancer\""),
            Just("NodePort"),
            Just("ClusterIP # was internal")
        ]),
        any::<bool>(),
    )
        .prop_map(
            |(
                service,
                step,
                crlf,
                compact_seq,
                labels,
                annotations,
                description,
                spec_ip,
                type_line,
                comments,
            )| Shape {
                service,
                step,
                crlf,
                compact_seq,
                labels,
                annotations,
                description,
                spec_ip,
                type_line,
                comments,
            },
        )
}

fn write(s: &Shape) -> String {
    let i1 = " ".repeat(s.step);
    let i2 = " ".repeat(s.step * 2);
    let i3 = " ".repeat(s.step * 3);
    let mut lines: Vec<String> = vec![
        "---".into(),
        "# Source: chart/templates/service.yaml".into(),
        "apiVersion: v1".into(),
        "kind: Service".into(),
        "metadata:".into(),
    ];
    let (name, ns) = s.service;
    lines.push(format!(
        "{i1}name: {name}{}",
        if s.comments { "  # the name" } else { "" }
    ));
    lines.push(format!("{i1}namespace: \"{ns}\""));
    match s.labels {
        Labels::None => {}
        Labels::Block => {
            lines.push(format!("{i1}labels:"));
            lines.push(format!("{i2}app.kubernetes.io/version: \"1.10\""));
            lines.push(format!("{i2}tier: web"));
        }
        Labels::Flow => lines.push(format!(
            "{i1}labels: {{app: {name}, version: 1.10, mode: '0755'}}"
        )),
    }
    let description = |lines: &mut Vec<String>| match s.description {
        None => {}
        Some(true) => {
            lines.push(format!("{i2}description: |"));
            lines.push(format!("{i3}Keep this IP stable:"));
            lines.push(format!("{i3}  bookmarks depend on it."));
        }
        Some(false) => {
            lines.push(format!("{i2}description: >-"));
            lines.push(format!("{i3}folded text"));
        }
    };
    match s.annotations {
        Annotations::Absent => {}
        Annotations::Null => lines.push(format!("{i1}annotations:")),
        Annotations::EmptyFlow => lines.push(format!("{i1}annotations: {{}}")),
        Annotations::Flow => lines.push(format!(
            "{i1}annotations: {{team: ml, \"metallb.io/loadBalancerIPs\": 192.168.1.230}}"
        )),
        Annotations::Unrelated => {
            lines.push(format!("{i1}annotations:"));
            lines.push(format!("{i2}team: 'ml'"));
            description(&mut lines);
        }
        Annotations::Misspelled => {
            lines.push(format!("{i1}annotations:"));
            description(&mut lines);
            if s.comments {
                lines.push(format!("{i2}# copied from a blog post"));
            }
            lines.push(format!(
                "{i2}metallb.universe.tf/loadBalancer-ips: 192.168.1.201"
            ));
            lines.push(format!("{i2}team: ml"));
        }
        Annotations::WrongIp => {
            lines.push(format!("{i1}annotations:"));
            lines.push(format!(
                "{i2}metallb.io/loadBalancerIPs: '192.168.1.230'  # stale"
            ));
            description(&mut lines);
        }
        Annotations::OtherPrefix => {
            lines.push(format!("{i1}annotations:"));
            lines.push(format!("{i2}metallb.universe.tf/loadBalancerIPs: |"));
            lines.push(format!("{i3}192.168.1.201"));
            description(&mut lines);
        }
    }
    lines.push("spec:".into());
    if let Some(t) = s.type_line {
        lines.push(format!("{i1}type: {t}"));
    }
    if let Some(ip) = s.spec_ip {
        lines.push(format!("{i1}loadBalancerIP: {ip}"));
    }
    lines.push(format!("{i1}ports:"));
    let dash = if s.compact_seq {
        i1.clone()
    } else {
        i2.clone()
    };
    lines.push(format!("{dash}- port: 80"));
    lines.push(format!("{dash}  targetPort: \"http\""));
    if s.comments {
        lines.push(format!("{i1}# selector follows"));
    }
    lines.push(format!("{i1}selector: {{app: {name}}}"));
    let nl = if s.crlf { "\r\n" } else { "\n" };
    let mut text = lines.join(nl);
    text.push_str(nl);
    text
}

/// Lines of `a` and `b` not in their longest common subsequence: (removed from a, added in b).
fn line_diff<'s>(a: &[&'s str], b: &[&'s str]) -> (Vec<usize>, Vec<usize>) {
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    while i < n && j < m {
        if a[i] == b[j] {
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            removed.push(i);
            i += 1;
        } else {
            added.push(j);
            j += 1;
        }
    }
    removed.extend(i..n);
    added.extend(j..m);
    (removed, added)
}

/// A line of an owned key: an annotation key or its block scalar's lines, the annotations
/// or spec key itself, `type` or `loadBalancerIP`.
fn owned(line: &str) -> bool {
    let t = line.trim();
    t.starts_with("annotations:")
        || t.starts_with("metallb.")
        || t.starts_with("\"metallb.")
        || t.starts_with("type:")
        || t.starts_with("loadBalancerIP:")
        || t == "192.168.1.201"
        || t == "spec:"
}

/// The data a Kubernetes client reads, without the owned keys.
fn data_without_owned(doc: &str) -> serde_json::Value {
    let mut v: serde_json::Value = serde_saphyr::from_str(doc).unwrap();
    if let Some(a) = v["metadata"]
        .get_mut("annotations")
        .and_then(|a| a.as_object_mut())
    {
        a.retain(|k, _| !k.starts_with("metallb."));
        if a.is_empty() {
            v["metadata"].as_object_mut().unwrap().remove("annotations");
        }
    }
    if v["metadata"]
        .get("annotations")
        .is_some_and(|a| a.is_null())
    {
        v["metadata"].as_object_mut().unwrap().remove("annotations");
    }
    let spec = v["spec"].as_object_mut().unwrap();
    spec.remove("type");
    spec.remove("loadBalancerIP");
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn changed_documents_differ_only_in_owned_lines(s in shape()) {
        let input = write(&s);
        let opts = Options { namespace: None, unpinned: Unpinned::Fail };
        let outcome = match post_render(input.as_bytes(), &registry(), &opts) {
            Ok(o) => o,
            // A NodePort Service of a registered name without forceLoadBalancer is a
            // warning, never an error; every generated document must be accepted.
            Err(e) => return Err(TestCaseError::fail(format!("refused:\n{input}\n{e}"))),
        };
        let output = String::from_utf8(outcome.to_bytes(input.as_bytes())).unwrap();
        let nl = if s.crlf { "\r\n" } else { "\n" };
        // Line endings: every line of the output ends like the input's.
        prop_assert_eq!(output.matches('\n').count(), output.matches(nl).count());
        let a: Vec<&str> = input.split_inclusive('\n').collect();
        let b: Vec<&str> = output.split_inclusive('\n').collect();
        let (removed, added) = line_diff(&a, &b);
        for &i in &removed {
            let head_comment = a[i].trim_start().starts_with('#')
                && removed.contains(&(i + 1))
                && owned(a[i + 1]);
            prop_assert!(owned(a[i]) || head_comment,
                "removed line {} `{}` is not owned\n--- input\n{}\n--- output\n{}", i, a[i].trim_end(), input, output);
        }
        for &j in &added {
            prop_assert!(owned(b[j]),
                "added line {} `{}` is not owned\n--- input\n{}\n--- output\n{}", j, b[j].trim_end(), input, output);
        }
        prop_assert_eq!(data_without_owned(&input), data_without_owned(&output));
        if outcome.changes.is_empty() {
            prop_assert_eq!(&output, &input);
        }
    }
}
