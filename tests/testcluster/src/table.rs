//! Server-side printing: when kubectl asks for a `Table` (`kubectl get` without `-o`), answer
//! with the columns a real cluster shows, so the output reads like the real thing (a plain list
//! would print only NAME and AGE).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::resources::ResourceDef;

/// kubectl sends `application/json;as=Table;v=v1;g=meta.k8s.io,…` for table output.
pub fn wanted(accept: &str) -> bool {
    accept.contains("as=Table")
}

fn s<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn or_none(v: String) -> String {
    if v.is_empty() {
        "<none>".to_string()
    } else {
        v
    }
}

/// Column names, and one row of cells per object, for each kind.
fn columns(def: &ResourceDef) -> &'static [&'static str] {
    match def.kind {
        "Service" => &[
            "Name",
            "Type",
            "Cluster-IP",
            "External-IP",
            "Port(s)",
            "Age",
        ],
        "Event" => &["Last Seen", "Type", "Reason", "Object", "Message"],
        "IPAddressPool" => &["Name", "Auto Assign", "Avoid Buggy IPs", "Addresses"],
        "Deployment" => &["Name", "Ready", "Up-to-date", "Available", "Age"],
        "DaemonSet" => &[
            "Name",
            "Desired",
            "Current",
            "Ready",
            "Up-to-date",
            "Available",
            "Age",
        ],
        _ => &["Name", "Age"],
    }
}

fn cells(def: &ResourceDef, o: &Value) -> Vec<Value> {
    let name = s(o, "/metadata/name").to_string();
    let created = age(s(o, "/metadata/creationTimestamp"));
    let num = |p: &str| o.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    match def.kind {
        "Service" => {
            let ty = s(o, "/spec/type");
            let ingress: Vec<&str> = o
                .pointer("/status/loadBalancer/ingress")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|i| {
                    i.get("ip")
                        .or_else(|| i.get("hostname"))
                        .and_then(Value::as_str)
                })
                .collect();
            let external = match (ty, ingress.is_empty()) {
                ("LoadBalancer", true) => "<pending>".to_string(),
                _ => or_none(ingress.join(",")),
            };
            let ports: Vec<String> = o
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|p| match p.get("nodePort") {
                    Some(np) => format!("{}:{}/{}", p["port"], np, s(p, "/protocol")),
                    None => format!("{}/{}", p["port"], s(p, "/protocol")),
                })
                .collect();
            vec![
                json!(name),
                json!(ty),
                json!(s(o, "/spec/clusterIP")),
                json!(external),
                json!(or_none(ports.join(","))),
                json!(created),
            ]
        }
        "Event" => {
            let last = age(Some(s(o, "/lastTimestamp"))
                .filter(|t| !t.is_empty())
                .unwrap_or(s(o, "/metadata/creationTimestamp")));
            let object = format!(
                "{}/{}",
                s(o, "/involvedObject/kind").to_lowercase(),
                s(o, "/involvedObject/name")
            );
            vec![
                json!(last),
                json!(s(o, "/type")),
                json!(s(o, "/reason")),
                json!(object),
                json!(s(o, "/message")),
            ]
        }
        "IPAddressPool" => {
            let flag =
                |p: &str, default: bool| o.pointer(p).and_then(Value::as_bool).unwrap_or(default);
            vec![
                json!(name),
                json!(flag("/spec/autoAssign", true)),
                json!(flag("/spec/avoidBuggyIPs", false)),
                o.pointer("/spec/addresses").cloned().unwrap_or(json!([])),
            ]
        }
        "Deployment" => vec![
            json!(name),
            json!(format!(
                "{}/{}",
                num("/status/readyReplicas"),
                num("/spec/replicas")
            )),
            json!(num("/status/updatedReplicas").max(num("/status/replicas"))),
            json!(num("/status/availableReplicas")),
            json!(created),
        ],
        "DaemonSet" => {
            let d = num("/status/desiredNumberScheduled");
            let r = num("/status/numberReady");
            vec![
                json!(name),
                json!(d),
                json!(d),
                json!(r),
                json!(d),
                json!(r),
                json!(created),
            ]
        }
        _ => vec![json!(name), json!(created)],
    }
}

/// A `meta.k8s.io/v1` Table of `items`; rows carry the object's metadata, which kubectl needs
/// for the NAMESPACE column of `-A`.
pub fn table(def: &ResourceDef, items: &[&Value], rv: u64) -> Value {
    let defs: Vec<Value> = columns(def).iter().map(|c| json!({"name": c, "type": "string", "format": "", "description": "", "priority": 0})).collect();
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            json!({"cells": cells(def, o), "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": o.get("metadata").cloned().unwrap_or(json!({}))}})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv.to_string()}, "columnDefinitions": defs, "rows": rows})
}

/// Seconds since the epoch for an RFC 3339 timestamp like `2025-01-02T03:04:05Z`.
fn epoch(ts: &str) -> Option<i64> {
    let n = |a: usize, b: usize| ts.get(a..b)?.parse::<i64>().ok();
    let (y, m, d) = (n(0, 4)?, n(5, 7)?, n(8, 10)?);
    let (hh, mm, ss) = (n(11, 13)?, n(14, 16)?, n(17, 19)?);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// kubectl's short human duration: `45s`, `3m12s`, `25m`, `5h3m`, `30h`, `3d4h`, `200d`, `2y`.
fn age(ts: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let Some(t) = epoch(ts) else {
        return "<unknown>".to_string();
    };
    human((now - t).max(0))
}

fn human(secs: i64) -> String {
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86_400);
    match () {
        _ if secs < 120 => format!("{secs}s"),
        _ if m < 10 && secs % 60 > 0 => format!("{m}m{}s", secs % 60),
        _ if h < 3 => format!("{m}m"),
        _ if h < 8 && m % 60 > 0 => format!("{h}h{}m", m % 60),
        _ if h < 48 => format!("{h}h"),
        _ if h < 192 && h % 24 > 0 => format!("{d}d{}h", h % 24),
        _ if d < 730 => format!("{d}d"),
        _ => format!("{}y", d / 365),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::SERVICES;

    #[test]
    fn durations_and_timestamps() {
        assert_eq!(human(45), "45s");
        assert_eq!(human(192), "3m12s");
        assert_eq!(human(1500), "25m");
        assert_eq!(human(5 * 3600 + 180), "5h3m");
        assert_eq!(human(30 * 3600), "30h");
        assert_eq!(human(3 * 86_400 + 4 * 3600), "3d4h");
        assert_eq!(epoch("1970-01-02T00:00:01Z"), Some(86_401));
        assert_eq!(epoch("2024-03-01T00:00:00Z"), Some(1_709_251_200));
    }

    #[test]
    fn service_row() {
        let svc = json!({"metadata": {"name": "web", "creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.43.0.5", "ports": [{"port": 80, "nodePort": 30001, "protocol": "TCP"}]},
            "status": {"loadBalancer": {}}});
        let t = table(SERVICES, &[&svc], 7);
        assert_eq!(
            t["rows"][0]["cells"].as_array().unwrap()[..5],
            [
                json!("web"),
                json!("LoadBalancer"),
                json!("10.43.0.5"),
                json!("<pending>"),
                json!("80:30001/TCP")
            ]
        );
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    }
}
