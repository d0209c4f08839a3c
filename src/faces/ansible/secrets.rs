//! A last line of defence: no secret from the kubeconfig in the module's output.
//!
//! The cluster core already strips kubeconfig secrets from its messages
//! (`cluster::secrets`), but Ansible shows a module's result in its output and logs and
//! cannot censor a binary module's result (`no_log` works on arguments, not on what we
//! print), so the module also removes every secret value of the kubeconfig it used from its
//! whole result before printing it.

use super::args::ModuleArgs;
use crate::cluster::secrets;
use serde_json::Value;

/// Every secret value in the kubeconfig files the task may have used.
pub fn kubeconfig_secrets(args: &ModuleArgs) -> Vec<String> {
    secrets::kubeconfig_secrets(args.kubeconfig.as_deref())
}

/// Replaces every secret in every string of `value`.
pub fn redact(value: &mut Value, secrets: &[String]) {
    match value {
        Value::String(s) => *s = secrets::redact_text(s, secrets),
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
    fn redaction_reaches_every_string() {
        let mut v = json!({"msg": "line 6: token: abcdef123456", "findings": [{"message": "x abcdef123456"}], "n": 1});
        redact(&mut v, &["abcdef123456".to_string()]);
        assert_eq!(
            v,
            json!({"msg": "line 6: token: [REDACTED]", "findings": [{"message": "x [REDACTED]"}], "n": 1})
        );
    }
}
