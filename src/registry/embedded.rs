//! The default manifests compiled into the binary (`manifests/*.toml`).

/// `(origin, TOML source)` of every embedded manifest, loaded before any
/// manifest directory (which may override them by id).
pub const EMBEDDED: &[(&str, &str)] = &[
    (
        "embedded:echo.toml",
        include_str!("../../manifests/echo.toml"),
    ),
    (
        "embedded:http_fetch.toml",
        include_str!("../../manifests/http_fetch.toml"),
    ),
];
