//! Registry tests: the shipped manifests, every manifest error kind (key and
//! line), digests, directory overrides, discovery views and a full template
//! action.

use super::*;
use crate::json::Value;
use crate::obj;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A template action with secrets, body and response schema (the v0.2
/// `github_create_issue`, with the optional `body` really optional).
const GITHUB_CREATE_ISSUE: &str = r#"
id = "github_create_issue"
version = "1.0.0"
provider = "builtin:http_api"
risk_level = "medium"
declared_side_effects = ["http_write"]
verifier = "http_status"

[verification]
expected_status = [201]
required_fields = ["ok", "data"]

[limits]
fuel = 5_000_000
memory_mb = 128
max_io_calls = 5

[egress]
allowed_domains = ["api.github.com"]

[template]
method = "POST"
url = "https://api.github.com/repos/{{owner}}/{{repo}}/issues"
headers = { Accept = "application/vnd.github+json" }
body = '''{"title": "{{title}}", "body": "{{body}}"}'''

[[secrets]]
name = "GITHUB_TOKEN"
required = true
header = "Authorization"
format = "Bearer {}"

[request_schema]
type = "object"
required = ["owner", "repo", "title"]
additionalProperties = false

[request_schema.properties.owner]
type = "string"
minLength = 1

[request_schema.properties.repo]
type = "string"
minLength = 1

[request_schema.properties.title]
type = "string"
minLength = 1
maxLength = 256

[request_schema.properties.body]
type = "string"

[response_schema]
type = "object"
required = ["ok", "data"]

[response_schema.properties.data]
type = "object"
required = ["number", "html_url", "id"]
"#;

/// A small valid manifest; tests append lines to it. Line numbers below
/// count from its first line ("id" is line 1).
const BASE: &str = "id = \"t\"\nversion = \"1\"\nprovider = \"builtin:echo\"\n";

fn load(src: &str) -> Result<Manifest, ManifestError> {
    Manifest::from_toml(src, "test.toml")
}

fn err(src: &str) -> ManifestError {
    match load(src) {
        Ok(_) => panic!("expected an error for:\n{src}"),
        Err(e) => e,
    }
}

/// Asserts the error's key and line, and that it names the file.
fn assert_err(src: &str, key: &str, line: u32, needle: &str) {
    let e = err(src);
    assert_eq!((e.key.as_str(), e.line), (key, line), "{e}");
    assert!(e.message.contains(needle), "`{needle}` not in: {e}");
    assert!(
        e.to_string().starts_with(&format!("test.toml:{line}:")),
        "{e}"
    );
}

#[test]
fn embedded_manifests_load() {
    let (reg, warnings) = Registry::load(EMBEDDED, None).unwrap();
    assert!(warnings.is_empty());
    let ids: Vec<String> = reg.list().iter().map(|a| a.id().to_string()).collect();
    for id in ["echo", "http_fetch", "github_create_issue", "fs_write"] {
        assert!(ids.iter().any(|i| i == id), "{id} is not embedded");
    }
    assert!(ids.len() >= 85, "only {} embedded actions", ids.len());
    assert_eq!(reg.len(), EMBEDDED.len());
}

#[test]
fn http_fetch_matches_the_reference() {
    let (reg, _) = Registry::load_default(None).unwrap();
    let a = reg.get("http_fetch").unwrap();
    let m = &a.manifest;
    assert_eq!(m.provider, ProviderRef::Builtin("http_api".into()));
    assert_eq!(m.risk_level, RiskLevel::Low);
    assert_eq!(m.verifier, VerifierKind::HttpStatus);
    assert_eq!(m.declared_side_effects, ["http_read"]);
    assert_eq!(m.required_scopes, ["tools:call"]);
    assert!(m.secrets.is_empty());
    assert_eq!(
        m.limits,
        Limits {
            fuel: 5_000_000,
            memory_mb: 128,
            timeout_seconds: 30,
            max_io_calls: 10,
            max_host_response_bytes: 10 << 20
        }
    );
    assert_eq!(
        m.io,
        IoLimits {
            max_request_bytes: 65536,
            max_response_bytes: 1 << 20
        }
    );
    assert_eq!(
        m.egress,
        Egress::Allowlist(vec![
            "httpbin.org".into(),
            "api.github.com".into(),
            "*.wikipedia.org".into(),
            "hacker-news.firebaseio.com".into()
        ])
    );
    assert!(a.sinks.allows("en.wikipedia.org"));
    assert!(!a.sinks.allows("example.com"));
    let t = m.template.as_ref().unwrap();
    let r = render(t, &obj! { "url" => "https://httpbin.org/get?x=1" }).unwrap();
    assert_eq!(r.method, "GET");
    assert_eq!(r.url, "https://httpbin.org/get?x=1");
    assert_eq!(
        r.headers,
        vec![("Accept".to_string(), "application/json".to_string())]
    );
    assert_eq!(r.body, None);
    let schema = a.request_schema.as_ref().unwrap();
    assert!(schema
        .validate(&obj! { "url" => "https://httpbin.org/get" })
        .is_ok());
    assert!(schema.validate(&obj! { "url" => "" }).is_err());
    assert!(schema
        .validate(&obj! { "url" => "https://x.org", "x" => 1 })
        .is_err());
    assert!(schema
        .validate(&obj! { "url" => "file:///etc/passwd" })
        .is_err());
    assert!(schema
        .validate(&obj! { "url" => format!("https://x.org/{}", "a".repeat(2040)) })
        .is_err());
    assert!(a.response_schema.is_none());
}

#[test]
fn echo_is_minimal() {
    let (reg, _) = Registry::load_default(None).unwrap();
    let a = reg.get("echo").unwrap();
    let m = &a.manifest;
    assert_eq!(m.provider, ProviderRef::Builtin("echo".into()));
    assert_eq!(m.egress, Egress::None);
    assert!(a.sinks.0.is_empty());
    assert!(m.template.is_none());
    assert_eq!(m.verifier, VerifierKind::None);
    assert!(m.declared_side_effects.is_empty());
    assert_eq!(
        (
            m.limits.fuel,
            m.limits.memory_mb,
            m.limits.timeout_seconds,
            m.limits.max_io_calls
        ),
        (1_000_000, 16, 5, 0)
    );
    let schema = a.request_schema.as_ref().unwrap();
    assert!(schema
        .validate(&obj! { "anything" => obj! { "x" => 1 } })
        .is_ok());
    assert!(schema.validate(&Value::from("not an object")).is_err());
}

#[test]
fn defaults_apply() {
    let m = load(BASE).unwrap();
    assert_eq!(
        m.limits,
        Limits {
            fuel: 1_000_000,
            memory_mb: 64,
            timeout_seconds: 30,
            max_io_calls: 10,
            max_host_response_bytes: 10 << 20
        }
    );
    assert_eq!(
        m.io,
        IoLimits {
            max_request_bytes: 64 << 10,
            max_response_bytes: 1 << 20
        }
    );
    assert_eq!(m.risk_level, RiskLevel::Low);
    assert_eq!(m.verifier, VerifierKind::None);
    assert_eq!(m.required_scopes, ["tools:call"]);
    assert_eq!(m.egress, Egress::None);
    assert!(m.request_schema.is_none() && m.template.is_none() && m.secrets.is_empty());
}

#[test]
fn errors_for_top_level_keys() {
    assert_err(
        &format!("{BASE}colour = \"red\"\n"),
        "colour",
        4,
        "unknown key `colour`; allowed here: id,",
    );
    assert_err(
        "version = \"1\"\nprovider = \"builtin:echo\"\n",
        "id",
        1,
        "missing required key `id`",
    );
    assert_err(
        "id = \"a b\"\nversion = \"1\"\nprovider = \"builtin:echo\"\n",
        "id",
        1,
        "A-Z a-z 0-9 _ -",
    );
    assert_err(
        "id = 5\nversion = \"1\"\nprovider = \"builtin:echo\"\n",
        "id",
        1,
        "expected a string, found integer",
    );
    assert_err(
        "id = \"t\"\nversion = \"1 0\"\nprovider = \"builtin:echo\"\n",
        "version",
        2,
        "allowed",
    );
    assert_err(
        "id = \"t\"\nversion = \"1\"\nprovider = \"http_api\"\n",
        "provider",
        3,
        "builtin:<name> or sha256",
    );
    assert_err(
        "id = \"t\"\nversion = \"1\"\nprovider = \"builtin:Echo\"\n",
        "provider",
        3,
        "a-z 0-9 _",
    );
    assert_err(
        "id = \"t\"\nversion = \"1\"\nprovider = \"sha256:abc\"\n",
        "provider",
        3,
        "64 lowercase hex",
    );
    assert_err(
        &format!("{BASE}risk_level = \"extreme\"\n"),
        "risk_level",
        4,
        "low, medium, high, critical",
    );
    assert_err(
        &format!("{BASE}verifier = \"magic\"\n"),
        "verifier",
        4,
        "none, http_status, fs_hash",
    );
    assert_err(
        &format!("{BASE}description = \"{}\"\n", "x".repeat(1025)),
        "description",
        4,
        "1024",
    );
    assert_err(
        &format!("{BASE}declared_side_effects = [\"Http\"]\n"),
        "declared_side_effects",
        4,
        "a-z 0-9 _",
    );
    assert_err(
        &format!("{BASE}declared_side_effects = [\"a\", \"a\"]\n"),
        "declared_side_effects",
        4,
        "twice",
    );
    assert_err(
        &format!("{BASE}declared_side_effects = \"http_read\"\n"),
        "declared_side_effects",
        4,
        "array of strings",
    );
    assert_err(
        &format!("{BASE}required_scopes = [\"audit:read\"]\n"),
        "required_scopes",
        4,
        "tools:call",
    );
    assert_err(
        &format!("{BASE}required_scopes = [\"tools:call\", \"bad\"]\n"),
        "required_scopes",
        4,
        "ns:name",
    );
    // A sha256 provider is accepted.
    let digest = format!("sha256:{}", "0".repeat(64));
    let m = load(&format!(
        "id = \"t\"\nversion = \"1\"\nprovider = \"{digest}\"\n"
    ))
    .unwrap();
    assert_eq!(m.provider, ProviderRef::Digest(digest));
}

#[test]
fn errors_for_syntax() {
    let e = err(&format!("{BASE}x = = 1\n"));
    assert_eq!(e.line, 4, "{e}");
    assert!(e.key.is_empty());
    assert!(e.to_string().starts_with("test.toml:4:"), "{e}");
}

#[test]
fn errors_for_limits_and_io() {
    let with = |body: &str| format!("{BASE}[limits]\n{body}\n");
    assert_err(
        &with("fule = 1"),
        "limits.fule",
        5,
        "allowed here: fuel, memory_mb",
    );
    assert_err(
        &with("fuel = \"lots\""),
        "limits.fuel",
        5,
        "expected an integer, found string",
    );
    assert_err(
        &with("fuel = 0"),
        "limits.fuel",
        5,
        "allowed: 1 to 10000000000",
    );
    assert_err(
        &with("fuel = 10_000_000_001"),
        "limits.fuel",
        5,
        "out of range",
    );
    assert_err(
        &with("memory_mb = 4097"),
        "limits.memory_mb",
        5,
        "1 to 4096",
    );
    assert_err(
        &with("timeout_seconds = 601"),
        "limits.timeout_seconds",
        5,
        "1 to 600",
    );
    assert_err(
        &with("timeout_seconds = -1"),
        "limits.timeout_seconds",
        5,
        "out of range",
    );
    assert_err(
        &with("max_host_response_bytes = 0"),
        "limits.max_host_response_bytes",
        5,
        "out of range",
    );
    assert_eq!(
        load(&with("max_io_calls = 0")).unwrap().limits.max_io_calls,
        0
    );
    assert_err(
        &format!("{BASE}limits = 5\n"),
        "limits",
        4,
        "expected a table",
    );
    let io = |body: &str| format!("{BASE}[io]\n{body}\n");
    assert_err(
        &io("max_request_bytes = 2_000_000"),
        "io.max_request_bytes",
        5,
        "1 to 1048576",
    );
    assert_err(
        &io("max_response_bytes = 0"),
        "io.max_response_bytes",
        5,
        "out of range",
    );
    assert_err(&io("max_bytes = 1"), "io.max_bytes", 5, "unknown key");
}

#[test]
fn errors_for_egress() {
    let with = |body: &str| format!("{BASE}[egress]\n{body}\n");
    assert_err(
        &with("allowed_domains = [\"*.org\"]"),
        "egress.allowed_domains",
        5,
        "allowed:",
    );
    assert_err(
        &with("allowed_domains = [\"ok.org\",\n \"bad domain.org\"]"),
        "egress.allowed_domains",
        6,
        "allowed:",
    );
    assert_err(
        &with("allowed_domains = [\"a.org\", \"A.org\"]"),
        "egress.allowed_domains",
        5,
        "twice",
    );
    assert_err(
        &with("profile = \"none\""),
        "egress.profile",
        5,
        "unknown key",
    );
    assert_err(
        &with(""),
        "egress.allowed_domains",
        4,
        "missing required key `egress.allowed_domains`",
    );
    let m = load(&with(
        "allowed_domains = [\"API.Example.org\", \"*.Wikipedia.org\"]",
    ))
    .unwrap();
    assert_eq!(
        m.egress,
        Egress::Allowlist(vec!["api.example.org".into(), "*.wikipedia.org".into()])
    );
    let m = load(&with("allowed_domains = []")).unwrap();
    assert_eq!(m.egress, Egress::Allowlist(vec![]));
}

#[test]
fn errors_for_verification() {
    let src = format!("{BASE}[verification]\nexpected_status = [200]\n");
    assert_err(
        &src,
        "verification",
        4,
        "only applies to verifier = \"http_status\"",
    );
    let with = |body: &str| format!("{BASE}verifier = \"http_status\"\n[verification]\n{body}\n");
    assert_err(
        &with("expected_status = [99]"),
        "verification.expected_status",
        6,
        "100 to 599",
    );
    assert_err(
        &with("expected_status = [\"200\"]"),
        "verification.expected_status",
        6,
        "array of integers",
    );
    assert_err(
        &with("required_fields = [\"\"]"),
        "verification.required_fields",
        6,
        "1 to 128",
    );
    assert_err(
        &with("status = [200]"),
        "verification.status",
        6,
        "allowed here: expected_status, required_fields",
    );
    let m = load(&with(
        "expected_status = [200, 204]\nrequired_fields = [\"ok\"]",
    ))
    .unwrap();
    assert_eq!(m.verification.expected_status, [200, 204]);
    assert_eq!(m.verification.required_fields, ["ok"]);
}

#[test]
fn errors_for_templates() {
    let echo_to_http = BASE.replace("builtin:echo", "builtin:http_api");
    let with = |body: &str| format!("{echo_to_http}[template]\n{body}\n");
    assert_err(
        &with("method = \"FETCH\"\nurl = \"https://a.org/\""),
        "template.method",
        5,
        "GET, POST, PUT",
    );
    assert_err(
        &with("method = \"GET\"\nurl = \"ftp://a.org/\""),
        "template.url",
        6,
        "https://",
    );
    assert_err(
        &with("method = \"GET\"\nurl = \"{{base}}/x\""),
        "template.url",
        6,
        "exactly one variable",
    );
    assert_err(
        &with("method = \"GET\"\nurl = \"https://a.org/{{ x }}\""),
        "template.url",
        6,
        "invalid variable",
    );
    assert_err(
        &with("url = \"https://a.org/\""),
        "template.method",
        4,
        "missing required key `template.method`",
    );
    assert_err(
        &with("method = \"GET\"\nurl = \"https://a.org/\"\nverb = 1"),
        "template.verb",
        7,
        "unknown key",
    );
    assert_err(
        &with("method = \"GET\"\nurl = \"https://a.org/\"\nheaders = { Host = \"evil\" }"),
        "template.headers.Host",
        7,
        "set by the gate",
    );
    assert_err(
        &with("method = \"GET\"\nurl = \"https://a.org/\"\nheaders = { A = 1 }"),
        "template.headers.A",
        7,
        "expected a string",
    );
    assert_err(
        &with("method = \"GET\"\nurl = \"https://a.org/\"\nbody = \"{oops\""),
        "template.body",
        7,
        "not valid JSON",
    );
    // Templates need a builtin provider.
    let digest = BASE.replace("builtin:echo", &format!("sha256:{}", "0".repeat(64)));
    assert_err(
        &format!("{digest}[template]\nmethod = \"GET\"\nurl = \"https://a.org/\"\n"),
        "provider",
        3,
        "builtin provider",
    );
    // Template variables must be request properties when the schema lists them.
    let src = with(
        "method = \"GET\"\nurl = \"https://a.org/{{nmae}}\"\n[request_schema]\ntype = \"object\"\n[request_schema.properties.name]\ntype = \"string\"",
    );
    assert_err(&src, "template", 4, "`nmae` is not a property");
}

#[test]
fn errors_for_secrets() {
    let with = |body: &str| format!("{BASE}[[secrets]]\n{body}\n");
    assert_err(
        &with("name = \"TOKEN\"\nheader = \"Authorization\"\nformat = \"Bearer {} {}\""),
        "secrets[0].format",
        7,
        "exactly one `{}`",
    );
    assert_err(
        &with("name = \"TOKEN\"\nheader = \"Authorization\"\nformat = \"Bearer\""),
        "secrets[0].format",
        7,
        "exactly one",
    );
    assert_err(
        &with("name = \"token\"\nheader = \"Authorization\""),
        "secrets[0].name",
        5,
        "A-Z",
    );
    assert_err(
        &with("name = \"TOKEN\""),
        "secrets[0].header",
        4,
        "missing required key `secrets[0].header`",
    );
    assert_err(
        &with("name = \"TOKEN\"\nheader = \"Bad Header\""),
        "secrets[0].header",
        6,
        "token",
    );
    assert_err(
        &with("name = \"TOKEN\"\nheader = \"X\"\nrequired = \"yes\""),
        "secrets[0].required",
        7,
        "boolean",
    );
    assert_err(
        &with("name = \"TOKEN\"\nheader = \"X\"\nplace = \"env\""),
        "secrets[0].place",
        7,
        "unknown key",
    );
    let two = format!("{BASE}[[secrets]]\nname = \"A\"\nheader = \"X-A\"\n[[secrets]]\nname = \"A\"\nheader = \"X-B\"\n");
    assert_err(&two, "secrets[1].name", 8, "declared twice");
    let clash = format!("{BASE}[[secrets]]\nname = \"A\"\nheader = \"X-A\"\n[[secrets]]\nname = \"B\"\nheader = \"x-a\"\n");
    assert_err(&clash, "secrets[1].header", 9, "already set");
    let m = load(&with("name = \"TOKEN\"\nheader = \"X-Api-Key\"")).unwrap();
    assert_eq!(
        m.secrets,
        [Secret {
            name: "TOKEN".into(),
            required: false,
            header: "X-Api-Key".into(),
            format: "{}".into()
        }]
    );
}

#[test]
fn errors_for_schemas() {
    let src = format!(
        "{BASE}[request_schema]\ntype = \"object\"\n[request_schema.properties.url]\ntype = \"string\"\npattern = \"^https\"\n"
    );
    assert_err(
        &src,
        "request_schema.properties.url.pattern",
        8,
        "not supported",
    );
    let src = format!("{BASE}[response_schema]\ntype = \"obj\"\n");
    assert_err(&src, "response_schema.type", 5, "allowed: null, boolean");
    let src = format!("{BASE}[request_schema]\nmaxLenght = 3\n");
    assert_err(&src, "request_schema.maxLenght", 5, "unsupported keyword");
    let src = format!("{BASE}[request_schema]\nconst = 1979-05-27\n");
    assert_err(&src, "request_schema", 5, "datetimes");
    let src = format!("{BASE}request_schema = \"object\"\n");
    assert_err(&src, "request_schema", 4, "expected a table");
}

#[test]
fn high_risk_rules() {
    let high = format!("{BASE}risk_level = \"high\"\n");
    assert_err(&high, "verifier", 4, "needs a verifier");
    assert_err(
        &format!("{high}verifier = \"none\"\n"),
        "verifier",
        5,
        "needs a verifier",
    );
    assert_err(
        &format!("{high}verifier = \"http_status\"\n"),
        "response_schema",
        4,
        "needs a [response_schema]",
    );
    let writes = format!("{high}verifier = \"http_status\"\ndeclared_side_effects = [\"http_write\"]\n[response_schema]\ntype = \"object\"\n");
    assert_err(
        &writes,
        "verification.required_fields",
        5,
        "required_fields",
    );
    let ok = format!("{writes}[verification]\nrequired_fields = [\"ok\"]\n");
    assert_eq!(load(&ok).unwrap().risk_level, RiskLevel::High);
    // Read-only high-risk actions need no required_fields.
    let reads = format!(
        "{BASE}risk_level = \"critical\"\nverifier = \"http_status\"\ndeclared_side_effects = [\"http_read\"]\n[response_schema]\ntype = \"object\"\n"
    );
    assert!(load(&reads).is_ok());
}

#[test]
fn digest_is_deterministic_and_covers_security_fields() {
    let a = load(GITHUB_CREATE_ISSUE).unwrap();
    let b = load(GITHUB_CREATE_ISSUE).unwrap();
    assert_eq!(a.content_digest(), b.content_digest());
    let d = a.content_digest();
    assert!(d.starts_with("sha256:") && d.len() == 71, "{d}");
    let changed = |from: &str, to: &str| {
        assert!(GITHUB_CREATE_ISSUE.contains(from), "{from}");
        load(&GITHUB_CREATE_ISSUE.replacen(from, to, 1))
            .unwrap()
            .content_digest()
            .to_string()
    };
    for (from, to) in [
        ("version = \"1.0.0\"", "version = \"1.0.1\""),
        ("fuel = 5_000_000", "fuel = 5_000_001"),
        ("max_io_calls = 5", "max_io_calls = 6"),
        ("\"api.github.com\"]", "\"uploads.github.com\"]"),
        ("risk_level = \"medium\"", "risk_level = \"low\""),
        ("method = \"POST\"", "method = \"PUT\""),
        ("/issues\"", "/pulls\""),
        ("vnd.github+json", "json"),
        ("\"body\": \"{{body}}\"", "\"text\": \"{{body}}\""),
        ("maxLength = 256", "maxLength = 257"),
        ("format = \"Bearer {}\"", "format = \"token {}\""),
        ("required = true", "required = false"),
        ("[\"http_write\"]", "[\"http_write\", \"http_read\"]"),
        ("expected_status = [201]", "expected_status = [200]"),
        (
            "required = [\"number\", \"html_url\", \"id\"]",
            "required = [\"number\", \"id\"]",
        ),
    ] {
        assert_ne!(changed(from, to), d, "{from} -> {to}");
    }
    // The description and formatting are not security-relevant.
    let described = GITHUB_CREATE_ISSUE.replacen(
        "version = \"1.0.0\"",
        "version = \"1.0.0\"\ndescription = \"x\"\n\n",
        1,
    );
    assert_eq!(load(&described).unwrap().content_digest(), d);
    // A different file name does not change it either.
    assert_eq!(
        Manifest::from_toml(GITHUB_CREATE_ISSUE, "other.toml")
            .unwrap()
            .content_digest(),
        d
    );
}

#[test]
fn template_action_renders_end_to_end() {
    let action = Action::new(load(GITHUB_CREATE_ISSUE).unwrap()).unwrap();
    let input = obj! { "owner" => "octo/cat", "repo" => "hello world", "title" => "Bug" };
    action
        .request_schema
        .as_ref()
        .unwrap()
        .validate(&input)
        .unwrap();
    let t = action.manifest.template.as_ref().unwrap();
    let r = render(t, &input).unwrap();
    assert_eq!(
        r.url,
        "https://api.github.com/repos/octo%2Fcat/hello%20world/issues"
    );
    // The optional `body` is absent, so the member is left out (v0.2 failed here).
    assert_eq!(r.body, Some(obj! { "title" => "Bug" }));
    assert_eq!(action.manifest.secrets[0].format, "Bearer {}");
    assert_eq!(action.digest, action.manifest.content_digest());
    assert!(action.sinks.allows("api.github.com"));
}

static DIR_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh empty directory, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let n = DIR_COUNTER.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!(
            "latchgate-registry-test-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.0.join(name), text).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn directory_overrides_by_id_with_a_warning() {
    let dir = TempDir::new();
    let http_fetch = include_str!("../../manifests/http_fetch.toml");
    dir.write(
        "10-fetch.toml",
        &http_fetch.replace("version = \"1.0.0\"", "version = \"2.0.0\""),
    );
    dir.write(
        "20-issue.toml",
        &GITHUB_CREATE_ISSUE.replace("id = \"github_create_issue\"", "id = \"ops_issue\""),
    );
    dir.write("notes.txt", "not a manifest = [");
    let (reg, warnings) = Registry::load(EMBEDDED, Some(&dir.0)).unwrap();
    assert_eq!(reg.len(), EMBEDDED.len() + 1);
    assert_eq!(reg.get("http_fetch").unwrap().manifest.version, "2.0.0");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("10-fetch.toml"), "{}", warnings[0]);
    assert!(
        warnings[0].contains("overrides") && warnings[0].contains("embedded:http_fetch.toml"),
        "{}",
        warnings[0]
    );
    assert!(reg
        .get("ops_issue")
        .unwrap()
        .manifest
        .origin
        .ends_with("20-issue.toml"));
    assert_eq!(
        reg.get("echo").unwrap().manifest.origin,
        "embedded:echo.toml"
    );
}

#[test]
fn directory_errors_fail_closed() {
    let dir = TempDir::new();
    dir.write("a.toml", BASE);
    dir.write("b.toml", &format!("{BASE}fuel = 1\n"));
    match Registry::load(EMBEDDED, Some(&dir.0)).unwrap_err() {
        RegistryError::Manifest(e) => {
            assert!(e.origin.ends_with("b.toml"), "{e}");
            assert_eq!((e.key.as_str(), e.line), ("fuel", 4));
        }
        other => panic!("{other}"),
    }
    let dir = TempDir::new();
    dir.write("a.toml", BASE);
    dir.write("b.toml", BASE);
    let e = Registry::load(EMBEDDED, Some(&dir.0)).unwrap_err();
    assert!(
        matches!(&e, RegistryError::Duplicate { id, .. } if id == "t"),
        "{e}"
    );
    assert!(e.to_string().contains("b.toml"), "{e}");
    let missing = dir.0.join("nope");
    assert!(matches!(
        Registry::load(EMBEDDED, Some(&missing)),
        Err(RegistryError::Io { .. })
    ));
    let dir = TempDir::new();
    std::fs::create_dir(dir.0.join("sub.toml")).unwrap();
    assert!(matches!(
        Registry::load(EMBEDDED, Some(&dir.0)),
        Err(RegistryError::Io { .. })
    ));
    let dir = TempDir::new();
    std::fs::write(dir.0.join("bin.toml"), [0xff, 0xfe]).unwrap();
    let e = Registry::load(EMBEDDED, Some(&dir.0)).unwrap_err();
    assert!(e.to_string().contains("UTF-8"), "{e}");
    // Embedded duplicates are errors too.
    let e = Registry::load(&[("one", BASE), ("two", BASE)], None).unwrap_err();
    assert!(matches!(e, RegistryError::Duplicate { .. }));
}

#[test]
fn discovery_views() {
    let (reg, _) = Registry::load_default(None).unwrap();
    let list = reg.list_json();
    let entries = list.get("actions").and_then(Value::as_array).unwrap();
    assert_eq!(entries.len(), reg.len());
    for want in [
        obj! { "action_id" => "echo", "version" => "1.0.0", "risk_level" => "low" },
        obj! { "action_id" => "http_fetch", "version" => "1.0.0", "risk_level" => "low" },
    ] {
        assert!(entries.contains(&want), "{want:?} not listed");
    }
    let fetch = reg.get("http_fetch").unwrap();
    let digest = format!("sha256:{}", "ab".repeat(32));
    let detail = fetch.detail_json(&digest);
    assert_eq!(
        detail,
        obj! {
            "action_id" => "http_fetch",
            "version" => "1.0.0",
            "provider_module_digest" => digest.as_str(),
            "risk_level" => "low",
            "resource_limits" => obj! {
                "fuel" => 5_000_000, "memory_mb" => 128, "timeout_seconds" => 30,
                "max_io_calls" => 10, "max_host_response_bytes" => 10_485_760,
            },
            "io" => obj! {
                "max_request_bytes" => 65536, "max_response_bytes" => 1_048_576,
                "has_request_schema" => true, "has_response_schema" => false,
            },
            "egress" => obj! { "proxy_allowlist" => obj! { "allowed_domains" => Value::Array(vec![
                "httpbin.org".into(), "api.github.com".into(), "*.wikipedia.org".into(), "hacker-news.firebaseio.com".into(),
            ]) } },
            "declared_side_effects" => Value::Array(vec!["http_read".into()]),
        }
    );
    let echo = reg.get("echo").unwrap().detail_json("sha256:x");
    assert_eq!(echo.get("egress"), Some(&Value::from("none")));
    let schema = fetch.request_schema_json();
    assert_eq!(
        schema.get("required"),
        Some(&Value::Array(vec!["url".into()]))
    );
    assert_eq!(
        schema
            .get("properties")
            .and_then(|p| p.get("url"))
            .and_then(|u| u.get("maxLength")),
        Some(&Value::from(2048))
    );
    let bare = Action::new(load(BASE).unwrap()).unwrap();
    assert_eq!(bare.request_schema_json(), Value::Null);
}

#[test]
fn provider_check() {
    let (reg, _) = Registry::load_default(None).unwrap();
    assert!(reg.check_providers(|_| true).is_ok());
    let e = reg
        .check_providers(|p| *p != ProviderRef::Builtin("http_api".into()))
        .unwrap_err();
    let users_of_http_api: Vec<&str> = reg
        .list()
        .iter()
        .filter(|a| a.manifest.provider == ProviderRef::Builtin("http_api".into()))
        .map(|a| a.id())
        .collect();
    assert!(
        matches!(&e, RegistryError::UnknownProvider { id, .. } if users_of_http_api.contains(&id.as_str())),
        "{e}"
    );
}

#[test]
fn toml_to_json_is_exported() {
    assert_eq!(
        toml_to_json(&crate::toml::TValue::Integer(3)),
        Ok(Value::from(3))
    );
}

#[test]
fn sensitive_inputs_must_be_schema_properties() {
    let schema = "[request_schema]\ntype = \"object\"\n[request_schema.properties.token]\ntype = \"string\"\n";
    let ok = load(&format!("{BASE}sensitive_inputs = [\"token\"]\n{schema}")).unwrap();
    assert_eq!(ok.sensitive_inputs, ["token"]);
    let e = err(&format!("{BASE}sensitive_inputs = [\"tokn\"]\n{schema}"));
    assert_eq!(e.key, "sensitive_inputs");
    assert!(e.message.contains("tokn"), "{e}");
    let e = err(&format!("{BASE}sensitive_inputs = [\"a b\"]\n{schema}"));
    assert_eq!(e.key, "sensitive_inputs");
    // Setting it changes the content digest (it decides what is redacted).
    let plain = load(&format!("{BASE}{schema}")).unwrap();
    assert_ne!(plain.content_digest(), ok.content_digest());
}
