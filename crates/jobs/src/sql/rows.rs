// Row types and their conversion to the domain. Compiled once per SQL dialect (see `sql/store.rs`).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;

use crate::error::{Error, Result};
use crate::ids::*;
use crate::model::*;

pub(super) fn corrupt(what: &str) -> Error {
    Error::Database {
        source: format!("stored {what} is not readable").into(),
    }
}

pub(super) fn parse<T: FromStr>(s: &str, what: &str) -> Result<T> {
    s.parse().map_err(|_| corrupt(what))
}

#[derive(sqlx::FromRow)]
pub(super) struct TenantRow {
    pub(super) id: TenantId,
    pub(super) name: String,
    pub(super) timezone: String,
    pub(super) business_hours: Json<Vec<OpeningHours>>,
    pub(super) settings: Json<Value>,
    pub(super) created_at: DateTime<Utc>,
}

impl TenantRow {
    pub(super) fn into_domain(self) -> Result<Tenant> {
        Ok(Tenant {
            id: self.id,
            name: self.name,
            timezone: TimeZone::parse(&self.timezone).map_err(|_| corrupt("timezone"))?,
            business_hours: self.business_hours.0,
            settings: self.settings.0,
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    pub(super) id: UserId,
    pub(super) tenant_id: TenantId,
    pub(super) login: String,
    pub(super) role: String,
    pub(super) password_hash: Option<String>,
    pub(super) created_at: DateTime<Utc>,
}

impl UserRow {
    pub(super) fn into_domain(self) -> Result<User> {
        Ok(User {
            id: self.id,
            tenant_id: self.tenant_id,
            login: self.login,
            role: parse(&self.role, "role")?,
            password_hash: self.password_hash,
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct PhoneLineRow {
    pub(super) id: PhoneLineId,
    pub(super) tenant_id: TenantId,
    pub(super) provider: String,
    pub(super) number: String,
    pub(super) provider_account_id: String,
    pub(super) provider_number_id: Option<String>,
    pub(super) credentials: Option<Vec<u8>>,
    pub(super) webhook_mode: String,
    pub(super) created_at: DateTime<Utc>,
}

impl PhoneLineRow {
    pub(super) fn into_domain(self) -> Result<PhoneLine> {
        Ok(PhoneLine {
            id: self.id,
            tenant_id: self.tenant_id,
            provider: self.provider,
            number: parse(&self.number, "phone number")?,
            provider_account_id: self.provider_account_id,
            provider_number_id: self.provider_number_id,
            credentials: self.credentials,
            webhook_mode: parse(&self.webhook_mode, "webhook mode")?,
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct CallRow {
    pub(super) id: CallId,
    pub(super) tenant_id: TenantId,
    pub(super) phone_line_id: Option<PhoneLineId>,
    pub(super) provider: String,
    pub(super) provider_call_id: String,
    pub(super) from_number: Option<String>,
    pub(super) to_number: Option<String>,
    pub(super) started_at: DateTime<Utc>,
    pub(super) ended_at: Option<DateTime<Utc>>,
    pub(super) provider_status: String,
    pub(super) recording_id: Option<String>,
    pub(super) recording_duration: Option<i64>,
    pub(super) recording_key: Option<String>,
    pub(super) customer_id: Option<CustomerId>,
    pub(super) state: String,
    pub(super) step: Option<String>,
    pub(super) checkpoint: Option<Json<Value>>,
    pub(super) attempts: i32,
    pub(super) next_attempt_at: Option<DateTime<Utc>>,
    pub(super) lease_owner: Option<String>,
    pub(super) lease_until: Option<DateTime<Utc>>,
    pub(super) last_error: Option<String>,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
}

impl CallRow {
    pub(super) fn into_domain(self) -> Result<Call> {
        Ok(Call {
            id: self.id,
            tenant_id: self.tenant_id,
            phone_line_id: self.phone_line_id,
            provider: self.provider,
            provider_call_id: self.provider_call_id,
            from: self.from_number.map(|p| parse(&p, "phone number")).transpose()?,
            to: self.to_number.map(|p| parse(&p, "phone number")).transpose()?,
            started_at: self.started_at,
            ended_at: self.ended_at,
            provider_status: self.provider_status,
            recording: self.recording_id.map(|id| RecordingRef {
                provider_recording_id: id,
                duration_seconds: self.recording_duration,
                storage_key: self.recording_key,
            }),
            customer_id: self.customer_id,
            processing: Processing {
                state: parse(&self.state, "call state")?,
                step: self.step,
                checkpoint: self.checkpoint.map(|j| j.0),
                attempts: self.attempts,
                next_attempt_at: self.next_attempt_at,
                lease_owner: self.lease_owner,
                lease_until: self.lease_until,
                last_error: self.last_error,
            },
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct TranscriptRow {
    pub(super) call_id: CallId,
    pub(super) tenant_id: TenantId,
    pub(super) document: Json<Value>,
    pub(super) language: Option<String>,
    pub(super) confidence: Option<f64>,
    pub(super) provider: String,
    pub(super) model: Option<String>,
    pub(super) created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(super) struct ExtractionRow {
    pub(super) call_id: CallId,
    pub(super) tenant_id: TenantId,
    pub(super) document: Json<Value>,
    pub(super) call_kind: String,
    pub(super) appointment_count: i32,
    pub(super) confidence: Option<f64>,
    pub(super) extractor: String,
    pub(super) model: Option<String>,
    pub(super) created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(super) struct CorrectionRow {
    pub(super) id: CorrectionId,
    pub(super) tenant_id: TenantId,
    pub(super) call_id: CallId,
    pub(super) job_id: Option<JobId>,
    pub(super) field: String,
    pub(super) before_value: Json<Value>,
    pub(super) after_value: Json<Value>,
    pub(super) user_id: Option<UserId>,
    pub(super) created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(super) struct CustomerRow {
    pub(super) id: CustomerId,
    pub(super) tenant_id: TenantId,
    pub(super) name: String,
    pub(super) phones: Json<Vec<PhoneNumber>>,
    pub(super) address: Json<Address>,
    pub(super) merged_into: Option<CustomerId>,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
}

impl CustomerRow {
    pub(super) fn into_domain(self) -> Customer {
        Customer {
            id: self.id,
            tenant_id: self.tenant_id,
            name: self.name,
            phones: self.phones.0,
            address: self.address.0,
            merged_into: self.merged_into,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SuggestionRow {
    pub(super) id: MergeSuggestionId,
    pub(super) tenant_id: TenantId,
    pub(super) customer_id: CustomerId,
    pub(super) candidate_id: CustomerId,
    pub(super) score: f64,
    pub(super) reason: Json<MatchReason>,
    pub(super) status: String,
    pub(super) created_at: DateTime<Utc>,
}

impl SuggestionRow {
    pub(super) fn into_domain(self) -> Result<MergeSuggestion> {
        Ok(MergeSuggestion {
            id: self.id,
            tenant_id: self.tenant_id,
            customer_id: self.customer_id,
            candidate_id: self.candidate_id,
            score: self.score,
            reason: self.reason.0,
            status: parse(&self.status, "suggestion status")?,
            created_at: self.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct MergeRow {
    pub(super) id: MergeId,
    pub(super) tenant_id: TenantId,
    pub(super) survivor_id: CustomerId,
    pub(super) merged_id: CustomerId,
    pub(super) actor: String,
    pub(super) created_at: DateTime<Utc>,
    pub(super) undone_at: Option<DateTime<Utc>>,
}

impl MergeRow {
    pub(super) fn into_domain(self) -> Result<CustomerMerge> {
        Ok(CustomerMerge {
            id: self.id,
            tenant_id: self.tenant_id,
            survivor_id: self.survivor_id,
            merged_id: self.merged_id,
            actor: parse(&self.actor, "actor")?,
            created_at: self.created_at,
            undone_at: self.undone_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct JobRow {
    pub(super) id: JobId,
    pub(super) tenant_id: TenantId,
    pub(super) customer_id: Option<CustomerId>,
    pub(super) source_call_id: Option<CallId>,
    pub(super) source_index: Option<i32>,
    pub(super) title: String,
    pub(super) description: String,
    pub(super) address: Json<Address>,
    pub(super) scheduled_start: Option<DateTime<Utc>>,
    pub(super) scheduled_end: Option<DateTime<Utc>>,
    pub(super) timezone: Option<String>,
    pub(super) recurrence: Option<String>,
    pub(super) price_minor: Option<i64>,
    pub(super) currency: Option<String>,
    pub(super) urgency: String,
    pub(super) notes: Option<String>,
    pub(super) stage: String,
    pub(super) position: i64,
    pub(super) version: i64,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
}

impl JobRow {
    pub(super) fn into_domain(self) -> Result<Job> {
        let schedule = match (self.scheduled_start, self.scheduled_end, self.timezone) {
            (Some(start), Some(end), Some(zone)) => Some(Schedule {
                start,
                end,
                timezone: TimeZone::parse(&zone).map_err(|_| corrupt("timezone"))?,
            }),
            _ => None,
        };
        Ok(Job {
            id: self.id,
            tenant_id: self.tenant_id,
            customer_id: self.customer_id,
            source: match (self.source_call_id, self.source_index) {
                (Some(call_id), Some(appointment_index)) => Some(JobSource {
                    call_id,
                    appointment_index,
                }),
                _ => None,
            },
            title: self.title,
            description: self.description,
            address: self.address.0,
            schedule,
            recurrence: self.recurrence,
            price: match (self.price_minor, self.currency) {
                (Some(minor), Some(currency)) => Some(Money { minor, currency }),
                _ => None,
            },
            urgency: parse(&self.urgency, "urgency")?,
            notes: self.notes,
            stage: parse(&self.stage, "stage")?,
            position: self.position,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct HistoryRow {
    pub(super) job_id: JobId,
    pub(super) from_stage: Option<String>,
    pub(super) to_stage: String,
    pub(super) actor: String,
    pub(super) at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(super) struct NoteRow {
    pub(super) id: NoteId,
    pub(super) tenant_id: TenantId,
    pub(super) job_id: JobId,
    pub(super) actor: String,
    pub(super) body: String,
    pub(super) created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(super) struct PhotoRow {
    pub(super) id: PhotoId,
    pub(super) tenant_id: TenantId,
    pub(super) job_id: JobId,
    pub(super) blob_key: String,
    pub(super) content_type: String,
    pub(super) size_bytes: i64,
    pub(super) caption: Option<String>,
    pub(super) actor: String,
    pub(super) created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
    pub(super) tenant_id: TenantId,
    pub(super) actor: String,
    pub(super) action: String,
    pub(super) entity: String,
    pub(super) entity_id: String,
    pub(super) details: Json<Value>,
    pub(super) at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(super) struct NotificationRow {
    pub(super) id: NotificationId,
    pub(super) tenant_id: TenantId,
    pub(super) user_id: Option<UserId>,
    pub(super) kind: String,
    pub(super) payload: Json<Value>,
    pub(super) created_at: DateTime<Utc>,
    pub(super) read_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
pub(super) struct SessionRow {
    pub(super) id: SessionId,
    pub(super) tenant_id: TenantId,
    pub(super) user_id: UserId,
    pub(super) created_at: DateTime<Utc>,
    pub(super) last_seen_at: DateTime<Utc>,
    pub(super) expires_at: DateTime<Utc>,
    pub(super) user_agent: Option<String>,
}

impl SessionRow {
    pub(super) fn into_domain(self) -> Session {
        Session {
            id: self.id,
            tenant_id: self.tenant_id,
            user_id: self.user_id,
            created_at: self.created_at,
            last_seen_at: self.last_seen_at,
            expires_at: self.expires_at,
            user_agent: self.user_agent,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ApiTokenRow {
    pub(super) id: ApiTokenId,
    pub(super) tenant_id: TenantId,
    pub(super) user_id: Option<UserId>,
    pub(super) name: String,
    pub(super) role: String,
    pub(super) prefix: String,
    pub(super) created_at: DateTime<Utc>,
    pub(super) last_used_at: Option<DateTime<Utc>>,
    pub(super) revoked_at: Option<DateTime<Utc>>,
}

impl ApiTokenRow {
    pub(super) fn into_domain(self) -> Result<ApiToken> {
        Ok(ApiToken {
            id: self.id,
            tenant_id: self.tenant_id,
            user_id: self.user_id,
            name: self.name,
            role: parse(&self.role, "role")?,
            prefix: self.prefix,
            created_at: self.created_at,
            last_used_at: self.last_used_at,
            revoked_at: self.revoked_at,
        })
    }
}
