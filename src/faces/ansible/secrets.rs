//! A last line of defence: no secret from the kubeconfig in the module's output.
//!
//! The cluster core's messages carry no token or key of their own, but a message may quote
//! what something else said: a kubeconfig that is not valid YAML comes back as a parser error
//! that quotes the lines around the problem, token included. Ansible shows a module's result
//! in its output and logs, and it cannot censor a binary module's result (`no_log` works on
//! arguments, not on what we print), so the module removes every secret value of the
//! kubeconfig it used from its result before printing it.

use super::args::ModuleArgs;
use serde_json::Value;
use std::path::PathBuf;

/// What replaces a secret in the output.
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

/// The kubeconfig files the task may have used: `kubeconfig`, else `$KUBECONFIG` (a path
/// list), else `~/.kube/config`.
fn kubeconfig_paths(args: &ModuleArgs) -> Vec<PathBuf> {
    if let Some(p) = &args.kubeconfig {
        return vec![p.clone()];
    }
    if let Some(list) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        return std::env::split_paths(&list).collect();
    }
    std::env::var_os("HOME")
        .map(|h| vec![PathBuf::from(h).join(".kube/config")])
        .unwrap_or_default()
}

/// Every secret value in the kubeconfig files the task may have used.
pub fn kubeconfig_secrets(args: &ModuleArgs) -> Vec<String> {
    let mut out: Vec<String> = kubeconfig_paths(args)
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

/// Replaces every secret in every string of `value`.
pub fn redact(value: &mut Value, secrets: &[String]) {
    match value {
        Value::String(s) => {
            for secret in secrets {
                if s.contains(secret.as_str()) {
                    *s = s.replace(secret.as_str(), REDACTED);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact(v, secrets)),
        Value::Object(map) => map.values_mut().for_each(|v| redact(v, secrets)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
    fn redaction_reaches_every_string() {
        let mut v = json!({"msg": "line 6: token: abcdef123456", "findings": [{"message": "x abcdef123456"}], "n": 1});
        redact(&mut v, &["abcdef123456".to_string()]);
        assert_eq!(
            v,
            json!({"msg": "line 6: token: [REDACTED]", "findings": [{"message": "x [REDACTED]"}], "n": 1})
        );
    }
}
