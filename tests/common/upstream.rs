//! A local HTTPS upstream for tests: rustls with the test CA's server
//! certificate, one thread per connection, a few fixed routes.
//!
//! GET /get          200 {"ok":true,"path":...,"headers":{...}}
//! GET /status/NNN   NNN with a small JSON body
//! GET /redirect     302 to /get
//! GET /slow/N       waits N seconds, then like /get

use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A running upstream.
pub struct Upstream {
    pub port: u16,
    pub hits: Arc<AtomicUsize>,
}

impl Upstream {
    /// Starts the upstream on 127.0.0.1 with an ephemeral port.
    pub fn start() -> Upstream {
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(super::fixture("server.pem"))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
        let key = PrivateKeyDer::from_pem_file(super::fixture("server.key")).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let hits_c = Arc::clone(&hits);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let config = Arc::clone(&config);
                let hits = Arc::clone(&hits_c);
                std::thread::spawn(move || {
                    let _ = serve(stream, config, &hits);
                });
            }
        });
        Upstream { port, hits }
    }
}

fn serve(
    mut tcp: std::net::TcpStream,
    config: Arc<rustls::ServerConfig>,
    hits: &AtomicUsize,
) -> std::io::Result<()> {
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
    let mut reader = BufReader::new(&mut tls);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split(' ').nth(1).unwrap_or("/").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end().to_string();
        if h.is_empty() {
            break;
        }
        headers.push(h);
    }
    drop(reader);
    hits.fetch_add(1, Ordering::SeqCst);
    if let Some(secs) = path
        .strip_prefix("/slow/")
        .and_then(|n| n.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_secs(secs));
    }
    let (status, extra, body) = if path == "/redirect" {
        (302, "Location: /get\r\n".to_string(), "{}".to_string())
    } else if let Some(code) = path.strip_prefix("/status/") {
        (
            code.parse().unwrap_or(500),
            String::new(),
            format!("{{\"status\":{code}}}"),
        )
    } else {
        let hdrs: Vec<String> = headers.iter().map(|h| format!("{:?}", h)).collect();
        (
            200,
            String::new(),
            format!(
                "{{\"ok\":true,\"path\":{:?},\"headers\":[{}]}}",
                path,
                hdrs.join(",")
            ),
        )
    };
    let resp = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(resp.as_bytes())?;
    tls.flush()?;
    conn.send_close_notify();
    let _ = conn.complete_io(&mut tcp);
    Ok(())
}
