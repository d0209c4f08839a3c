//! The Ansible module end to end: real `ansible-playbook` runs the real binary as a module
//! (`<tmp>/library/lbip` plus the sidecar docs), against localhost and the test API server.
//!
//! Each playbook run costs about 1.5 s, so related tasks share a playbook; tasks expected to
//! fail carry `ignore_errors: true` so the rest still run. Results are read through Ansible's
//! `json` stdout callback.

use lbip_testcluster::Verb;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const REGISTRY: &str = include_str!("../examples/registry.yaml");

/// ansible-core ships no JSON stdout callback (`json` lives in the ansible.posix collection),
/// so the tests bring a minimal one: every task result, then the stats, as one JSON object.
const JSON_CALLBACK: &str = r#"
import json
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "lbip_test_json"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tasks = []

    def _record(self, result, status):
        res = dict(result._result)
        res["_status"] = status
        self.tasks.append({"task": {"name": result._task.get_name()},
                           "hosts": {result._host.get_name(): res}})

    def v2_runner_on_ok(self, result, **kwargs):
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False, **kwargs):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result, **kwargs):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result, **kwargs):
        self._record(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        hosts = {h: stats.summarize(h) for h in sorted(stats.processed.keys())}
        out = {"plays": [{"tasks": self.tasks}], "stats": hosts}
        self._display.display(json.dumps(out, default=str, indent=1))
"#;

/// The directory holding `ansible-playbook`: `$LBIP_TEST_ANSIBLE_BIN`, else the project's
/// virtualenv (created by scripts/test-all.sh), else PATH. Missing ansible fails the test.
fn ansible_bin_dir() -> PathBuf {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os("LBIP_TEST_ANSIBLE_BIN") {
        candidates.push(PathBuf::from(dir));
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin"));
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    candidates
        .into_iter()
        .find(|d| d.join("ansible-playbook").is_file())
        .unwrap_or_else(|| {
            panic!(
                "ansible-playbook not found: set LBIP_TEST_ANSIBLE_BIN to the directory holding it, \
                 or run scripts/test-all.sh, which installs ansible-core into .venv"
            )
        })
}

/// The Python beside the ansible tools (a virtualenv's), else `auto_silent` discovery.
fn python_for(bin: &Path) -> String {
    let python = bin.join("python3");
    if python.is_file() {
        python.display().to_string()
    } else {
        "auto_silent".to_string()
    }
}

/// A playbook directory: `library/lbip` (the test binary) with its sidecar, and the registry.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        let library = dir.path().join("library");
        std::fs::create_dir_all(&library).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_lbip"), library.join("lbip")).unwrap();
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("ansible/library/lbip.yml"),
            library.join("lbip.yml"),
        )
        .unwrap();
        for sub in ["home", "local-tmp", "remote-tmp"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let p = Project { dir };
        p.write("lbip.yaml", REGISTRY);
        p.write("callback_plugins/lbip_test_json.py", JSON_CALLBACK);
        p
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, name: &str, text: &str) {
        let path = self.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, text).unwrap();
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path().join(name)).unwrap()
    }

    /// An ansible tool run in the project directory with a private HOME and temp dirs.
    fn command(&self, tool: &str) -> Command {
        let bin = ansible_bin_dir();
        let mut cmd = Command::new(bin.join(tool));
        cmd.current_dir(self.path())
            .env("HOME", self.path().join("home"))
            .env("ANSIBLE_LOCAL_TEMP", self.path().join("local-tmp"))
            .env("ANSIBLE_REMOTE_TEMP", self.path().join("remote-tmp"))
            // Python modules (template, copy) run with the Python that runs Ansible: the
            // machine's `python3` may be a broken shim.
            .env("ANSIBLE_PYTHON_INTERPRETER", python_for(&bin))
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
            .env("ANSIBLE_DEPRECATION_WARNINGS", "0")
            .env_remove("LBIP_REGISTRY")
            .env_remove("ANSIBLE_CONFIG")
            .env_remove("ANSIBLE_LIBRARY")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `tasks` (YAML list items, indented by 4) as a localhost play; returns the parsed
    /// `json` callback output and the raw stdout/stderr.
    fn play(&self, tasks: &str, extra_args: &[&str]) -> PlayRun {
        let playbook = format!(
            "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n{tasks}"
        );
        self.write("play.yml", &playbook);
        let mut cmd = self.command("ansible-playbook");
        cmd.args(["-i", "localhost,", "play.yml"])
            .args(extra_args)
            .env(
                "ANSIBLE_CALLBACK_PLUGINS",
                self.path().join("callback_plugins"),
            )
            .env("ANSIBLE_STDOUT_CALLBACK", "lbip_test_json");
        let (stdout, stderr) = run_with_timeout(cmd, Duration::from_secs(120));
        let json: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!("ansible-playbook printed no JSON ({e})\nstdout:\n{stdout}\nstderr:\n{stderr}")
        });
        PlayRun {
            json,
            stdout,
            stderr,
        }
    }
}

struct PlayRun {
    json: Value,
    stdout: String,
    stderr: String,
}

impl PlayRun {
    /// The localhost result of the task called `name`.
    fn task(&self, name: &str) -> &Value {
        self.json["plays"][0]["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["task"]["name"] == name)
            .map(|t| &t["hosts"]["localhost"])
            .unwrap_or_else(|| panic!("no task {name:?} ran:\n{}\n{}", self.stdout, self.stderr))
    }
    fn stats(&self) -> &Value {
        &self.json["stats"]["localhost"]
    }
}

/// Runs `cmd`, killing it after `limit`; returns stdout and stderr.
fn run_with_timeout(mut cmd: Command, limit: Duration) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (dir.path().join("out"), dir.path().join("err"));
    cmd.stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let mut child = cmd.spawn().expect("cannot start the ansible tool");
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "ansible did not finish within {limit:?}\nstdout:\n{}\nstderr:\n{}",
                std::fs::read_to_string(&out_path).unwrap_or_default(),
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (
        std::fs::read_to_string(&out_path).unwrap(),
        std::fs::read_to_string(&err_path).unwrap(),
    )
}

#[test]
fn facts_expose_the_registry_and_old_templates_render() {
    let p = Project::new();
    p.write(
        "mlflow.env.j2",
        "MLFLOW_TRACKING_URI=http://{{ mlflow_loadbalancer_ip }}:5000\n",
    );
    let run = p.play(
        r#"
    - name: lint
      lbip: {registry: lbip.yaml, state: linted}
    - name: facts
      lbip: {registry: lbip.yaml, state: facts}
    - name: template
      ansible.builtin.template: {src: mlflow.env.j2, dest: "{{ playbook_dir }}/mlflow.env"}
    - name: copy
      ansible.builtin.copy:
        dest: "{{ playbook_dir }}/hosts.txt"
        content: |
          {{ mlflow_loadbalancer_ip }} {{ lbip.services.mlflow.hostname }}
          {{ financial_seldon_mesh_loadbalancer_ip }} {{ ansible_facts.lbip.services['financial-seldon-mesh'].name }}
    - name: free-form
      lbip: registry=lbip.yaml state=facts
"#,
        &[],
    );
    assert_eq!(run.stats()["failures"], 0, "{}", run.stdout);
    let lint = run.task("lint");
    assert_eq!(lint["changed"], false);
    assert_eq!(
        lint["msg"],
        "the registry lbip.yaml is valid: 12 service(s), 0 warning(s)"
    );
    let facts = run.task("facts");
    assert_eq!(facts["changed"], false);
    let mlflow = &facts["ansible_facts"]["lbip"]["services"]["mlflow"];
    assert_eq!(mlflow["ip"], "192.168.1.215");
    assert_eq!(mlflow["namespace"], "mlflow");
    assert_eq!(mlflow["url"], "http://mlflow.test:5000");
    assert_eq!(
        facts["ansible_facts"]["argo_workflows_server_loadbalancer_ip"],
        "192.168.1.205"
    );
    assert_eq!(
        p.read("mlflow.env"),
        "MLFLOW_TRACKING_URI=http://192.168.1.215:5000\n"
    );
    assert_eq!(
        p.read("hosts.txt"),
        "192.168.1.215 mlflow.test\n192.168.1.221 seldon-mesh\n"
    );
    assert_eq!(
        run.task("free-form")["ansible_facts"]["minio_loadbalancer_ip"],
        "192.168.1.200"
    );
}

#[test]
fn bad_options_fail_with_a_clear_message() {
    let p = Project::new();
    let run = p.play(
        r#"
    - name: unknown
      lbip: {registry: lbip.yaml, stat: facts}
      ignore_errors: true
    - name: wrong type
      lbip: {registry: lbip.yaml, state: checked, fail_on_drift: sometimes, timeout: [1]}
      ignore_errors: true
    - name: missing registry
      lbip: {state: facts}
      ignore_errors: true
    - name: bad state
      lbip: {registry: lbip.yaml, state: pined}
      ignore_errors: true
    - name: unreadable registry
      lbip: {registry: nowhere.yaml, state: facts}
      ignore_errors: true
"#,
        &[],
    );
    assert_eq!(run.stats()["ignored"], 5, "{}", run.stdout);
    let msg = |name: &str| run.task(name)["msg"].as_str().unwrap().to_string();
    assert!(
        msg("unknown").starts_with(
            "unsupported parameters for (lbip) module: stat (did you mean state?). Supported parameters include: all_namespaces, cluster, context, dest, fail_on_drift"
        ),
        "{}",
        msg("unknown")
    );
    let wrong = msg("wrong type");
    assert!(
        wrong.contains("option fail_on_drift must be a boolean (true/false, yes/no, on/off, 1/0)"),
        "{wrong}"
    );
    assert!(wrong.contains("option timeout must be seconds"), "{wrong}");
    assert!(
        !wrong.contains("sometimes"),
        "values are not echoed: {wrong}"
    );
    assert!(
        msg("missing registry").starts_with("missing required option registry"),
        "{}",
        msg("missing registry")
    );
    assert_eq!(
        msg("bad state"),
        "option state must be one of linted, facts, pinned, checked, rendered, got another string (did you mean pinned?)"
    );
    assert!(
        msg("unreadable registry").starts_with("cannot read registry nowhere.yaml:"),
        "{}",
        msg("unreadable registry")
    );
}

#[test]
fn an_invalid_registry_fails_linted_with_the_lint_findings() {
    let p = Project::new();
    p.write(
        "broken.yaml",
        &REGISTRY.replace("ip: 192.168.1.215", "ip: 192.168.1.300"),
    );
    let run = p.play(
        r#"
    - name: lint
      lbip: {registry: broken.yaml, state: linted}
      ignore_errors: true
    - name: facts
      lbip: {registry: broken.yaml, state: facts}
      ignore_errors: true
"#,
        &[],
    );
    let lint = run.task("lint");
    assert_eq!(lint["_status"], "failed", "{lint}");
    // Notes (free addresses) come too; the error is the one about the bad address.
    let finding = lint["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["severity"] == "error")
        .unwrap();
    assert_eq!(finding["code"], "bad-ip");
    assert_eq!(finding["line"], 22, "{finding}");
    let msg = lint["msg"].as_str().unwrap();
    assert!(
        msg.starts_with(
            "the registry broken.yaml has 1 error(s) and 0 warning(s); first: broken.yaml:22:9: error: "
        ),
        "{msg}"
    );
    // The same words as `lbip lint`: the finding's own message is in msg and in stdout.
    assert!(msg.contains(finding["message"].as_str().unwrap()), "{msg}");
    assert!(
        lint["stdout"]
            .as_str()
            .unwrap()
            .contains("22 |     ip: 192.168.1.300")
    );
    let facts = run.task("facts");
    assert_eq!(facts["_status"], "failed");
    assert!(
        facts["msg"]
            .as_str()
            .unwrap()
            .starts_with("the registry broken.yaml has 1 error(s); fix them first"),
        "{}",
        facts["msg"]
    );
}

#[test]
fn ansible_doc_shows_the_sidecar_documentation() {
    let p = Project::new();
    let mut cmd = p.command("ansible-doc");
    cmd.args(["-M", "library", "lbip"]);
    let (out, err) = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(out.contains("MODULE lbip"), "{out}\n{err}");
    assert!(
        out.contains("validates the registry and fails with the same"),
        "{out}"
    );
    for option in ["registry", "state", "fail_on_drift", "timeout"] {
        assert!(out.contains(option), "{option} missing:\n{out}");
    }
    assert!(out.contains("check_mode"), "{out}");
    assert!(out.contains("state: linted"), "EXAMPLES missing:\n{out}");
    assert!(out.contains("RETURN VALUES"), "{out}");
}

/// The sidecar documents exactly the options the binary accepts: the option names of
/// `ansible-doc --json` against the "Supported parameters" the module lists when given an
/// unknown one.
#[test]
fn the_sidecar_documents_every_option_the_module_accepts() {
    let p = Project::new();
    let mut cmd = p.command("ansible-doc");
    cmd.args(["-M", "library", "--json", "lbip"]);
    let (out, err) = run_with_timeout(cmd, Duration::from_secs(60));
    let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    let mut documented: Vec<String> = doc["lbip"]["doc"]["options"]
        .as_object()
        .expect("options")
        .keys()
        .cloned()
        .collect();
    documented.sort();

    p.write(
        "args.json",
        r#"{"no_such_option": 1, "_ansible_check_mode": false}"#,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_lbip"))
        .arg(p.path().join("args.json"))
        .env_remove("LBIP_REGISTRY")
        .output()
        .unwrap();
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    let msg = result["msg"].as_str().unwrap();
    let supported = msg
        .split("Supported parameters include: ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("no supported list in {msg}"));
    let mut accepted: Vec<String> = supported.split(", ").map(str::to_string).collect();
    accepted.sort();
    assert_eq!(documented, accepted);
}

/// Copies a directory tree, following symlinks (the role links its sidecar docs).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if std::fs::metadata(entry.path()).unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn the_role_installs_the_module_and_runs_every_action_in_one_run() {
    let cluster = stolen_ip_cluster();
    let p = Project::new();
    p.write("lbip.yaml", STOLEN_REGISTRY);
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("ansible/roles/lbip");
    copy_tree(&source, &p.path().join("roles/lbip"));
    p.write("hosts", "127.0.0.1 localhost\n");
    let playbook = format!(
        r#"
- hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: lbip
      lbip_binary: {bin}
      lbip_kubeconfig: {kubeconfig}
      lbip_timeout: 30s
      lbip_actions: [lint, facts, pin, check, hosts]
      lbip_hosts_file: "{{{{ playbook_dir }}}}/hosts"
  tasks:
    - name: use
      ansible.builtin.debug: {{msg: "{{{{ mlflow_loadbalancer_ip }}}}"}}
"#,
        bin = env!("CARGO_BIN_EXE_lbip"),
        kubeconfig = cluster.kubeconfig_path().display()
    );
    p.write("role.yml", &playbook);
    let mut cmd = p.command("ansible-playbook");
    cmd.args(["-i", "localhost,", "role.yml"]);
    let (out, err) = run_with_timeout(cmd, Duration::from_secs(120));
    assert!(out.contains("failed=0"), "{out}\n{err}");
    assert!(out.contains("\"msg\": \"192.168.1.201\""), "{out}");
    assert!(p.path().join("roles/lbip/library/lbip").is_file());
    assert!(p.path().join("roles/lbip/library/lbip.yml").is_file());
    assert_eq!(cluster.lb_ips("mlflow", "mlflow"), vec!["192.168.1.201"]);
    assert_eq!(
        p.read("hosts"),
        "127.0.0.1 localhost\n\
         # BEGIN lbip registry (managed by Ansible)\n\
         192.168.1.201 mlflow.test\n\
         # END lbip registry (managed by Ansible)\n"
    );
}

#[test]
fn site_yml_passes_syntax_check_with_the_module_in_a_library_dir() {
    let p = Project::new();
    let mut cmd = p.command("ansible-playbook");
    cmd.args(["-i", "localhost,", "--syntax-check"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("ansible/site.yml"))
        .env("ANSIBLE_LIBRARY", p.path().join("library"));
    let (out, err) = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(out.contains("playbook:"), "{out}\n{err}");
    assert!(!err.contains("ERROR"), "{err}");
}

/// The stolen-IP story: Seldon's scheduler was deployed first without a pinned IP and took
/// .201, the address meant for MLflow, which fell back to .203.
const STOLEN_REGISTRY: &str = "\
provider:
  annotationPrefix: metallb.io
pools:
  - name: homelab
    addresses: [\"192.168.1.200-192.168.1.250\"]
services:
  mlflow:
    namespace: mlflow
    ip: 192.168.1.201
    ports: [5000]
    hostname: mlflow.test
  seldon-scheduler:
    namespace: seldon-system
    ip: 192.168.1.202
    ports: [9002]
";

const STOLEN_CLUSTER: &str = "
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: homelab, namespace: metallb-system}
spec:
  addresses: [192.168.1.200-192.168.1.250]
---
apiVersion: v1
kind: Service
metadata:
  name: seldon-scheduler
  namespace: seldon-system
  annotations: {meta.helm.sh/release-name: seldon-core-v2}
spec:
  type: LoadBalancer
  selector: {app: seldon-scheduler}
  ports: [{name: scheduler, port: 9002, protocol: TCP}]
status:
  loadBalancer:
    ingress: [{ip: 192.168.1.201, ipMode: VIP}]
---
apiVersion: v1
kind: Service
metadata:
  name: mlflow
  namespace: mlflow
spec:
  type: LoadBalancer
  selector: {app: mlflow}
  ports: [{name: http, port: 5000, protocol: TCP}]
status:
  loadBalancer:
    ingress: [{ip: 192.168.1.203, ipMode: VIP}]
";

const TOKEN: &str = "lbip-test-token";

fn stolen_ip_cluster() -> lbip_testcluster::TestCluster {
    lbip_testcluster::TestCluster::start_blocking(
        lbip_testcluster::Options::default().seed_yaml(STOLEN_CLUSTER),
    )
    .unwrap()
}

fn assert_no_token(run: &PlayRun) {
    assert!(
        !run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN),
        "the kubeconfig token leaked:\n{}\n{}",
        run.stdout,
        run.stderr
    );
}

#[test]
fn check_mode_reports_the_change_and_sends_no_mutating_request() {
    let cluster = stolen_ip_cluster();
    let p = Project::new();
    p.write("lbip.yaml", STOLEN_REGISTRY);
    let kubeconfig = cluster.kubeconfig_path().display().to_string();
    // A kubeconfig that is not YAML: the parser's error quotes the lines around the problem,
    // the token's line included.
    let text = std::fs::read_to_string(cluster.kubeconfig_path()).unwrap();
    let broken: String = text
        .lines()
        .flat_map(|l| {
            let extra = l.contains("token:").then_some("    oops: [unclosed");
            std::iter::once(l).chain(extra)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        broken.contains(TOKEN) && broken.contains("oops"),
        "{broken}"
    );
    p.write("broken-kubeconfig.yaml", &broken);
    let run = p.play(
        &format!(
            r#"
    - name: pin
      lbip: {{registry: lbip.yaml, kubeconfig: "{kubeconfig}"}}
    - name: broken kubeconfig
      lbip: {{registry: lbip.yaml, kubeconfig: broken-kubeconfig.yaml, state: checked}}
      ignore_errors: true
    - name: pin mlflow only
      lbip: {{registry: lbip.yaml, kubeconfig: "{kubeconfig}", services: mlflow}}
    - name: drift reported
      lbip: {{registry: lbip.yaml, kubeconfig: "{kubeconfig}", state: checked, fail_on_drift: no}}
    - name: drift fails
      lbip: {{registry: lbip.yaml, kubeconfig: "{kubeconfig}", state: checked}}
      ignore_errors: true
    - name: unknown service
      lbip: {{registry: lbip.yaml, kubeconfig: "{kubeconfig}", services: [mlfow]}}
      ignore_errors: true
    - name: unknown context
      lbip: {{registry: lbip.yaml, kubeconfig: "{kubeconfig}", context: nope}}
      ignore_errors: true
"#
        ),
        &["--check", "--diff"],
    );
    assert_no_token(&run);
    assert_eq!(
        cluster.request_log().mutating().len(),
        0,
        "check mode patched: {:?}",
        cluster.request_log().mutating()
    );
    assert_eq!(cluster.lb_ips("mlflow", "mlflow"), vec!["192.168.1.203"]);

    let pin = run.task("pin");
    assert_eq!(pin["_status"], "ok", "{pin}");
    assert_eq!(pin["changed"], true, "{pin}");
    let msg = pin["msg"].as_str().unwrap();
    assert!(
        msg.starts_with("check mode: 2 step(s) would change the cluster, nothing was changed: "),
        "{msg}"
    );
    assert!(msg.contains("mlflow/mlflow -> 192.168.1.201"), "{msg}");
    let steps = pin["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{pin}");
    // The squatter moves first, so MLflow's address is free when MLflow asks for it.
    assert_eq!(steps[0]["namespace"], "seldon-system");
    assert_eq!(steps[0]["to"], serde_json::json!(["192.168.1.202"]));
    assert_eq!(steps[1]["name"], "mlflow");
    let codes: Vec<&str> = pin["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"stolen-ip"), "{codes:?}");
    let diff = &pin["diff"];
    assert!(
        diff["after"]
            .as_str()
            .unwrap()
            .contains("mlflow/mlflow:\n  annotations:\n    metallb.io/loadBalancerIPs: \"192.168.1.201\"\n  assigned: 192.168.1.201\n"),
        "{diff}"
    );
    assert!(
        diff["before"]
            .as_str()
            .unwrap()
            .contains("mlflow/mlflow:\n  annotations: {}\n  assigned: 192.168.1.203\n"),
        "{diff}"
    );

    let only = run.task("pin mlflow only");
    assert_eq!(only["changed"], true, "{only}");
    assert!(
        only["msg"]
            .as_str()
            .unwrap()
            .contains("mlflow/mlflow -> 192.168.1.201")
    );

    // Reporting drift changes nothing, so the task is ok and not changed; the drift stays
    // visible in msg, drift, findings and a warning.
    let drift = run.task("drift reported");
    assert_eq!(drift["_status"], "ok");
    assert_eq!(drift["changed"], false, "{drift}");
    assert_eq!(drift["drift"], 2);
    assert!(
        drift["msg"]
            .as_str()
            .unwrap()
            .starts_with("2 of 2 Service(s) are not ok: "),
        "{drift}"
    );
    assert!(
        drift["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "stolen-ip"),
        "{drift}"
    );
    assert!(
        drift["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("drift: 2 of 2 Service(s) are not ok"),
        "{drift}"
    );
    let fails = run.task("drift fails");
    assert_eq!(fails["_status"], "failed");
    assert!(
        fails["msg"]
            .as_str()
            .unwrap()
            .starts_with("2 of 2 Service(s) are not ok: "),
        "{}",
        fails["msg"]
    );

    let unknown = run.task("unknown service");
    assert_eq!(unknown["_status"], "failed");
    assert!(
        unknown["msg"]
            .as_str()
            .unwrap()
            .contains("mlfow (did you mean mlflow?)"),
        "{}",
        unknown["msg"]
    );
    let broken = run.task("broken kubeconfig");
    assert_eq!(broken["_status"], "failed");
    let msg = broken["msg"].as_str().unwrap();
    assert!(
        msg.starts_with("cannot load the Kubernetes configuration from broken-kubeconfig.yaml"),
        "{msg}"
    );
    // The parser's message is kept (where the file is broken), its quoted lines are not.
    assert!(msg.contains("failed to parse kubeconfig YAML"), "{msg}");
    assert!(!msg.contains("token:"), "{msg}");
    let context = run.task("unknown context");
    assert_eq!(context["_status"], "failed");
    assert!(
        context["msg"].as_str().unwrap().contains("nope"),
        "{}",
        context["msg"]
    );
}

#[test]
fn pinned_fixes_the_stolen_ip_shows_the_diff_and_a_second_run_is_ok() {
    let cluster = stolen_ip_cluster();
    let p = Project::new();
    p.write("lbip.yaml", STOLEN_REGISTRY);
    let kubeconfig = cluster.kubeconfig_path().display().to_string();
    let run = p.play(
        &format!(
            r#"
    - name: pin
      lbip: {{registry: lbip.yaml, kubeconfig: "{kubeconfig}", timeout: 30s}}
    - name: pin again
      lbip: {{registry: lbip.yaml, kubeconfig: "{kubeconfig}", timeout: 30s}}
    - name: check
      lbip: {{registry: lbip.yaml, kubeconfig: "{kubeconfig}", state: checked}}
"#
        ),
        &["--diff"],
    );
    assert_no_token(&run);
    assert_eq!(run.stats()["failures"], 0, "{}", run.stdout);
    assert_eq!(cluster.lb_ips("mlflow", "mlflow"), vec!["192.168.1.201"]);
    assert_eq!(
        cluster.lb_ips("seldon-system", "seldon-scheduler"),
        vec!["192.168.1.202"]
    );
    let pin = run.task("pin");
    assert_eq!(pin["changed"], true, "{pin}");
    assert!(
        pin["msg"]
            .as_str()
            .unwrap()
            .starts_with("applied 2 step(s): "),
        "{}",
        pin["msg"]
    );
    assert!(
        pin["diff"]["after"]
            .as_str()
            .unwrap()
            .contains("seldon-system/seldon-scheduler:\n  annotations:\n    metallb.io/loadBalancerIPs: \"192.168.1.202\"\n  assigned: 192.168.1.202\n"),
        "{pin}"
    );
    let again = run.task("pin again");
    assert_eq!(again["changed"], false, "{again}");
    assert_eq!(again["msg"], "2 Service(s) already match the registry");
    assert!(again.get("diff").is_none(), "{again}");
    assert_eq!(
        run.task("check")["msg"],
        "ok: 2 Service(s) match the registry"
    );
    // Exactly the two patches of the plan reached the server.
    let patches: Vec<String> = cluster
        .request_log()
        .mutating()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(patches.len(), 2, "{patches:?}");
}

const MLFLOW_CHART: &str = include_str!("../examples/charts/mlflow.helm3.yaml");

#[test]
fn rendered_pins_a_manifest_file_with_check_diff_and_idempotence() {
    let p = Project::new();
    p.write("manifests/mlflow.yaml", MLFLOW_CHART);
    p.write(
        "manifests/rogue.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: rogue, namespace: rogue}\nspec:\n  type: LoadBalancer\n  ports: [{port: 80}]\n",
    );
    let task = |name: &str, extra: &str| {
        format!(
            "    - name: {name}\n      lbip: {{registry: lbip.yaml, state: rendered, src: manifests/mlflow.yaml, dest: out/mlflow.yaml, namespace: mlflow{extra}}}\n"
        )
    };
    std::fs::create_dir_all(p.path().join("out")).unwrap();
    let checked = p.play(&task("render", ""), &["--check", "--diff"]);
    let render = checked.task("render");
    assert_eq!(render["changed"], true, "{render}");
    assert!(
        render["msg"]
            .as_str()
            .unwrap()
            .starts_with("check mode: out/mlflow.yaml would be written from manifests/mlflow.yaml"),
        "{render}"
    );
    assert!(
        !p.path().join("out/mlflow.yaml").exists(),
        "check mode wrote the file"
    );
    assert!(
        render["diff"]["after"]
            .as_str()
            .unwrap()
            .contains("    metallb.io/loadBalancerIPs: 192.168.1.215\n"),
        "{render}"
    );
    // The post-renderer's own warning, in the post-renderer's words.
    assert!(
        render["warnings"][0]
            .as_str()
            .unwrap()
            .contains("no MetalLB release reads this key"),
        "{render}"
    );

    // A dest that is a symlink into another directory, onto a 0600 file: the link stays, the
    // file it points to is replaced with its mode (the same policy as `lbip export --write`).
    std::fs::create_dir_all(p.path().join("elsewhere")).unwrap();
    let real = p.path().join("elsewhere/linked.yaml");
    std::fs::write(&real, "old\n").unwrap();
    std::fs::set_permissions(&real, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink("../elsewhere/linked.yaml", p.path().join("out/link.yaml")).unwrap();
    let run = p.play(
        &format!(
            "{}{}    - name: rogue\n      lbip: {{registry: lbip.yaml, state: rendered, src: manifests/rogue.yaml, dest: out/rogue.yaml}}\n      ignore_errors: true\n    - name: through a link\n      lbip: {{registry: lbip.yaml, state: rendered, src: manifests/mlflow.yaml, dest: out/link.yaml, namespace: mlflow}}\n",
            task("render", ""),
            task("again", "")
        ),
        &[],
    );
    let linked = run.task("through a link");
    assert_eq!(linked["changed"], true, "{linked}");
    assert!(
        std::fs::symlink_metadata(p.path().join("out/link.yaml"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the symlink was replaced by a file"
    );
    assert_eq!(
        std::fs::read_to_string(&real).unwrap(),
        p.read("out/mlflow.yaml")
    );
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&real).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let beside: Vec<String> = std::fs::read_dir(p.path().join("elsewhere"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        beside,
        vec!["linked.yaml"],
        "a temporary file was left behind"
    );
    assert_eq!(run.task("render")["changed"], true);
    let again = run.task("again");
    assert_eq!(again["changed"], false, "{again}");
    assert!(
        again["msg"]
            .as_str()
            .unwrap()
            .starts_with("out/mlflow.yaml is up to date"),
        "{again}"
    );
    let written = p.read("out/mlflow.yaml");
    assert!(written.contains("    metallb.io/loadBalancerIPs: 192.168.1.215\n"));
    assert!(!written.contains("loadBalancer-ips"));
    let rogue = run.task("rogue");
    assert_eq!(rogue["_status"], "failed");
    assert!(
        rogue["msg"].as_str().unwrap().starts_with(
            "lbip refused to post-render manifests/rogue.yaml; out/rogue.yaml was not written: "
        ),
        "{rogue}"
    );
    assert!(!p.path().join("out/rogue.yaml").exists());
    // Nothing but the manifest and the link in out/: no temporary file left behind.
    let mut names: Vec<String> = std::fs::read_dir(p.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["link.yaml", "mlflow.yaml"]);
}

/// Runs this test binary again, as a child running only `test`, with `LBIP_MODULE_CHILD`
/// set; returns the child's stdout.
fn rerun_as_child(test: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("LBIP_MODULE_CHILD", "1")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

/// The JSON objects the module printed among the test harness's own output (which puts
/// `test <name> ... ` on the same line, before the module's output).
fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter_map(|l| l.find("{\"").map(|at| &l[at..]))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_panic_still_prints_exactly_one_failed_json_object() {
    if std::env::var_os("LBIP_MODULE_CHILD").is_some() {
        lbip::faces::ansible::guarded(|| panic!("boom in the module body"));
        return;
    }
    let results = json_lines(&rerun_as_child(
        "a_panic_still_prints_exactly_one_failed_json_object",
    ));
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0]["failed"], true);
    let msg = results[0]["msg"].as_str().unwrap();
    assert!(msg.starts_with("lbip panicked at "), "{msg}");
    assert!(msg.contains("boom in the module body"), "{msg}");
}

#[test]
fn a_panic_on_another_thread_wins_over_the_later_result() {
    if std::env::var_os("LBIP_MODULE_CHILD").is_some() {
        lbip::faces::ansible::guarded(|| {
            let _ = std::thread::spawn(|| panic!("worker died")).join();
            lbip::faces::ansible::result::ModuleResult::ok("looked fine")
        });
        return;
    }
    let results = json_lines(&rerun_as_child(
        "a_panic_on_another_thread_wins_over_the_later_result",
    ));
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0]["failed"], true);
    assert!(results[0]["msg"].as_str().unwrap().contains("worker died"));
}

#[test]
fn run_directly_the_module_prints_one_json_object_and_nothing_else() {
    let p = Project::new();
    let module = p.path().join("AnsiballZ_lbip");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_lbip"), &module).unwrap();
    for (args, failed) in [
        (
            r#"{"registry": "lbip.yaml", "state": "facts", "_ansible_check_mode": false}"#,
            false,
        ),
        (
            r#"{"registry": "lbip.yaml", "state": "nope", "_ansible_check_mode": false}"#,
            true,
        ),
        ("not json at all", true),
    ] {
        p.write("args", args);
        let out = Command::new(&module)
            .arg("args")
            .current_dir(p.path())
            .env_remove("LBIP_REGISTRY")
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(stdout.lines().count(), 1, "{stdout}");
        let v: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(v["failed"], failed, "{v}");
        assert_eq!(out.status.code(), Some(if failed { 1 } else { 0 }));
    }
}

#[test]
fn from_a_collection_path_the_module_runs_and_ansible_doc_shows_it() {
    let p = Project::new();
    let modules = p
        .path()
        .join("collections/ansible_collections/lbip/lbip/plugins/modules");
    std::fs::create_dir_all(&modules).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_lbip"), modules.join("lbip")).unwrap();
    std::fs::copy(p.path().join("library/lbip.yml"), modules.join("lbip.yml")).unwrap();
    p.write(
        "collections/ansible_collections/lbip/lbip/galaxy.yml",
        "namespace: lbip\nname: lbip\nversion: 0.1.0\nreadme: README.md\nauthors: [lbip contributors]\n",
    );
    p.write(
        "collections/ansible_collections/lbip/lbip/meta/runtime.yml",
        "requires_ansible: '>=2.14'\n",
    );
    std::fs::remove_file(p.path().join("library/lbip")).unwrap();
    let collections = p.path().join("collections");
    let mut cmd = p.command("ansible-doc");
    cmd.arg("lbip.lbip.lbip")
        .env("ANSIBLE_COLLECTIONS_PATH", &collections);
    let (out, err) = run_with_timeout(cmd, Duration::from_secs(60));
    assert!(out.contains("lbip.lbip.lbip"), "{out}\n{err}");
    assert!(out.contains("fail_on_drift"), "{out}");

    p.write(
        "ansible.cfg",
        &format!("[defaults]\ncollections_path = {}\n", collections.display()),
    );
    let run = p.play(
        "    - name: facts\n      lbip.lbip.lbip: {registry: lbip.yaml, state: facts}\n",
        &[],
    );
    assert_eq!(
        run.task("facts")["ansible_facts"]["mlflow_loadbalancer_ip"],
        "192.168.1.215",
        "{}",
        run.stdout
    );
}

#[test]
fn pinning_a_registry_entry_that_is_not_deployed_changes_nothing_and_says_so() {
    let cluster = stolen_ip_cluster();
    let p = Project::new();
    p.write(
        "lbip.yaml",
        &format!("{STOLEN_REGISTRY}  grafana:\n    namespace: monitoring\n    ip: 192.168.1.207\n"),
    );
    let kubeconfig = cluster.kubeconfig_path().display().to_string();
    let run = p.play(
        &format!(
            "    - name: pin grafana\n      lbip: {{registry: lbip.yaml, kubeconfig: \"{kubeconfig}\", services: grafana}}\n"
        ),
        &[],
    );
    let pin = run.task("pin grafana");
    assert_eq!(pin["_status"], "ok", "{pin}");
    assert_eq!(pin["changed"], false);
    assert_eq!(
        pin["msg"],
        "nothing to change: 0 of 1 Service(s) match the registry; pinning cannot fix monitoring/grafana (missing)"
    );
    assert!(cluster.request_log().mutating().is_empty());
}

#[test]
fn wait_false_returns_after_the_last_patch_without_waiting_for_it() {
    let cluster = stolen_ip_cluster();
    let p = Project::new();
    p.write("lbip.yaml", STOLEN_REGISTRY);
    let kubeconfig = cluster.kubeconfig_path().display().to_string();
    let run = p.play(
        &format!(
            "    - name: pin without waiting\n      lbip: {{registry: lbip.yaml, kubeconfig: \"{kubeconfig}\", wait: no}}\n"
        ),
        &[],
    );
    let pin = run.task("pin without waiting");
    assert_eq!(pin["changed"], true, "{pin}");
    // Two steps: Seldon's scheduler is moved off .201 (waited for: MLflow needs .201 free),
    // then MLflow is pinned to .201 (the last step: not waited for).
    let log = cluster.request_log();
    assert_eq!(log.count(Verb::Patch, "services"), 2, "{:?}", log.entries());
    // A wait is a watch on the Service (kube-rs lists it first, then watches if needed).
    let reads = |log: &lbip_testcluster::RequestLog| {
        log.count(Verb::List, "services") + log.count(Verb::Watch, "services")
    };
    let waits_with = reads(&log);

    // The same run with waiting (fresh cluster) reads once more: the wait for the last step.
    let cluster = stolen_ip_cluster();
    let kubeconfig = cluster.kubeconfig_path().display().to_string();
    let run = p.play(
        &format!(
            "    - name: pin and wait\n      lbip: {{registry: lbip.yaml, kubeconfig: \"{kubeconfig}\"}}\n"
        ),
        &[],
    );
    assert_eq!(run.task("pin and wait")["changed"], true);
    let waits_all = reads(&cluster.request_log());
    assert!(
        waits_with >= 2 && waits_all == waits_with + 1,
        "wait=no read Services {waits_with} time(s), wait=yes {waits_all}"
    );
    assert_eq!(cluster.lb_ips("mlflow", "mlflow"), vec!["192.168.1.201"]);
}

#[test]
fn context_selects_the_cluster_with_the_kubeconfig_option_and_with_kubeconfig_env() {
    // Two servers told apart by their Services: MLflow runs only on `a`.
    let a = stolen_ip_cluster();
    let b = stolen_ip_cluster();
    b.delete_service("mlflow", "mlflow").unwrap();
    let p = Project::new();
    p.write("lbip.yaml", STOLEN_REGISTRY);
    p.write(
        "kube/two.yaml",
        &format!(
            "apiVersion: v1
kind: Config
clusters:
- {{name: a, cluster: {{server: '{}', certificate-authority-data: {}}}}}
- {{name: b, cluster: {{server: '{}', certificate-authority-data: {}}}}}
- {{name: dead, cluster: {{server: 'https://127.0.0.1:1'}}}}
users:
- {{name: alice, user: {{token: {TOKEN}}}}}
contexts:
- {{name: ctx-a, context: {{cluster: a, user: alice}}}}
- {{name: ctx-b, context: {{cluster: b, user: alice}}}}
- {{name: ctx-dead, context: {{cluster: dead, user: alice}}}}
current-context: ctx-dead
",
            a.url(),
            a.ca_data(),
            b.url(),
            b.ca_data()
        ),
    );
    let kc = p.path().join("kube/two.yaml").display().to_string();
    let missing = p.path().join("kube/missing.yaml").display().to_string();
    let run = p.play(
        &format!(
            r#"
    - name: a by option
      lbip: {{registry: lbip.yaml, kubeconfig: "{kc}", context: ctx-a, state: checked, fail_on_drift: no}}
      environment: {{KUBECONFIG: "{missing}"}}
    - name: b by env
      lbip: {{registry: lbip.yaml, context: ctx-b, state: checked, fail_on_drift: no}}
      environment: {{KUBECONFIG: "{missing}:{kc}"}}
    - name: current context by env
      lbip: {{registry: lbip.yaml, state: checked}}
      environment: {{KUBECONFIG: "{kc}"}}
      ignore_errors: true
    - name: unknown context by env
      lbip: {{registry: lbip.yaml, context: nope, state: checked}}
      environment: {{KUBECONFIG: "{kc}"}}
      ignore_errors: true
"#
        ),
        &[],
    );
    assert_no_token(&run);
    let rows = |task: &str| -> Vec<(String, String)> {
        run.task(task)["status"]
            .as_array()
            .unwrap_or_else(|| panic!("{task}: {}", run.task(task)))
            .iter()
            .map(|r| {
                (
                    r["name"].as_str().unwrap().to_string(),
                    r["states"][0].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(run.task("a by option")["_status"], "ok");
    assert!(
        rows("a by option").contains(&("mlflow".into(), "drift".into())),
        "{:?}",
        rows("a by option")
    );
    assert_eq!(run.task("b by env")["_status"], "ok");
    assert!(
        rows("b by env").contains(&("mlflow".into(), "missing".into())),
        "{:?}",
        rows("b by env")
    );
    let dead = run.task("current context by env");
    assert_eq!(dead["_status"], "failed");
    assert!(
        dead["msg"]
            .as_str()
            .unwrap()
            .contains("https://127.0.0.1:1 (context ctx-dead)"),
        "{dead}"
    );
    let nope = run.task("unknown context by env");
    assert_eq!(nope["_status"], "failed");
    assert!(
        nope["msg"]
            .as_str()
            .unwrap()
            .starts_with("context \"nope\" (option context) does not exist in $KUBECONFIG ("),
        "{nope}"
    );
    assert!(a.request_log().count(Verb::List, "services") > 0);
    assert!(b.request_log().count(Verb::List, "services") > 0);
}

#[test]
fn secrets_of_every_kubeconfig_form_are_redacted_from_the_result() {
    let p = Project::new();
    p.write("lbip.yaml", STOLEN_REGISTRY);
    let user_kubeconfig = |server: &str, user: &str| {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: \"{server}\"\nusers:\n- name: u\n  user:\n{user}contexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\n"
        )
    };
    // An exec plugin that fails: kube-rs quotes its command with the environment.
    p.write(
        "kube/exec.yaml",
        &user_kubeconfig(
            "https://127.0.0.1:1",
            "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: sh\n      args: [\"-c\", \"exit 1\"]\n      interactiveMode: Never\n      env:\n      - name: API_KEY\n        value: |\n          ansible-exec-secret-1\n",
        ),
    );
    p.write(
        "kube/url.yaml",
        &user_kubeconfig(
            "https://ops:ansible-url-pass@127.0.0.1:1/?access_token=ansible-url-token",
            "    username: ops\n",
        ),
    );
    let exec = p.path().join("kube/exec.yaml").display().to_string();
    let url = p.path().join("kube/url.yaml").display().to_string();
    let run = p.play(
        &format!(
            r#"
    - name: exec by option
      lbip: {{registry: lbip.yaml, kubeconfig: "{exec}", state: checked}}
      ignore_errors: true
    - name: url by env
      lbip: {{registry: lbip.yaml, state: pinned, timeout: 5s}}
      environment: {{KUBECONFIG: "{url}"}}
      ignore_errors: true
"#
        ),
        &[],
    );
    for (task, secrets) in [
        ("exec by option", &["ansible-exec-secret-1"][..]),
        ("url by env", &["ansible-url-pass", "ansible-url-token"]),
    ] {
        let r = run.task(task);
        assert_eq!(r["_status"], "failed", "{r}");
        let msg = r["msg"].as_str().unwrap();
        assert!(msg.contains("[REDACTED]"), "{task}: {msg}");
        for s in secrets {
            assert!(
                !run.stdout.contains(s) && !run.stderr.contains(s),
                "{s} leaked: {}",
                run.stdout
            );
        }
    }
}

#[test]
fn a_pinned_task_that_times_out_says_where_every_service_stands() {
    // MetalLB's controller is down: patches land, nobody assigns the addresses.
    let cluster = lbip_testcluster::TestCluster::start_blocking(lbip_testcluster::Options {
        metallb: None,
        ..lbip_testcluster::Options::default().seed_yaml(STOLEN_CLUSTER)
    })
    .unwrap();
    let p = Project::new();
    p.write("lbip.yaml", STOLEN_REGISTRY);
    let kubeconfig = cluster.kubeconfig_path().display().to_string();
    let run = p.play(
        &format!(
            r#"
    - name: pin
      lbip: {{registry: lbip.yaml, kubeconfig: "{kubeconfig}", timeout: 1s}}
      ignore_errors: true
"#
        ),
        &[],
    );
    assert_no_token(&run);
    let pin = run.task("pin");
    assert_eq!(pin["_status"], "failed", "{pin}");
    let msg = pin["msg"].as_str().unwrap();
    assert!(
        msg.starts_with("pinning stopped: pin seldon-system/seldon-scheduler failed after its patch was applied: timed out after 1s waiting for MetalLB"),
        "{msg}"
    );
    assert!(
        msg.contains(
            "now mlflow/mlflow has 192.168.1.203, seldon-system/seldon-scheduler has 192.168.1.201"
        ),
        "{msg}"
    );
    assert!(msg.contains("rerun the task to resume"), "{msg}");
    let now = pin["now"].as_array().unwrap();
    assert_eq!(now.len(), 2, "{pin}");
    assert_eq!(
        now[1]["requested"],
        serde_json::json!(["192.168.1.202"]),
        "{pin}"
    );
}
