//! The one JSON object the module prints: Ansible's result keys plus lbip's structured data.
//!
//! `changed`, `failed`, `msg`, `warnings`, `diff` and `ansible_facts` mean what they mean for
//! every Ansible module. `findings` are the same [`Finding`] objects `lbip lint` and
//! `kubectl lbip` report, so a playbook can `register:` the result and match on `code`.

use crate::diagnostic::{Finding, Severity, render_line};
use serde::Serialize;
use serde_json::{Map, Value};

/// Before/after for `--diff`. Ansible prints it as a unified diff when `changed` is true.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diff {
    pub before: String,
    pub after: String,
    pub before_header: String,
    pub after_header: String,
}

/// The module's result.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ModuleResult {
    pub changed: bool,
    pub failed: bool,
    /// One readable line.
    pub msg: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    pub findings: Vec<Finding>,
    /// The plan's steps (pinned/checked), as structured data.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<Diff>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ansible_facts: Option<Map<String, Value>>,
    /// State-specific keys (`dest`, `drift`, ...), flattened into the result.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Secret values that must not appear in the printed result (see `secrets`).
    #[serde(skip)]
    pub redact: Vec<String>,
}

impl ModuleResult {
    /// A successful result with `msg`.
    pub fn ok(msg: impl Into<String>) -> Self {
        ModuleResult {
            msg: msg.into(),
            ..Default::default()
        }
    }
    /// A failed result with `msg`.
    pub fn fail(msg: impl Into<String>) -> Self {
        ModuleResult {
            failed: true,
            msg: one_line(&msg.into()),
            ..Default::default()
        }
    }
    pub fn with_findings(mut self, findings: Vec<Finding>) -> Self {
        self.warnings.extend(
            findings
                .iter()
                .filter(|f| f.severity == Severity::Warning)
                .map(render_line),
        );
        self.findings.extend(findings);
        self
    }
    pub fn warn(mut self, warning: impl Into<String>) -> Self {
        self.warnings.push(warning.into());
        self
    }
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }
    /// The JSON text printed on stdout.
    pub fn to_json(&self) -> String {
        serde_json::to_value(self)
            .map(|mut v| {
                super::secrets::redact(&mut v, &self.redact);
                v
            })
            .and_then(|v| serde_json::to_string(&v))
            .unwrap_or_else(|e| {
                // Cannot happen with these types; still print a valid failed result.
                format!(
                    r#"{{"failed": true, "msg": {}}}"#,
                    Value::String(format!("lbip could not serialise its result: {e}"))
                )
            })
    }
}

/// Folds a multi-line text into one line (`msg` is shown as one line by Ansible's callbacks).
pub fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_failed_result_has_the_ansible_keys_and_one_line_msg() {
        let r = ModuleResult::fail("cannot read registry r.yaml: No such file\n  = help: pass it");
        let v: Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(
            v,
            json!({"changed": false, "failed": true,
                   "msg": "cannot read registry r.yaml: No such file = help: pass it",
                   "findings": []})
        );
    }

    #[test]
    fn warnings_findings_diff_facts_and_extra_keys_serialise_flat() {
        let finding = Finding::warning("unused-block", "block `x` is never used")
            .at(3, 5)
            .hint("remove it");
        let mut facts = Map::new();
        facts.insert("mlflow_loadbalancer_ip".into(), json!("192.168.1.215"));
        let mut r = ModuleResult::ok("1 service pinned")
            .with_findings(vec![finding])
            .with("dest", "/tmp/out.yaml");
        r.changed = true;
        r.diff = Some(Diff {
            before: "a\n".into(),
            after: "b\n".into(),
            before_header: "before".into(),
            after_header: "after".into(),
        });
        r.ansible_facts = Some(facts);
        let v: Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["changed"], json!(true));
        assert_eq!(v["failed"], json!(false));
        assert_eq!(v["dest"], json!("/tmp/out.yaml"));
        assert_eq!(
            v["warnings"],
            json!(["warning: block `x` is never used (remove it)"])
        );
        assert_eq!(
            v["findings"][0],
            json!({"severity": "warning", "code": "unused-block",
                   "message": "block `x` is never used", "line": 3, "column": 5,
                   "id": null, "hint": "remove it"})
        );
        assert_eq!(v["diff"]["before_header"], json!("before"));
        assert_eq!(
            v["ansible_facts"]["mlflow_loadbalancer_ip"],
            json!("192.168.1.215")
        );
        assert!(v.get("steps").is_none(), "empty steps are omitted");
    }
}
