//! [`InMemoryJobStore`]: the full store contract in memory, with no I/O. For tests, demos and as the model the
//! SQL backends are compared against.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::ids::*;
use crate::matching::{self, Candidate};
use crate::model::*;
use crate::store::*;
use crate::validate;

/// The store in memory. Cheap to create; all data is lost on drop. Clone the `Arc` you put it in to share it.
#[derive(Debug, Default)]
pub struct InMemoryJobStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    tenants: BTreeMap<TenantId, Tenant>,
    users: BTreeMap<UserId, User>,
    lines: BTreeMap<PhoneLineId, PhoneLine>,
    calls: BTreeMap<CallId, Call>,
    transcripts: HashMap<CallId, StoredTranscript>,
    extractions: HashMap<CallId, StoredExtraction>,
    corrections: Vec<Correction>,
    customers: BTreeMap<CustomerId, Customer>,
    suggestions: BTreeMap<MergeSuggestionId, MergeSuggestion>,
    merges: BTreeMap<MergeId, CustomerMerge>,
    jobs: BTreeMap<JobId, Job>,
    history: Vec<(TenantId, StageChange)>,
    notes: Vec<JobNote>,
    photos: Vec<JobPhoto>,
    webhook_keys: HashSet<(TenantId, String)>,
    audit: Vec<AuditEntry>,
    usage: HashMap<(TenantId, String, String), i64>,
    usage_keys: HashSet<(TenantId, String)>,
    notifications: BTreeMap<NotificationId, Notification>,
    /// Sessions with their token hash.
    sessions: BTreeMap<SessionId, (Vec<u8>, Session)>,
    /// API tokens with their hash.
    api_tokens: BTreeMap<ApiTokenId, (Vec<u8>, ApiToken)>,
}

impl InMemoryJobStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied change: every method validates before
        // mutating. So a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn lease_deadline(now: DateTime<Utc>, lease: Duration) -> Result<DateTime<Utc>> {
    let d = chrono::Duration::from_std(lease).map_err(|_| Error::invalid("lease", "too long"))?;
    Ok(to_micros(now + d))
}

/// A review ends as done or as no appointment.
pub(crate) fn check_review_outcome(outcome: CallState) -> Result<()> {
    if matches!(outcome, CallState::Done | CallState::NoAppointment) {
        Ok(())
    } else {
        Err(Error::invalid("outcome", "must be done or no_appointment"))
    }
}

/// Only a call that needs review can finish one.
pub(crate) fn check_in_review(call: &Call) -> Result<()> {
    if call.processing.state == CallState::NeedsReview {
        Ok(())
    } else {
        Err(Error::InvalidState(format!(
            "only a call that needs review can be marked reviewed (state {})",
            call.processing.state
        )))
    }
}

pub(crate) fn check_outcome(outcome: CallState) -> Result<()> {
    if matches!(
        outcome,
        CallState::Done | CallState::NoAppointment | CallState::NeedsReview
    ) {
        Ok(())
    } else {
        Err(Error::invalid(
            "outcome",
            "must be done, no_appointment or needs_review",
        ))
    }
}

/// The longest idempotency key [`ActivityStore::record_usage`] accepts, in bytes.
pub(crate) const USAGE_KEY_MAX_BYTES: usize = 200;

/// [`ActivityStore::record_usage`]'s input: key 1–200 bytes, period and metrics non-empty, amounts ≥ 0, no NUL.
pub(crate) fn validate_usage(key: &str, period: &str, amounts: &[(&str, i64)]) -> Result<()> {
    use crate::error::FieldError;
    let mut errors = Vec::new();
    if key.is_empty() {
        errors.push(FieldError::new("key", "must not be empty"));
    } else if key.len() > USAGE_KEY_MAX_BYTES {
        errors.push(FieldError::new("key", "must be at most 200 bytes"));
    }
    validate::no_nul("key", key, &mut errors);
    if period.is_empty() {
        errors.push(FieldError::new("period", "must not be empty"));
    }
    validate::no_nul("period", period, &mut errors);
    if amounts.iter().any(|(metric, _)| metric.is_empty()) {
        errors.push(FieldError::new("metric", "must not be empty"));
    }
    if amounts.iter().any(|(metric, _)| metric.contains('\0')) {
        errors.push(FieldError::new("metric", "must not contain NUL characters"));
    }
    if amounts.iter().any(|(_, amount)| *amount < 0) {
        errors.push(FieldError::new("amount", "must not be negative"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidInput(errors))
    }
}

/// The tenant's name and opening hours (weekday 1–7, opening before closing).
pub(crate) fn validate_tenant(new: &NewTenant) -> Result<String> {
    let mut errors = Vec::new();
    let name = new.name.trim().to_owned();
    if name.is_empty() {
        errors.push(crate::error::FieldError::new("name", "must not be empty"));
    }
    validate::no_nul("name", &name, &mut errors);
    for h in &new.business_hours {
        if !(1..=7).contains(&h.weekday) {
            errors.push(crate::error::FieldError::new(
                "business_hours",
                "weekday must be 1 (Monday) to 7",
            ));
        }
        if h.open >= h.close {
            errors.push(crate::error::FieldError::new(
                "business_hours",
                "opening must be before closing",
            ));
        }
    }
    if errors.is_empty() {
        Ok(name)
    } else {
        Err(Error::InvalidInput(errors))
    }
}

pub(crate) fn validate_customer_input(input: &CustomerInput) -> Result<String> {
    let name = input.name.as_deref().map(str::trim).unwrap_or("").to_owned();
    if name.is_empty() && input.phone.is_none() && input.address.is_empty() {
        return Err(Error::invalid("customer", "needs a name, a phone or an address"));
    }
    if name.chars().count() > 200 {
        return Err(Error::invalid("name", "must be at most 200 characters"));
    }
    let mut errors = Vec::new();
    validate::no_nul("name", &name, &mut errors);
    validate::no_nul_address("address", &input.address, &mut errors);
    if !errors.is_empty() {
        return Err(Error::InvalidInput(errors));
    }
    Ok(name)
}

impl State {
    fn tenant(&self, id: TenantId) -> Result<&Tenant> {
        self.tenants.get(&id).ok_or(Error::not_found("tenant"))
    }

    fn call(&self, tenant: TenantId, id: CallId) -> Result<&Call> {
        self.calls
            .get(&id)
            .filter(|c| c.tenant_id == tenant)
            .ok_or(Error::not_found("call"))
    }

    fn call_mut(&mut self, tenant: TenantId, id: CallId) -> Result<&mut Call> {
        self.calls
            .get_mut(&id)
            .filter(|c| c.tenant_id == tenant)
            .ok_or(Error::not_found("call"))
    }

    fn leased(
        &mut self,
        tenant: TenantId,
        id: CallId,
        lease: &Lease,
        now: DateTime<Utc>,
    ) -> Result<&mut Call> {
        let call = self.call_mut(tenant, id)?;
        let p = &call.processing;
        if p.state != CallState::Processing
            || p.lease_owner.as_deref() != Some(lease.owner.as_str())
            || p.attempts != lease.attempt
            || p.lease_until.is_none_or(|u| u <= now)
        {
            return Err(Error::LeaseLost);
        }
        Ok(call)
    }

    fn customer(&self, tenant: TenantId, id: CustomerId) -> Result<&Customer> {
        self.customers
            .get(&id)
            .filter(|c| c.tenant_id == tenant)
            .ok_or(Error::not_found("customer"))
    }

    fn root(&self, mut id: CustomerId) -> CustomerId {
        for _ in 0..64 {
            match self.customers.get(&id).and_then(|c| c.merged_into) {
                Some(next) => id = next,
                None => break,
            }
        }
        id
    }

    fn job(&self, tenant: TenantId, id: JobId) -> Result<&Job> {
        self.jobs
            .get(&id)
            .filter(|j| j.tenant_id == tenant)
            .ok_or(Error::not_found("job"))
    }

    fn end_of_stage(&self, tenant: TenantId, stage: Stage, except: Option<JobId>) -> i64 {
        self.jobs
            .values()
            .filter(|j| j.tenant_id == tenant && j.stage == stage && Some(j.id) != except)
            .map(|j| j.position)
            .max()
            .map_or(1024, |p| p + 1024)
    }

    fn overlapping(
        &self,
        tenant: TenantId,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        exclude: Option<JobId>,
    ) -> Vec<Job> {
        let mut out: Vec<Job> = self
            .jobs
            .values()
            .filter(|j| {
                j.tenant_id == tenant
                    && !j.stage.is_closed()
                    && Some(j.id) != exclude
                    && j.schedule
                        .as_ref()
                        .is_some_and(|s| validate::overlaps(s, start, end))
            })
            .cloned()
            .collect();
        out.sort_by_key(|j| (j.schedule.as_ref().map(|s| s.start), j.id));
        out
    }

    fn check_refs(
        &self,
        tenant: TenantId,
        customer: Option<CustomerId>,
        source: Option<CallId>,
    ) -> Result<()> {
        if let Some(c) = customer {
            self.customer(tenant, c)?;
        }
        if let Some(call) = source {
            self.call(tenant, call)?;
        }
        Ok(())
    }

    fn insert_customer(&mut self, tenant: TenantId, name: String, input: &CustomerInput) -> Customer {
        let now = now();
        let customer = Customer {
            id: CustomerId::new(),
            tenant_id: tenant,
            name,
            phones: input.phone.iter().cloned().collect(),
            address: input.address.clone(),
            merged_into: None,
            created_at: now,
            updated_at: now,
        };
        self.customers.insert(customer.id, customer.clone());
        customer
    }

    fn set_suggestions(
        &mut self,
        tenant: TenantId,
        a: CustomerId,
        b: CustomerId,
        from: SuggestionStatus,
        to: SuggestionStatus,
    ) {
        for s in self.suggestions.values_mut() {
            if s.tenant_id == tenant
                && s.status == from
                && ((s.customer_id == a && s.candidate_id == b)
                    || (s.customer_id == b && s.candidate_id == a))
            {
                s.status = to;
            }
        }
    }
}

#[async_trait]
impl TenantStore for InMemoryJobStore {
    async fn create_tenant(&self, new: NewTenant) -> Result<Tenant> {
        let name = validate_tenant(&new)?;
        let tenant = Tenant {
            id: TenantId::new(),
            name,
            timezone: new.timezone,
            business_hours: new.business_hours,
            settings: if new.settings.is_null() {
                Value::Object(Default::default())
            } else {
                new.settings
            },
            created_at: now(),
        };
        self.lock().tenants.insert(tenant.id, tenant.clone());
        Ok(tenant)
    }

    async fn get_tenant(&self, id: TenantId) -> Result<Tenant> {
        self.lock().tenant(id).cloned()
    }

    async fn update_tenant_settings(&self, id: TenantId, settings: Value) -> Result<Tenant> {
        validate::check_document("settings", &settings)?;
        let mut st = self.lock();
        let t = st.tenants.get_mut(&id).ok_or(Error::not_found("tenant"))?;
        t.settings = settings;
        Ok(t.clone())
    }

    async fn create_user(
        &self,
        tenant: TenantId,
        login: &str,
        role: Role,
        password_hash: Option<String>,
    ) -> Result<User> {
        let login = login.trim();
        if login.is_empty() {
            return Err(Error::invalid("login", "must not be empty"));
        }
        let mut st = self.lock();
        st.tenant(tenant)?;
        let key = login.to_ascii_lowercase();
        if st
            .users
            .values()
            .any(|u| u.tenant_id == tenant && u.login.to_ascii_lowercase() == key)
        {
            return Err(Error::AlreadyExists { entity: "user" });
        }
        let user = User {
            id: UserId::new(),
            tenant_id: tenant,
            login: login.to_owned(),
            role,
            password_hash,
            created_at: now(),
        };
        st.users.insert(user.id, user.clone());
        Ok(user)
    }

    async fn find_user_by_login(&self, tenant: TenantId, login: &str) -> Result<Option<User>> {
        let key = login.trim().to_ascii_lowercase();
        Ok(self
            .lock()
            .users
            .values()
            .find(|u| u.tenant_id == tenant && u.login.to_ascii_lowercase() == key)
            .cloned())
    }

    async fn list_users(&self, tenant: TenantId) -> Result<Vec<User>> {
        let mut users: Vec<User> = self
            .lock()
            .users
            .values()
            .filter(|u| u.tenant_id == tenant)
            .cloned()
            .collect();
        users.sort_by_key(|u| (u.login.to_ascii_lowercase(), u.id));
        Ok(users)
    }

    async fn add_phone_line(&self, tenant: TenantId, line: NewPhoneLine) -> Result<PhoneLine> {
        if line.provider.trim().is_empty() {
            return Err(Error::invalid("provider", "must not be empty"));
        }
        let mut st = self.lock();
        st.tenant(tenant)?;
        if st
            .lines
            .values()
            .any(|l| l.provider == line.provider && l.number == line.number)
        {
            return Err(Error::AlreadyExists { entity: "phone line" });
        }
        let line = PhoneLine {
            id: PhoneLineId::new(),
            tenant_id: tenant,
            provider: line.provider,
            number: line.number,
            provider_account_id: line.provider_account_id,
            provider_number_id: line.provider_number_id,
            credentials: line.credentials,
            webhook_mode: line.webhook_mode,
            created_at: now(),
        };
        st.lines.insert(line.id, line.clone());
        Ok(line)
    }

    async fn list_phone_lines(&self, tenant: TenantId) -> Result<Vec<PhoneLine>> {
        let mut lines: Vec<PhoneLine> = self
            .lock()
            .lines
            .values()
            .filter(|l| l.tenant_id == tenant)
            .cloned()
            .collect();
        lines.sort_by(|a, b| (&a.number, a.id).cmp(&(&b.number, b.id)));
        Ok(lines)
    }

    async fn route_phone_line(&self, provider: &str, number: &PhoneNumber) -> Result<Option<PhoneLine>> {
        Ok(self
            .lock()
            .lines
            .values()
            .find(|l| l.provider == provider && &l.number == number)
            .cloned())
    }
}

#[async_trait]
impl CallStore for InMemoryJobStore {
    async fn record_call(&self, tenant: TenantId, new: NewCall) -> Result<(Call, bool)> {
        if new.provider_call_id.trim().is_empty() {
            return Err(Error::invalid("provider_call_id", "must not be empty"));
        }
        let mut st = self.lock();
        st.tenant(tenant)?;
        if let Some(line) = new.phone_line_id
            && st.lines.get(&line).is_none_or(|l| l.tenant_id != tenant)
        {
            return Err(Error::not_found("phone line"));
        }
        if let Some(existing) = st.calls.values().find(|c| {
            c.tenant_id == tenant && c.provider == new.provider && c.provider_call_id == new.provider_call_id
        }) {
            return Ok((existing.clone(), false));
        }
        let now = now();
        let call = Call {
            id: CallId::new(),
            tenant_id: tenant,
            phone_line_id: new.phone_line_id,
            provider: new.provider,
            provider_call_id: new.provider_call_id,
            from: new.from,
            to: new.to,
            started_at: to_micros(new.started_at),
            ended_at: None,
            provider_status: new.provider_status,
            recording: None,
            customer_id: None,
            processing: Processing {
                state: CallState::Received,
                step: None,
                checkpoint: None,
                attempts: 0,
                next_attempt_at: None,
                lease_owner: None,
                lease_until: None,
                last_error: None,
            },
            created_at: now,
            updated_at: now,
        };
        st.calls.insert(call.id, call.clone());
        Ok((call, true))
    }

    async fn get_call(&self, tenant: TenantId, id: CallId) -> Result<Call> {
        self.lock().call(tenant, id).cloned()
    }

    async fn find_call_by_provider_id(
        &self,
        tenant: TenantId,
        provider: &str,
        provider_call_id: &str,
    ) -> Result<Option<Call>> {
        Ok(self
            .lock()
            .calls
            .values()
            .find(|c| {
                c.tenant_id == tenant && c.provider == provider && c.provider_call_id == provider_call_id
            })
            .cloned())
    }

    async fn list_calls(&self, tenant: TenantId, state: Option<CallState>, page: Page) -> Result<Vec<Call>> {
        let st = self.lock();
        let mut calls: Vec<&Call> = st
            .calls
            .values()
            .filter(|c| c.tenant_id == tenant && state.is_none_or(|s| c.processing.state == s))
            .collect();
        calls.sort_by_key(|c| std::cmp::Reverse((c.started_at, c.id)));
        Ok(calls
            .into_iter()
            .skip(page.offset as usize)
            .take(page.limit() as usize)
            .cloned()
            .collect())
    }

    async fn update_call_status(
        &self,
        tenant: TenantId,
        id: CallId,
        provider_status: &str,
        ended_at: Option<DateTime<Utc>>,
    ) -> Result<Call> {
        let mut st = self.lock();
        let call = st.call_mut(tenant, id)?;
        call.provider_status = provider_status.to_owned();
        if let Some(t) = ended_at {
            call.ended_at = Some(to_micros(t));
        }
        if call.processing.state == CallState::Received && provider_status == "completed" {
            call.processing.state = CallState::AwaitingRecording;
        }
        call.updated_at = now();
        Ok(call.clone())
    }

    async fn set_recording(&self, tenant: TenantId, id: CallId, recording: RecordingRef) -> Result<Call> {
        let mut st = self.lock();
        let call = st.call_mut(tenant, id)?;
        // A later callback without a duration or stored key (a duplicate Twilio callback after the worker
        // stored the audio) keeps what is already known.
        let previous = call.recording.take().unwrap_or_else(|| RecordingRef {
            provider_recording_id: String::new(),
            duration_seconds: None,
            storage_key: None,
        });
        call.recording = Some(RecordingRef {
            duration_seconds: recording.duration_seconds.or(previous.duration_seconds),
            storage_key: recording.storage_key.or(previous.storage_key),
            provider_recording_id: recording.provider_recording_id,
        });
        if matches!(
            call.processing.state,
            CallState::Received | CallState::AwaitingRecording
        ) {
            call.processing.state = CallState::Queued;
            call.processing.next_attempt_at = None;
        }
        call.updated_at = now();
        Ok(call.clone())
    }

    async fn link_call_customer(&self, tenant: TenantId, id: CallId, customer: CustomerId) -> Result<Call> {
        let mut st = self.lock();
        st.customer(tenant, customer)?;
        let call = st.call_mut(tenant, id)?;
        call.customer_id = Some(customer);
        call.updated_at = now();
        Ok(call.clone())
    }

    async fn requeue_call(&self, tenant: TenantId, id: CallId) -> Result<Call> {
        let mut st = self.lock();
        let call = st.call_mut(tenant, id)?;
        if !call.processing.state.is_final() {
            return Err(Error::InvalidState(format!(
                "only a finished call can be requeued (state {})",
                call.processing.state
            )));
        }
        call.processing = Processing {
            state: CallState::Queued,
            step: None,
            checkpoint: None,
            attempts: 0,
            next_attempt_at: None,
            lease_owner: None,
            lease_until: None,
            last_error: None,
        };
        call.updated_at = now();
        Ok(call.clone())
    }

    async fn finish_review(&self, tenant: TenantId, id: CallId, outcome: CallState) -> Result<Call> {
        check_review_outcome(outcome)?;
        let mut st = self.lock();
        let call = st.call_mut(tenant, id)?;
        check_in_review(call)?;
        call.processing.state = outcome;
        call.updated_at = now();
        Ok(call.clone())
    }

    async fn put_transcript(&self, tenant: TenantId, mut transcript: StoredTranscript) -> Result<()> {
        validate::check_document("document", &transcript.document)?;
        let mut st = self.lock();
        st.call(tenant, transcript.call_id)?;
        transcript.tenant_id = tenant;
        transcript.created_at = now();
        st.transcripts.insert(transcript.call_id, transcript);
        Ok(())
    }

    async fn get_transcript(&self, tenant: TenantId, call: CallId) -> Result<Option<StoredTranscript>> {
        let st = self.lock();
        st.call(tenant, call)?;
        Ok(st.transcripts.get(&call).cloned())
    }

    async fn put_extraction(&self, tenant: TenantId, mut extraction: StoredExtraction) -> Result<()> {
        validate::check_document("document", &extraction.document)?;
        let mut st = self.lock();
        st.call(tenant, extraction.call_id)?;
        extraction.tenant_id = tenant;
        extraction.created_at = now();
        st.extractions.insert(extraction.call_id, extraction);
        Ok(())
    }

    async fn get_extraction(&self, tenant: TenantId, call: CallId) -> Result<Option<StoredExtraction>> {
        let st = self.lock();
        st.call(tenant, call)?;
        Ok(st.extractions.get(&call).cloned())
    }

    async fn add_correction(&self, tenant: TenantId, c: NewCorrection) -> Result<Correction> {
        if c.field.trim().is_empty() {
            return Err(Error::invalid("field", "must not be empty"));
        }
        let mut st = self.lock();
        st.call(tenant, c.call_id)?;
        if let Some(job) = c.job_id {
            st.job(tenant, job)?;
        }
        let correction = Correction {
            id: CorrectionId::new(),
            tenant_id: tenant,
            call_id: c.call_id,
            job_id: c.job_id,
            field: c.field,
            before: c.before,
            after: c.after,
            user_id: c.user_id,
            created_at: now(),
        };
        st.corrections.push(correction.clone());
        Ok(correction)
    }

    async fn list_corrections(&self, tenant: TenantId, call: CallId) -> Result<Vec<Correction>> {
        let st = self.lock();
        st.call(tenant, call)?;
        Ok(st
            .corrections
            .iter()
            .filter(|c| c.tenant_id == tenant && c.call_id == call)
            .cloned()
            .collect())
    }

    async fn stale_calls(
        &self,
        states: &[CallState],
        updated_since: DateTime<Utc>,
        updated_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Call>> {
        let since = to_micros(updated_since);
        let before = to_micros(updated_before);
        let st = self.lock();
        let mut calls: Vec<&Call> = st
            .calls
            .values()
            .filter(|c| {
                states.contains(&c.processing.state) && c.updated_at >= since && c.updated_at < before
            })
            .collect();
        calls.sort_by_key(|c| (c.updated_at, c.id));
        Ok(calls
            .into_iter()
            .take(Page::first(limit).limit() as usize)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl WorkQueue for InMemoryJobStore {
    async fn claim_calls(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
        max_attempts: i32,
    ) -> Result<Vec<Call>> {
        if owner.is_empty() {
            return Err(Error::invalid("owner", "must not be empty"));
        }
        if max_attempts < 1 {
            return Err(Error::invalid("max_attempts", "must be at least 1"));
        }
        let now = to_micros(now);
        let until = lease_deadline(now, lease)?;
        let mut st = self.lock();
        for call in st.calls.values_mut() {
            let p = &mut call.processing;
            if p.state == CallState::Processing
                && p.attempts >= max_attempts
                && p.lease_until.is_none_or(|u| u <= now)
            {
                p.state = CallState::Dead;
                p.last_error = Some(format!("lease expired {} times", p.attempts));
                p.lease_owner = None;
                p.lease_until = None;
                p.next_attempt_at = None;
                call.updated_at = crate::model::now();
            }
        }
        let mut due: Vec<(DateTime<Utc>, CallId)> = st
            .calls
            .values()
            .filter(|c| {
                let p = &c.processing;
                let claimable = p.state == CallState::Queued
                    || (p.state == CallState::Processing && p.lease_until.is_none_or(|u| u <= now));
                claimable && p.next_attempt_at.is_none_or(|t| t <= now)
            })
            .map(|c| (c.processing.next_attempt_at.unwrap_or(c.created_at), c.id))
            .collect();
        due.sort();
        let mut out = Vec::new();
        for (_, id) in due.into_iter().take(limit as usize) {
            if let Some(call) = st.calls.get_mut(&id) {
                call.processing.state = CallState::Processing;
                call.processing.lease_owner = Some(owner.to_owned());
                call.processing.lease_until = Some(until);
                call.processing.attempts += 1;
                call.updated_at = crate::model::now();
                out.push(call.clone());
            }
        }
        Ok(out)
    }

    async fn extend_lease(
        &self,
        tenant: TenantId,
        id: CallId,
        lease: &Lease,
        now: DateTime<Utc>,
        duration: Duration,
    ) -> Result<Call> {
        let until = lease_deadline(to_micros(now), duration)?;
        let mut st = self.lock();
        let call = st.leased(tenant, id, lease, now)?;
        call.processing.lease_until = Some(until);
        call.updated_at = crate::model::now();
        Ok(call.clone())
    }

    async fn checkpoint(
        &self,
        tenant: TenantId,
        id: CallId,
        lease: &Lease,
        now: DateTime<Utc>,
        step: &str,
        data: Option<Value>,
    ) -> Result<Call> {
        validate::check_text("step", step)?;
        if let Some(d) = &data {
            validate::check_document("data", d)?;
        }
        let mut st = self.lock();
        let call = st.leased(tenant, id, lease, now)?;
        call.processing.step = Some(step.to_owned());
        call.processing.checkpoint = data;
        call.updated_at = crate::model::now();
        Ok(call.clone())
    }

    async fn finish_call(
        &self,
        tenant: TenantId,
        id: CallId,
        lease: &Lease,
        now: DateTime<Utc>,
        outcome: CallState,
    ) -> Result<Call> {
        check_outcome(outcome)?;
        let mut st = self.lock();
        let call = st.leased(tenant, id, lease, now)?;
        call.processing.state = outcome;
        call.processing.lease_owner = None;
        call.processing.lease_until = None;
        call.processing.next_attempt_at = None;
        call.updated_at = crate::model::now();
        Ok(call.clone())
    }

    async fn retry_call(
        &self,
        tenant: TenantId,
        id: CallId,
        lease: &Lease,
        now: DateTime<Utc>,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<Call> {
        let mut st = self.lock();
        let call = st.leased(tenant, id, lease, now)?;
        call.processing.state = CallState::Queued;
        call.processing.lease_owner = None;
        call.processing.lease_until = None;
        call.processing.next_attempt_at = Some(to_micros(next_attempt_at));
        call.processing.last_error = Some(validate::error_text(error));
        call.updated_at = crate::model::now();
        Ok(call.clone())
    }

    async fn kill_call(
        &self,
        tenant: TenantId,
        id: CallId,
        lease: &Lease,
        now: DateTime<Utc>,
        reason: &str,
    ) -> Result<Call> {
        let mut st = self.lock();
        let call = st.leased(tenant, id, lease, now)?;
        call.processing.state = CallState::Dead;
        call.processing.lease_owner = None;
        call.processing.lease_until = None;
        call.processing.next_attempt_at = None;
        call.processing.last_error = Some(validate::error_text(reason));
        call.updated_at = crate::model::now();
        Ok(call.clone())
    }

    async fn release_call(
        &self,
        tenant: TenantId,
        id: CallId,
        lease: &Lease,
        now: DateTime<Utc>,
    ) -> Result<Call> {
        let mut st = self.lock();
        let call = st.leased(tenant, id, lease, now)?;
        call.processing.state = CallState::Queued;
        call.processing.lease_owner = None;
        call.processing.lease_until = None;
        call.processing.next_attempt_at = None;
        call.processing.attempts = (call.processing.attempts - 1).max(0);
        call.updated_at = crate::model::now();
        Ok(call.clone())
    }

    async fn queue_stats(&self, now: DateTime<Utc>) -> Result<QueueStats> {
        let now = to_micros(now);
        let st = self.lock();
        let mut stats = QueueStats::default();
        for call in st.calls.values() {
            let p = &call.processing;
            *stats.counts.entry(p.state).or_insert(0) += 1;
            let claimable = p.state == CallState::Queued
                || (p.state == CallState::Processing && p.lease_until.is_none_or(|u| u <= now));
            if claimable && p.next_attempt_at.is_none_or(|t| t <= now) {
                stats.due += 1;
                let since = p.next_attempt_at.unwrap_or(call.created_at);
                stats.oldest_due_since = Some(stats.oldest_due_since.map_or(since, |o| o.min(since)));
            }
        }
        Ok(stats)
    }
}

#[async_trait]
impl CustomerStore for InMemoryJobStore {
    async fn find_or_create_customer(&self, tenant: TenantId, input: CustomerInput) -> Result<CustomerMatch> {
        let name = validate_customer_input(&input)?;
        let mut st = self.lock();
        st.tenant(tenant)?;
        if let Some(call) = input.source_call {
            st.call(tenant, call)?;
        }
        // Score every customer with its own data, attribute the score to its root (survivor).
        let mut best_per_root: BTreeMap<CustomerId, matching::Scored> = BTreeMap::new();
        for c in st.customers.values().filter(|c| c.tenant_id == tenant) {
            let candidate = Candidate {
                name: &c.name,
                phones: &c.phones,
                address: &c.address,
            };
            if let Some(scored) = matching::score(&input, &candidate) {
                let root = st.root(c.id);
                let keep = best_per_root
                    .get(&root)
                    .is_none_or(|b| (scored.confident, scored.score) > (b.confident, b.score));
                if keep {
                    best_per_root.insert(root, scored);
                }
            }
        }
        let decision = decide(best_per_root, |id| st.customers.get(id).map(|c| c.created_at));
        let now = now();
        let result = match decision {
            Decision::Match(id, scored) => {
                let customer = st.customers.get_mut(&id).ok_or(Error::not_found("customer"))?;
                enrich(customer, &name, &input);
                customer.updated_at = now;
                CustomerMatch {
                    customer: customer.clone(),
                    resolution: CustomerResolution::Matched {
                        score: scored.score,
                        reason: scored.reason,
                    },
                    suggestions: Vec::new(),
                }
            }
            Decision::Create(ambiguous) => {
                let customer = st.insert_customer(tenant, name, &input);
                let mut suggestions = Vec::new();
                for (candidate_id, scored) in ambiguous {
                    let s = MergeSuggestion {
                        id: MergeSuggestionId::new(),
                        tenant_id: tenant,
                        customer_id: customer.id,
                        candidate_id,
                        score: scored.score,
                        reason: scored.reason,
                        status: SuggestionStatus::Open,
                        created_at: now,
                    };
                    st.suggestions.insert(s.id, s.clone());
                    suggestions.push(s);
                }
                CustomerMatch {
                    customer,
                    resolution: CustomerResolution::Created,
                    suggestions,
                }
            }
        };
        if let Some(call) = input.source_call
            && let Some(c) = st.calls.get_mut(&call)
        {
            c.customer_id = Some(result.customer.id);
            c.updated_at = now;
        }
        Ok(result)
    }

    async fn create_customer(&self, tenant: TenantId, input: CustomerInput) -> Result<Customer> {
        let name = validate_customer_input(&input)?;
        let mut st = self.lock();
        st.tenant(tenant)?;
        if let Some(call) = input.source_call {
            st.call(tenant, call)?;
        }
        let customer = st.insert_customer(tenant, name, &input);
        if let Some(call) = input.source_call
            && let Some(c) = st.calls.get_mut(&call)
        {
            c.customer_id = Some(customer.id);
        }
        Ok(customer)
    }

    async fn get_customer(&self, tenant: TenantId, id: CustomerId) -> Result<Customer> {
        self.lock().customer(tenant, id).cloned()
    }

    async fn search_customers(&self, tenant: TenantId, query: &str, limit: u32) -> Result<Vec<Customer>> {
        let terms = matching::search_terms(query);
        let st = self.lock();
        let mut found: Vec<&Customer> = st
            .customers
            .values()
            .filter(|c| c.tenant_id == tenant && c.merged_into.is_none())
            .filter(|c| {
                let text = matching::search_text(&c.name, &c.phones, &c.address);
                terms.iter().all(|t| text.contains(t.as_str()))
            })
            .collect();
        found.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
        Ok(found
            .into_iter()
            .take(Page::first(limit).limit() as usize)
            .cloned()
            .collect())
    }

    async fn customer_history(&self, tenant: TenantId, id: CustomerId) -> Result<CustomerHistory> {
        let st = self.lock();
        st.customer(tenant, id)?;
        let members: HashSet<CustomerId> = st
            .customers
            .values()
            .filter(|c| c.tenant_id == tenant)
            .filter(|c| {
                let mut cur = Some(c.id);
                for _ in 0..64 {
                    match cur {
                        Some(x) if x == id => return true,
                        Some(x) => cur = st.customers.get(&x).and_then(|c| c.merged_into),
                        None => return false,
                    }
                }
                false
            })
            .map(|c| c.id)
            .collect();
        let mut calls: Vec<Call> = st
            .calls
            .values()
            .filter(|c| c.tenant_id == tenant && c.customer_id.is_some_and(|x| members.contains(&x)))
            .cloned()
            .collect();
        calls.sort_by_key(|c| std::cmp::Reverse((c.started_at, c.id)));
        let mut jobs: Vec<Job> = st
            .jobs
            .values()
            .filter(|j| j.tenant_id == tenant && j.customer_id.is_some_and(|x| members.contains(&x)))
            .cloned()
            .collect();
        jobs.sort_by_key(|j| std::cmp::Reverse((j.created_at, j.id)));
        Ok(CustomerHistory { calls, jobs })
    }

    async fn list_merge_suggestions(
        &self,
        tenant: TenantId,
        status: Option<SuggestionStatus>,
    ) -> Result<Vec<MergeSuggestion>> {
        let mut out: Vec<MergeSuggestion> = self
            .lock()
            .suggestions
            .values()
            .filter(|s| s.tenant_id == tenant && status.is_none_or(|x| s.status == x))
            .cloned()
            .collect();
        out.sort_by_key(|x| std::cmp::Reverse((x.created_at, x.id)));
        Ok(out)
    }

    async fn dismiss_merge_suggestion(
        &self,
        tenant: TenantId,
        id: MergeSuggestionId,
    ) -> Result<MergeSuggestion> {
        let mut st = self.lock();
        let s = st
            .suggestions
            .get_mut(&id)
            .filter(|s| s.tenant_id == tenant)
            .ok_or(Error::not_found("merge suggestion"))?;
        s.status = SuggestionStatus::Dismissed;
        Ok(s.clone())
    }

    async fn merge_customers(
        &self,
        tenant: TenantId,
        survivor: CustomerId,
        merged: CustomerId,
        actor: Actor,
    ) -> Result<CustomerMerge> {
        let mut st = self.lock();
        let s = st.customer(tenant, survivor)?;
        let m = st.customer(tenant, merged)?;
        check_mergeable(s, m)?;
        let now = now();
        if let Some(c) = st.customers.get_mut(&merged) {
            c.merged_into = Some(survivor);
            c.updated_at = now;
        }
        st.set_suggestions(
            tenant,
            survivor,
            merged,
            SuggestionStatus::Open,
            SuggestionStatus::Accepted,
        );
        let merge = CustomerMerge {
            id: MergeId::new(),
            tenant_id: tenant,
            survivor_id: survivor,
            merged_id: merged,
            actor,
            created_at: now,
            undone_at: None,
        };
        st.merges.insert(merge.id, merge.clone());
        Ok(merge)
    }

    async fn list_merges(&self, tenant: TenantId, survivor: CustomerId) -> Result<Vec<CustomerMerge>> {
        let st = self.lock();
        st.customer(tenant, survivor)?;
        let mut merges: Vec<CustomerMerge> = st
            .merges
            .values()
            .filter(|m| m.tenant_id == tenant && m.survivor_id == survivor && m.undone_at.is_none())
            .cloned()
            .collect();
        merges.sort_by_key(|m| std::cmp::Reverse((m.created_at, m.id)));
        Ok(merges)
    }

    async fn undo_merge(&self, tenant: TenantId, id: MergeId) -> Result<CustomerMerge> {
        let mut st = self.lock();
        let merge = st
            .merges
            .get(&id)
            .filter(|m| m.tenant_id == tenant)
            .cloned()
            .ok_or(Error::not_found("merge"))?;
        if merge.undone_at.is_some() {
            return Err(Error::InvalidState("the merge was already undone".into()));
        }
        let now = now();
        if let Some(c) = st.customers.get_mut(&merge.merged_id) {
            c.merged_into = None;
            c.updated_at = now;
        }
        st.set_suggestions(
            tenant,
            merge.survivor_id,
            merge.merged_id,
            SuggestionStatus::Accepted,
            SuggestionStatus::Open,
        );
        let m = st.merges.get_mut(&id).ok_or(Error::not_found("merge"))?;
        m.undone_at = Some(now);
        Ok(m.clone())
    }
}

pub(crate) fn check_mergeable(survivor: &Customer, merged: &Customer) -> Result<()> {
    if survivor.id == merged.id {
        return Err(Error::InvalidState("cannot merge a customer into itself".into()));
    }
    if survivor.merged_into.is_some() {
        return Err(Error::InvalidState("the survivor is itself merged".into()));
    }
    if merged.merged_into.is_some() {
        return Err(Error::InvalidState("the customer is already merged".into()));
    }
    Ok(())
}

/// Adds what the input knows and the matched customer does not: a new phone, a name, an address.
pub(crate) fn enrich(customer: &mut Customer, name: &str, input: &CustomerInput) {
    if let Some(p) = &input.phone
        && !customer.phones.contains(p)
    {
        customer.phones.push(p.clone());
    }
    if customer.name.is_empty() && !name.is_empty() {
        customer.name = name.to_owned();
    }
    if customer.address.is_empty() && !input.address.is_empty() {
        customer.address = input.address.clone();
    }
}

pub(crate) enum Decision {
    Match(CustomerId, matching::Scored),
    Create(Vec<(CustomerId, matching::Scored)>),
}

/// The best confident candidate (score, then oldest, then smallest id), or create with every candidate as a
/// suggestion.
pub(crate) fn decide(
    scored: BTreeMap<CustomerId, matching::Scored>,
    created_at: impl Fn(&CustomerId) -> Option<DateTime<Utc>>,
) -> Decision {
    let best = scored
        .iter()
        .filter(|(_, s)| s.confident)
        .min_by(|(a_id, a), (b_id, b)| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| created_at(a_id).cmp(&created_at(b_id)))
                .then_with(|| a_id.cmp(b_id))
        })
        .map(|(id, s)| (*id, s.clone()));
    match best {
        Some((id, s)) => Decision::Match(id, s),
        None => Decision::Create(scored.into_iter().collect()),
    }
}

#[async_trait]
impl JobBoard for InMemoryJobStore {
    async fn create_job(&self, tenant: TenantId, new: NewJob, actor: Actor) -> Result<Job> {
        let mut st = self.lock();
        let zone = st.tenant(tenant)?.timezone;
        let mut job = validate::job_from_new(tenant, &new, zone, now())?;
        st.check_refs(tenant, new.customer_id, new.source.map(|s| s.call_id))?;
        if let Some(source) = new.source
            && let Some(existing) = st
                .jobs
                .values()
                .find(|j| j.tenant_id == tenant && j.source == Some(source))
        {
            return Ok(existing.clone());
        }
        if new.reject_double_booking
            && let Some(s) = &job.schedule
        {
            let clash = st.overlapping(tenant, s.start, s.end, None);
            if !clash.is_empty() {
                return Err(Error::DoubleBooked {
                    conflicting: clash.iter().map(|j| j.id).collect(),
                });
            }
        }
        job.position = st.end_of_stage(tenant, Stage::QuoteRequested, None);
        st.history.push((
            tenant,
            StageChange {
                job_id: job.id,
                from: None,
                to: Stage::QuoteRequested,
                actor,
                at: job.created_at,
            },
        ));
        st.jobs.insert(job.id, job.clone());
        Ok(job)
    }

    async fn get_job(&self, tenant: TenantId, id: JobId) -> Result<Job> {
        self.lock().job(tenant, id).cloned()
    }

    async fn find_job_by_source(&self, tenant: TenantId, source: JobSource) -> Result<Option<Job>> {
        Ok(self
            .lock()
            .jobs
            .values()
            .find(|j| j.tenant_id == tenant && j.source == Some(source))
            .cloned())
    }

    async fn list_jobs(&self, tenant: TenantId, filter: &JobFilter, page: Page) -> Result<Vec<Job>> {
        let st = self.lock();
        let mut jobs: Vec<&Job> = st
            .jobs
            .values()
            .filter(|j| j.tenant_id == tenant)
            .filter(|j| filter.stage.is_none_or(|s| j.stage == s))
            .filter(|j| filter.customer_id.is_none_or(|c| j.customer_id == Some(c)))
            .filter(|j| {
                if filter.scheduled_from.is_none() && filter.scheduled_to.is_none() {
                    return true;
                }
                j.schedule.as_ref().is_some_and(|s| {
                    filter.scheduled_to.is_none_or(|to| s.start < to)
                        && filter.scheduled_from.is_none_or(|from| s.end > from)
                })
            })
            .filter(|j| {
                filter
                    .text
                    .as_deref()
                    .is_none_or(|t| validate::job_text_matches(j, t))
            })
            .collect();
        jobs.sort_by_key(|j| (j.position, j.id));
        Ok(jobs
            .into_iter()
            .skip(page.offset as usize)
            .take(page.limit() as usize)
            .cloned()
            .collect())
    }

    async fn update_job(
        &self,
        tenant: TenantId,
        id: JobId,
        expected_version: i64,
        patch: JobPatch,
        _actor: Actor,
    ) -> Result<Job> {
        let mut st = self.lock();
        let current = st.job(tenant, id)?;
        if current.version != expected_version {
            return Err(Error::Conflict {
                entity: "job",
                expected: expected_version,
                actual: current.version,
            });
        }
        let customer_changed = patch.customer_id.flatten();
        let reject_double_booking = patch.reject_double_booking;
        let mut next = validate::apply_patch(current, patch)?;
        st.check_refs(tenant, customer_changed, None)?;
        if reject_double_booking
            && !next.stage.is_closed()
            && let Some(s) = &next.schedule
        {
            let clash = st.overlapping(tenant, s.start, s.end, Some(id));
            if !clash.is_empty() {
                return Err(Error::DoubleBooked {
                    conflicting: clash.iter().map(|j| j.id).collect(),
                });
            }
        }
        next.version += 1;
        next.updated_at = now();
        st.jobs.insert(id, next.clone());
        Ok(next)
    }

    async fn move_job(
        &self,
        tenant: TenantId,
        id: JobId,
        expected_version: i64,
        stage: Stage,
        position: Option<i64>,
        actor: Actor,
    ) -> Result<Job> {
        let mut st = self.lock();
        let current = st.job(tenant, id)?.clone();
        if current.version != expected_version {
            return Err(Error::Conflict {
                entity: "job",
                expected: expected_version,
                actual: current.version,
            });
        }
        let position = match position {
            Some(p) => p,
            None if stage == current.stage => current.position,
            None => st.end_of_stage(tenant, stage, Some(id)),
        };
        let now = now();
        if stage != current.stage {
            st.history.push((
                tenant,
                StageChange {
                    job_id: id,
                    from: Some(current.stage),
                    to: stage,
                    actor,
                    at: now,
                },
            ));
        }
        let job = st.jobs.get_mut(&id).ok_or(Error::not_found("job"))?;
        job.stage = stage;
        job.position = position;
        job.version += 1;
        job.updated_at = now;
        Ok(job.clone())
    }

    async fn stage_history(&self, tenant: TenantId, id: JobId) -> Result<Vec<StageChange>> {
        let st = self.lock();
        st.job(tenant, id)?;
        Ok(st
            .history
            .iter()
            .filter(|(t, h)| *t == tenant && h.job_id == id)
            .map(|(_, h)| h.clone())
            .collect())
    }

    async fn add_note(&self, tenant: TenantId, job: JobId, actor: Actor, body: &str) -> Result<JobNote> {
        let body = body.trim();
        if body.is_empty() {
            return Err(Error::invalid("body", "must not be empty"));
        }
        validate::check_text("body", body)?;
        let mut st = self.lock();
        st.job(tenant, job)?;
        let note = JobNote {
            id: NoteId::new(),
            tenant_id: tenant,
            job_id: job,
            actor,
            body: body.to_owned(),
            created_at: now(),
        };
        st.notes.push(note.clone());
        Ok(note)
    }

    async fn list_notes(&self, tenant: TenantId, job: JobId) -> Result<Vec<JobNote>> {
        let st = self.lock();
        st.job(tenant, job)?;
        Ok(st
            .notes
            .iter()
            .filter(|n| n.tenant_id == tenant && n.job_id == job)
            .cloned()
            .collect())
    }

    async fn add_photo(
        &self,
        tenant: TenantId,
        job: JobId,
        actor: Actor,
        photo: NewPhoto,
    ) -> Result<JobPhoto> {
        validate_photo(&photo)?;
        let mut st = self.lock();
        st.job(tenant, job)?;
        let photo = JobPhoto {
            id: PhotoId::new(),
            tenant_id: tenant,
            job_id: job,
            blob_key: photo.blob_key,
            content_type: photo.content_type,
            size_bytes: photo.size_bytes,
            caption: photo.caption,
            actor,
            created_at: now(),
        };
        st.photos.push(photo.clone());
        Ok(photo)
    }

    async fn list_photos(&self, tenant: TenantId, job: JobId) -> Result<Vec<JobPhoto>> {
        let st = self.lock();
        st.job(tenant, job)?;
        Ok(st
            .photos
            .iter()
            .filter(|p| p.tenant_id == tenant && p.job_id == job)
            .cloned()
            .collect())
    }

    async fn overlapping_jobs(
        &self,
        tenant: TenantId,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        exclude: Option<JobId>,
    ) -> Result<Vec<Job>> {
        Ok(self.lock().overlapping(tenant, start, end, exclude))
    }
}

pub(crate) fn validate_photo(photo: &NewPhoto) -> Result<()> {
    let mut errors = Vec::new();
    if photo.blob_key.trim().is_empty() {
        errors.push(crate::error::FieldError::new("blob_key", "must not be empty"));
    }
    if photo.content_type.trim().is_empty() {
        errors.push(crate::error::FieldError::new("content_type", "must not be empty"));
    }
    if photo.size_bytes < 0 {
        errors.push(crate::error::FieldError::new(
            "size_bytes",
            "must not be negative",
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidInput(errors))
    }
}

#[async_trait]
impl ActivityStore for InMemoryJobStore {
    async fn first_delivery(&self, tenant: TenantId, key: &str) -> Result<bool> {
        if key.is_empty() {
            return Err(Error::invalid("key", "must not be empty"));
        }
        let mut st = self.lock();
        st.tenant(tenant)?;
        Ok(st.webhook_keys.insert((tenant, key.to_owned())))
    }

    async fn append_audit(&self, mut entry: AuditEntry) -> Result<()> {
        entry.at = to_micros(entry.at);
        let mut st = self.lock();
        st.tenant(entry.tenant_id)?;
        st.audit.push(entry);
        Ok(())
    }

    async fn list_audit(&self, tenant: TenantId, page: Page) -> Result<Vec<AuditEntry>> {
        let st = self.lock();
        // Newest first: by time, then by insertion order.
        let mut entries: Vec<(usize, &AuditEntry)> = st
            .audit
            .iter()
            .enumerate()
            .filter(|(_, e)| e.tenant_id == tenant)
            .collect();
        entries.sort_by(|(ai, a), (bi, b)| (b.at, bi).cmp(&(a.at, ai)));
        Ok(entries
            .into_iter()
            .skip(page.offset as usize)
            .take(page.limit() as usize)
            .map(|(_, e)| e.clone())
            .collect())
    }

    async fn add_usage(&self, tenant: TenantId, metric: &str, period: &str, amount: i64) -> Result<i64> {
        let mut st = self.lock();
        st.tenant(tenant)?;
        let total = st
            .usage
            .entry((tenant, metric.to_owned(), period.to_owned()))
            .or_insert(0);
        *total += amount;
        Ok(*total)
    }

    async fn usage(&self, tenant: TenantId, metric: &str, period: &str) -> Result<i64> {
        Ok(self
            .lock()
            .usage
            .get(&(tenant, metric.to_owned(), period.to_owned()))
            .copied()
            .unwrap_or(0))
    }

    async fn record_usage(
        &self,
        tenant: TenantId,
        key: &str,
        period: &str,
        amounts: &[(&str, i64)],
    ) -> Result<bool> {
        validate_usage(key, period, amounts)?;
        let mut st = self.lock();
        st.tenant(tenant)?;
        if !st.usage_keys.insert((tenant, key.to_owned())) {
            return Ok(false);
        }
        for (metric, amount) in amounts {
            *st.usage
                .entry((tenant, (*metric).to_owned(), period.to_owned()))
                .or_insert(0) += amount;
        }
        Ok(true)
    }

    async fn list_usage(&self, tenant: TenantId, period: &str) -> Result<Vec<UsageTotal>> {
        let st = self.lock();
        let mut totals: Vec<UsageTotal> = st
            .usage
            .iter()
            .filter(|((t, _, p), _)| *t == tenant && p == period)
            .map(|((_, metric, _), total)| UsageTotal {
                metric: metric.clone(),
                total: *total,
            })
            .collect();
        totals.sort_by(|a, b| a.metric.cmp(&b.metric));
        Ok(totals)
    }

    async fn notify(
        &self,
        tenant: TenantId,
        user: Option<UserId>,
        kind: &str,
        payload: Value,
    ) -> Result<Notification> {
        let mut st = self.lock();
        st.tenant(tenant)?;
        if let Some(u) = user
            && st.users.get(&u).is_none_or(|u| u.tenant_id != tenant)
        {
            return Err(Error::not_found("user"));
        }
        let n = Notification {
            id: NotificationId::new(),
            tenant_id: tenant,
            user_id: user,
            kind: kind.to_owned(),
            payload,
            created_at: now(),
            read_at: None,
        };
        st.notifications.insert(n.id, n.clone());
        Ok(n)
    }

    async fn list_notifications(
        &self,
        tenant: TenantId,
        user: Option<UserId>,
        unread_only: bool,
    ) -> Result<Vec<Notification>> {
        let mut out: Vec<Notification> = self
            .lock()
            .notifications
            .values()
            .filter(|n| n.tenant_id == tenant)
            .filter(|n| n.user_id.is_none() || n.user_id == user)
            .filter(|n| !unread_only || n.read_at.is_none())
            .cloned()
            .collect();
        out.sort_by_key(|x| std::cmp::Reverse((x.created_at, x.id)));
        Ok(out)
    }

    async fn count_unread_notifications(&self, tenant: TenantId, user: Option<UserId>) -> Result<u64> {
        let count = self
            .lock()
            .notifications
            .values()
            .filter(|n| n.tenant_id == tenant && n.read_at.is_none())
            .filter(|n| n.user_id.is_none() || n.user_id == user)
            .count();
        Ok(count as u64)
    }

    async fn mark_notification_read(&self, tenant: TenantId, id: NotificationId) -> Result<Notification> {
        let mut st = self.lock();
        let n = st
            .notifications
            .get_mut(&id)
            .filter(|n| n.tenant_id == tenant)
            .ok_or(Error::not_found("notification"))?;
        if n.read_at.is_none() {
            n.read_at = Some(now());
        }
        Ok(n.clone())
    }
}

impl State {
    fn user(&self, tenant: TenantId, id: UserId) -> Result<&User> {
        self.users
            .get(&id)
            .filter(|u| u.tenant_id == tenant)
            .ok_or(Error::not_found("user"))
    }

    fn owners(&self, tenant: TenantId) -> usize {
        self.users
            .values()
            .filter(|u| u.tenant_id == tenant && u.role == Role::Owner)
            .count()
    }

    fn drop_user_sessions(&mut self, user: UserId) -> u64 {
        let before = self.sessions.len();
        self.sessions.retain(|_, (_, s)| s.user_id != user);
        (before - self.sessions.len()) as u64
    }

    /// The customer and every customer merged into it (directly or through others).
    fn members(&self, tenant: TenantId, id: CustomerId) -> Vec<&Customer> {
        let mut members: Vec<&Customer> = self
            .customers
            .values()
            .filter(|c| c.tenant_id == tenant)
            .filter(|c| {
                let mut cur = Some(c.id);
                for _ in 0..64 {
                    match cur {
                        Some(x) if x == id => return true,
                        Some(x) => cur = self.customers.get(&x).and_then(|c| c.merged_into),
                        None => return false,
                    }
                }
                false
            })
            .collect();
        members.sort_by_key(|c| (c.created_at, c.id));
        members
    }

    fn footprint(&self, tenant: TenantId, id: CustomerId) -> Result<CustomerFootprint> {
        self.customer(tenant, id)?;
        let members = self.members(tenant, id);
        let ids: HashSet<CustomerId> = members.iter().map(|c| c.id).collect();
        let phones: HashSet<&PhoneNumber> = members.iter().flat_map(|c| c.phones.iter()).collect();
        let mut calls: Vec<Call> = self
            .calls
            .values()
            .filter(|c| c.tenant_id == tenant)
            .filter(|c| match c.customer_id {
                Some(owner) => ids.contains(&owner),
                None => c.from.as_ref().is_some_and(|f| phones.contains(f)),
            })
            .cloned()
            .collect();
        calls.sort_by_key(|c| (c.started_at, c.id));
        let call_ids: HashSet<CallId> = calls.iter().map(|c| c.id).collect();
        let mut jobs: Vec<Job> = self
            .jobs
            .values()
            .filter(|j| j.tenant_id == tenant)
            .filter(|j| {
                j.customer_id.is_some_and(|c| ids.contains(&c))
                    || j.source.is_some_and(|s| call_ids.contains(&s.call_id))
            })
            .cloned()
            .collect();
        jobs.sort_by_key(|j| (j.created_at, j.id));
        Ok(CustomerFootprint {
            customers: members.iter().map(|c| c.id).collect(),
            calls,
            jobs,
        })
    }

    /// Deletes the given customers, calls and jobs of one tenant and every row derived from them (the erasure
    /// both `erase_customer` and `erase_call` perform).
    fn erase(
        &mut self,
        tenant: TenantId,
        customers: &HashSet<CustomerId>,
        calls: &HashSet<CallId>,
        jobs: &HashSet<JobId>,
    ) -> ErasureReport {
        let mut report = ErasureReport::default();
        let mut named: Vec<String> = customers.iter().map(ToString::to_string).collect();
        named.extend(calls.iter().map(ToString::to_string));
        named.extend(jobs.iter().map(ToString::to_string));

        let n = count_retain_map(&mut self.notifications, |_, n| {
            !(n.tenant_id == tenant && validate::payload_names(&n.payload, &named))
        });
        report.add("notifications", n);
        let n = count_retain_vec(&mut self.corrections, |c| {
            !(c.tenant_id == tenant
                && (calls.contains(&c.call_id) || c.job_id.is_some_and(|j| jobs.contains(&j))))
        });
        report.add("corrections", n);
        let n = count_retain_vec(&mut self.history, |(t, h)| {
            !(*t == tenant && jobs.contains(&h.job_id))
        });
        report.add("stage_history", n);
        let n = count_retain_vec(&mut self.notes, |x| {
            !(x.tenant_id == tenant && jobs.contains(&x.job_id))
        });
        report.add("job_notes", n);
        let n = count_retain_vec(&mut self.photos, |x| {
            !(x.tenant_id == tenant && jobs.contains(&x.job_id))
        });
        report.add("job_photos", n);
        let n = count_retain_map(&mut self.jobs, |id, _| !jobs.contains(id));
        report.add("jobs", n);
        let n = count_retain_hash(&mut self.transcripts, |id| !calls.contains(id));
        report.add("transcripts", n);
        let n = count_retain_hash(&mut self.extractions, |id| !calls.contains(id));
        report.add("extractions", n);
        let n = count_retain_map(&mut self.calls, |id, _| !calls.contains(id));
        report.add("calls", n);
        let n = count_retain_map(&mut self.suggestions, |_, s| {
            !(customers.contains(&s.customer_id) || customers.contains(&s.candidate_id))
        });
        report.add("merge_suggestions", n);
        let n = count_retain_map(&mut self.merges, |_, m| {
            !(customers.contains(&m.survivor_id) || customers.contains(&m.merged_id))
        });
        report.add("customer_merges", n);
        let n = count_retain_map(&mut self.customers, |id, _| !customers.contains(id));
        report.add("customers", n);
        report
    }
}

fn count_retain_map<K: Ord, V>(map: &mut BTreeMap<K, V>, mut keep: impl FnMut(&K, &V) -> bool) -> u64 {
    let before = map.len();
    map.retain(|k, v| keep(k, v));
    (before - map.len()) as u64
}

fn count_retain_hash<K: std::hash::Hash + Eq, V>(
    map: &mut HashMap<K, V>,
    mut keep: impl FnMut(&K) -> bool,
) -> u64 {
    let before = map.len();
    map.retain(|k, _| keep(k));
    (before - map.len()) as u64
}

fn count_retain_vec<T>(items: &mut Vec<T>, keep: impl FnMut(&T) -> bool) -> u64 {
    let before = items.len();
    items.retain(keep);
    (before - items.len()) as u64
}

fn count_retain_set<T: std::hash::Hash + Eq>(items: &mut HashSet<T>, keep: impl FnMut(&T) -> bool) -> u64 {
    let before = items.len();
    items.retain(keep);
    (before - items.len()) as u64
}

#[async_trait]
impl AccountStore for InMemoryJobStore {
    async fn list_tenants(&self, page: Page) -> Result<Vec<Tenant>> {
        let st = self.lock();
        let mut tenants: Vec<&Tenant> = st.tenants.values().collect();
        tenants.sort_by_key(|t| (t.created_at, t.id));
        Ok(tenants
            .into_iter()
            .skip(page.offset as usize)
            .take(page.limit() as usize)
            .cloned()
            .collect())
    }

    async fn update_tenant_profile(&self, id: TenantId, profile: TenantProfile) -> Result<Tenant> {
        let name = validate_tenant(&validate::profile_as_new_tenant(&profile))?;
        let mut st = self.lock();
        let t = st.tenants.get_mut(&id).ok_or(Error::not_found("tenant"))?;
        t.name = name;
        t.timezone = profile.timezone;
        t.business_hours = profile.business_hours;
        Ok(t.clone())
    }

    async fn delete_tenant(&self, id: TenantId) -> Result<ErasureReport> {
        let mut st = self.lock();
        st.tenant(id)?;
        let mut r = ErasureReport::default();
        let st = &mut *st;
        r.add(
            "sessions",
            count_retain_map(&mut st.sessions, |_, (_, s)| s.tenant_id != id),
        );
        r.add(
            "api_tokens",
            count_retain_map(&mut st.api_tokens, |_, (_, t)| t.tenant_id != id),
        );
        r.add(
            "notifications",
            count_retain_map(&mut st.notifications, |_, n| n.tenant_id != id),
        );
        r.add(
            "corrections",
            count_retain_vec(&mut st.corrections, |c| c.tenant_id != id),
        );
        r.add(
            "stage_history",
            count_retain_vec(&mut st.history, |(t, _)| *t != id),
        );
        r.add(
            "job_notes",
            count_retain_vec(&mut st.notes, |n| n.tenant_id != id),
        );
        r.add(
            "job_photos",
            count_retain_vec(&mut st.photos, |p| p.tenant_id != id),
        );
        r.add("jobs", count_retain_map(&mut st.jobs, |_, j| j.tenant_id != id));
        let calls: HashSet<CallId> = st
            .calls
            .values()
            .filter(|c| c.tenant_id == id)
            .map(|c| c.id)
            .collect();
        r.add(
            "transcripts",
            count_retain_hash(&mut st.transcripts, |c| !calls.contains(c)),
        );
        r.add(
            "extractions",
            count_retain_hash(&mut st.extractions, |c| !calls.contains(c)),
        );
        r.add("calls", count_retain_map(&mut st.calls, |_, c| c.tenant_id != id));
        r.add(
            "merge_suggestions",
            count_retain_map(&mut st.suggestions, |_, s| s.tenant_id != id),
        );
        r.add(
            "customer_merges",
            count_retain_map(&mut st.merges, |_, m| m.tenant_id != id),
        );
        r.add(
            "customers",
            count_retain_map(&mut st.customers, |_, c| c.tenant_id != id),
        );
        r.add(
            "phone_lines",
            count_retain_map(&mut st.lines, |_, l| l.tenant_id != id),
        );
        r.add(
            "webhook_keys",
            count_retain_set(&mut st.webhook_keys, |(t, _)| *t != id),
        );
        r.add(
            "audit_log",
            count_retain_vec(&mut st.audit, |a| a.tenant_id != id),
        );
        let before = st.usage.len();
        st.usage.retain(|(t, _, _), _| *t != id);
        r.add("usage_counters", (before - st.usage.len()) as u64);
        r.add(
            "usage_events",
            count_retain_set(&mut st.usage_keys, |(t, _)| *t != id),
        );
        r.add("users", count_retain_map(&mut st.users, |_, u| u.tenant_id != id));
        st.tenants.remove(&id);
        r.add("tenants", 1);
        Ok(r)
    }

    async fn get_user(&self, tenant: TenantId, id: UserId) -> Result<User> {
        self.lock().user(tenant, id).cloned()
    }

    async fn find_users_by_login(&self, login: &str) -> Result<Vec<User>> {
        let key = login.trim().to_ascii_lowercase();
        let mut users: Vec<User> = self
            .lock()
            .users
            .values()
            .filter(|u| u.login.to_ascii_lowercase() == key)
            .cloned()
            .collect();
        users.sort_by_key(|u| (u.created_at, u.id));
        Ok(users)
    }

    async fn set_user_password(&self, tenant: TenantId, id: UserId, password_hash: &str) -> Result<User> {
        validate::password_hash(password_hash)?;
        let mut st = self.lock();
        st.user(tenant, id)?;
        st.drop_user_sessions(id);
        let user = st.users.get_mut(&id).ok_or(Error::not_found("user"))?;
        user.password_hash = Some(password_hash.to_owned());
        Ok(user.clone())
    }

    async fn set_user_role(&self, tenant: TenantId, id: UserId, role: Role) -> Result<User> {
        let mut st = self.lock();
        let current = st.user(tenant, id)?.role;
        if current == Role::Owner && role != Role::Owner && st.owners(tenant) <= 1 {
            return Err(Error::InvalidState(
                "cannot demote the tenant's last owner".into(),
            ));
        }
        let user = st.users.get_mut(&id).ok_or(Error::not_found("user"))?;
        user.role = role;
        Ok(user.clone())
    }

    async fn delete_user(&self, tenant: TenantId, id: UserId) -> Result<()> {
        let mut st = self.lock();
        if st.user(tenant, id)?.role == Role::Owner && st.owners(tenant) <= 1 {
            return Err(Error::InvalidState(
                "cannot delete the tenant's last owner".into(),
            ));
        }
        st.drop_user_sessions(id);
        st.api_tokens.retain(|_, (_, t)| t.user_id != Some(id));
        st.notifications.retain(|_, n| n.user_id != Some(id));
        for c in st.corrections.iter_mut().filter(|c| c.user_id == Some(id)) {
            c.user_id = None;
        }
        st.users.remove(&id);
        Ok(())
    }

    async fn create_session(&self, tenant: TenantId, session: NewSession) -> Result<Session> {
        let now = now();
        let user_agent = validate::new_session(&session, now)?;
        let mut st = self.lock();
        st.tenant(tenant)?;
        st.user(tenant, session.user_id)?;
        if st.sessions.values().any(|(h, _)| *h == session.token_hash) {
            return Err(Error::AlreadyExists { entity: "session" });
        }
        let s = Session {
            id: SessionId::new(),
            tenant_id: tenant,
            user_id: session.user_id,
            created_at: now,
            last_seen_at: now,
            expires_at: to_micros(session.expires_at),
            user_agent,
        };
        st.sessions.insert(s.id, (session.token_hash, s.clone()));
        Ok(s)
    }

    async fn find_session(&self, token_hash: &[u8], now: DateTime<Utc>) -> Result<Option<Session>> {
        let now = to_micros(now);
        Ok(self
            .lock()
            .sessions
            .values()
            .find(|(h, s)| h.as_slice() == token_hash && s.expires_at > now)
            .map(|(_, s)| s.clone()))
    }

    async fn touch_session(
        &self,
        id: SessionId,
        seen_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        let mut st = self.lock();
        let (_, s) = st.sessions.get_mut(&id).ok_or(Error::not_found("session"))?;
        s.last_seen_at = to_micros(seen_at);
        s.expires_at = to_micros(expires_at);
        Ok(())
    }

    async fn delete_session(&self, token_hash: &[u8]) -> Result<bool> {
        let n = count_retain_map(&mut self.lock().sessions, |_, (h, _)| h.as_slice() != token_hash);
        Ok(n > 0)
    }

    async fn delete_user_sessions(&self, tenant: TenantId, user: UserId) -> Result<u64> {
        Ok(count_retain_map(&mut self.lock().sessions, |_, (_, s)| {
            !(s.tenant_id == tenant && s.user_id == user)
        }))
    }

    async fn purge_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let now = to_micros(now);
        Ok(count_retain_map(&mut self.lock().sessions, |_, (_, s)| {
            s.expires_at > now
        }))
    }

    async fn create_api_token(&self, tenant: TenantId, token: NewApiToken) -> Result<ApiToken> {
        let name = validate::new_api_token(&token)?;
        let mut st = self.lock();
        st.tenant(tenant)?;
        if let Some(user) = token.user_id {
            st.user(tenant, user)?;
        }
        if st.api_tokens.values().any(|(h, _)| *h == token.token_hash) {
            return Err(Error::AlreadyExists { entity: "api token" });
        }
        let t = ApiToken {
            id: ApiTokenId::new(),
            tenant_id: tenant,
            user_id: token.user_id,
            name,
            role: token.role,
            prefix: token.prefix,
            created_at: now(),
            last_used_at: None,
            revoked_at: None,
        };
        st.api_tokens.insert(t.id, (token.token_hash, t.clone()));
        Ok(t)
    }

    async fn find_api_token(&self, token_hash: &[u8]) -> Result<Option<ApiToken>> {
        Ok(self
            .lock()
            .api_tokens
            .values()
            .find(|(h, t)| h.as_slice() == token_hash && t.revoked_at.is_none())
            .map(|(_, t)| t.clone()))
    }

    async fn touch_api_token(&self, id: ApiTokenId, used_at: DateTime<Utc>) -> Result<()> {
        let mut st = self.lock();
        let (_, t) = st.api_tokens.get_mut(&id).ok_or(Error::not_found("api token"))?;
        t.last_used_at = Some(to_micros(used_at));
        Ok(())
    }

    async fn list_api_tokens(&self, tenant: TenantId) -> Result<Vec<ApiToken>> {
        let mut out: Vec<ApiToken> = self
            .lock()
            .api_tokens
            .values()
            .filter(|(_, t)| t.tenant_id == tenant)
            .map(|(_, t)| t.clone())
            .collect();
        out.sort_by_key(|t| std::cmp::Reverse((t.created_at, t.id)));
        Ok(out)
    }

    async fn revoke_api_token(&self, tenant: TenantId, id: ApiTokenId) -> Result<ApiToken> {
        let mut st = self.lock();
        let (_, t) = st
            .api_tokens
            .get_mut(&id)
            .filter(|(_, t)| t.tenant_id == tenant)
            .ok_or(Error::not_found("api token"))?;
        if t.revoked_at.is_none() {
            t.revoked_at = Some(now());
        }
        Ok(t.clone())
    }

    async fn update_phone_line(
        &self,
        tenant: TenantId,
        id: PhoneLineId,
        update: PhoneLineUpdate,
    ) -> Result<PhoneLine> {
        validate::phone_line_update(&update)?;
        let mut st = self.lock();
        let line = st
            .lines
            .get_mut(&id)
            .filter(|l| l.tenant_id == tenant)
            .ok_or(Error::not_found("phone line"))?;
        if let Some(mode) = update.webhook_mode {
            line.webhook_mode = mode;
        }
        if let Some(number_id) = update.provider_number_id {
            line.provider_number_id = number_id;
        }
        if let Some(credentials) = update.credentials {
            line.credentials = credentials;
        }
        Ok(line.clone())
    }

    async fn remove_phone_line(&self, tenant: TenantId, id: PhoneLineId) -> Result<PhoneLine> {
        let mut st = self.lock();
        if st.lines.get(&id).is_none_or(|l| l.tenant_id != tenant) {
            return Err(Error::not_found("phone line"));
        }
        let now = now();
        for call in st.calls.values_mut().filter(|c| c.phone_line_id == Some(id)) {
            call.phone_line_id = None;
            call.updated_at = now;
        }
        st.lines.remove(&id).ok_or(Error::not_found("phone line"))
    }
}

#[async_trait]
impl PrivacyStore for InMemoryJobStore {
    async fn list_customers(&self, tenant: TenantId, page: Page) -> Result<Vec<Customer>> {
        let st = self.lock();
        let mut customers: Vec<&Customer> = st.customers.values().filter(|c| c.tenant_id == tenant).collect();
        customers.sort_by_key(|c| (c.created_at, c.id));
        Ok(customers
            .into_iter()
            .skip(page.offset as usize)
            .take(page.limit() as usize)
            .cloned()
            .collect())
    }

    async fn customer_footprint(&self, tenant: TenantId, id: CustomerId) -> Result<CustomerFootprint> {
        self.lock().footprint(tenant, id)
    }

    async fn erase_customer(&self, tenant: TenantId, id: CustomerId) -> Result<ErasureReport> {
        let mut st = self.lock();
        let fp = st.footprint(tenant, id)?;
        let customers = fp.customers.iter().copied().collect();
        let calls = fp.calls.iter().map(|c| c.id).collect();
        let jobs = fp.jobs.iter().map(|j| j.id).collect();
        Ok(st.erase(tenant, &customers, &calls, &jobs))
    }

    async fn erase_call(&self, tenant: TenantId, id: CallId) -> Result<ErasureReport> {
        let mut st = self.lock();
        st.call(tenant, id)?;
        let jobs = st
            .jobs
            .values()
            .filter(|j| j.tenant_id == tenant && j.source.is_some_and(|s| s.call_id == id))
            .map(|j| j.id)
            .collect();
        Ok(st.erase(tenant, &HashSet::new(), &HashSet::from([id]), &jobs))
    }

    async fn purge_call_artefacts(
        &self,
        tenant: TenantId,
        kind: PurgeKind,
        before: DateTime<Utc>,
        keep: &[CallId],
    ) -> Result<Vec<CallId>> {
        let before = to_micros(before);
        let mut st = self.lock();
        let expired: HashSet<CallId> = st
            .calls
            .values()
            .filter(|c| c.tenant_id == tenant && c.started_at < before && !keep.contains(&c.id))
            .map(|c| c.id)
            .collect();
        let mut purged: Vec<CallId> = match kind {
            PurgeKind::Transcript => {
                let ids: Vec<CallId> = st
                    .transcripts
                    .keys()
                    .filter(|c| expired.contains(c))
                    .copied()
                    .collect();
                st.transcripts.retain(|c, _| !expired.contains(c));
                ids
            }
            PurgeKind::Extraction => {
                let ids: Vec<CallId> = st
                    .extractions
                    .keys()
                    .filter(|c| expired.contains(c))
                    .copied()
                    .collect();
                st.extractions.retain(|c, _| !expired.contains(c));
                ids
            }
        };
        purged.sort();
        Ok(purged)
    }
}
