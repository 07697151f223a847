//! Extraction quality from people's corrections (confidence calibration), and usage counters.
//!
//! [`calibrate`] counts, per (extractor, field), how many values the extractor produced and how many of those a
//! person corrected. The raw rate `corrected / extracted` is noisy for rare fields, so the error rate used is
//! smoothed with a Beta prior of mean [`PRIOR_ERROR_RATE`] and weight [`PRIOR_WEIGHT`] (as if that many
//! fields had been seen at the prior rate): `(corrected + PRIOR_ERROR_RATE · PRIOR_WEIGHT) / (extracted +
//! PRIOR_WEIGHT)`. The adjusted confidence of a field is `raw × (1 − smoothed error rate)`; with no
//! corrections at all it is `raw × 0.9 · n/(n+w)`-ish, never above the raw value.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use callbook_jobs::{Correction, Page, UsageTotal};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::ApiState;
use super::auth::Principal;
use super::calls::{APPOINTMENT_FIELDS, parse_field_path};
use super::problem::{ApiError, ApiResult, Problem};

/// The prior error rate of an extracted field before any correction is seen.
pub const PRIOR_ERROR_RATE: f64 = 0.1;
/// How many observations the prior is worth.
pub const PRIOR_WEIGHT: f64 = 10.0;

/// One extraction and the corrections made to it, the input of [`calibrate`].
#[derive(Debug, Clone, Copy)]
pub struct CorrectedExtraction<'a> {
    /// The extractor's name (`rules`, `openai`).
    pub extractor: &'a str,
    /// The extraction document (DESIGN.md §5 shape).
    pub document: &'a Value,
    /// The call's corrections.
    pub corrections: &'a [Correction],
}

/// Calibration numbers of one (extractor, field).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FieldQuality {
    /// The extractor.
    pub extractor: String,
    /// The field (`customer_name`, `when` …, or `call_kind` for the call as a whole).
    pub field: String,
    /// Values the extractor produced.
    pub extracted: u64,
    /// Of those, how many a person corrected (each field of each appointment at most once).
    pub corrected: u64,
    /// Fields the extractor left empty that a person filled in (not part of the rate).
    pub missed: u64,
    /// `corrected / extracted` (0 when nothing was extracted).
    pub correction_rate: f64,
    /// The Beta-smoothed error rate.
    pub smoothed_error_rate: f64,
    /// The mean confidence the extractor gave these values.
    pub mean_raw_confidence: f64,
    /// `mean_raw_confidence × (1 − smoothed_error_rate)`.
    pub adjusted_confidence: f64,
}

/// The smoothed error rate for `corrected` of `extracted`.
pub fn smoothed_error_rate(corrected: u64, extracted: u64) -> f64 {
    (corrected as f64 + PRIOR_ERROR_RATE * PRIOR_WEIGHT) / (extracted as f64 + PRIOR_WEIGHT)
}

/// A raw confidence adjusted by a field's smoothed error rate.
pub fn adjusted_confidence(raw: f64, smoothed_error_rate: f64) -> f64 {
    (raw.clamp(0.0, 1.0) * (1.0 - smoothed_error_rate.clamp(0.0, 1.0))).clamp(0.0, 1.0)
}

#[derive(Default)]
struct Tally {
    extracted: u64,
    corrected: u64,
    missed: u64,
    confidence_sum: f64,
}

/// Per-(extractor, field) correction rates and adjusted confidences, ordered by extractor then field.
pub fn calibrate(extractions: &[CorrectedExtraction<'_>]) -> Vec<FieldQuality> {
    let mut tallies: BTreeMap<(String, String), Tally> = BTreeMap::new();
    for e in extractions {
        let corrected: BTreeSet<(usize, &str)> = e
            .corrections
            .iter()
            .filter_map(|c| parse_field_path(&c.field))
            .collect();
        let appointments = e
            .document
            .get("appointments")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for (index, appointment) in appointments.iter().enumerate() {
            for field in APPOINTMENT_FIELDS {
                let tally = tallies
                    .entry((e.extractor.to_owned(), field.to_owned()))
                    .or_default();
                let was_corrected = corrected.contains(&(index, field));
                match appointment.get(field).filter(|v| !v.is_null()) {
                    Some(value) => {
                        tally.extracted += 1;
                        tally.confidence_sum +=
                            value.get("confidence").and_then(Value::as_f64).unwrap_or(0.0);
                        if was_corrected {
                            tally.corrected += 1;
                        }
                    }
                    None if was_corrected => tally.missed += 1,
                    None => {}
                }
            }
        }
        // The call as a whole: was it really an appointment call?
        let tally = tallies
            .entry((e.extractor.to_owned(), "call_kind".to_owned()))
            .or_default();
        tally.extracted += 1;
        tally.confidence_sum += e
            .document
            .get("confidence")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        if e.corrections.iter().any(|c| c.field == "call_kind") {
            tally.corrected += 1;
        }
    }
    tallies
        .into_iter()
        .filter(|(_, t)| t.extracted > 0 || t.missed > 0)
        .map(|((extractor, field), t)| {
            let smoothed = smoothed_error_rate(t.corrected, t.extracted);
            let mean = if t.extracted == 0 {
                0.0
            } else {
                t.confidence_sum / t.extracted as f64
            };
            FieldQuality {
                extractor,
                field,
                extracted: t.extracted,
                corrected: t.corrected,
                missed: t.missed,
                correction_rate: if t.extracted == 0 {
                    0.0
                } else {
                    t.corrected as f64 / t.extracted as f64
                },
                smoothed_error_rate: smoothed,
                mean_raw_confidence: mean,
                adjusted_confidence: adjusted_confidence(mean, smoothed),
            }
        })
        .collect()
}

/// Query of `GET /quality`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QualityQuery {
    /// How many of the most recent calls to look at (1–2000, default 500).
    pub calls: Option<u32>,
}

/// Calibration over the tenant's recent calls.
#[derive(Debug, Serialize, ToSchema)]
pub struct QualityReport {
    /// Calls looked at.
    pub calls_examined: u64,
    /// Of those, calls with an extraction.
    pub extractions: u64,
    /// `PRIOR_ERROR_RATE` and `PRIOR_WEIGHT` used for smoothing.
    pub prior_error_rate: f64,
    /// See `prior_error_rate`.
    pub prior_weight: f64,
    /// Per (extractor, field).
    pub fields: Vec<FieldQuality>,
}

/// Correction rates and adjusted confidences per extractor and field, over the most recent calls.
#[utoipa::path(get, path = "/quality", tag = "corrections", params(QualityQuery), security(("bearer" = [])),
    responses((status = 200, body = QualityReport), (status = 401, body = Problem)))]
pub async fn get_quality(
    State(state): State<ApiState>,
    principal: Principal,
    query: Result<Query<QualityQuery>, QueryRejection>,
) -> ApiResult<Json<QualityReport>> {
    let Query(query) = query?;
    let wanted = query.calls.unwrap_or(500).clamp(1, 2000);
    let tenant = principal.tenant;
    let mut loaded = Vec::new();
    let mut examined = 0u64;
    let mut offset = 0;
    while offset < wanted {
        let limit = (wanted - offset).min(500);
        let calls = state
            .store
            .list_calls(tenant, None, Page { offset, limit })
            .await?;
        let n = calls.len() as u32;
        for call in calls {
            examined += 1;
            if let Some(extraction) = state.store.get_extraction(tenant, call.id).await? {
                let corrections = state.store.list_corrections(tenant, call.id).await?;
                loaded.push((extraction, corrections));
            }
        }
        if n < limit {
            break;
        }
        offset += n;
    }
    let inputs: Vec<CorrectedExtraction<'_>> = loaded
        .iter()
        .map(|(e, c)| CorrectedExtraction {
            extractor: &e.extractor,
            document: &e.document,
            corrections: c,
        })
        .collect();
    Ok(Json(QualityReport {
        calls_examined: examined,
        extractions: inputs.len() as u64,
        prior_error_rate: PRIOR_ERROR_RATE,
        prior_weight: PRIOR_WEIGHT,
        fields: calibrate(&inputs),
    }))
}

/// Query of `GET /usage`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// `YYYY-MM`; this month in the tenant's time zone when absent.
    pub period: Option<String>,
}

/// One usage counter.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageCounter {
    /// The metric (`calls`, `audio_seconds`, `storage_bytes`, `extractions`, `llm_prompt_tokens` …).
    pub metric: String,
    /// Its total for the period.
    pub total: i64,
}

/// A tenant's usage for one month.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageReport {
    /// The period (`YYYY-MM`).
    pub period: String,
    /// Counters by metric (byte order).
    pub totals: Vec<UsageCounter>,
}

fn valid_period(p: &str) -> bool {
    let b = p.as_bytes();
    b.len() == 7
        && b[4] == b'-'
        && b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit)
        && matches!(p[5..].parse::<u8>(), Ok(1..=12))
}

/// Usage counters of a month (the basis for billing).
#[utoipa::path(get, path = "/usage", tag = "usage", params(UsageQuery), security(("bearer" = [])),
    responses((status = 200, body = UsageReport), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn get_usage(
    State(state): State<ApiState>,
    principal: Principal,
    query: Result<Query<UsageQuery>, QueryRejection>,
) -> ApiResult<Json<UsageReport>> {
    let Query(query) = query?;
    let period = match query.period {
        Some(p) if valid_period(&p) => p,
        Some(_) => return Err(ApiError::invalid("period", "must be YYYY-MM")),
        None => {
            let tenant = state.store.get_tenant(principal.tenant).await?;
            callbook_pipeline::usage::period(chrono::Utc::now(), &tenant)
        }
    };
    let totals = state
        .store
        .list_usage(principal.tenant, &period)
        .await?
        .into_iter()
        // issue 8 billing: the usage report's watermarks are bookkeeping, not usage
        .filter(|u| !crate::billing::is_internal_metric(&u.metric))
        .map(|UsageTotal { metric, total }| UsageCounter { metric, total })
        .collect();
    Ok(Json(UsageReport { period, totals }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use callbook_jobs::{CallId, CorrectionId, TenantId};
    use serde_json::json;

    fn correction(field: &str) -> Correction {
        Correction {
            id: CorrectionId::new(),
            tenant_id: TenantId::new(),
            call_id: CallId::new(),
            job_id: None,
            field: field.into(),
            before: Value::Null,
            after: json!("x"),
            user_id: None,
            created_at: callbook_jobs::now(),
        }
    }

    fn doc(name_conf: f64, with_when: bool) -> Value {
        json!({
            "call_kind": "live",
            "confidence": 0.8,
            "appointments": [{
                "customer_name": {"value": "A", "confidence": name_conf, "evidence": ""},
                "when": if with_when { json!({"value": {}, "phrase": "", "confidence": 0.5, "evidence": ""}) } else { Value::Null },
            }],
            "extractor": {"name": "rules", "model": null, "version": "0"}
        })
    }

    #[test]
    fn rates_are_counted_per_extractor_and_field_and_smoothed() {
        let docs: Vec<Value> = (0..10).map(|i| doc(0.9, i % 2 == 0)).collect();
        let fix_name = [correction("appointments[0].customer_name")];
        let fix_name_twice = [
            correction("appointments[0].customer_name"),
            correction("appointments[0].customer_name"),
        ];
        let fill_when = [correction("appointments[0].when")];
        let not_appt = [correction("call_kind")];
        let mut inputs = Vec::new();
        for (i, d) in docs.iter().enumerate() {
            let corrections: &[Correction] = match i {
                0 => &fix_name,
                2 => &fix_name_twice,
                1 => &fill_when, // `when` was empty in odd documents: a miss, not a correction
                3 => &not_appt,
                _ => &[],
            };
            inputs.push(CorrectedExtraction {
                extractor: "rules",
                document: d,
                corrections,
            });
        }
        let other = doc(0.6, false);
        inputs.push(CorrectedExtraction {
            extractor: "openai",
            document: &other,
            corrections: &[],
        });
        let q = calibrate(&inputs);
        let get = |ex: &str, f: &str| q.iter().find(|r| r.extractor == ex && r.field == f).unwrap();

        let name = get("rules", "customer_name");
        assert_eq!((name.extracted, name.corrected, name.missed), (10, 2, 0));
        assert!((name.correction_rate - 0.2).abs() < 1e-12);
        // (2 + 0.1·10) / (10 + 10) = 0.15
        assert!((name.smoothed_error_rate - 0.15).abs() < 1e-12);
        assert!((name.mean_raw_confidence - 0.9).abs() < 1e-12);
        assert!((name.adjusted_confidence - 0.9 * 0.85).abs() < 1e-12);

        let when = get("rules", "when");
        assert_eq!((when.extracted, when.corrected, when.missed), (5, 0, 1));
        // No corrections: the prior alone pulls it below the raw value, by less as evidence grows.
        assert!((when.smoothed_error_rate - 1.0 / 15.0).abs() < 1e-12);

        let kind = get("rules", "call_kind");
        assert_eq!((kind.extracted, kind.corrected), (10, 1));

        let openai = get("openai", "customer_name");
        assert_eq!((openai.extracted, openai.corrected), (1, 0));
        assert!(q.iter().all(|r| r.adjusted_confidence <= r.mean_raw_confidence));
        assert!(
            q.iter().all(|r| r.field != "price"),
            "fields never extracted nor corrected are left out"
        );
    }

    #[test]
    fn periods_are_year_and_month() {
        assert!(valid_period("2026-11"));
        assert!(!valid_period("2026-13"));
        assert!(!valid_period("2026-1"));
        assert!(!valid_period("26-11-01"));
    }
}
