//! The sandbox's egress proxy, host side, on the session's `proxy.sock`
//! (reached from inside through sandbox-init's loopback forwarder, which
//! relays 127.0.0.1:3128 byte for byte). Blocking std, one thread per
//! connection, at most [`MAX_CONNECTIONS`], the request head bounded in
//! size and time.
//!
//! Two ways out, nothing else:
//! - `CONNECT host:443` to a host in `allow_hosts` (`connect.rs`): a blind
//!   tunnel, TLS untouched. Refusals close without a byte, which the
//!   forwarder turns into a TCP reset for the agent.
//! - credential routes (`route.rs`): `/<name>/...` with the session token
//!   is forwarded over TLS to the route's upstream with the real key
//!   injected; the key never enters the sandbox.
//!
//! Every refusal, tunnel and route request is reported as an [`Event`].
//! Destinations follow the gate's `[egress]` settings: `[egress.hosts]`
//! first, DNS otherwise, private addresses refused unless `allow_private`
//! covers them, and only a checked address is ever connected.

// body, head and check_target are pub for the fuzz targets (fuzz/).
pub mod body;
pub(crate) mod conn;
mod connect;
mod event;
pub mod head;
mod relay;
pub(crate) mod reply;
pub(crate) mod route;
pub(crate) mod server;
mod token;
mod upstream;

#[cfg(test)]
mod testkit;

pub use connect::{check_target, TUNNEL_PORT};
pub use event::*;
pub use server::HEAD_TIMEOUT;
pub use token::TOKEN_HEADER;

use crate::egress::EgressConfig;
use crate::sandbox::CredentialRoute;
use crate::secrets::SecretValue;
use rustls::ClientConfig;
use std::io;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Most connections served at once; more are closed at once (a reset).
pub const MAX_CONNECTIONS: usize = 1024;
/// DNS plus TCP connect (plus the TLS handshake for routes) to an upstream.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default idle timeout: long enough for a long agent turn.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// Shortest session token accepted (the launcher makes 64 hex digits).
const MIN_TOKEN_LEN: usize = 32;

/// A credential route with its key, resolved on the host.
pub struct Route {
    /// The route (name, https upstream, header, format).
    pub route: CredentialRoute,
    /// The real key, injected by the proxy only.
    pub key: SecretValue,
}

/// What one session's proxy allows.
pub struct ProxyConfig {
    /// Hosts a CONNECT may reach on port 443 (matched exactly,
    /// case-insensitively).
    pub allow_hosts: Vec<String>,
    /// Resolved credential routes.
    pub routes: Vec<Route>,
    /// The session token (required when there are routes).
    pub token: Option<String>,
    /// The gate's `[egress]` settings: `ca_file`, `allow_private`, `hosts`.
    pub egress: EgressConfig,
    /// How long a connection may sit without traffic.
    pub idle_timeout: Duration,
    /// Receives every [`Event`]; called on connection threads.
    pub events: Arc<dyn Fn(Event) + Send + Sync>,
}

impl ProxyConfig {
    /// Refuses everything (no hosts, no routes) and drops the events.
    pub fn deny_all() -> ProxyConfig {
        ProxyConfig {
            allow_hosts: Vec::new(),
            routes: Vec::new(),
            token: None,
            egress: EgressConfig::default(),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            events: Arc::new(|_| {}),
        }
    }
}

/// The checked configuration every connection thread shares.
struct Shared {
    allow_hosts: Vec<String>,
    routes: Vec<route::Prepared>,
    token: Option<String>,
    egress: EgressConfig,
    idle: Duration,
    events: Arc<dyn Fn(Event) + Send + Sync>,
    /// Built once when there are routes.
    tls: Option<Arc<ClientConfig>>,
}

impl Shared {
    fn new(cfg: ProxyConfig) -> io::Result<Shared> {
        let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidInput, m);
        let mut routes: Vec<route::Prepared> = Vec::with_capacity(cfg.routes.len());
        for r in cfg.routes {
            let p = route::prepare(r).map_err(invalid)?;
            let name = &p.route.route.name;
            if routes.iter().any(|q| q.route.route.name == *name) {
                return Err(invalid(format!("credential route {name} is defined twice")));
            }
            routes.push(p);
        }
        let tls = if routes.is_empty() {
            None
        } else {
            let token_ok = cfg.token.as_deref().is_some_and(|t| {
                t.len() >= MIN_TOKEN_LEN && t.bytes().all(|b| b.is_ascii_graphic())
            });
            if !token_ok {
                return Err(invalid(format!(
                    "credential routes need a session token of at least {MIN_TOKEN_LEN} visible characters"
                )));
            }
            Some(upstream::client_config(cfg.egress.ca_file.as_deref()).map_err(invalid)?)
        };
        let mut allow_hosts: Vec<String> = cfg
            .allow_hosts
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        allow_hosts.sort();
        allow_hosts.dedup();
        Ok(Shared {
            allow_hosts,
            routes,
            token: cfg.token,
            egress: cfg.egress,
            idle: cfg.idle_timeout.max(Duration::from_millis(1)),
            events: cfg.events,
            tls,
        })
    }

    fn emit(&self, event: Event) {
        (self.events)(event);
    }
}

/// A running proxy: its accept thread stops when the listener is shut down.
pub struct Proxy {
    listener: Arc<UnixListener>,
    stopping: Arc<AtomicBool>,
    accept: Option<std::thread::JoinHandle<()>>,
}

/// A proxy configuration that has been checked, ready to serve.
pub struct Checked(Arc<Shared>);

impl Proxy {
    /// Checks `cfg` (routes, token, `ca_file`) and serves `listener` on a
    /// background thread. Errors: `InvalidInput` for a bad configuration,
    /// or the thread could not be started.
    pub fn start(listener: UnixListener, cfg: ProxyConfig) -> io::Result<Proxy> {
        Proxy::serve(listener, Proxy::check(cfg)?)
    }

    /// The first half of [`Proxy::start`]: checks `cfg` (`InvalidInput`
    /// for a bad configuration) without serving anything yet.
    pub fn check(cfg: ProxyConfig) -> io::Result<Checked> {
        Ok(Checked(Arc::new(Shared::new(cfg)?)))
    }

    /// The second half of [`Proxy::start`]: serves `listener` on a
    /// background thread.
    pub fn serve(listener: UnixListener, cfg: Checked) -> io::Result<Proxy> {
        Proxy::spawn(listener, cfg, MAX_CONNECTIONS)
    }

    /// [`Proxy::serve`] serving at most `limit` connections at once.
    fn spawn(listener: UnixListener, cfg: Checked, limit: usize) -> io::Result<Proxy> {
        let shared = cfg.0;
        let listener = Arc::new(listener);
        let stopping = Arc::new(AtomicBool::new(false));
        let (l, s) = (listener.clone(), stopping.clone());
        let serve_one: Arc<dyn Fn(UnixStream) + Send + Sync> =
            Arc::new(move |conn| serve(conn, &shared));
        let accept = std::thread::Builder::new()
            .name("proxy-accept".into())
            .spawn(move || {
                let live = Arc::new(std::sync::atomic::AtomicUsize::new(0));
                server::accept_loop(&l, &s, &live, limit, "proxy-conn", serve_one)
            })?;
        Ok(Proxy {
            listener,
            stopping,
            accept: Some(accept),
        })
    }

    /// Stops accepting (connections in flight end on their own; the
    /// accept thread ends with the listener, nobody waits for it).
    pub fn stop(mut self) {
        use std::os::fd::AsRawFd;
        self.stopping.store(true, Ordering::SeqCst);
        crate::sys::shutdown_listener(self.listener.as_raw_fd());
        drop(self.accept.take());
    }
}

/// One agent connection: a CONNECT tunnel, or a keep-alive series of
/// route requests.
fn serve(conn: UnixStream, shared: &Shared) {
    server::request_loop(&conn, shared.idle, &|conn, reader, head| {
        if head.method == "CONNECT" {
            connect::tunnel(conn, reader, head, shared);
            return false;
        }
        route::handle(conn, reader, head, shared)
    });
}

#[cfg(test)]
mod tests {
    use super::testkit::{agent_exchange, closed_without_a_byte, Harness};
    use super::*;
    use std::io::{Read, Write};
    use std::time::Instant;

    #[test]
    fn deny_all_refuses_connect_silently_and_routes_with_404() {
        let h = Harness::start(ProxyConfig::deny_all());
        let mut a = h.agent();
        a.write_all(
            b"CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\n\r\n",
        )
        .unwrap();
        assert!(closed_without_a_byte(&a));
        let (status, body) =
            agent_exchange(&h, b"GET /anthropic/v1/models HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(status, 404);
        assert!(body.contains("\"route_not_found\""), "{body}");
        let events = h.wait_events(2);
        assert!(matches!(&events[0], Event::Denied { reason, .. } if *reason == HOST_NOT_ALLOWED));
        assert!(matches!(&events[1], Event::Denied { reason, .. } if *reason == ROUTE_NOT_FOUND));
    }

    #[test]
    fn malformed_and_oversized_heads_get_400_and_431() {
        let h = Harness::start(ProxyConfig::deny_all());
        let (status, body) = agent_exchange(&h, b"GET / HTTP/9.9\r\n\r\n");
        assert_eq!(status, 400, "{body}");
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', head::MAX_HEAD));
        big.extend_from_slice(b"\r\n\r\n");
        let (status, _) = agent_exchange(&h, &big);
        assert_eq!(status, 431);
    }

    #[test]
    fn start_checks_routes_and_token() {
        use testkit::{route, TOKEN};
        let path = std::env::temp_dir().join(format!("lg-proxy-start-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let cfg = ProxyConfig {
            routes: vec![route(
                "anthropic",
                "https://api.anthropic.com",
                "x-api-key",
                "{}",
            )],
            token: None,
            ..ProxyConfig::deny_all()
        };
        let e = Proxy::start(listener.try_clone().unwrap(), cfg)
            .err()
            .unwrap();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let cfg = ProxyConfig {
            routes: vec![
                route("a", "https://api.anthropic.com", "x-api-key", "{}"),
                route("a", "https://api.openai.com", "x-api-key", "{}"),
            ],
            token: Some(TOKEN.into()),
            ..ProxyConfig::deny_all()
        };
        let e = Proxy::start(listener.try_clone().unwrap(), cfg)
            .err()
            .unwrap();
        assert!(e.to_string().contains("twice"), "{e}");
        let cfg = ProxyConfig {
            routes: vec![route("a", "https://api.anthropic.com", "x-api-key", "{}")],
            token: Some(TOKEN.into()),
            egress: EgressConfig {
                ca_file: Some("/nonexistent/ca.pem".into()),
                ..EgressConfig::default()
            },
            ..ProxyConfig::deny_all()
        };
        let e = Proxy::start(listener.try_clone().unwrap(), cfg)
            .err()
            .unwrap();
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
        let cfg = ProxyConfig {
            routes: vec![route("a", "https://api.anthropic.com", "x-api-key", "{}")],
            token: Some(TOKEN.into()),
            ..ProxyConfig::deny_all()
        };
        Proxy::start(listener, cfg).unwrap().stop();
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn stop_ends_the_accept_loop() {
        let path = std::env::temp_dir().join(format!("lg-proxy-stop-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let proxy =
            Proxy::start(UnixListener::bind(&path).unwrap(), ProxyConfig::deny_all()).unwrap();
        // Served before stop: a request gets an answer.
        let mut a = UnixStream::connect(&path).unwrap();
        a.write_all(b"GET /x HTTP/1.1\r\n\r\n").unwrap();
        let mut got = Vec::new();
        a.read_to_end(&mut got).unwrap();
        assert!(got.starts_with(b"HTTP/1.1 404 "));
        proxy.stop();
        // After stop nobody accepts: connecting fails or nothing answers.
        if let Ok(mut a) = UnixStream::connect(&path) {
            a.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            let _ = a.write_all(b"GET /x HTTP/1.1\r\n\r\n");
            let mut got = Vec::new();
            let _ = a.read_to_end(&mut got);
            assert!(got.is_empty());
        }
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn connections_beyond_the_limit_are_closed_at_once() {
        let h = Harness::start_limited(ProxyConfig::deny_all(), 4);
        // Silent clients: each holds a thread (waiting for its head).
        let mut held: Vec<UnixStream> = (0..4).map(|_| h.agent()).collect();
        let over = h.agent();
        // The proxy may have closed it already: a refused write (EPIPE) is
        // the expected outcome too, so only what comes back is checked.
        let _ = (&over).write_all(b"GET /x HTTP/1.1\r\n\r\n");
        assert!(closed_without_a_byte(&over), "served beyond the limit");
        // One slot freed: served again.
        drop(held.pop());
        let until = Instant::now() + Duration::from_secs(3);
        loop {
            let a = h.agent();
            // Until the freed slot is seen, this one may be closed at once.
            let _ = (&a).write_all(b"GET /x HTTP/1.1\r\n\r\n");
            let mut got = Vec::new();
            let _ = (&a).read_to_end(&mut got);
            if got.starts_with(b"HTTP/1.1 404 ") {
                break;
            }
            assert!(Instant::now() < until, "no slot came free");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
