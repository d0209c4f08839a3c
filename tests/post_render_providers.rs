//! `lbip post-render` for every load balancer through the real binary: the registry's
//! `provider.kind` decides which annotations pin a Service and which keys go (another load
//! balancer's, misspellings, `spec.loadBalancerIP` where it misleads, pool choices), during a
//! switch-over both sets are written, and with two clusters `--cluster` picks the view.
//! Goldens live in tests/golden/post-render/providers/ (`LBIP_BLESS=1` rewrites them).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn post_render(registry: &str, input: &[u8], extra: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lbip"))
        .args(["post-render", "-r", registry])
        .args(extra)
        .env_remove("LBIP_REGISTRY")
        .env_remove("HELM_NAMESPACE")
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs lbip");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn fixture(name: &str) -> String {
    format!("tests/fixtures/providers/{name}.yaml")
}

fn manifest(name: &str) -> Vec<u8> {
    std::fs::read(root().join(format!("tests/fixtures/providers/manifests/{name}.yaml"))).unwrap()
}

fn golden(name: &str, actual: &[u8]) -> Option<String> {
    let path: PathBuf = root().join("tests/golden/post-render/providers").join(name);
    if std::env::var_os("LBIP_BLESS").is_some_and(|v| v != "0") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return None;
    }
    let want = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (LBIP_BLESS=1 creates it)", path.display()));
    (want != actual).then(|| {
        format!(
            "{}:\n--- want\n{}\n--- got\n{}",
            path.display(),
            String::from_utf8_lossy(&want),
            String::from_utf8_lossy(actual)
        )
    })
}

#[test]
fn each_load_balancer_gets_its_own_pins_and_loses_the_others_keys() {
    let mut mismatches = Vec::new();
    for (case, registry, extra) in [
        ("cilium", "cilium", &[][..]),
        ("kube-vip", "kube-vip", &[][..]),
        ("purelb", "purelb", &[][..]),
        ("switch-over", "switch-over", &[][..]),
        ("two-clusters", "two-clusters", &["--cluster", "lab"][..]),
    ] {
        let out = post_render(&fixture(registry), &manifest(case), extra);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{case}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        mismatches.extend(golden(&format!("{case}.out.yaml"), &out.stdout));
        mismatches.extend(golden(&format!("{case}.warnings.txt"), &out.stderr));
        // A second pass finds nothing to do: same bytes, no warning.
        let again = post_render(&fixture(registry), &out.stdout, extra);
        assert_eq!(again.status.code(), Some(0), "{case}");
        assert_eq!(again.stdout, out.stdout, "{case}: not idempotent");
        assert!(
            again.stderr.is_empty(),
            "{case}: second pass warns: {}",
            String::from_utf8_lossy(&again.stderr)
        );
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn pins_are_the_keys_each_load_balancer_reads() {
    let text = |registry: &str, case: &str, extra: &[&str]| {
        let out = post_render(&fixture(registry), &manifest(case), extra);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let cilium = text("cilium", "cilium", &[]);
    // Both spellings (1.16+ reads lbipam.cilium.io, older releases io.cilium), the sharing
    // key on both sharers, and nothing of MetalLB's.
    assert!(
        cilium.contains("lbipam.cilium.io/ips: 10.20.0.10"),
        "{cilium}"
    );
    assert!(
        cilium.contains("io.cilium/lb-ipam-ips: 10.20.0.10"),
        "{cilium}"
    );
    assert_eq!(
        cilium.matches("lbipam.cilium.io/sharing-key: dns").count(),
        2
    );
    assert!(!cilium.contains("metallb"), "{cilium}");
    assert!(!cilium.contains("loadBalancerIP:"), "{cilium}");
    assert!(!cilium.contains("lbipam.cilium.io/ip:"), "{cilium}");

    let kube_vip = text("kube-vip", "kube-vip", &[]);
    // No space after a comma and no spec.loadBalancerIP: the cloud provider does not trim,
    // and copies spec.loadBalancerIP into the annotation.
    assert!(
        kube_vip.contains("kube-vip.io/loadbalancerIPs: \"192.168.50.20\""),
        "{kube_vip}"
    );
    assert!(!kube_vip.contains("192.168.50.99"), "{kube_vip}");
    assert!(!kube_vip.contains("loadBalancerIP:"), "{kube_vip}");
    assert!(!kube_vip.contains("metallb"), "{kube_vip}");

    let purelb = text("purelb", "purelb", &[]);
    assert!(
        purelb.contains("purelb.io/addresses: 172.30.4.120"),
        "{purelb}"
    );
    assert!(!purelb.contains("service-group"), "{purelb}");

    let lab = text("two-clusters", "two-clusters", &["--cluster", "lab"]);
    assert!(lab.contains("lbipam.cilium.io/ips: 192.168.1.221"), "{lab}");
    assert!(!lab.contains("metallb.io"), "{lab}");
}

#[test]
fn two_clusters_need_to_be_told_which_one() {
    let out = post_render(&fixture("two-clusters"), &manifest("two-clusters"), &[]);
    assert_ne!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty(), "nothing is written");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("home, lab") && err.contains("--cluster"),
        "{err}"
    );
    // The address of the other cluster's entry is refused in this one, even unregistered here.
    let home = post_render(
        &fixture("two-clusters"),
        &manifest("two-clusters"),
        &["--cluster", "home", "--unpinned", "allow"],
    );
    assert_ne!(home.status.code(), Some(0));
    let err = String::from_utf8_lossy(&home.stderr);
    assert!(
        err.contains("asks for 192.168.1.221") && err.contains("of cluster `lab`"),
        "{err}"
    );
}

#[test]
fn an_unregistered_service_asking_for_a_registered_address_is_refused_for_every_load_balancer() {
    let cases = [
        ("cilium", "lbipam.cilium.io/ips: 10.20.0.10", "Cilium"),
        ("cilium", "io.cilium/lb-ipam-ips: 10.20.0.10", "Cilium"),
        (
            "kube-vip",
            "kube-vip.io/loadbalancerIPs: 192.168.50.20",
            "kube-vip",
        ),
        ("purelb", "purelb.io/addresses: 172.30.4.121", "PureLB"),
        (
            "switch-over",
            "metallb.io/loadBalancerIPs: 192.168.1.200",
            "MetalLB",
        ),
    ];
    for (registry, annotation, title) in cases {
        let input = format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: scratch\n  namespace: apps\n  annotations:\n    {annotation}\nspec:\n  type: LoadBalancer\n  ports: [{{port: 80}}]\n"
        );
        // However lenient `--unpinned` is.
        for policy in ["fail", "warn", "allow"] {
            let out = post_render(
                &fixture(registry),
                input.as_bytes(),
                &["--unpinned", policy],
            );
            assert_ne!(
                out.status.code(),
                Some(0),
                "{registry} {annotation} {policy}"
            );
            assert!(out.stdout.is_empty());
            let err = String::from_utf8_lossy(&out.stderr);
            let key = annotation.split(':').next().unwrap();
            assert!(
                err.contains(&format!("its `{key}` asks for"))
                    && err.contains("which the registry gives to"),
                "{registry} {policy}: {err}"
            );
        }
        // Asking for nothing: refused by default in the load balancer's own words.
        let plain = input.replace(&format!("  annotations:\n    {annotation}\n"), "");
        let out = post_render(&fixture(registry), plain.as_bytes(), &[]);
        assert_ne!(out.status.code(), Some(0));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("{title} would give it")),
            "{registry}: {err}"
        );
        // `spec.loadBalancerIP` asks too.
        let ip = annotation.rsplit(' ').next().unwrap();
        let by_spec = plain.replace(
            "  type: LoadBalancer\n",
            &format!("  type: LoadBalancer\n  loadBalancerIP: {ip}\n"),
        );
        let out = post_render(
            &fixture(registry),
            by_spec.as_bytes(),
            &["--unpinned", "allow"],
        );
        assert_ne!(
            out.status.code(),
            Some(0),
            "{registry}: spec.loadBalancerIP {ip}"
        );
    }
}
