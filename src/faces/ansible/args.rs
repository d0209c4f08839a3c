//! The module's options, parsed and validated from Ansible's flat JSON args file.
//!
//! Ansible knows no argument spec for a binary module: it checks no types, no required
//! options and no choices, and it passes `k=v` free-form values as strings. So every check
//! a Python module gets from `AnsibleModule(argument_spec=...)` happens here, with the same
//! conventions: Ansible's boolean spellings, `"443"` accepted for an int, unknown options
//! refused with a did-you-mean, unknown `_ansible_*` keys ignored.
//!
//! Error messages name options, never their values: values may be secrets (`_ansible_no_log`
//! cannot be honoured for a value we echo).

use crate::diagnostic::did_you_mean;
use crate::manifest::Unpinned;
use serde_json::{Map, Value};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// What the task wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Validate the registry; fail with its findings.
    Linted,
    /// Return the registry as facts; no cluster.
    Facts,
    /// Bring the cluster's Services to the registry (`kubectl lbip apply`).
    Pinned,
    /// Report drift (`kubectl lbip check`).
    Checked,
    /// Post-render a manifest file from `src` to `dest`.
    Rendered,
}

impl State {
    pub const ALL: [State; 5] = [
        State::Linted,
        State::Facts,
        State::Pinned,
        State::Checked,
        State::Rendered,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            State::Linted => "linted",
            State::Facts => "facts",
            State::Pinned => "pinned",
            State::Checked => "checked",
            State::Rendered => "rendered",
        }
    }
    /// Whether the state talks to the cluster (and so reads `kubeconfig`/`context`).
    pub fn uses_cluster(self) -> bool {
        matches!(self, State::Pinned | State::Checked)
    }
}

/// The options a task can set (the documented ones, in `ansible/library/lbip.yml`).
pub const OPTIONS: [&str; 14] = [
    "registry",
    "kubeconfig",
    "context",
    "state",
    "services",
    "namespace",
    "wait",
    "timeout",
    "fail_on_drift",
    "src",
    "dest",
    "all_namespaces",
    "unpinned",
    "cluster",
];

/// How long `pinned` waits for MetalLB to hand the addresses out, unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// A validated task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleArgs {
    pub registry: PathBuf,
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// The registry cluster the task is about (registries with `clusters:`).
    pub cluster: Option<String>,
    pub state: State,
    /// Registry ids or `namespace/name`; empty means every entry.
    pub services: Vec<String>,
    /// Limit to one namespace (cluster states); the release namespace for `rendered`.
    pub namespace: Option<String>,
    pub wait: bool,
    pub timeout: Duration,
    pub fail_on_drift: bool,
    pub src: Option<PathBuf>,
    pub dest: Option<PathBuf>,
    /// `rendered`: what to do with a LoadBalancer Service the registry does not know.
    pub unpinned: Unpinned,
    /// `_ansible_check_mode`: compute and report, change nothing.
    pub check_mode: bool,
    /// `_ansible_diff`: return before/after.
    pub diff: bool,
    /// Options given that this state does not use (reported as warnings).
    pub unused: Vec<&'static str>,
}

/// Where the registry comes from when the task does not say: `$LBIP_REGISTRY`.
pub fn registry_from_env() -> Option<OsString> {
    std::env::var_os(crate::registry::REGISTRY_ENV).filter(|v| !v.is_empty())
}

/// Parses the args file's text. `env_registry` is `$LBIP_REGISTRY` (passed in so tests
/// need not touch the environment). The error is the one-line `msg` for the failed result.
pub fn parse(text: &str, env_registry: Option<OsString>) -> Result<ModuleArgs, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        format!("the args file Ansible passed is not JSON ({e}); lbip expects the JSON args file of a binary module")
    })?;
    let Value::Object(mut map) = value else {
        return Err("the args file Ansible passed is not a JSON object".to_string());
    };
    // Only Python (AnsiballZ) modules get their args wrapped; accept the wrapper anyway so a
    // hand-made args file copied from a Python module's debug output works too.
    if map.len() == 1
        && let Some(Value::Object(inner)) = map.remove("ANSIBLE_MODULE_ARGS")
    {
        map = inner;
    }
    from_map(&map, env_registry)
}

/// Validates the options in `map` (Ansible's internal `_ansible_*` keys included).
pub fn from_map(
    map: &Map<String, Value>,
    env_registry: Option<OsString>,
) -> Result<ModuleArgs, String> {
    let mut problems = Vec::new();

    let mut unknown: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|k| !k.starts_with("_ansible_") && !OPTIONS.contains(k))
        .collect();
    unknown.sort_unstable();
    if !unknown.is_empty() {
        let named: Vec<String> = unknown
            .iter()
            .map(|k| match did_you_mean(k, &OPTIONS) {
                Some(s) => format!("{k} (did you mean {s}?)"),
                None => k.to_string(),
            })
            .collect();
        let mut supported = OPTIONS.to_vec();
        supported.sort_unstable();
        problems.push(format!(
            "unsupported parameters for (lbip) module: {}. Supported parameters include: {}",
            named.join(", "),
            supported.join(", ")
        ));
    }

    // A `null` value (e.g. from an unset variable) means "not given", as in Ansible.
    let get = |k: &str| map.get(k).filter(|v| !v.is_null());
    let mut opt =
        |name: &'static str, f: &dyn Fn(&Value) -> Result<OptionValue, String>| match get(name)
            .map(f)
        {
            None => None,
            Some(Ok(v)) => Some(v),
            Some(Err(why)) => {
                problems.push(format!("option {name} {why}"));
                None
            }
        };

    let registry = opt("registry", &path_value).map(OptionValue::into_path);
    let kubeconfig = opt("kubeconfig", &path_value).map(OptionValue::into_path);
    let context = opt("context", &string_value).map(OptionValue::into_string);
    let cluster = opt("cluster", &string_value).map(OptionValue::into_string);
    let state = opt("state", &state_value).map(|v| match v {
        OptionValue::State(s) => s,
        _ => unreachable!("state_value returns a state"),
    });
    let services = opt("services", &list_value).map(|v| match v {
        OptionValue::List(l) => l,
        _ => unreachable!("list_value returns a list"),
    });
    let namespace = opt("namespace", &string_value).map(OptionValue::into_string);
    let all_namespaces = opt("all_namespaces", &bool_value).map(OptionValue::into_bool);
    let wait = opt("wait", &bool_value).map(OptionValue::into_bool);
    let timeout = opt("timeout", &duration_value).map(|v| match v {
        OptionValue::Duration(d) => d,
        _ => unreachable!("duration_value returns a duration"),
    });
    let fail_on_drift = opt("fail_on_drift", &bool_value).map(OptionValue::into_bool);
    let src = opt("src", &path_value).map(OptionValue::into_path);
    let dest = opt("dest", &path_value).map(OptionValue::into_path);
    let unpinned = opt("unpinned", &unpinned_value).map(|v| match v {
        OptionValue::Unpinned(u) => u,
        _ => unreachable!("unpinned_value returns a policy"),
    });
    let check_mode = opt("_ansible_check_mode", &bool_value).is_some_and(OptionValue::into_bool);
    let diff = opt("_ansible_diff", &bool_value).is_some_and(OptionValue::into_bool);

    let state = state.unwrap_or(State::Pinned);
    let registry = registry.or_else(|| env_registry.map(PathBuf::from));
    if registry.is_none() {
        problems.push(
            "missing required option registry (the registry file, e.g. registry: lbip.yaml); \
             set it on the task or export LBIP_REGISTRY"
                .to_string(),
        );
    }
    if state == State::Rendered {
        for (name, v) in [("src", &src), ("dest", &dest)] {
            if v.is_none() {
                problems.push(format!(
                    "state=rendered needs option {name} (src: the rendered manifest to read, dest: the file to write)"
                ));
            }
        }
    }
    if all_namespaces == Some(true) && namespace.is_some() {
        problems.push("options namespace and all_namespaces are mutually exclusive".to_string());
    }

    if !problems.is_empty() {
        return Err(problems.join("; "));
    }

    let unused = unused_options(state, map);
    Ok(ModuleArgs {
        registry: registry.expect("checked above"),
        kubeconfig,
        context,
        cluster,
        state,
        services: services.unwrap_or_default(),
        namespace,
        wait: wait.unwrap_or(true),
        timeout: timeout.unwrap_or(DEFAULT_TIMEOUT),
        fail_on_drift: fail_on_drift.unwrap_or(true),
        src,
        dest,
        unpinned: unpinned.unwrap_or_default(),
        check_mode,
        diff,
        unused,
    })
}

/// Options the task set that `state` ignores: said in a warning rather than silently dropped.
fn unused_options(state: State, map: &Map<String, Value>) -> Vec<&'static str> {
    let used: &[&str] = match state {
        State::Linted => &[],
        State::Facts => &["cluster"],
        State::Pinned => &[
            "cluster",
            "kubeconfig",
            "context",
            "services",
            "namespace",
            "all_namespaces",
            "wait",
            "timeout",
        ],
        State::Checked => &[
            "cluster",
            "kubeconfig",
            "context",
            "services",
            "namespace",
            "all_namespaces",
            "fail_on_drift",
        ],
        State::Rendered => &["cluster", "src", "dest", "namespace", "unpinned"],
    };
    OPTIONS
        .iter()
        .copied()
        .filter(|o| !["registry", "state"].contains(o) && !used.contains(o))
        .filter(|o| map.get(*o).is_some_and(|v| !v.is_null()))
        .collect()
}

/// A converted option value.
enum OptionValue {
    Str(String),
    Bool(bool),
    List(Vec<String>),
    Duration(Duration),
    State(State),
    Unpinned(Unpinned),
}

impl OptionValue {
    fn into_string(self) -> String {
        match self {
            OptionValue::Str(s) => s,
            _ => unreachable!("string option"),
        }
    }
    fn into_path(self) -> PathBuf {
        PathBuf::from(self.into_string())
    }
    fn into_bool(self) -> bool {
        match self {
            OptionValue::Bool(b) => b,
            _ => unreachable!("bool option"),
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn string_value(v: &Value) -> Result<OptionValue, String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Ok(OptionValue::Str(s.trim().to_string())),
        Value::String(_) => Err("must not be empty".to_string()),
        other => Err(format!("must be a string, got {}", kind(other))),
    }
}

/// A path; a leading `~` is the home directory, as Ansible's `type: path` expands it.
fn path_value(v: &Value) -> Result<OptionValue, String> {
    let text = string_value(v)
        .map_err(|why| {
            if why.starts_with("must be a string") {
                why.replace("must be a string", "must be a path (a string)")
            } else {
                why
            }
        })?
        .into_string();
    Ok(OptionValue::Str(expand_home(
        &text,
        std::env::var_os("HOME"),
    )))
}

fn expand_home(path: &str, home: Option<OsString>) -> String {
    let rest = match path.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => return path.to_string(),
    };
    match home {
        Some(h) if !h.is_empty() => format!("{}{rest}", PathBuf::from(h).display()),
        _ => path.to_string(),
    }
}

/// Ansible's boolean spellings (`module_utils.parsing.convert_bool`), any case.
pub fn parse_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_f64() {
            Some(1.0) => Some(true),
            Some(0.0) => Some(false),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" | "on" | "1" | "true" | "t" => Some(true),
            "n" | "no" | "off" | "0" | "false" | "f" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn bool_value(v: &Value) -> Result<OptionValue, String> {
    parse_bool(v).map(OptionValue::Bool).ok_or_else(|| {
        let got = match v {
            Value::String(_) => "a string that is not a boolean".to_string(),
            other => kind(other).to_string(),
        };
        format!("must be a boolean (true/false, yes/no, on/off, 1/0), got {got}")
    })
}

/// A list of strings, or one comma-separated string (what `services=a,b` gives).
fn list_value(v: &Value) -> Result<OptionValue, String> {
    let items: Vec<String> = match v {
        Value::String(s) => s.split(',').map(|p| p.trim().to_string()).collect(),
        Value::Array(items) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => out.push(s.trim().to_string()),
                    other => {
                        return Err(format!(
                            "must be a list of strings; item {} is {}",
                            i + 1,
                            kind(other)
                        ));
                    }
                }
            }
            out
        }
        other => {
            return Err(format!(
                "must be a list of strings (or one comma-separated string), got {}",
                kind(other)
            ));
        }
    };
    Ok(OptionValue::List(
        items.into_iter().filter(|s| !s.is_empty()).collect(),
    ))
}

/// Whole seconds (`90`, `"90"`) or a duration string in the syntax every face shares
/// (`crate::duration`: `"90s"`, `"5m"`, `"1m30s"`, `"1h"`, `"500ms"`).
pub fn parse_duration(v: &Value) -> Result<Duration, String> {
    const HINT: &str = "must be seconds (e.g. 120) or a duration like 90s, 5m, 1m30s";
    match v {
        Value::Number(n) => n
            .as_u64()
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{HINT}, got a negative or fractional number")),
        Value::String(s) => crate::duration::parse(s)
            .map_err(|_| format!("{HINT}, got a string that is not a duration")),
        other => Err(format!("{HINT}, got {}", kind(other))),
    }
}

fn duration_value(v: &Value) -> Result<OptionValue, String> {
    parse_duration(v).map(OptionValue::Duration)
}

/// `fail`, `warn` or `allow`, as `lbip post-render --unpinned` takes them.
fn unpinned_value(v: &Value) -> Result<OptionValue, String> {
    match v {
        Value::String(s) => s.parse().map(OptionValue::Unpinned),
        other => Err(format!(
            "must be one of {}, got {}",
            Unpinned::NAMES.join(", "),
            kind(other)
        )),
    }
}

fn state_value(v: &Value) -> Result<OptionValue, String> {
    let names: Vec<&str> = State::ALL.iter().map(|s| s.as_str()).collect();
    let Value::String(s) = v else {
        return Err(format!(
            "must be one of {}, got {}",
            names.join(", "),
            kind(v)
        ));
    };
    let s = s.trim();
    if let Some(state) = State::ALL.into_iter().find(|st| st.as_str() == s) {
        return Ok(OptionValue::State(state));
    }
    // The value itself is never echoed (it could be anything, a secret included); the
    // suggestion only names a word of the vocabulary.
    let suggestion = did_you_mean(s, &names)
        .map(|m| format!(" (did you mean {m}?)"))
        .unwrap_or_default();
    Err(format!(
        "must be one of {}, got another string{suggestion}",
        names.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_json(v: Value) -> Result<ModuleArgs, String> {
        parse(&v.to_string(), None)
    }

    #[test]
    fn defaults_are_pinned_wait_and_fail_on_drift() {
        let a = parse_json(
            json!({"registry": "lbip.yaml", "_ansible_check_mode": false,
            "_ansible_module_name": "lbip", "_ansible_some_future_key": [1]}),
        )
        .unwrap();
        assert_eq!(a.state, State::Pinned);
        assert_eq!(a.registry, PathBuf::from("lbip.yaml"));
        assert!(a.wait && a.fail_on_drift && !a.check_mode && !a.diff);
        assert_eq!(a.timeout, DEFAULT_TIMEOUT);
        assert!(a.services.is_empty() && a.unused.is_empty());
    }

    #[test]
    fn free_form_strings_are_converted_like_ansible_does() {
        // `lbip: registry=r.yaml state=checked wait=no timeout=300 services=mlflow,minio`
        let a = parse_json(
            json!({"registry": "r.yaml", "state": "checked", "wait": "no",
            "timeout": "300", "fail_on_drift": "OFF", "services": "mlflow, minio",
            "_ansible_check_mode": "True", "_ansible_diff": "yes"}),
        )
        .unwrap();
        assert_eq!(a.state, State::Checked);
        assert!(!a.wait && !a.fail_on_drift && a.check_mode && a.diff);
        assert_eq!(a.timeout, Duration::from_secs(300));
        assert_eq!(a.services, vec!["mlflow", "minio"]);
        assert_eq!(a.unused, vec!["wait", "timeout"]);
    }

    #[test]
    fn every_ansible_boolean_spelling_is_accepted() {
        for t in ["yes", "Yes", "TRUE", "on", "1", "y", "t"] {
            assert_eq!(parse_bool(&json!(t)), Some(true), "{t}");
        }
        for f in ["no", "NO", "false", "Off", "0", "n", "f"] {
            assert_eq!(parse_bool(&json!(f)), Some(false), "{f}");
        }
        assert_eq!(parse_bool(&json!(1)), Some(true));
        assert_eq!(parse_bool(&json!(0)), Some(false));
        assert_eq!(parse_bool(&json!("maybe")), None);
        assert_eq!(parse_bool(&json!(2)), None);
    }

    #[test]
    fn durations_take_seconds_or_units() {
        for (v, secs) in [
            (json!(90), 90),
            (json!("90"), 90),
            (json!("90s"), 90),
            (json!("5m"), 300),
            (json!("1m30s"), 90),
            (json!("1h"), 3600),
            // The same syntax as `kubectl lbip --timeout`.
            (json!("1.5m"), 90),
            (json!("2h45m"), 9900),
        ] {
            assert_eq!(parse_duration(&v), Ok(Duration::from_secs(secs)), "{v}");
        }
        assert_eq!(
            parse_duration(&json!("500ms")),
            Ok(Duration::from_millis(500))
        );
        for bad in [
            json!("soon"),
            json!("5x"),
            json!("m"),
            json!("5M"),
            json!("1m30"),
            json!(-1),
            json!(1.5),
            json!([]),
        ] {
            assert!(parse_duration(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_options_are_refused_with_a_suggestion() {
        let e = parse_json(json!({"registry": "r.yaml", "stat": "facts", "zzz": 1})).unwrap_err();
        assert!(
            e.starts_with("unsupported parameters for (lbip) module: stat (did you mean state?), zzz. Supported parameters include: all_namespaces, cluster, context, dest"),
            "{e}"
        );
    }

    #[test]
    fn wrong_types_name_the_option_and_the_expected_type() {
        let e = parse_json(
            json!({"registry": "r.yaml", "wait": "perhaps", "timeout": [1],
            "services": {"a": 1}, "registry_x": null}),
        )
        .unwrap_err();
        assert!(e.contains("option wait must be a boolean (true/false, yes/no, on/off, 1/0), got a string that is not a boolean"), "{e}");
        assert!(e.contains("option timeout must be seconds"), "{e}");
        assert!(e.contains("option services must be a list of strings (or one comma-separated string), got a mapping"), "{e}");
        assert!(e.contains("registry_x (did you mean registry?)"), "{e}");
        // The value a user typed (possibly a secret) is not echoed.
        assert!(!e.contains("perhaps"), "{e}");
    }

    #[test]
    fn bad_state_suggests_the_closest() {
        let e = parse_json(json!({"registry": "r.yaml", "state": "pined"})).unwrap_err();
        assert_eq!(
            e,
            "option state must be one of linted, facts, pinned, checked, rendered, got another string (did you mean pinned?)"
        );
    }

    #[test]
    fn registry_is_required_unless_the_environment_names_it() {
        let e = parse_json(json!({"state": "facts"})).unwrap_err();
        assert!(e.starts_with("missing required option registry"), "{e}");
        assert!(e.contains("LBIP_REGISTRY"), "{e}");
        let a = parse(r#"{"state": "facts"}"#, Some("/etc/lbip.yaml".into())).unwrap();
        assert_eq!(a.registry, PathBuf::from("/etc/lbip.yaml"));
        // An explicit null is "not given".
        assert!(parse_json(json!({"registry": null})).is_err());
    }

    #[test]
    fn a_leading_tilde_is_the_home_directory() {
        let home = Some(OsString::from("/home/ops"));
        assert_eq!(
            expand_home("~/.kube/config", home.clone()),
            "/home/ops/.kube/config"
        );
        assert_eq!(expand_home("~", home.clone()), "/home/ops");
        assert_eq!(expand_home("~ops/x", home.clone()), "~ops/x");
        assert_eq!(expand_home("a/~/b", home), "a/~/b");
        assert_eq!(expand_home("~/x", None), "~/x");
    }

    #[test]
    fn rendered_needs_src_and_dest() {
        let e = parse_json(json!({"registry": "r.yaml", "state": "rendered", "src": "a.yaml"}))
            .unwrap_err();
        assert!(e.contains("state=rendered needs option dest"), "{e}");
        assert!(!e.contains("needs option src"), "{e}");
        let a = parse_json(
            json!({"registry": "r.yaml", "state": "rendered", "src": "a.yaml",
            "dest": "b.yaml", "unpinned": "Warn", "namespace": "mlflow"}),
        )
        .unwrap();
        assert_eq!(a.unpinned, Unpinned::Warn);
        assert!(a.unused.is_empty());
        let e = parse_json(json!({"registry": "r.yaml", "unpinned": "ignore"})).unwrap_err();
        assert_eq!(
            e,
            "option unpinned must be one of fail, warn, allow, got another string"
        );
    }

    #[test]
    fn wrapped_module_args_and_non_json_are_handled() {
        let a = parse(
            r#"{"ANSIBLE_MODULE_ARGS": {"registry": "r.yaml", "state": "linted"}}"#,
            None,
        )
        .unwrap();
        assert_eq!(a.state, State::Linted);
        assert!(
            parse("registry=r.yaml", None)
                .unwrap_err()
                .contains("not JSON")
        );
        assert!(
            parse("[1]", None)
                .unwrap_err()
                .contains("not a JSON object")
        );
    }
}
