//! The session token check of the credential routes. Stock SDKs cannot
//! add a custom header, so the token is accepted in three places:
//! `X-LatchGate-Proxy-Token`, the route's own credential header written
//! in the route's format (`x-api-key: <token>`, `Authorization: Bearer
//! <token>`), or `Authorization: Bearer <token>` whatever the route (the
//! current anthropic SDK sends its key that way when configured so).

use super::head::Headers;
use crate::crypto::ct_eq;
use crate::sandbox::CredentialRoute;

/// The dedicated header.
pub const TOKEN_HEADER: &str = "x-latchgate-proxy-token";

/// True when `headers` carry `token` in one of the accepted places.
/// Every candidate is compared in constant time; an empty token never
/// matches.
pub fn presented(headers: &Headers, route: &CredentialRoute, token: &str) -> bool {
    if token.is_empty() {
        return false;
    }
    let expected_route_value = route.format.replace("{}", token);
    let mut ok = false;
    for (name, value) in &headers.0 {
        if name.eq_ignore_ascii_case(TOKEN_HEADER) {
            ok |= ct_eq(value.as_bytes(), token.as_bytes());
        }
        if name.eq_ignore_ascii_case(&route.header) {
            ok |= ct_eq(value.as_bytes(), expected_route_value.as_bytes());
        }
        if name.eq_ignore_ascii_case("authorization") {
            if let Some(bearer) = bearer(value) {
                ok |= ct_eq(bearer.as_bytes(), token.as_bytes());
            }
        }
    }
    ok
}

/// The credential of `Bearer <credential>` (scheme case-insensitive).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim_matches(' '))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::KeySource;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn route(header: &str, format: &str) -> CredentialRoute {
        CredentialRoute {
            name: "r".into(),
            upstream: "https://api.example.com".into(),
            header: header.into(),
            format: format.into(),
            key_source: KeySource::Env("X".into()),
        }
    }

    fn h(list: &[(&str, &str)]) -> Headers {
        Headers(
            list.iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn accepted_in_each_of_the_three_places() {
        let anthropic = route("x-api-key", "{}");
        let openai = route("Authorization", "Bearer {}");
        let bearer = format!("Bearer {TOKEN}");
        assert!(presented(
            &h(&[("X-LatchGate-Proxy-Token", TOKEN)]),
            &anthropic,
            TOKEN
        ));
        assert!(presented(&h(&[("X-Api-Key", TOKEN)]), &anthropic, TOKEN));
        assert!(presented(
            &h(&[("authorization", &bearer)]),
            &anthropic,
            TOKEN
        ));
        assert!(presented(&h(&[("Authorization", &bearer)]), &openai, TOKEN));
        assert!(presented(
            &h(&[("authorization", &format!("bearer  {TOKEN}"))]),
            &openai,
            TOKEN
        ));
        // A custom format: the header value must be the format filled in.
        let custom = route("x-goog-api-key", "Key {}");
        assert!(presented(
            &h(&[("x-goog-api-key", &format!("Key {TOKEN}"))]),
            &custom,
            TOKEN
        ));
        assert!(!presented(&h(&[("x-goog-api-key", TOKEN)]), &custom, TOKEN));
        // One right value among wrong ones is enough.
        assert!(presented(
            &h(&[
                ("x-api-key", "sk-wrong"),
                ("x-latchgate-proxy-token", TOKEN)
            ]),
            &anthropic,
            TOKEN
        ));
    }

    #[test]
    fn refused_when_wrong_missing_or_misplaced() {
        let anthropic = route("x-api-key", "{}");
        let short = &TOKEN[..63];
        for bad in [
            h(&[]),
            h(&[("x-api-key", short)]),
            h(&[("x-api-key", &format!("{TOKEN}0"))]),
            h(&[("x-api-key", &TOKEN.to_uppercase())]),
            h(&[("authorization", TOKEN)]),
            h(&[("authorization", &format!("Basic {TOKEN}"))]),
            h(&[("proxy-authorization", &format!("Bearer {TOKEN}"))]),
            h(&[("x-other", TOKEN)]),
        ] {
            assert!(!presented(&bad, &anthropic, TOKEN), "{bad:?}");
        }
        assert!(!presented(&h(&[("x-api-key", "")]), &anthropic, ""));
        assert!(!presented(
            &h(&[("x-latchgate-proxy-token", "")]),
            &anthropic,
            ""
        ));
    }
}
