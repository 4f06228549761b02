//! A one-connection HTTP(S) server for the egress tests, on 127.0.0.1 with
//! the fixture certificate from tests/fixtures/tls.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Directory of the test CA and server certificate.
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");

/// What the server does after reading the request.
pub enum Reply {
    /// Send these bytes verbatim, then close.
    Raw(Vec<u8>),
    /// 200 with the raw request (head and body) as the body.
    Echo,
    /// Send nothing; wait until the client gives up.
    Stall,
}

/// A running server; `request()` joins it and returns what it received.
pub struct Server {
    /// The listening port on 127.0.0.1.
    pub port: u16,
    handle: JoinHandle<Vec<u8>>,
}

impl Server {
    /// The raw request bytes the server read (empty if none arrived).
    pub fn request(self) -> Vec<u8> {
        self.handle.join().unwrap_or_default()
    }
}

/// Starts an HTTPS server presenting the fixture server certificate.
pub fn start_tls(reply: Reply) -> Server {
    let config = Arc::new(server_config());
    spawn(move |sock| {
        let Ok(conn) = ServerConnection::new(config) else {
            return Vec::new();
        };
        let mut tls = StreamOwned::new(conn, sock);
        let request = serve(&mut tls, reply);
        tls.conn.send_close_notify();
        let _ = tls.flush();
        request
    })
}

/// Starts a plain HTTP server.
pub fn start_plain(reply: Reply) -> Server {
    spawn(move |mut sock| serve(&mut sock, reply))
}

fn spawn<F: FnOnce(TcpStream) -> Vec<u8> + Send + 'static>(f: F) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let Ok((sock, _)) = listener.accept() else {
            return Vec::new();
        };
        // Never let a broken test hang the suite.
        let _ = sock.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = sock.set_write_timeout(Some(Duration::from_secs(5)));
        f(sock)
    });
    Server { port, handle }
}

fn serve<S: Read + Write>(s: &mut S, reply: Reply) -> Vec<u8> {
    let request = read_request(s);
    match reply {
        Reply::Raw(bytes) => {
            let _ = s.write_all(&bytes);
        }
        Reply::Echo => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                request.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&request);
        }
        Reply::Stall => {
            let mut buf = [0u8; 64];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 {
                    break;
                }
            }
        }
    }
    let _ = s.flush();
    request
}

/// Reads one request: the head, then Content-Length bytes of body.
fn read_request<S: Read>(s: &mut S) -> Vec<u8> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if data.len() >= end + 4 + len {
                return data;
            }
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return data,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
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
