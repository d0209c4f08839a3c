//! Core `v1` Events written by the simulated controllers, aggregated the way client-go's
//! recorder does (a repeat bumps `count` instead of adding an object).

use serde_json::{Value, json};

use crate::resources::EVENTS;
use crate::store::{Store, now_rfc3339};

/// Who is emitting: `source.component` and `reportingComponent`.
pub const METALLB: &str = "metallb-controller";
pub const SERVICELB: &str = "svccontroller";

pub fn emit(
    store: &mut Store,
    involved: &Value,
    event_type: &str,
    reason: &str,
    message: &str,
    component: &str,
) {
    let ns = involved
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("default");
    let name = involved
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let uid = involved
        .pointer("/metadata/uid")
        .cloned()
        .unwrap_or(Value::Null);
    let now = now_rfc3339();
    let same = store
        .list(EVENTS, Some(ns))
        .into_iter()
        .find(|e| {
            e.pointer("/involvedObject/uid") == Some(&uid)
                && e["reason"] == reason
                && e["message"] == message
                && e.pointer("/source/component").and_then(Value::as_str) == Some(component)
        })
        .cloned();
    if let Some(mut e) = same {
        e["count"] = json!(e["count"].as_i64().unwrap_or(1) + 1);
        e["lastTimestamp"] = json!(now);
        store.replace(EVENTS, e);
        return;
    }
    let ev = json!({
        "metadata": {"name": format!("{name}.{:016x}", store.resource_version() + 1), "namespace": ns},
        "involvedObject": {
            "apiVersion": involved.get("apiVersion").cloned().unwrap_or(json!("v1")),
            "kind": involved.get("kind").cloned().unwrap_or(json!("Service")),
            "namespace": ns,
            "name": name,
            "uid": uid,
            "resourceVersion": involved.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null),
        },
        "reason": reason,
        "message": message,
        "type": event_type,
        "source": {"component": component},
        "reportingComponent": component,
        "reportingInstance": "",
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    });
    // The name embeds the next resourceVersion, so it cannot collide.
    let _ = store.insert(EVENTS, ev);
}
