//! Readers for each part of a manifest (see `manifest.rs` for the format):
//! one function per key or table, each checking shape and range and
//! returning errors that name the file, key path and line.

use super::convert::{line_along, table_to_json};
use super::fields::View;
use super::fs::{
    builtin_denied, FsOperation, FsSection, DEFAULT_MAX_FILE_BYTES, MAX_FILE_BYTES_LIMIT,
};
use super::manifest::{
    AwsSigV4, Egress, IoLimits, Limits, ManifestError, ProviderRef, RiskLevel, Secret,
    Verification, VerifierKind, BASE_SCOPE,
};
use super::rules;
use super::schema::Schema;
use super::template::Template;
use crate::egress::sigv4::{valid_region, RegionSource};
use crate::egress::DomainRule;
use crate::json::Value;
use crate::policy::Glob;

/// What an egress entry may be, for error messages.
const DOMAINS_ALLOWED: &str =
    "allowed: a host name of at least two labels (also covers its subdomains), *. followed by at least two labels, or an IP literal";

pub(super) fn read_provider(top: &View) -> Result<(ProviderRef, u32), ManifestError> {
    let (p, line) = top.req_string("provider")?;
    let allowed = "allowed: builtin:<name> or sha256:<64 lowercase hex digits>";
    if let Some(name) = p.strip_prefix("builtin:") {
        rules::builtin_name(name).map_err(|e| top.err("provider", line, e))?;
        return Ok((ProviderRef::Builtin(name.to_string()), line));
    }
    if p.starts_with("sha256:") {
        rules::module_digest(&p).map_err(|e| top.err("provider", line, e))?;
        return Ok((ProviderRef::Digest(p), line));
    }
    Err(top.err(
        "provider",
        line,
        format!("unknown provider `{p}`; {allowed}"),
    ))
}

pub(super) fn read_risk(top: &View) -> Result<(RiskLevel, u32), ManifestError> {
    let Some((r, line)) = top.string("risk_level")? else {
        return Ok((RiskLevel::Low, top.line()));
    };
    let risk = match r.as_str() {
        "low" => RiskLevel::Low,
        "medium" => RiskLevel::Medium,
        "high" => RiskLevel::High,
        "critical" => RiskLevel::Critical,
        _ => {
            return Err(top.err(
                "risk_level",
                line,
                format!("unknown `{r}`; allowed: low, medium, high, critical"),
            ))
        }
    };
    Ok((risk, line))
}

pub(super) fn read_verifier(top: &View) -> Result<(VerifierKind, Option<u32>), ManifestError> {
    let Some((v, line)) = top.string("verifier")? else {
        return Ok((VerifierKind::None, None));
    };
    let verifier = match v.as_str() {
        "none" => VerifierKind::None,
        "http_status" => VerifierKind::HttpStatus,
        "fs_hash" => VerifierKind::FsHash,
        _ => {
            return Err(top.err(
                "verifier",
                line,
                format!("unknown `{v}`; allowed: none, http_status, fs_hash"),
            ))
        }
    };
    Ok((verifier, Some(line)))
}

/// A list of unique strings, each checked by `check`.
pub(super) fn read_labels(
    view: &View,
    key: &str,
    check: fn(&str) -> Result<(), String>,
) -> Result<Vec<String>, ManifestError> {
    let Some((items, _)) = view.strings(key)? else {
        return Ok(Vec::new());
    };
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for (s, line) in items {
        check(&s).map_err(|e| view.err(key, line, format!("`{s}`: {e}")))?;
        if out.contains(&s) {
            return Err(view.err(key, line, format!("`{s}` is listed twice")));
        }
        out.push(s);
    }
    Ok(out)
}

pub(super) fn read_scopes(top: &View) -> Result<Vec<String>, ManifestError> {
    let Some((_, line)) = top.strings("required_scopes")? else {
        return Ok(vec![BASE_SCOPE.to_string()]);
    };
    let scopes = read_labels(top, "required_scopes", rules::scope)?;
    if !scopes.iter().any(|s| s == BASE_SCOPE) {
        return Err(top.err(
            "required_scopes",
            line,
            format!("must include `{BASE_SCOPE}`"),
        ));
    }
    Ok(scopes)
}

pub(super) fn read_verification(
    top: &View,
    verifier: VerifierKind,
) -> Result<Verification, ManifestError> {
    let Some(v) = top.table_at("verification")? else {
        return Ok(Verification::default());
    };
    if verifier != VerifierKind::HttpStatus {
        return Err(v.err_here(format!(
            "[verification] only applies to verifier = \"http_status\" (this action uses `{}`)",
            verifier.as_str()
        )));
    }
    v.allow_only(&["expected_status", "required_fields"])?;
    let mut expected_status = Vec::new();
    if let Some((codes, _)) = v.uints("expected_status", 100, 599)? {
        for (code, line) in codes {
            let code = u16::try_from(code)
                .map_err(|_| v.err("expected_status", line, "allowed: 100 to 599"))?;
            expected_status.push(code);
        }
    }
    let required_fields = read_labels(&v, "required_fields", |s| {
        (!s.is_empty() && s.len() <= 128)
            .then_some(())
            .ok_or_else(|| "allowed: a field name of 1 to 128 characters".to_string())
    })?;
    Ok(Verification {
        expected_status,
        required_fields,
    })
}

pub(super) fn read_limits(top: &View) -> Result<Limits, ManifestError> {
    let mut limits = Limits {
        fuel: 1_000_000,
        memory_mb: 64,
        timeout_seconds: 30,
        max_io_calls: 10,
        max_host_response_bytes: 10 * 1024 * 1024,
    };
    let Some(v) = top.table_at("limits")? else {
        return Ok(limits);
    };
    v.allow_only(&[
        "fuel",
        "memory_mb",
        "timeout_seconds",
        "max_io_calls",
        "max_host_response_bytes",
    ])?;
    let get = |key, min, max, default| -> Result<u64, ManifestError> {
        Ok(v.uint(key, min, max)?.map_or(default, |(n, _)| n))
    };
    limits.fuel = get("fuel", 1, 10_000_000_000, limits.fuel)?;
    limits.memory_mb = narrow(
        &v,
        "memory_mb",
        get("memory_mb", 1, 4096, limits.memory_mb.into())?,
    )?;
    limits.timeout_seconds = get("timeout_seconds", 1, 600, limits.timeout_seconds)?;
    limits.max_io_calls = narrow(
        &v,
        "max_io_calls",
        get("max_io_calls", 0, 10_000, limits.max_io_calls.into())?,
    )?;
    limits.max_host_response_bytes = get(
        "max_host_response_bytes",
        1,
        256 << 20,
        limits.max_host_response_bytes,
    )?;
    Ok(limits)
}

pub(super) fn read_io(top: &View) -> Result<IoLimits, ManifestError> {
    let mut io = IoLimits {
        max_request_bytes: 64 * 1024,
        max_response_bytes: 1024 * 1024,
    };
    let Some(v) = top.table_at("io")? else {
        return Ok(io);
    };
    v.allow_only(&["max_request_bytes", "max_response_bytes"])?;
    if let Some((n, _)) = v.uint("max_request_bytes", 1, 1 << 20)? {
        io.max_request_bytes = narrow(&v, "max_request_bytes", n)?;
    }
    if let Some((n, _)) = v.uint("max_response_bytes", 1, 64 << 20)? {
        io.max_response_bytes = narrow(&v, "max_response_bytes", n)?;
    }
    Ok(io)
}

/// Converts an already range-checked value to its field type.
pub(super) fn narrow<T: TryFrom<u64>>(v: &View, key: &str, n: u64) -> Result<T, ManifestError> {
    let line = v.item(key).map_or(v.line(), |i| i.line);
    T::try_from(n).map_err(|_| v.err(key, line, format!("{n} does not fit this platform")))
}

pub(super) fn read_egress(top: &View) -> Result<Egress, ManifestError> {
    let Some(v) = top.table_at("egress")? else {
        return Ok(Egress::None);
    };
    v.allow_only(&["allowed_domains"])?;
    let Some((items, _)) = v.strings("allowed_domains")? else {
        let e = v.missing("allowed_domains");
        return Err(ManifestError {
            message: format!("{} (leave out [egress] for no network)", e.message),
            ..e
        });
    };
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for (d, line) in items {
        let rule = DomainRule::parse(&d)
            .map_err(|e| v.err("allowed_domains", line, format!("{e}; {DOMAINS_ALLOWED}")))?
            .to_string();
        if out.contains(&rule) {
            return Err(v.err("allowed_domains", line, format!("`{d}` is listed twice")));
        }
        out.push(rule);
    }
    Ok(Egress::Allowlist(out))
}

pub(super) fn read_template(
    top: &View,
    provider: &ProviderRef,
    provider_line: u32,
) -> Result<Option<Template>, ManifestError> {
    let Some(v) = top.table_at("template")? else {
        return Ok(None);
    };
    if !matches!(provider, ProviderRef::Builtin(_)) {
        return Err(top.err(
            "provider",
            provider_line,
            "[template] needs a builtin provider (builtin:<name>)",
        ));
    }
    v.allow_only(&["method", "url", "headers", "body"])?;
    let (method, method_line) = v.req_string("method")?;
    let (url, url_line) = v.req_string("url")?;
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut header_lines = Vec::new();
    if let Some(h) = v.table_at("headers")? {
        for (name, item) in h.table().iter() {
            let (value, line) = h.req_string(name)?;
            rules::header_name(name).map_err(|e| h.err(name, item.line, e))?;
            if headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                return Err(h.err(name, line, "header set twice (names are case-insensitive)"));
            }
            headers.push((name.clone(), value));
            header_lines.push(line);
        }
    }
    let body = v.string("body")?;
    let t = Template::parse(
        &method,
        &url,
        &headers,
        body.as_ref().map(|(b, _)| b.as_str()),
    )
    .map_err(|e| {
        let line = match e.field.as_str() {
            "method" => method_line,
            "url" => url_line,
            "body" => body.as_ref().map_or(v.line(), |(_, l)| *l),
            field => headers
                .iter()
                .zip(&header_lines)
                .find(|((n, _), _)| field.strip_prefix("headers.") == Some(n.as_str()))
                .map_or(v.line(), |(_, l)| *l),
        };
        v.err(&e.field, line, e.message)
    })?;
    Ok(Some(t))
}

/// `[[secrets]]`. A secret `sigv4` uses is a signing key: no `header`
/// or `format`, `required = true`, stored with an empty header.
pub(super) fn read_secrets(
    top: &View,
    template: Option<&Template>,
    sigv4: Option<&AwsSigV4>,
) -> Result<Vec<Secret>, ManifestError> {
    let mut out: Vec<Secret> = Vec::new();
    for v in top.tables("secrets")? {
        v.allow_only(&["name", "required", "header", "format"])?;
        let (name, name_line) = v.req_string("name")?;
        rules::secret_name(&name).map_err(|e| v.err("name", name_line, e))?;
        if out.iter().any(|s| s.name == name) {
            return Err(v.err(
                "name",
                name_line,
                format!("secret `{name}` is declared twice"),
            ));
        }
        let required = v.boolean("required")?.is_some_and(|(b, _)| b);
        if sigv4.is_some_and(|c| c.uses(&name)) {
            check_signing_secret(&v, &name, required)?;
            out.push(Secret {
                name,
                required,
                header: String::new(),
                format: "{}".to_string(),
            });
            continue;
        }
        if v.item("header").is_none() {
            let e = v.missing("header");
            return Err(ManifestError {
                message: format!(
                    "{} (only a signing key named by [aws_sigv4] has none)",
                    e.message
                ),
                ..e
            });
        }
        let (header, header_line) = v.req_string("header")?;
        rules::header_name(&header).map_err(|e| v.err("header", header_line, e))?;
        let clash_secret = out.iter().any(|s| s.header.eq_ignore_ascii_case(&header));
        let clash_template = template.is_some_and(|t| {
            t.header_sources()
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(&header))
        });
        if clash_secret || clash_template {
            return Err(v.err(
                "header",
                header_line,
                format!("header `{header}` is already set by another secret or the template"),
            ));
        }
        let format = match v.string("format")? {
            None => "{}".to_string(),
            Some((f, line)) => {
                if f.matches("{}").count() != 1 || f.chars().any(char::is_control) {
                    return Err(v.err(
                        "format",
                        line,
                        "must contain exactly one `{}` (where the secret goes) and no control characters",
                    ));
                }
                f
            }
        };
        out.push(Secret {
            name,
            required,
            header,
            format,
        });
    }
    Ok(out)
}

/// A `[[secrets]]` entry `[aws_sigv4]` signs with: required, never sent.
fn check_signing_secret(v: &View, name: &str, required: bool) -> Result<(), ManifestError> {
    for key in ["header", "format"] {
        if let Some(item) = v.item(key) {
            return Err(v.err(
                key,
                item.line,
                format!("secret `{name}` is an [aws_sigv4] signing key: it is never sent, so it takes no `{key}`"),
            ));
        }
    }
    if !required {
        let line = v.item("required").map_or(v.line(), |i| i.line);
        return Err(v.err(
            "required",
            line,
            format!("secret `{name}` is an [aws_sigv4] signing key: it needs `required = true`"),
        ));
    }
    Ok(())
}

/// `[aws_sigv4]` (format in `manifest.rs`); cross-checks are in
/// `check_aws_sigv4`.
pub(super) fn read_aws_sigv4(top: &View) -> Result<Option<AwsSigV4>, ManifestError> {
    let Some(v) = top.table_at("aws_sigv4")? else {
        return Ok(None);
    };
    v.allow_only(&[
        "access_key_secret",
        "secret_key_secret",
        "service",
        "region",
        "region_from_host",
    ])?;
    let (access_key_secret, line) = v.req_string("access_key_secret")?;
    rules::secret_name(&access_key_secret).map_err(|e| v.err("access_key_secret", line, e))?;
    let (secret_key_secret, line) = v.req_string("secret_key_secret")?;
    rules::secret_name(&secret_key_secret).map_err(|e| v.err("secret_key_secret", line, e))?;
    if secret_key_secret == access_key_secret {
        return Err(v.err(
            "secret_key_secret",
            line,
            "the access key id and the secret access key must be two different secrets",
        ));
    }
    let (service, line) = v.req_string("service")?;
    if service != "s3" {
        return Err(v.err(
            "service",
            line,
            format!("unknown `{service}`; allowed: s3 (the signer implements S3's path rules; other services normalise and double-encode paths)"),
        ));
    }
    let region = match (v.string("region")?, v.boolean("region_from_host")?) {
        (Some(_), Some((true, line))) => {
            return Err(v.err(
                "region_from_host",
                line,
                "set either `region` or `region_from_host = true`, not both",
            ))
        }
        (Some((r, line)), _) => {
            valid_region(&r).map_err(|e| v.err("region", line, e))?;
            RegionSource::Fixed(r)
        }
        (None, Some((true, _))) => RegionSource::FromHost,
        (None, _) => {
            return Err(v.err_here("needs `region = \"<aws region>\"` or `region_from_host = true`"))
        }
    };
    Ok(Some(AwsSigV4 {
        access_key_secret,
        secret_key_secret,
        service,
        region,
    }))
}

/// The `[aws_sigv4]` rules that involve other sections: both keys declared
/// in `[[secrets]]`; declared egress; an https template URL; no other
/// source of `Authorization` or `x-amz-*` headers.
pub(super) fn check_aws_sigv4(
    top: &View,
    sigv4: Option<&AwsSigV4>,
    secrets: &[Secret],
    egress: &Egress,
    template: Option<&Template>,
) -> Result<(), ManifestError> {
    let Some(c) = sigv4 else {
        return Ok(());
    };
    let line = top.item("aws_sigv4").map_or(top.line(), |i| i.line);
    for (key, name) in [
        ("access_key_secret", &c.access_key_secret),
        ("secret_key_secret", &c.secret_key_secret),
    ] {
        if !secrets.iter().any(|s| &s.name == name) {
            return Err(top.err(
                &format!("aws_sigv4.{key}"),
                line,
                format!("secret `{name}` must be declared in [[secrets]] (name = \"{name}\", required = true, no header)"),
            ));
        }
    }
    if !matches!(egress, Egress::Allowlist(d) if !d.is_empty()) {
        let at = top.item("egress").map_or(line, |i| i.line);
        return Err(top.err(
            "egress",
            at,
            "[aws_sigv4] needs [egress] allowed_domains naming the AWS endpoints: the keys only sign requests to declared sinks",
        ));
    }
    let signer_owns = |h: &str| {
        h.eq_ignore_ascii_case("authorization") || h.to_ascii_lowercase().starts_with("x-amz-")
    };
    if let Some(t) = template {
        let at = top.item("template").map_or(line, |i| i.line);
        if t.url_source().starts_with("http://") {
            return Err(top.err(
                "template.url",
                at,
                "[aws_sigv4] signs over https only: the URL must start with https://",
            ));
        }
        if let Some((h, _)) = t.header_sources().into_iter().find(|(h, _)| signer_owns(h)) {
            return Err(top.err(
                &format!("template.headers.{h}"),
                at,
                "with [aws_sigv4], Authorization and x-amz-* headers are set by the host's signer only",
            ));
        }
    }
    if let Some(s) = secrets.iter().find(|s| signer_owns(&s.header)) {
        let at = top.item("secrets").map_or(line, |i| i.line);
        return Err(top.err(
            "secrets",
            at,
            format!("secret `{}`: with [aws_sigv4], Authorization and x-amz-* headers are set by the host's signer only", s.name),
        ));
    }
    Ok(())
}

pub(super) fn read_schema(top: &View, key: &str) -> Result<Option<Value>, ManifestError> {
    let Some(v) = top.table_at(key)? else {
        return Ok(None);
    };
    let raw = table_to_json(v.table()).map_err(|(line, e)| {
        let e = v.err_here(e);
        ManifestError {
            line: if line == 0 { e.line } else { line },
            ..e
        }
    })?;
    // Compiled here only to report errors with file, key and line.
    Schema::compile_detailed(&raw).map_err(|e| {
        let line = line_along(v.table(), v.line(), &e.path);
        if e.path.is_empty() {
            v.err_here(e.message)
        } else {
            v.err(&e.path.join("."), line, e.message)
        }
    })?;
    Ok(Some(raw))
}

/// What an `[fs]` operation may be, for error messages.
const FS_OPERATIONS: &str = "allowed: read, create, overwrite, delete";

/// A list of unique path globs under `key` (absent: empty).
fn read_globs(v: &View, key: &str) -> Result<Vec<Glob>, ManifestError> {
    let Some((items, _)) = v.strings(key)? else {
        return Ok(Vec::new());
    };
    let mut out: Vec<Glob> = Vec::with_capacity(items.len());
    for (pattern, line) in items {
        let glob = Glob::parse(&pattern).map_err(|e| {
            v.err(
                key,
                line,
                format!("`{pattern}`: {e}; allowed: a relative glob (`**`, `*`, `?`)"),
            )
        })?;
        if out.contains(&glob) {
            return Err(v.err(key, line, format!("`{pattern}` is listed twice")));
        }
        out.push(glob);
    }
    Ok(out)
}

/// `[fs]`, with the line it starts on: operations (required, non-empty),
/// path globs, and the file size limit. The built-in deny globs come first
/// in `denied_paths`.
pub(super) fn read_fs(top: &View) -> Result<Option<(FsSection, u32)>, ManifestError> {
    let Some(v) = top.table_at("fs")? else {
        return Ok(None);
    };
    v.allow_only(&[
        "allowed_operations",
        "allowed_paths",
        "denied_paths",
        "max_file_bytes",
    ])?;
    let Some((_, ops_line)) = v.strings("allowed_operations")? else {
        return Err(v.missing("allowed_operations"));
    };
    let names = read_labels(&v, "allowed_operations", |s| {
        FsOperation::parse(s)
            .map(|_| ())
            .ok_or_else(|| FS_OPERATIONS.to_string())
    })?;
    let allowed_operations: Vec<FsOperation> =
        names.iter().filter_map(|n| FsOperation::parse(n)).collect();
    if allowed_operations.is_empty() {
        return Err(v.err(
            "allowed_operations",
            ops_line,
            format!("must list at least one operation; {FS_OPERATIONS}"),
        ));
    }
    let allowed_paths = read_globs(&v, "allowed_paths")?;
    let mut denied_paths = builtin_denied().map_err(|e| v.err_here(e))?;
    denied_paths.extend(read_globs(&v, "denied_paths")?);
    let max_file_bytes = v
        .uint("max_file_bytes", 1, MAX_FILE_BYTES_LIMIT)?
        .map_or(DEFAULT_MAX_FILE_BYTES, |(n, _)| n);
    let section = FsSection {
        allowed_operations,
        allowed_paths,
        denied_paths,
        max_file_bytes,
    };
    Ok(Some((section, v.line())))
}

#[cfg(test)]
mod tests {
    use crate::egress::RegionSource;
    use crate::registry::manifest::{Manifest, ManifestError};

    /// A valid signed action; `edit` replaces one fragment of it.
    const SIGNED: &str = r#"
id = "s"
version = "1"
provider = "builtin:http_api"

[egress]
allowed_domains = ["*.s3.amazonaws.com"]

[template]
method = "GET"
url = "{{url}}"

[[secrets]]
name = "AK"
required = true

[[secrets]]
name = "SK"
required = true

[aws_sigv4]
access_key_secret = "AK"
secret_key_secret = "SK"
service = "s3"
region_from_host = true
"#;

    fn edit(from: &str, to: &str) -> String {
        assert!(SIGNED.contains(from), "{from}");
        SIGNED.replacen(from, to, 1)
    }

    fn err(src: &str) -> ManifestError {
        Manifest::from_toml(src, "t.toml").unwrap_err()
    }

    fn assert_err(src: &str, key: &str, needle: &str) {
        let e = err(src);
        assert_eq!(e.key, key, "{e}");
        assert!(e.message.contains(needle), "{e}");
    }

    #[test]
    fn a_signed_action_loads() {
        let m = Manifest::from_toml(SIGNED, "t.toml").unwrap();
        let c = m.aws_sigv4.as_ref().unwrap();
        assert_eq!(
            (c.access_key_secret.as_str(), c.secret_key_secret.as_str()),
            ("AK", "SK")
        );
        assert_eq!(c.service, "s3");
        assert_eq!(c.region, RegionSource::FromHost);
        // Signing keys are never headers.
        assert!(m.secrets.iter().all(|s| s.header.is_empty() && s.required));
        let fixed = edit("region_from_host = true", "region = \"eu-west-1\"");
        let m = Manifest::from_toml(&fixed, "t.toml").unwrap();
        assert_eq!(
            m.aws_sigv4.unwrap().region,
            RegionSource::Fixed("eu-west-1".into())
        );
        // Other secrets may still be headers next to the signing keys.
        let extra = format!("{SIGNED}\n[[secrets]]\nname = \"X\"\nheader = \"X-Extra\"\n");
        let m = Manifest::from_toml(&extra, "t.toml").unwrap();
        assert_eq!(m.secrets.get(2).map(|s| s.header.as_str()), Some("X-Extra"));
    }

    #[test]
    fn the_table_itself() {
        assert_err(
            &edit("service = \"s3\"", "service = \"s3\"\nextra = 1"),
            "aws_sigv4.extra",
            "",
        );
        assert_err(
            &edit("service = \"s3\"", "service = \"sqs\""),
            "aws_sigv4.service",
            "allowed: s3",
        );
        assert_err(
            &edit("service = \"s3\"\n", ""),
            "aws_sigv4.service",
            "missing",
        );
        assert_err(
            &edit("secret_key_secret = \"SK\"", "secret_key_secret = \"AK\""),
            "aws_sigv4.secret_key_secret",
            "two different secrets",
        );
        assert_err(
            &edit("access_key_secret = \"AK\"", "access_key_secret = \"ak\""),
            "aws_sigv4.access_key_secret",
            "",
        );
        assert_err(
            &edit("region_from_host = true", "region_from_host = false"),
            "aws_sigv4",
            "region_from_host = true",
        );
        assert_err(
            &edit("region_from_host = true", "region = \"mars\""),
            "aws_sigv4.region",
            "not an AWS region",
        );
        assert_err(
            &edit(
                "region_from_host = true",
                "region_from_host = true\nregion = \"us-east-1\"",
            ),
            "aws_sigv4.region_from_host",
            "not both",
        );
    }

    #[test]
    fn signing_secrets() {
        // Declared, required, never a header.
        assert_err(
            &edit("[[secrets]]\nname = \"SK\"\nrequired = true\n", ""),
            "aws_sigv4.secret_key_secret",
            "must be declared in [[secrets]]",
        );
        assert_err(
            &edit("name = \"SK\"", "name = \"OTHER\""),
            "secrets[1].header",
            "only a signing key named by [aws_sigv4]",
        );
        assert_err(
            &edit("name = \"AK\"\nrequired = true", "name = \"AK\""),
            "secrets[0].required",
            "required = true",
        );
        assert_err(
            &edit(
                "name = \"AK\"\nrequired = true",
                "name = \"AK\"\nrequired = true\nheader = \"X-Key\"",
            ),
            "secrets[0].header",
            "never sent",
        );
        assert_err(
            &edit(
                "name = \"SK\"\nrequired = true",
                "name = \"SK\"\nrequired = true\nformat = \"{}\"",
            ),
            "secrets[1].format",
            "never sent",
        );
        // Without [aws_sigv4] a secret still needs its header.
        let start = SIGNED.find("[aws_sigv4]").unwrap();
        let unsigned = SIGNED.get(..start).unwrap();
        assert_err(unsigned, "secrets[0].header", "missing required key");
    }

    #[test]
    fn cross_section_rules() {
        assert_err(
            &edit(
                "allowed_domains = [\"*.s3.amazonaws.com\"]",
                "allowed_domains = []",
            ),
            "egress",
            "needs [egress]",
        );
        let no_egress = edit("[egress]\nallowed_domains = [\"*.s3.amazonaws.com\"]\n", "");
        assert_err(&no_egress, "egress", "needs [egress]");
        assert_err(
            &edit(
                "url = \"{{url}}\"",
                "url = \"http://b.s3.amazonaws.com/{{k}}\"",
            ),
            "template.url",
            "https only",
        );
        for h in ["Authorization", "X-Amz-Acl"] {
            assert_err(
                &edit(
                    "url = \"{{url}}\"",
                    &format!("url = \"{{{{url}}}}\"\nheaders = {{ {h} = \"v\" }}"),
                ),
                &format!("template.headers.{h}"),
                "signer only",
            );
            let secret = format!("{SIGNED}\n[[secrets]]\nname = \"X\"\nheader = \"{h}\"\n");
            assert_err(&secret, "secrets", "signer only");
        }
    }
}
