//! `GET /openapi/v2`: a valid OpenAPI v2 document without schemas.
//!
//! Helm's `install`/`upgrade` build objects with client-side validation, and client-go's
//! validator downloads the v2 document first (as protobuf, `openapi_v2.Document` from
//! google/gnostic), failing the whole install on a 404. A document without definitions
//! means "no schema for this kind", which the validator skips, so the server still validates
//! nothing (as before) but Helm can proceed. kubectl asks for the v3 documents instead
//! ([`crate::discovery::openapi_doc`]).

/// The protobuf media type client-go asks for.
pub const PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";

const TITLE: &str = "Kubernetes";
const VERSION: &str = "v1.32.4+k3s1";

/// The document in the representation `accept` asks for: `(content type, body)`.
pub fn document(accept: &str) -> (&'static str, Vec<u8>) {
    if accept.contains("protobuf") {
        (PROTOBUF, protobuf())
    } else {
        let json = serde_json::json!({
            "swagger": "2.0",
            "info": {"title": TITLE, "version": VERSION},
            "paths": {},
            "definitions": {},
        });
        ("application/json", json.to_string().into_bytes())
    }
}

/// `Document { swagger: "2.0" (field 1), info: Info { title (1), version (2) } (field 2) }`
/// in protobuf wire format (field numbers from gnostic's openapiv2/OpenAPIv2.proto).
fn protobuf() -> Vec<u8> {
    let mut info = Vec::new();
    string_field(&mut info, 1, TITLE);
    string_field(&mut info, 2, VERSION);
    let mut doc = Vec::new();
    string_field(&mut doc, 1, "2.0");
    bytes_field(&mut doc, 2, &info);
    doc
}

fn string_field(out: &mut Vec<u8>, number: u8, value: &str) {
    bytes_field(out, number, value.as_bytes());
}

/// A length-delimited field (wire type 2); lengths here are below 128, one varint byte.
fn bytes_field(out: &mut Vec<u8>, number: u8, value: &[u8]) {
    assert!(value.len() < 128 && number < 16);
    out.push((number << 3) | 2);
    out.push(value.len() as u8);
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protobuf_wire_format() {
        let (ct, body) = document("application/com.github.proto-openapi.spec.v2@v1.0+protobuf");
        assert_eq!(ct, PROTOBUF);
        // 0x0a = field 1, length-delimited; then "2.0"; 0x12 = field 2 (the Info message).
        assert_eq!(&body[..5], b"\x0a\x032.0");
        assert_eq!(body[5], 0x12);
        assert_eq!(body[6] as usize, body.len() - 7);
        assert!(String::from_utf8_lossy(&body).contains("Kubernetes"));
        let (ct, body) = document("application/json");
        assert_eq!(ct, "application/json");
        assert!(
            String::from_utf8(body)
                .unwrap()
                .contains("\"swagger\":\"2.0\"")
        );
    }
}
