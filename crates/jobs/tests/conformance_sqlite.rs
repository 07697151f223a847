//! The conformance suite on SQLite: a fresh file database (migrations from empty), in-memory SQLite, and
//! through `open("sqlite://…")`.
#![cfg(all(feature = "sqlite", feature = "testing"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use callbook_jobs::testing;

fn temp_db(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("callbook-jobs-{}-{}", name, uuid::Uuid::new_v4()));
    format!("sqlite://{}/nested/jobs.db", dir.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_file_store_passes_the_suite() {
    let store = callbook_jobs::open(&temp_db("suite")).await.unwrap();
    testing::check_all(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_memory_store_passes_the_suite() {
    let store = callbook_jobs::open("sqlite::memory:").await.unwrap();
    testing::check_all(store).await;
}

#[tokio::test]
async fn reopening_keeps_data_and_does_not_rerun_migrations() {
    let url = temp_db("reopen");
    let tenant = {
        let store = callbook_jobs::open(&url).await.unwrap();
        testing::new_tenant(store.as_ref(), "Persisted").await
    };
    let store = callbook_jobs::open(&url).await.unwrap();
    assert_eq!(store.get_tenant(tenant.id).await.unwrap(), tenant);
}

/// Two stores (two pools, as two processes would have) on one file: claimers on both never share a call.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claimers_in_two_pools_on_one_file_never_share_a_call() {
    use std::collections::BTreeSet;
    use std::time::Duration;

    let url = temp_db("two-pools");
    let a = callbook_jobs::open(&url).await.unwrap();
    let b = callbook_jobs::open(&url).await.unwrap();
    let tenant = testing::new_tenant(a.as_ref(), "Shared file").await;
    let mut ids = BTreeSet::new();
    for i in 0..120 {
        ids.insert(
            testing::queued_call(a.as_ref(), tenant.id, &format!("TP{i}"))
                .await
                .id,
        );
    }
    let now = chrono::Utc::now();
    let mut handles = Vec::new();
    for w in 0..6 {
        let store = if w % 2 == 0 { a.clone() } else { b.clone() };
        handles.push(tokio::spawn(async move {
            let owner = format!("p{}-w{w}", w % 2);
            let mut got = Vec::new();
            loop {
                let batch = store
                    .claim_calls(&owner, now, Duration::from_secs(60), 2, 5)
                    .await
                    .unwrap();
                if batch.is_empty() {
                    break;
                }
                for c in &batch {
                    store
                        .finish_call(
                            c.tenant_id,
                            c.id,
                            &c.lease().unwrap(),
                            now,
                            callbook_jobs::CallState::Done,
                        )
                        .await
                        .unwrap();
                }
                got.extend(batch.into_iter().map(|c| c.id));
            }
            got
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    let unique: BTreeSet<_> = all.iter().copied().collect();
    assert_eq!(all.len(), unique.len(), "a call was claimed twice");
    assert_eq!(unique, ids);
}

/// Two stores on one file (two processes' pools) metering one key concurrently: one `true`, counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn usage_metered_from_two_pools_counts_once() {
    let url = temp_db("two-pools-usage");
    let a = callbook_jobs::open(&url).await.unwrap();
    let b = callbook_jobs::open(&url).await.unwrap();
    let tenant = testing::new_tenant(a.as_ref(), "Shared meter").await;
    let mut handles = Vec::new();
    for i in 0..12 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        handles.push(tokio::spawn(async move {
            store
                .record_usage(tenant.id, "call:7:audio", "2026-11", &[("audio_seconds", 42)])
                .await
                .unwrap()
        }));
    }
    let mut firsts = 0;
    for h in handles {
        firsts += usize::from(h.await.unwrap());
    }
    assert_eq!(firsts, 1);
    for store in [&a, &b] {
        assert_eq!(
            store.usage(tenant.id, "audio_seconds", "2026-11").await.unwrap(),
            42
        );
    }
}

/// Migration 0002: the database itself refuses a negative price or an amount without a currency.
#[tokio::test]
async fn the_database_refuses_bad_prices() {
    use callbook_jobs::*;
    let store = SqliteJobStore::open("sqlite::memory:").await.unwrap();
    let tenant = testing::new_tenant(&store, "Prices").await;
    let mut new = NewJob::titled("Boiler");
    new.price = Some(Money::new(8900, "USD"));
    let job = store.create_job(tenant.id, new, Actor::pipeline()).await.unwrap();
    for sql in [
        "UPDATE jobs SET price_minor = -1 WHERE id = $1",
        "UPDATE jobs SET currency = NULL WHERE id = $1",
        "UPDATE jobs SET price_minor = NULL WHERE id = $1",
    ] {
        let err = sqlx::query(sql).bind(job.id).execute(store.pool()).await;
        assert!(err.is_err(), "{sql} was accepted");
    }
    sqlx::query("UPDATE jobs SET price_minor = NULL, currency = NULL WHERE id = $1")
        .bind(job.id)
        .execute(store.pool())
        .await
        .unwrap();
}

/// Every needle found anywhere in the database: every column of every row of every table, read as bytes.
async fn scan_sqlite(store: &callbook_jobs::SqliteJobStore, needles: &[testing::Needle]) -> Vec<String> {
    use sqlx::Row;
    let tables: Vec<(String,)> = sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table'")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert!(tables.iter().any(|(t,)| t == "api_tokens"), "{tables:?}");
    let mut found = Vec::new();
    for (table,) in tables {
        let columns: Vec<(String,)> = sqlx::query_as("SELECT name FROM pragma_table_info($1)")
            .bind(&table)
            .fetch_all(store.pool())
            .await
            .unwrap();
        for (column,) in columns {
            let sql = format!("SELECT CAST(\"{column}\" AS BLOB) FROM \"{table}\"");
            for row in sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(store.pool())
                .await
                .unwrap()
            {
                let cell: Option<Vec<u8>> = row.try_get(0).unwrap();
                let Some(cell) = cell else { continue };
                for needle in needles.iter().filter(|n| n.found_in_bytes(&cell)) {
                    found.push(format!("{needle:?} in {table}.{column}"));
                }
            }
        }
    }
    found
}

/// The "a scan finds nothing of theirs", at the store level: after `delete_tenant` and
/// `erase_customer`, no table holds the tenant's id, logins, hashes, names or numbers, nor the subject's ids,
/// names or numbers; before, the same scan finds every one of them (so it can fail).
#[tokio::test]
async fn erased_tenants_and_customers_leave_nothing_in_any_table() {
    let store = callbook_jobs::SqliteJobStore::open(&temp_db("scan"))
        .await
        .unwrap();
    let gone = testing::populate(&store, "Scan deleted").await;
    let erased = testing::populate(&store, "Scan erased").await;
    let kept = testing::populate(&store, "Scan kept").await;
    let tenant_needles = gone.tenant_needles();
    let subject_needles = erased.subject_needles();
    for needle in tenant_needles.iter().chain(&subject_needles) {
        let hits = scan_sqlite(&store, std::slice::from_ref(needle)).await;
        assert!(!hits.is_empty(), "the scan does not see {needle:?}");
    }

    use callbook_jobs::{AccountStore, PrivacyStore};
    store.delete_tenant(gone.tenant.id).await.unwrap();
    store
        .erase_customer(erased.tenant.id, erased.subject.id)
        .await
        .unwrap();
    let hits = scan_sqlite(&store, &tenant_needles).await;
    assert!(hits.is_empty(), "left after delete_tenant: {hits:#?}");
    let hits = scan_sqlite(&store, &subject_needles).await;
    assert!(hits.is_empty(), "left after erase_customer: {hits:#?}");
    // The scan still sees what must stay.
    for needle in kept.tenant_needles().iter().chain(&erased.tenant_needles()[..4]) {
        assert!(
            !scan_sqlite(&store, std::slice::from_ref(needle)).await.is_empty(),
            "{needle:?} vanished"
        );
    }
}
