//! Step 4: size, shape (depth ≤ 10, arrays ≤ 100) and the request schema;
//! then the request hash: `sha256:` + hex SHA-256 of the JCS form.

use crate::gate::errors::GateError;
use crate::json::Value;
use crate::registry::Action;

/// The parsed input and its request hash. An empty body counts as `{}`.
pub fn input(action: &Action, body: &[u8]) -> Result<(Value, String), GateError> {
    let max = action.manifest.io.max_request_bytes;
    if body.len() > max {
        return Err(GateError::new(413, "payload_too_large").message(format!(
            "request body is {} bytes; this action accepts at most {max}",
            body.len()
        )));
    }
    let input = if body.iter().all(u8::is_ascii_whitespace) {
        crate::obj! {}
    } else {
        crate::json::parse_with(body, crate::json::Limits { max_depth: 11 }).map_err(|e| {
            GateError::new(422, "schema_violation")
                .reason(format!("request body is not valid JSON: {e}"))
        })?
    };
    crate::registry::schema::check_shape(&input, 10, 100)
        .map_err(|e| GateError::new(422, "schema_violation").reason(e))?;
    if let Some(schema) = &action.request_schema {
        if let Err(errors) = schema.validate(&input) {
            let text: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", e.path, e.message))
                .collect();
            return Err(GateError::new(422, "schema_violation").reason(text.join("; ")));
        }
    }
    let hash = crate::json::canonical_sha256(&input).map_err(|_| {
        GateError::new(422, "schema_violation").reason("request cannot be canonicalised")
    })?;
    Ok((input, hash))
}
