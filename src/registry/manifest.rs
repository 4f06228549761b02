//! Action manifests: the TOML format, its types and its load-time checks.
//!
//! # Format
//!
//! One action per file. Unknown keys are errors everywhere except inside the
//! schema tables (where unknown JSON Schema keywords are errors instead).
//! Every error names the file, the key path (`limits.fuel`), the line and
//! what is allowed.
//!
//! ```toml
//! id = "github_create_issue"          # required; [A-Za-z0-9_-]{1,128}
//! version = "1.0.0"                   # required; [A-Za-z0-9._+-]{1,64}
//! provider = "builtin:http_api"       # required; builtin:<a-z0-9_> or sha256:<64 hex>
//! description = "Open an issue"       # optional, at most 1024 characters
//! risk_level = "medium"               # low (default) | medium | high | critical
//! declared_side_effects = ["http_write"]   # labels [a-z0-9_]{1,64}; default []
//! required_scopes = ["tools:call"]    # default ["tools:call"]; must include it
//! verifier = "http_status"            # none (default) | http_status | fs_hash
//! sensitive_inputs = ["bot_token"]    # inputs holding a credential the API takes in
//!                                     # the URL or body: their values are redacted
//!                                     # from everything that comes back (output,
//!                                     # receipt, ledger, logs); default []
//!
//! [verification]                      # only with verifier = "http_status"
//! expected_status = [201]             # 100..=599; empty: any 2xx
//! required_fields = ["ok", "data"]    # top-level output fields that must exist
//!
//! [limits]                            # defaults shown; all > 0 except max_io_calls
//! fuel = 1_000_000                    # ≤ 10_000_000_000
//! memory_mb = 64                      # ≤ 4096
//! timeout_seconds = 30                # ≤ 600
//! max_io_calls = 10                   # 0..=10_000
//! max_host_response_bytes = 10485760  # ≤ 256 MiB
//!
//! [io]
//! max_request_bytes = 65536           # ≤ 1 MiB (the transport's body cap)
//! max_response_bytes = 1048576        # ≤ 64 MiB
//!
//! [egress]                            # absent: no egress ("none")
//! allowed_domains = ["api.github.com"]  # see below; [] = only domains an
//!                                     # operator approves later
//!
//! [template]                          # needs a builtin provider
//! method = "POST"                     # GET POST PUT DELETE PATCH HEAD OPTIONS
//! url = "https://api.github.com/repos/{{owner}}/{{repo}}/issues"
//! headers = { Accept = "application/vnd.github+json" }
//! body = '''{"title": "{{title}}", "body": "{{body}}"}'''   # JSON text
//!
//! [[secrets]]                         # one table per secret
//! name = "GITHUB_TOKEN"               # [A-Z][A-Z0-9_]{0,63}
//! required = true                     # default false
//! header = "Authorization"            # where the host injects it
//! format = "Bearer {}"                # default "{}"; exactly one {}
//!
//! [request_schema]                    # the JSON Schema subset of schema.rs
//! type = "object"
//! required = ["owner", "repo", "title"]
//! additionalProperties = false
//! [request_schema.properties.owner]
//! type = "string"
//! minLength = 1
//!
//! [response_schema]                   # same subset; checked on the output
//! type = "object"
//!
//! [fs]                                # only with provider = "builtin:fs"
//! allowed_operations = ["create", "overwrite"]  # required, non-empty:
//!                                     # read | create | overwrite | delete
//! allowed_paths = ["src/**", "docs/**"]  # declared paths (relative globs,
//!                                     # see policy/glob.rs); default []
//! denied_paths = ["**/Makefile"]      # added to the built-in deny list
//! max_file_bytes = 1048576            # default 1 MiB, 1 ..= 64 MiB
//!
//! [aws_sigv4]                         # the host signs each request with
//!                                     # AWS Signature Version 4
//! access_key_secret = "AWS_ACCESS_KEY_ID"      # secret names, both declared
//! secret_key_secret = "AWS_SECRET_ACCESS_KEY"  # in [[secrets]] (see below)
//! service = "s3"                      # only "s3" (S3's path rules)
//! region = "us-east-1"                # or: region_from_host = true
//! ```
//!
//! `[aws_sigv4]`: the provider never sees the keys; the egress layer signs
//! the final request head right before sending (`crate::egress::sigv4`),
//! adding `Authorization`, `x-amz-date` and `x-amz-content-sha256`.
//! `region_from_host = true` takes the region from an S3 host
//! (`<bucket>.s3.<region>.amazonaws.com`; `<bucket>.s3.amazonaws.com` is
//! us-east-1) and refuses to sign for any other host. The two secrets it
//! names are declared in `[[secrets]]` with `required = true` and *without*
//! `header` and `format`: they are signing keys, never sent. A `[[secrets]]`
//! entry may leave out `header` only then (its `Secret::header` is empty).
//!
//! Egress entries are parsed by `crate::egress::DomainRule` (the matcher the
//! gate uses, so what loads is exactly what is enforced): a host name of at
//! least two labels, which also covers its subdomains; `*.` followed by at
//! least two labels, for strict subdomains only (`*.org` is rejected); or
//! an IP literal. Entries are lower-cased; duplicates are errors.
//!
//! Template rules are in `template.rs`. Every template variable must be a
//! property of `request_schema` when that schema lists properties or
//! forbids additional ones (a typo would otherwise fail on every call).
//!
//! # Load-time rules
//!
//! - High and critical actions need a verifier other than `none` and a
//!   `response_schema`.
//! - A high or critical `http_status` action declaring a side effect that
//!   does not end in `_read` needs `verification.required_fields`.
//! - `[verification]` only goes with `verifier = "http_status"`.
//! - Secret names are unique; no two secrets, or a secret and a template
//!   header, set the same header (case-insensitive). The gate's framing
//!   headers (Host, Content-Length, ...) cannot be set at all.
//! - Builtin provider names are checked against the loaded modules by the
//!   gate (`Registry::check_providers`), not here.
//! - `provider = "builtin:fs"` needs an `[fs]` section, `verifier =
//!   "fs_hash"`, and no `[[secrets]]`, `[egress]` or `[template]`; `[fs]`
//!   and `fs_hash` only go with `builtin:fs`, which must declare an
//!   `fs_*` side effect (e.g. `fs_write`). Such an action needs no
//!   `response_schema` at high risk: the host observes its effect.
//! - `[fs]` paths are relative globs. A path matching a deny glob is always
//!   refused; the built-in deny list (`fs::BUILTIN_DENIED_PATHS`: `.env*`,
//!   `secrets/`, `.ssh/`, `.aws/`, `.kube/`, `.git/config`, `.git/hooks/`,
//!   `.netrc`, `*.pem`, `*.key`, `latchgate.toml`, `.latchgate/`,
//!   `policy.toml`, at any depth) always applies before `denied_paths`. A
//!   path matching no `allowed_paths` glob is undeclared: the policy holds
//!   the call for an operator, whose approval covers exactly that path.
//! - `[aws_sigv4]` names two different secrets, both in `[[secrets]]` with
//!   `required = true` and no `header`/`format`; it needs `service = "s3"`,
//!   exactly one of `region` (an AWS region name) and `region_from_host =
//!   true`, an `[egress]` with at least one domain, and a template URL
//!   that is https (or one whole variable: the egress layer then refuses
//!   to sign over http). No template header or other secret may set
//!   `Authorization` or an `x-amz-*` header (the signer's own).

use super::digest;
use super::fields::View;
use super::fs::FsSection;
use super::rules;
use super::sections::{
    check_aws_sigv4, read_aws_sigv4, read_egress, read_fs, read_io, read_labels, read_limits,
    read_provider, read_risk, read_schema, read_scopes, read_secrets, read_template,
    read_verification, read_verifier,
};
use super::template::Template;
use crate::json::Value;

/// A manifest problem: which file, which key, which line, and why (with
/// what is allowed).
#[derive(Clone, Debug, PartialEq)]
pub struct ManifestError {
    pub origin: String,
    /// The key path, e.g. `limits.fuel` or `secrets[0].header`; empty for
    /// a TOML syntax error.
    pub key: String,
    pub line: u32,
    pub message: String,
}

impl std::fmt::Display for ManifestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}:{}: {}", self.origin, self.line, self.message)
        } else {
            write!(
                f,
                "{}:{}: {}: {}",
                self.origin, self.line, self.key, self.message
            )
        }
    }
}

impl std::error::Error for ManifestError {}

/// Which module runs the action.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ProviderRef {
    /// `builtin:<name>`: a module shipped in the binary (name only here).
    Builtin(String),
    /// `sha256:<64 hex>`: a module pinned by the digest of its bytes.
    Digest(String),
}

impl std::fmt::Display for ProviderRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProviderRef::Builtin(name) => write!(f, "builtin:{name}"),
            ProviderRef::Digest(d) => f.write_str(d),
        }
    }
}

/// How dangerous an action is; high and critical always need approval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RiskLevel {
    Low,
    Medium,
    High,
    Critical,
}

impl RiskLevel {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
            RiskLevel::Critical => "critical",
        }
    }
    /// High or critical.
    pub fn is_high(self) -> bool {
        self >= RiskLevel::High
    }
}

/// How the effect of a run is verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifierKind {
    None,
    HttpStatus,
    FsHash,
}

impl VerifierKind {
    /// The manifest name.
    pub fn as_str(self) -> &'static str {
        match self {
            VerifierKind::None => "none",
            VerifierKind::HttpStatus => "http_status",
            VerifierKind::FsHash => "fs_hash",
        }
    }
}

/// `http_status` verifier settings.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Verification {
    /// Accepted statuses; empty means any 2xx.
    pub expected_status: Vec<u16>,
    /// Output fields that must be present.
    pub required_fields: Vec<String>,
}

/// Sandbox limits for one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Fuel (roughly, wasm instructions) per run.
    pub fuel: u64,
    /// Largest linear memory, MiB.
    pub memory_mb: u32,
    /// Wall clock per run, host I/O included.
    pub timeout_seconds: u64,
    /// Most host I/O calls per run (0: none).
    pub max_io_calls: u32,
    /// Largest upstream response body the host reads.
    pub max_host_response_bytes: u64,
}

/// Request and response size limits.
#[derive(Clone, Debug, PartialEq)]
pub struct IoLimits {
    /// Largest request body (compact JSON bytes as received).
    pub max_request_bytes: usize,
    /// Largest provider output.
    pub max_response_bytes: usize,
}

/// Where the action may connect.
#[derive(Clone, Debug, PartialEq)]
pub enum Egress {
    /// No network at all.
    None,
    /// Only these domain rules (normalised, lower case), plus domains an
    /// operator approves.
    Allowlist(Vec<String>),
}

/// A secret the host resolves and injects into outgoing requests.
#[derive(Clone, Debug, PartialEq)]
pub struct Secret {
    pub name: String,
    pub required: bool,
    /// The header the host sets; empty for a key only `[aws_sigv4]` uses
    /// (never sent).
    pub header: String,
    /// The header value, with `{}` replaced by the secret.
    pub format: String,
}

/// `[aws_sigv4]`: the host signs requests with AWS Signature Version 4.
#[derive(Clone, Debug, PartialEq)]
pub struct AwsSigV4 {
    /// The secret holding the access key id.
    pub access_key_secret: String,
    /// The secret holding the secret access key.
    pub secret_key_secret: String,
    /// The signing service (`s3`).
    pub service: String,
    /// A fixed region, or the one an S3 host names.
    pub region: crate::egress::RegionSource,
}

impl AwsSigV4 {
    /// True when `secret` is one of the two signing keys.
    pub fn uses(&self, secret: &str) -> bool {
        self.access_key_secret == secret || self.secret_key_secret == secret
    }
}

/// A validated action manifest.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// Where it was loaded from (file path or `embedded:<name>`).
    pub origin: String,
    pub id: String,
    pub version: String,
    pub provider: ProviderRef,
    pub description: String,
    pub risk_level: RiskLevel,
    pub declared_side_effects: Vec<String>,
    /// Inputs whose values are redacted from what comes back.
    pub sensitive_inputs: Vec<String>,
    pub required_scopes: Vec<String>,
    pub verifier: VerifierKind,
    pub verification: Verification,
    pub limits: Limits,
    pub io: IoLimits,
    pub egress: Egress,
    pub template: Option<Template>,
    pub secrets: Vec<Secret>,
    /// `[aws_sigv4]`: sign requests with these secrets (see the module doc).
    pub aws_sigv4: Option<AwsSigV4>,
    /// The request schema as written (JSON form; compiled in `Action`).
    pub request_schema: Option<Value>,
    /// The response schema as written.
    pub response_schema: Option<Value>,
    /// `[fs]`: the file operations of a `builtin:fs` action.
    pub fs: Option<FsSection>,
    digest: String,
    /// The TOML text it was parsed from (held approvals store it, so an
    /// approved call runs exactly what was held).
    source: String,
}

const TOP_KEYS: &[&str] = &[
    "id",
    "version",
    "provider",
    "description",
    "risk_level",
    "declared_side_effects",
    "sensitive_inputs",
    "required_scopes",
    "verifier",
    "verification",
    "limits",
    "io",
    "egress",
    "template",
    "secrets",
    "aws_sigv4",
    "request_schema",
    "response_schema",
    "fs",
];

/// The scope every action requires.
pub const BASE_SCOPE: &str = "tools:call";

impl Manifest {
    /// Parses and validates one manifest; `origin` names it in errors.
    pub fn from_toml(src: &str, origin: &str) -> Result<Manifest, ManifestError> {
        let root = crate::toml::parse(src).map_err(|e| ManifestError {
            origin: origin.to_string(),
            key: String::new(),
            line: e.line,
            message: format!("TOML syntax error at column {}: {}", e.col, e.message),
        })?;
        let top = View::root(origin, &root);
        top.allow_only(TOP_KEYS)?;

        let (id, id_line) = top.req_string("id")?;
        rules::action_id(&id).map_err(|e| top.err("id", id_line, e))?;
        let (version, v_line) = top.req_string("version")?;
        rules::version(&version).map_err(|e| top.err("version", v_line, e))?;
        let (provider, provider_line) = read_provider(&top)?;
        let description = match top.string("description")? {
            Some((d, line)) if d.chars().count() > 1024 => {
                return Err(top.err("description", line, "too long; at most 1024 characters"))
            }
            Some((d, _)) => d,
            None => String::new(),
        };
        let (risk_level, risk_line) = read_risk(&top)?;
        let declared_side_effects = read_labels(&top, "declared_side_effects", rules::side_effect)?;
        let sensitive_inputs = read_labels(&top, "sensitive_inputs", input_name)?;
        let required_scopes = read_scopes(&top)?;
        let (verifier, verifier_line) = read_verifier(&top)?;
        let verification = read_verification(&top, verifier)?;
        let limits = read_limits(&top)?;
        let io = read_io(&top)?;
        let egress = read_egress(&top)?;
        let template = read_template(&top, &provider, provider_line)?;
        let aws_sigv4 = read_aws_sigv4(&top)?;
        let secrets = read_secrets(&top, template.as_ref(), aws_sigv4.as_ref())?;
        check_aws_sigv4(
            &top,
            aws_sigv4.as_ref(),
            &secrets,
            &egress,
            template.as_ref(),
        )?;
        let request_schema = read_schema(&top, "request_schema")?;
        let response_schema = read_schema(&top, "response_schema")?;
        let fs = read_fs(&top)?;
        check_fs_rules(
            &top,
            &provider,
            provider_line,
            fs.as_ref().map(|(_, line)| *line),
            (verifier, verifier_line),
            (
                !secrets.is_empty(),
                egress != Egress::None,
                template.is_some(),
            ),
            &declared_side_effects,
        )?;
        let fs = fs.map(|(section, _)| section);

        if risk_level.is_high() {
            if verifier == VerifierKind::None {
                return Err(top.err(
                    "verifier",
                    verifier_line.unwrap_or(risk_line),
                    format!(
                        "a {} risk action needs a verifier; allowed: http_status, fs_hash",
                        risk_level.as_str()
                    ),
                ));
            }
            if response_schema.is_none() && fs.is_none() {
                return Err(top.err(
                    "response_schema",
                    risk_line,
                    format!(
                        "a {} risk action needs a [response_schema]",
                        risk_level.as_str()
                    ),
                ));
            }
            let writes = declared_side_effects.iter().any(|s| !s.ends_with("_read"));
            if verifier == VerifierKind::HttpStatus
                && writes
                && verification.required_fields.is_empty()
            {
                return Err(top.err(
                    "verification.required_fields",
                    verifier_line.unwrap_or(risk_line),
                    "a high or critical http_status action with a non-read side effect needs verification.required_fields",
                ));
            }
        }
        if let (Some(t), Some(schema)) = (&template, &request_schema) {
            check_template_vars(&top, t, schema)?;
        }
        check_sensitive_inputs(&top, &sensitive_inputs, request_schema.as_ref())?;

        let mut m = Manifest {
            origin: origin.to_string(),
            id,
            version,
            provider,
            description,
            risk_level,
            declared_side_effects,
            sensitive_inputs,
            required_scopes,
            verifier,
            verification,
            limits,
            io,
            egress,
            template,
            secrets,
            aws_sigv4,
            request_schema,
            response_schema,
            fs,
            digest: String::new(),
            source: src.to_string(),
        };
        m.digest = digest::content_digest(&m).map_err(|e| top.err_here(e))?;
        Ok(m)
    }

    /// `sha256:<hex>` over the security-relevant fields (see `digest.rs`);
    /// computed once at load.
    pub fn content_digest(&self) -> &str {
        &self.digest
    }

    /// The TOML text this manifest was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// The `builtin:fs` rules (see the module doc). `extras` says whether the
/// manifest has secrets, egress and a template.
fn check_fs_rules(
    top: &View,
    provider: &ProviderRef,
    provider_line: u32,
    fs_line: Option<u32>,
    (verifier, verifier_line): (VerifierKind, Option<u32>),
    (secrets, egress, template): (bool, bool, bool),
    side_effects: &[String],
) -> Result<(), ManifestError> {
    let is_fs = matches!(provider, ProviderRef::Builtin(name) if name == "fs");
    let Some(fs_line) = fs_line else {
        if is_fs {
            return Err(top.err(
                "provider",
                provider_line,
                "provider builtin:fs needs an [fs] section (allowed_operations, allowed_paths, ...)",
            ));
        }
        if verifier == VerifierKind::FsHash {
            return Err(top.err(
                "verifier",
                verifier_line.unwrap_or(provider_line),
                "verifier fs_hash only applies to provider = \"builtin:fs\" with an [fs] section",
            ));
        }
        return Ok(());
    };
    if !is_fs {
        return Err(top.err(
            "fs",
            fs_line,
            format!(
                "[fs] only applies to provider = \"builtin:fs\" (this action uses `{provider}`)"
            ),
        ));
    }
    if verifier != VerifierKind::FsHash {
        return Err(top.err(
            "verifier",
            verifier_line.unwrap_or(provider_line),
            format!(
                "provider builtin:fs needs verifier = \"fs_hash\" (found `{}`)",
                verifier.as_str()
            ),
        ));
    }
    for (present, key, what) in [
        (secrets, "secrets", "[[secrets]]"),
        (egress, "egress", "[egress]"),
        (template, "template", "[template]"),
    ] {
        if present {
            let line = top.item(key).map_or(fs_line, |i| i.line);
            return Err(top.err(
                key,
                line,
                format!("provider builtin:fs takes no {what}: file actions have no network and no credentials"),
            ));
        }
    }
    if !side_effects.iter().any(|s| s.starts_with("fs_")) {
        let line = top
            .item("declared_side_effects")
            .map_or(fs_line, |i| i.line);
        return Err(top.err(
            "declared_side_effects",
            line,
            "a builtin:fs action must declare its file side effect (fs_read, fs_write or fs_delete) so the policy's acl can govern it",
        ));
    }
    Ok(())
}

/// Every template variable must be a declared request property when the
/// schema declares properties or forbids others.
/// A request property name: `[A-Za-z_][A-Za-z0-9_]{0,63}`.
fn input_name(s: &str) -> Result<(), String> {
    let mut b = s.bytes();
    let first = b
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_');
    if first && s.len() <= 64 && b.all(|c| c.is_ascii_alphanumeric() || c == b'_') {
        Ok(())
    } else {
        Err(
            "not an input name; allowed: a letter or _ then letters, digits or _, at most 64"
                .into(),
        )
    }
}

/// Every sensitive input must be a declared request property (a typo would
/// silently leave a credential unredacted).
fn check_sensitive_inputs(
    top: &View,
    names: &[String],
    schema: Option<&Value>,
) -> Result<(), ManifestError> {
    if names.is_empty() {
        return Ok(());
    }
    let props = schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object);
    for n in names {
        if !props.is_some_and(|p| p.contains_key(n)) {
            let line = top.item("sensitive_inputs").map_or(top.line(), |i| i.line);
            return Err(top.err(
                "sensitive_inputs",
                line,
                format!("`{n}` is not a property of request_schema"),
            ));
        }
    }
    Ok(())
}

fn check_template_vars(top: &View, t: &Template, schema: &Value) -> Result<(), ManifestError> {
    let props = schema.get("properties").and_then(Value::as_object);
    let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
    if props.is_none() && !closed {
        return Ok(());
    }
    for var in t.variables() {
        if !props.is_some_and(|p| p.contains_key(&var)) {
            let line = top.item("template").map_or(top.line(), |i| i.line);
            return Err(top.err(
                "template",
                line,
                format!("variable `{var}` is not a property of request_schema"),
            ));
        }
    }
    Ok(())
}
