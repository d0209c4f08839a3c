//! The release packaging, run as the release workflow runs it (scripts/package.sh), for this
//! machine's platform with the binary under test standing in for the release build; then
//! every archive is checked the way its ecosystem uses it: the CLI archive's layout, man
//! pages and completions; the krew manifest against the kubectl archive, unpacked onto PATH
//! for real kubectl; the signed Helm 4 plugin installed with verification by real Helm 4; the
//! Ansible collection built, installed, documented, run and put through `ansible-test sanity`.

mod helm_support;
mod tools;

use helm_support::{Helm, Major, REPO, Run, run};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The throwaway signing key committed for the tests (tests/fixtures/helm-signing/README.md).
const TEST_KEY: &str = "lbip test signing key";

fn fixture(rel: &str) -> PathBuf {
    Path::new(REPO)
        .join("tests/fixtures/helm-signing")
        .join(rel)
}

/// `dist/` of one packaging run, shared by every test of this file.
fn dist() -> &'static Path {
    static DIST: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, dist) = DIST.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        // bin/<the release's triple for this platform>/lbip, as the workflow lays them out.
        let bin = dir.path().join("bin").join(tools::release_triple());
        std::fs::create_dir_all(&bin).unwrap();
        tools::small_lbip(&bin);
        let dist = dir.path().join("dist");
        let out = run(
            Command::new(Path::new(REPO).join("scripts/package.sh"))
                .env("LBIP_BIN_DIR", dir.path().join("bin"))
                .env("LBIP_DIST", &dist)
                .env("HELM", tools::helm4())
                .env("ANSIBLE_GALAXY", tools::ansible("ansible-galaxy"))
                .env("LBIP_SIGN_KEY", TEST_KEY)
                .env("LBIP_SIGN_KEYRING", fixture("secring.gpg"))
                .env("HELM_CONFIG_HOME", dir.path().join("helm"))
                .env("HELM_DATA_HOME", dir.path().join("helm"))
                .env("HELM_CACHE_HOME", dir.path().join("helm")),
            None,
        );
        assert_eq!(out.code, 0, "scripts/package.sh failed: {out:?}");
        (dir, dist)
    });
    dist
}

fn triple() -> String {
    tools::release_triple()
}

/// `tar -tzf`: the entries of an archive, directories with a trailing `/`.
fn entries(archive: &Path) -> Vec<String> {
    let out = run(Command::new("tar").arg("-tzf").arg(archive), None).ok();
    let mut v: Vec<String> = out.stdout.lines().map(str::to_string).collect();
    v.sort();
    v
}

fn sha256(path: &Path) -> String {
    let out = run(Command::new("sha256sum").arg(path), None).ok();
    out.stdout.split_whitespace().next().unwrap().to_string()
}

fn unpack(archive: &Path, into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    run(
        Command::new("tar")
            .arg("-xzf")
            .arg(archive)
            .arg("-C")
            .arg(into),
        None,
    )
    .ok();
}

#[test]
fn the_release_is_these_files_with_their_checksums() {
    let t = triple();
    let mut names: Vec<String> = std::fs::read_dir(dist())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want = vec![
        "SHA256SUMS".to_string(),
        format!("kubectl-lbip_v{VERSION}_{t}.tar.gz"),
        format!("lbip-{VERSION}-{t}.tar.gz"),
        format!("lbip-{VERSION}.tgz"),
        format!("lbip-{VERSION}.tgz.prov"),
        format!("lbip-lbip-{VERSION}.tar.gz"),
    ];
    want.sort();
    assert_eq!(names, want);
    let sums = std::fs::read_to_string(dist().join("SHA256SUMS")).unwrap();
    let listed: Vec<(&str, &str)> = sums.lines().map(|l| l.split_once("  ").unwrap()).collect();
    assert_eq!(
        listed.len(),
        want.len() - 1,
        "every file but SHA256SUMS itself"
    );
    for (hash, name) in listed {
        assert_eq!(hash, sha256(&dist().join(name)), "{name}");
    }
}

#[test]
fn the_cli_archive_has_the_binary_man_pages_and_completions_of_the_same_cli() {
    use clap::CommandFactory;
    let t = triple();
    let top = format!("lbip-{VERSION}-{t}/");
    let archive = dist().join(format!("lbip-{VERSION}-{t}.tar.gz"));
    let listing = entries(&archive);
    let mut want: Vec<String> = [
        "",
        "LICENSE",
        "README.md",
        "lbip",
        "completions/",
        "completions/_lbip",
        "completions/lbip.bash",
        "completions/lbip.fish",
        "man/",
        "man/man1/",
    ]
    .iter()
    .map(|e| format!("{top}{e}"))
    .collect();
    // A page for every command of both command lines, generated from their definitions.
    let cli = lbip::faces::cli::Cli::command();
    let plugin = lbip::faces::kubectl::Plugin::command();
    want.push(format!("{top}man/man1/lbip.1"));
    want.push(format!("{top}man/man1/kubectl-lbip.1"));
    for sub in cli.get_subcommands() {
        want.push(format!("{top}man/man1/lbip-{}.1", sub.get_name()));
    }
    for sub in plugin.get_subcommands() {
        want.push(format!("{top}man/man1/kubectl-lbip-{}.1", sub.get_name()));
    }
    want.sort();
    assert_eq!(listing, want);

    let dir = tempfile::tempdir().unwrap();
    unpack(&archive, dir.path());
    let root = dir.path().join(&top);
    let bin = root.join("lbip");
    let version = run(Command::new(&bin).arg("version"), None).ok();
    assert_eq!(version.stdout, format!("lbip {VERSION}\n"));
    let page = std::fs::read_to_string(root.join("man/man1/kubectl-lbip-apply.1")).unwrap();
    assert!(page.contains(".TH kubectl-lbip-apply 1"), "{page}");
    assert!(
        page.contains("\\-\\-evict\\-unpinned"),
        "the apply flags: {page}"
    );
    for (shell, file) in [
        ("bash", "lbip.bash"),
        ("zsh", "_lbip"),
        ("fish", "lbip.fish"),
    ] {
        let now = run(Command::new(&bin).args(["completions", shell]), None).ok();
        let shipped = std::fs::read_to_string(root.join("completions").join(file)).unwrap();
        assert_eq!(shipped, now.stdout, "{shell} completions are the CLI's");
        assert!(shipped.contains("post-render"), "{shell}");
    }
}

/// `.krew.yaml` as krew-release-bot renders it for this release: `{{ .TagName }}` is the
/// tag, `{{addURIAndSha "URL" .TagName }}` becomes `uri:` and `sha256:` of that archive.
fn rendered_krew_manifest() -> Value {
    let template = std::fs::read_to_string(Path::new(REPO).join(".krew.yaml")).unwrap();
    let tag = format!("v{VERSION}");
    let mut out = String::new();
    for line in template.lines() {
        let line = line.replace("{{ .TagName }}", &tag);
        if let Some(start) = line.find("{{addURIAndSha \"") {
            let indent = &line[..start];
            let url = line[start + 16..].split('"').next().unwrap();
            let file = dist().join(url.rsplit('/').next().unwrap());
            let sha = if file.is_file() {
                sha256(&file)
            } else {
                "not-built-here".to_string()
            };
            out.push_str(&format!("{indent}uri: {url}\n{indent}sha256: {sha}\n"));
        } else {
            out.push_str(&line);
            out.push('\n');
        }
    }
    serde_saphyr::from_str(&out).unwrap_or_else(|e| panic!("{e}\n{out}"))
}

#[test]
fn the_krew_manifest_matches_the_archives_and_kubectl_runs_the_plugin() {
    let m = rendered_krew_manifest();
    assert_eq!(
        m["apiVersion"],
        "krew.googlecontainertools.github.com/v1alpha2"
    );
    assert_eq!(m["kind"], "Plugin");
    assert_eq!(
        m["metadata"]["name"], "lbip",
        "the plugin name is the command"
    );
    assert_eq!(m["spec"]["version"], format!("v{VERSION}"));
    let platforms = m["spec"]["platforms"].as_array().unwrap();
    // Every platform the release builds, each once, each named like package.sh names it.
    let mut seen = Vec::new();
    for p in platforms {
        let labels = &p["selector"]["matchLabels"];
        let (os, arch) = (
            labels["os"].as_str().unwrap(),
            labels["arch"].as_str().unwrap(),
        );
        let triple = match (os, arch) {
            ("linux", "amd64") => "x86_64-unknown-linux-musl",
            ("linux", "arm64") => "aarch64-unknown-linux-musl",
            ("darwin", "amd64") => "x86_64-apple-darwin",
            ("darwin", "arm64") => "aarch64-apple-darwin",
            other => panic!("unexpected platform {other:?}"),
        };
        let uri = p["uri"].as_str().unwrap();
        assert!(
            uri.ends_with(&format!(
                "/v{VERSION}/kubectl-lbip_v{VERSION}_{triple}.tar.gz"
            )),
            "{uri}"
        );
        assert_eq!(p["bin"], "kubectl-lbip");
        assert!(p.get("files").is_none(), "krew unpacks the whole archive");
        seen.push(format!("{os}/{arch}"));
    }
    seen.sort();
    assert_eq!(
        seen,
        ["darwin/amd64", "darwin/arm64", "linux/amd64", "linux/arm64"]
    );

    // This platform's entry against the archive built here.
    let (os, arch) = tools::go_platform();
    let mine = platforms
        .iter()
        .find(|p| {
            p["selector"]["matchLabels"]["os"] == os && p["selector"]["matchLabels"]["arch"] == arch
        })
        .unwrap();
    let archive = dist().join(mine["uri"].as_str().unwrap().rsplit('/').next().unwrap());
    assert!(archive.is_file(), "{} was not built", archive.display());
    assert_eq!(mine["sha256"], sha256(&archive));
    assert_eq!(entries(&archive), ["LICENSE", "kubectl-lbip"]);

    // Install it as krew does: unpack into the store, link `bin` into a PATH directory.
    let root = tempfile::tempdir().unwrap();
    let store = root.path().join("store/lbip").join(format!("v{VERSION}"));
    unpack(&archive, &store);
    let path_dir = root.path().join("bin");
    std::fs::create_dir_all(&path_dir).unwrap();
    std::os::unix::fs::symlink(store.join("kubectl-lbip"), path_dir.join("kubectl-lbip")).unwrap();
    let kubectl = |args: &[&str]| -> Run {
        run(
            Command::new(tools::kubectl())
                .args(args)
                .env("PATH", &path_dir)
                .env("KUBECONFIG", root.path().join("no-kubeconfig")),
            None,
        )
    };
    let list = kubectl(&["plugin", "list"]);
    assert_eq!(list.code, 0, "kubectl warns about nothing: {list:?}");
    assert!(
        list.stdout
            .contains(&path_dir.join("kubectl-lbip").display().to_string()),
        "{list:?}"
    );
    let version = kubectl(&["lbip", "version"]).ok();
    assert_eq!(version.stdout, format!("lbip {VERSION}\n"));
    let json = kubectl(&["lbip", "version", "-o", "json"]).ok();
    assert_eq!(
        serde_json::from_str::<Value>(&json.stdout).unwrap(),
        serde_json::json!({"name": "lbip", "version": VERSION})
    );
}

/// `helm plugin install <tgz> --keyring <keyring>`: Helm 4 verifies the `.prov` beside it.
fn install_verified(helm: &Helm, tgz: &Path, keyring: &str) -> Run {
    helm.run(&[
        "plugin",
        "install",
        tgz.to_str().unwrap(),
        "--keyring",
        keyring,
    ])
}

#[test]
fn the_signed_helm_plugin_installs_only_when_its_signature_verifies() {
    let tgz = dist().join(format!("lbip-{VERSION}.tgz"));
    let (os, arch) = tools::go_platform();
    assert_eq!(
        entries(&tgz),
        [
            "lbip".to_string(),
            "lbip/LICENSE".into(),
            "lbip/README.md".into(),
            "lbip/bin".into(),
            format!("lbip/bin/{os}-{arch}"),
            format!("lbip/bin/{os}-{arch}/lbip"),
            "lbip/plugin.yaml".into(),
        ]
    );
    let prov = std::fs::read_to_string(dist().join(format!("lbip-{VERSION}.tgz.prov"))).unwrap();
    assert!(
        prov.contains(&format!("lbip-{VERSION}.tgz: sha256:{}", sha256(&tgz))),
        "{prov}"
    );

    // Helm 4 verifies by default: with the public key it installs and records it as signed.
    let helm = Helm::new(Major::Four);
    let pubring = fixture("pubring.gpg");
    let pubring = pubring.to_str().unwrap();
    let install = install_verified(&helm, &tgz, pubring);
    assert_eq!(install.code, 0, "{install:?}");
    assert!(
        install.stdout.contains("Signed by: lbip test signing key"),
        "{install:?}"
    );
    let list = helm.run(&["plugin", "list"]).ok();
    let row = list.stdout.lines().find(|l| l.starts_with("lbip")).unwrap();
    assert!(
        row.contains("postrenderer/v1") && row.contains("signed"),
        "{row}"
    );

    // Without the key, or with a tarball that is not the signed one, nothing is installed.
    let fresh = Helm::new(Major::Four);
    let no_key = install_verified(
        &fresh,
        &tgz,
        fresh.home().join("empty.gpg").to_str().unwrap(),
    );
    assert_ne!(no_key.code, 0, "{no_key:?}");
    let tampered_dir = tempfile::tempdir().unwrap();
    let tampered = tampered_dir.path().join(format!("lbip-{VERSION}.tgz"));
    let mut bytes = std::fs::read(&tgz).unwrap();
    bytes.extend_from_slice(&[0; 16]);
    std::fs::write(&tampered, bytes).unwrap();
    std::fs::copy(
        dist().join(format!("lbip-{VERSION}.tgz.prov")),
        tampered_dir.path().join(format!("lbip-{VERSION}.tgz.prov")),
    )
    .unwrap();
    let bad = install_verified(&fresh, &tampered, pubring);
    assert_ne!(bad.code, 0, "{bad:?}");
    assert!(bad.stderr.contains("sha256"), "{bad:?}");
    assert!(!fresh.plugins_dir().join("lbip").exists());
}

/// The collection installed from its tarball, with ANSIBLE_COLLECTIONS_PATH pointing at it.
struct Installed {
    dir: tempfile::TempDir,
}

impl Installed {
    fn new() -> Installed {
        let dir = tempfile::tempdir().unwrap();
        let tarball = dist().join(format!("lbip-lbip-{VERSION}.tar.gz"));
        let out = run(
            Command::new(tools::ansible("ansible-galaxy"))
                .args(["collection", "install"])
                .arg(&tarball)
                .arg("-p")
                .arg(dir.path().join("collections"))
                .env("ANSIBLE_HOME", dir.path().join("ansible-home")),
            None,
        );
        assert_eq!(out.code, 0, "{out:?}");
        Installed { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir
            .path()
            .join("collections/ansible_collections/lbip/lbip")
    }

    fn command(&self, tool: &str) -> Command {
        let mut cmd = Command::new(tools::ansible(tool));
        cmd.current_dir(self.dir.path())
            .env(
                "ANSIBLE_COLLECTIONS_PATH",
                self.dir.path().join("collections"),
            )
            .env("ANSIBLE_HOME", self.dir.path().join("ansible-home"))
            .env("ANSIBLE_NOCOLOR", "1")
            .env_remove("ANSIBLE_LIBRARY");
        cmd
    }
}

#[test]
fn the_ansible_collection_installs_documents_itself_and_runs() {
    let c = Installed::new();
    let root = c.root();
    for file in [
        "galaxy.yml",
        "MANIFEST.json",
        "LICENSE",
        "README.md",
        "meta/runtime.yml",
        "plugins/modules/lbip",
        "plugins/modules/lbip.yml",
        "roles/lbip/tasks/main.yml",
        "roles/lbip/files/lbip.yml",
    ] {
        let p = root.join(file);
        assert!(
            p.exists() || (file == "galaxy.yml" && root.join("MANIFEST.json").exists()),
            "{file} missing"
        );
    }
    assert!(!root.join("site.yml").exists() && !root.join("library").exists());
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("MANIFEST.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["collection_info"]["version"], VERSION);
    assert_eq!(manifest["collection_info"]["license"][0], "Apache-2.0");

    let doc = run(c.command("ansible-doc").arg("lbip.lbip.lbip"), None).ok();
    assert!(doc.stdout.contains("lbip.lbip.lbip"), "{doc:?}");
    for option in ["registry", "state", "fail_on_drift", "unpinned"] {
        assert!(doc.stdout.contains(option), "{option}: {doc:?}");
    }

    // The module by its full name, and the role from the collection.
    std::fs::copy(
        Path::new(REPO).join("examples/registry.yaml"),
        c.dir.path().join("lbip.yaml"),
    )
    .unwrap();
    std::fs::write(
        c.dir.path().join("site.yml"),
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n  tasks:\n\
         \x20   - name: facts\n      lbip.lbip.lbip: {registry: \"{{ playbook_dir }}/lbip.yaml\", state: facts}\n\
         \x20   - name: role\n      ansible.builtin.include_role: {name: lbip.lbip.lbip}\n\
         \x20     vars: {lbip_registry: \"{{ playbook_dir }}/lbip.yaml\", lbip_actions: [lint, facts]}\n\
         \x20   - name: use\n      ansible.builtin.debug: {msg: \"mlflow={{ mlflow_loadbalancer_ip }}\"}\n",
    )
    .unwrap();
    let python = Path::new(REPO).join(".venv/bin/python3");
    let mut play = c.command("ansible-playbook");
    play.args(["-i", "localhost,", "site.yml"]);
    if python.is_file() {
        play.arg("-e")
            .arg(format!("ansible_python_interpreter={}", python.display()));
    }
    let out = run(&mut play, None);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("\"msg\": \"mlflow=192.168.1.215\""),
        "{out:?}"
    );
    assert!(out.stdout.contains("failed=0"), "{out:?}");
}

/// The Python the ansible tools run on, as `X.Y` for `ansible-test --python`.
fn ansible_python_version() -> String {
    let galaxy = tools::ansible("ansible-galaxy");
    let python = galaxy.parent().unwrap().join("python3");
    let out = run(
        Command::new(&python).args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"]),
        None,
    )
    .ok();
    out.stdout.trim().to_string()
}

/// ansible-test's pip bootstrap downloads get-pip.py from ci-files.testing.ansible.com, which
/// CI cannot reach (only package registries). Its documented way out is a script saved to
/// `~/.ansible/test/cache/get_pip_<version>.py`; this one bootstraps the pip bundled with
/// Python (ensurepip) and installs what ansible-test asks for from PyPI.
const GET_PIP: &str = "import ensurepip, os, subprocess, sys\n\
ensurepip.bootstrap(upgrade=True, default_pip=True)\n\
os.environ.pop('PIP_CONFIG_FILE', None)  # ensurepip points it at os.devnull\n\
args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]\n\
sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install', *args]))\n";

#[test]
fn ansible_test_sanity_passes_on_the_collection() {
    let c = Installed::new();
    // A home for ansible-test that persists across runs (its virtualenvs are the slow part).
    let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ansible-test-home");
    let cache = home.join(".ansible/test/cache");
    std::fs::create_dir_all(&cache).unwrap();
    for pip_version in ["24_2", "25_1", "25_3"] {
        std::fs::write(cache.join(format!("get_pip_{pip_version}.py")), GET_PIP).unwrap();
    }
    // ansible-test runs pip with a clean environment: carry the caller's pip settings
    // (a proxy's CA bundle, a mirror) over as the pip config file of that home.
    let pip_conf: String = std::env::vars()
        .filter_map(|(k, v)| {
            let key = k.strip_prefix("PIP_")?;
            matches!(
                key,
                "CERT" | "INDEX_URL" | "EXTRA_INDEX_URL" | "TRUSTED_HOST" | "PROXY"
            )
            .then(|| format!("{} = {v}\n", key.to_lowercase().replace('_', "-")))
        })
        .collect();
    let pip_dir = home.join(".config/pip");
    std::fs::create_dir_all(&pip_dir).unwrap();
    std::fs::write(pip_dir.join("pip.conf"), format!("[global]\n{pip_conf}")).unwrap();

    let mut cmd = Command::new(tools::ansible("ansible-test"));
    cmd.args(["sanity", "--python", &ansible_python_version(), "-v"])
        .current_dir(c.root())
        .env("HOME", &home)
        .env_remove("ANSIBLE_HOME");
    let out = run(&mut cmd, None);
    assert_eq!(out.code, 0, "ansible-test sanity failed: {out:?}");
    // What ran against real targets (the rest report "No tests applicable": there is no
    // Python in the collection). validate-modules checks the module's documentation sidecar.
    for test in [
        "validate-modules",
        "yamllint",
        "runtime-metadata",
        "symlinks",
        "shebang",
    ] {
        let ran = format!("Running sanity test \"{test}\"");
        let section = out
            .stdout
            .split(&ran)
            .nth(1)
            .unwrap_or_else(|| panic!("{test} did not run: {out:?}"));
        let next = section.split("Running sanity test").next().unwrap();
        assert!(
            !next.contains("No tests applicable"),
            "{test} had nothing to check: {out:?}"
        );
    }
}

#[test]
fn the_release_workflow_builds_every_platform_and_packages_with_the_tested_script() {
    let text =
        std::fs::read_to_string(Path::new(REPO).join(".github/workflows/release.yml")).unwrap();
    let wf: Value = serde_saphyr::from_str(&text).unwrap();
    let mut targets: Vec<&str> = wf["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["target"].as_str().unwrap())
        .collect();
    targets.sort();
    assert_eq!(
        targets,
        [
            "aarch64-apple-darwin",
            "aarch64-unknown-linux-musl",
            "x86_64-apple-darwin",
            "x86_64-unknown-linux-musl"
        ],
        "the platforms .krew.yaml and plugin.yaml name"
    );
    let steps = wf["jobs"]["package"]["steps"].as_array().unwrap();
    let package = steps
        .iter()
        .find(|s| s["name"] == "Package")
        .expect("a Package step");
    assert!(
        package["run"]
            .as_str()
            .unwrap()
            .contains("scripts/package.sh")
    );
    assert_eq!(package["env"]["LBIP_BIN_DIR"], "bin");
    // Helm 4 packages the plugin, at the version the tests run.
    let setup = steps
        .iter()
        .find(|s| s["uses"] == "azure/setup-helm@v4")
        .unwrap();
    let helm4 = run(
        Command::new(tools::helm4()).args(["version", "--short"]),
        None,
    )
    .ok();
    assert!(
        helm4
            .stdout
            .starts_with(setup["with"]["version"].as_str().unwrap()),
        "workflow Helm {} vs tested {}",
        setup["with"]["version"],
        helm4.stdout
    );
}
