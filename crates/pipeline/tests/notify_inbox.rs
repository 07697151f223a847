//! In-app notification rows on the in-memory store.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

use std::sync::Arc;

use callbook_jobs::{ActivityStore, InMemoryJobStore, JobStore, NewTenant, Role, TenantStore, TimeZone};
use callbook_pipeline::notify::{Event, EventKind, InboxNotifier, Notifier};
use chrono::Utc;
use serde_json::json;

#[tokio::test]
async fn every_user_wanting_it_gives_one_tenant_wide_row() {
    let store = Arc::new(InMemoryJobStore::new());
    let tenant = store
        .create_tenant(NewTenant::new("Acme", TimeZone::UTC))
        .await
        .unwrap();
    let a = store
        .create_user(tenant.id, "a", Role::Owner, None)
        .await
        .unwrap();
    let b = store
        .create_user(tenant.id, "b", Role::Staff, None)
        .await
        .unwrap();
    let inbox = InboxNotifier::new(store.clone() as Arc<dyn JobStore>);

    let e = Event::new(tenant.id, EventKind::CallFinished, Utc::now())
        .with_data(json!({"state": "done"}))
        .with_dedupe_key("call.finished:x");
    inbox.notify(&e).await.unwrap();
    inbox.notify(&e).await.unwrap(); // a retry writes nothing more
    inbox
        .notify(&Event::new(tenant.id, EventKind::CallStep, Utc::now()))
        .await
        .unwrap();
    for user in [a.id, b.id] {
        let rows = store
            .list_notifications(tenant.id, Some(user), false)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "one row, seen by both users; call.step skipped");
        assert_eq!(rows[0].user_id, None);
        assert_eq!(rows[0].kind, "call.finished");
        assert_eq!(rows[0].payload["id"], e.id.to_string());
        assert_eq!(rows[0].payload["data"]["state"], "done");
    }
    // Another tenant sees nothing.
    let other = store
        .create_tenant(NewTenant::new("Other", TimeZone::UTC))
        .await
        .unwrap();
    assert!(
        store
            .list_notifications(other.id, None, false)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn preferences_pick_per_user_rows() {
    let store = Arc::new(InMemoryJobStore::new());
    let tenant = store
        .create_tenant(NewTenant::new("Acme", TimeZone::UTC))
        .await
        .unwrap();
    let a = store
        .create_user(tenant.id, "a", Role::Owner, None)
        .await
        .unwrap();
    let b = store
        .create_user(tenant.id, "b", Role::Staff, None)
        .await
        .unwrap();
    let c = store
        .create_user(tenant.id, "c", Role::Staff, None)
        .await
        .unwrap();
    store
        .update_tenant_settings(
            tenant.id,
            json!({"notifications": {"users": {
                b.id.to_string(): {"channels": ["live"]},
                c.id.to_string(): {"kinds": ["call.dead"]},
            }}}),
        )
        .await
        .unwrap();
    let inbox = InboxNotifier::new(store.clone() as Arc<dyn JobStore>);
    inbox
        .notify(&Event::new(tenant.id, EventKind::JobCreated, Utc::now()))
        .await
        .unwrap();
    inbox
        .notify(&Event::new(tenant.id, EventKind::CallDead, Utc::now()))
        .await
        .unwrap();
    let kinds = |rows: Vec<callbook_jobs::Notification>| {
        let mut k: Vec<(String, bool)> = rows.into_iter().map(|n| (n.kind, n.user_id.is_some())).collect();
        k.sort();
        k
    };
    assert_eq!(
        kinds(
            store
                .list_notifications(tenant.id, Some(a.id), false)
                .await
                .unwrap()
        ),
        [("call.dead".to_owned(), true), ("job.created".to_owned(), true)]
    );
    assert!(
        store
            .list_notifications(tenant.id, Some(b.id), false)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        kinds(
            store
                .list_notifications(tenant.id, Some(c.id), false)
                .await
                .unwrap()
        ),
        [("call.dead".to_owned(), true)]
    );
}

#[tokio::test]
async fn nobody_wanting_it_writes_nothing_and_a_missing_tenant_is_an_error() {
    let store = Arc::new(InMemoryJobStore::new());
    let tenant = store
        .create_tenant(NewTenant::new("Acme", TimeZone::UTC))
        .await
        .unwrap();
    let inbox = InboxNotifier::new(store.clone() as Arc<dyn JobStore>);
    // No users: nothing to write.
    inbox
        .notify(&Event::new(tenant.id, EventKind::JobCreated, Utc::now()))
        .await
        .unwrap();
    assert!(
        store
            .list_notifications(tenant.id, None, false)
            .await
            .unwrap()
            .is_empty()
    );
    let err = inbox
        .notify(&Event::new(
            callbook_jobs::TenantId::new(),
            EventKind::JobCreated,
            Utc::now(),
        ))
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err}");
}
