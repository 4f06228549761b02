//! The one URL shape actions accept: absolute `http://` or `https://` with
//! a host. Used by the schema keyword `format: "uri"` and for a template
//! URL that is a whole variable.

/// Checks that `s` is an absolute http(s) URL with a host.
///
/// Rules: scheme `http` or `https` (any case); printable ASCII only (no
/// spaces, control characters or backslashes, which parsers disagree on);
/// a non-empty host of letters, digits, `.`, `-`, `_` or a bracketed IPv6
/// literal; an optional decimal port 1 to 65535. User info (`user@host`)
/// is rejected: it is a classic way to make a URL look like it goes
/// somewhere else.
pub fn check_http_url(s: &str) -> Result<(), String> {
    if let Some(b) = s
        .bytes()
        .find(|b| !(0x21..=0x7e).contains(b) || *b == b'\\')
    {
        return Err(format!(
            "URL contains a forbidden character (byte 0x{b:02x}); only printable ASCII without spaces or backslashes"
        ));
    }
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        s.get(8..)
    } else if lower.starts_with("http://") {
        s.get(7..)
    } else {
        None
    };
    let Some(rest) = rest else {
        return Err("URL must start with http:// or https://".to_string());
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..end).unwrap_or("");
    if authority.contains('@') {
        return Err("URL must not contain user info (user@host)".to_string());
    }
    let (host, port) = split_host_port(authority)?;
    if host.is_empty() {
        return Err("URL has no host".to_string());
    }
    if let Some(port) = port {
        let ok = !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
        if !ok {
            return Err(format!("URL port `{port}` is not a number from 1 to 65535"));
        }
    }
    Ok(())
}

/// Splits `host[:port]` or `[v6][:port]`, checking the host's characters.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(v6) = authority.strip_prefix('[') {
        let Some((addr, after)) = v6.split_once(']') else {
            return Err("URL has an unclosed IPv6 literal".to_string());
        };
        if addr.is_empty()
            || !addr
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err("URL has an invalid IPv6 literal".to_string());
        }
        return match after.strip_prefix(':') {
            Some(port) => Ok((addr, Some(port))),
            None if after.is_empty() => Ok((addr, None)),
            None => Err("URL has characters after the IPv6 literal".to_string()),
        };
    }
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if !host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    {
        return Err(format!(
            "URL host `{host}` has characters other than letters, digits, . - _"
        ));
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::check_http_url;

    #[test]
    fn accepts_ordinary_urls() {
        for ok in [
            "https://httpbin.org/get",
            "http://example.com",
            "HTTPS://Example.com:8443/a?b=c#d",
            "https://[::1]:443/x",
            "https://en.wikipedia.org/wiki/Rust_(programming_language)",
            "https://a.b?x=1",
        ] {
            assert!(check_http_url(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_bad_urls() {
        for bad in [
            "",
            "ftp://x.org/",
            "https://",
            "https:///path",
            "https://a b.org/",
            "https://x.org/a b",
            "https://x.org/\n",
            "https://user@x.org/",
            "https://x.org:0/",
            "https://x.org:99999/",
            "https://x.org:/",
            "https://x.org:8a/",
            "https://[::1/",
            "https://[zz]/",
            "https://x.org\\@evil.com/",
            "https://ex%41mple.org/",
            "https://exämple.org/",
            "//x.org/",
            "x.org",
        ] {
            assert!(check_http_url(bad).is_err(), "{bad:?}");
        }
    }
}
