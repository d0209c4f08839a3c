//! `lbip export` and `lbip suggest` through the real binary: golden files for every format
//! (rewrite them with `LBIP_BLESS=1 cargo test --test registry_export`), and `hosts --write`
//! replacing only its own block.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FORMATS: &[(&str, &str)] = &[
    ("hosts", "hosts"),
    ("dnsmasq", "conf"),
    ("markdown", "md"),
    ("ansible-vars", "yaml"),
    ("metallb", "yaml"),
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn lbip(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lbip"))
        .args(args)
        .env_remove("LBIP_REGISTRY")
        .current_dir(root())
        .output()
        .expect("runs lbip")
}

fn check_golden(registry: &str, stem: &str) {
    let bless = std::env::var_os("LBIP_BLESS").is_some_and(|v| v != "0");
    let mut mismatches = Vec::new();
    for (format, ext) in FORMATS {
        let out = lbip(&["export", format, "-r", registry]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let golden: PathBuf = root().join(format!("tests/golden/{stem}.{format}.{ext}"));
        if bless {
            std::fs::write(&golden, &out.stdout).unwrap();
            continue;
        }
        let want = std::fs::read(&golden).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with LBIP_BLESS=1 to create it)",
                golden.display()
            )
        });
        if want != out.stdout {
            mismatches.push(format!(
                "{}:\n--- want\n{}\n--- got\n{}",
                golden.display(),
                String::from_utf8_lossy(&want),
                String::from_utf8_lossy(&out.stdout)
            ));
        }
        // Deterministic: a second run gives the same bytes.
        assert_eq!(lbip(&["export", format, "-r", registry]).stdout, out.stdout);
    }
    assert!(
        mismatches.is_empty(),
        "{}\n(LBIP_BLESS=1 rewrites golden files)",
        mismatches.join("\n")
    );
}

#[test]
fn exports_of_the_example_match_the_golden_files() {
    check_golden("examples/registry.yaml", "example");
}

#[test]
fn exports_of_a_dual_stack_registry_match_the_golden_files() {
    check_golden("tests/fixtures/dual-stack.yaml", "dual-stack");
}

#[test]
fn export_refuses_a_registry_with_errors() {
    let out = lbip(&["export", "hosts", "-r", "tests/fixtures/defects.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tests/fixtures/defects.yaml:23:9: error: `192.168.7.7` of `outside` is outside every pool"), "{err}");
    assert!(err.contains("has 27 error(s); fix them first"), "{err}");
}

#[cfg(unix)]
#[test]
fn hosts_write_replaces_only_its_block_and_is_idempotent() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hosts");
    let before = "127.0.0.1\tlocalhost\r\n# BEGIN lbip\n10.9.9.9 stale.test\n# END lbip\n::1 localhost ip6-localhost # keep me\n\n# trailing, no newline";
    std::fs::write(&path, before).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let p = path.to_str().unwrap();

    let out = lbip(&[
        "export",
        "hosts",
        "-r",
        "examples/registry.yaml",
        "--write",
        p,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let after = std::fs::read_to_string(&path).unwrap();
    let block =
        String::from_utf8(lbip(&["export", "hosts", "-r", "examples/registry.yaml"]).stdout)
            .unwrap();
    assert_eq!(
        after,
        format!(
            "127.0.0.1\tlocalhost\r\n{block}::1 localhost ip6-localhost # keep me\n\n# trailing, no newline"
        )
    );
    assert!(after.contains("192.168.1.215 mlflow.test\n"));
    assert!(!after.contains("stale.test"));
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o640
    );

    lbip(&[
        "export",
        "hosts",
        "-r",
        "examples/registry.yaml",
        "--write",
        p,
    ]);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        after,
        "a second run changes nothing"
    );
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[cfg(unix)]
#[test]
fn hosts_write_follows_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real-hosts");
    std::fs::write(&real, "127.0.0.1 localhost\n").unwrap();
    let link = dir.path().join("hosts");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let out = lbip(&[
        "export",
        "hosts",
        "-r",
        "examples/registry.yaml",
        "--write",
        link.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(&real)
            .unwrap()
            .contains("192.168.1.215 mlflow.test")
    );
}

/// The one symlink policy (`atomic_file`), for every export: a link into another directory is
/// followed and its target replaced with its permissions; a dangling link creates its target;
/// no temporary file is left on either side.
#[cfg(unix)]
#[test]
fn export_write_through_relative_and_dangling_symlinks_keeps_link_and_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir(&store).unwrap();
    let real = store.join("pools.yaml");
    std::fs::write(&real, "old\n").unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let link = work.join("pools.yaml");
    std::os::unix::fs::symlink("../store/pools.yaml", &link).unwrap();
    let dangling = work.join("markdown.md");
    std::os::unix::fs::symlink("../store/ips.md", &dangling).unwrap();
    for (format, path) in [("metallb", &link), ("markdown", &dangling)] {
        let out = lbip(&[
            "export",
            format,
            "-r",
            "examples/registry.yaml",
            "--write",
            path.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        assert!(
            std::fs::symlink_metadata(path)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
    let want = lbip(&["export", "metallb", "-r", "examples/registry.yaml"]).stdout;
    assert_eq!(std::fs::read(&real).unwrap(), want);
    assert_eq!(
        std::fs::metadata(&real).unwrap().permissions().mode() & 0o777,
        0o640
    );
    assert!(
        std::fs::read_to_string(store.join("ips.md"))
            .unwrap()
            .contains("| mlflow | mlflow | 192.168.1.215 |")
    );
    let mut names: Vec<String> = std::fs::read_dir(&store)
        .unwrap()
        .chain(std::fs::read_dir(&work).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["ips.md", "markdown.md", "pools.yaml", "pools.yaml"]);
}

#[test]
fn hosts_write_appends_a_block_and_refuses_a_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hosts");
    std::fs::write(&path, "127.0.0.1 localhost").unwrap();
    let p = path.to_str().unwrap();
    let out = lbip(&[
        "export",
        "hosts",
        "-r",
        "examples/registry.yaml",
        "--write",
        p,
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("127.0.0.1 localhost\n# BEGIN lbip\n"),
        "{text}"
    );
    assert!(text.ends_with("# END lbip\n"));

    let broken = "127.0.0.1 localhost\n# BEGIN lbip\n1.2.3.4 x\n";
    std::fs::write(&path, broken).unwrap();
    let out = lbip(&[
        "export",
        "hosts",
        "-r",
        "examples/registry.yaml",
        "--write",
        p,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("line 2 has `# BEGIN lbip` but no `# END lbip` follows")
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), broken);
}

#[test]
fn other_exports_write_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pools.yaml");
    std::fs::write(&path, "old content\n").unwrap();
    let out = lbip(&[
        "export",
        "metallb",
        "-r",
        "examples/registry.yaml",
        "--write",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let want = lbip(&["export", "metallb", "-r", "examples/registry.yaml"]).stdout;
    assert_eq!(std::fs::read(&path).unwrap(), want);
}

#[test]
fn suggest_prints_the_lowest_free_addresses() {
    let out = lbip(&["suggest", "-r", "examples/registry.yaml", "--count", "3"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "192.168.1.203\n192.168.1.210\n192.168.1.211\n"
    );

    let out = lbip(&[
        "suggest",
        "-r",
        "examples/registry.yaml",
        "--block",
        "applications",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "192.168.1.222\n");

    // avoidBuggyIPs: 10.20.0.0 is skipped, as MetalLB skips it.
    let out = lbip(&["suggest", "-r", "tests/fixtures/dual-stack.yaml", "-n", "2"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "10.20.0.1\n10.20.0.2\n"
    );
}

#[test]
fn suggest_says_when_a_block_is_full_or_unknown() {
    let out = lbip(&[
        "suggest",
        "-r",
        "examples/registry.yaml",
        "--block",
        "core",
        "-n",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "192.168.1.203\n");
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("block `core` has only 1 free address(es); 2 were asked for")
    );

    let out = lbip(&[
        "suggest",
        "-r",
        "examples/registry.yaml",
        "--block",
        "platfrom",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `platform`?"));
}

#[test]
fn metallb_export_is_yaml_kubernetes_accepts() {
    for registry in ["examples/registry.yaml", "tests/fixtures/dual-stack.yaml"] {
        let out = lbip(&["export", "metallb", "-r", registry]);
        let text = String::from_utf8(out.stdout).unwrap();
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).expect("valid YAML");
        let docs: Vec<&serde_json::Value> = docs.iter().filter(|d| !d.is_null()).collect();
        let mut pool_names = Vec::new();
        for d in &docs {
            assert_eq!(d["apiVersion"], "metallb.io/v1beta1");
            assert_eq!(d["metadata"]["namespace"], "metallb-system");
            if d["kind"] == "IPAddressPool" {
                pool_names.push(d["metadata"]["name"].clone());
                assert!(
                    d["spec"]["addresses"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|a| a.is_string())
                );
                assert!(d["spec"]["autoAssign"].is_boolean());
            }
        }
        let l2 = docs.last().unwrap();
        assert_eq!(l2["kind"], "L2Advertisement");
        assert_eq!(
            l2["spec"]["ipAddressPools"].as_array().unwrap(),
            &pool_names
        );
    }
    let text = String::from_utf8(
        lbip(&["export", "metallb", "-r", "tests/fixtures/dual-stack.yaml"]).stdout,
    )
    .unwrap();
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text).unwrap();
    let pin = docs
        .iter()
        .find(|d| d["metadata"]["name"] == "lbip-pin-postgres-operated")
        .unwrap();
    assert_eq!(
        pin["spec"]["serviceAllocation"],
        serde_json::json!({
            "priority": 1,
            "namespaces": ["databases"],
            "serviceSelectors": [{"matchLabels": {"app.kubernetes.io/component": "primary", "cluster-name": "main-db"}}]
        })
    );
}

/// `lbip export pools` for every load balancer, a switch-over and two clusters: the golden
/// file per registry under tests/golden/providers/, bytes the same on a second run.
#[test]
fn pools_export_matches_the_golden_file_for_every_provider() {
    let bless = std::env::var_os("LBIP_BLESS").is_some_and(|v| v != "0");
    let mut mismatches = Vec::new();
    for (stem, args) in [
        ("cilium", &[][..]),
        (
            "cilium-v2alpha1",
            &["--cilium-api-version", "cilium.io/v2alpha1"][..],
        ),
        ("kube-vip", &[][..]),
        ("purelb", &[][..]),
        ("switch-over", &[][..]),
        ("two-clusters.home", &["--cluster", "home"][..]),
        ("two-clusters.lab", &["--cluster", "lab"][..]),
    ] {
        let fixture = stem.split(['.']).next().unwrap().replace("-v2alpha1", "");
        let registry = format!("tests/fixtures/providers/{fixture}.yaml");
        let mut argv = vec!["export", "pools", "-r", &registry];
        argv.extend_from_slice(args);
        let out = lbip(&argv);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{stem}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(lbip(&argv).stdout, out.stdout, "{stem}: deterministic");
        let golden = root().join(format!("tests/golden/providers/{stem}.pools.yaml"));
        if bless {
            std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
            std::fs::write(&golden, &out.stdout).unwrap();
            continue;
        }
        let want = std::fs::read(&golden)
            .unwrap_or_else(|e| panic!("{}: {e} (LBIP_BLESS=1 creates it)", golden.display()));
        if want != out.stdout {
            mismatches.push(format!(
                "{}:\n--- want\n{}\n--- got\n{}",
                golden.display(),
                String::from_utf8_lossy(&want),
                String::from_utf8_lossy(&out.stdout)
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// What each load balancer reads from the export, checked on the parsed documents rather
/// than the text: no registered address is ever in an automatic pool, each pinned Cilium
/// pool selects exactly its Service, and a two-cluster registry needs `--cluster`.
#[test]
fn pools_export_keeps_registered_addresses_out_of_automatic_allocation() {
    let docs = |registry: &str, extra: &[&str]| -> Vec<serde_json::Value> {
        let mut argv = vec!["export", "pools", "-r", registry];
        argv.extend_from_slice(extra);
        let out = lbip(&argv);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        text.split("\n---\n")
            .skip(1)
            .map(|d| serde_saphyr::from_str::<serde_json::Value>(d).expect("each document parses"))
            .collect()
    };

    let cilium = docs("tests/fixtures/providers/cilium.yaml", &[]);
    let auto: Vec<&serde_json::Value> = cilium
        .iter()
        .filter(|d| d["metadata"]["labels"]["lbip/stage"] == "auto")
        .collect();
    assert_eq!(auto.len(), 1);
    let blocks = auto[0]["spec"]["blocks"].to_string();
    for registered in ["10.20.0.10", "10.20.0.11", "10.20.0.12", "10.20.0.254"] {
        assert!(!blocks.contains(&format!("\"{registered}\"")), "{blocks}");
    }
    let mesh = cilium
        .iter()
        .find(|d| d["metadata"]["name"] == "lbip-seldon-mesh")
        .expect("a pool for the pool-pinned entry");
    assert_eq!(
        mesh["spec"]["serviceSelector"]["matchLabels"]["io.kubernetes.service.name"],
        "seldon-mesh"
    );
    assert_eq!(
        auto[0]["spec"]["serviceSelector"]["matchExpressions"][0]["values"],
        serde_json::json!(["seldon-mesh"]),
        "the automatic pool must not select the pool-pinned Service"
    );

    let kube_vip = docs("tests/fixtures/providers/kube-vip.yaml", &[]);
    let range = kube_vip[0]["data"]["range-global"].as_str().unwrap();
    assert!(!range.contains(' '), "kube-vip does not trim: {range}");
    assert_eq!(
        range,
        "192.168.50.0-192.168.50.19,192.168.50.22-192.168.50.63"
    );

    let purelb = docs("tests/fixtures/providers/purelb.yaml", &[]);
    let names: Vec<&str> = purelb
        .iter()
        .map(|d| d["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "lbip-pinned"]);

    let switch = docs("tests/fixtures/providers/switch-over.yaml", &[]);
    let kinds: Vec<&str> = switch.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"IPAddressPool") && kinds.contains(&"CiliumLoadBalancerIPPool"));

    let no_cluster = lbip(&[
        "export",
        "pools",
        "-r",
        "tests/fixtures/providers/two-clusters.yaml",
    ]);
    assert_ne!(no_cluster.status.code(), Some(0));
    let err = String::from_utf8_lossy(&no_cluster.stderr);
    assert!(
        err.contains("--cluster") && err.contains("home") && err.contains("lab"),
        "{err}"
    );
    assert!(no_cluster.stdout.is_empty(), "no partial output");
    let lab = docs(
        "tests/fixtures/providers/two-clusters.yaml",
        &["--cluster", "lab"],
    );
    assert!(lab.iter().all(|d| d["kind"] == "CiliumLoadBalancerIPPool"));
}
