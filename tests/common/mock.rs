//! A recording HTTPS mock for tests: rustls with the test CA's server
//! certificate (tests/fixtures/tls), one thread per connection, one request
//! per connection (`Connection: close`).
//!
//! Every request is recorded (method, target, Host, headers, body) before
//! the mock answers with the reply set by [`Mock::set_reply`]. Tests map
//! real API host names to it with `[egress.hosts] "api.github.com" =
//! "127.0.0.1:<port>"`; the certificate carries those names.
#![allow(dead_code)]

use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Largest request body the mock reads.
const MAX_BODY: usize = 4 << 20;

/// One request as the mock received it.
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    /// Request method, e.g. `POST`.
    pub method: String,
    /// Request target as sent (path and query).
    pub target: String,
    /// The Host header value ("" when absent).
    pub host: String,
    /// Every header in arrival order, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body (Content-Length framed; empty when none).
    pub body: Vec<u8>,
    /// True when the request carried a body frame (Content-Length present).
    pub has_body: bool,
    /// Set when the request could not be read completely.
    pub error: Option<String>,
}

impl Recorded {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header named `name` (case-insensitive).
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// What the mock answers.
#[derive(Clone, Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Body bytes (sent with `Content-Type: application/json`; none for
    /// 204 and 304, which must not carry one).
    pub body: Vec<u8>,
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    reply: Option<Reply>,
}

/// A running mock on 127.0.0.1.
#[derive(Clone)]
pub struct Mock {
    /// The listening port.
    pub port: u16,
    state: Arc<Mutex<State>>,
}

impl Mock {
    /// Starts a mock on an ephemeral port.
    pub fn start() -> Mock {
        Mock::start_on(0).expect("bind the mock on an ephemeral port")
    }

    /// Starts a mock on 127.0.0.1:`port` (0 = ephemeral).
    pub fn start_on(port: u16) -> std::io::Result<Mock> {
        let config = Arc::new(server_config());
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let config = Arc::clone(&config);
                let state = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, config, &state));
            }
        });
        Ok(Mock { port, state })
    }

    /// Sets the answer to every following request (default: 200 `{}`).
    pub fn set_reply(&self, status: u16, body: Vec<u8>) {
        self.lock().reply = Some(Reply { status, body });
    }

    /// Takes (and forgets) the requests recorded so far.
    pub fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut self.lock().requests)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panicking handler thread must not hide what was recorded.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

fn server_config() -> rustls::ServerConfig {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(fixture("server.pem"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(fixture("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap()
}

fn serve(mut tcp: TcpStream, config: Arc<rustls::ServerConfig>, state: &Mutex<State>) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = tcp.set_write_timeout(Some(Duration::from_secs(10)));
    let Ok(mut conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
    let rec = read_request(&mut tls);
    if rec.method.is_empty() && rec.error.is_some() {
        // Handshake failure or an empty connection: nothing to record.
        return;
    }
    let reply = {
        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
        st.requests.push(rec);
        st.reply.clone().unwrap_or(Reply {
            status: 200,
            body: b"{}".to_vec(),
        })
    };
    let no_body = reply.status == 204 || reply.status == 304;
    let mut head = format!("HTTP/1.1 {} Mock\r\n", reply.status);
    if !no_body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            reply.body.len()
        ));
    }
    head.push_str("Connection: close\r\n\r\n");
    let _ = tls.write_all(head.as_bytes());
    if !no_body {
        let _ = tls.write_all(&reply.body);
    }
    let _ = tls.flush();
    conn.send_close_notify();
    let _ = conn.complete_io(&mut tcp);
}

fn read_request<S: Read>(stream: S) -> Recorded {
    let mut rec = Recorded::default();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(0) => {
            rec.error = Some("connection closed before a request".into());
            return rec;
        }
        Ok(_) => {}
        Err(e) => {
            rec.error = Some(format!("request line: {e}"));
            return rec;
        }
    }
    let mut parts = line.trim_end().splitn(3, ' ');
    rec.method = parts.next().unwrap_or("").to_string();
    rec.target = parts.next().unwrap_or("").to_string();
    let mut len = None;
    loop {
        let mut h = String::new();
        if let Err(e) = reader.read_line(&mut h) {
            rec.error = Some(format!("header: {e}"));
            return rec;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let Some((name, value)) = h.split_once(':') else {
            rec.error = Some(format!("bad header line {h:?}"));
            return rec;
        };
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim().to_string();
        match name.as_str() {
            "host" => rec.host = value.clone(),
            "content-length" => len = value.parse::<usize>().ok(),
            "transfer-encoding" => {
                rec.error = Some(format!("unexpected transfer-encoding {value}"))
            }
            _ => {}
        }
        rec.headers.push((name, value));
    }
    if let Some(n) = len {
        rec.has_body = true;
        if n > MAX_BODY {
            rec.error = Some(format!("body of {n} bytes is too large"));
            return rec;
        }
        let mut body = vec![0; n];
        match reader.read_exact(&mut body) {
            Ok(()) => rec.body = body,
            Err(e) => rec.error = Some(format!("body: {e}")),
        }
    }
    rec
}
