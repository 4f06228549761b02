//! Test harness: start the real `latchgate` binary with a private config,
//! talk HTTP/1.1 to it over its Unix socket (or TCP), sign DPoP proofs.
#![allow(dead_code)]

pub mod upstream;

use latchgate::crypto::{b64url, es256, sha256};
use latchgate::json::{self, Value};
use latchgate::obj;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test: $LATCHGATE_BIN (the Makefile sets the static
/// release build) or cargo's own build of it.
pub fn bin() -> PathBuf {
    match std::env::var_os("LATCHGATE_BIN") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_BIN_EXE_latchgate")),
    }
}

/// The `latchgate-mcp` binary: $LATCHGATE_MCP_BIN, else the one beside
/// $LATCHGATE_BIN (the static release build), else cargo's own build.
pub fn mcp_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("LATCHGATE_MCP_BIN") {
        return PathBuf::from(p);
    }
    match std::env::var_os("LATCHGATE_BIN") {
        Some(p) => PathBuf::from(p).with_file_name("latchgate-mcp"),
        None => PathBuf::from(env!("CARGO_BIN_EXE_latchgate-mcp")),
    }
}

/// A fresh scratch directory under $TMPDIR/lgt (kept for inspection).
pub fn scratch(name: &str) -> PathBuf {
    // Short and under /tmp: Unix socket paths must fit in 108 bytes
    // wherever the checkout lives.
    let short: String = name.chars().take(16).collect();
    let id = latchgate::crypto::uuid::v4();
    let dir = std::env::temp_dir()
        .join("lgt")
        .join(format!("{short}-{}", &id[..13]));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The test CA and server certificate (see tests/fixtures/tls/README.md).
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// A running gate.
pub struct Gate {
    pub dir: PathBuf,
    pub socket: PathBuf,
    pub config: PathBuf,
    pub child: Option<Child>,
    pub tcp: Option<String>,
}

/// Options for `Gate::start`.
#[derive(Default, Clone)]
pub struct Opts {
    /// Extra top-level TOML lines.
    pub extra: String,
    /// `[egress.hosts]` entries (name, ip).
    pub hosts: Vec<(String, String)>,
    /// Listen on TCP as well (`--expose-http`).
    pub tcp: bool,
    /// Reuse this directory (restart after a crash).
    pub dir: Option<PathBuf>,
    /// Leave `[egress] allow_private` empty (the product default).
    pub no_private: bool,
}

impl Gate {
    /// Starts a gate with default test options.
    pub fn start(name: &str) -> Gate {
        Gate::start_with(name, Opts::default())
    }

    /// Starts a gate and waits until /healthz answers.
    pub fn start_with(name: &str, opts: Opts) -> Gate {
        let dir = opts.dir.clone().unwrap_or_else(|| scratch(name));
        let socket = dir.join("run/gate.sock");
        let config = dir.join("latchgate.toml");
        let mut hosts = String::new();
        for (h, ip) in &opts.hosts {
            hosts.push_str(&format!("\"{h}\" = \"{ip}\"\n"));
        }
        let text = format!(
            "data_dir = \"{data}\"\nlisten_uds_path = \"{sock}\"\nfs_root_allowed_prefixes = [\"{dir}\"]\n{extra}\n\
             [egress]\nca_file = \"{ca}\"\nallow_private = [{private}]\n[egress.hosts]\n{hosts}",
            private = if opts.no_private { "" } else { "\"127.0.0.0/8\"" },
            data = dir.join("data").display(),
            sock = socket.display(),
            dir = dir.display(),
            extra = opts.extra,
            ca = fixture("ca.pem").display(),
        );
        std::fs::write(&config, text).unwrap();
        let mut gate = Gate {
            dir,
            socket,
            config,
            child: None,
            tcp: None,
        };
        if opts.tcp {
            let port = free_port();
            gate.tcp = Some(format!("127.0.0.1:{port}"));
        }
        gate.spawn();
        gate
    }

    /// Spawns the process (again) and waits for health.
    pub fn spawn(&mut self) {
        let mut cmd = Command::new(bin());
        cmd.arg("up").arg("--config").arg(&self.config);
        if let Some(addr) = &self.tcp {
            cmd.arg("--expose-http").arg(addr);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.dir.join("gate.log"))
                    .unwrap(),
            ));
        self.child = Some(cmd.spawn().expect("spawn latchgate"));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = try_request(&self.socket, "GET", "/healthz", &[], b"") {
                if r.status == 200 {
                    return;
                }
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("gate exited early with {status}; log:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "gate did not become healthy; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The gate's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("gate.log")).unwrap_or_default()
    }

    /// The data directory.
    pub fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The ledger directory.
    pub fn ledger(&self) -> PathBuf {
        self.dir.join("data/ledger")
    }

    /// Sends SIGTERM and waits; returns the exit code.
    pub fn stop(&mut self) -> i32 {
        let Some(mut child) = self.child.take() else {
            return -1;
        };
        unsafe_free_kill(child.id(), "TERM");
        let status = child.wait().unwrap();
        status.code().unwrap_or(-1)
    }

    /// SIGKILL, no cleanup.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A request over the Unix socket.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Resp {
        try_request(&self.socket, method, path, headers, body).expect("request to gate")
    }

    /// The operator socket (beside the client socket).
    pub fn admin_socket(&self) -> PathBuf {
        self.dir.join("run/gate-admin.sock")
    }

    /// A request to the operator API over its Unix socket.
    pub fn admin(&self, method: &str, path: &str, body: &[u8]) -> Resp {
        try_request(&self.admin_socket(), method, path, &[], body).expect("request to admin socket")
    }

    /// Runs `latchgate <args>` with this gate's config.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(bin())
            .args(args)
            .env("LATCHGATE_CONFIG", &self.config)
            .output()
            .unwrap()
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Sends a signal with the `kill` command (keeps `unsafe` out of the tests).
pub fn unsafe_free_kill(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A parsed response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    /// The body as JSON (panics with the body text if it is not).
    pub fn json(&self) -> Value {
        json::parse(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    /// `error` of a JSON error body.
    pub fn code(&self) -> String {
        self.json()
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    }
}

/// One HTTP/1.1 request over a Unix socket (Connection: close).
pub fn try_request(
    sock: &Path,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<Resp> {
    let stream = UnixStream::connect(sock)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    exchange(stream, method, path, headers, body)
}

/// One HTTP/1.1 request over TCP.
pub fn tcp_request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Resp {
    let stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    exchange(stream, method, path, headers, body).unwrap()
}

fn exchange<S: Read + Write>(
    mut s: S,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<Resp> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("bad status line {line:?}"),
            )
        })?;
    let mut headers = Vec::new();
    let mut len = 0usize;
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            let k = k.trim().to_ascii_lowercase();
            if k == "content-length" {
                len = v.trim().parse().unwrap_or(0);
            }
            headers.push((k, v.trim().to_string()));
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    Ok(Resp {
        status,
        headers,
        body,
    })
}

/// An agent: a DPoP key and a lease, like the SDK.
pub struct Agent {
    pub key: es256::KeyPair,
    pub lease: String,
    pub session_id: String,
    pub public_base_url: String,
}

/// Proof fields a test may override to provoke a failure.
#[derive(Default, Clone)]
pub struct ProofTweak {
    pub htm: Option<String>,
    pub htu: Option<String>,
    pub iat_offset: i64,
    pub jti: Option<String>,
    pub ath_of: Option<String>,
    pub typ: Option<String>,
    /// Sign with this key instead (header still carries the agent's key unless `embed_signer`).
    pub signer: Option<usize>,
}

impl Agent {
    /// Leases over the gate's Unix socket with an optional budget.
    pub fn lease(gate: &Gate, max_calls: Option<u64>) -> Agent {
        let key = es256::KeyPair::generate().unwrap();
        let mut body =
            obj! { "scopes" => vec![Value::from("tools:call")], "dpop_jwk" => key.jwk() };
        if let Some(n) = max_calls {
            body.as_object_mut()
                .unwrap()
                .insert("budgets", obj! { "max_calls" => n });
        }
        let r = gate.request(
            "POST",
            "/v1/leases",
            &[("Content-Type", "application/json".into())],
            body.to_json().as_bytes(),
        );
        assert_eq!(r.status, 200, "lease: {}", String::from_utf8_lossy(&r.body));
        let v = r.json();
        Agent {
            key,
            lease: v
                .get("lease_jwt")
                .and_then(Value::as_str)
                .unwrap()
                .to_string(),
            session_id: v
                .get("session_id")
                .and_then(Value::as_str)
                .unwrap()
                .to_string(),
            public_base_url: "http://localhost:3000".into(),
        }
    }

    /// A DPoP proof for `method path`.
    pub fn proof(&self, method: &str, path: &str, t: &ProofTweak) -> String {
        let header = obj! { "typ" => t.typ.clone().unwrap_or_else(|| "dpop+jwt".into()), "alg" => "ES256", "jwk" => self.key.jwk() };
        let ath_src = t.ath_of.clone().unwrap_or_else(|| self.lease.clone());
        let payload = obj! {
            "jti" => t.jti.clone().unwrap_or_else(latchgate::crypto::uuid::v4),
            "htm" => t.htm.clone().unwrap_or_else(|| method.to_string()),
            "htu" => t.htu.clone().unwrap_or_else(|| format!("{}{path}", self.public_base_url)),
            "iat" => latchgate::time::unix_now() + t.iat_offset,
            "ath" => b64url::encode(&sha256(ath_src.as_bytes())),
        };
        let input = format!(
            "{}.{}",
            b64url::encode(header.to_json().as_bytes()),
            b64url::encode(payload.to_json().as_bytes())
        );
        let sig = match t.signer {
            Some(_) => es256::KeyPair::generate()
                .unwrap()
                .sign(input.as_bytes())
                .unwrap(),
            None => self.key.sign(input.as_bytes()).unwrap(),
        };
        format!("{input}.{}", b64url::encode(&sig))
    }

    /// Authorization + DPoP headers for `method path`.
    pub fn headers(&self, method: &str, path: &str, t: &ProofTweak) -> Vec<(&'static str, String)> {
        vec![
            ("Authorization", format!("DPoP {}", self.lease)),
            ("DPoP", self.proof(method, path, t)),
        ]
    }

    /// Executes `action` with `input` over the Unix socket.
    pub fn execute(&self, gate: &Gate, action: &str, input: &Value) -> Resp {
        self.execute_raw(
            gate,
            action,
            input.to_json().as_bytes(),
            &ProofTweak::default(),
        )
    }

    /// Executes with a raw body and proof tweaks.
    pub fn execute_raw(&self, gate: &Gate, action: &str, body: &[u8], t: &ProofTweak) -> Resp {
        let path = format!("/v1/actions/{action}/execute");
        let mut h = self.headers("POST", &path, t);
        h.push(("Content-Type", "application/json".into()));
        gate.request("POST", &path, &h, body)
    }
}

/// `latchgate audit --json --limit N` as parsed events (newest first).
pub fn audit_events(gate: &Gate, limit: usize) -> Vec<Value> {
    let out = gate.cli(&["audit", "--json", "--limit", &limit.to_string()]);
    assert!(
        out.status.success(),
        "audit failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json::parse(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "audit --json output ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    v.as_array().cloned().unwrap_or_default()
}
