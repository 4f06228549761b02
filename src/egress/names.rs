//! DNS host name syntax, shared by URL parsing and sink rules.

/// Checks a lowercased host name against the LDH rules: 1..=253 bytes,
/// dot-separated labels of 1..=63 bytes of `a-z`, `0-9` and `-`, no label
/// starting or ending with `-`. The last label must not start with a digit:
/// no real TLD does, and it rules out numeric IPv4 spellings such as
/// `127.1`, `2130706433` or `0x7f.1` that resolvers would turn into addresses.
pub fn check_dns_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 253 {
        return Err("host name must be 1 to 253 bytes".into());
    }
    for label in name.split('.') {
        check_label(label)?;
    }
    let last = name.rsplit('.').next().unwrap_or("");
    if last.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
        return Err(format!("numeric top-level label in {name:?}"));
    }
    Ok(())
}

/// One label: 1..=63 bytes of LDH, no hyphen at either end.
fn check_label(label: &str) -> Result<(), String> {
    if label.is_empty() || label.len() > 63 {
        return Err("every label must be 1 to 63 bytes".into());
    }
    let ldh = label
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ldh {
        return Err(format!(
            "label {label:?} has characters outside a-z, 0-9, -"
        ));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(format!("label {label:?} starts or ends with '-'"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for ok in [
            "a.com",
            "api.example.com",
            "x-1.y2.io",
            "localhost",
            "xn--bcher-kva.de",
        ] {
            assert!(check_dns_name(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_bad_names() {
        let long_label = format!("{}.com", "a".repeat(64));
        let long_name = format!("{}com", "abcdefghi.".repeat(26));
        for bad in [
            "",
            "a..b",
            ".a.com",
            "a.com.",
            "-a.com",
            "a-.com",
            "a_b.com",
            "A.com",
            "a b.com",
            "127.1",
            "2130706433",
            "1.2.3.4",
            "0x7f.1",
            "a.0x7f",
            long_label.as_str(),
            long_name.as_str(),
        ] {
            assert!(check_dns_name(bad).is_err(), "{bad:?}");
        }
    }
}
