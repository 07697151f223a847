//! Events, the live hub, the fan-out and preferences.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use callbook_jobs::{CallId, JobId, TenantId, UserId};
use callbook_pipeline::notify::{
    Channel, Event, EventId, EventKind, Fanout, LiveHub, NotificationPreferences, Notifier, NotifyError,
};
use chrono::{TimeZone, Utc};
use serde_json::json;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

fn event(tenant: TenantId, kind: EventKind) -> Event {
    Event::new(
        tenant,
        kind,
        Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap(),
    )
}

#[test]
fn kinds_round_trip_their_names() {
    let names: Vec<&str> = EventKind::ALL.iter().map(EventKind::as_str).collect();
    assert_eq!(
        names,
        [
            "call.received",
            "call.step",
            "call.finished",
            "call.needs_review",
            "call.dead",
            "job.created",
            "job.moved",
            "job.updated"
        ]
    );
    for kind in EventKind::ALL {
        assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
        assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.as_str()));
    }
    assert_eq!(EventKind::parse("job.deleted"), None);
    assert!(serde_json::from_value::<EventKind>(json!("job.deleted")).is_err());
}

#[test]
fn event_json_is_small_and_round_trips() {
    let tenant = TenantId::new();
    let (call, job) = (CallId::new(), JobId::new());
    let e = event(tenant, EventKind::JobCreated)
        .with_call(call)
        .with_job(job)
        .with_data(json!({"stage": "quote_requested"}))
        .with_dedupe_key(format!("job.created:{job}"));
    let v = serde_json::to_value(&e).unwrap();
    assert_eq!(v["kind"], "job.created");
    assert_eq!(v["tenant_id"], tenant.to_string());
    assert_eq!(v["job_id"], job.to_string());
    assert_eq!(v["data"]["stage"], "quote_requested");
    assert_eq!(v["dedupe_key"], format!("job.created:{job}"));
    assert_eq!(serde_json::from_value::<Event>(v).unwrap(), e);
    // Optional fields are left out.
    let bare = serde_json::to_value(event(tenant, EventKind::CallStep)).unwrap();
    assert!(bare.get("call_id").is_none() && bare.get("dedupe_key").is_none());
}

#[test]
fn event_ids_are_time_ordered_and_parse() {
    let a = EventId::new();
    std::thread::sleep(std::time::Duration::from_millis(2));
    let b = EventId::new();
    assert!(a < b);
    assert_eq!(a.to_string().parse::<EventId>().unwrap(), a);
    assert_eq!(a.as_uuid().get_version_num(), 7);
    assert!("nope".parse::<EventId>().is_err());
}

#[tokio::test]
async fn tenants_hear_only_their_own_events() {
    let hub = LiveHub::new();
    let (t1, t2) = (TenantId::new(), TenantId::new());
    let mut r1 = hub.subscribe(t1);
    let mut r2 = hub.subscribe(t2);
    let e1 = event(t1, EventKind::JobCreated);
    let e2 = event(t2, EventKind::CallReceived);
    hub.notify(&e1).await.unwrap();
    hub.notify(&e2).await.unwrap();
    assert_eq!(r1.recv().await.unwrap(), e1);
    assert_eq!(r2.recv().await.unwrap(), e2);
    assert!(matches!(r1.try_recv(), Err(TryRecvError::Empty)));
    assert!(matches!(r2.try_recv(), Err(TryRecvError::Empty)));
    assert_eq!(hub.subscriber_count(t1), 1);
}

#[tokio::test]
async fn a_published_id_is_delivered_once() {
    let hub = LiveHub::new();
    let t = TenantId::new();
    let mut r = hub.subscribe(t);
    let e = event(t, EventKind::JobMoved);
    assert!(hub.publish(e.clone()));
    assert!(!hub.publish(e.clone()));
    assert_eq!(r.recv().await.unwrap(), e);
    assert!(matches!(r.try_recv(), Err(TryRecvError::Empty)));
}

#[test]
fn channels_are_dropped_when_nobody_listens() {
    let hub = LiveHub::new();
    let t = TenantId::new();
    assert_eq!(hub.open_channels(), 0);
    let r = hub.subscribe(t);
    let clone = hub.clone();
    assert_eq!(clone.open_channels(), 1, "clones share the hub");
    drop(r);
    hub.publish(event(t, EventKind::CallStep));
    assert_eq!(hub.open_channels(), 0);
    let _r = hub.subscribe(t);
    let r2 = hub.subscribe(TenantId::new());
    drop(r2);
    hub.prune();
    assert_eq!(hub.open_channels(), 1);
}

#[test]
fn replay_returns_the_events_after_an_id_or_none_when_it_is_gone() {
    let hub = LiveHub::with_capacities(3, 16);
    let t = TenantId::new();
    let other = TenantId::new();
    let events: Vec<Event> = (0..5).map(|_| event(t, EventKind::CallStep)).collect();
    for e in &events[..3] {
        hub.publish(e.clone());
    }
    hub.publish(event(other, EventKind::CallStep));
    assert_eq!(hub.replay_after(t, events[0].id).unwrap(), events[1..3].to_vec());
    assert_eq!(hub.replay_after(t, events[2].id).unwrap(), Vec::<Event>::new());
    for e in &events[3..] {
        hub.publish(e.clone());
    }
    // The ring holds the last 3 (2, 3, 4): 0 and 1 are gone.
    assert_eq!(hub.replay_after(t, events[0].id), None);
    assert_eq!(hub.replay_after(t, events[1].id), None);
    assert_eq!(hub.replay_after(t, events[2].id).unwrap(), events[3..].to_vec());
    // Unknown ids and other tenants' ids mean "reload".
    assert_eq!(hub.replay_after(t, EventId::new()), None);
    assert_eq!(hub.replay_after(TenantId::new(), events[4].id), None);
    // An evicted id can be published again (the ring is the dedupe window).
    assert!(hub.publish(events[0].clone()));
}

#[tokio::test]
async fn subscribe_after_has_no_gap_and_no_overlap() {
    let hub = LiveHub::new();
    let t = TenantId::new();
    let a = event(t, EventKind::CallReceived);
    let b = event(t, EventKind::CallStep);
    hub.publish(a.clone());
    hub.publish(b.clone());
    let (mut live, replay) = hub.subscribe_after(t, a.id);
    assert_eq!(replay.unwrap(), vec![b]);
    let c = event(t, EventKind::CallFinished);
    hub.publish(c.clone());
    assert_eq!(live.recv().await.unwrap(), c);
    assert!(matches!(live.try_recv(), Err(TryRecvError::Empty)));
}

#[tokio::test]
async fn a_lagging_receiver_is_told_how_many_it_missed() {
    let hub = LiveHub::with_capacities(100, 4);
    let t = TenantId::new();
    let mut slow = hub.subscribe(t);
    let mut fast = hub.subscribe(t);
    let events: Vec<Event> = (0..10).map(|_| event(t, EventKind::CallStep)).collect();
    for e in &events {
        hub.publish(e.clone());
        assert_eq!(fast.recv().await.unwrap(), *e);
    }
    assert_eq!(slow.recv().await, Err(RecvError::Lagged(6)));
    for e in &events[6..] {
        assert_eq!(slow.recv().await.unwrap(), *e);
    }
    // The ring still has everything for a resync.
    assert_eq!(hub.replay_after(t, events[0].id).unwrap().len(), 9);
}

#[derive(Debug)]
struct Counting {
    calls: AtomicUsize,
    fail: Option<bool>,
}

impl Counting {
    fn new(fail: Option<bool>) -> Arc<Self> {
        Arc::new(Self {
            calls: AtomicUsize::new(0),
            fail,
        })
    }
}

#[async_trait]
impl Notifier for Counting {
    async fn notify(&self, _event: &Event) -> Result<(), NotifyError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match self.fail {
            None => Ok(()),
            Some(retryable) => Err(NotifyError::Smtp {
                code: Some(if retryable { 451 } else { 550 }),
                retryable,
                reason: "test",
            }),
        }
    }
}

#[tokio::test]
async fn fanout_tries_every_notifier_and_returns_the_first_error() {
    let ok1 = Counting::new(None);
    let permanent = Counting::new(Some(false));
    let transient = Counting::new(Some(true));
    let ok2 = Counting::new(None);
    let hub = LiveHub::new();
    let t = TenantId::new();
    let mut r = hub.subscribe(t);
    let fanout = Fanout::new(vec![ok1.clone(), permanent.clone(), transient.clone()])
        .with(ok2.clone())
        .with(Arc::new(hub.clone()));
    assert_eq!(fanout.len(), 5);
    let e = event(t, EventKind::JobCreated);
    let err = fanout.notify(&e).await.unwrap_err();
    assert!(!err.is_retryable(), "the first error (permanent) wins: {err}");
    assert!(matches!(err, NotifyError::Smtp { code: Some(550), .. }));
    for n in [&ok1, &permanent, &transient, &ok2] {
        assert_eq!(n.calls.load(Ordering::SeqCst), 1);
    }
    assert_eq!(r.recv().await.unwrap(), e, "later notifiers still delivered");
    // Through Arc<dyn Notifier> and Box<dyn Notifier> as well.
    let boxed: Box<dyn Notifier> = Box::new(Fanout::new(vec![ok1.clone()]));
    boxed.notify(&e).await.unwrap();
    assert_eq!(ok1.calls.load(Ordering::SeqCst), 2);
    assert!(Fanout::default().notify(&e).await.is_ok());
}

#[test]
fn default_preferences() {
    let prefs = NotificationPreferences::from_settings(&json!({}));
    let u = UserId::new();
    for kind in EventKind::ALL {
        assert!(prefs.wants(u, kind, Channel::Live), "{kind} live");
        assert_eq!(
            prefs.wants(u, kind, Channel::InApp),
            kind != EventKind::CallStep,
            "{kind} in-app"
        );
        assert!(!prefs.wants(u, kind, Channel::Email), "no address, no e-mail");
    }
    assert!(prefs.email_recipients(EventKind::JobCreated).is_empty());
}

#[test]
fn preferences_from_settings() {
    let (a, b, c) = (UserId::new(), UserId::new(), UserId::new());
    let settings = json!({"notifications": {"users": {
        a.to_string(): {"email": "a@example.com"},
        b.to_string(): {"email": "b@example.com", "channels": ["live", "in_app"]},
        c.to_string(): {"email": " c@example.com ", "kinds": ["call.dead", "job.moved"]},
    }}});
    let prefs = NotificationPreferences::from_settings(&settings);
    // a: defaults with an address.
    for kind in EventKind::ALL {
        let by_mail = matches!(
            kind,
            EventKind::JobCreated | EventKind::CallNeedsReview | EventKind::CallDead
        );
        assert_eq!(prefs.wants(a, kind, Channel::Email), by_mail, "{kind}");
    }
    // b: no e-mail channel.
    assert!(!prefs.wants(b, EventKind::JobCreated, Channel::Email));
    assert!(prefs.wants(b, EventKind::JobCreated, Channel::InApp));
    // c: only two kinds, on every channel that carries them.
    assert!(prefs.wants(c, EventKind::CallDead, Channel::Email));
    assert!(
        !prefs.wants(c, EventKind::JobMoved, Channel::Email),
        "e-mail does not carry job.moved"
    );
    assert!(prefs.wants(c, EventKind::JobMoved, Channel::InApp));
    assert!(!prefs.wants(c, EventKind::JobCreated, Channel::Live));
    let mut expected = vec![(a, "a@example.com")];
    expected.sort();
    assert_eq!(prefs.email_recipients(EventKind::JobCreated), expected);
    let mut dead = vec![(a, "a@example.com"), (c, "c@example.com")];
    dead.sort();
    assert_eq!(prefs.email_recipients(EventKind::CallDead), dead);
    // Debug never shows addresses.
    assert!(!format!("{prefs:?}").contains("example.com"));
}

#[test]
fn malformed_preferences_fall_back_to_defaults() {
    let u = UserId::new();
    let defaults = NotificationPreferences::default();
    for settings in [
        json!({"notifications": "yes"}),
        json!({"notifications": {"users": [1, 2]}}),
        json!({"notifications": {"users": {"not-a-uuid": {"email": "x@example.com"}}}}),
        json!({"notifications": null}),
        json!(null),
    ] {
        assert_eq!(
            NotificationPreferences::from_settings(&settings),
            defaults,
            "{settings}"
        );
    }
    let prefs = NotificationPreferences::from_settings(&json!({"notifications": {"users": {
        u.to_string(): {"email": 42, "channels": "email", "kinds": ["job.created", "job.exploded", 7]}
    }}}));
    let p = prefs.user(u);
    assert_eq!(p.email, None);
    assert_eq!(p.channels, None, "a non-list keeps the default");
    assert_eq!(
        p.kinds,
        Some(vec![EventKind::JobCreated]),
        "unknown entries are dropped"
    );
    assert!(!prefs.wants(u, EventKind::JobCreated, Channel::Email));
    assert!(prefs.wants(u, EventKind::JobCreated, Channel::Live));
    assert!(!prefs.wants(u, EventKind::JobMoved, Channel::Live));
    let weird = NotificationPreferences::from_settings(&json!({"notifications": {"users": {
        u.to_string(): "everything"
    }}}));
    assert!(weird.wants(u, EventKind::CallFinished, Channel::InApp));
}

#[test]
fn pipeline_constructors_have_deterministic_keys_and_no_pii() {
    let (t, c, j) = (TenantId::new(), CallId::new(), JobId::new());
    let at = Utc::now();
    let a = Event::job_created(t, Some(c), j, at);
    let b = Event::job_created(t, Some(c), j, at);
    assert_ne!(a.id, b.id);
    assert_eq!(a.dedupe_key, b.dedupe_key);
    assert_eq!(a.dedupe_key.as_deref(), Some(format!("job.created:{j}").as_str()));
    assert_eq!(
        (a.kind, a.call_id, a.job_id),
        (EventKind::JobCreated, Some(c), Some(j))
    );
    assert_eq!(a.data, json!({"stage": "quote_requested"}));
    let s = Event::call_step(t, c, "transcribed", at);
    assert_eq!(s.data, json!({"step": "transcribed"}));
    assert_eq!(s.dedupe_key, Some(format!("call.step:{c}:transcribed")));
    let d = Event::call_outcome(t, c, EventKind::CallDead, "dead", at);
    assert_eq!(
        (d.kind, d.dedupe_key),
        (EventKind::CallDead, Some(format!("call.dead:{c}")))
    );
}
