//! `lbip lint` through the real binary: every defect at its line and column, in both output
//! formats, the same when the registry is nested under `lbip:`, and the exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const DEFECTS: &str = include_str!("fixtures/defects.yaml");

/// (severity, code, line, column, id) for every problem in tests/fixtures/defects.yaml.
const EXPECTED: &[(&str, &str, u32, u32, Option<&str>)] = &[
    ("error", "pool-overlaps-reserved", 4, 17, None),
    ("error", "pool-overlap", 7, 17, None),
    ("error", "host-bits-set", 7, 41, None),
    ("error", "duplicate-name", 8, 11, None),
    ("error", "bad-range", 9, 32, None),
    ("error", "bad-pool-name", 10, 11, None),
    ("error", "block-outside-pool", 19, 17, None),
    ("error", "ip-outside-pool", 23, 9, Some("outside")),
    ("error", "ip-reserved", 26, 9, Some("reserved")),
    ("error", "ip-buggy", 29, 9, Some("buggy")),
    ("error", "ip-outside-block", 32, 9, Some("wrong-block")),
    ("error", "unknown-block", 37, 12, Some("typo-block")),
    ("error", "duplicate-ip", 43, 9, Some("second")),
    ("error", "shared-port-conflict", 53, 21, Some("dns-b")),
    ("error", "duplicate-service", 60, 11, Some("svc-two")),
    ("error", "bad-namespace", 63, 16, Some("bad-ns")),
    ("error", "bad-name", 67, 11, Some("bad-name")),
    ("error", "duplicate-hostname", 76, 15, Some("host-b")),
    ("error", "bad-hostname", 80, 15, Some("host-bad")),
    (
        "warning",
        "pin-pool-without-labels",
        84,
        12,
        Some("operator"),
    ),
    ("error", "bad-ip", 87, 9, Some("bad-ip")),
    ("error", "ip-outside-pool", 90, 22, Some("three")),
    ("error", "bad-ips", 90, 33, Some("three")),
    ("error", "bad-ips", 93, 22, Some("two-v4")),
    ("error", "unknown-key", 97, 5, Some("typo-key")),
    ("error", "ansible-var-clash", 98, 3, Some("typo_key")),
    ("error", "ips-split-pools", 104, 22, Some("split")),
    ("error", "pin-pool-shared", 111, 9, Some("shared-b")),
];

/// (severity, code, line, column, id) of one finding.
type Problem = (String, String, u32, u32, Option<String>);

fn lbip(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lbip"))
        .args(args)
        .env_remove("LBIP_REGISTRY")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("runs lbip")
}

fn write_temp(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The registry text indented under one `lbip:` key, as in Ansible group_vars.
fn nested(text: &str) -> String {
    let body: String = text.lines().map(|l| format!("  {l}\n")).collect();
    format!("lbip:\n{body}")
}

/// Problems (not notes) from `lint --format json`, as tuples.
fn json_problems(path: &str) -> (i32, Vec<Problem>) {
    let out = lbip(&["lint", "-r", path, "--format", "json"]);
    let findings: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("JSON array");
    let problems = findings
        .iter()
        .filter(|f| f["severity"] != "info")
        .map(|f| {
            (
                f["severity"].as_str().unwrap().to_string(),
                f["code"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap() as u32,
                f["column"].as_u64().unwrap() as u32,
                f["id"].as_str().map(str::to_string),
            )
        })
        .collect();
    (out.status.code().unwrap(), problems)
}

fn expected(line_shift: u32, column_shift: u32) -> Vec<Problem> {
    EXPECTED
        .iter()
        .map(|(s, c, l, col, id)| {
            (
                s.to_string(),
                c.to_string(),
                l + line_shift,
                col + column_shift,
                id.map(str::to_string),
            )
        })
        .collect()
}

#[test]
fn the_example_registry_is_clean() {
    let out = lbip(&["lint", "-r", "examples/registry.yaml"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.ends_with("examples/registry.yaml: 0 errors, 0 warnings\n"),
        "{stdout}"
    );
    assert!(stdout.contains("examples/registry.yaml:6:11: info: pool `homelab`: 39 of 51 usable addresses free [pool-free]"));
    assert!(stdout.contains("block `core`: 1 of 10 usable addresses free"));
}

#[test]
fn every_defect_is_reported_at_its_value_in_json() {
    let (code, problems) = json_problems("tests/fixtures/defects.yaml");
    assert_eq!(code, 1);
    assert_eq!(problems, expected(0, 0));
}

#[test]
fn every_defect_is_reported_at_its_value_in_human_output() {
    let out = lbip(&["lint", "-r", "tests/fixtures/defects.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    for (severity, code, line, column, _) in EXPECTED {
        let head = format!("tests/fixtures/defects.yaml:{line}:{column}: {severity}: ");
        assert!(
            text.lines()
                .any(|l| l.starts_with(&head) && l.ends_with(&format!("[{code}]"))),
            "no `{head}... [{code}]` in\n{text}"
        );
    }
    // The offending line is quoted with a caret under the value, then the hint.
    assert!(text.contains(
        "tests/fixtures/defects.yaml:37:12: error: `typo-block` names block `wbe`, which the registry does not define [unknown-block]\n   |\n37 |     block: wbe\n   |            ^\n  = help: did you mean `web`?\n"
    ), "{text}");
    assert!(
        text.ends_with("tests/fixtures/defects.yaml: 27 errors, 1 warning\n"),
        "{text}"
    );
}

#[test]
fn a_registry_nested_under_lbip_gives_the_same_findings() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "group_vars.yaml", &nested(DEFECTS));
    let (code, problems) = json_problems(path.to_str().unwrap());
    assert_eq!(code, 1);
    assert_eq!(problems, expected(1, 2));

    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/registry.yaml"),
    )
    .unwrap();
    let clean = write_temp(dir.path(), "all.yaml", &nested(&example));
    let out = lbip(&["lint", "-r", clean.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn unreadable_or_unparsable_registries_exit_2() {
    let out = lbip(&["lint", "-r", "tests/fixtures/no-such-file.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot read registry tests/fixtures/no-such-file.yaml")
    );

    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "broken.yaml", "services:\n  a: [1, 2\n");
    let out = lbip(&["lint", "-r", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not valid YAML"));
}

#[test]
fn warnings_alone_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let text = "pools:\n  - name: lab\n    addresses: [10.0.0.0/24]\nservices:\n  op:\n    namespace: db\n    ip: 10.0.0.7\n    pinBy: pool\n";
    let path = write_temp(dir.path(), "w.yaml", text);
    let out = lbip(&["lint", "-r", path.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(":8:12: warning: `op` has `pinBy: pool` but no `matchLabels`"),
        "{stdout}"
    );
    assert!(stdout.ends_with(": 0 errors, 1 warning\n"));
}

#[test]
fn the_registry_comes_from_the_environment_when_no_flag_is_given() {
    let out = Command::new(env!("CARGO_BIN_EXE_lbip"))
        .args(["lint", "--format", "json"])
        .env("LBIP_REGISTRY", "tests/fixtures/defects.yaml")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
