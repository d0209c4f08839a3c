//! Chunked LISTs (`limit` and `continue`), as the API server serves them: items in key order
//! (`namespace/name`), a `continue` token after a full page, `remainingItemCount` when no
//! selector filtered the list, and `410 Expired` for a token older than the kept history
//! (etcd compaction), with a fresh token in the error's `metadata.continue` as the real server
//! gives one.
//!
//! The token is what the real server sends, base64 of `{"v":"meta.k8s.io/v1","rv":N,
//! "start":"<key>"}`. Unlike a real server, later pages are cut from the current objects, not
//! from a snapshot at `rv`: an object changed between two pages shows its new version.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::error::ApiError;

/// The real server's message for an expired continue token.
pub const EXPIRED: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

fn key_of(obj: &Value) -> String {
    let m = |f: &str| {
        obj.pointer(&format!("/metadata/{f}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    format!("{}/{}", m("namespace"), m("name"))
}

pub fn token(rv: u64, start: &str) -> String {
    STANDARD.encode(json!({"v": "meta.k8s.io/v1", "rv": rv, "start": start}).to_string())
}

fn decode(token: &str) -> Option<(u64, String)> {
    let bytes = STANDARD.decode(token).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    Some((v["rv"].as_u64()?, v["start"].as_str()?.to_string()))
}

/// One page of a list.
pub struct Page<'a> {
    pub items: Vec<&'a Value>,
    /// The resourceVersion the list is served at (the token's, for later pages).
    pub resource_version: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<u64>,
}

/// Cuts the page `q` asks for out of `items` (already filtered, in key order). `rv` is the
/// store's version, `expired_below` the oldest version a token may carry.
pub fn page<'a>(
    items: Vec<&'a Value>,
    q: &HashMap<String, String>,
    rv: u64,
    expired_below: u64,
    filtered: bool,
) -> Result<Page<'a>, ApiError> {
    let limit: usize = match q.get("limit").map(String::as_str) {
        None | Some("") => 0,
        Some(l) => l
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid limit {l:?}")))?,
    };
    let (at_rv, start) = match q.get("continue").map(String::as_str) {
        None | Some("") => (rv, String::new()),
        Some(t) => {
            let (token_rv, start) = decode(t).ok_or_else(|| {
                ApiError::bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
            })?;
            if token_rv < expired_below {
                let mut e = ApiError::new(410, "Expired", EXPIRED);
                e.continue_token = Some(token(rv, &start).into());
                return Err(e);
            }
            (token_rv, start)
        }
    };
    let rest: Vec<&Value> = items.into_iter().filter(|o| key_of(o) >= start).collect();
    if limit == 0 || rest.len() <= limit {
        return Ok(Page {
            items: rest,
            resource_version: at_rv,
            continue_token: None,
            remaining: None,
        });
    }
    let next = key_of(rest[limit]);
    let remaining = (rest.len() - limit) as u64;
    let mut items = rest;
    items.truncate(limit);
    Ok(Page {
        items,
        resource_version: at_rv,
        continue_token: Some(token(at_rv, &next)),
        remaining: (!filtered).then_some(remaining),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objs(n: usize) -> Vec<Value> {
        (0..n)
            .map(|i| json!({"metadata": {"namespace": "ns", "name": format!("s{i:02}")}}))
            .collect()
    }

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn pages_follow_each_other_and_expire() {
        let all = objs(5);
        let p1 = page(all.iter().collect(), &q(&[("limit", "2")]), 50, 0, false).unwrap();
        assert_eq!(p1.items.len(), 2);
        assert_eq!(p1.remaining, Some(3));
        let t = p1.continue_token.unwrap();
        let p2 = page(
            all.iter().collect(),
            &q(&[("limit", "2"), ("continue", &t)]),
            60,
            0,
            false,
        )
        .unwrap();
        assert_eq!(key_of(p2.items[0]), "ns/s02");
        assert_eq!(p2.resource_version, 50);
        let t2 = p2.continue_token.unwrap();
        let p3 = page(
            all.iter().collect(),
            &q(&[("limit", "2"), ("continue", &t2)]),
            60,
            0,
            true,
        )
        .unwrap();
        assert_eq!(p3.items.len(), 1);
        assert!(p3.continue_token.is_none());
        let e = page(all.iter().collect(), &q(&[("continue", &t)]), 90, 51, false)
            .err()
            .unwrap();
        assert_eq!((e.code, e.reason), (410, "Expired"));
        assert!(e.continue_token.is_some());
        let e = page(
            all.iter().collect(),
            &q(&[("continue", "garbage")]),
            90,
            0,
            false,
        )
        .err()
        .unwrap();
        assert_eq!(e.code, 400);
    }
}
