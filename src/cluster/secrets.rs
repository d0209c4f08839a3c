//! Secrets in kubeconfig files, so that no message lbip prints can carry one.
//!
//! lbip's own messages never include a token or key, but they may quote what another
//! library said: kube-rs's error for a failing exec credential plugin prints the command with
//! its environment (`API_KEY="..."`), an `auth-provider` command error prints its arguments, a
//! server URL may hold `user:password@` or `?token=`, and a kubeconfig that is not valid YAML
//! can come back as a parser error quoting its lines. [`redact_kubeconfig_secrets`] and
//! [`redact_text`] remove every secret value of the kubeconfig files in play from such a
//! message, and mask credentials in any URL it contains.
//!
//! What counts as a secret (every form a kubeconfig can hold):
//! - the values of `token`, `id-token`, `refresh-token`, `access-token`, `client-secret`,
//!   `client-key-data`, `password` anywhere, plain, quoted, in flow mappings, or as block
//!   scalars (`token: |`, `token: >-`: each line, and the value as YAML reads it);
//! - every `exec.env[].value` (credential plugins take keys and tokens from there);
//! - every `auth-provider.config` value except the few known public ones (`client-id`,
//!   `idp-issuer-url`, `cmd-path`, ...), so a provider's own secret keys are covered too;
//! - in URLs (`server`, `proxy-url`, anywhere): the password of `https://user:pass@host` and
//!   the values of query parameters named like a credential (`?token=`, `access_token`,
//!   `password`, `secret`, `key`, `sig`...).
//!
//! The file is read line by line, so that a file that is not valid YAML (a case that leaks)
//! is still understood; indentation tells which mapping a key belongs to.

use std::path::{Path, PathBuf};

/// What replaces a secret in output.
pub const REDACTED: &str = "[REDACTED]";

/// Keys whose values are secrets wherever they appear.
const SECRET_KEYS: [&str; 7] = [
    "token",
    "id-token",
    "refresh-token",
    "access-token",
    "client-secret",
    "client-key-data",
    "password",
];

/// `auth-provider.config` keys known to hold nothing secret (every other value is redacted).
const PUBLIC_PROVIDER_KEYS: [&str; 10] = [
    "client-id",
    "idp-issuer-url",
    "idp-certificate-authority",
    "idp-certificate-authority-data",
    "cmd-path",
    "expiry",
    "expiry-key",
    "token-key",
    "scopes",
    "extra-scopes",
];

/// Shorter values are not treated as secrets, so that redaction cannot garble ordinary
/// words of a message. (URL credentials are masked by position, whatever their length.)
const MIN_SECRET_LEN: usize = 6;

/// The kubeconfig files a connection may read: `--kubeconfig`, else `$KUBECONFIG` (a path
/// list), else `~/.kube/config` (the same order as kubectl).
pub fn kubeconfig_paths(flag: Option<&Path>) -> Vec<PathBuf> {
    if let Some(p) = flag {
        return vec![p.to_path_buf()];
    }
    if let Some(list) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        return std::env::split_paths(&list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
    }
    std::env::home_dir()
        .map(|h| vec![h.join(".kube/config")])
        .unwrap_or_default()
}

/// Every secret value in the kubeconfig files a connection may read.
pub fn kubeconfig_secrets(flag: Option<&Path>) -> Vec<String> {
    secrets_of_files(&kubeconfig_paths(flag))
}

/// Every secret value in these files (unreadable ones are skipped), longest first so that a
/// secret containing another is replaced whole.
pub fn secrets_of_files(paths: &[PathBuf]) -> Vec<String> {
    let mut out: Vec<String> = paths
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|text| secrets_in(&text))
        .collect();
    out.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    out.dedup();
    out
}

/// One line of the file, split into its indentation and content (`- ` list markers count as
/// indentation: the item's keys sit after them).
struct Line<'a> {
    indent: usize,
    content: &'a str,
}

fn split_line(raw: &str) -> Line<'_> {
    let mut indent = raw.len() - raw.trim_start_matches(' ').len();
    let mut content = &raw[indent..];
    while let Some(rest) = content
        .strip_prefix("- ")
        .or_else(|| (content == "-").then_some(""))
    {
        let extra = rest.len() - rest.trim_start_matches(' ').len();
        indent += content.len() - rest.len() + extra;
        content = &rest[extra..];
    }
    Line {
        indent,
        content: content.trim_end(),
    }
}

/// `key: rest` (the key unquoted), when the content is a mapping entry.
fn entry(content: &str) -> Option<(&str, &str)> {
    if content.starts_with('#') || content.starts_with('{') || content.starts_with('[') {
        return None;
    }
    let (key, rest) = content
        .split_once(": ")
        .or_else(|| content.strip_suffix(':').map(|k| (k, "")))?;
    Some((key.trim().trim_matches(['"', '\'']), rest.trim()))
}

fn unquote(value: &str) -> &str {
    let v = value.trim();
    let v = v.split(" #").next().unwrap_or(v).trim();
    v.trim_matches(['"', '\'']).trim()
}

/// Whether `key`, inside the mappings `ancestors` (outermost first), holds a secret.
fn is_secret_key(key: &str, ancestors: &[&str]) -> bool {
    let parent = ancestors.last().copied().unwrap_or("");
    SECRET_KEYS.contains(&key)
        || (key == "value" && ancestors.contains(&"env"))
        || (parent == "config"
            && ancestors.contains(&"auth-provider")
            && !PUBLIC_PROVIDER_KEYS.contains(&key))
}

/// Secret values in kubeconfig text (see the module docs), found line by line.
pub fn secrets_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    // (indent, key) of the mappings the current line sits in.
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let raw = lines[i];
        i += 1;
        url_secrets(raw, &mut out);
        let line = split_line(raw);
        if line.content.is_empty() || line.content.starts_with('#') {
            continue;
        }
        while stack
            .last()
            .is_some_and(|(indent, _)| *indent >= line.indent)
        {
            stack.pop();
        }
        let ancestors: Vec<&str> = stack.iter().map(|(_, k)| k.as_str()).collect();
        let Some((key, rest)) = entry(line.content) else {
            flow_secrets(line.content, &ancestors, &mut out);
            continue;
        };
        let secret = is_secret_key(key, &ancestors);
        if rest.starts_with('|') || rest.starts_with('>') {
            // A block scalar: the more-indented lines that follow are its value.
            let mut block = Vec::new();
            while i < lines.len() {
                let next = lines[i];
                let indent = next.len() - next.trim_start().len();
                if !next.trim().is_empty() && indent <= line.indent {
                    break;
                }
                block.push(next.trim());
                i += 1;
            }
            if secret {
                let parts: Vec<&str> = block.into_iter().filter(|l| !l.is_empty()).collect();
                out.extend(parts.iter().map(|p| p.to_string()));
                out.push(parts.join("\n"));
                out.push(parts.join(" "));
            }
            continue;
        }
        if rest.is_empty() {
            stack.push((line.indent, key.to_string()));
            continue;
        }
        if rest.starts_with('{') || rest.starts_with('[') {
            if secret {
                // `password: [unclosed`: whatever follows a secret key is secret.
                out.push(unquote(rest).to_string());
            }
            let mut inner = ancestors.clone();
            inner.push(key);
            flow_secrets(rest, &inner, &mut out);
            continue;
        }
        if secret {
            out.push(unquote(rest).to_string());
        }
    }
    // A value with spaces (an auth-provider's `cmd-args`) may come back in pieces, e.g. in
    // the stderr of the command it is part of: each word is a secret too.
    let words: Vec<String> = out
        .iter()
        .filter(|s| s.contains(char::is_whitespace))
        .flat_map(|s| {
            s.split_whitespace()
                .map(|w| w.trim_matches(['"', '\'']).to_string())
        })
        .collect();
    out.extend(words);
    out.retain(|s| s.chars().count() >= MIN_SECRET_LEN);
    // A message may quote a value with Rust's `{:?}` (kube-rs prints exec commands so).
    let escaped: Vec<String> = out
        .iter()
        .map(|s| s.escape_debug().to_string())
        .filter(|e| !out.contains(e))
        .collect();
    out.extend(escaped);
    out.sort();
    out.dedup();
    out
}

/// `k: v` pairs of flow collections (`{token: x, user: y}`, `[{name: A, value: b}]`), with
/// `ancestors` the mappings the collection sits in.
fn flow_secrets(text: &str, ancestors: &[&str], out: &mut Vec<String>) {
    for part in text.split([',', '{', '}', '[', ']']) {
        let Some((key, value)) = part.split_once(':') else {
            continue;
        };
        let key = key.trim().trim_matches(['"', '\'']);
        if is_secret_key(key, ancestors) {
            out.push(unquote(value).to_string());
        }
    }
}

/// Query parameter names that carry credentials (compared lower-case, as substrings).
const SECRET_PARAMS: [&str; 6] = ["token", "secret", "password", "passwd", "key", "sig"];

/// Credentials in URLs on this line: the password of `scheme://user:password@host` and the
/// values of credential-like query parameters.
fn url_secrets(line: &str, out: &mut Vec<String>) {
    for (_, url) in urls(line) {
        for (range, _) in url_credentials(url) {
            out.push(url[range].to_string());
        }
    }
}

/// Every `scheme://...` substring of `text`, with its start offset.
fn urls(text: &str) -> Vec<(usize, &str)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("://") {
        let sep = from + at;
        let start = text[..sep]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |p| p + 1);
        let end = text[sep..]
            .find(|c: char| {
                c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>' | ')' | ',')
            })
            .map_or(text.len(), |p| sep + p);
        if start < sep {
            found.push((start, &text[start..end]));
        }
        from = end.max(sep + 3);
    }
    found
}

/// Byte ranges (in `url`) of its credentials, each with a description.
fn url_credentials(url: &str) -> Vec<(std::ops::Range<usize>, &'static str)> {
    let mut out = Vec::new();
    let Some(scheme_end) = url.find("://") else {
        return out;
    };
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |p| authority_start + p);
    if let Some(at) = url[authority_start..authority_end].rfind('@') {
        let userinfo = authority_start..authority_start + at;
        match url[userinfo.clone()].find(':') {
            Some(colon) => out.push((userinfo.start + colon + 1..userinfo.end, "password")),
            // `https://TOKEN@host`: a lone userinfo is a credential too.
            None => out.push((userinfo, "user")),
        }
    }
    if let Some(q) = url[authority_end..].find('?') {
        let query_start = authority_end + q + 1;
        let query_end = url[query_start..]
            .find('#')
            .map_or(url.len(), |p| query_start + p);
        let mut at = query_start;
        for pair in url[query_start..query_end].split('&') {
            if let Some((name, _)) = pair.split_once('=') {
                let lower = name.to_ascii_lowercase();
                if SECRET_PARAMS.iter().any(|p| lower.contains(p)) {
                    out.push((at + name.len() + 1..at + pair.len(), "query"));
                }
            }
            at += pair.len() + 1;
        }
    }
    out.retain(|(r, _)| !r.is_empty());
    out
}

/// Masks URL credentials in `text` (any URL, kubeconfig or not).
fn mask_urls(text: &str) -> String {
    let mut ranges: Vec<std::ops::Range<usize>> = urls(text)
        .into_iter()
        .flat_map(|(start, url)| {
            url_credentials(url)
                .into_iter()
                .map(move |(r, _)| start + r.start..start + r.end)
        })
        .collect();
    if ranges.is_empty() {
        return text.to_string();
    }
    ranges.sort_by_key(|r| r.start);
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for r in ranges {
        if r.start < last {
            continue;
        }
        out.push_str(&text[last..r.start]);
        out.push_str(REDACTED);
        last = r.end;
    }
    out.push_str(&text[last..]);
    out
}

/// Replaces every secret in `text`, and masks credentials in the URLs it contains.
pub fn redact_text(text: &str, secrets: &[String]) -> String {
    let mut out = mask_urls(text);
    let mut secrets: Vec<&String> = secrets.iter().collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets {
        if !secret.is_empty() && out.contains(secret.as_str()) {
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

    fn found(text: &str) -> Vec<String> {
        let mut v = secrets_in(text);
        v.retain(|s| !s.contains('\\'));
        v
    }

    #[test]
    fn plain_quoted_flow_and_broken_values_are_found() {
        let text = "\
users:
- name: admin
  user:
    token: abcdef123456
    client-key-data: \"LS0tLS1CRUdJTi\"
    client-certificate-data: LS0tcertificate
    username: admin-user
- name: flow
  user: {token: 'flowtoken99', username: admin}
- name: basic
  user:
    password: [unclosed
";
        assert_eq!(
            found(text),
            ["LS0tLS1CRUdJTi", "[unclosed", "abcdef123456", "flowtoken99"]
        );
    }

    #[test]
    fn block_scalars_give_each_line_and_the_value() {
        let text = "\
users:
- name: literal
  user:
    token: |
      first-line-secret
      second-line-secret
    username: someone-public
- name: folded
  user:
    password: >-
      folded-secret-one
      folded-secret-two
";
        let s = found(text);
        for want in [
            "first-line-secret",
            "second-line-secret",
            "first-line-secret\nsecond-line-secret",
            "folded-secret-one folded-secret-two",
        ] {
            assert!(s.contains(&want.to_string()), "{want}: {s:?}");
        }
        assert!(!s.iter().any(|x| x.contains("someone-public")), "{s:?}");
    }

    #[test]
    fn exec_env_values_and_auth_provider_config_values_are_secrets() {
        let text = "\
users:
- name: eks
  user:
    exec:
      command: aws
      args: [eks, get-token]
      env:
      - name: AWS_PROFILE
        value: production-profile
      - {name: AWS_SECRET_ACCESS_KEY, value: wJalrXUtnFEMI}
- name: oidc
  user:
    auth-provider:
      name: oidc
      config:
        client-id: kubernetes-public
        idp-issuer-url: https://issuer.example
        id-token: eyJhbGciOi
        custom-api-key: provider-own-secret
        cmd-args: >-
          --secret=folded-arg-secret
";
        let s = found(text);
        for want in [
            "production-profile",
            "wJalrXUtnFEMI",
            "eyJhbGciOi",
            "provider-own-secret",
            "--secret=folded-arg-secret",
        ] {
            assert!(s.contains(&want.to_string()), "{want}: {s:?}");
        }
        for public in [
            "AWS_PROFILE",
            "kubernetes-public",
            "https://issuer.example",
            "aws",
        ] {
            assert!(!s.contains(&public.to_string()), "{public}: {s:?}");
        }
    }

    #[test]
    fn url_credentials_are_found_and_masked_in_any_message() {
        let text = "clusters:\n- cluster:\n    server: https://admin:hunter2@10.0.0.1:6443/?token=qwerty&x=1\n    proxy-url: http://proxyuser:proxypass@proxy:3128\n";
        let s = found(text);
        assert!(s.contains(&"qwerty".to_string()), "{s:?}");
        let msg = "cannot reach https://admin:hunter2@10.0.0.1:6443/?token=qwerty&x=1 (via http://proxyuser:proxypass@proxy:3128) or https://abc@h/x?access_token=zz";
        assert_eq!(
            redact_text(msg, &[]),
            "cannot reach https://admin:[REDACTED]@10.0.0.1:6443/?token=[REDACTED]&x=1 (via http://proxyuser:[REDACTED]@proxy:3128) or https://[REDACTED]@h/x?access_token=[REDACTED]"
        );
        // No credentials: the URL is left as it is.
        assert_eq!(
            redact_text("https://127.0.0.1:6443/api?timeout=1s", &[]),
            "https://127.0.0.1:6443/api?timeout=1s"
        );
    }

    #[test]
    fn text_redaction_replaces_every_occurrence_and_debug_escaped_forms() {
        assert_eq!(
            redact_text(
                "token: abcdef123456 and abcdef123456",
                &["abcdef123456".into()]
            ),
            "token: [REDACTED] and [REDACTED]"
        );
        let s = secrets_in(
            "users:\n- user:\n    token: |\n      line-one-secret\n      line-two-secret\n",
        );
        let msg = format!("{:?}", "line-one-secret\nline-two-secret\n");
        assert_eq!(redact_text(&msg, &s), "\"[REDACTED]\\n\"");
    }
}
