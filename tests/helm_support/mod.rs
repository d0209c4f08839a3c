//! Real Helm 3 and Helm 4 for the tests: each [`Helm`] has its own config, data and cache
//! directories (so no test sees the user's plugins, repositories or kubeconfig, and none
//! writes into their home), runs one Helm major version, and can install lbip the way users
//! do: the binary as a Helm 3 `--post-renderer`, the plugin tarball built by
//! scripts/package-helm-plugin.sh for Helm 4.
#![allow(dead_code)]

use crate::tools;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

pub use tools::REPO;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Major {
    Three,
    Four,
}

impl Major {
    pub const BOTH: [Major; 2] = [Major::Three, Major::Four];

    /// `helm3` / `helm4`: how files and messages name the version.
    pub fn label(self) -> &'static str {
        match self {
            Major::Three => "helm3",
            Major::Four => "helm4",
        }
    }

    pub fn bin(self) -> PathBuf {
        match self {
            Major::Three => tools::helm3(),
            Major::Four => tools::helm4(),
        }
    }
}

/// What a command printed and how it exited.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "{self:?}");
        self
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

pub fn run(cmd: &mut Command, stdin: Option<&str>) -> Run {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// One Helm major version with a home of its own.
pub struct Helm {
    pub major: Major,
    bin: PathBuf,
    home: tempfile::TempDir,
    kubeconfig: Option<PathBuf>,
}

impl Helm {
    pub fn new(major: Major) -> Helm {
        Helm {
            major,
            bin: major.bin(),
            home: tempfile::tempdir().unwrap(),
            kubeconfig: None,
        }
    }

    /// Talks to this cluster (else to none: KUBECONFIG points at a missing file).
    pub fn with_kubeconfig(mut self, path: &Path) -> Helm {
        self.kubeconfig = Some(path.to_path_buf());
        self
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Where lbip writes its post-render log under this Helm (`$LBIP_LOG`).
    pub fn lbip_log(&self) -> PathBuf {
        self.home().join("lbip-post-render.log")
    }

    pub fn plugins_dir(&self) -> PathBuf {
        self.home().join("data/plugins")
    }

    /// `helm ...` with this home, in the repository root (README's commands use repository
    /// paths), and none of the caller's Helm or lbip settings.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        let h = self.home();
        cmd.current_dir(REPO)
            .env("HELM_CACHE_HOME", h.join("cache"))
            .env("HELM_CONFIG_HOME", h.join("config"))
            .env("HELM_DATA_HOME", h.join("data"))
            .env("LBIP_LOG", self.lbip_log())
            .env(
                "KUBECONFIG",
                self.kubeconfig
                    .clone()
                    .unwrap_or_else(|| h.join("no-kubeconfig")),
            );
        for var in [
            "HELM_NAMESPACE",
            "HELM_KUBECONTEXT",
            "HELM_PLUGINS",
            "HELM_DEBUG",
            "HELM_DRIVER",
            "LBIP_REGISTRY",
            "XDG_STATE_HOME",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        run(self.command().args(args), None)
    }

    /// Installs lbip's Helm 4 plugin from the tarball scripts/package-helm-plugin.sh builds,
    /// as README says: `helm plugin install dist/lbip-<version>.tgz --verify=false`.
    pub fn install_lbip_plugin(&self) {
        assert_eq!(self.major, Major::Four, "Helm 3 cannot load a v1 plugin");
        let tgz = lbip_plugin_tarball();
        self.run(&["plugin", "install", tgz.to_str().unwrap(), "--verify=false"])
            .ok();
    }

    /// A post-renderer that copies what Helm gives it to `$LBIP_CAPTURE` and passes it on
    /// unchanged: the way to see the exact stream a post-renderer receives. Returns the
    /// `--post-renderer` value (a path for Helm 3, a plugin name for Helm 4).
    pub fn install_capture(&self) -> String {
        let script = "#!/bin/sh\nexec tee \"$LBIP_CAPTURE\"\n";
        match self.major {
            Major::Three => {
                let path = self.home().join("capture.sh");
                write_executable(&path, script);
                path.display().to_string()
            }
            Major::Four => {
                let dir = self.plugins_dir().join("capture");
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(
                    dir.join("plugin.yaml"),
                    "apiVersion: v1\ntype: postrenderer/v1\nname: capture\nversion: 0.1.0\n\
                     runtime: subprocess\nruntimeConfig:\n  platformCommand:\n    \
                     - command: \"${HELM_PLUGIN_DIR}/capture.sh\"\n",
                )
                .unwrap();
                write_executable(&dir.join("capture.sh"), script);
                "capture".to_string()
            }
        }
    }

    /// The stream Helm hands a post-renderer for `helm template <args>`.
    pub fn post_renderer_input(&self, template_args: &[&str]) -> String {
        let renderer = self.install_capture();
        let out = self.home().join("captured.yaml");
        let _ = std::fs::remove_file(&out);
        let mut cmd = self.command();
        cmd.arg("template")
            .args(template_args)
            .args(["--post-renderer", &renderer])
            .env("LBIP_CAPTURE", &out);
        run(&mut cmd, None).ok();
        std::fs::read_to_string(&out).unwrap()
    }
}

pub fn write_executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The plugin tarball, built once per test binary by the packaging script from a stripped
/// copy of the binary under test (no release build inside the tests).
pub fn lbip_plugin_tarball() -> PathBuf {
    static TARBALL: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = TARBALL.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let bin = tools::small_lbip(dir.path());
        let out = run(
            Command::new(Path::new(REPO).join("scripts/package-helm-plugin.sh"))
                .env("HELM", tools::helm4())
                .env("LBIP_BIN", &bin)
                .env("LBIP_DIST", dir.path().join("dist"))
                .env("HELM_CONFIG_HOME", dir.path().join("helm-config"))
                .env("HELM_DATA_HOME", dir.path().join("helm-data"))
                .env("HELM_CACHE_HOME", dir.path().join("helm-cache")),
            None,
        )
        .ok();
        let path = PathBuf::from(out.stdout.trim());
        assert!(path.is_file(), "{out:?}");
        (dir, path)
    });
    path.clone()
}

/// Splits a README command line into words: `\`-newline continuations joined, single and
/// double quotes honoured, `$VAR`/`$(...)` refused (the tests run lines without a shell).
pub fn shell_words(line: &str) -> Vec<String> {
    let line = line.replace("\\\n", " ");
    assert!(
        !line.contains('$'),
        "shell expansion in a README line the test runs without a shell: {line}"
    );
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '#') if !in_word => break,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// The example charts: directory, release name and namespace, as README installs them.
pub struct Chart {
    pub dir: &'static str,
    pub release: &'static str,
    pub namespace: &'static str,
}

pub const CHARTS: [Chart; 5] = [
    Chart {
        dir: "mlflow",
        release: "mlflow",
        namespace: "mlflow",
    },
    Chart {
        dir: "minio",
        release: "minio",
        namespace: "minio",
    },
    Chart {
        dir: "seldon-core-v2",
        release: "seldon-core-v2",
        namespace: "seldon-system",
    },
    Chart {
        dir: "argo-workflows",
        release: "argo-workflows",
        namespace: "argowf",
    },
    Chart {
        dir: "hello",
        release: "hello",
        namespace: "hello",
    },
];

impl Chart {
    pub fn path(&self) -> String {
        format!("examples/charts/{}", self.dir)
    }

    /// `<release> examples/charts/<dir> -n <namespace>`.
    pub fn args(&self) -> [String; 4] {
        [
            self.release.to_string(),
            self.path(),
            "-n".to_string(),
            self.namespace.to_string(),
        ]
    }
}

/// Compares with a golden file; `LBIP_BLESS=1` rewrites it instead (then review the diff).
pub fn golden(rel: &str, actual: &str) {
    let path = Path::new(REPO).join(rel);
    if std::env::var_os("LBIP_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing golden {rel}; run with LBIP_BLESS=1"));
    assert!(
        actual == expected,
        "{rel} differs from what real Helm produced now; if the change is intended, rerun \
         with LBIP_BLESS=1 and review the diff\n--- actual\n{actual}"
    );
}
