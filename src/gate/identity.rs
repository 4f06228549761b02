//! Who is asking for a lease. The principal comes only from here, never
//! from the request body.
//!
//! - `none`: everyone is `dev:anonymous` with the scopes they ask for.
//! - `peercred`: the Unix socket peer's uid (SO_PEERCRED, from the kernel)
//!   maps through `[identity.peercred.principals."<uid>"]` to a principal
//!   and the scopes it may hold; the lease gets the intersection with the
//!   scopes asked for. An unmapped uid is refused (403
//!   `identity_forbidden`) unless `allow_unmapped`, which makes it
//!   `uid:<n>`. A TCP peer has no uid: 401 `identity_unauthenticated`.

use super::errors::GateError;
use crate::config::{IdentityProvider, IdentitySettings};
use crate::net::server::Peer;

/// The principal for identity provider `none`.
pub const ANONYMOUS: &str = "dev:anonymous";

/// Who the lease is for.
#[derive(Debug, PartialEq)]
pub struct Identity {
    /// The lease subject.
    pub principal: String,
    /// The scopes the lease gets.
    pub scopes: Vec<String>,
    /// Optional owner claim.
    pub owner: Option<String>,
}

/// A name for the peer in ledger events, before it is identified.
pub fn peer_label(peer: &Peer) -> String {
    match peer {
        Peer::Unix { uid: Some(u) } => format!("uid:{u}"),
        Peer::Unix { uid: None } => "unix:unknown".to_string(),
        Peer::Tcp(a) => format!("tcp:{a}"),
    }
}

/// Identifies `peer` asking for `requested` scopes.
pub fn identify(
    settings: &IdentitySettings,
    peer: &Peer,
    requested: &[String],
) -> Result<Identity, GateError> {
    if settings.provider == IdentityProvider::None {
        return Ok(Identity {
            principal: ANONYMOUS.to_string(),
            scopes: requested.to_vec(),
            owner: None,
        });
    }
    let uid = match peer {
        Peer::Unix { uid: Some(u) } => *u,
        Peer::Unix { uid: None } => {
            return Err(GateError::new(503, "identity_provider_unavailable")
                .message("the kernel did not report the peer's uid"))
        }
        Peer::Tcp(_) => {
            return Err(GateError::new(401, "identity_unauthenticated")
                .message("identity provider peercred identifies callers on the Unix socket only"))
        }
    };
    let Some(entry) = settings.principals.get(&uid) else {
        if settings.allow_unmapped {
            return Ok(Identity {
                principal: format!("uid:{uid}"),
                scopes: requested.to_vec(),
                owner: None,
            });
        }
        return Err(GateError::new(403, "identity_forbidden").message(format!(
            "uid {uid} is not mapped in [identity.peercred.principals] and allow_unmapped is false"
        )));
    };
    let scopes: Vec<String> = requested
        .iter()
        .filter(|s| entry.scopes.contains(s))
        .cloned()
        .collect();
    if scopes.is_empty() {
        return Err(GateError::new(403, "scope_not_permitted").message(format!(
            "principal `{}` may hold {:?}; none of the requested scopes",
            entry.principal, entry.scopes
        )));
    }
    Ok(Identity {
        principal: entry.principal.clone(),
        scopes,
        owner: entry.owner.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PeerPrincipal;

    fn peercred(allow_unmapped: bool) -> IdentitySettings {
        let mut s = IdentitySettings {
            provider: IdentityProvider::Peercred,
            allow_unmapped,
            ..Default::default()
        };
        s.principals.insert(
            1000,
            PeerPrincipal {
                principal: "alice".into(),
                scopes: vec!["tools:call".into()],
                owner: Some("alice@example.com".into()),
            },
        );
        s
    }

    fn scopes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn none_is_anonymous_with_requested_scopes() {
        let id = identify(
            &IdentitySettings::default(),
            &Peer::Tcp("127.0.0.1:1".parse().unwrap()),
            &scopes(&["tools:call", "audit:read"]),
        )
        .unwrap();
        assert_eq!(id.principal, ANONYMOUS);
        assert_eq!(id.scopes.len(), 2);
    }

    #[test]
    fn peercred_maps_and_intersects_scopes() {
        let peer = Peer::Unix { uid: Some(1000) };
        let id = identify(
            &peercred(false),
            &peer,
            &scopes(&["tools:call", "audit:read"]),
        )
        .unwrap();
        assert_eq!(id.principal, "alice");
        assert_eq!(id.scopes, scopes(&["tools:call"]));
        assert_eq!(id.owner.as_deref(), Some("alice@example.com"));
        let e = identify(&peercred(false), &peer, &scopes(&["audit:read"])).unwrap_err();
        assert_eq!((e.status, e.code), (403, "scope_not_permitted"));
    }

    #[test]
    fn peercred_refuses_unmapped_and_tcp() {
        let e = identify(
            &peercred(false),
            &Peer::Unix { uid: Some(7) },
            &scopes(&["tools:call"]),
        )
        .unwrap_err();
        assert_eq!((e.status, e.code), (403, "identity_forbidden"));
        let id = identify(
            &peercred(true),
            &Peer::Unix { uid: Some(7) },
            &scopes(&["tools:call"]),
        )
        .unwrap();
        assert_eq!(id.principal, "uid:7");
        let tcp = Peer::Tcp("127.0.0.1:9".parse().unwrap());
        let e = identify(&peercred(true), &tcp, &scopes(&["tools:call"])).unwrap_err();
        assert_eq!((e.status, e.code), (401, "identity_unauthenticated"));
        let e = identify(
            &peercred(true),
            &Peer::Unix { uid: None },
            &scopes(&["tools:call"]),
        )
        .unwrap_err();
        assert_eq!(e.status, 503);
    }
}
