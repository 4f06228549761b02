//! The one rustls client configuration: webpki roots plus the operator's
//! `ca_file`, ring as the crypto provider, TLS 1.2 and 1.3.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use std::path::Path;
use std::sync::Arc;

/// Largest `ca_file` read, in bytes.
const MAX_CA_FILE: u64 = 4 * 1024 * 1024;

/// Builds the shared client configuration.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        for cert in load_ca_file(path)? {
            roots
                .add(cert)
                .map_err(|e| format!("ca_file {}: unusable certificate: {e}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Every certificate in a PEM file; a file with none is an error.
fn load_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let name = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("ca_file {name}: {e}"))?;
    if meta.len() > MAX_CA_FILE {
        return Err(format!("ca_file {name}: larger than {MAX_CA_FILE} bytes"));
    }
    let pem = std::fs::read(path).map_err(|e| format!("ca_file {name}: {e}"))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("ca_file {name}: bad PEM: {e}"))?;
    if certs.is_empty() {
        return Err(format!("ca_file {name}: no CERTIFICATE block"));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");

    fn tmp_file(name: &str, content: &[u8]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("latchgate-egress-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    #[test]
    fn loads_fixture_ca() {
        let path = Path::new(FIXTURES).join("ca.pem");
        assert_eq!(load_ca_file(&path).unwrap().len(), 1);
        assert!(client_config(Some(&path)).is_ok());
        assert!(client_config(None).is_ok());
    }

    #[test]
    fn errors_name_the_file() {
        let missing = Path::new("/nonexistent/ca.pem");
        let e = client_config(Some(missing)).unwrap_err();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");

        let key_only = tmp_file(
            "key-only.pem",
            &std::fs::read(Path::new(FIXTURES).join("server.key")).unwrap(),
        );
        let e = client_config(Some(&key_only)).unwrap_err();
        assert!(
            e.contains("key-only.pem") && e.contains("no CERTIFICATE"),
            "{e}"
        );

        let broken = tmp_file(
            "broken.pem",
            b"-----BEGIN CERTIFICATE-----\n!!!notbase64\n-----END CERTIFICATE-----\n",
        );
        let e = client_config(Some(&broken)).unwrap_err();
        assert!(e.contains("broken.pem"), "{e}");

        let garbage = tmp_file(
            "garbage.pem",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        );
        let e = client_config(Some(&garbage)).unwrap_err();
        assert!(e.contains("garbage.pem"), "{e}");
    }
}
