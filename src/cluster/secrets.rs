//! Secrets in kubeconfig files, so that no message lbip prints can carry one.
//!
//! lbip's own messages never include a token or key, but they may quote what another
//! library said: a kubeconfig that is not valid YAML comes back as a parser error that quotes
//! the lines around the problem, token included. [`redact_kubeconfig_secrets`] removes every
//! secret value of the kubeconfig files in play from such a message.

use std::path::{Path, PathBuf};

/// What replaces a secret in output.
pub const REDACTED: &str = "[REDACTED]";

/// Kubeconfig keys whose values are secrets (user entries, auth-provider and exec configs).
const SECRET_KEYS: [&str; 7] = [
    "token",
    "id-token",
    "refresh-token",
    "access-token",
    "client-secret",
    "client-key-data",
    "password",
];

/// Shorter values are not treated as secrets, so that redaction cannot garble ordinary
/// words of a message.
const MIN_SECRET_LEN: usize = 6;

/// The kubeconfig files a connection may read: `--kubeconfig`, else `$KUBECONFIG` (a path
/// list), else `~/.kube/config` (the same order as kubectl).
pub fn kubeconfig_paths(flag: Option<&Path>) -> Vec<PathBuf> {
    if let Some(p) = flag {
        return vec![p.to_path_buf()];
    }
    if let Some(list) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        return std::env::split_paths(&list).collect();
    }
    std::env::var_os("HOME")
        .map(|h| vec![PathBuf::from(h).join(".kube/config")])
        .unwrap_or_default()
}

/// Every secret value in the kubeconfig files a connection may read.
pub fn kubeconfig_secrets(flag: Option<&Path>) -> Vec<String> {
    let mut out: Vec<String> = kubeconfig_paths(flag)
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|text| secrets_in(&text))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Secret values in kubeconfig text, found line by line so that a file that is not valid
/// YAML (the case that leaks) is still understood: `key: value`, `- key: value` and
/// `{key: value, ...}` flow mappings.
pub fn secrets_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        for part in line.split([',', '{', '}']) {
            let part = part.trim().trim_start_matches("- ").trim();
            let Some((key, value)) = part.split_once(':') else {
                continue;
            };
            let key = key.trim().trim_matches(['"', '\'']);
            if !SECRET_KEYS.contains(&key) {
                continue;
            }
            let value = value.trim().trim_matches(['"', '\'']).trim();
            if value.len() >= MIN_SECRET_LEN {
                out.push(value.to_string());
            }
        }
    }
    out
}

/// Replaces every secret in `text`.
pub fn redact_text(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for secret in secrets {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), REDACTED);
        }
    }
    out
}

/// Removes the secrets of the kubeconfig files in play from a message.
pub fn redact_kubeconfig_secrets(message: &str, flag: Option<&Path>) -> String {
    redact_text(message, &kubeconfig_secrets(flag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_found_in_block_flow_and_broken_yaml() {
        let text = "\
users:
- name: admin
  user:
    token: abcdef123456
    client-key-data: \"LS0tLS1CRUdJTi\"
- name: flow
  user: {token: 'flowtoken99', username: admin}
- name: oidc
  user:
    auth-provider:
      config:
        id-token: eyJhbGciOi
        client-id: kubernetes
    password: [unclosed
";
        assert_eq!(
            secrets_in(text),
            vec![
                "abcdef123456",
                "LS0tLS1CRUdJTi",
                "flowtoken99",
                "eyJhbGciOi",
                "[unclosed"
            ]
        );
    }

    #[test]
    fn text_redaction_replaces_every_occurrence() {
        assert_eq!(
            redact_text(
                "token: abcdef123456 and abcdef123456",
                &["abcdef123456".into()]
            ),
            "token: [REDACTED] and [REDACTED]"
        );
    }
}
