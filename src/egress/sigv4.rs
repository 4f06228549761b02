//! AWS Signature Version 4, computed on the host so a provider never sees
//! the keys (the `[aws_sigv4]` table of a manifest, see
//! `crate::registry::manifest`).
//!
//! Pure: no clock, no I/O. [`SigV4Signer::sign`] takes the request exactly
//! as it will be sent (method, URL, the other headers to sign, body) and a
//! Unix time, and returns the three headers to add:
//!
//! - `x-amz-date: 20130524T000000Z` (UTC, basic ISO 8601);
//! - `x-amz-content-sha256: <hex SHA-256 of the body>` (S3 requires it; an
//!   absent body hashes as the empty string);
//! - `Authorization: AWS4-HMAC-SHA256 Credential=<key id>/<yyyymmdd>/<region>/<service>/aws4_request,SignedHeaders=<names>,Signature=<hex>`.
//!
//! # The computation (AWS "Signature Version 4 signing process")
//!
//! 1. Canonical request, lines joined by `\n`: method; canonical URI;
//!    canonical query; one `name:value\n` per signed header (so the block
//!    ends with an empty line); the signed header names joined by `;`;
//!    the payload hash.
//! 2. String to sign: `AWS4-HMAC-SHA256`, the `x-amz-date` value, the
//!    scope `<yyyymmdd>/<region>/<service>/aws4_request`, and the hex
//!    SHA-256 of the canonical request, joined by `\n`.
//! 3. Signing key: `kDate = HMAC("AWS4" + secret, yyyymmdd)`, `kRegion =
//!    HMAC(kDate, region)`, `kService = HMAC(kRegion, service)`, `kSigning
//!    = HMAC(kService, "aws4_request")` (HMAC-SHA256 throughout).
//! 4. Signature: hex `HMAC(kSigning, string to sign)`.
//!
//! # Canonical URI: the S3 rules
//!
//! S3 does not normalise paths: empty segments (`//`) and `.`/`..` are part
//! of the object key and are kept. Each segment is percent-decoded once and
//! URI-encoded once (RFC 3986 unreserved `A-Z a-z 0-9 - . _ ~` kept,
//! every other byte `%XX` in upper case), so a path already written
//! percent-encoded is never encoded twice (`%24` stays `%24`) and a raw
//! `$` becomes `%24`: exactly what S3 computes from what it receives.
//! Other AWS services normalise the path and encode it twice; this signer
//! implements the S3 rules only, so the manifest loader accepts only
//! `service = "s3"`.
//!
//! # Canonical query
//!
//! Parameters are split on `&` (empty ones skipped), then on the first
//! `=` (no `=`: empty value, so `?lifecycle` signs as `lifecycle=`); name
//! and value are decoded and re-encoded like a path segment (`/` becomes
//! `%2F` too), then sorted by name, then value, byte-wise.
//!
//! A literal `+` in the path or query is refused: S3 reads it as a space
//! in a query (form encoding) while the spec reads a plus, so its
//! signature would depend on the server. Write `%20` or `%2B`. A `%` not
//! followed by two hex digits is refused as well.
//!
//! # Canonical headers
//!
//! Names lower-cased and sorted; values trimmed, inner runs of whitespace
//! collapsed to one space; repeated names joined with `,`. The signer adds
//! `host` (the Host header as the egress layer sends it: `host[:port]`),
//! `x-amz-content-sha256` and `x-amz-date` to the headers it is given, and
//! refuses to be given any of those or `authorization`.
//!
//! # Region
//!
//! Fixed (`region = "eu-west-1"`), or taken from an S3 host
//! (`region_from_host`): `<bucket>.s3.<region>.amazonaws.com`,
//! `s3.<region>.amazonaws.com` and `<bucket>.s3.dualstack.<region>.amazonaws.com`
//! name their region; `<bucket>.s3.amazonaws.com` and `s3.amazonaws.com`
//! are `us-east-1`. Any other host is refused (nothing is signed).
//!
//! The keys live only in [`SigV4Signer`], whose `Debug` hides them and
//! whose `Drop` overwrites them; error messages never contain them.

use super::error::EgressError;
use super::url::Url;
use ring::hmac;

/// The signing algorithm name.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The request could not be signed (bad URL encoding, unknown region, a
/// header the signer owns, a clock outside years 0000-9999).
pub const SIGNING_FAILED: &str = "signing_failed";

/// Headers the signer sets itself; a caller may not pass them in.
const OWN_HEADERS: &[&str] = &[
    "host",
    "authorization",
    "x-amz-date",
    "x-amz-content-sha256",
];

/// Where the signing region comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegionSource {
    /// Always this region (checked by [`valid_region`]).
    Fixed(String),
    /// From the S3 host name of each request (see the module doc).
    FromHost,
}

/// Signs requests with one access key pair for one service.
pub struct SigV4Signer {
    access_key_id: String,
    secret_key: String,
    service: String,
    region: RegionSource,
}

impl std::fmt::Debug for SigV4Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigV4Signer")
            .field("service", &self.service)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl Drop for SigV4Signer {
    fn drop(&mut self) {
        for s in [&mut self.access_key_id, &mut self.secret_key] {
            let mut bytes = std::mem::take(s).into_bytes();
            bytes.fill(0);
            std::hint::black_box(&bytes);
        }
    }
}

impl SigV4Signer {
    /// A signer for `service` in `region`. Takes the keys by value so no
    /// other copy is made; they are overwritten on drop, on error too.
    /// The access key id must be 1 to 128 characters of `A-Z a-z 0-9 _ -`
    /// (it goes into the Authorization header), the secret key non-empty.
    /// Errors never contain a key.
    pub fn new(
        access_key_id: String,
        secret_key: String,
        service: &str,
        region: RegionSource,
    ) -> Result<SigV4Signer, String> {
        // Built first so that an early return still wipes the keys.
        let signer = SigV4Signer {
            access_key_id,
            secret_key,
            service: service.to_string(),
            region,
        };
        let id = &signer.access_key_id;
        let id_ok = !id.is_empty()
            && id.len() <= 128
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !id_ok {
            return Err(
                "the access key id must be 1 to 128 characters of A-Z, a-z, 0-9, _ or -".into(),
            );
        }
        if signer.secret_key.is_empty() {
            return Err("the secret access key is empty".into());
        }
        valid_service(&signer.service)?;
        if let RegionSource::Fixed(r) = &signer.region {
            valid_region(r)?;
        }
        Ok(signer)
    }

    /// The service name (e.g. `s3`).
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The region a request to `host` (no port, no brackets) is signed for.
    pub fn region_for(&self, host: &str) -> Result<String, String> {
        match &self.region {
            RegionSource::Fixed(r) => Ok(r.clone()),
            RegionSource::FromHost => region_from_host(host),
        }
    }

    /// The `x-amz-date`, `x-amz-content-sha256` and `Authorization`
    /// headers for `method url` with `headers` (the other headers that
    /// will be sent and are to be signed) and `body`, at `unix_time`.
    pub fn sign(
        &self,
        method: &str,
        url: &Url,
        headers: &[(String, String)],
        body: &[u8],
        unix_time: i64,
    ) -> Result<Vec<(String, String)>, EgressError> {
        let fail = |m: String| EgressError::new(SIGNING_FAILED, m);
        if let Some((name, _)) = headers
            .iter()
            .find(|(n, _)| OWN_HEADERS.contains(&n.to_ascii_lowercase().as_str()))
        {
            return Err(fail(format!(
                "header {name} is set by the host's AWS signer, not by the request"
            )));
        }
        let region = self
            .region_for(url.bare_host())
            .map_err(|e| fail(format!("cannot sign for {}: {e}", url.host)))?;
        let (date, amz_date) = amz_date(unix_time).map_err(fail)?;
        let payload_hash = crate::crypto::sha256_hex(body);
        let host = url.authority();
        let mut all: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        all.push(("host", &host));
        all.push(("x-amz-content-sha256", &payload_hash));
        all.push(("x-amz-date", &amz_date));
        let (mut canonical, signed_headers) =
            canonical_request(method, &url.path, &all, &payload_hash).map_err(fail)?;
        let scope = format!("{date}/{region}/{}/aws4_request", self.service);
        let to_sign = string_to_sign(&amz_date, &scope, &canonical);
        // The canonical request may hold other secret header values.
        wipe_string(&mut canonical);
        let mut key = signing_key(&self.secret_key, &date, &region, &self.service);
        let signature = crate::crypto::hex::encode(&hmac_sha256(&key, to_sign.as_bytes()));
        key.fill(0);
        std::hint::black_box(&key);
        let authorization = format!(
            "{ALGORITHM} Credential={}/{scope},SignedHeaders={signed_headers},Signature={signature}",
            self.access_key_id
        );
        Ok(vec![
            ("x-amz-date".to_string(), amz_date),
            ("x-amz-content-sha256".to_string(), payload_hash),
            ("Authorization".to_string(), authorization),
        ])
    }
}

/// Overwrites a string's bytes before it is freed.
fn wipe_string(s: &mut String) {
    let mut bytes = std::mem::take(s).into_bytes();
    bytes.fill(0);
    std::hint::black_box(&bytes);
}

/// HMAC-SHA256 of `msg` under `key` (any length).
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), msg);
    let mut out = [0u8; 32];
    // An HMAC-SHA256 tag is always 32 bytes, so the lengths match.
    out.copy_from_slice(tag.as_ref());
    out
}

/// The derived signing key for one day, region and service (step 3).
pub fn signing_key(secret_key: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let mut seed = Vec::with_capacity(4 + secret_key.len());
    seed.extend_from_slice(b"AWS4");
    seed.extend_from_slice(secret_key.as_bytes());
    let k_date = hmac_sha256(&seed, date.as_bytes());
    seed.fill(0);
    std::hint::black_box(&seed);
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// The string to sign (step 2) for a canonical request.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        crate::crypto::sha256_hex(canonical_request.as_bytes())
    )
}

/// `(yyyymmdd, yyyymmddThhmmssZ)` for a Unix time; years 0000-9999 only.
pub fn amz_date(unix_time: i64) -> Result<(String, String), String> {
    // `2013-05-24T00:00:00Z` -> `20130524T000000Z`; any other shape (a
    // negative or five-digit year) is refused.
    let text = crate::time::rfc3339_secs(unix_time);
    let shape_ok = text.len() == 20
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T',
            13 | 16 => b == b':',
            19 => b == b'Z',
            _ => b.is_ascii_digit(),
        });
    let compact: String = text.chars().filter(|c| !matches!(c, '-' | ':')).collect();
    match (shape_ok, compact.get(..8)) {
        (true, Some(date)) => Ok((date.to_string(), compact.clone())),
        _ => Err(format!(
            "the clock ({unix_time}) is outside years 0000-9999"
        )),
    }
}

/// The canonical request (step 1) and its signed header list, for a
/// request target `path_and_query` as sent and every header to sign
/// (host and the `x-amz-*` ones included).
pub fn canonical_request(
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    payload_hash: &str,
) -> Result<(String, String), String> {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let uri = canonical_uri(path)?;
    let query = canonical_query(query)?;
    let (block, signed) = canonical_headers(headers);
    let text = format!("{method}\n{uri}\n{query}\n{block}\n{signed}\n{payload_hash}");
    Ok((text, signed))
}

/// The S3 canonical URI of a path as sent (see the module doc).
pub fn canonical_uri(path: &str) -> Result<String, String> {
    if path.is_empty() {
        return Ok("/".to_string());
    }
    if !path.starts_with('/') {
        return Err("the request path must start with /".into());
    }
    let mut out = String::with_capacity(path.len() + 16);
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        uri_encode_into(&decode(segment, "path")?, &mut out);
    }
    Ok(out)
}

/// The canonical query string of a raw query (no `?`).
pub fn canonical_query(query: &str) -> Result<String, String> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        let mut n = String::new();
        let mut v = String::new();
        uri_encode_into(&decode(name, "query")?, &mut n);
        uri_encode_into(&decode(value, "query")?, &mut v);
        pairs.push((n, v));
    }
    pairs.sort();
    let joined: Vec<String> = pairs.into_iter().map(|(n, v)| format!("{n}={v}")).collect();
    Ok(joined.join("&"))
}

/// The canonical header block (each `name:value\n`) and the signed names.
fn canonical_headers(headers: &[(&str, &str)]) -> (String, String) {
    let mut merged: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (name, value) in headers {
        let trimmed: Vec<&str> = value.split_ascii_whitespace().collect();
        merged
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(trimmed.join(" "));
    }
    let mut block = String::new();
    for (name, values) in &merged {
        block.push_str(name);
        block.push(':');
        block.push_str(&values.join(","));
        block.push('\n');
    }
    let names: Vec<&str> = merged.keys().map(String::as_str).collect();
    (block, names.join(";"))
}

/// Percent-decodes `s` once; a literal `+` or a bad `%` escape is refused.
fn decode(s: &str, part: &str) -> Result<Vec<u8>, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => {
                return Err(format!(
                    "a literal + in the URL {part} is ambiguous (S3 may read it as a space): write %2B for a plus or %20 for a space"
                ))
            }
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|c| hex_value(*c));
                let lo = bytes.get(i + 2).and_then(|c| hex_value(*c));
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(format!(
                        "the URL {part} has a % that is not followed by two hex digits"
                    ));
                };
                out.push(hi << 4 | lo);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// AWS URI encoding: unreserved bytes kept, all others `%XX` (upper case).
fn uri_encode_into(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

/// A service name: 1 to 32 of `a-z 0-9 -`.
pub fn valid_service(service: &str) -> Result<(), String> {
    let ok = !service.is_empty()
        && service.len() <= 32
        && service
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    ok.then_some(())
        .ok_or_else(|| format!("service `{service}`: allowed: 1 to 32 of a-z, 0-9, -"))
}

/// An AWS region name: two letters, one or more words of letters, and a
/// number, joined by `-` (`us-east-1`, `us-gov-west-1`, `ap-southeast-2`).
pub fn valid_region(region: &str) -> Result<(), String> {
    let parts: Vec<&str> = region.split('-').collect();
    let ok = region.len() <= 32
        && parts.len() >= 3
        && parts.iter().enumerate().all(|(i, p)| {
            if i == 0 {
                p.len() == 2 && p.bytes().all(|b| b.is_ascii_lowercase())
            } else if i + 1 == parts.len() {
                (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
            } else {
                !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase())
            }
        });
    ok.then_some(()).ok_or_else(|| {
        format!("region `{region}` is not an AWS region name (like us-east-1 or eu-west-2)")
    })
}

/// The region of an S3 host (see the module doc).
pub fn region_from_host(host: &str) -> Result<String, String> {
    let lower = host.to_ascii_lowercase();
    let labels: Vec<&str> = match lower.strip_suffix(".amazonaws.com") {
        Some(rest) => rest.split('.').collect(),
        None => Vec::new(),
    };
    let region = match labels.as_slice() {
        [.., "s3"] => "us-east-1",
        [.., "s3", r] | [.., "s3", "dualstack", r] if valid_region(r).is_ok() => r,
        _ => {
            return Err(format!(
                "`{host}` is not an S3 endpoint that names its region (<bucket>.s3.<region>.amazonaws.com or <bucket>.s3.amazonaws.com)"
            ))
        }
    };
    Ok(region.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    /// 2013-05-24T00:00:00Z, the time of AWS's S3 examples.
    const T2013: i64 = 1_369_353_600;

    fn signer(region: RegionSource) -> SigV4Signer {
        SigV4Signer::new(KEY_ID.into(), SECRET.into(), "s3", region).unwrap()
    }

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn get<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap()
    }

    /// One published example: the request, then the expected canonical
    /// request, string-to-sign hash, signed headers and signature.
    struct Example<'a> {
        method: &'a str,
        url: &'a str,
        headers: &'a [(&'a str, &'a str)],
        body: &'a [u8],
        canonical: &'a str,
        to_sign_hash: &'a str,
        signed_headers: &'a str,
        signature: &'a str,
    }

    /// Checks one AWS S3 example end to end: canonical request, string to
    /// sign, and the Authorization header `sign` produces.
    fn check_example(e: Example) {
        let Example {
            method,
            url,
            headers,
            body,
            canonical,
            to_sign_hash,
            signed_headers,
            signature,
        } = e;
        let url = Url::parse(url).unwrap();
        let payload = crate::crypto::sha256_hex(body);
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        let host = url.authority();
        all.push(("host", &host));
        all.push(("x-amz-content-sha256", &payload));
        all.push(("x-amz-date", "20130524T000000Z"));
        let (got, names) = canonical_request(method, &url.path, &all, &payload).unwrap();
        assert_eq!(got, canonical);
        assert_eq!(names, signed_headers);
        let sts = string_to_sign(
            "20130524T000000Z",
            "20130524/us-east-1/s3/aws4_request",
            &got,
        );
        assert_eq!(
            sts,
            format!(
                "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n{to_sign_hash}"
            )
        );

        let out = signer(RegionSource::FromHost)
            .sign(method, &url, &h(headers), body, T2013)
            .unwrap();
        assert_eq!(get(&out, "x-amz-date"), "20130524T000000Z");
        assert_eq!(get(&out, "x-amz-content-sha256"), payload);
        assert_eq!(
            get(&out, "authorization"),
            format!(
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders={signed_headers},Signature={signature}"
            )
        );
    }

    // The four examples of AWS's "Signature Calculations for the
    // Authorization Header: Transferring Payload in a Single Chunk" (S3 API
    // reference), with their published intermediate values.

    #[test]
    fn aws_example_get_object() {
        check_example(Example {
            method: "GET",
            url: "https://examplebucket.s3.amazonaws.com/test.txt",
            headers: &[("Range", "bytes=0-9")],
            body: b"",
            canonical: "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n\
             x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
             x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            to_sign_hash: "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
            signed_headers: "host;range;x-amz-content-sha256;x-amz-date",
            signature: "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        });
    }

    #[test]
    fn aws_example_put_object() {
        check_example(Example {
            method: "PUT",
            url: "https://examplebucket.s3.amazonaws.com/test$file.text",
            headers: &[
                ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
                ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ],
            body: b"Welcome to Amazon S3.",
            canonical: "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n\
             host:examplebucket.s3.amazonaws.com\n\
             x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n\
             x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n\
             date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n\
             44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
            to_sign_hash: "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
            signed_headers: "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
            signature: "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
        });
        // Already encoded, the same key signs the same: no double encoding.
        let (a, _) = canonical_request("PUT", "/test%24file.text", &[], "x").unwrap();
        let (b, _) = canonical_request("PUT", "/test$file.text", &[], "x").unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn aws_example_get_bucket_lifecycle() {
        check_example(Example {
            method: "GET",
            url: "https://examplebucket.s3.amazonaws.com/?lifecycle",
            headers: &[],
            body: b"",
            canonical: "GET\n/\nlifecycle=\nhost:examplebucket.s3.amazonaws.com\n\
             x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
             x-amz-date:20130524T000000Z\n\nhost;x-amz-content-sha256;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            to_sign_hash: "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
            signed_headers: "host;x-amz-content-sha256;x-amz-date",
            signature: "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
        });
    }

    #[test]
    fn aws_example_list_objects() {
        check_example(Example {
            method: "GET",
            url: "https://examplebucket.s3.amazonaws.com/?prefix=J&max-keys=2",
            headers: &[],
            body: b"",
            canonical: "GET\n/\nmax-keys=2&prefix=J\nhost:examplebucket.s3.amazonaws.com\n\
             x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
             x-amz-date:20130524T000000Z\n\nhost;x-amz-content-sha256;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            to_sign_hash: "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
            signed_headers: "host;x-amz-content-sha256;x-amz-date",
            signature: "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        });
    }

    /// A request exercising every rule at once, against a value computed
    /// independently with Python's `hmac`, `hashlib` and `urllib.parse`
    /// (not this code). The script, for re-checking:
    ///
    /// ```text
    /// import hashlib, hmac; from urllib.parse import quote, unquote_to_bytes
    /// enc = lambda b: quote(b, safe="-_.~")
    /// path = "/".join(enc(unquote_to_bytes(s)) for s in "/photos/a%20b/caf%C3%A9$/x.txt".split("/"))
    /// q = sorted((enc(unquote_to_bytes(n)), enc(unquote_to_bytes(v))) for n, v in
    ///            [("tagging", ""), ("versionId", "x%2By"), ("a", "%7E/"), ("a", "1")])
    /// query = "&".join(f"{n}={v}" for n, v in q)
    /// body = b"hello, world\n"; ph = hashlib.sha256(body).hexdigest(); d = "20231114T221320Z"
    /// hdrs = sorted([("content-type", "text/plain"), ("host", "my-bucket.s3.eu-west-1.amazonaws.com"),
    ///                ("x-amz-content-sha256", ph), ("x-amz-date", d), ("x-custom", "a b c,d")])
    /// names = ";".join(n for n, _ in hdrs)
    /// cr = "\n".join(["PUT", path, query, "".join(f"{n}:{v}\n" for n, v in hdrs), names, ph])
    /// scope = "20231114/eu-west-1/s3/aws4_request"
    /// sts = "\n".join(["AWS4-HMAC-SHA256", d, scope, hashlib.sha256(cr.encode()).hexdigest()])
    /// k = ("AWS4" + SECRET).encode()
    /// for m in ["20231114", "eu-west-1", "s3", "aws4_request"]: k = hmac.new(k, m.encode(), hashlib.sha256).digest()
    /// print(hmac.new(k, sts.encode(), hashlib.sha256).hexdigest())
    /// ```
    #[test]
    fn matches_an_independent_computation() {
        let url = Url::parse(
            "https://my-bucket.s3.eu-west-1.amazonaws.com/photos/a%20b/caf%C3%A9$/x.txt?tagging&versionId=x%2By&a=%7E/&a=1",
        )
        .unwrap();
        let headers = h(&[
            ("Content-Type", "text/plain"),
            ("X-Custom", "  a   b\tc,d "),
        ]);
        let out = signer(RegionSource::FromHost)
            .sign("PUT", &url, &headers, b"hello, world\n", 1_700_000_000)
            .unwrap();
        assert_eq!(get(&out, "x-amz-date"), "20231114T221320Z");
        assert_eq!(
            get(&out, "x-amz-content-sha256"),
            "853ff93762a06ddbf722c4ebe9ddd66d8f63ddaea97f521c3ecc20da7c976020"
        );
        assert_eq!(
            get(&out, "authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20231114/eu-west-1/s3/aws4_request,\
             SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-custom,\
             Signature=2b2495caf94850261f517ae7d37a814dd1a0170dcdfcc190f7a365ca7c93bb27"
        );
    }

    #[test]
    fn canonical_uri_follows_the_s3_rules() {
        let cases = [
            ("", "/"),
            ("/", "/"),
            ("/a b/", "/a%20b/"),
            ("/a%2fb", "/a%2Fb"),
            ("/a%2Fb/c", "/a%2Fb/c"),
            ("//x/./../y", "//x/./../y"),
            ("/%7e~-._", "/~~-._"),
            ("/caf\u{e9}", "/caf%C3%A9"),
            ("/@:!*'(),;=$&", "/%40%3A%21%2A%27%28%29%2C%3B%3D%24%26"),
        ];
        for (path, want) in cases {
            assert_eq!(canonical_uri(path).unwrap(), want, "{path}");
        }
        for bad in ["/a+b", "/%", "/%4", "/%zz", "x"] {
            assert!(canonical_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn canonical_query_sorts_and_encodes() {
        assert_eq!(canonical_query("").unwrap(), "");
        assert_eq!(canonical_query("b=2&a=1&&a=0&c").unwrap(), "a=0&a=1&b=2&c=");
        assert_eq!(
            canonical_query("k=a%20b/c&K=~%7e").unwrap(),
            "K=~~&k=a%20b%2Fc"
        );
        assert!(canonical_query("q=a+b").is_err());
        assert!(canonical_query("q=%G0").is_err());
    }

    #[test]
    fn headers_are_trimmed_merged_and_sorted() {
        let (block, names) =
            canonical_headers(&[("X-B", " two  words "), ("x-a", "1"), ("X-A", "2")]);
        assert_eq!(block, "x-a:1,2\nx-b:two words\n");
        assert_eq!(names, "x-a;x-b");
    }

    #[test]
    fn signing_key_chain() {
        // AWS's documented derived key for the IAM example (secret
        // wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20120215, us-east-1, iam).
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            crate::crypto::hex::encode(&key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn regions_from_hosts() {
        let ok = [
            ("examplebucket.s3.amazonaws.com", "us-east-1"),
            ("s3.amazonaws.com", "us-east-1"),
            ("a.b.s3.eu-west-1.amazonaws.com", "eu-west-1"),
            ("S3.AP-NORTHEAST-1.AMAZONAWS.COM", "ap-northeast-1"),
            (
                "b.s3.dualstack.us-gov-west-1.amazonaws.com",
                "us-gov-west-1",
            ),
            ("my.s3.bucket.s3.us-west-2.amazonaws.com", "us-west-2"),
        ];
        for (host, want) in ok {
            assert_eq!(region_from_host(host).unwrap(), want, "{host}");
        }
        for bad in [
            "amazonaws.com",
            "example.com",
            "b.s3.evil.com",
            "b.s3-eu-west-1.amazonaws.com",
            "b.s3.eu-west-1.amazonaws.com.evil.com",
            "b.s3.notaregion.amazonaws.com",
            "b.ec2.amazonaws.com",
        ] {
            assert!(region_from_host(bad).is_err(), "{bad}");
        }
        let s = signer(RegionSource::Fixed("eu-central-1".into()));
        assert_eq!(s.region_for("anything.example").unwrap(), "eu-central-1");
        let url = Url::parse("https://b.s3.evil.com/x").unwrap();
        let err = signer(RegionSource::FromHost)
            .sign("GET", &url, &[], b"", T2013)
            .unwrap_err();
        assert_eq!(err.code, SIGNING_FAILED);
    }

    #[test]
    fn region_and_service_names() {
        for ok in [
            "us-east-1",
            "us-gov-west-1",
            "ap-southeast-2",
            "il-central-1",
        ] {
            assert!(valid_region(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "us",
            "us-east",
            "US-east-1",
            "us-east-123",
            "u-east-1",
            "us--1",
        ] {
            assert!(valid_region(bad).is_err(), "{bad}");
        }
        assert!(valid_service("s3").is_ok());
        assert!(valid_service("S3").is_err());
        assert!(valid_service("").is_err());
    }

    #[test]
    fn new_checks_and_never_echoes_keys() {
        let new = |id: &str, secret: &str, region: RegionSource| {
            SigV4Signer::new(id.into(), secret.into(), "s3", region)
        };
        for id in ["", "AKIA/X", "AKIA X", "AKIA,X"] {
            let e = new(id, "sek", RegionSource::FromHost).unwrap_err();
            assert!(id.is_empty() || !e.contains(id), "{e}");
        }
        assert!(new("AKIA", "", RegionSource::FromHost).is_err());
        assert!(new("AKIA", "sek", RegionSource::Fixed("mars-1".into())).is_err());
        let s = new("AKIAVISIBLE", "topsecretvalue", RegionSource::FromHost).unwrap();
        let dbg = format!("{s:?}");
        assert!(
            !dbg.contains("AKIAVISIBLE") && !dbg.contains("topsecretvalue"),
            "{dbg}"
        );
    }

    #[test]
    fn own_headers_cannot_be_passed_in() {
        let url = Url::parse("https://b.s3.amazonaws.com/k").unwrap();
        for name in [
            "Host",
            "authorization",
            "X-Amz-Date",
            "x-amz-content-sha256",
        ] {
            let err = signer(RegionSource::FromHost)
                .sign("GET", &url, &h(&[(name, "v")]), b"", T2013)
                .unwrap_err();
            assert_eq!(err.code, SIGNING_FAILED, "{name}");
        }
    }

    #[test]
    fn a_port_is_part_of_the_signed_host() {
        let s = signer(RegionSource::Fixed("us-east-1".into()));
        let a = Url::parse("https://b.s3.amazonaws.com/k").unwrap();
        let b = Url::parse("https://b.s3.amazonaws.com:8443/k").unwrap();
        let sig =
            |u: &Url| get(&s.sign("GET", u, &[], b"", T2013).unwrap(), "authorization").to_string();
        assert_ne!(sig(&a), sig(&b));
        // The default port is not: it is not sent in the Host header.
        let c = Url::parse("https://b.s3.amazonaws.com:443/k").unwrap();
        assert_eq!(sig(&a), sig(&c));
    }

    #[test]
    fn dates() {
        assert_eq!(
            amz_date(T2013).unwrap(),
            ("20130524".to_string(), "20130524T000000Z".to_string())
        );
        assert_eq!(amz_date(0).unwrap().1, "19700101T000000Z");
        assert!(amz_date(i64::MAX).is_err());
        assert!(amz_date(-100_000_000_000).is_err());
    }
}
