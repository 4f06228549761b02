//! Action manifests (`src/registry/manifest.rs`: TOML text → validated
//! manifest → compiled schemas, template and egress sinks), and what the
//! gate does with an agent's request body for a loaded action: size, shape,
//! request schema and hash (`gate::pipeline::validate::input`), then the
//! request template (`gate::pipeline::render::task`).
//!
//! Input: byte 0 even → the rest is manifest TOML; odd → byte 1 picks one
//! of the embedded manifests and the rest is the request body. Properties:
//! no panic; a valid manifest builds an action; a body the gate accepts has
//! a `sha256:` hash; and when a template fixes the URL's authority, no input
//! can move the request to another host.
#![no_main]

use latchgate::egress::Url;
use latchgate::gate::pipeline::{render, validate};
use latchgate::registry::{Action, Manifest, EMBEDDED};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// The embedded actions, built once.
fn actions() -> &'static [Action] {
    static ACTIONS: OnceLock<Vec<Action>> = OnceLock::new();
    ACTIONS.get_or_init(|| {
        EMBEDDED
            .iter()
            .map(|(origin, src)| {
                let m = Manifest::from_toml(src, origin).expect("embedded manifest is valid");
                Action::new(m).expect("embedded manifest compiles")
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        manifest_text(rest);
    } else if let Some((&pick, body)) = rest.split_first() {
        let all = actions();
        if let Some(action) = all.get(usize::from(pick) % all.len().max(1)) {
            request_body(action, body);
        }
    }
});

fn manifest_text(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Manifest::from_toml(text, "fuzz.toml") {
        Ok(m) => {
            assert!(!m.id.is_empty());
            assert!(m.content_digest().starts_with("sha256:"));
            if let Some(t) = &m.template {
                let _ = t.variables();
                let _ = t.header_sources();
            }
            let _ = Action::new(m);
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

fn request_body(action: &Action, body: &[u8]) {
    let Ok((input, hash)) = validate::input(action, body) else {
        return;
    };
    assert!(
        hash.starts_with("sha256:") && hash.len() == 7 + 64,
        "hash {hash}"
    );
    let Ok(task) = render::task(action, &input) else {
        return;
    };
    let Some(template) = &action.manifest.template else {
        return;
    };
    let host = task.host.expect("a template task names its host");
    if let Some(fixed) = literal_host(template.url_source()) {
        assert_eq!(host, fixed, "input moved the request to another host");
    }
}

/// The host of a template URL whose scheme and authority hold no variable.
fn literal_host(source: &str) -> Option<String> {
    let (scheme, rest) = source.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..end)?;
    if scheme.contains("{{") || authority.contains("{{") || authority.is_empty() {
        return None;
    }
    let url = Url::parse(&format!("{scheme}://{authority}/")).ok()?;
    Some(url.host.to_ascii_lowercase())
}
