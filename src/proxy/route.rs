//! Credential routes: `http://127.0.0.1:PORT/<name>/...` reverse-proxied
//! to the route's https upstream with the real key injected.
//!
//! Order: target (origin-form or absolute-form naming the proxy itself) ->
//! route by first path segment (404) -> session token (401) -> path and
//! body framing checks (400) -> resolve, connect, TLS (502) -> request
//! head with credentials stripped and the key injected -> body streamed
//! -> response head relayed without hop-by-hop fields -> body streamed
//! piece by piece as it arrives. The key is only ever written to the
//! upstream TLS stream; the buffer that held it is wiped.

use super::body::{self, Framing};
use super::conn::AgentReader;
use super::event::{self, Event};
use super::head::{self, RequestHead};
use super::{reply, token, upstream, Route, Shared, CONNECT_TIMEOUT};
use crate::egress::Url;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Instant;

/// Request fields never forwarded: credentials (the agent's token and
/// anything it tries to authenticate with), proxy fields, hop-by-hop
/// fields, and framing the proxy writes itself.
const STRIPPED_REQUEST: &[&str] = &[
    "authorization",
    "x-api-key",
    "proxy-authorization",
    token::TOKEN_HEADER,
    // The gateway's provider selector and transaction token.
    "x-provider",
    "txn-token",
    "proxy-connection",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "host",
    "content-length",
    "transfer-encoding",
    "expect",
];

/// Response fields never relayed: hop-by-hop and framing.
const STRIPPED_RESPONSE: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "transfer-encoding",
    "content-length",
];

/// Most interim (1xx) responses skipped before the final one.
const MAX_INTERIM: usize = 8;

/// A credential route ready to serve.
pub struct Prepared {
    /// The configured route and its key.
    pub route: Route,
    /// The parsed upstream URL.
    pub url: Url,
    /// The upstream's path prefix, without a trailing `/`.
    pub base: String,
}

/// Checks a route's configuration once, at start.
pub fn prepare(route: Route) -> Result<Prepared, String> {
    let r = &route.route;
    let name_ok = !r.name.is_empty()
        && r.name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !name_ok {
        return Err(format!("credential route {:?}: bad name", r.name));
    }
    let url = Url::parse(&r.upstream)
        .map_err(|e| format!("credential route {}: upstream: {e}", r.name))?;
    if url.scheme != crate::egress::Scheme::Https || url.path.contains(['?', '#']) {
        return Err(format!(
            "credential route {}: upstream must be https://host[/path]",
            r.name
        ));
    }
    if !head::is_token(&r.header)
        || !r.format.contains("{}")
        || r.format.chars().any(char::is_control)
    {
        return Err(format!(
            "credential route {}: bad header name or format",
            r.name
        ));
    }
    let base = url.path.trim_end_matches('/').to_string();
    Ok(Prepared { route, url, base })
}

/// Where a request target points.
#[derive(Debug, PartialEq, Eq)]
enum Target<'a> {
    /// A path (with its query) on the proxy itself.
    Local(&'a str, Option<&'a str>),
    /// Plain-HTTP proxying to another host.
    Foreign(&'a str),
    /// Not a target the proxy serves.
    Bad,
}

/// Serves one non-CONNECT request. True when the connection may carry
/// another request.
pub(super) fn handle(
    agent: &UnixStream,
    reader: &mut BufReader<AgentReader>,
    req: &RequestHead,
    shared: &Shared,
) -> bool {
    let started = Instant::now();
    let (path, query) = match split_target(&req.target) {
        Target::Local(p, q) => (p, q),
        Target::Foreign(host) => {
            // Like a refused CONNECT: no byte back (a reset for the agent).
            shared.emit(Event::Denied {
                target: without_query(&req.target).to_string(),
                reason: event::HOST_NOT_ALLOWED,
                detail: format!("plain HTTP to {host} is not proxied (HTTPS via CONNECT only)"),
            });
            return false;
        }
        Target::Bad => {
            reply::refuse(agent, 400, "bad_request", "unsupported request target");
            return false;
        }
    };
    let (name, rest) = split_route(path);
    let Some(route) = shared.routes.iter().find(|r| r.route.route.name == name) else {
        shared.emit(Event::Denied {
            target: path.to_string(),
            reason: event::ROUTE_NOT_FOUND,
            detail: format!("no credential route named {name:?}"),
        });
        let message = format!("no credential route named {name:?} in this sandbox");
        reply::refuse(agent, 404, event::ROUTE_NOT_FOUND, &message);
        return false;
    };
    let authorized = shared
        .token
        .as_deref()
        .is_some_and(|t| token::presented(&req.headers, &route.route.route, t));
    if !authorized {
        shared.emit(Event::Denied {
            target: path.to_string(),
            reason: event::PROXY_TOKEN_INVALID,
            detail: format!("route {name}: missing or wrong session token"),
        });
        let message = "missing or wrong session token (LATCHGATE_PROXY_TOKEN)";
        reply::refuse(agent, 401, event::PROXY_TOKEN_INVALID, message);
        return false;
    }
    let mut outcome = Outcome::default();
    let keep = match shared.tls.as_ref() {
        Some(tls) => {
            let ctx = Upstreams {
                tls,
                egress: &shared.egress,
                idle: shared.idle,
            };
            forward(
                agent,
                reader,
                req,
                route,
                (rest, query),
                &ctx,
                &mut |_| {},
                &mut outcome,
            )
        }
        None => {
            reply::refuse(agent, 502, "upstream_unavailable", "no TLS configuration");
            false
        }
    };
    shared.emit(Event::Route {
        route: name.to_string(),
        method: req.method.clone(),
        path: path.to_string(),
        status: outcome.status,
        bytes_up: outcome.up,
        bytes_down: outcome.down,
        duration: started.elapsed(),
    });
    keep
}

/// What a forwarded request did, for its event.
pub struct Outcome {
    /// Status sent to the client (502 until the upstream answered, 4xx for
    /// a refused request).
    pub status: u16,
    /// The error code when the request itself was refused (bad path,
    /// framing, method or body): the client's fault, not the upstream's.
    pub refused: Option<&'static str>,
    /// Request body bytes sent upstream.
    pub up: u64,
    /// Response body bytes relayed to the client.
    pub down: u64,
}

impl Default for Outcome {
    fn default() -> Outcome {
        Outcome {
            status: 502,
            refused: None,
            up: 0,
            down: 0,
        }
    }
}

/// How upstreams are reached: TLS roots, the `[egress]` rules, and how
/// long a connection may sit without traffic.
pub struct Upstreams<'a> {
    /// rustls client configuration (webpki roots plus `ca_file`).
    pub tls: &'a std::sync::Arc<rustls::ClientConfig>,
    /// `[egress]`: static hosts, private address rules.
    pub egress: &'a crate::egress::EgressConfig,
    /// Idle timeout on the upstream socket.
    pub idle: std::time::Duration,
}

/// The authenticated part, shared with `latchgate gateway`: checks, the
/// upstream request with the client's credentials stripped and the key
/// injected, then the response relayed as it arrives. `dest` is the path
/// under the route and the query; `tap` sees each piece of the request
/// body (decoded) as it goes upstream. True when the client connection
/// may carry another request.
#[allow(clippy::too_many_arguments)]
pub fn forward(
    agent: &UnixStream,
    reader: &mut BufReader<AgentReader>,
    req: &RequestHead,
    route: &Prepared,
    dest: (&str, Option<&str>),
    ctx: &Upstreams,
    tap: &mut dyn FnMut(&[u8]),
    out: &mut Outcome,
) -> bool {
    let (rest, query) = dest;
    let refuse_with = |out: &mut Outcome, status: u16, code: &'static str, message: &str| {
        out.status = status;
        out.refused = Some(code);
        reply::refuse(agent, status, code, message);
        false
    };
    let refuse = |out: &mut Outcome, message: &str| refuse_with(out, 400, "bad_request", message);
    // The key is injected into whatever goes upstream: a method that makes
    // a server reflect the request (TRACE) or reinterpret it (CONNECT)
    // would hand the key back to the client.
    if !FORWARDED_METHODS.contains(&req.method.as_str()) {
        let message = format!(
            "method {} is not forwarded; allowed: {}",
            req.method.chars().take(32).collect::<String>(),
            FORWARDED_METHODS.join(", ")
        );
        return refuse_with(out, 405, "method_not_allowed", &message);
    }
    if !safe_path(rest) {
        return refuse(
            out,
            "dot segments and backslashes are not allowed in a route path",
        );
    }
    let framing = match body::request_framing(&req.headers) {
        Ok(f) => f,
        Err(why) => return refuse(out, why),
    };
    let unavailable = |message: String| {
        reply::refuse(agent, 502, "upstream_unavailable", &message);
        false
    };
    let tls = ctx.tls;
    let url = &route.url;
    let host = url.bare_host();
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    let connected = upstream::resolve_checked(host, url.ip, url.port, ctx.egress, deadline)
        .and_then(|addrs| upstream::connect(&addrs, deadline))
        .and_then(|sock| upstream::handshake(sock, host, url.ip, tls, deadline, ctx.idle));
    let mut up = match connected {
        Ok(s) => s,
        Err(e) => return unavailable(format!("cannot reach {}: {e}", url.host)),
    };
    if req.headers.has_token("expect", "100-continue") && reply::continue_100(agent).is_err() {
        return false;
    }
    let mut head = upstream_head(req, route, rest, query, framing);
    let sent = up.write_all(&head).and_then(|_| up.flush());
    wipe(&mut head);
    if let Err(e) = sent {
        return unavailable(format!("{}: sending the request: {e}", url.host));
    }
    let mut upw = SideWriter {
        inner: &mut up,
        failed: false,
    };
    let body_sent = match framing {
        Framing::Length(n) => body::copy_length(reader, &mut upw, n, tap),
        Framing::Chunked => body::copy_chunked(reader, &mut upw, true, tap),
        Framing::None | Framing::UntilClose => Ok(0),
    };
    match body_sent {
        Ok(n) => out.up = n,
        Err(e) if upw.failed => {
            return unavailable(format!("{}: relaying the request body: {e}", url.host))
        }
        // Not the upstream: the client's body was malformed, cut short or
        // too slow. The upstream connection is dropped with it.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
        {
            let message = format!("the request body did not arrive in time: {e}");
            return refuse_with(out, 408, "request_timeout", &message);
        }
        Err(e) => return refuse(out, &format!("malformed or truncated request body: {e}")),
    }
    let mut upr = BufReader::with_capacity(body::PIECE, up);
    let resp = match final_response(&mut upr) {
        Ok(r) => r,
        Err(why) => return unavailable(format!("{}: {why}", url.host)),
    };
    let framing = match body::response_framing(&resp.headers, resp.status, &req.method) {
        Ok(f) => f,
        Err(why) => return unavailable(format!("{}: {why}", url.host)),
    };
    out.status = resp.status;
    // Keep-alive only with a length-delimited response to an HTTP/1.1
    // client that did not ask to close.
    let keep = req.http11
        && !req.headers.has_token("connection", "close")
        && framing != Framing::UntilClose;
    let mut w = agent;
    let head = response_head(&resp, framing, keep);
    if w.write_all(head.as_bytes())
        .and_then(|_| w.flush())
        .is_err()
    {
        return false;
    }
    let relayed = match framing {
        Framing::None => Ok(0),
        Framing::Length(n) => body::copy_length(&mut upr, &mut w, n, &mut |_| {}),
        Framing::Chunked => body::copy_chunked(&mut upr, &mut w, req.http11, &mut |_| {}),
        Framing::UntilClose => body::copy_until_close(&mut upr, &mut w),
    };
    match relayed {
        Ok(n) => {
            out.down = n;
            keep
        }
        Err(_) => false,
    }
}

/// Methods a credential route forwards (RFC 9110's, without TRACE and
/// CONNECT).
pub const FORWARDED_METHODS: [&str; 7] =
    ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// The upstream side of a body copy, remembering whether a write failed so
/// that a failed copy can be blamed on the right side.
struct SideWriter<'a, W: Write> {
    inner: &'a mut W,
    failed: bool,
}

impl<W: Write> Write for SideWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let r = self.inner.write(buf);
        self.failed |= r.is_err();
        r
    }
    fn flush(&mut self) -> io::Result<()> {
        let r = self.inner.flush();
        self.failed |= r.is_err();
        r
    }
}

/// Reads response heads until a final (non-1xx) one.
fn final_response<R: BufRead>(r: &mut R) -> Result<head::ResponseHead, String> {
    for _ in 0..=MAX_INTERIM {
        let resp = head::read_response(r).map_err(|e| format!("no valid response: {e}"))?;
        match resp.status {
            101 => return Err("unexpected protocol switch".into()),
            100..=199 => continue,
            _ => return Ok(resp),
        }
    }
    Err("too many interim responses".into())
}

/// Origin-form (`/name/...`) or absolute-form naming the proxy itself
/// (`http://127.0.0.1:3128/name/...`, `localhost`, `[::1]`, any port).
fn split_target(target: &str) -> Target<'_> {
    let local = if target.starts_with('/') {
        target
    } else if let Some(rest) = strip_prefix_ci(target, "http://") {
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let host = match authority.rfind(':') {
            Some(i) if !authority.ends_with(']') => authority.get(..i).unwrap_or_default(),
            _ => authority,
        };
        let host_lc = host.to_ascii_lowercase();
        if authority.contains('@') {
            return Target::Bad;
        }
        if !matches!(host_lc.as_str(), "127.0.0.1" | "localhost" | "[::1]") {
            return Target::Foreign(authority);
        }
        tail
    } else if target.contains("://") {
        return Target::Foreign(target);
    } else {
        return Target::Bad;
    };
    if local.contains('#') {
        return Target::Bad;
    }
    match local.split_once('?') {
        Some((p, q)) => Target::Local(if p.is_empty() { "/" } else { p }, Some(q)),
        None => Target::Local(if local.is_empty() { "/" } else { local }, None),
    }
}

/// A target without its query (queries may carry anything: not logged).
fn without_query(target: &str) -> &str {
    target.split('?').next().unwrap_or(target)
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

/// `/name/rest` -> (`name`, `/rest`); `/name` -> (`name`, ``).
fn split_route(path: &str) -> (&str, &str) {
    let p = path.strip_prefix('/').unwrap_or(path);
    match p.find('/') {
        Some(i) => p.split_at(i),
        None => (p, ""),
    }
}

/// No `.`/`..` segments (also percent-encoded) and no backslashes: the
/// path stays under the route's base path on the upstream.
fn safe_path(rest: &str) -> bool {
    if rest.contains('\\') {
        return false;
    }
    rest.split('/').all(|seg| {
        let seg = seg.to_ascii_lowercase().replace("%2e", ".");
        seg != "." && seg != ".." && !seg.contains("%5c")
    })
}

/// The upstream request head: the key goes in here (and only here).
fn upstream_head(
    req: &RequestHead,
    route: &Prepared,
    rest: &str,
    query: Option<&str>,
    framing: Framing,
) -> Vec<u8> {
    let mut path = format!("{}{}", route.base, rest);
    if path.is_empty() {
        path.push('/');
    }
    if let Some(q) = query {
        path.push('?');
        path.push_str(q);
    }
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(format!("{} {path} HTTP/1.1\r\n", req.method).as_bytes());
    out.extend_from_slice(format!("Host: {}\r\n", route.url.authority()).as_bytes());
    let named = req.headers.list("connection");
    let cfg = &route.route.route;
    for (name, value) in &req.headers.0 {
        let lower = name.to_ascii_lowercase();
        let stripped = STRIPPED_REQUEST.contains(&lower.as_str())
            || named.contains(&lower)
            || lower.eq_ignore_ascii_case(&cfg.header);
        if !stripped {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
    }
    match framing {
        Framing::Length(n) => out.extend_from_slice(format!("Content-Length: {n}\r\n").as_bytes()),
        Framing::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        Framing::None | Framing::UntilClose => {}
    }
    out.extend_from_slice(b"Connection: close\r\n");
    // The credential last, into reserved room: no reallocation can leave
    // a copy of the key behind in freed memory.
    let key = route.route.key.expose().as_bytes();
    let uses = cfg.format.matches("{}").count();
    out.reserve(cfg.header.len() + cfg.format.len() + key.len() * uses + 8);
    out.extend_from_slice(cfg.header.as_bytes());
    out.extend_from_slice(b": ");
    let mut parts = cfg.format.split("{}");
    out.extend_from_slice(parts.next().unwrap_or_default().as_bytes());
    for part in parts {
        out.extend_from_slice(key);
        out.extend_from_slice(part.as_bytes());
    }
    out.extend_from_slice(b"\r\n\r\n");
    out
}

/// The response head for the agent: the upstream's status and fields
/// minus hop-by-hop ones, with the framing the relay will use.
fn response_head(resp: &head::ResponseHead, framing: Framing, keep: bool) -> String {
    let mut out = format!("HTTP/1.1 {} {}\r\n", resp.status, resp.reason);
    let named = resp.headers.list("connection");
    for (name, value) in &resp.headers.0 {
        let lower = name.to_ascii_lowercase();
        // A body-less response (HEAD, 304) keeps the upstream's length: it
        // describes the representation, not this message.
        let keep_length = framing == Framing::None && lower == "content-length";
        if (STRIPPED_RESPONSE.contains(&lower.as_str()) || named.contains(&lower)) && !keep_length {
            continue;
        }
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    match framing {
        Framing::Length(n) => out.push_str(&format!("content-length: {n}\r\n")),
        // An HTTP/1.0 client gets the data close-delimited (keep is false).
        Framing::Chunked if keep => out.push_str("transfer-encoding: chunked\r\n"),
        _ => {}
    }
    if !keep {
        out.push_str("connection: close\r\n");
    }
    out.push_str("\r\n");
    out
}

/// Overwrites a buffer that held a key before it is freed.
fn wipe(buf: &mut Vec<u8>) {
    for b in buf.iter_mut() {
        *b = 0;
    }
    std::hint::black_box(&buf);
    buf.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::head::Headers;

    fn headers_of(list: &[(&str, &str)]) -> Headers {
        Headers(
            list.iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn targets() {
        use Target::*;
        assert_eq!(split_target("/a/b?x=1"), Local("/a/b", Some("x=1")));
        assert_eq!(split_target("/a"), Local("/a", None));
        assert_eq!(
            split_target("http://127.0.0.1:3128/anthropic/v1/messages"),
            Local("/anthropic/v1/messages", None)
        );
        assert_eq!(split_target("HTTP://LocalHost/x?q"), Local("/x", Some("q")));
        assert_eq!(split_target("http://[::1]:3128/x"), Local("/x", None));
        assert_eq!(split_target("http://127.0.0.1:3128"), Local("/", None));
        assert_eq!(
            split_target("http://127.0.0.1:3128?a"),
            Local("/", Some("a"))
        );
        assert_eq!(
            split_target("http://evil.com/anthropic/x"),
            Foreign("evil.com")
        );
        assert_eq!(split_target("http://127.0.0.2/x"), Foreign("127.0.0.2"));
        assert_eq!(
            split_target("http://127.0.0.1.evil.com/x"),
            Foreign("127.0.0.1.evil.com")
        );
        assert_eq!(
            split_target("https://api.openai.com/v1"),
            Foreign("https://api.openai.com/v1")
        );
        assert_eq!(split_target("http://u@127.0.0.1/x"), Bad);
        assert_eq!(split_target("*"), Bad);
        assert_eq!(split_target("/a#frag"), Bad);
    }

    #[test]
    fn routes_and_paths() {
        assert_eq!(
            split_route("/anthropic/v1/messages"),
            ("anthropic", "/v1/messages")
        );
        assert_eq!(split_route("/anthropic"), ("anthropic", ""));
        assert_eq!(split_route("/anthropic/"), ("anthropic", "/"));
        assert_eq!(split_route("/"), ("", ""));
        assert!(safe_path("/v1/messages"));
        assert!(safe_path(""));
        assert!(safe_path("/v1/files/a.b..c"));
        for bad in [
            "/..",
            "/../admin",
            "/v1/./x",
            "/%2e%2e/x",
            "/%2E./x",
            "/a\\b",
            "/a%5cb",
            "/.%2e",
        ] {
            assert!(!safe_path(bad), "{bad}");
        }
    }

    fn prepared(upstream: &str, header: &str, format: &str) -> Prepared {
        prepare(Route {
            route: crate::sandbox::CredentialRoute {
                name: "openai".into(),
                upstream: upstream.into(),
                header: header.into(),
                format: format.into(),
                key_source: crate::sandbox::KeySource::Env("K".into()),
            },
            key: crate::secrets::SecretValue::new("sk-real".into()).unwrap(),
        })
        .unwrap()
    }

    #[test]
    fn prepare_refuses_bad_routes() {
        let route = |name: &str, upstream: &str, header: &str, format: &str| Route {
            route: crate::sandbox::CredentialRoute {
                name: name.into(),
                upstream: upstream.into(),
                header: header.into(),
                format: format.into(),
                key_source: crate::sandbox::KeySource::Env("K".into()),
            },
            key: crate::secrets::SecretValue::new("k".into()).unwrap(),
        };
        assert!(prepare(route("a", "https://x.test/v1/", "x-api-key", "{}")).is_ok());
        for (n, u, h, f) in [
            ("", "https://x.test", "x-api-key", "{}"),
            ("a/b", "https://x.test", "x-api-key", "{}"),
            ("a", "http://x.test", "x-api-key", "{}"),
            ("a", "https://x.test/?q", "x-api-key", "{}"),
            ("a", "not a url", "x-api-key", "{}"),
            ("a", "https://x.test", "x api key", "{}"),
            ("a", "https://x.test", "x-api-key", "Bearer"),
            ("a", "https://x.test", "x-api-key", "{}\r\nX-Evil: 1"),
        ] {
            assert!(prepare(route(n, u, h, f)).is_err(), "{n} {u} {h} {f:?}");
        }
    }

    #[test]
    fn upstream_head_strips_and_injects() {
        let route = prepared("https://api.openai.com/v1/", "Authorization", "Bearer {}");
        assert_eq!(route.base, "/v1");
        let req = RequestHead {
            method: "POST".into(),
            target: "/openai/chat/completions?stream=true".into(),
            http11: true,
            headers: headers_of(&[
                ("Host", "127.0.0.1:3128"),
                ("Authorization", "Bearer tok"),
                ("X-Api-Key", "tok"),
                ("X-LatchGate-Proxy-Token", "tok"),
                ("Proxy-Authorization", "Basic x"),
                ("Proxy-Connection", "keep-alive"),
                ("Connection", "keep-alive, X-Hop"),
                ("X-Hop", "1"),
                ("Keep-Alive", "timeout=5"),
                ("TE", "trailers"),
                ("Upgrade", "h2c"),
                ("Expect", "100-continue"),
                ("Content-Type", "application/json"),
                ("Content-Length", "2"),
                ("anthropic-version", "2023-06-01"),
            ]),
        };
        let head = upstream_head(
            &req,
            &route,
            "/chat/completions",
            Some("stream=true"),
            Framing::Length(2),
        );
        let text = String::from_utf8(head).unwrap();
        assert_eq!(
            text,
            "POST /v1/chat/completions?stream=true HTTP/1.1\r\n\
             Host: api.openai.com\r\n\
             Content-Type: application/json\r\n\
             anthropic-version: 2023-06-01\r\n\
             Content-Length: 2\r\n\
             Connection: close\r\n\
             Authorization: Bearer sk-real\r\n\r\n"
        );
        let root = prepared("https://api.anthropic.com", "x-api-key", "{}");
        assert_eq!(root.base, "");
        let req = RequestHead {
            method: "GET".into(),
            target: "/anthropic".into(),
            http11: true,
            headers: Headers::default(),
        };
        let text =
            String::from_utf8(upstream_head(&req, &root, "", None, Framing::Chunked)).unwrap();
        assert_eq!(
            text,
            "GET / HTTP/1.1\r\nHost: api.anthropic.com\r\nTransfer-Encoding: chunked\r\nConnection: close\r\nx-api-key: sk-real\r\n\r\n"
        );
        let port = prepared("https://mirror.test:8443/base", "x-api-key", "{}");
        let text =
            String::from_utf8(upstream_head(&req, &port, "/x", None, Framing::None)).unwrap();
        assert!(
            text.starts_with("GET /base/x HTTP/1.1\r\nHost: mirror.test:8443\r\n"),
            "{text}"
        );
    }

    #[test]
    fn response_head_drops_hop_by_hop() {
        let resp = head::ResponseHead {
            status: 200,
            reason: "OK".into(),
            headers: headers_of(&[
                ("Content-Type", "text/event-stream"),
                ("Transfer-Encoding", "chunked"),
                ("Connection", "keep-alive, X-Hop"),
                ("X-Hop", "1"),
                ("Keep-Alive", "timeout=5"),
                ("request-id", "req_1"),
            ]),
        };
        assert_eq!(
            response_head(&resp, Framing::Chunked, true),
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nrequest-id: req_1\r\ntransfer-encoding: chunked\r\n\r\n"
        );
        assert_eq!(
            response_head(&resp, Framing::Chunked, false),
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nrequest-id: req_1\r\nconnection: close\r\n\r\n"
        );
        let head_resp = head::ResponseHead {
            status: 200,
            reason: "OK".into(),
            headers: headers_of(&[("Content-Length", "42")]),
        };
        assert_eq!(
            response_head(&head_resp, Framing::None, true),
            "HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n"
        );
        assert_eq!(
            response_head(&head_resp, Framing::Length(42), true),
            "HTTP/1.1 200 OK\r\ncontent-length: 42\r\n\r\n"
        );
    }

    // ---- real sockets: agent on a Unix socket, TLS upstream on loopback ----

    use super::super::testkit::{
        closed_without_a_byte, egress_to, read_response, route as test_route, Harness, Seen, Step,
        Upstream, KEY, TOKEN,
    };
    use super::super::ProxyConfig;
    use std::io::Read;
    use std::sync::mpsc;
    use std::time::Duration;

    /// A proxy with an anthropic-style and an openai-style route, both
    /// upstream hosts mapped to `up` (names the fixture certificate has).
    fn proxy_to(up: &Upstream) -> Harness {
        proxy_with(up.port, Duration::from_secs(30))
    }

    fn proxy_with(port: u16, idle: Duration) -> Harness {
        Harness::start(ProxyConfig {
            routes: vec![
                test_route("anthropic", "https://upstream.test", "x-api-key", "{}"),
                test_route(
                    "openai",
                    "https://api.example.test/v1",
                    "Authorization",
                    "Bearer {}",
                ),
            ],
            token: Some(TOKEN.into()),
            egress: egress_to(&[("upstream.test", port), ("api.example.test", port)]),
            idle_timeout: idle,
            ..ProxyConfig::deny_all()
        })
    }

    fn ok_reply(body: &str) -> Vec<Step> {
        vec![Step::Send(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
        )]
    }

    /// One request on a new agent connection: status, fields, body.
    fn send(h: &Harness, request: &str) -> (head::ResponseHead, String) {
        let a = h.agent();
        (&a).write_all(request.as_bytes()).unwrap();
        let mut r = BufReader::new(&a);
        let method = request.split(' ').next().unwrap_or("GET");
        let (resp, body) = read_response(&mut r, method);
        (resp, String::from_utf8(body).unwrap())
    }

    /// The upstream request carries the real key, and nothing of the token.
    fn assert_clean(seen: &Seen) {
        let text = seen.head_text();
        assert!(!text.contains(TOKEN), "token leaked upstream: {text}");
        assert!(seen.header(TOKEN_HEADER_NAME).is_empty());
        assert!(seen.header("proxy-authorization").is_empty());
    }
    const TOKEN_HEADER_NAME: &str = token::TOKEN_HEADER;

    #[test]
    fn the_token_is_accepted_in_each_place_and_replaced_by_the_key() {
        let up = Upstream::start(vec![
            ok_reply("{\"a\":1}"),
            ok_reply("{}"),
            ok_reply("{}"),
            ok_reply("{}"),
        ]);
        let h = proxy_to(&up);
        let body = "{\"model\":\"m\"}";
        let cases = [
            ("anthropic", format!("X-LatchGate-Proxy-Token: {TOKEN}")),
            ("anthropic", format!("x-api-key: {TOKEN}")),
            ("anthropic", format!("Authorization: Bearer {TOKEN}")),
            ("openai", format!("Authorization: Bearer {TOKEN}")),
        ];
        for (name, auth) in &cases {
            let (resp, _) = send(
                &h,
                &format!(
                    "POST /{name}/v1/messages?beta=true HTTP/1.1\r\nHost: 127.0.0.1:3128\r\n{auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                ),
            );
            assert_eq!(resp.status, 200, "{name} {auth}");
            let seen = up.next();
            assert_clean(&seen);
            assert_eq!(seen.body, body.as_bytes());
            if *name == "anthropic" {
                assert_eq!(seen.head.target, "/v1/messages?beta=true");
                assert_eq!(seen.header("host"), ["upstream.test"]);
                assert_eq!(seen.header("x-api-key"), [KEY]);
                assert!(seen.header("authorization").is_empty());
            } else {
                assert_eq!(seen.head.target, "/v1/v1/messages?beta=true");
                assert_eq!(seen.header("host"), ["api.example.test"]);
                assert_eq!(seen.header("authorization"), [format!("Bearer {KEY}")]);
                assert!(seen.header("x-api-key").is_empty());
            }
        }
        let events = h.wait_events(4);
        assert!(
            events.iter().any(|e| matches!(
                e,
                Event::Route { route, method, path, status: 200, bytes_up: 13, bytes_down: 7, .. }
                    if route == "anthropic" && method == "POST" && path == "/anthropic/v1/messages"
            )),
            "{events:?}"
        );
    }

    #[test]
    fn a_wrong_or_missing_token_is_401_and_nothing_goes_upstream() {
        let up = Upstream::start(vec![ok_reply("{}")]);
        let h = proxy_to(&up);
        for auth in [
            String::new(),
            "x-api-key: sk-ant-the-agents-own-key\r\n".to_string(),
            format!("x-api-key: {}\r\n", &TOKEN[..63]),
            format!("Authorization: Basic {TOKEN}\r\n"),
            format!("Proxy-Authorization: Bearer {TOKEN}\r\n"),
        ] {
            let (resp, body) = send(
                &h,
                &format!("GET /anthropic/v1/models HTTP/1.1\r\n{auth}\r\n"),
            );
            assert_eq!(resp.status, 401, "{auth}");
            assert!(resp.headers.has_token("content-type", "application/json"));
            let v = crate::json::parse(body.as_bytes()).unwrap();
            let code = v
                .get("error")
                .and_then(|e| e.get("code"))
                .and_then(|c| c.as_str());
            assert_eq!(code, Some("proxy_token_invalid"), "{body}");
        }
        assert!(up.try_next(Duration::from_millis(200)).is_none());
        let events = h.wait_events(5);
        assert!(events
            .iter()
            .all(|e| matches!(e, Event::Denied { reason, target, .. }
            if *reason == event::PROXY_TOKEN_INVALID && target == "/anthropic/v1/models")));
    }

    #[test]
    fn an_unknown_route_is_404_json() {
        let up = Upstream::start(vec![]);
        let h = proxy_to(&up);
        let (resp, body) = send(
            &h,
            &format!(
                "GET /gemini/v1/models?key=x HTTP/1.1\r\nX-LatchGate-Proxy-Token: {TOKEN}\r\n\r\n"
            ),
        );
        assert_eq!(resp.status, 404);
        let v = crate::json::parse(body.as_bytes()).unwrap();
        let code = v
            .get("error")
            .and_then(|e| e.get("code"))
            .and_then(|c| c.as_str());
        assert_eq!(code, Some("route_not_found"));
        let events = h.wait_events(1);
        assert!(matches!(&events[0], Event::Denied { reason, target, .. }
            if *reason == event::ROUTE_NOT_FOUND && target == "/gemini/v1/models"));
    }

    #[test]
    fn absolute_form_requests_work_and_foreign_hosts_are_reset() {
        let up = Upstream::start(vec![ok_reply("{}")]);
        let h = proxy_to(&up);
        let (resp, _) = send(
            &h,
            &format!("GET http://127.0.0.1:3128/anthropic/v1/models?limit=2 HTTP/1.1\r\nHost: 127.0.0.1:3128\r\nProxy-Connection: keep-alive\r\nx-api-key: {TOKEN}\r\n\r\n"),
        );
        assert_eq!(resp.status, 200);
        let seen = up.next();
        assert_eq!(seen.head.target, "/v1/models?limit=2");
        assert_eq!(seen.header("host"), ["upstream.test"]);
        assert!(seen.header("proxy-connection").is_empty());
        // Plain HTTP to anywhere else: refused like a CONNECT, no byte back.
        let mut a = h.agent();
        a.write_all(
            format!("GET http://example.com/anthropic/x HTTP/1.1\r\nx-api-key: {TOKEN}\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
        assert!(closed_without_a_byte(&a));
        let events = h.wait_events(2);
        assert!(events.iter().any(
            |e| matches!(e, Event::Denied { reason, .. } if *reason == event::HOST_NOT_ALLOWED)
        ));
    }

    #[test]
    fn credentials_and_hop_by_hop_fields_are_stripped() {
        let up = Upstream::start(vec![ok_reply("{}")]);
        let h = proxy_to(&up);
        let (resp, _) = send(
            &h,
            &format!(
                "GET /anthropic/v1/models HTTP/1.1\r\n\
                 Host: 127.0.0.1:3128\r\n\
                 x-api-key: {TOKEN}\r\n\
                 X-Api-Key: sk-ant-agent-supplied\r\n\
                 Authorization: Bearer sk-other\r\n\
                 Proxy-Authorization: Basic abc\r\n\
                 Proxy-Connection: keep-alive\r\n\
                 Connection: keep-alive, X-Hop\r\n\
                 X-Hop: secret-hop\r\n\
                 Keep-Alive: timeout=5\r\n\
                 TE: trailers\r\n\
                 Trailer: X-T\r\n\
                 Upgrade: h2c\r\n\
                 anthropic-version: 2023-06-01\r\n\
                 User-Agent: Anthropic/Python 0.40.0\r\n\r\n"
            ),
        );
        assert_eq!(resp.status, 200);
        let seen = up.next();
        assert_clean(&seen);
        assert_eq!(seen.header("x-api-key"), [KEY]);
        for gone in [
            "authorization",
            "proxy-connection",
            "x-hop",
            "keep-alive",
            "te",
            "trailer",
            "upgrade",
        ] {
            assert!(seen.header(gone).is_empty(), "{gone} forwarded");
        }
        assert!(!seen.head_text().contains("sk-ant-agent-supplied"));
        assert!(!seen.head_text().contains("sk-other"));
        assert_eq!(seen.header("connection"), ["close"]);
        assert_eq!(seen.header("anthropic-version"), ["2023-06-01"]);
        assert_eq!(seen.header("user-agent"), ["Anthropic/Python 0.40.0"]);
    }

    #[test]
    fn a_chunked_request_body_is_streamed_through() {
        let up = Upstream::start(vec![ok_reply("{}")]);
        let h = proxy_to(&up);
        let a = h.agent();
        let mut w = &a;
        w.write_all(
            format!(
                "POST /openai/chat/completions HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
        let mut r = BufReader::new(&a);
        // Expect: 100-continue is answered before the body is sent.
        let interim = head::read_response(&mut r).unwrap();
        assert_eq!(interim.status, 100);
        w.write_all(b"7;x=y\r\n{\"a\":1,\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        w.write_all(b"8\r\n\"b\":[2]}\r\n0\r\nX-Trailer: 1\r\n\r\n")
            .unwrap();
        let (resp, _) = read_response(&mut r, "POST");
        assert_eq!(resp.status, 200);
        let seen = up.next();
        assert!(seen.chunked);
        assert_eq!(seen.body, b"{\"a\":1,\"b\":[2]}");
        assert_eq!(seen.head.target, "/v1/chat/completions");
        assert!(seen.header("expect").is_empty());
        let events = h.wait_events(1);
        assert!(
            matches!(
                &events[0],
                Event::Route {
                    bytes_up: 15,
                    status: 200,
                    ..
                }
            ),
            "{events:?}"
        );
    }

    /// The upstream sends the head and a first event, then waits for the
    /// test; the agent must see the first event before the second is sent.
    fn streams_in_pieces(head: &str, first: &[u8], rest: &[u8]) {
        let (go, wait) = mpsc::channel();
        let up = Upstream::start(vec![vec![
            Step::Send([head.as_bytes(), first].concat()),
            Step::Wait(wait),
            Step::Send(rest.to_vec()),
        ]]);
        let h = proxy_to(&up);
        let a = h.agent();
        (&a).write_all(
            format!("POST /anthropic/v1/messages HTTP/1.1\r\nx-api-key: {TOKEN}\r\nContent-Length: 2\r\n\r\n{{}}").as_bytes(),
        )
        .unwrap();
        let mut r = BufReader::new(&a);
        let resp = head::read_response(&mut r).unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(
            resp.headers.all("content-type").collect::<Vec<_>>(),
            ["text/event-stream"]
        );
        let mut got = Vec::new();
        read_until(&mut r, &mut got, b"event: message_start");
        assert!(
            !got.windows(5).any(|w| w == b"delta"),
            "second event came too early"
        );
        go.send(()).unwrap();
        read_until(&mut r, &mut got, b"event: content_block_delta");
    }

    /// Reads into `got` until it contains `needle` (the test fails when it
    /// does not arrive within the socket timeout).
    fn read_until<R: Read>(r: &mut R, got: &mut Vec<u8>, needle: &[u8]) {
        let mut buf = [0u8; 4096];
        while !got.windows(needle.len()).any(|w| w == needle) {
            let n = r.read(&mut buf).expect("the event did not arrive in time");
            assert!(n > 0, "closed early");
            got.extend_from_slice(&buf[..n]);
        }
    }

    const EVENT_1: &[u8] = b"event: message_start\ndata: {\"type\":\"message_start\"}\n\n";
    const EVENT_2: &[u8] =
        b"event: content_block_delta\ndata: {\"type\":\"content_block_delta\"}\n\n";

    fn chunk(data: &[u8]) -> Vec<u8> {
        [format!("{:x}\r\n", data.len()).as_bytes(), data, b"\r\n"].concat()
    }

    #[test]
    fn a_chunked_sse_response_reaches_the_agent_event_by_event() {
        streams_in_pieces(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
            &chunk(EVENT_1),
            &[chunk(EVENT_2), b"0\r\n\r\n".to_vec()].concat(),
        );
    }

    #[test]
    fn a_close_delimited_sse_response_is_streamed_too() {
        streams_in_pieces(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n",
            EVENT_1,
            EVENT_2,
        );
    }

    #[test]
    fn a_fixed_length_response_is_streamed_too() {
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\n\r\n",
            EVENT_1.len() + EVENT_2.len()
        );
        streams_in_pieces(&head, EVENT_1, EVENT_2);
    }

    #[test]
    fn keep_alive_serves_several_requests_on_one_connection() {
        let up = Upstream::start(vec![
            ok_reply("{\"n\":1}"),
            vec![Step::Send(
                b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n".to_vec(),
            )],
            ok_reply("{\"n\":3}"),
        ]);
        let h = proxy_to(&up);
        let a = h.agent();
        let mut r = BufReader::new(&a);
        let mut w = &a;
        let req =
            |m: &str| format!("{m} /anthropic/v1/models HTTP/1.1\r\nx-api-key: {TOKEN}\r\n\r\n");
        w.write_all(req("GET").as_bytes()).unwrap();
        let (resp, body) = read_response(&mut r, "GET");
        assert_eq!((resp.status, body), (200, b"{\"n\":1}".to_vec()));
        assert!(!resp.headers.has_token("connection", "close"));
        // HEAD: the upstream's length is kept, no body follows.
        w.write_all(req("HEAD").as_bytes()).unwrap();
        let (resp, body) = read_response(&mut r, "HEAD");
        assert_eq!(
            resp.headers.all("content-length").collect::<Vec<_>>(),
            ["7"]
        );
        assert!(body.is_empty());
        w.write_all(req("GET").as_bytes()).unwrap();
        let (resp, body) = read_response(&mut r, "GET");
        assert_eq!((resp.status, body), (200, b"{\"n\":3}".to_vec()));
        for _ in 0..3 {
            assert_clean(&up.next());
        }
        assert_eq!(h.wait_events(3).len(), 3);
    }

    #[test]
    fn an_idle_keep_alive_connection_is_closed() {
        let up = Upstream::start(vec![ok_reply("{}")]);
        let h = proxy_with(up.port, Duration::from_millis(200));
        let a = h.agent();
        (&a).write_all(
            format!("GET /anthropic/x HTTP/1.1\r\nx-api-key: {TOKEN}\r\n\r\n").as_bytes(),
        )
        .unwrap();
        let mut r = BufReader::new(&a);
        assert_eq!(read_response(&mut r, "GET").0.status, 200);
        let start = std::time::Instant::now();
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
        assert!(start.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn an_unreachable_upstream_is_502_without_secrets() {
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let h = proxy_with(closed, Duration::from_secs(30));
        let (resp, body) = send(
            &h,
            &format!("POST /anthropic/v1/messages HTTP/1.1\r\nx-api-key: {TOKEN}\r\nContent-Length: 2\r\n\r\n{{}}"),
        );
        assert_eq!(resp.status, 502);
        let v = crate::json::parse(body.as_bytes()).unwrap();
        let code = v
            .get("error")
            .and_then(|e| e.get("code"))
            .and_then(|c| c.as_str());
        assert_eq!(code, Some("upstream_unavailable"), "{body}");
        assert!(body.contains("upstream.test"), "{body}");
        assert!(!body.contains(KEY) && !body.contains(TOKEN));
        let events = h.wait_events(1);
        assert!(matches!(&events[0], Event::Route { status: 502, .. }));
        assert!(!format!("{events:?}").contains(KEY));
    }

    #[test]
    fn traversal_and_smuggling_shapes_are_refused_with_400() {
        let up = Upstream::start(vec![]);
        let h = proxy_to(&up);
        for req in [
            format!("GET /openai/../admin HTTP/1.1\r\nx-latchgate-proxy-token: {TOKEN}\r\n\r\n"),
            format!("GET /openai/%2e%2e/admin HTTP/1.1\r\nx-latchgate-proxy-token: {TOKEN}\r\n\r\n"),
            format!("POST /openai/x HTTP/1.1\r\nx-latchgate-proxy-token: {TOKEN}\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
            format!("POST /openai/x HTTP/1.1\r\nx-latchgate-proxy-token: {TOKEN}\r\nTransfer-Encoding: gzip\r\n\r\n"),
        ] {
            let (resp, _) = send(&h, &req);
            assert_eq!(resp.status, 400, "{req}");
        }
        assert!(up.try_next(Duration::from_millis(200)).is_none());
    }

    #[test]
    fn methods_that_reflect_or_tunnel_are_refused_with_405() {
        let up = Upstream::start(vec![]);
        let h = proxy_to(&up);
        for method in ["TRACE", "PROPFIND", "TRACK"] {
            let req =
                format!("{method} /anthropic/v1/messages HTTP/1.1\r\nx-api-key: {TOKEN}\r\n\r\n");
            let (resp, body) = send(&h, &req);
            assert_eq!(resp.status, 405, "{method}: {body}");
            assert!(body.contains("method_not_allowed"), "{body}");
        }
        assert!(up.try_next(Duration::from_millis(200)).is_none());
    }

    #[test]
    fn a_malformed_request_body_is_400_not_502() {
        for body in [
            // Chunk size that is not hex.
            "zz\r\nab\r\n0\r\n\r\n",
            // Chunk data longer than its size.
            "2\r\nabcdef\r\n0\r\n\r\n",
            // Cut short: the client half-closes in the middle of a chunk.
            "10\r\nabc",
        ] {
            let up = Upstream::start(vec![ok_reply("{}")]);
            let h = proxy_to(&up);
            let a = h.agent();
            let req = format!(
                "POST /anthropic/v1/messages HTTP/1.1\r\nx-api-key: {TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n{body}"
            );
            (&a).write_all(req.as_bytes()).unwrap();
            a.shutdown(std::net::Shutdown::Write).unwrap();
            let mut r = BufReader::new(&a);
            let (resp, text) = read_response(&mut r, "POST");
            let text = String::from_utf8_lossy(&text).into_owned();
            assert_eq!(resp.status, 400, "{body:?}: {text}");
            assert!(text.contains("bad_request"), "{text}");
            let events = h.wait_events(1);
            assert!(
                matches!(&events[0], Event::Route { status: 400, .. }),
                "{events:?}"
            );
        }
    }
}
