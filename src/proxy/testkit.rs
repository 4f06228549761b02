//! Test fixtures for the proxy: a scripted TLS upstream presenting the
//! fixture certificate (tests/fixtures/tls, trusted through `ca_file`),
//! and a harness running a proxy on a temporary socket that records its
//! events. Tests only.

use super::body::{self, Framing};
use super::head::{self, RequestHead};
use super::{Event, Proxy, ProxyConfig, Route};
use crate::egress::{Cidr, EgressConfig};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use std::io::{BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// The test CA and server certificate.
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");
/// A session token as the launcher makes them.
pub const TOKEN: &str = "5f0c1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7";
/// The real key the routes inject.
pub const KEY: &str = "sk-real-key-0123456789";
/// How long a test waits for anything before failing.
const WAIT: Duration = Duration::from_secs(5);

/// One action of the upstream after it has read a request.
pub enum Step {
    /// Write these bytes (and flush).
    Send(Vec<u8>),
    /// Wait until the test sends on the matching channel.
    Wait(mpsc::Receiver<()>),
}

/// A request as the upstream received it.
pub struct Seen {
    /// The parsed head.
    pub head: RequestHead,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// Whether it came chunked.
    pub chunked: bool,
}

impl Seen {
    /// Every value of a header.
    pub fn header(&self, name: &str) -> Vec<String> {
        self.head.headers.all(name).map(str::to_string).collect()
    }

    /// The whole head as text (for "appears nowhere" checks).
    pub fn head_text(&self) -> String {
        format!("{:?}", self.head)
    }
}

/// A TLS server on 127.0.0.1 serving one scripted connection per entry.
pub struct Upstream {
    /// Its port.
    pub port: u16,
    seen: mpsc::Receiver<Seen>,
}

impl Upstream {
    /// Serves `conns.len()` connections one after the other: each reads a
    /// request, reports it, plays its steps, then closes (close_notify).
    pub fn start(conns: Vec<Vec<Step>>) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let config = Arc::new(server_config());
        let (tx, seen) = mpsc::channel();
        std::thread::spawn(move || {
            for steps in conns {
                let Ok((sock, _)) = listener.accept() else {
                    return;
                };
                let _ = sock.set_read_timeout(Some(WAIT));
                let _ = sock.set_write_timeout(Some(WAIT));
                let Ok(conn) = ServerConnection::new(config.clone()) else {
                    return;
                };
                let mut r = BufReader::new(StreamOwned::new(conn, sock));
                let Ok(head) = head::read_request(&mut r) else {
                    continue;
                };
                let mut body = Vec::new();
                let framing = body::request_framing(&head.headers).unwrap();
                match framing {
                    Framing::Length(n) => {
                        body::copy_length(&mut r, &mut body, n, &mut |_| {}).unwrap();
                    }
                    Framing::Chunked => {
                        body::copy_chunked(&mut r, &mut body, false, &mut |_| {}).unwrap();
                    }
                    _ => {}
                }
                let chunked = framing == Framing::Chunked;
                let _ = tx.send(Seen {
                    head,
                    body,
                    chunked,
                });
                let mut s = r.into_inner();
                for step in steps {
                    match step {
                        Step::Send(bytes) => {
                            if s.write_all(&bytes).and_then(|_| s.flush()).is_err() {
                                break;
                            }
                        }
                        Step::Wait(rx) => {
                            let _ = rx.recv_timeout(WAIT);
                        }
                    }
                }
                s.conn.send_close_notify();
                let _ = s.flush();
            }
        });
        Upstream { port, seen }
    }

    /// The next request received (fails the test after a while).
    pub fn next(&self) -> Seen {
        self.seen
            .recv_timeout(WAIT)
            .expect("upstream got no request")
    }

    /// The next request, if one arrives within `wait`.
    pub fn try_next(&self, wait: Duration) -> Option<Seen> {
        self.seen.recv_timeout(wait).ok()
    }
}

fn server_config() -> ServerConfig {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(format!("{FIXTURES}/server.pem"))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_file(format!("{FIXTURES}/server.key")).unwrap();
    ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap()
}

/// `[egress]` sending `host` to 127.0.0.1:`port`, loopback allowed, the
/// test CA trusted.
pub fn egress_to(hosts: &[(&str, u16)]) -> EgressConfig {
    EgressConfig {
        ca_file: Some(PathBuf::from(format!("{FIXTURES}/ca.pem"))),
        allow_private: vec![Cidr::parse("127.0.0.0/8").unwrap()],
        hosts: hosts
            .iter()
            .map(|(h, p)| (h.to_string(), format!("127.0.0.1:{p}").parse().unwrap()))
            .collect(),
    }
}

/// A route with the test key.
pub fn route(name: &str, upstream: &str, header: &str, format: &str) -> Route {
    Route {
        route: crate::sandbox::CredentialRoute {
            name: name.into(),
            upstream: upstream.into(),
            header: header.into(),
            format: format.into(),
            key_source: crate::sandbox::KeySource::Env("TEST_KEY".into()),
        },
        key: crate::secrets::SecretValue::new(KEY.into()).unwrap(),
    }
}

/// A proxy on a temporary socket whose events are recorded.
pub struct Harness {
    /// The socket path.
    pub path: PathBuf,
    proxy: Option<Proxy>,
    events: Arc<Mutex<Vec<Event>>>,
}

impl Harness {
    /// Starts the proxy with `cfg` (its event sink replaced by a recorder).
    pub fn start(cfg: ProxyConfig) -> Harness {
        Harness::start_limited(cfg, super::MAX_CONNECTIONS)
    }

    /// [`Harness::start`] with a lower connection limit (the real one
    /// would need more file descriptors than a test may take).
    pub fn start_limited(mut cfg: ProxyConfig, limit: usize) -> Harness {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("lg-proxy-{}-{n}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        cfg.events = Arc::new(move |e| sink.lock().unwrap().push(e));
        let proxy = Proxy::spawn(listener, Proxy::check(cfg).unwrap(), limit).unwrap();
        Harness {
            path,
            proxy: Some(proxy),
            events,
        }
    }

    /// A new agent connection (reads and writes time out in tests).
    pub fn agent(&self) -> UnixStream {
        let s = UnixStream::connect(&self.path).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        s.set_write_timeout(Some(WAIT)).unwrap();
        s
    }

    /// Waits until at least `n` events arrived, and returns them all.
    pub fn wait_events(&self, n: usize) -> Vec<Event> {
        let until = Instant::now() + WAIT;
        loop {
            let events = self.events.lock().unwrap().clone();
            if events.len() >= n || Instant::now() > until {
                assert!(events.len() >= n, "expected {n} events, got {events:?}");
                return events;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(p) = self.proxy.take() {
            p.stop();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads one response from the agent side: status, fields, de-chunked body.
pub fn read_response<R: std::io::BufRead>(
    r: &mut R,
    method: &str,
) -> (head::ResponseHead, Vec<u8>) {
    let resp = head::read_response(r).unwrap();
    let mut body = Vec::new();
    match body::response_framing(&resp.headers, resp.status, method).unwrap() {
        Framing::Length(n) => {
            body::copy_length(r, &mut body, n, &mut |_| {}).unwrap();
        }
        Framing::Chunked => {
            body::copy_chunked(r, &mut body, false, &mut |_| {}).unwrap();
        }
        Framing::UntilClose => {
            r.read_to_end(&mut body).unwrap();
        }
        Framing::None => {}
    }
    (resp, body)
}

/// Sends `request` on a new agent connection; returns the status and body
/// of the answer.
pub fn agent_exchange(h: &Harness, request: &[u8]) -> (u16, String) {
    let mut a = h.agent();
    a.write_all(request).unwrap();
    let mut r = BufReader::new(&a);
    let (resp, body) = read_response(&mut r, "GET");
    (resp.status, String::from_utf8_lossy(&body).into_owned())
}

/// True when the proxy closed the connection without a single byte
/// (end of stream, or a reset because unread data was pending); false on
/// data or when nothing happened before the test timeout.
pub fn closed_without_a_byte(mut a: &UnixStream) -> bool {
    let mut buf = [0u8; 256];
    match a.read(&mut buf) {
        Ok(0) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        Ok(_) => false,
    }
}
