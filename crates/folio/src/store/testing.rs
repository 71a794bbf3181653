//! Test support shared by the crate's own tests and the integration tests: a throwaway
//! PostgreSQL schema per test, and the S3 server the test scripts start.
//!
//! Not part of the server: nothing outside tests calls it.

use std::sync::Once;

use anyhow::Context;
use sqlx::{Connection, Executor, PgConnection};

/// The database tests use unless `FOLIO_TEST_PG_URL` names another (the machine's own
/// PostgreSQL: trust authentication on loopback, database `test`).
pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Schemas of test runs that died without cleaning up are dropped after this long.
const STALE_AFTER_SECS: i64 = 3600;

const SCHEMA_PREFIX: &str = "folio_t_";

pub fn pg_base_url() -> String {
    std::env::var("FOLIO_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_owned())
}

/// A fresh, empty schema in the test database; dropped (with everything in it) on drop.
pub struct TestSchema {
    base: String,
    name: String,
}

impl TestSchema {
    pub async fn create() -> anyhow::Result<TestSchema> {
        let base = pg_base_url();
        let mut conn = PgConnection::connect(&base)
            .await
            .with_context(|| format!("connecting to the test database {base}"))?;
        static SWEEP: Once = Once::new();
        let mut first = false;
        SWEEP.call_once(|| first = true);
        if first {
            drop_stale_schemas(&mut conn).await;
        }
        let name = format!(
            "{SCHEMA_PREFIX}{}_{}",
            crate::ids::now_secs(),
            &crate::ids::object_id()[8..]
        );
        conn.execute(format!("CREATE SCHEMA {name}").as_str())
            .await
            .context("creating a test schema")?;
        conn.close().await.ok();
        Ok(TestSchema { base, name })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The catalog URL of this schema: every connection gets it as its `search_path`.
    pub fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options[search_path]={}", self.base, self.name)
    }

    /// [`Self::url`] with the server reached at `host_port` instead (a proxy in front of it).
    pub fn url_via(&self, host_port: &str) -> String {
        let url = self.url();
        let Some((scheme, rest)) = url.split_once("://") else {
            return url;
        };
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let user = authority
            .rsplit_once('@')
            .map(|(user, _)| format!("{user}@"))
            .unwrap_or_default();
        format!("{scheme}://{user}{host_port}{tail}")
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on; a thread with its
        // own runtime does the work. A lock still held by a connection of the test (a
        // transaction cut short) would make the drop wait: it gives up after a few seconds
        // and the next run's stale-schema sweep takes the schema instead.
        let base = self.base.clone();
        let name = self.name.clone();
        let done = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut conn) = PgConnection::connect(&base).await {
                    let _ = conn.execute("SET lock_timeout = '3s'").await;
                    let _ = conn
                        .execute(format!("DROP SCHEMA IF EXISTS {name} CASCADE").as_str())
                        .await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = done.join();
    }
}

async fn drop_stale_schemas(conn: &mut PgConnection) {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname::text, $1)",
    )
    .bind(SCHEMA_PREFIX)
    .fetch_all(&mut *conn)
    .await
    .unwrap_or_default();
    let cutoff = crate::ids::now_secs() - STALE_AFTER_SECS;
    for name in names {
        let created = name
            .strip_prefix(SCHEMA_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<i64>().ok());
        if created.is_some_and(|t| t < cutoff) {
            let _ = conn
                .execute(format!("DROP SCHEMA IF EXISTS {name} CASCADE").as_str())
                .await;
        }
    }
}

/// The S3 server of the test scripts (`scripts/s3-server.sh`), when one is running.
#[derive(Debug, Clone)]
pub struct TestS3 {
    pub endpoint: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl TestS3 {
    /// From `FOLIO_TEST_S3_ENDPOINT` (and `_BUCKET`, `_ACCESS_KEY`, `_SECRET_KEY`); `None`
    /// when no endpoint is set.
    pub fn from_env() -> Option<TestS3> {
        let endpoint = std::env::var("FOLIO_TEST_S3_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty())?;
        let var =
            |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
        Some(TestS3 {
            endpoint,
            bucket: var("FOLIO_TEST_S3_BUCKET", "folio-test"),
            access_key_id: var("FOLIO_TEST_S3_ACCESS_KEY", "folio-test"),
            secret_access_key: var("FOLIO_TEST_S3_SECRET_KEY", "folio-test-secret"),
        })
    }

    /// A blob store URL of a fresh prefix in the test bucket, so that tests never see each
    /// other's objects.
    pub fn fresh_url(&self) -> String {
        self.url_with_prefix(&format!("t-{}", crate::ids::object_id()))
    }

    pub fn url_with_prefix(&self, prefix: &str) -> String {
        format!(
            "s3://{}/{prefix}?endpoint={}&region=us-east-1",
            self.bucket, self.endpoint
        )
    }

    /// The credentials as the environment variables of a `folio` process.
    pub fn credential_vars(&self) -> Vec<(String, String)> {
        vec![
            (
                "FOLIO_S3__ACCESS_KEY_ID".to_owned(),
                self.access_key_id.clone(),
            ),
            (
                "FOLIO_S3__SECRET_ACCESS_KEY".to_owned(),
                self.secret_access_key.clone(),
            ),
        ]
    }

    /// Sets the credentials in a configuration.
    pub fn configure(&self, config: &mut crate::config::Config) {
        config.s3.access_key_id = self.access_key_id.clone();
        config.s3.secret_access_key = self.secret_access_key.clone();
    }
}
