//! Kubernetes' protobuf encoding, read-only and for Secrets only: what Helm's release storage
//! sends.
//!
//! client-go's typed clients (Helm's Secrets storage driver among them) write with
//! `Content-Type: application/vnd.kubernetes.protobuf` and accept JSON back, so the server
//! must read that one format and may answer in JSON. The wire format (k8s.io/apimachinery
//! `runtime/serializer/protobuf`): the magic `k8s\0`, then a `runtime.Unknown` message
//! { typeMeta (1) { apiVersion (1), kind (2) }, raw (2): the object's own message }. Field
//! numbers below are from k8s.io/api core/v1 and apimachinery meta/v1 `generated.proto`.
//! Anything this module does not know is an error, never silently dropped.

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::error::ApiError;

pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";
const MAGIC: &[u8] = b"k8s\0";

/// Decodes a protobuf request body into the JSON object it stands for.
pub fn decode(body: &[u8]) -> Result<Value, ApiError> {
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| bad("the body does not start with the protobuf magic k8s\\0"))?;
    let mut api_version = String::new();
    let mut kind = String::new();
    let mut raw: &[u8] = &[];
    for field in Fields(rest) {
        match field? {
            (1, Wire::Bytes(type_meta)) => {
                for f in Fields(type_meta) {
                    match f? {
                        (1, Wire::Bytes(v)) => api_version = text(v)?,
                        (2, Wire::Bytes(v)) => kind = text(v)?,
                        (n, _) => return Err(unknown("TypeMeta", n)),
                    }
                }
            }
            (2, Wire::Bytes(r)) => raw = r,
            // contentEncoding and contentType: empty for plain objects.
            (3 | 4, Wire::Bytes([])) => {}
            (n, _) => return Err(unknown("runtime.Unknown", n)),
        }
    }
    match (api_version.as_str(), kind.as_str()) {
        ("v1", "Secret") => secret(raw),
        _ => Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the test server reads protobuf only for v1 Secrets, not {api_version} {kind}; send JSON"
            ),
        )),
    }
}

fn secret(raw: &[u8]) -> Result<Value, ApiError> {
    let mut obj = json!({"apiVersion": "v1", "kind": "Secret"});
    let mut data = Map::new();
    let mut string_data = Map::new();
    for field in Fields(raw) {
        match field? {
            (1, Wire::Bytes(m)) => obj["metadata"] = object_meta(m)?,
            (2, Wire::Bytes(entry)) => {
                let (k, v) = map_entry(entry)?;
                data.insert(
                    text(k)?,
                    json!(base64::engine::general_purpose::STANDARD.encode(v)),
                );
            }
            (3, Wire::Bytes(t)) => obj["type"] = json!(text(t)?),
            (4, Wire::Bytes(entry)) => {
                let (k, v) = map_entry(entry)?;
                string_data.insert(text(k)?, json!(text(v)?));
            }
            (5, Wire::Varint(b)) => obj["immutable"] = json!(b != 0),
            (n, _) => return Err(unknown("Secret", n)),
        }
    }
    if !data.is_empty() {
        obj["data"] = Value::Object(data);
    }
    if !string_data.is_empty() {
        obj["stringData"] = Value::Object(string_data);
    }
    Ok(obj)
}

fn object_meta(raw: &[u8]) -> Result<Value, ApiError> {
    let mut meta = Map::new();
    let mut labels = Map::new();
    let mut annotations = Map::new();
    let mut finalizers = Vec::new();
    for field in Fields(raw) {
        let (number, wire) = field?;
        let name = match number {
            1 => "name",
            2 => "generateName",
            3 => "namespace",
            5 => "uid",
            6 => "resourceVersion",
            _ => "",
        };
        match (number, wire) {
            (1 | 2 | 3 | 5 | 6, Wire::Bytes(v)) => {
                meta.insert(name.into(), json!(text(v)?));
            }
            // selfLink (4) is gone from the API; the server ignores it, as here.
            (4, Wire::Bytes(_)) => {}
            (7, Wire::Varint(g)) => {
                meta.insert("generation".into(), json!(g));
            }
            // creationTimestamp: server-owned, replaced on create; an empty Time is "unset".
            (8, Wire::Bytes(_)) => {}
            (11, Wire::Bytes(entry)) => {
                let (k, v) = map_entry(entry)?;
                labels.insert(text(k)?, json!(text(v)?));
            }
            (12, Wire::Bytes(entry)) => {
                let (k, v) = map_entry(entry)?;
                annotations.insert(text(k)?, json!(text(v)?));
            }
            (14, Wire::Bytes(f)) => finalizers.push(json!(text(f)?)),
            (n, _) => return Err(unknown("ObjectMeta", n)),
        }
    }
    if !labels.is_empty() {
        meta.insert("labels".into(), Value::Object(labels));
    }
    if !annotations.is_empty() {
        meta.insert("annotations".into(), Value::Object(annotations));
    }
    if !finalizers.is_empty() {
        meta.insert("finalizers".into(), Value::Array(finalizers));
    }
    Ok(Value::Object(meta))
}

/// A protobuf map entry: key (1), value (2), both length-delimited here.
fn map_entry(raw: &[u8]) -> Result<(&[u8], &[u8]), ApiError> {
    let (mut key, mut value): (&[u8], &[u8]) = (&[], &[]);
    for f in Fields(raw) {
        match f? {
            (1, Wire::Bytes(k)) => key = k,
            (2, Wire::Bytes(v)) => value = v,
            (n, _) => return Err(unknown("map entry", n)),
        }
    }
    Ok((key, value))
}

fn text(bytes: &[u8]) -> Result<String, ApiError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| bad("a protobuf string is not UTF-8"))
}

fn bad(message: &str) -> ApiError {
    ApiError::bad_request(format!("invalid protobuf body: {message}"))
}

fn unknown(message: &str, number: u64) -> ApiError {
    bad(&format!(
        "{message} field {number} is not understood by the test server"
    ))
}

/// A field's value by wire type: varint (0) or length-delimited (2). Fixed-width types (1, 5)
/// do not occur in the messages read here.
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

/// The fields of one message, in order.
struct Fields<'a>(&'a [u8]);

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Wire<'a>), ApiError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        Some(self.field())
    }
}

impl<'a> Fields<'a> {
    fn varint(&mut self) -> Result<u64, ApiError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self
                .0
                .split_first()
                .ok_or_else(|| bad("truncated varint"))?;
            self.0 = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(bad("varint longer than 64 bits"))
    }

    fn field(&mut self) -> Result<(u64, Wire<'a>), ApiError> {
        let key = self.varint()?;
        let (number, wire_type) = (key >> 3, key & 7);
        let wire = match wire_type {
            0 => Wire::Varint(self.varint()?),
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| bad("length overflow"))?;
                if len > self.0.len() {
                    return Err(bad("length-delimited field runs past the end"));
                }
                let (bytes, rest) = self.0.split_at(len);
                self.0 = rest;
                Wire::Bytes(bytes)
            }
            other => {
                return Err(bad(&format!(
                    "wire type {other} is not used by these kinds"
                )));
            }
        };
        Ok((number, wire))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(out: &mut Vec<u8>, number: u8, value: &[u8]) {
        out.push((number << 3) | 2);
        let mut len = value.len();
        while len >= 0x80 {
            out.push((len as u8 & 0x7f) | 0x80);
            len >>= 7;
        }
        out.push(len as u8);
        out.extend_from_slice(value);
    }

    fn entry(k: &str, v: &[u8]) -> Vec<u8> {
        let mut e = Vec::new();
        field(&mut e, 1, k.as_bytes());
        field(&mut e, 2, v);
        e
    }

    /// What client-go sends for Helm's release Secret (shape from a captured request).
    fn release_secret() -> Vec<u8> {
        let mut meta = Vec::new();
        field(&mut meta, 1, b"sh.helm.release.v1.seldon.v1");
        field(&mut meta, 3, b"seldon-system");
        field(&mut meta, 8, b"");
        field(&mut meta, 11, &entry("owner", b"helm"));
        field(&mut meta, 11, &entry("status", b"pending-install"));
        let mut secret = Vec::new();
        field(&mut secret, 1, &meta);
        field(&mut secret, 2, &entry("release", b"H4sI\x00\xff"));
        field(&mut secret, 3, b"helm.sh/release.v1");
        let mut type_meta = Vec::new();
        field(&mut type_meta, 1, b"v1");
        field(&mut type_meta, 2, b"Secret");
        let mut unknown = Vec::new();
        field(&mut unknown, 1, &type_meta);
        field(&mut unknown, 2, &secret);
        field(&mut unknown, 3, b"");
        field(&mut unknown, 4, b"");
        [MAGIC, &unknown].concat()
    }

    #[test]
    fn a_release_secret_decodes_to_its_json() {
        let v = decode(&release_secret()).unwrap();
        assert_eq!(
            v,
            json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "sh.helm.release.v1.seldon.v1", "namespace": "seldon-system",
                    "labels": {"owner": "helm", "status": "pending-install"}},
                "data": {"release": "SDRzSQD/"}, "type": "helm.sh/release.v1"})
        );
    }

    #[test]
    fn anything_else_is_refused_not_dropped() {
        assert_eq!(decode(b"{}").unwrap_err().code, 400);
        let mut body = release_secret();
        body.extend([0x78, 0x01]); // field 15, varint: unknown in runtime.Unknown
        assert!(decode(&body).unwrap_err().message.contains("field 15"));
        let cm = release_secret()
            .windows(6)
            .position(|w| w == b"Secret")
            .unwrap();
        let mut other = release_secret();
        other[cm..cm + 6].copy_from_slice(b"Secreu");
        assert_eq!(decode(&other).unwrap_err().code, 415);
        assert!(decode(&release_secret()[..20]).is_err(), "truncated");
    }
}
