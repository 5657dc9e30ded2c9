//! The TLS client settings the GitLab and Slack clients share.
//!
//! Roots come from the system store, because a self-hosted GitLab is often signed by an
//! internal CA that only the system trusts. Reading the store (a bundle and a directory
//! of certificates) costs more CPU than building a roll-up of a hundred epics, so it is
//! read once per process and the result handed to both clients.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

static CONFIG: OnceLock<Result<ClientConfig, String>> = OnceLock::new();

/// Client settings trusting the system's root certificates, read on first use.
///
/// # Errors
/// When no usable root certificate is found (the message says where it looked).
pub fn client_config() -> Result<ClientConfig, std::io::Error> {
    CONFIG
        .get_or_init(load)
        .clone()
        .map_err(std::io::Error::other)
}

/// Client settings trusting the system's roots and, if given, the certificates in the
/// PEM file `extra` (a managed database's CA). With `extra`, the system store may be
/// empty.
///
/// # Errors
/// When `extra` cannot be read or holds no certificate, or no root is found at all.
pub fn client_config_adding(extra: Option<&Path>) -> Result<ClientConfig, std::io::Error> {
    let Some(path) = extra else {
        return client_config();
    };
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| std::io::Error::other(format!("cannot read {}: {e}", path.display())))?;
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(std::io::Error::other(format!(
            "{} holds no usable certificate",
            path.display()
        )));
    }
    client_config_with_roots(roots)
}

/// Client settings trusting exactly `roots`.
///
/// # Errors
/// When the TLS library refuses its own defaults (never seen).
pub fn client_config_with_roots(roots: RootCertStore) -> Result<ClientConfig, std::io::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| std::io::Error::other(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn load() -> Result<ClientConfig, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _unparsable) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
        return Err(format!(
            "no trusted root certificates found in the system store ({}); \
             set SSL_CERT_FILE or SSL_CERT_DIR",
            if why.is_empty() {
                "none installed".to_owned()
            } else {
                why.join("; ")
            }
        ));
    }
    client_config_with_roots(roots).map_err(|e| e.to_string())
}
