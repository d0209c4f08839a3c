//! Every secret form a kubeconfig can hold stays out of lbip's messages, end to end: the
//! kubeconfigs below make kube-rs's own error quote the secret (an exec credential plugin's
//! command with its environment, an auth-provider command line, a server URL with
//! credentials), and lbip must print the error with `[REDACTED]` in its place.

mod kubectl_support;

use kubectl_support::*;
use std::path::Path;
use std::process::Command;

fn status_with(kubeconfig: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, kubeconfig).unwrap();
    run(&path)
}

fn run(path: &Path) -> Run {
    let out = Command::new(lbip_bin())
        .args([
            "cluster",
            "status",
            "--request-timeout",
            "5s",
            "--kubeconfig",
        ])
        .arg(path)
        .arg("-r")
        .arg(example_registry())
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    Run::from(out)
}

fn assert_redacted(r: &Run, secrets: &[&str]) {
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("[REDACTED]"), "{r:?}");
    for s in secrets {
        assert!(
            !r.stderr.contains(s) && !r.stdout.contains(s),
            "{s} leaked: {r:?}"
        );
    }
}

/// A kubeconfig whose user is `user_yaml` (indented under `user:`), on a dead server.
fn kubeconfig_with_user(server: &str, user_yaml: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: \"{server}\"\nusers:\n- name: u\n  user:\n{user_yaml}contexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\n"
    )
}

/// An exec plugin that fails without printing anything: kube-rs's error then quotes the
/// command line with its environment.
fn exec_user(env_yaml: &str) -> String {
    format!(
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: sh\n      args: [\"-c\", \"exit 1\"]\n      interactiveMode: Never\n      env:\n{env_yaml}"
    )
}

#[test]
fn exec_env_values_plain_flow_and_block_scalars_are_redacted() {
    let cases = [
        (
            "      - name: API_KEY\n        value: exec-env-secret-123\n",
            vec!["exec-env-secret-123"],
        ),
        (
            "      - {name: AWS_SECRET_ACCESS_KEY, value: 'flow-env-secret-456'}\n",
            vec!["flow-env-secret-456"],
        ),
        (
            "      - name: MULTI\n        value: |\n          literal-line-one\n          literal-line-two\n",
            vec!["literal-line-one", "literal-line-two"],
        ),
        (
            "      - name: FOLDED\n        value: >-\n          folded-part-one\n          folded-part-two\n",
            vec!["folded-part-one", "folded-part-two"],
        ),
    ];
    for (env, secrets) in cases {
        let kc = kubeconfig_with_user("https://127.0.0.1:1", &exec_user(env));
        let r = status_with(&kc);
        // The command is named (what failed), its secret values are not.
        assert!(r.stderr.contains("auth exec command"), "{r:?}");
        assert_redacted(&r, &secrets);
    }
}

#[test]
fn auth_provider_config_values_are_redacted_whatever_their_key() {
    // The gcp provider runs `cmd-path cmd-args` and quotes it when it fails.
    let user = "    auth-provider:\n      name: gcp\n      config:\n        cmd-path: sh\n        cmd-args: >-\n          -c 'exit 3'\n          provider-arg-secret-789\n        token-key: '{.credential.access_token}'\n";
    let r = status_with(&kubeconfig_with_user("https://127.0.0.1:1", user));
    assert_redacted(&r, &["provider-arg-secret-789"]);
    // The command's own error output quotes a piece of the value: redacted too.
    let user = "    auth-provider:\n      name: gcp\n      config:\n        cmd-path: sh\n        cmd-args: \"-c 'echo quoted-provider-secret\"\n";
    let r = status_with(&kubeconfig_with_user("https://127.0.0.1:1", user));
    assert!(r.stderr.contains("Unterminated quoted string"), "{r:?}");
    assert_redacted(&r, &["quoted-provider-secret"]);
}

#[test]
fn credentials_in_the_server_url_are_masked() {
    let r = status_with(&kubeconfig_with_user(
        "https://admin:url-password-9@127.0.0.1:1/?token=url-token-77",
        "    username: admin\n",
    ));
    assert!(
        r.stderr.contains(
            "cannot reach the Kubernetes API server https://admin:[REDACTED]@127.0.0.1:1/?token=[REDACTED]"
        ),
        "{r:?}"
    );
    assert_redacted(&r, &["url-password-9", "url-token-77"]);
}

#[test]
fn a_broken_kubeconfig_with_block_scalar_secrets_leaks_nothing() {
    // Not YAML after the secrets: the parser's message must not bring them along.
    let kc = "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    token: |\n      block-token-secret-1\n    password: >-\n      folded-password-secret\n    client-key-data: [unclosed\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, kc).unwrap();
    let r = run(&path);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("failed to parse kubeconfig YAML"),
        "{r:?}"
    );
    for s in ["block-token-secret-1", "folded-password-secret", "unclosed"] {
        assert!(!r.stderr.contains(s), "{s}: {r:?}");
    }
}
