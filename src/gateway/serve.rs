//! One gateway connection: keep-alive requests, each checked (peer uid,
//! credential), routed to its provider and recorded in the ledger.
//!
//! Order per request: ledger healthy (503 `evidence_unavailable`) ->
//! origin-form target (400) -> peer uid (403) -> credential (401) ->
//! provider from `X-Provider` or the default (404 unknown, 503 key not
//! set) -> forward (the route step: 400 bad path, framing or body, 405
//! method, 408 slow body, 502 upstream) -> ledger event.

use super::{Gateway, Provider};
use crate::json::Map;
use crate::proxy::conn::AgentReader;
use crate::proxy::head::RequestHead;
use crate::proxy::reply;
use crate::proxy::route::{self, Outcome, Upstreams};
use std::io::BufReader;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Serves one accepted connection.
pub fn connection(conn: UnixStream, gw: &Gateway) {
    let uid = crate::sys::peer_uid(conn.as_raw_fd());
    crate::proxy::server::request_loop(&conn, gw.idle, &|conn, reader, head| {
        request(conn, reader, head, gw, uid)
    });
}

/// What the ledger records about one request.
struct Record<'a> {
    provider: &'a str,
    method: &'a str,
    path: &'a str,
    caller_uid: Option<u32>,
    subject: Option<String>,
    model: Option<String>,
    decision: &'static str,
    reason: Option<&'static str>,
    outcome: Outcome,
    started: Instant,
}

fn request(
    conn: &UnixStream,
    reader: &mut BufReader<AgentReader>,
    head: &RequestHead,
    gw: &Gateway,
    uid: Option<u32>,
) -> bool {
    let started = Instant::now();
    let (path, query) = match head.target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (head.target.as_str(), None),
    };
    let mut rec = Record {
        provider: "-",
        method: &head.method,
        path,
        caller_uid: uid,
        subject: None,
        model: None,
        decision: "deny",
        reason: None,
        outcome: Outcome::default(),
        started,
    };
    let refuse = |rec: &mut Record, status: u16, code: &'static str, message: &str| {
        rec.outcome.status = status;
        rec.reason = Some(code);
        reply::refuse(conn, status, code, message);
        finish(gw, rec);
        false
    };
    if gw.ledger_failed.load(Ordering::SeqCst) {
        // Nothing more can be recorded, so nothing more is served.
        reply::refuse(
            conn,
            503,
            "evidence_unavailable",
            "the gateway's ledger cannot be written; requests are refused until it is fixed and the gateway restarted",
        );
        return false;
    }
    if !path.starts_with('/') || path.contains('#') {
        rec.path = "-";
        return refuse(
            &mut rec,
            400,
            "bad_request",
            "the gateway takes origin-form requests (/v1/...), not proxy requests",
        );
    }
    if let Err(r) = gw.access.check_peer(uid) {
        return refuse(&mut rec, r.status, r.code, &r.message);
    }
    match gw
        .access
        .check_request(&head.headers, crate::time::unix_now())
    {
        Ok(sub) => rec.subject = sub,
        Err(r) => return refuse(&mut rec, r.status, r.code, &r.message),
    }
    let wanted = head
        .headers
        .all("x-provider")
        .next()
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_else(|| gw.default_provider.clone());
    let Some(provider) = gw.providers.iter().find(|p| p.name() == wanted) else {
        let names: Vec<&str> = gw.providers.iter().map(Provider::name).collect();
        let message = format!(
            "X-Provider `{}` is not configured; providers: {}",
            wanted.chars().take(64).collect::<String>(),
            names.join(", ")
        );
        return refuse(&mut rec, 404, "provider_not_found", &message);
    };
    rec.provider = provider.name();
    let prepared = match provider {
        Provider::Ready(p) => p,
        Provider::Unavailable { name, source } => {
            let message = format!("provider {name} has no key: {source} is not set on the gateway");
            rec.decision = "error";
            return refuse(&mut rec, 503, "provider_unavailable", &message);
        }
    };
    let ctx = Upstreams {
        tls: &gw.tls,
        egress: &gw.egress,
        idle: gw.idle,
    };
    let mut sniffer = super::model::ModelSniffer::new();
    let keep = route::forward(
        conn,
        reader,
        head,
        prepared,
        (path, query),
        &ctx,
        &mut |piece| sniffer.feed(piece),
        &mut rec.outcome,
    );
    rec.model = sniffer.model().map(str::to_string);
    rec.decision = if let Some(code) = rec.outcome.refused {
        rec.reason = Some(code);
        "deny"
    } else if rec.outcome.status == 502 {
        "error"
    } else {
        "allow"
    };
    finish(gw, &mut rec);
    keep
}

/// Appends the request's event; a failure stops all further serving.
fn finish(gw: &Gateway, rec: &mut Record) {
    let mut m = Map::new();
    m.insert("trace_id", crate::crypto::uuid::v7());
    m.insert("event_type", "gateway_request");
    m.insert("decision", rec.decision);
    m.insert(
        "timestamp",
        crate::time::rfc3339_millis(crate::time::unix_now_millis()),
    );
    m.insert(
        "principal",
        rec.caller_uid
            .map(|u| format!("uid:{u}"))
            .unwrap_or_else(|| "uid:unknown".into()),
    );
    if let Some(s) = rec.subject.take() {
        m.insert("subject", s);
    }
    m.insert("provider", rec.provider);
    // What `latchgate audit` shows in its ACTION/TARGET column.
    m.insert("target", format!("{} {}", rec.provider, rec.path));
    m.insert("method", rec.method);
    m.insert("path", rec.path);
    if let Some(model) = rec.model.take() {
        m.insert("model", model);
    }
    m.insert("status", u64::from(rec.outcome.status));
    if let Some(r) = rec.reason {
        m.insert("deny_reason", r);
    }
    m.insert("bytes_up", rec.outcome.up);
    m.insert("bytes_down", rec.outcome.down);
    m.insert(
        "duration_ms",
        u64::try_from(rec.started.elapsed().as_millis()).unwrap_or(u64::MAX),
    );
    if let Err(e) = gw.ledger.append(m) {
        eprintln!("latchgate gateway: ledger append failed: {e}; refusing all further requests");
        gw.ledger_failed.store(true, Ordering::SeqCst);
    }
}
