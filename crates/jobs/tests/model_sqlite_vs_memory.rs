//! Model-based property test: random operation sequences give identical observable results on SQLite and on
//! the in-memory store. Ids differ between the stores, so results are compared after replacing every id by
//! the order in which it first appeared; store-clock timestamps (`created_at`, `updated_at` …) are dropped,
//! caller-supplied instants (leases, schedules) are compared exactly. Entities are referenced by index, and
//! a reference may point at another tenant's entity, so isolation is exercised too.
#![cfg(all(feature = "sqlite", feature = "testing"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use callbook_jobs::*;
use chrono::{DateTime, TimeZone as _, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};

#[derive(Debug, Clone)]
enum Op {
    CreateTenant,
    RecordCall {
        tenant: usize,
        sid: u8,
    },
    SetRecording {
        tenant: usize,
        call: usize,
    },
    Claim {
        limit: u32,
        owner: u8,
    },
    Finish {
        tenant: usize,
        call: usize,
        owner: u8,
    },
    Retry {
        tenant: usize,
        call: usize,
        owner: u8,
        delay: u8,
    },
    Release {
        tenant: usize,
        call: usize,
        owner: u8,
    },
    Advance {
        seconds: u16,
    },
    FindOrCreate {
        tenant: usize,
        name: u8,
        phone: u8,
        address: u8,
        call: Option<usize>,
    },
    CreateJob {
        tenant: usize,
        title: u8,
        customer: Option<usize>,
        slot: Option<u8>,
        reject: bool,
        source: Option<(usize, u8)>,
    },
    UpdateJob {
        tenant: usize,
        job: usize,
        stale: bool,
        title: u8,
    },
    MoveJob {
        tenant: usize,
        job: usize,
        stage: u8,
        position: Option<i16>,
    },
    ListJobs {
        tenant: usize,
        stage: Option<u8>,
        text: Option<u8>,
    },
    Search {
        tenant: usize,
        q: u8,
    },
    Merge {
        tenant: usize,
        a: usize,
        b: usize,
    },
    Undo {
        tenant: usize,
        merge: usize,
    },
    History {
        tenant: usize,
        customer: usize,
    },
    Delivery {
        tenant: usize,
        key: u8,
    },
    Overlaps {
        tenant: usize,
        slot: u8,
    },
    Usage {
        tenant: usize,
        key: u8,
        metric: u8,
        amount: i8,
    },
    Stats,
    Footprint {
        tenant: usize,
        customer: usize,
    },
    EraseCustomer {
        tenant: usize,
        customer: usize,
    },
    EraseCall {
        tenant: usize,
        call: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let ix = 0usize..4;
    prop_oneof![
        1 => Just(Op::CreateTenant),
        3 => (ix.clone(), 0u8..6).prop_map(|(tenant, sid)| Op::RecordCall { tenant, sid }),
        3 => (ix.clone(), ix.clone()).prop_map(|(tenant, call)| Op::SetRecording { tenant, call }),
        3 => (1u32..4, 0u8..2).prop_map(|(limit, owner)| Op::Claim { limit, owner }),
        2 => (ix.clone(), ix.clone(), 0u8..2).prop_map(|(tenant, call, owner)| Op::Finish { tenant, call, owner }),
        2 => (ix.clone(), ix.clone(), 0u8..2, 0u8..120).prop_map(|(tenant, call, owner, delay)| Op::Retry { tenant, call, owner, delay }),
        1 => (ix.clone(), ix.clone(), 0u8..2).prop_map(|(tenant, call, owner)| Op::Release { tenant, call, owner }),
        2 => (0u16..400).prop_map(|seconds| Op::Advance { seconds }),
        4 => (ix.clone(), 0u8..5, 0u8..4, 0u8..4, proptest::option::of(ix.clone()))
            .prop_map(|(tenant, name, phone, address, call)| Op::FindOrCreate { tenant, name, phone, address, call }),
        4 => (ix.clone(), 0u8..5, proptest::option::of(ix.clone()), proptest::option::of(0u8..6), any::<bool>(),
              proptest::option::of((ix.clone(), 0u8..2)))
            .prop_map(|(tenant, title, customer, slot, reject, source)| Op::CreateJob { tenant, title, customer, slot, reject, source }),
        3 => (ix.clone(), ix.clone(), any::<bool>(), 0u8..5).prop_map(|(tenant, job, stale, title)| Op::UpdateJob { tenant, job, stale, title }),
        3 => (ix.clone(), ix.clone(), 0u8..6, proptest::option::of(-5i16..5)).prop_map(|(tenant, job, stage, position)| Op::MoveJob { tenant, job, stage, position }),
        2 => (ix.clone(), proptest::option::of(0u8..6), proptest::option::of(0u8..3)).prop_map(|(tenant, stage, text)| Op::ListJobs { tenant, stage, text }),
        2 => (ix.clone(), 0u8..4).prop_map(|(tenant, q)| Op::Search { tenant, q }),
        2 => (ix.clone(), ix.clone(), ix.clone()).prop_map(|(tenant, a, b)| Op::Merge { tenant, a, b }),
        1 => (ix.clone(), ix.clone()).prop_map(|(tenant, merge)| Op::Undo { tenant, merge }),
        1 => (ix.clone(), ix.clone()).prop_map(|(tenant, customer)| Op::History { tenant, customer }),
        1 => (ix.clone(), 0u8..3).prop_map(|(tenant, key)| Op::Delivery { tenant, key }),
        1 => (ix.clone(), 0u8..6).prop_map(|(tenant, slot)| Op::Overlaps { tenant, slot }),
        2 => (ix.clone(), 0u8..4, 0u8..3, -2i8..20).prop_map(|(tenant, key, metric, amount)| Op::Usage { tenant, key, metric, amount }),
        1 => Just(Op::Stats),
        1 => (ix.clone(), ix.clone()).prop_map(|(tenant, customer)| Op::Footprint { tenant, customer }),
        1 => (ix.clone(), ix.clone()).prop_map(|(tenant, customer)| Op::EraseCustomer { tenant, customer }),
        1 => (ix.clone(), ix.clone()).prop_map(|(tenant, call)| Op::EraseCall { tenant, call }),
    ]
}

const NAMES: [&str; 5] = ["Maria Lopez", "maria lopes", "John Smith", "", "Jon Smyth"];
const PHONES: [Option<&str>; 4] = [
    Some("+19145552177"),
    Some("+19145550001"),
    None,
    Some("+442079460958"),
];
const TITLES: [&str; 5] = [
    "Leaking sink",
    "Water heater",
    "",
    "Drain 100% blocked",
    "sink_trap",
];
const TEXTS: [&str; 3] = ["SINK", "100%", "_"];
const QUERIES: [&str; 4] = ["", "maria", "oak 10701", "2177"];

fn address(i: u8) -> Address {
    match i {
        0 => Address::default(),
        1 => Address {
            line1: Some("42 Oak Street".into()),
            postal_code: Some("10701".into()),
            ..Address::default()
        },
        2 => Address {
            line1: Some("42 oak st.".into()),
            postal_code: Some("10701".into()),
            ..Address::default()
        },
        _ => Address {
            line1: Some("7 Elm Avenue".into()),
            city: Some("Yonkers".into()),
            ..Address::default()
        },
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap()
}

fn slot(i: u8) -> (DateTime<Utc>, DateTime<Utc>) {
    let start =
        Utc.with_ymd_and_hms(2030, 2, 1, 13, 0, 0).unwrap() + chrono::Duration::minutes(45 * i64::from(i));
    (start, start + chrono::Duration::hours(1))
}

/// One store plus the ids it handed out, in creation order.
struct Side {
    store: Arc<dyn JobStore>,
    tenants: Vec<TenantId>,
    calls: Vec<(TenantId, CallId)>,
    customers: Vec<CustomerId>,
    jobs: Vec<JobId>,
    merges: Vec<MergeId>,
    labels: HashMap<String, usize>,
}

/// The lease of `owner` at the call's current attempt number (0 when the call is not visible): a stale or
/// foreign owner still loses the lease, and both stores see the same lease when they agree.
async fn lease_at(s: &Arc<dyn JobStore>, owner: String, tenant: TenantId, id: CallId) -> Lease {
    let attempt = s
        .get_call(tenant, id)
        .await
        .map(|c| c.processing.attempts)
        .unwrap_or(0);
    Lease::new(owner, attempt)
}

fn pick<T: Copy>(v: &[T], i: usize) -> Option<T> {
    if v.is_empty() { None } else { Some(v[i % v.len()]) }
}

fn err_json(e: &Error) -> Value {
    match e {
        Error::NotFound { entity } => json!({"err": "not_found", "entity": entity}),
        Error::InvalidInput(f) => {
            json!({"err": "invalid", "fields": f.iter().map(|f| f.field).collect::<Vec<_>>()})
        }
        Error::Conflict { expected, actual, .. } => {
            json!({"err": "conflict", "expected": expected, "actual": actual})
        }
        Error::AlreadyExists { entity } => json!({"err": "exists", "entity": entity}),
        Error::DoubleBooked { conflicting } => json!({"err": "double_booked", "ids": conflicting}),
        Error::LeaseLost => json!({"err": "lease_lost"}),
        Error::InvalidState(_) => json!({"err": "invalid_state"}),
        other => panic!("unexpected error {other}"),
    }
}

fn obs<T: serde::Serialize>(r: &Result<T>) -> Value {
    match r {
        Ok(v) => serde_json::to_value(v).unwrap(),
        Err(e) => err_json(e),
    }
}

const CLOCK_FIELDS: [&str; 5] = ["created_at", "updated_at", "at", "read_at", "undone_at"];

impl Side {
    fn canon(&mut self, v: Value) -> Value {
        match v {
            Value::String(s) => {
                let (prefix, rest) = s
                    .split_once(':')
                    .filter(|(p, _)| *p == "user")
                    .unwrap_or(("", &s));
                if uuid::Uuid::parse_str(rest).is_ok() && rest.len() == 36 {
                    let n = self.labels.len();
                    let label = *self.labels.entry(rest.to_owned()).or_insert(n);
                    Value::String(format!("{prefix}#{label}"))
                } else {
                    Value::String(s)
                }
            }
            Value::Array(a) => Value::Array(a.into_iter().map(|x| self.canon(x)).collect()),
            Value::Object(o) => Value::Object(
                o.into_iter()
                    .filter(|(k, _)| !CLOCK_FIELDS.contains(&k.as_str()))
                    .map(|(k, x)| (k, self.canon(x)))
                    .collect(),
            ),
            other => other,
        }
    }

    async fn apply(&mut self, op: &Op, now: DateTime<Utc>) -> Value {
        let s = self.store.clone();
        let owner = |o: u8| format!("worker-{o}");
        let lease = Duration::from_secs(120);
        if self.tenants.is_empty() {
            if !matches!(op, Op::CreateTenant) {
                return json!("no tenant");
            }
            let t = s
                .create_tenant(NewTenant::new("T", TimeZone::parse("America/New_York").unwrap()))
                .await
                .unwrap();
            self.tenants.push(t.id);
            return json!("tenant");
        }
        let t = |i: usize| self.tenants[i % self.tenants.len()];
        match op {
            Op::CreateTenant => {
                let r = s.create_tenant(NewTenant::new("T", TimeZone::UTC)).await;
                if let Ok(x) = &r {
                    self.tenants.push(x.id);
                }
                obs(&r)
            }
            Op::RecordCall { tenant, sid } => {
                let mut call = callbook_jobs::testing::new_call(&format!("CA{sid}"));
                call.started_at = t0();
                let r = s.record_call(t(*tenant), call).await;
                if let Ok((c, true)) = &r {
                    self.calls.push((c.tenant_id, c.id));
                }
                obs(&r)
            }
            Op::SetRecording { tenant, call } => match pick(&self.calls, *call) {
                None => json!(null),
                Some((_, id)) => {
                    let rec = RecordingRef {
                        provider_recording_id: "RE1".into(),
                        duration_seconds: Some(5),
                        storage_key: None,
                    };
                    obs(&s.set_recording(t(*tenant), id, rec).await)
                }
            },
            Op::Claim { limit, owner: o } => obs(&s.claim_calls(&owner(*o), now, lease, *limit, 3).await),
            Op::Finish {
                tenant,
                call,
                owner: o,
            } => match pick(&self.calls, *call) {
                None => json!(null),
                Some((_, id)) => obs(&s
                    .finish_call(
                        t(*tenant),
                        id,
                        &lease_at(&s, owner(*o), t(*tenant), id).await,
                        now,
                        CallState::Done,
                    )
                    .await),
            },
            Op::Retry {
                tenant,
                call,
                owner: o,
                delay,
            } => match pick(&self.calls, *call) {
                None => json!(null),
                Some((_, id)) => {
                    let next = now + chrono::Duration::seconds(i64::from(*delay));
                    obs(&s
                        .retry_call(
                            t(*tenant),
                            id,
                            &lease_at(&s, owner(*o), t(*tenant), id).await,
                            now,
                            "boom",
                            next,
                        )
                        .await)
                }
            },
            Op::Release {
                tenant,
                call,
                owner: o,
            } => match pick(&self.calls, *call) {
                None => json!(null),
                Some((_, id)) => obs(&s
                    .release_call(
                        t(*tenant),
                        id,
                        &lease_at(&s, owner(*o), t(*tenant), id).await,
                        now,
                    )
                    .await),
            },
            Op::Advance { .. } => json!("tick"),
            Op::FindOrCreate {
                tenant,
                name,
                phone,
                address: a,
                call,
            } => {
                let input = CustomerInput {
                    name: Some(NAMES[*name as usize].to_owned()).filter(|n| !n.is_empty()),
                    phone: PHONES[*phone as usize].map(|p| PhoneNumber::parse(p).unwrap()),
                    address: address(*a),
                    source_call: call.and_then(|c| pick(&self.calls, c)).map(|(_, id)| id),
                };
                let r = s.find_or_create_customer(t(*tenant), input).await;
                if let Ok(m) = &r
                    && m.resolution == CustomerResolution::Created
                {
                    self.customers.push(m.customer.id);
                }
                obs(&r)
            }
            Op::CreateJob {
                tenant,
                title,
                customer,
                slot: sl,
                reject,
                source,
            } => {
                let (start, end) = sl.map(slot).unzip();
                let job = NewJob {
                    customer_id: customer.and_then(|c| pick(&self.customers, c)),
                    source: source.and_then(|(c, i)| {
                        pick(&self.calls, c).map(|(_, id)| JobSource {
                            call_id: id,
                            appointment_index: i32::from(i),
                        })
                    }),
                    scheduled_start: start,
                    scheduled_end: end,
                    reject_double_booking: *reject,
                    notes: Some("gate code".into()),
                    ..NewJob::titled(TITLES[*title as usize])
                };
                let r = s.create_job(t(*tenant), job, Actor::pipeline()).await;
                if let Ok(j) = &r
                    && !self.jobs.contains(&j.id)
                {
                    self.jobs.push(j.id);
                }
                obs(&r)
            }
            Op::UpdateJob {
                tenant,
                job,
                stale,
                title,
            } => match pick(&self.jobs, *job) {
                None => json!(null),
                Some(id) => {
                    let version = match s.get_job(t(*tenant), id).await {
                        Ok(j) => j.version - i64::from(*stale),
                        Err(_) => 1,
                    };
                    let patch = JobPatch {
                        title: Some(TITLES[*title as usize].into()),
                        ..JobPatch::default()
                    };
                    obs(&s
                        .update_job(t(*tenant), id, version, patch, Actor::pipeline())
                        .await)
                }
            },
            Op::MoveJob {
                tenant,
                job,
                stage,
                position,
            } => match pick(&self.jobs, *job) {
                None => json!(null),
                Some(id) => {
                    let version = s.get_job(t(*tenant), id).await.map(|j| j.version).unwrap_or(1);
                    let stage = Stage::ALL[*stage as usize];
                    let r = s
                        .move_job(
                            t(*tenant),
                            id,
                            version,
                            stage,
                            position.map(i64::from),
                            Actor::pipeline(),
                        )
                        .await;
                    json!([obs(&r), obs(&s.stage_history(t(*tenant), id).await)])
                }
            },
            Op::ListJobs { tenant, stage, text } => {
                let filter = JobFilter {
                    stage: stage.map(|i| Stage::ALL[i as usize]),
                    text: text.map(|i| TEXTS[i as usize].to_owned()),
                    ..JobFilter::default()
                };
                obs(&s.list_jobs(t(*tenant), &filter, Page::first(100)).await)
            }
            Op::Search { tenant, q } => obs(&s.search_customers(t(*tenant), QUERIES[*q as usize], 50).await),
            Op::Merge { tenant, a, b } => match (pick(&self.customers, *a), pick(&self.customers, *b)) {
                (Some(a), Some(b)) => {
                    let r = s.merge_customers(t(*tenant), a, b, Actor::pipeline()).await;
                    if let Ok(m) = &r {
                        self.merges.push(m.id);
                    }
                    obs(&r)
                }
                _ => json!(null),
            },
            Op::Undo { tenant, merge } => match pick(&self.merges, *merge) {
                None => json!(null),
                Some(id) => obs(&s.undo_merge(t(*tenant), id).await),
            },
            Op::History { tenant, customer } => match pick(&self.customers, *customer) {
                None => json!(null),
                Some(id) => json!([
                    obs(&s.customer_history(t(*tenant), id).await),
                    obs(&s.list_merge_suggestions(t(*tenant), None).await)
                ]),
            },
            Op::Delivery { tenant, key } => obs(&s.first_delivery(t(*tenant), &format!("k{key}")).await),
            Op::Overlaps { tenant, slot: sl } => {
                let (start, end) = slot(*sl);
                obs(&s.overlapping_jobs(t(*tenant), start, end, None).await)
            }
            Op::Usage {
                tenant,
                key,
                metric,
                amount,
            } => {
                // Metric 1 is empty (refused); a negative amount is refused too.
                let metric = ["audio_seconds", "", "llm_tokens"][*metric as usize];
                let amounts = [(metric, i64::from(*amount)), ("calls", 1)];
                json!([
                    obs(&s
                        .record_usage(t(*tenant), &format!("call:{key}:audio"), "2026-03", &amounts)
                        .await),
                    obs(&s.list_usage(t(*tenant), "2026-03").await),
                ])
            }
            Op::Footprint { tenant, customer } => match pick(&self.customers, *customer) {
                None => json!(null),
                Some(id) => json!([
                    obs(&s.customer_footprint(t(*tenant), id).await),
                    obs(&s.list_customers(t(*tenant), Page::first(100)).await)
                ]),
            },
            // After an erasure, what is left: the tenant's customers, calls, jobs and suggestions.
            Op::EraseCustomer { tenant, customer } => match pick(&self.customers, *customer) {
                None => json!(null),
                Some(id) => json!([
                    obs(&s.erase_customer(t(*tenant), id).await),
                    obs(&s.list_customers(t(*tenant), Page::first(100)).await),
                    obs(&s.list_calls(t(*tenant), None, Page::first(100)).await),
                    obs(&s
                        .list_jobs(t(*tenant), &JobFilter::default(), Page::first(100))
                        .await),
                    obs(&s.list_merge_suggestions(t(*tenant), None).await)
                ]),
            },
            Op::EraseCall { tenant, call } => match pick(&self.calls, *call) {
                None => json!(null),
                Some((_, id)) => json!([
                    obs(&s.erase_call(t(*tenant), id).await),
                    obs(&s.list_calls(t(*tenant), None, Page::first(100)).await),
                    obs(&s
                        .list_jobs(t(*tenant), &JobFilter::default(), Page::first(100))
                        .await)
                ]),
            },
            // `oldest_due_since` is a `created_at` (the store's clock) or a `next_attempt_at`: compare presence.
            Op::Stats => match s.queue_stats(now).await {
                Ok(q) => json!({"counts": q.counts, "due": q.due, "waiting": q.oldest_due_since.is_some()}),
                Err(e) => err_json(&e),
            },
        }
    }
}

async fn run(ops: Vec<Op>) -> std::result::Result<(), TestCaseError> {
    let mut memory = Side {
        store: Arc::new(InMemoryJobStore::new()),
        tenants: vec![],
        calls: vec![],
        customers: vec![],
        jobs: vec![],
        merges: vec![],
        labels: HashMap::new(),
    };
    let mut sqlite = Side {
        store: callbook_jobs::open("sqlite::memory:").await.unwrap(),
        tenants: vec![],
        calls: vec![],
        customers: vec![],
        jobs: vec![],
        merges: vec![],
        labels: HashMap::new(),
    };
    let mut now = t0();
    for (i, op) in std::iter::once(Op::CreateTenant).chain(ops).enumerate() {
        if let Op::Advance { seconds } = op {
            now += chrono::Duration::seconds(i64::from(seconds));
        }
        let a = memory.apply(&op, now).await;
        let b = sqlite.apply(&op, now).await;
        let (a, b) = (memory.canon(a), sqlite.canon(b));
        prop_assert_eq!(a, b, "step {} {:?} differs (left: memory, right: sqlite)", i, op);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, max_shrink_iters: 200, ..ProptestConfig::default() })]
    #[test]
    fn sqlite_and_memory_agree(ops in proptest::collection::vec(op(), 1..45)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(ops))?;
    }
}
