//! Findings: the one problem type every face reports.
//!
//! Lint, post-render, the kubectl plugin and the Ansible module all describe problems as
//! [`Finding`]s and only differ in how they render them, so the same defect gets the same
//! words everywhere ("every face agrees"). `code` is a stable kebab-case identifier that
//! scripts can match on; `message` is the sentence a person reads.

use serde::Serialize;
use std::fmt;

/// How bad a finding is. `Error` makes a command fail; `Warning` never does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

/// One problem (or note) about the registry, a manifest or the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// Stable identifier, e.g. `ip-outside-pool`.
    pub code: &'static str,
    pub message: String,
    /// 1-based line in the file the finding is about (registry or manifest), when known.
    pub line: Option<u32>,
    /// 1-based column, when known.
    pub column: Option<u32>,
    /// The registry id the finding belongs to, when it belongs to one entry.
    pub id: Option<String>,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Finding {
    pub fn new(severity: Severity, code: &'static str, message: impl Into<String>) -> Self {
        Finding {
            severity,
            code,
            message: message.into(),
            line: None,
            column: None,
            id: None,
            hint: None,
        }
    }
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, message)
    }
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, code, message)
    }
    pub fn info(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Severity::Info, code, message)
    }
    /// Places the finding at a 1-based line and column.
    pub fn at(mut self, line: u32, column: u32) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }
    pub fn for_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// True when any finding is an error.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(Finding::is_error)
}

/// Renders findings like a compiler: `path:line:col: error: message`, then the source line
/// with a caret under the column, then `= help: hint`. `source` is the file's text, used to
/// quote the offending line; `path` is how the file is named in the output.
pub fn render_human(findings: &[Finding], path: &str, source: Option<&str>) -> String {
    let lines: Vec<&str> = source.map(|s| s.lines().collect()).unwrap_or_default();
    let mut out = String::new();
    for f in findings {
        match (f.line, f.column) {
            (Some(l), Some(c)) => out.push_str(&format!("{path}:{l}:{c}: ")),
            _ => out.push_str(&format!("{path}: ")),
        }
        out.push_str(&format!("{}: {}", f.severity, f.message));
        out.push_str(&format!(" [{}]\n", f.code));
        if let (Some(l), Some(c)) = (f.line, f.column)
            && let Some(text) = lines.get(l as usize - 1)
        {
            let gutter = l.to_string();
            let pad = " ".repeat(gutter.len());
            out.push_str(&format!("{pad} |\n{gutter} | {text}\n"));
            let caret_pad: String = text
                .chars()
                .take(c.saturating_sub(1) as usize)
                .map(|ch| if ch == '\t' { '\t' } else { ' ' })
                .collect();
            out.push_str(&format!("{pad} | {caret_pad}^\n"));
        }
        if let Some(h) = &f.hint {
            out.push_str(&format!("  = help: {h}\n"));
        }
    }
    out
}

/// One line per finding, for places where quoting the source makes no sense
/// (post-render warnings, Ansible messages): `warning: message (hint)`.
pub fn render_line(f: &Finding) -> String {
    match &f.hint {
        Some(h) => format!("{}: {} ({})", f.severity, f.message, h),
        None => format!("{}: {}", f.severity, f.message),
    }
}

/// Suggests the candidate closest to `word` (for "did you mean" hints), if one is close.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (levenshtein(&lower, &c.to_ascii_lowercase()), *c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j + 1] + 1).min(cur[j] + 1).min(prev[j] + cost));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_rendering_quotes_the_line_and_points_at_the_column() {
        let f = Finding::error("bad-ip", "`192.168.1.300` is not an IP address")
            .at(2, 9)
            .hint("write an IPv4 or IPv6 address");
        let out = render_human(&[f], "reg.yaml", Some("a:\n    ip: 192.168.1.300\n"));
        assert!(
            out.starts_with("reg.yaml:2:9: error: `192.168.1.300` is not an IP address [bad-ip]\n")
        );
        assert!(out.contains("2 |     ip: 192.168.1.300\n"));
        assert!(out.contains("  |         ^\n"), "{out}");
        assert!(out.contains("= help: write an IPv4"));
    }

    #[test]
    fn did_you_mean_finds_close_keys_only() {
        let keys = ["namespace", "name", "hostname", "sharedKey"];
        assert_eq!(did_you_mean("namespce", &keys), Some("namespace"));
        assert_eq!(did_you_mean("hostnam", &keys), Some("hostname"));
        assert_eq!(did_you_mean("zzzzzzzz", &keys), None);
    }
}
