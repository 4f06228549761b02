//! Step 5: the task the provider receives. Template actions get the rendered
//! request `{method, url, headers, body?}`; others get the validated input.

use crate::gate::errors::GateError;
use crate::json::{Map, Value};
use crate::registry::Action;

/// The provider's input, and the URL host the task will contact (if any).
pub struct Task {
    /// The JSON handed to the provider.
    pub json: Value,
    /// Host of the rendered URL, lowercased, for the egress policy check.
    pub host: Option<String>,
}

/// Renders the task for `action` from the validated `input`.
pub fn task(action: &Action, input: &Value) -> Result<Task, GateError> {
    let Some(template) = &action.manifest.template else {
        return Ok(Task {
            json: input.clone(),
            host: None,
        });
    };
    let r = crate::registry::template::render(template, input)
        .map_err(|e| GateError::new(422, "schema_violation").reason(e.to_string()))?;
    let url = crate::egress::Url::parse(&r.url).map_err(|e| {
        GateError::new(422, "schema_violation").reason(format!("rendered url: {e}"))
    })?;
    let mut headers = Map::new();
    for (k, v) in &r.headers {
        headers.insert(k.as_str(), v.as_str());
    }
    let mut m = Map::new();
    m.insert("method", r.method.as_str());
    m.insert("url", r.url.as_str());
    m.insert("headers", Value::Object(headers));
    if let Some(body) = r.body {
        m.insert("body", body);
    }
    m.insert(
        "timeout_ms",
        action.manifest.limits.timeout_seconds.saturating_mul(1000),
    );
    Ok(Task {
        json: Value::Object(m),
        host: Some(url.host.to_ascii_lowercase()),
    })
}
