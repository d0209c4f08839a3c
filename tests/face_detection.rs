//! Which face runs, through the real binary, with Ansible args files lying in the working
//! directory under the names of subcommands: `kubectl lbip status` and `lbip lint` must run
//! the plugin and the CLI, never read `./status` or `./lint` as a module task.

mod kubectl_support;

use kubectl_support::{Run, lbip_bin};
use std::path::Path;
use std::process::Command;

const REGISTRY: &str = "\
pools:
  - name: homelab
    addresses: [192.168.1.200-192.168.1.250]
services:
  mlflow: {namespace: mlflow, ip: 192.168.1.215}
";

/// A directory holding `lbip.yaml` and, under each of `names`, a valid Ansible args file
/// (state=linted), so a wrongly detected face would print a module result.
fn workdir(names: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lbip.yaml"), REGISTRY).unwrap();
    let args = r#"{"registry": "lbip.yaml", "state": "linted", "_ansible_module_name": "lbip", "_ansible_check_mode": false}"#;
    for name in names {
        std::fs::write(dir.path().join(name), args).unwrap();
    }
    dir
}

fn run(program: &Path, args: &[&str], cwd: &Path) -> Run {
    let out = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .env_remove("LBIP_REGISTRY")
        // No cluster anywhere: the plugin fails to connect, which is how we see it ran.
        .env("KUBECONFIG", cwd.join("no-such-kubeconfig"))
        .env("HOME", cwd)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap();
    Run::from(out)
}

fn is_module_result(stdout: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(stdout.trim())
        .is_ok_and(|v| v.get("changed").is_some() && v.get("failed").is_some())
}

#[test]
fn kubectl_lbip_status_runs_the_plugin_with_a_status_args_file_in_the_cwd() {
    let dir = workdir(&["status", "check", "apply"]);
    let plugin = dir.path().join("kubectl-lbip");
    std::os::unix::fs::symlink(lbip_bin(), &plugin).unwrap();
    for sub in ["status", "check", "apply"] {
        let r = run(&plugin, &[sub], dir.path());
        assert!(!is_module_result(&r.stdout), "{sub}: {r:?}");
        assert_eq!(r.code, 2, "{sub}: {r:?}");
        // The plugin ran: it read ./lbip.yaml and then looked for a kubeconfig.
        assert!(r.stderr.contains("kubeconfig"), "{sub}: {r:?}");
    }
}

#[test]
fn lbip_subcommands_never_read_a_file_of_their_name() {
    let dir = workdir(&["lint", "export", "suggest", "help", "--version"]);
    let r = run(&lbip_bin(), &["lint"], dir.path());
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("lbip.yaml: 0 errors, 0 warnings"),
        "{r:?}"
    );
    let r = run(&lbip_bin(), &["suggest"], dir.path());
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "192.168.1.200\n", "{r:?}");
    for args in [&["export"][..], &["help"], &["--version"]] {
        let r = run(&lbip_bin(), args, dir.path());
        assert!(!is_module_result(&r.stdout), "{args:?}: {r:?}");
    }
}

#[test]
fn an_args_file_that_is_not_a_subcommand_runs_the_module() {
    let dir = workdir(&["args", "status"]);
    // The path Ansible uses, and a file that only shares a name with a plugin command.
    for arg in ["args", "status", "./lint-task.json"] {
        if arg.ends_with(".json") {
            std::fs::copy(dir.path().join("args"), dir.path().join(arg)).unwrap();
        }
        let r = run(&lbip_bin(), &[arg], dir.path());
        assert!(is_module_result(&r.stdout), "{arg}: {r:?}");
        let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
        assert_eq!(v["failed"], false, "{arg}: {r:?}");
    }
    // A JSON file without Ansible's keys is not a task: the CLI says it does not know it.
    std::fs::write(
        dir.path().join("plain.json"),
        r#"{"registry": "lbip.yaml"}"#,
    )
    .unwrap();
    let r = run(&lbip_bin(), &["plain.json"], dir.path());
    assert!(!is_module_result(&r.stdout), "{r:?}");
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("unrecognized subcommand"), "{r:?}");
}
