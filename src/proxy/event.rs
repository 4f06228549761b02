//! What the proxy reports to its owner (the launcher turns these into
//! ledger events). Never a body, a key or the session token.

use crate::json::Map;
use std::net::SocketAddr;
use std::time::Duration;

/// The target is malformed (CONNECT without `host:port`, a bad port).
pub const BAD_TARGET: &str = "bad_target";
/// CONNECT to a port other than 443.
pub const PORT_NOT_ALLOWED: &str = "port_not_allowed";
/// CONNECT to an IP literal (refused even when listed).
pub const IP_LITERAL: &str = "ip_literal";
/// CONNECT to a host not in `allow_hosts`, or plain-HTTP proxying to a
/// host that is not the proxy itself.
pub const HOST_NOT_ALLOWED: &str = "host_not_allowed";
/// The host does not resolve (or not in time).
pub const DNS_FAILED: &str = "dns_failed";
/// A resolved address is private and not covered by `allow_private`.
pub const PRIVATE_ADDRESS: &str = "private_address";
/// No TCP connection to any checked address.
pub const CONNECT_FAILED: &str = "connect_failed";
/// A request for a route that does not exist.
pub const ROUTE_NOT_FOUND: &str = "route_not_found";
/// A route request without the right session token.
pub const PROXY_TOKEN_INVALID: &str = "proxy_token_invalid";

/// One thing the proxy did or refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A request was refused (for CONNECT: the agent got a reset).
    Denied {
        /// What was asked for: the CONNECT target, or the request path
        /// without its query.
        target: String,
        /// One of the reason constants of this module.
        reason: &'static str,
        /// Human-readable detail (host names, addresses; no secrets).
        detail: String,
    },
    /// A tunnel to an allowed host ended.
    Tunnel {
        /// The CONNECT target (`host:443`).
        target: String,
        /// The address actually connected to.
        peer: SocketAddr,
        /// Bytes from the agent to the upstream (early data included).
        bytes_up: u64,
        /// Bytes from the upstream to the agent.
        bytes_down: u64,
        /// From the CONNECT head to the end of the tunnel.
        duration: Duration,
    },
    /// An authenticated credential-route request finished.
    Route {
        /// Route name.
        route: String,
        /// Request method.
        method: String,
        /// The agent's request path without the query.
        path: String,
        /// Status sent to the agent (502 when the upstream failed before
        /// answering, 400 for a refused request, else the upstream's).
        status: u16,
        /// Request body bytes sent upstream.
        bytes_up: u64,
        /// Response body bytes relayed to the agent.
        bytes_down: u64,
        /// From the request head to the end of the response.
        duration: Duration,
    },
}

impl Event {
    /// The event as ledger fields: `event_type` (`sandbox_egress_denied`,
    /// `sandbox_tunnel`, `sandbox_route_request`) and the event's fields,
    /// durations in milliseconds. The caller adds time and session.
    pub fn to_fields(&self) -> Map {
        let ms = |d: &Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let mut m = Map::new();
        match self {
            Event::Denied {
                target,
                reason,
                detail,
            } => {
                m.insert("event_type", "sandbox_egress_denied");
                m.insert("target", target.as_str());
                m.insert("reason", *reason);
                m.insert("detail", detail.as_str());
            }
            Event::Tunnel {
                target,
                peer,
                bytes_up,
                bytes_down,
                duration,
            } => {
                m.insert("event_type", "sandbox_tunnel");
                m.insert("target", target.as_str());
                m.insert("peer", peer.to_string());
                m.insert("bytes_up", *bytes_up);
                m.insert("bytes_down", *bytes_down);
                m.insert("duration_ms", ms(duration));
            }
            Event::Route {
                route,
                method,
                path,
                status,
                bytes_up,
                bytes_down,
                duration,
            } => {
                m.insert("event_type", "sandbox_route_request");
                m.insert("route", route.as_str());
                m.insert("method", method.as_str());
                m.insert("path", path.as_str());
                m.insert("status", u64::from(*status));
                m.insert("bytes_up", *bytes_up);
                m.insert("bytes_down", *bytes_down);
                m.insert("duration_ms", ms(duration));
            }
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::Value;

    #[test]
    fn ledger_fields() {
        let denied = Event::Denied {
            target: "evil.com:443".into(),
            reason: HOST_NOT_ALLOWED,
            detail: "evil.com is not in allow_hosts".into(),
        };
        let m = denied.to_fields();
        let text = Value::Object(m).to_json();
        assert_eq!(
            crate::json::parse(text.as_bytes()).unwrap(),
            crate::obj! {
                "event_type" => "sandbox_egress_denied",
                "target" => "evil.com:443",
                "reason" => "host_not_allowed",
                "detail" => "evil.com is not in allow_hosts",
            }
        );
        let route = Event::Route {
            route: "anthropic".into(),
            method: "POST".into(),
            path: "/anthropic/v1/messages".into(),
            status: 200,
            bytes_up: 10,
            bytes_down: 20,
            duration: Duration::from_millis(1500),
        }
        .to_fields();
        assert_eq!(route.get("status").and_then(Value::as_u64), Some(200));
        assert_eq!(route.get("duration_ms").and_then(Value::as_u64), Some(1500));
        let tunnel = Event::Tunnel {
            target: "api.anthropic.com:443".into(),
            peer: "203.0.113.9:443".parse().unwrap(),
            bytes_up: 1,
            bytes_down: 2,
            duration: Duration::from_secs(3),
        }
        .to_fields();
        assert_eq!(
            tunnel.get("peer").and_then(Value::as_str),
            Some("203.0.113.9:443")
        );
        assert_eq!(
            tunnel.get("event_type").and_then(Value::as_str),
            Some("sandbox_tunnel")
        );
    }
}
