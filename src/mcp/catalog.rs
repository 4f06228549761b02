//! The action set the client has seen, and when to tell it that changed.
//!
//! `tools/list` reads the gate's catalog (one `GET /v1/tools`, or a 304
//! when the cached digest is current) and records the digest the client
//! now holds. A periodic check, and every other read, compares the gate's
//! digest with that one; when they differ the caller sends
//! `notifications/tools/list_changed` once. A `tools/list` answered while
//! the gate is down returns no tools and records an empty view, so the
//! first successful read afterwards announces the change.
//!
//! The lock is never held across a request to the gate.

use super::gate_client::{Catalog, Failure, Fetched, GateClient};
use super::tools;
use crate::json::Value;
use std::sync::{Arc, Mutex, MutexGuard};

/// The digest recorded when the client was given an empty list.
const EMPTY_VIEW: &str = "";

#[derive(Default)]
struct Inner {
    /// The last catalog read from the gate.
    current: Option<Arc<Catalog>>,
    /// The digest of the list the client holds (`EMPTY_VIEW` when it got
    /// none), `None` before its first `tools/list`.
    client_view: Option<String>,
}

/// Shared catalog state.
#[derive(Default)]
pub struct CatalogState {
    inner: Mutex<Inner>,
}

impl CatalogState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The last catalog read, if any.
    pub fn current(&self) -> Option<Arc<Catalog>> {
        self.lock().current.clone()
    }

    /// Reads the gate's catalog (conditionally on the cached digest) and
    /// stores it. Returns the catalog in effect and whether the client's
    /// view is now stale (the caller then sends `list_changed`; the view
    /// is updated so it is sent once per change).
    pub fn refresh(&self, gate: &GateClient) -> Result<(Arc<Catalog>, bool), Failure> {
        let known = self.lock().current.as_ref().map(|c| c.digest.clone());
        let fetched = gate.fetch_catalog(known.as_deref())?;
        let mut inner = self.lock();
        let catalog = match (fetched, inner.current.clone()) {
            (Fetched::Fresh(c), _) => {
                let c = Arc::new(c);
                inner.current = Some(Arc::clone(&c));
                c
            }
            (Fetched::Unchanged, Some(c)) => c,
            // A 304 for a digest we no longer hold cannot happen with one
            // writer; treat it as a failed read.
            (Fetched::Unchanged, None) => {
                return Err(Failure::BadAnswer("304 without a cached catalog".into()))
            }
        };
        let stale = matches!(&inner.client_view, Some(v) if *v != catalog.digest);
        if stale {
            inner.client_view = Some(catalog.digest.clone());
        }
        Ok((catalog, stale))
    }

    /// The tools for a `tools/list` answer: the gate's current catalog,
    /// the cached one if the gate cannot be read, else none. Records what
    /// the client now holds.
    pub fn list(&self, gate: &GateClient) -> Vec<Value> {
        let catalog = match self.refresh(gate) {
            Ok((c, _)) => Some(c),
            Err(e) => {
                super::log::log!(
                    super::log::Level::Warn,
                    "tools/list: cannot read the catalog ({}); answering with {}",
                    describe(&e),
                    if self.current().is_some() {
                        "the cached tools"
                    } else {
                        "no tools until the gate is up"
                    }
                );
                self.current()
            }
        };
        let mut inner = self.lock();
        inner.client_view = Some(
            catalog
                .as_ref()
                .map_or(EMPTY_VIEW.to_string(), |c| c.digest.clone()),
        );
        catalog
            .map(|c| c.tools.iter().map(tools::tool).collect())
            .unwrap_or_default()
    }
}

/// One line about a failure, for logs and messages.
pub fn describe(f: &Failure) -> String {
    match f {
        Failure::Unavailable(m) | Failure::BadAnswer(m) | Failure::Internal(m) => m.clone(),
        Failure::LeaseRefused(a) => format!("lease refused: HTTP {} {}", a.status, a.code()),
    }
}
