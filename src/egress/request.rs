//! Building the HTTP/1.1 request head: validation, header stripping, and
//! the headers the gate always sets itself (and, for a request the host
//! signs, which headers are signed).

use super::error::{EgressError, BAD_REQUEST_HEADER};
use super::url::Url;

/// Most headers a provider may pass.
pub const MAX_REQUEST_HEADERS: usize = 100;
/// Largest request head, in bytes.
pub const MAX_REQUEST_HEAD: usize = 64 * 1024;

/// Provider headers that are dropped before sending: credentials (only the
/// host injects those), framing and connection control (the gate sets
/// them), and hop-by-hop headers that could switch protocols.
const STRIPPED: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-amz-security-token",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// True when a provider header of this name must not be sent.
fn is_stripped(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    // The reference strips every X-Amz-*-Token, not only the security token.
    let amz_token = lower.starts_with("x-amz-") && lower.ends_with("-token");
    amz_token || STRIPPED.contains(&lower.as_str())
}

/// RFC 9110 token characters (method and header names).
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn bad(message: String) -> EgressError {
    EgressError::new(BAD_REQUEST_HEADER, message)
}

/// Method: a token of at most 32 bytes.
fn check_method(method: &str) -> Result<(), EgressError> {
    if method.is_empty() || method.len() > 32 || !method.bytes().all(is_tchar) {
        return Err(bad("method is not a valid HTTP token".into()));
    }
    Ok(())
}

/// Header name must be a token; the value may hold visible ASCII, space,
/// tab and non-ASCII text, never CR, LF, NUL or other control bytes. The
/// error names the header, never the value (it may be a secret).
fn check_header(name: &str, value: &str) -> Result<(), EgressError> {
    if name.is_empty() || name.len() > 256 || !name.bytes().all(is_tchar) {
        // Quote only what is safe to show: the name is not a secret, but
        // escaping keeps CR/LF out of logs.
        return Err(bad(format!(
            "invalid header name {:?}",
            name.escape_debug().to_string()
        )));
    }
    let ctl = value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f);
    if ctl {
        return Err(bad(format!(
            "header {name} has a control character in its value"
        )));
    }
    Ok(())
}

/// Builds the request head. Provider headers are validated (all of them,
/// even ones that are then stripped), then filtered; secret headers follow,
/// then Content-Length (when there is a body), Connection: close and a
/// User-Agent when none was given. Provider headers that share a name with
/// a secret header are dropped so the secret one is the only copy.
pub fn build_head(
    method: &str,
    url: &Url,
    provider: &[(String, String)],
    secret: &[(String, String)],
    body_len: Option<usize>,
) -> Result<Vec<u8>, EgressError> {
    check_method(method)?;
    if provider.len() > MAX_REQUEST_HEADERS {
        return Err(bad(format!(
            "more than {MAX_REQUEST_HEADERS} request headers"
        )));
    }
    for (name, value) in provider.iter().chain(secret) {
        check_header(name, value)?;
    }
    let kept = kept(provider, secret);
    let has_agent = kept
        .iter()
        .map(|(name, _)| name)
        .chain(secret.iter().map(|(name, _)| name))
        .any(|name| name.eq_ignore_ascii_case("user-agent"));

    let mut head = Vec::with_capacity(512);
    push_line(&mut head, &format!("{method} {} HTTP/1.1", url.path));
    push_header(&mut head, "Host", &url.authority());
    for (name, value) in kept.iter().copied().chain(secret) {
        push_header(&mut head, name, value);
    }
    if let Some(len) = body_len {
        push_header(&mut head, "Content-Length", &len.to_string());
    }
    push_header(&mut head, "Connection", "close");
    if !has_agent {
        push_header(
            &mut head,
            "User-Agent",
            concat!("latchgate/", env!("CARGO_PKG_VERSION")),
        );
    }
    head.extend_from_slice(b"\r\n");
    if head.len() > MAX_REQUEST_HEAD {
        wipe(&mut head);
        return Err(bad(format!(
            "request head larger than {MAX_REQUEST_HEAD} bytes"
        )));
    }
    Ok(head)
}

/// The provider headers `build_head` sends: neither stripped nor
/// replaced by a secret header of the same name.
fn kept<'a>(
    provider: &'a [(String, String)],
    secret: &[(String, String)],
) -> Vec<&'a (String, String)> {
    let overridden = |name: &str| secret.iter().any(|(s, _)| s.eq_ignore_ascii_case(name));
    provider
        .iter()
        .filter(|(name, _)| !is_stripped(name) && !overridden(name))
        .collect()
}

/// For a request the host signs with AWS SigV4: the headers to sign, i.e.
/// every header `build_head` will send except the ones the gate adds
/// (Host and the signer's own are added by the signer; Content-Length,
/// Connection and User-Agent are left unsigned). A provider `x-amz-*`
/// header is refused: that namespace belongs to the signer (S3 rejects an
/// unsigned one, and a signed one would let the provider choose what the
/// operator's key vouches for).
pub fn signable_headers(
    provider: &[(String, String)],
    secret: &[(String, String)],
) -> Result<Vec<(String, String)>, EgressError> {
    if let Some((name, _)) = provider
        .iter()
        .find(|(n, _)| n.to_ascii_lowercase().starts_with("x-amz-"))
    {
        return Err(bad(format!(
            "header {} is refused: x-amz-* headers are set by the host's AWS signer",
            name.escape_debug()
        )));
    }
    let mut out: Vec<(String, String)> = kept(provider, secret)
        .into_iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("user-agent"))
        .cloned()
        .collect();
    out.extend(secret.iter().cloned());
    Ok(out)
}

fn push_line(head: &mut Vec<u8>, line: &str) {
    head.extend_from_slice(line.as_bytes());
    head.extend_from_slice(b"\r\n");
}

fn push_header(head: &mut Vec<u8>, name: &str, value: &str) {
    head.extend_from_slice(name.as_bytes());
    head.extend_from_slice(b": ");
    head.extend_from_slice(value.as_bytes());
    head.extend_from_slice(b"\r\n");
}

/// Overwrites a buffer that held secret header values before it is freed.
pub fn wipe(buf: &mut [u8]) {
    buf.fill(0);
    // Keep the stores from being optimised away as dead.
    std::hint::black_box(&buf);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::egress::url::parse;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn head_text(
        provider: &[(&str, &str)],
        secret: &[(&str, &str)],
        body: Option<usize>,
    ) -> String {
        let url = parse("https://api.example.com:8443/v1/x?y=1#frag").unwrap();
        let head = build_head("POST", &url, &h(provider), &h(secret), body).unwrap();
        String::from_utf8(head).unwrap()
    }

    #[test]
    fn layout_and_gate_headers() {
        let t = head_text(&[("Accept", "application/json")], &[], Some(3));
        assert_eq!(
            t,
            format!(
                "POST /v1/x?y=1 HTTP/1.1\r\nHost: api.example.com:8443\r\nAccept: application/json\r\n\
                 Content-Length: 3\r\nConnection: close\r\nUser-Agent: latchgate/{}\r\n\r\n",
                env!("CARGO_PKG_VERSION")
            )
        );
        let url = parse("https://a.com/").unwrap();
        let t = String::from_utf8(build_head("GET", &url, &[], &[], None).unwrap()).unwrap();
        assert!(t.starts_with("GET / HTTP/1.1\r\nHost: a.com\r\n"), "{t}");
        assert!(!t.contains("Content-Length"));
    }

    #[test]
    fn credential_and_framing_headers_are_stripped() {
        let t = head_text(
            &[
                ("Authorization", "Bearer provider"),
                ("proxy-authorization", "Basic x"),
                ("COOKIE", "a=b"),
                ("Set-Cookie", "c=d"),
                ("x-api-key", "k1"),
                ("X-Amz-Security-Token", "t1"),
                ("X-Amz-Session-Token", "t2"),
                ("Host", "evil.com"),
                ("Content-Length", "999"),
                ("Transfer-Encoding", "chunked"),
                ("Connection", "keep-alive"),
                ("Upgrade", "websocket"),
                ("TE", "trailers"),
                ("X-Custom", "kept"),
            ],
            &[],
            Some(0),
        );
        for gone in [
            "provider",
            "Basic",
            "a=b",
            "c=d",
            "k1",
            "t1",
            "t2",
            "evil",
            "999",
            "chunked",
            "keep-alive",
            "websocket",
            "trailers",
        ] {
            assert!(!t.contains(gone), "{gone} leaked: {t}");
        }
        assert!(t.contains("X-Custom: kept\r\n"));
        assert_eq!(t.matches("Host:").count(), 1);
    }

    #[test]
    fn secret_headers_win_over_provider_copies() {
        let t = head_text(
            &[("X-Token", "provider"), ("User-Agent", "agent/1")],
            &[("Authorization", "Bearer s"), ("x-token", "secret")],
            None,
        );
        assert!(t.contains("Authorization: Bearer s\r\n"));
        assert!(t.contains("x-token: secret\r\n"));
        assert!(!t.contains("provider"));
        assert!(t.contains("User-Agent: agent/1\r\n"));
        assert!(!t.contains("latchgate/"));
    }

    #[test]
    fn injection_is_refused_and_values_never_echoed() {
        let url = parse("https://a.com/").unwrap();
        type Headers = Vec<(String, String)>;
        let cases: Vec<(Headers, Headers)> = vec![
            (h(&[("X-A", "v\r\nX-Injected: 1")]), vec![]),
            (h(&[("X-A", "v\nx")]), vec![]),
            (h(&[("X-A", "v\0")]), vec![]),
            (h(&[("X-A\r\nX-B", "v")]), vec![]),
            (h(&[("X A", "v")]), vec![]),
            (h(&[("", "v")]), vec![]),
            (h(&[("X-A:", "v")]), vec![]),
            // Stripped headers are validated too.
            (h(&[("Cookie", "a\r\nb")]), vec![]),
            (vec![], h(&[("Authorization", "hunter2\r\nX: y")])),
        ];
        for (provider, secret) in cases {
            let e = build_head("GET", &url, &provider, &secret, None).unwrap_err();
            assert_eq!(e.code, BAD_REQUEST_HEADER);
            assert!(!e.message.contains("hunter2"), "{}", e.message);
        }
        for m in ["", "GET /", "G\r\nET", "GET\0"] {
            assert_eq!(
                build_head(m, &url, &[], &[], None).unwrap_err().code,
                BAD_REQUEST_HEADER
            );
        }
        let many: Vec<(String, String)> = (0..=MAX_REQUEST_HEADERS)
            .map(|i| (format!("X-{i}"), "v".into()))
            .collect();
        assert_eq!(
            build_head("GET", &url, &many, &[], None).unwrap_err().code,
            BAD_REQUEST_HEADER
        );
        let huge = h(&[("X-Big", &"v".repeat(MAX_REQUEST_HEAD))]);
        assert_eq!(
            build_head("GET", &url, &huge, &[], None).unwrap_err().code,
            BAD_REQUEST_HEADER
        );
    }

    #[test]
    fn tab_and_utf8_values_are_allowed() {
        let t = head_text(&[("X-A", "a\tb"), ("X-B", "caf\u{e9}")], &[], None);
        assert!(t.contains("X-A: a\tb\r\n"));
        assert!(t.contains("X-B: caf\u{e9}\r\n"));
    }

    #[test]
    fn signable_headers_refuse_amz_and_skip_gate_headers() {
        let provider = h(&[
            ("Content-Type", "text/plain"),
            ("User-Agent", "agent/1"),
            ("Authorization", "Bearer provider"),
            ("Host", "evil.example"),
            ("X-Token", "provider"),
        ]);
        let secret = h(&[("x-token", "secret")]);
        let got = signable_headers(&provider, &secret).unwrap();
        assert_eq!(
            got,
            h(&[("Content-Type", "text/plain"), ("x-token", "secret")])
        );
        for name in [
            "X-Amz-Acl",
            "x-amz-date",
            "X-AMZ-META-A",
            "x-amz-security-token",
        ] {
            let mut p = provider.clone();
            p.push((name.to_string(), "v".to_string()));
            let e = signable_headers(&p, &[]).unwrap_err();
            assert_eq!(e.code, BAD_REQUEST_HEADER, "{name}");
        }
    }

    #[test]
    fn wipe_zeroes() {
        let mut b = b"secret".to_vec();
        wipe(&mut b);
        assert_eq!(b, vec![0u8; 6]);
    }
}
