//! A schema of its own on the test PostgreSQL server (`ROLLY_TEST_POSTGRES_URL`), so
//! tests that need one run side by side.

use std::sync::atomic::{AtomicUsize, Ordering};

static SCHEMAS: AtomicUsize = AtomicUsize::new(0);

/// Why the tests that need PostgreSQL are ignored by a plain `cargo test`.
pub const NEEDS_POSTGRES: &str = "needs PostgreSQL: set ROLLY_TEST_POSTGRES_URL (README)";

/// A URL for `[state] url` whose connections use a fresh, empty schema.
pub async fn fresh_schema_url() -> String {
    let url = std::env::var("ROLLY_TEST_POSTGRES_URL").expect(NEEDS_POSTGRES);
    let config: tokio_postgres::Config = url.parse().expect("a PostgreSQL URL");
    let schema = format!(
        "it_{}_{}",
        std::process::id(),
        SCHEMAS.fetch_add(1, Ordering::Relaxed)
    );
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .await
        .unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    // The test server's certificate is signed by a CA of its own (.ci/postgres).
    let ca = std::env::var("ROLLY_TEST_POSTGRES_CA")
        .map(|path| format!("&sslrootcert={path}"))
        .unwrap_or_default();
    format!("{url}{separator}options=-csearch_path%3D{schema}{ca}")
}
