//! `Egress::send`: one HTTP/1.1 exchange, with every check in order.
//!
//! parse URL -> scheme -> port -> declared sink -> https for secrets ->
//! AWS SigV4 signature (when asked) -> request head validation -> resolve
//! -> every address allowed -> connect to a checked address -> TLS (SNI =
//! host) -> write -> read. No redirects: a 3xx is returned like any other
//! response.

use super::config::EgressConfig;
use super::error::{
    EgressError, CONNECT_FAILED, INSECURE_SECRET_TRANSPORT, PORT_NOT_ALLOWED, TIMEOUT, TLS_FAILED,
    UNDECLARED_SINK,
};
use super::request::{build_head, signable_headers, wipe};
use super::resolve::resolve_checked;
use super::response::read_response;
use super::sigv4::SigV4Signer;
use super::sinks::Sinks;
use super::stream::{is_timeout, Conn, DeadlineStream};
use super::tls::client_config;
use super::url::{self, Scheme, Url};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Instant;

/// A request as the provider asked for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    /// HTTP method token, e.g. `GET`.
    pub method: String,
    /// Absolute http or https URL.
    pub url: String,
    /// Provider headers; credential and framing headers are stripped.
    pub headers: Vec<(String, String)>,
    /// Request body; `Some` always sends a Content-Length.
    pub body: Option<Vec<u8>>,
}

/// The upstream's final response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code (3xx included: redirects are not followed).
    pub status: u16,
    /// Response headers in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked, at most `max_body` bytes.
    pub body: Vec<u8>,
    /// The normalised request URL (no fragment).
    pub url: String,
    /// The address actually connected to.
    pub peer: SocketAddr,
}

/// The gate's outbound HTTP client. Cheap to share: the TLS configuration
/// is built once and reference-counted.
#[derive(Clone)]
pub struct Egress {
    cfg: EgressConfig,
    tls: Arc<ClientConfig>,
}

impl std::fmt::Debug for Egress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Egress")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl Egress {
    /// Builds the client; fails when `ca_file` cannot be read or parsed
    /// (the message names the file).
    pub fn new(cfg: EgressConfig) -> Result<Egress, String> {
        let tls = client_config(cfg.ca_file.as_deref())?;
        Ok(Egress { cfg, tls })
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &EgressConfig {
        &self.cfg
    }

    /// Sends `req` to a declared sink and returns the response. Secret
    /// headers are added by the host after the provider's headers and are
    /// never echoed in errors. Everything, DNS included, is bounded by
    /// `deadline`; the body is capped at `max_body` bytes.
    pub fn send(
        &self,
        req: &HttpRequest,
        sinks: &Sinks,
        secret_headers: &[(String, String)],
        deadline: Instant,
        max_body: usize,
    ) -> Result<HttpResponse, EgressError> {
        self.send_signed(req, sinks, secret_headers, None, deadline, max_body)
    }

    /// [`Egress::send`], and with `sigv4` the final request is signed with
    /// AWS Signature Version 4 (see `sigv4.rs`) right before it leaves,
    /// under the rules of secret headers: https only, declared sinks only.
    /// A provider `x-amz-*` header is refused; a PUT or POST without a
    /// body is sent with `Content-Length: 0` (S3 needs a length).
    pub fn send_signed(
        &self,
        req: &HttpRequest,
        sinks: &Sinks,
        secret_headers: &[(String, String)],
        sigv4: Option<&SigV4Signer>,
        deadline: Instant,
        max_body: usize,
    ) -> Result<HttpResponse, EgressError> {
        let url = url::parse(&req.url)?;
        self.check_target(&url, sinks, !secret_headers.is_empty() || sigv4.is_some())?;
        let mut body_len = req.body.as_ref().map(Vec::len);
        // With a signer: the secret headers plus the three it computes.
        let mut signed: Vec<(String, String)> = Vec::new();
        if let Some(signer) = sigv4 {
            if body_len.is_none() && matches!(req.method.as_str(), "PUT" | "POST") {
                body_len = Some(0);
            }
            let mut to_sign = signable_headers(&req.headers, secret_headers)?;
            let result = signer.sign(
                &req.method,
                &url,
                &to_sign,
                req.body.as_deref().unwrap_or_default(),
                crate::time::unix_now(),
            );
            wipe_headers(&mut to_sign);
            let signature = result?;
            signed.extend_from_slice(secret_headers);
            signed.extend(signature);
        }
        let injected = if sigv4.is_some() {
            &signed
        } else {
            secret_headers
        };
        let head = build_head(&req.method, &url, &req.headers, injected, body_len);
        wipe_headers(&mut signed);
        let mut head = head?;
        let result = self.exchange(&url, &head, req, deadline, max_body);
        wipe(&mut head);
        result
    }

    /// Port, sink and transport checks: all before any network activity.
    /// `secrets`: the request carries secret headers or will be signed.
    fn check_target(&self, url: &Url, sinks: &Sinks, secrets: bool) -> Result<(), EgressError> {
        // Other ports only where the operator named the destination: a
        // static host, or an IP literal inside an `allow_private` range
        // (e.g. a local API on https://127.0.0.1:27124).
        let static_host = self.cfg.static_host(url.bare_host()).is_some();
        let allowed_private_ip = url.ip.is_some_and(|ip| self.cfg.in_allow_private(ip));
        if url.port != 80 && url.port != 443 && !static_host && !allowed_private_ip {
            return Err(EgressError::new(
                PORT_NOT_ALLOWED,
                format!(
                    "port {} is not 80 or 443 (other ports need an [egress.hosts] entry or an allow_private IP)",
                    url.port
                ),
            ));
        }
        if !sinks.allows(&url.host) {
            return Err(EgressError::new(
                UNDECLARED_SINK,
                format!("{} is not a declared sink", url.host),
            ));
        }
        if secrets && url.scheme != Scheme::Https {
            return Err(EgressError::new(
                INSECURE_SECRET_TRANSPORT,
                format!(
                    "secrets may only be sent over https, not to {}",
                    url.origin()
                ),
            ));
        }
        Ok(())
    }

    /// Resolve, connect, TLS, write, read.
    fn exchange(
        &self,
        url: &Url,
        head: &[u8],
        req: &HttpRequest,
        deadline: Instant,
        max_body: usize,
    ) -> Result<HttpResponse, EgressError> {
        let addrs = resolve_checked(url, &self.cfg, deadline)?;
        let (sock, peer) = connect(&addrs, deadline)?;
        let stream = DeadlineStream::new(sock, deadline);
        let mut conn = match url.scheme {
            Scheme::Http => Conn::Plain(stream),
            Scheme::Https => Conn::Tls(Box::new(self.handshake(url, stream)?)),
        };
        write_request(&mut conn, head, req.body.as_deref())?;
        let head_request = req.method.eq_ignore_ascii_case("HEAD");
        let resp = read_response(&mut conn, head_request, max_body)?;
        Ok(HttpResponse {
            status: resp.status,
            headers: resp.headers,
            body: resp.body,
            url: url.to_string(),
            peer,
        })
    }

    /// TLS with SNI (or the IP SAN for IP literals) set to the URL host.
    fn handshake(
        &self,
        url: &Url,
        mut stream: DeadlineStream,
    ) -> Result<StreamOwned<ClientConnection, DeadlineStream>, EgressError> {
        let name = match url.ip {
            Some(ip) => ServerName::IpAddress(ip.into()),
            None => ServerName::try_from(url.host.clone()).map_err(|e| {
                EgressError::new(
                    TLS_FAILED,
                    format!("invalid TLS server name {}: {e}", url.host),
                )
            })?,
        };
        let mut tls = ClientConnection::new(self.tls.clone(), name).map_err(|e| {
            EgressError::new(TLS_FAILED, format!("TLS setup for {}: {e}", url.host))
        })?;
        while tls.is_handshaking() {
            tls.complete_io(&mut stream).map_err(|e| {
                if is_timeout(&e) {
                    EgressError::new(
                        TIMEOUT,
                        format!("deadline passed in the TLS handshake with {}", url.host),
                    )
                } else {
                    EgressError::new(TLS_FAILED, format!("TLS handshake with {}: {e}", url.host))
                }
            })?;
        }
        Ok(StreamOwned::new(tls, stream))
    }
}

/// Overwrites header values (copies of secrets) before they are freed.
fn wipe_headers(headers: &mut Vec<(String, String)>) {
    for (_, value) in headers.drain(..) {
        wipe(&mut value.into_bytes());
    }
}

/// Connects to the first reachable checked address. Only addresses from
/// `addrs` are ever used, so what was checked is what is connected.
fn connect(
    addrs: &[SocketAddr],
    deadline: Instant,
) -> Result<(TcpStream, SocketAddr), EgressError> {
    let mut last = EgressError::new(CONNECT_FAILED, "no address to connect to");
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(EgressError::new(
                TIMEOUT,
                "deadline passed before connecting",
            ));
        }
        match TcpStream::connect_timeout(addr, left) {
            Ok(sock) => {
                // Small request heads should not wait for Nagle.
                let _ = sock.set_nodelay(true);
                return Ok((sock, *addr));
            }
            Err(e) if is_timeout(&e) => {
                last = EgressError::new(TIMEOUT, format!("deadline passed connecting to {addr}"));
            }
            Err(e) => last = EgressError::new(CONNECT_FAILED, format!("connect to {addr}: {e}")),
        }
    }
    Err(last)
}

/// Writes head and body. Error messages never include the data.
fn write_request(conn: &mut Conn, head: &[u8], body: Option<&[u8]>) -> Result<(), EgressError> {
    let result = conn
        .write_all(head)
        .and_then(|()| conn.write_all(body.unwrap_or_default()))
        .and_then(|()| conn.flush());
    result.map_err(|e| write_error(&e))
}

fn write_error(e: &io::Error) -> EgressError {
    if is_timeout(e) {
        return EgressError::new(TIMEOUT, "deadline passed while sending the request");
    }
    match e.kind() {
        io::ErrorKind::InvalidData => {
            EgressError::new(TLS_FAILED, format!("TLS error while sending: {e}"))
        }
        _ => EgressError::new(CONNECT_FAILED, format!("sending the request failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::egress::error::*;
    use crate::egress::ipclass::Cidr;
    use crate::egress::sigv4::RegionSource;
    use crate::egress::test_server::{start_plain, start_tls, Reply, FIXTURES};
    use std::path::PathBuf;
    use std::time::Duration;

    fn cfg(with_ca: bool, allow_loopback: bool) -> EgressConfig {
        EgressConfig {
            ca_file: with_ca.then(|| PathBuf::from(format!("{FIXTURES}/ca.pem"))),
            allow_private: if allow_loopback {
                vec![Cidr::parse("127.0.0.0/8").unwrap()]
            } else {
                vec![]
            },
            hosts: vec![
                ("upstream.test".into(), "127.0.0.1".parse().unwrap()),
                ("127.0.0.1".into(), "127.0.0.1".parse().unwrap()),
            ],
        }
    }

    fn egress() -> Egress {
        Egress::new(cfg(true, true)).unwrap()
    }

    fn sinks() -> Sinks {
        Sinks::parse(&["upstream.test", "127.0.0.1"]).unwrap()
    }

    fn get(url: String) -> HttpRequest {
        HttpRequest {
            method: "GET".into(),
            url,
            headers: vec![],
            body: None,
        }
    }

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    fn send(
        e: &Egress,
        req: &HttpRequest,
        secrets: &[(String, String)],
        max: usize,
    ) -> Result<HttpResponse, EgressError> {
        e.send(req, &sinks(), secrets, soon(), max)
    }

    #[test]
    fn tls_round_trip_strips_provider_credentials_and_sends_secrets() {
        let server = start_tls(Reply::Echo);
        let port = server.port;
        let req = HttpRequest {
            method: "POST".into(),
            url: format!("https://UPSTREAM.test:{port}/echo?x=1#frag"),
            headers: h(&[
                ("Authorization", "Bearer provider-token"),
                ("Proxy-Authorization", "Basic cHJveHk="),
                ("Cookie", "session=provider"),
                ("Set-Cookie", "sc=provider"),
                ("x-api-key", "provider-key"),
                ("X-Amz-Security-Token", "provider-amz"),
                ("Host", "evil.example"),
                ("Content-Length", "999"),
                ("Transfer-Encoding", "chunked"),
                ("Connection", "keep-alive"),
                ("X-Custom", "kept"),
            ]),
            body: Some(b"hello".to_vec()),
        };
        let secrets = h(&[("Authorization", "Bearer s3cret")]);
        let resp = send(&egress(), &req, &secrets, 1 << 20).unwrap();
        let received = server.request();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body, received, "echo mismatch");
        assert_eq!(resp.peer, format!("127.0.0.1:{port}").parse().unwrap());
        assert_eq!(resp.url, format!("https://upstream.test:{port}/echo?x=1"));

        let text = String::from_utf8(received).unwrap();
        assert!(text.starts_with("POST /echo?x=1 HTTP/1.1\r\n"), "{text}");
        assert!(
            text.contains(&format!("\r\nHost: upstream.test:{port}\r\n")),
            "{text}"
        );
        assert!(
            text.contains("\r\nAuthorization: Bearer s3cret\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nX-Custom: kept\r\n"), "{text}");
        assert!(text.contains("\r\nContent-Length: 5\r\n"), "{text}");
        assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
        assert!(text.contains("\r\nUser-Agent: latchgate/"), "{text}");
        assert!(text.ends_with("\r\n\r\nhello"), "{text}");
        for leaked in [
            "provider",
            "cHJveHk=",
            "evil.example",
            "999",
            "chunked",
            "keep-alive",
        ] {
            assert!(!text.contains(leaked), "{leaked} was sent: {text}");
        }
        assert_eq!(
            text.to_ascii_lowercase().matches("authorization:").count(),
            1
        );
    }

    #[test]
    fn tls_fails_without_the_test_ca() {
        let server = start_tls(Reply::Echo);
        let e = Egress::new(cfg(false, true)).unwrap();
        let err = send(
            &e,
            &get(format!("https://upstream.test:{}/", server.port)),
            &[],
            1024,
        )
        .unwrap_err();
        assert_eq!(err.code, TLS_FAILED, "{err}");
        assert!(err.message.contains("certificate"), "{err}");
        // Nothing was sent over the rejected connection.
        assert!(server.request().is_empty());
    }

    #[test]
    fn ip_literal_uses_the_ip_san() {
        let server = start_tls(Reply::Echo);
        let resp = send(
            &egress(),
            &get(format!("https://127.0.0.1:{}/ip", server.port)),
            &[],
            1 << 16,
        )
        .unwrap();
        assert_eq!(resp.status, 200);
        let text = String::from_utf8(server.request()).unwrap();
        assert!(
            text.contains(&format!("\r\nHost: 127.0.0.1:{}\r\n", resp.peer.port())),
            "{text}"
        );
    }

    #[test]
    fn loopback_refused_without_allow_private() {
        let e = Egress::new(cfg(true, false)).unwrap();
        let err = send(&e, &get("https://upstream.test:8443/".into()), &[], 1024).unwrap_err();
        assert_eq!(err.code, PRIVATE_ADDRESS);
        assert!(err.message.contains("127.0.0.1"), "{}", err.message);
    }

    #[test]
    fn undeclared_sink_is_refused_before_any_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let only_other = Sinks::parse(&["other.test"]).unwrap();
        let req = get(format!("https://upstream.test:{port}/"));
        let err = egress()
            .send(&req, &only_other, &[], soon(), 1024)
            .unwrap_err();
        assert_eq!(err.code, UNDECLARED_SINK);
        assert!(err.message.contains("upstream.test"));
        // No connection reached the listener.
        let pending = listener.accept().map(|_| ()).map_err(|e| e.kind());
        assert_eq!(pending, Err(std::io::ErrorKind::WouldBlock));
        // Control: the same request with the sink declared does connect.
        // The listener never accepts, so the TLS handshake hits the deadline.
        let err = egress()
            .send(
                &req,
                &sinks(),
                &[],
                Instant::now() + Duration::from_millis(200),
                1024,
            )
            .unwrap_err();
        assert_eq!(err.code, TIMEOUT, "{err}");
        std::thread::sleep(Duration::from_millis(50));
        assert!(listener.accept().is_ok());
    }

    #[test]
    fn redirects_are_not_followed() {
        let server = start_tls(Reply::Raw(
            b"HTTP/1.1 302 Found\r\nLocation: https://upstream.test/elsewhere\r\nContent-Length: 3\r\n\r\nbye".to_vec(),
        ));
        let resp = send(
            &egress(),
            &get(format!("https://upstream.test:{}/start", server.port)),
            &[],
            1024,
        )
        .unwrap();
        assert_eq!(resp.status, 302);
        assert_eq!(resp.body, b"bye");
        assert!(resp.headers.contains(&(
            "Location".to_string(),
            "https://upstream.test/elsewhere".to_string()
        )));
        assert_eq!(
            resp.url,
            format!("https://upstream.test:{}/start", server.port)
        );
        let text = String::from_utf8(server.request()).unwrap();
        assert!(text.starts_with("GET /start "), "{text}");
    }

    #[test]
    fn chunked_body_over_tls() {
        let server = start_tls(Reply::Raw(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n".to_vec(),
        ));
        let resp = send(
            &egress(),
            &get(format!("https://upstream.test:{}/", server.port)),
            &[],
            1024,
        )
        .unwrap();
        assert_eq!(resp.body, b"hello, world");
        server.request();
    }

    #[test]
    fn eof_delimited_body_over_tls_with_close_notify() {
        let server = start_tls(Reply::Raw(b"HTTP/1.1 200 OK\r\n\r\nuntil the end".to_vec()));
        let resp = send(
            &egress(),
            &get(format!("https://upstream.test:{}/", server.port)),
            &[],
            1024,
        )
        .unwrap();
        assert_eq!(resp.body, b"until the end");
        server.request();
    }

    #[test]
    fn oversized_body_is_refused() {
        let body = vec![b'x'; 100];
        let mut raw = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".to_vec();
        raw.extend_from_slice(&body);
        let server = start_tls(Reply::Raw(raw));
        let err = send(
            &egress(),
            &get(format!("https://upstream.test:{}/", server.port)),
            &[],
            10,
        )
        .unwrap_err();
        assert_eq!(err.code, RESPONSE_TOO_LARGE);
        server.request();
    }

    #[test]
    fn stalled_server_hits_the_deadline() {
        let server = start_tls(Reply::Stall);
        let start = Instant::now();
        let req = get(format!("https://upstream.test:{}/", server.port));
        let err = egress()
            .send(
                &req,
                &sinks(),
                &[],
                start + Duration::from_millis(300),
                1024,
            )
            .unwrap_err();
        let took = start.elapsed();
        assert_eq!(err.code, TIMEOUT, "{err}");
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(2),
            "{took:?}"
        );
        // The request had been sent before the stall.
        assert!(String::from_utf8_lossy(&server.request()).starts_with("GET / HTTP/1.1"));
    }

    #[test]
    fn plain_http_works_without_secrets() {
        let server = start_plain(Reply::Echo);
        let resp = send(
            &egress(),
            &get(format!("http://upstream.test:{}/plain", server.port)),
            &[],
            1 << 16,
        )
        .unwrap();
        assert_eq!(resp.status, 200);
        assert!(String::from_utf8_lossy(&server.request()).starts_with("GET /plain HTTP/1.1\r\n"));
    }

    #[test]
    fn secrets_require_https() {
        let secrets = h(&[("Authorization", "Bearer s3cret")]);
        let err = send(
            &egress(),
            &get("http://upstream.test:8080/".into()),
            &secrets,
            1024,
        )
        .unwrap_err();
        assert_eq!(err.code, INSECURE_SECRET_TRANSPORT);
        assert!(!err.message.contains("s3cret"));
    }

    #[test]
    fn ports_other_than_80_443_need_a_static_host() {
        let e = egress();
        let s = Sinks::parse(&["api.example.com"]).unwrap();
        let err = e
            .send(
                &get("https://api.example.com:8443/".into()),
                &s,
                &[],
                soon(),
                1024,
            )
            .unwrap_err();
        assert_eq!(err.code, PORT_NOT_ALLOWED);
    }

    #[test]
    fn allow_private_ip_literals_may_use_any_port() {
        // No static host for 127.0.0.1 here: only allow_private can admit
        // the port (like a local API on https://127.0.0.1:27124).
        let no_static = |allow_loopback: bool| EgressConfig {
            hosts: vec![],
            ..cfg(true, allow_loopback)
        };
        let server = start_tls(Reply::Echo);
        let url = format!("https://127.0.0.1:{}/vault/", server.port);
        let secrets = h(&[("Authorization", "Bearer k")]);

        // Refused before any connection without the range, or with a
        // range that does not cover the literal...
        let err = send(
            &Egress::new(no_static(false)).unwrap(),
            &get(url.clone()),
            &secrets,
            1024,
        )
        .unwrap_err();
        assert_eq!(err.code, PORT_NOT_ALLOWED, "{err}");
        let mut other = no_static(false);
        other.allow_private = vec![Cidr::parse("10.0.0.0/8").unwrap()];
        let err = send(
            &Egress::new(other).unwrap(),
            &get(url.clone()),
            &secrets,
            1024,
        )
        .unwrap_err();
        assert_eq!(err.code, PORT_NOT_ALLOWED, "{err}");

        // ...and public IP literals keep the 80/443 rule even with a range.
        let with_range = Egress::new(no_static(true)).unwrap();
        let public = Sinks::parse(&["8.8.8.8"]).unwrap();
        let err = with_range
            .send(
                &get("https://8.8.8.8:8443/".into()),
                &public,
                &[],
                soon(),
                1024,
            )
            .unwrap_err();
        assert_eq!(err.code, PORT_NOT_ALLOWED, "{err}");

        // With 127.0.0.0/8 allowed the same request goes through.
        let resp = send(&with_range, &get(url), &secrets, 1 << 16).unwrap();
        assert_eq!(resp.status, 200);
        let text = String::from_utf8(server.request()).unwrap();
        assert!(text.starts_with("GET /vault/ HTTP/1.1\r\n"), "{text}");
    }

    #[test]
    fn a_static_host_port_redirects_the_connection() {
        let server = start_tls(Reply::Echo);
        let mut c = cfg(true, true);
        c.hosts = vec![(
            "upstream.test".into(),
            format!("127.0.0.1:{}", server.port).parse().unwrap(),
        )];
        let resp = Egress::new(c)
            .unwrap()
            .send(
                &get("https://upstream.test/mapped".into()),
                &sinks(),
                &[],
                soon(),
                1 << 16,
            )
            .unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.peer.port(), server.port);
        assert_eq!(resp.url, "https://upstream.test/mapped");
        let text = String::from_utf8(server.request()).unwrap();
        // The Host header and SNI still name the URL's authority.
        assert!(text.contains("\r\nHost: upstream.test\r\n"), "{text}");
    }

    #[test]
    fn early_failures_have_their_codes() {
        let e = egress();
        let cases = [
            ("ftp://upstream.test/", UNSUPPORTED_SCHEME),
            ("https://user@upstream.test/", BAD_URL),
            ("https://upstream.test:99999/", BAD_URL),
            ("not a url", BAD_URL),
        ];
        for (url, code) in cases {
            assert_eq!(
                send(&e, &get(url.into()), &[], 1024).unwrap_err().code,
                code,
                "{url}"
            );
        }
        let mut req = get("https://upstream.test:8443/".into());
        req.headers = h(&[("X-A", "v\r\nX-Injected: 1")]);
        assert_eq!(
            send(&e, &req, &[], 1024).unwrap_err().code,
            BAD_REQUEST_HEADER
        );
        let err = send(
            &e,
            &get("https://upstream.test:8443/".into()),
            &h(&[("X-Key", "s3cret\n")]),
            1024,
        )
        .unwrap_err();
        assert_eq!(err.code, BAD_REQUEST_HEADER);
        assert!(!err.message.contains("s3cret"), "{}", err.message);
    }

    #[test]
    fn connection_refused_is_connect_failed() {
        // Bind then drop to get a port that is (almost surely) closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = send(
            &egress(),
            &get(format!("https://upstream.test:{port}/")),
            &[],
            1024,
        )
        .unwrap_err();
        assert_eq!(err.code, CONNECT_FAILED, "{err}");
    }

    fn signer(region: RegionSource) -> SigV4Signer {
        SigV4Signer::new("AKIDTEST".into(), "sekrit-key-value".into(), "s3", region).unwrap()
    }

    fn us_east_1() -> SigV4Signer {
        signer(RegionSource::Fixed("us-east-1".into()))
    }

    /// The value of header `name` in a raw request.
    fn header_in<'a>(text: &'a str, name: &str) -> Option<&'a str> {
        text.split("\r\n").find_map(|line| {
            let (n, v) = line.split_once(": ")?;
            n.eq_ignore_ascii_case(name).then_some(v)
        })
    }

    #[test]
    fn sigv4_signs_the_request_as_sent() {
        let server = start_tls(Reply::Echo);
        let url = format!(
            "https://upstream.test:{}/bucket/a%20b$?tagging&x=1",
            server.port
        );
        let req = HttpRequest {
            method: "PUT".into(),
            url: url.clone(),
            headers: h(&[
                ("Content-Type", "text/plain"),
                ("User-Agent", "agent/1"),
                ("Authorization", "Bearer provider"),
            ]),
            body: Some(b"hello".to_vec()),
        };
        let secrets = h(&[("X-Extra", "static-secret")]);
        let before = crate::time::unix_now();
        let resp = egress()
            .send_signed(
                &req,
                &sinks(),
                &secrets,
                Some(&us_east_1()),
                soon(),
                1 << 20,
            )
            .unwrap();
        let after = crate::time::unix_now();
        assert_eq!(resp.status, 200);
        let text = String::from_utf8(server.request()).unwrap();
        assert!(
            text.starts_with("PUT /bucket/a%20b$?tagging&x=1 HTTP/1.1\r\n"),
            "{text}"
        );
        assert_eq!(
            header_in(&text, "x-amz-content-sha256"),
            Some(crate::crypto::sha256_hex(b"hello").as_str())
        );
        assert_eq!(header_in(&text, "x-extra"), Some("static-secret"));
        assert_eq!(header_in(&text, "user-agent"), Some("agent/1"));
        let auth = header_in(&text, "authorization").unwrap();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDTEST/"),
            "{auth}"
        );
        assert!(
            auth.contains(
                "/us-east-1/s3/aws4_request,SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-extra,Signature="
            ),
            "{auth}"
        );
        let lower = text.to_ascii_lowercase();
        assert_eq!(lower.matches("\r\nauthorization:").count(), 1, "{text}");
        assert!(
            !text.contains("provider") && !text.contains("sekrit"),
            "{text}"
        );

        // The signer over the request as the server received it (Host with
        // its port, the path as sent), at the time it carries, agrees.
        let date = header_in(&text, "x-amz-date").unwrap();
        let t = (before..=after)
            .find(|t| crate::egress::sigv4::amz_date(*t).unwrap().1 == date)
            .expect("x-amz-date is the time of sending");
        let again = us_east_1()
            .sign(
                "PUT",
                &Url::parse(&url).unwrap(),
                &h(&[("Content-Type", "text/plain"), ("X-Extra", "static-secret")]),
                b"hello",
                t,
            )
            .unwrap();
        assert_eq!(again.get(2).map(|(_, v)| v.as_str()), Some(auth));
    }

    #[test]
    fn sigv4_put_without_body_sends_a_zero_length() {
        let server = start_tls(Reply::Echo);
        let mut req = get(format!("https://upstream.test:{}/b/k", server.port));
        req.method = "PUT".into();
        egress()
            .send_signed(&req, &sinks(), &[], Some(&us_east_1()), soon(), 1 << 20)
            .unwrap();
        let text = String::from_utf8(server.request()).unwrap();
        assert_eq!(header_in(&text, "content-length"), Some("0"), "{text}");
        assert_eq!(
            header_in(&text, "x-amz-content-sha256"),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
    }

    #[test]
    fn sigv4_follows_the_secret_rules_before_any_connection() {
        let e = egress();
        let send = |req: &HttpRequest, s: &SigV4Signer| {
            e.send_signed(req, &sinks(), &[], Some(s), soon(), 1024)
                .unwrap_err()
        };
        // Plain http: the signature is a credential too.
        let err = send(&get("http://upstream.test:8080/k".into()), &us_east_1());
        assert_eq!(err.code, INSECURE_SECRET_TRANSPORT, "{err}");
        // Undeclared sinks are refused as for any request.
        let err = send(&get("https://other.test/k".into()), &us_east_1());
        assert_eq!(err.code, UNDECLARED_SINK, "{err}");
        // Provider x-amz-* headers are refused.
        let mut req = get("https://upstream.test:9/k".into());
        req.headers = h(&[("X-Amz-Acl", "public-read")]);
        let err = send(&req, &us_east_1());
        assert_eq!(err.code, BAD_REQUEST_HEADER, "{err}");
        // A host that names no region cannot be signed for.
        let err = send(
            &get("https://upstream.test:9/k".into()),
            &signer(RegionSource::FromHost),
        );
        assert_eq!(err.code, crate::egress::sigv4::SIGNING_FAILED, "{err}");
        assert!(!err.message.contains("sekrit"), "{err}");
        // Without a signer the same provider header is only a header.
        let server = start_tls(Reply::Echo);
        let mut plain = get(format!("https://upstream.test:{}/k", server.port));
        plain.headers = h(&[("X-Amz-Acl", "public-read")]);
        assert_eq!(send_unsigned(&e, &plain), 200);
        let text = String::from_utf8(server.request()).unwrap();
        assert!(
            !text.to_ascii_lowercase().contains("authorization"),
            "{text}"
        );
    }

    fn send_unsigned(e: &Egress, req: &HttpRequest) -> u16 {
        e.send(req, &sinks(), &[], soon(), 1 << 16).unwrap().status
    }

    #[test]
    fn new_reports_a_bad_ca_file() {
        let mut c = cfg(true, true);
        c.ca_file = Some(PathBuf::from("/nonexistent/egress-ca.pem"));
        let err = Egress::new(c).unwrap_err();
        assert!(err.contains("/nonexistent/egress-ca.pem"), "{err}");
    }
}
