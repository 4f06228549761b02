//! Request templates: `{{var}}` substitution into a method, URL, headers and
//! a JSON body, parsed once at load and rendered per call.
//!
//! Rules (the v0.2 defect of optional-but-required body variables is fixed):
//! - Variable names are `[A-Za-z_][A-Za-z0-9_]{0,63}` inside `{{` and `}}`,
//!   without spaces. Any other `{{` is a load error.
//! - URL: a URL that is exactly one variable (`{{url}}`) takes the input
//!   string as is; it must be an absolute http(s) URL. Variables embedded in
//!   a longer URL are percent-encoded: RFC 3986 unreserved characters
//!   (`A-Z a-z 0-9 - . _ ~`) are kept, everything else, `/` included, is
//!   encoded, so an input cannot add path segments, a query or a port.
//! - `{{+var}}` (path expansion, in the URL path only) keeps `/` between
//!   segments and percent-encodes each segment; an empty, `.` or `..`
//!   segment is an error, so an input can add path segments but never climb
//!   out of the template's prefix or reach the query.
//! - Query parameters: a parameter (`name=...` between `?`/`&`) that refers
//!   to an absent variable is left out with its `&`; when none is left, so is
//!   the `?`.
//! - Headers: variables are substituted as text; a result with a control
//!   character (CR, LF, NUL, ...) is an error (no header injection).
//! - Numbers and booleans render as their JSON text; null, arrays and
//!   objects cannot be rendered into text and are an error.
//! - Body: JSON whose string leaves may hold variables. A string that is
//!   exactly one variable takes the input value with its JSON type. A string
//!   that refers to an absent variable is removed: the object member or
//!   array element disappears (if the whole body is such a string, there is
//!   no body). Object keys are literal.
//! - An absent variable in the URL path or a header is an error naming it;
//!   the gate answers 422 `schema_violation` with that message.
//! - Substituted values are never scanned again, so an input holding
//!   `{{other}}` is just text: no recursion and no template injection.

use super::uri::check_http_url;
use crate::json::{self, Number, Value};

/// The HTTP methods a template may use.
pub const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

/// A parsed request template.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    method: String,
    url: Text,
    /// The URL split for rendering: the part before `?`, and each query
    /// parameter (so one with an absent variable can be left out).
    url_base: Text,
    url_query: Option<Vec<Text>>,
    headers: Vec<(String, Text)>,
    body: Option<Body>,
    body_source: Option<Value>,
}

/// A load-time template problem: `field` is `method`, `url`,
/// `headers.<Name>` or `body`.
#[derive(Clone, Debug, PartialEq)]
pub struct TemplateLoadError {
    pub field: String,
    pub message: String,
}

/// A render-time problem (missing or unrenderable input), for a 422.
#[derive(Clone, Debug, PartialEq)]
pub struct TemplateError {
    pub message: String,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The request a template produced for one input.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderedRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
}

/// Text with variables, split once at load.
#[derive(Clone, Debug, PartialEq)]
struct Text {
    pieces: Vec<Piece>,
    source: String,
}

#[derive(Clone, Debug, PartialEq)]
enum Piece {
    Lit(String),
    Var(String),
    /// `{{+var}}`: path expansion (see the module doc).
    PathVar(String),
}

/// A body template node.
#[derive(Clone, Debug, PartialEq)]
enum Body {
    /// A leaf without variables.
    Literal(Value),
    /// A string that is exactly one variable: the input value, typed.
    Whole(String),
    /// A string with variables and text around them.
    Text(Text),
    Array(Vec<Body>),
    Object(Vec<(String, Body)>),
}

fn load_err(field: &str, message: impl Into<String>) -> TemplateLoadError {
    TemplateLoadError {
        field: field.to_string(),
        message: message.into(),
    }
}

fn var_name_ok(name: &str) -> bool {
    let mut bytes = name.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    first_ok && name.len() <= 64 && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Splits `s` into literal text and `{{var}}` pieces.
fn parse_text(s: &str) -> Result<Text, String> {
    let mut pieces = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find("{{") {
        let (lit, tail) = rest.split_at(open);
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit.to_string()));
        }
        let after = tail.get(2..).unwrap_or("");
        let Some(close) = after.find("}}") else {
            return Err("`{{` without a closing `}}`".to_string());
        };
        let (name, tail) = after.split_at(close);
        if let Some(path_name) = name.strip_prefix('+') {
            if !var_name_ok(path_name) {
                return Err(format!("invalid path variable `{{{{{name}}}}}`"));
            }
            pieces.push(Piece::PathVar(path_name.to_string()));
            rest = tail.get(2..).unwrap_or("");
            continue;
        }
        if !var_name_ok(name) {
            return Err(format!(
                "invalid variable `{{{{{name}}}}}`; allowed: a letter or _ then letters, digits or _, at most 64, no spaces"
            ));
        }
        pieces.push(Piece::Var(name.to_string()));
        rest = tail.get(2..).unwrap_or("");
    }
    if !rest.is_empty() {
        pieces.push(Piece::Lit(rest.to_string()));
    }
    Ok(Text {
        pieces,
        source: s.to_string(),
    })
}

impl Text {
    fn whole_var(&self) -> Option<&str> {
        match self.pieces.as_slice() {
            [Piece::Var(name)] => Some(name),
            _ => None,
        }
    }
    fn has_vars(&self) -> bool {
        self.pieces.iter().any(|p| !matches!(p, Piece::Lit(_)))
    }
    fn has_path_vars(&self) -> bool {
        self.pieces.iter().any(|p| matches!(p, Piece::PathVar(_)))
    }
    fn vars(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Var(v) | Piece::PathVar(v) => Some(v.as_str()),
            Piece::Lit(_) => None,
        })
    }
}

impl Template {
    /// Parses and checks a template. `url` must start with `https://`,
    /// `http://` or be exactly one variable; `headers` are name/value pairs
    /// (names checked by the caller); `body` is JSON text.
    pub fn parse(
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<&str>,
    ) -> Result<Template, TemplateLoadError> {
        if !METHODS.contains(&method) {
            return Err(load_err(
                "method",
                format!("unknown method `{method}`; allowed: {}", METHODS.join(", ")),
            ));
        }
        let url_t = parse_text(url).map_err(|e| load_err("url", e))?;
        check_url_template(&url_t).map_err(|e| load_err("url", e))?;
        // A `?` cannot occur inside a variable name, so splitting the
        // source splits the template.
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (url, None),
        };
        let url_base = parse_text(base).map_err(|e| load_err("url", e))?;
        let url_query = match query {
            None => None,
            Some(q) => {
                let mut params = Vec::new();
                for part in q.split('&') {
                    let t = parse_text(part).map_err(|e| load_err("url", e))?;
                    if t.has_path_vars() {
                        return Err(load_err(
                            "url",
                            "`{{+var}}` may only appear in the URL path",
                        ));
                    }
                    params.push(t);
                }
                Some(params)
            }
        };
        let mut header_ts = Vec::with_capacity(headers.len());
        for (name, value) in headers {
            let field = format!("headers.{name}");
            if value.chars().any(|c| c.is_control() && c != '\t') {
                return Err(load_err(
                    &field,
                    "header values must not contain control characters",
                ));
            }
            let t = parse_text(value).map_err(|e| load_err(&field, e))?;
            if t.has_path_vars() {
                return Err(load_err(
                    &field,
                    "`{{+var}}` may only appear in the URL path",
                ));
            }
            header_ts.push((name.clone(), t));
        }
        let (body_t, body_source) = match body {
            None => (None, None),
            Some(text) => {
                let v = json::parse(text.as_bytes())
                    .map_err(|e| load_err("body", format!("not valid JSON: {e}")))?;
                (
                    Some(parse_body(&v).map_err(|e| load_err("body", e))?),
                    Some(v),
                )
            }
        };
        Ok(Template {
            method: method.to_string(),
            url: url_t,
            url_base,
            url_query,
            headers: header_ts,
            body: body_t,
            body_source,
        })
    }

    /// The HTTP method.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The URL template as written.
    pub fn url_source(&self) -> &str {
        &self.url.source
    }

    /// The header templates as written, in manifest order.
    pub fn header_sources(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(n, t)| (n.as_str(), t.source.as_str()))
            .collect()
    }

    /// The body template as parsed JSON, if any.
    pub fn body_source(&self) -> Option<&Value> {
        self.body_source.as_ref()
    }

    /// Every variable the template refers to, sorted, without duplicates.
    pub fn variables(&self) -> Vec<String> {
        let mut out: Vec<String> = self.url.vars().map(str::to_string).collect();
        for (_, t) in &self.headers {
            out.extend(t.vars().map(str::to_string));
        }
        if let Some(b) = &self.body {
            body_vars(b, &mut out);
        }
        out.sort();
        out.dedup();
        out
    }
}

fn check_url_template(t: &Text) -> Result<(), String> {
    if t.whole_var().is_some() {
        return Ok(());
    }
    match t.pieces.first() {
        Some(Piece::Lit(s)) if s.starts_with("https://") || s.starts_with("http://") => {}
        Some(Piece::Var(_) | Piece::PathVar(_)) => {
            return Err("a URL starting with a variable must be exactly one variable (`{{url}}`), since embedded variables are percent-encoded".to_string())
        }
        _ => return Err("must start with https://, http:// or be exactly one variable like {{url}}".to_string()),
    }
    // With every variable replaced by a plain word the URL must be valid;
    // this catches spaces and other typos at load time.
    let probe: String = t
        .pieces
        .iter()
        .map(|p| match p {
            Piece::Lit(s) => s.as_str(),
            Piece::Var(_) | Piece::PathVar(_) => "x",
        })
        .collect();
    check_http_url(&probe)
}

fn parse_body(v: &Value) -> Result<Body, String> {
    Ok(match v {
        Value::String(s) => {
            let t = parse_text(s)?;
            match t.whole_var() {
                Some(name) => Body::Whole(name.to_string()),
                None if t.has_vars() => Body::Text(t),
                None => Body::Literal(v.clone()),
            }
        }
        Value::Array(items) => Body::Array(items.iter().map(parse_body).collect::<Result<_, _>>()?),
        Value::Object(map) => {
            let mut members = Vec::with_capacity(map.len());
            for (k, child) in map.iter() {
                if k.contains("{{") {
                    return Err(format!(
                        "object keys are literal; `{k}` looks like a variable"
                    ));
                }
                members.push((k.clone(), parse_body(child)?));
            }
            Body::Object(members)
        }
        other => Body::Literal(other.clone()),
    })
}

fn body_vars(b: &Body, out: &mut Vec<String>) {
    match b {
        Body::Literal(_) => {}
        Body::Whole(name) => out.push(name.clone()),
        Body::Text(t) => out.extend(t.vars().map(str::to_string)),
        Body::Array(items) => items.iter().for_each(|i| body_vars(i, out)),
        Body::Object(members) => members.iter().for_each(|(_, m)| body_vars(m, out)),
    }
}

/// Renders `t` for `input` (the validated request body; a non-object input
/// has no variables).
pub fn render(t: &Template, input: &Value) -> Result<RenderedRequest, TemplateError> {
    let url = match t.url.whole_var() {
        Some(_) => render_url(&t.url, input)?,
        None => render_split_url(t, input)?,
    };
    let mut headers = Vec::with_capacity(t.headers.len());
    for (name, text) in &t.headers {
        let field = format!("header `{name}`");
        let value = render_text(text, input, &field, |s, out| out.push_str(s))?;
        if value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(TemplateError {
                message: format!("input would put a control character into {field}"),
            });
        }
        headers.push((name.clone(), value));
    }
    let body = match &t.body {
        Some(b) => render_body(b, input)?,
        None => None,
    };
    Ok(RenderedRequest {
        method: t.method.clone(),
        url,
        headers,
        body,
    })
}

fn missing(name: &str, field: &str) -> TemplateError {
    TemplateError {
        message: format!("missing input `{name}` required by the {field} template"),
    }
}

fn render_url(t: &Text, input: &Value) -> Result<String, TemplateError> {
    if let Some(name) = t.whole_var() {
        let v = input.get(name).ok_or_else(|| missing(name, "url"))?;
        let Some(s) = v.as_str() else {
            return Err(TemplateError {
                message: format!(
                    "input `{name}` is used as the URL and must be a string, found {}",
                    v.type_name()
                ),
            });
        };
        check_http_url(s).map_err(|e| TemplateError {
            message: format!("input `{name}`: {e}"),
        })?;
        return Ok(s.to_string());
    }
    render_text(t, input, "url", percent_encode_into)
}

/// Renders the path, then each query parameter whose variables are all
/// present (the others are left out).
fn render_split_url(t: &Template, input: &Value) -> Result<String, TemplateError> {
    let mut url = render_text(&t.url_base, input, "url", percent_encode_into)?;
    if let Some(params) = &t.url_query {
        let mut kept = Vec::with_capacity(params.len());
        for p in params {
            if p.vars().all(|v| input.get(v).is_some_and(|x| !x.is_null())) {
                kept.push(render_text(p, input, "url", percent_encode_into)?);
            }
        }
        if !kept.is_empty() {
            url.push('?');
            url.push_str(&kept.join("&"));
        }
    }
    Ok(url)
}

/// Renders text pieces; `put` writes one variable's text (encoded or not).
fn render_text(
    t: &Text,
    input: &Value,
    field: &str,
    put: impl Fn(&str, &mut String),
) -> Result<String, TemplateError> {
    let mut out = String::new();
    for p in &t.pieces {
        match p {
            Piece::Lit(s) => out.push_str(s),
            Piece::Var(name) => {
                let v = input.get(name).ok_or_else(|| missing(name, field))?;
                put(&scalar_text(name, v, field)?, &mut out);
            }
            Piece::PathVar(name) => {
                let v = input.get(name).ok_or_else(|| missing(name, field))?;
                let text = scalar_text(name, v, field)?;
                for (i, seg) in text.split('/').enumerate() {
                    if seg.is_empty() || seg == "." || seg == ".." {
                        return Err(TemplateError {
                            message: format!(
                                "input `{name}`: path segments must not be empty, `.` or `..`"
                            ),
                        });
                    }
                    if i > 0 {
                        out.push('/');
                    }
                    percent_encode_segment_into(seg, &mut out);
                }
            }
        }
    }
    Ok(out)
}

/// The text form of a string, number or boolean input.
fn scalar_text(name: &str, v: &Value, field: &str) -> Result<String, TemplateError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(Number::Int(i)) => Ok(i.to_string()),
        Value::Number(Number::Float(_)) => Ok(v.to_json()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(TemplateError {
            message: format!(
                "input `{name}` in the {field} template must be a string, number or boolean, found {}",
                other.type_name()
            ),
        }),
    }
}

/// Like `percent_encode_into`, but keeps `@` and `:`, which RFC 3986
/// allows in a path segment and some APIs need literally (`@scope/pkg`).
fn percent_encode_segment_into(s: &str, out: &mut String) {
    for part in s.split_inclusive(['@', ':']) {
        match part.strip_suffix(['@', ':']) {
            Some(head) => {
                percent_encode_into(head, out);
                out.push_str(&part[head.len()..]);
            }
            None => percent_encode_into(part, out),
        }
    }
}

/// `s` percent-encoded as an embedded URL variable is (for redaction).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    percent_encode_into(s, &mut out);
    out
}

/// Percent-encodes every byte except RFC 3986 unreserved characters.
fn percent_encode_into(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

/// Renders a body node; `None` means "left out" (an absent variable).
fn render_body(b: &Body, input: &Value) -> Result<Option<Value>, TemplateError> {
    Ok(match b {
        Body::Literal(v) => Some(v.clone()),
        Body::Whole(name) => input.get(name).cloned(),
        Body::Text(t) => {
            if t.vars().any(|name| input.get(name).is_none()) {
                None
            } else {
                Some(Value::String(render_text(t, input, "body", |s, out| {
                    out.push_str(s)
                })?))
            }
        }
        Body::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                if let Some(v) = render_body(item, input)? {
                    out.push(v);
                }
            }
            Some(Value::Array(out))
        }
        Body::Object(members) => {
            let mut out = json::Map::new();
            for (k, m) in members {
                if let Some(v) = render_body(m, input)? {
                    out.insert(k.clone(), v);
                }
            }
            Some(Value::Object(out))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::obj;

    fn hdr(n: &str, v: &str) -> (String, String) {
        (n.to_string(), v.to_string())
    }

    fn github() -> Template {
        Template::parse(
            "POST",
            "https://api.github.com/repos/{{owner}}/{{repo}}/issues",
            &[hdr("Accept", "application/vnd.github+json")],
            Some(r#"{"title":"{{title}}","body":"{{body}}","labels":["{{label}}","fixed"],"note":"by {{owner}}"}"#),
        )
        .unwrap()
    }

    #[test]
    fn percent_encodes_embedded_vars_including_slash() {
        let r = render(
            &github(),
            &obj! { "owner" => "a/b c", "repo" => "x?y#z%", "title" => "t" },
        )
        .unwrap();
        assert_eq!(
            r.url,
            "https://api.github.com/repos/a%2Fb%20c/x%3Fy%23z%25/issues"
        );
        let r = render(
            &github(),
            &obj! { "owner" => "ü:@", "repo" => "A-z_0.9~", "title" => "t" },
        )
        .unwrap();
        assert_eq!(
            r.url,
            "https://api.github.com/repos/%C3%BC%3A%40/A-z_0.9~/issues"
        );
        assert_eq!(r.method, "POST");
        assert_eq!(
            r.headers,
            vec![hdr("Accept", "application/vnd.github+json")]
        );
    }

    #[test]
    fn numbers_and_bools_render_as_text() {
        let t = Template::parse("GET", "https://h.org/{{n}}/{{f}}?b={{b}}", &[], None).unwrap();
        let r = render(&t, &obj! { "n" => 42, "f" => 1.5, "b" => true }).unwrap();
        assert_eq!(r.url, "https://h.org/42/1.5?b=true");
        assert!(render(&t, &obj! { "n" => Value::Null, "f" => 1, "b" => true }).is_err());
        assert!(render(&t, &obj! { "n" => obj! {}, "f" => 1, "b" => true }).is_err());
    }

    #[test]
    fn whole_var_url_is_used_as_is() {
        let t =
            Template::parse("GET", "{{url}}", &[hdr("Accept", "application/json")], None).unwrap();
        let r = render(&t, &obj! { "url" => "https://httpbin.org/get?a=1&b=%20" }).unwrap();
        assert_eq!(r.url, "https://httpbin.org/get?a=1&b=%20");
        assert_eq!(r.body, None);
        let e = render(&t, &obj! { "url" => 5 }).unwrap_err();
        assert!(e.message.contains("must be a string"), "{}", e.message);
        assert!(render(&t, &obj! { "url" => "file:///etc/passwd" }).is_err());
    }

    #[test]
    fn missing_url_var_is_an_error_naming_it() {
        let e = render(&github(), &obj! { "owner" => "o", "title" => "t" }).unwrap_err();
        assert!(e.message.contains("`repo`"), "{}", e.message);
        assert!(e.message.contains("url"), "{}", e.message);
        let t = Template::parse("GET", "{{url}}", &[], None).unwrap();
        assert!(render(&t, &obj! {}).unwrap_err().message.contains("`url`"));
        // A non-object input has no variables.
        assert!(render(&t, &Value::from("https://x.org")).is_err());
    }

    #[test]
    fn absent_optional_body_var_removes_member_and_element() {
        let r = render(
            &github(),
            &obj! { "owner" => "o", "repo" => "r", "title" => "T" },
        )
        .unwrap();
        let body = r.body.unwrap();
        let m = body.as_object().unwrap();
        assert_eq!(m.get("title"), Some(&Value::from("T")));
        assert!(!m.contains_key("body"));
        assert_eq!(
            m.get("labels"),
            Some(&Value::Array(vec![Value::from("fixed")]))
        );
        assert_eq!(m.get("note"), Some(&Value::from("by o")));
        // The embedded-text member is removed too when its variable is absent.
        let t = Template::parse(
            "POST",
            "https://h.org/",
            &[],
            Some(r#"{"a":"x {{v}}","b":1}"#),
        )
        .unwrap();
        let r = render(&t, &obj! {}).unwrap();
        assert_eq!(r.body, Some(obj! { "b" => 1 }));
        // A whole-variable body that is absent means no body.
        let t = Template::parse("POST", "https://h.org/", &[], Some(r#""{{payload}}""#)).unwrap();
        assert_eq!(render(&t, &obj! {}).unwrap().body, None);
    }

    #[test]
    fn typed_body_var_keeps_json_type() {
        let t = Template::parse(
            "POST",
            "https://h.org/",
            &[],
            Some(r#"{"n":"{{n}}","o":"{{o}}","s":"{{s}}","z":"{{z}}","lit":[1,true,null]}"#),
        )
        .unwrap();
        let input = obj! { "n" => 7, "o" => obj! { "k" => Value::Array(vec![Value::from(1)]) }, "s" => "7", "z" => Value::Null };
        let body = render(&t, &input).unwrap().body.unwrap();
        assert_eq!(body.get("n"), Some(&Value::from(7)));
        assert_eq!(body.get("o"), input.get("o"));
        assert_eq!(body.get("s"), Some(&Value::from("7")));
        assert_eq!(body.get("z"), Some(&Value::Null));
        assert_eq!(
            body.get("lit"),
            Some(&Value::Array(vec![
                Value::from(1),
                Value::Bool(true),
                Value::Null
            ]))
        );
    }

    #[test]
    fn substituted_values_are_not_rescanned() {
        let input = obj! { "owner" => "{{repo}}", "repo" => "r", "title" => "{{owner}}" };
        let r = render(&github(), &input).unwrap();
        assert_eq!(
            r.url,
            "https://api.github.com/repos/%7B%7Brepo%7D%7D/r/issues"
        );
        assert_eq!(
            r.body.unwrap().get("title"),
            Some(&Value::from("{{owner}}"))
        );
    }

    #[test]
    fn header_vars_missing_or_injecting() {
        let t = Template::parse(
            "GET",
            "https://h.org/",
            &[hdr("X-Trace", "id-{{trace}}")],
            None,
        )
        .unwrap();
        assert_eq!(
            render(&t, &obj! { "trace" => "a/b" }).unwrap().headers,
            vec![hdr("X-Trace", "id-a/b")]
        );
        assert!(render(&t, &obj! {})
            .unwrap_err()
            .message
            .contains("`trace`"));
        assert!(render(&t, &obj! { "trace" => "x\r\nEvil: 1" }).is_err());
    }

    #[test]
    fn load_errors_name_the_field() {
        let e = Template::parse("FETCH", "https://h.org/", &[], None).unwrap_err();
        assert_eq!(e.field, "method");
        for url in [
            "ftp://h.org/",
            "h.org/{{x}}",
            "{{base}}/x",
            "https://h.org/{{ x }}",
            "https://h.org/{{x",
            "https://h .org/",
            "https://{{a-b}}/",
        ] {
            let e = Template::parse("GET", url, &[], None).unwrap_err();
            assert_eq!(e.field, "url", "{url}");
        }
        let e = Template::parse("GET", "https://h.org/", &[hdr("A", "{{}}")], None).unwrap_err();
        assert_eq!(e.field, "headers.A");
        let e = Template::parse("GET", "https://h.org/", &[hdr("A", "x\ny")], None).unwrap_err();
        assert_eq!(e.field, "headers.A");
        let e = Template::parse("GET", "https://h.org/", &[], Some("{not json")).unwrap_err();
        assert_eq!(e.field, "body");
        let e = Template::parse("GET", "https://h.org/", &[], Some(r#"{"{{k}}":1}"#)).unwrap_err();
        assert_eq!(e.field, "body");
    }

    #[test]
    fn path_vars_keep_slashes_but_never_climb() {
        let t = Template::parse(
            "GET",
            "https://api.x.io/v1/{{+endpoint}}?q={{q}}",
            &[],
            None,
        )
        .unwrap();
        let r = render(
            &t,
            &obj! { "endpoint" => "page/summary/Rust lang", "q" => "a b" },
        )
        .unwrap();
        assert_eq!(
            r.url,
            "https://api.x.io/v1/page/summary/Rust%20lang?q=a%20b"
        );
        let r = render(&t, &obj! { "endpoint" => "@types/node:x" }).unwrap();
        assert_eq!(r.url, "https://api.x.io/v1/@types/node:x");
        for bad in ["../admin", "a/../../b", "a//b", "/abs", "a/", "."] {
            let e = render(&t, &obj! { "endpoint" => bad }).unwrap_err();
            assert!(e.message.contains("path segments"), "{bad}: {e}");
        }
        // `?` and `#` in a path input are encoded, never a query.
        let r = render(&t, &obj! { "endpoint" => "a?x=1#f" }).unwrap();
        assert_eq!(r.url, "https://api.x.io/v1/a%3Fx%3D1%23f");
        assert!(Template::parse("GET", "https://x.io/a?q={{+q}}", &[], None).is_err());
        assert!(Template::parse(
            "GET",
            "https://x.io/a",
            &[("X".into(), "{{+h}}".into())],
            None
        )
        .is_err());
    }

    #[test]
    fn query_params_with_absent_vars_are_left_out() {
        let t = Template::parse(
            "GET",
            "https://slack.com/api/conversations.history?channel={{channel}}&limit={{limit}}&fixed=1",
            &[],
            None,
        )
        .unwrap();
        let r = render(&t, &obj! { "channel" => "C1" }).unwrap();
        assert_eq!(
            r.url,
            "https://slack.com/api/conversations.history?channel=C1&fixed=1"
        );
        let r = render(&t, &obj! { "channel" => "C1", "limit" => 5 }).unwrap();
        assert_eq!(
            r.url,
            "https://slack.com/api/conversations.history?channel=C1&limit=5&fixed=1"
        );
        let t = Template::parse(
            "GET",
            "https://api.vercel.com/v6/deployments?limit={{limit}}",
            &[],
            None,
        )
        .unwrap();
        assert_eq!(
            render(&t, &obj! {}).unwrap().url,
            "https://api.vercel.com/v6/deployments"
        );
        // A path variable is still required.
        let t = Template::parse("GET", "https://x.io/{{id}}?a={{a}}", &[], None).unwrap();
        assert!(render(&t, &obj! { "a" => 1 }).is_err());
    }

    #[test]
    fn lists_variables() {
        assert_eq!(
            github().variables(),
            ["body", "label", "owner", "repo", "title"]
        );
    }
}
