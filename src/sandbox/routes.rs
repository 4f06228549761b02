//! Credential routes resolved on the host, before anything is started: the
//! key is read here and stays in this process (the proxy injects it); the
//! agent only ever sees `<NAME>_BASE_URL` and the session token.

use super::{CredentialRoute, KeySource};
use crate::secrets::SecretValue;
use std::path::Path;

/// A route whose key was found.
pub struct Resolved {
    /// The route.
    pub route: CredentialRoute,
    /// Its key (never printed, never passed to the sandbox).
    pub key: SecretValue,
}

/// Resolves every route; unresolved ones (unset variable, missing file or
/// secret) are skipped, as the seed says, and named in the returned list.
pub fn resolve(routes: &[CredentialRoute], data_dir: &Path) -> (Vec<Resolved>, Vec<String>) {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for r in routes {
        let value = match &r.key_source {
            KeySource::Env(var) => std::env::var(var).ok(),
            KeySource::File(p) => std::fs::read_to_string(p)
                .ok()
                .map(|s| s.trim_end_matches(['\r', '\n']).to_string()),
            KeySource::Secret(name) => crate::secrets::Store::new(data_dir.to_path_buf())
                .get(name)
                .ok()
                .flatten()
                .map(|v| v.expose().to_string()),
        };
        match value.filter(|v| !v.is_empty()).map(SecretValue::new) {
            Some(Ok(key)) => found.push(Resolved {
                route: r.clone(),
                key,
            }),
            _ => missing.push(r.key_source.spelling()),
        }
    }
    (found, missing)
}

/// The seed's warning when a profile declares routes and none resolves.
pub fn none_resolved_warning(routes: &[CredentialRoute]) -> String {
    let vars: Vec<String> = routes
        .iter()
        .filter_map(|r| match &r.key_source {
            KeySource::Env(v) => Some(v.clone()),
            _ => None,
        })
        .collect();
    format!(
        "WARN no credential routes resolved — the agent will authenticate through the CONNECT tunnel (subscription/OAuth) instead of the credential-injecting proxy. Set {} to enable credential isolation.",
        if vars.is_empty() { "a route's key source".to_string() } else { vars.join(" or ") }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(name: &str, src: KeySource) -> CredentialRoute {
        CredentialRoute {
            name: name.into(),
            upstream: "https://api.example.com".into(),
            header: "x-api-key".into(),
            format: "{}".into(),
            key_source: src,
        }
    }

    #[test]
    fn unset_sources_are_skipped_and_warned_with_the_seed_text() {
        let dir = std::env::temp_dir();
        let routes = vec![
            route("anthropic", KeySource::Env("LG_TEST_UNSET_KEY_A".into())),
            route("openai", KeySource::Env("LG_TEST_UNSET_KEY_B".into())),
        ];
        let (found, missing) = resolve(&routes, &dir);
        assert!(found.is_empty());
        assert_eq!(missing.len(), 2);
        assert_eq!(
            none_resolved_warning(&routes),
            "WARN no credential routes resolved — the agent will authenticate through the CONNECT tunnel (subscription/OAuth) instead of the credential-injecting proxy. Set LG_TEST_UNSET_KEY_A or LG_TEST_UNSET_KEY_B to enable credential isolation."
        );
    }

    #[test]
    fn file_source_resolves_without_its_newline() {
        let p = std::env::temp_dir().join(format!("lg-route-key-{}", std::process::id()));
        std::fs::write(&p, "sk-test\n").unwrap();
        let (found, _) = resolve(
            &[route("x", KeySource::File(p.clone()))],
            &std::env::temp_dir(),
        );
        assert_eq!(found[0].key.expose(), "sk-test");
        let _ = std::fs::remove_file(p);
    }
}
