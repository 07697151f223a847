//! Conversions between the provider crates' types (they do not depend on each other).
//!
//! * transcribe's redacted [`Transcript`](callbook_transcribe::Transcript) → extract's
//!   [`Transcript`](callbook_extract::Transcript) (segments; turns from the caller/agent channels when the
//!   recording was dual-channel),
//! * the call and its tenant → extract's [`CallContext`] (start instant, the tenant's zone, caller id in E.164),
//! * one extracted [`Appointment`] → jobs' [`CustomerInput`] + [`NewJob`] (E.164 phone, address, schedule in
//!   UTC, money in minor units, the tenant's zone, urgency, `source = (call, index)` for idempotency).

use callbook_extract as ex;
use callbook_extract::{Appointment, CallContext};
use callbook_jobs as jobs;
use callbook_jobs::{Call, CustomerInput, JobSource, NewJob, Tenant};
use callbook_transcribe as tr;
use chrono::{TimeDelta, Utc};

/// Longest job title (the store accepts 1–200 characters).
const MAX_TITLE_CHARS: usize = 80;

/// The extractor's input from a (redacted) transcript.
pub fn transcript_for_extraction(t: &tr::Transcript) -> ex::Transcript {
    let segments = t
        .segments
        .iter()
        .map(|s| ex::Segment {
            start: s.start,
            end: s.end,
            text: s.text.clone(),
            confidence: s.confidence,
        })
        .collect();
    // One line per segment: a transcript whose segments carry speaker labels ("Agent: …", as a demo or a
    // diarising server writes them) keeps its turns; unlabelled lines still read as one caller monologue.
    let text = if t.segments.is_empty() {
        t.text.clone()
    } else {
        t.segments
            .iter()
            .map(|s| s.text.trim())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut out = ex::Transcript::new(text).with_segments(segments);
    if t.segments.iter().any(|s| s.channel.is_some()) {
        let turns = t
            .segments
            .iter()
            .map(|s| ex::Turn {
                speaker: match s.channel {
                    Some(tr::CALLER_CHANNEL) => ex::Speaker::Caller,
                    Some(tr::AGENT_CHANNEL) => ex::Speaker::Agent,
                    _ => ex::Speaker::Unknown,
                },
                text: s.text.clone(),
            })
            .collect();
        out = out.with_turns(turns);
    }
    out
}

/// The extractor's context for a call of a tenant: start instant, the tenant's zone and name, caller id.
pub fn call_context(call: &Call, tenant: &Tenant) -> CallContext {
    let mut ctx =
        CallContext::new(call.started_at, tenant.timezone.tz()).with_business(ex::BusinessProfile {
            name: tenant.name.clone(),
            ..Default::default()
        });
    if let Some(from) = &call.from {
        ctx = ctx.with_caller_id(from.as_str());
    }
    ctx
}

/// Jobs' urgency from extract's.
pub fn urgency(u: ex::Urgency) -> jobs::Urgency {
    match u {
        ex::Urgency::Emergency => jobs::Urgency::Emergency,
        ex::Urgency::Urgent => jobs::Urgency::Urgent,
        ex::Urgency::Normal => jobs::Urgency::Normal,
        ex::Urgency::Flexible => jobs::Urgency::Flexible,
    }
}

/// Jobs' address from extract's (an empty `line1` becomes `None`).
pub fn address(a: &ex::Address) -> jobs::Address {
    let line1 = a.line1.trim();
    jobs::Address {
        line1: (!line1.is_empty()).then(|| line1.to_owned()),
        line2: a.line2.clone(),
        city: a.city.clone(),
        region: a.region.clone(),
        postal_code: a.postal_code.clone(),
        country: a.country.clone(),
    }
}

/// Jobs' money from extract's price (minor units kept as they are, currency upper-cased).
pub fn money(p: &ex::Price) -> jobs::Money {
    jobs::Money::new(p.amount.0, p.currency.to_ascii_uppercase())
}

/// The booking input for appointment number `index` of `call`: who (name, E.164 phone — the stated one when it
/// parses, else the caller id — and address) and the job (title from the description, schedule in UTC with
/// `default_visit` as the length when only a start was said, price, urgency, the tenant's zone).
pub fn booking_input(
    call: &Call,
    tenant: &Tenant,
    index: usize,
    appointment: &Appointment,
    default_visit: TimeDelta,
) -> (CustomerInput, NewJob) {
    let phone = appointment
        .customer_phone
        .as_ref()
        .and_then(|f| jobs::PhoneNumber::parse(&f.value).ok())
        .or_else(|| call.from.clone());
    let addr = appointment
        .service_address
        .as_ref()
        .map(|f| address(&f.value))
        .unwrap_or_default();
    let customer = CustomerInput {
        name: appointment
            .customer_name
            .as_ref()
            .map(|f| f.value.trim().to_owned())
            .filter(|n| !n.is_empty()),
        phone,
        address: addr.clone(),
        source_call: Some(call.id),
    };
    let description = appointment
        .job_description
        .as_ref()
        .map(|f| f.value.trim().to_owned())
        .unwrap_or_default();
    let title = if description.is_empty() {
        "Service request".to_owned()
    } else {
        description.chars().take(MAX_TITLE_CHARS).collect()
    };
    let (start, end) = match appointment.when.as_ref().map(|w| &w.value) {
        Some(when) if !when.ambiguous => match (when.start, when.end) {
            (Some(s), Some(e)) if e > s => (Some(s.with_timezone(&Utc)), Some(e.with_timezone(&Utc))),
            (Some(s), _) => {
                let s = s.with_timezone(&Utc);
                (Some(s), Some(s + default_visit))
            }
            _ => (None, None),
        },
        _ => (None, None),
    };
    let mut job = NewJob::titled(title);
    job.source = Some(JobSource {
        call_id: call.id,
        appointment_index: i32::try_from(index).unwrap_or(i32::MAX),
    });
    job.description = description;
    job.address = addr;
    job.scheduled_start = start;
    job.scheduled_end = end;
    job.timezone = Some(tenant.timezone);
    job.price = appointment.price.as_ref().map(|f| money(&f.value));
    job.urgency = appointment
        .urgency
        .as_ref()
        .map(|f| urgency(f.value))
        .unwrap_or(jobs::Urgency::Normal);
    job.notes = appointment.notes.as_ref().map(|f| f.value.clone());
    (customer, job)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_keeps_minor_units_and_upper_cases_the_currency() {
        let price = ex::Price {
            amount: ex::Money(8950),
            currency: "usd".into(),
            kind: ex::PriceKind::Quote,
        };
        assert_eq!(money(&price), jobs::Money::new(8950, "USD"));
    }

    #[test]
    fn address_drops_an_empty_first_line() {
        let a = ex::Address {
            line1: "  ".into(),
            city: Some("Yonkers".into()),
            ..Default::default()
        };
        let mapped = address(&a);
        assert_eq!(mapped.line1, None);
        assert_eq!(mapped.city.as_deref(), Some("Yonkers"));
    }

    #[test]
    fn urgency_maps_every_level() {
        assert_eq!(urgency(ex::Urgency::Emergency), jobs::Urgency::Emergency);
        assert_eq!(urgency(ex::Urgency::Urgent), jobs::Urgency::Urgent);
        assert_eq!(urgency(ex::Urgency::Normal), jobs::Urgency::Normal);
        assert_eq!(urgency(ex::Urgency::Flexible), jobs::Urgency::Flexible);
    }

    #[test]
    fn labelled_mono_segments_keep_their_speakers() {
        // A demo or diarising server labels speakers in the text; joined with spaces they would read as one
        // long agent turn and the call as empty.
        let seg = |text: &str| tr::Segment {
            text: text.into(),
            ..Default::default()
        };
        let t = tr::Transcript {
            text: "Agent: Rivera Plumbing. Caller: Hi, this is Maria.".into(),
            segments: vec![seg("Agent: Rivera Plumbing."), seg("Caller: Hi, this is Maria.")],
            ..Default::default()
        };
        let turns = transcript_for_extraction(&t).turns();
        let speakers: Vec<_> = turns.iter().map(|t| t.speaker).collect();
        assert_eq!(speakers, vec![ex::Speaker::Agent, ex::Speaker::Caller]);
        assert_eq!(turns[1].text, "Hi, this is Maria.");
        // Unlabelled segments still make one turn.
        let plain = tr::Transcript {
            text: "I need a plumber. Tomorrow at 3.".into(),
            segments: vec![seg("I need a plumber."), seg("Tomorrow at 3.")],
            ..Default::default()
        };
        let turns = transcript_for_extraction(&plain).turns();
        assert_eq!(turns.len(), 1);
        assert_eq!(turns[0].text, "I need a plumber. Tomorrow at 3.");
    }

    #[test]
    fn dual_channel_segments_become_caller_and_agent_turns() {
        let seg = |channel, text: &str| tr::Segment {
            start: 0.0,
            end: 1.0,
            text: text.into(),
            channel,
            ..Default::default()
        };
        let t = tr::Transcript {
            text: "Hello. Hi.".into(),
            segments: vec![
                seg(Some(tr::AGENT_CHANNEL), "Hello."),
                seg(Some(tr::CALLER_CHANNEL), "Hi."),
            ],
            ..Default::default()
        };
        let out = transcript_for_extraction(&t);
        assert_eq!(out.text, "Hello.\nHi.");
        assert_eq!(out.segments.len(), 2);
        let speakers: Vec<_> = out.turns.iter().map(|t| t.speaker).collect();
        assert_eq!(speakers, vec![ex::Speaker::Agent, ex::Speaker::Caller]);

        let mono = tr::Transcript {
            text: "Hi.".into(),
            segments: vec![seg(None, "Hi.")],
            ..Default::default()
        };
        assert!(
            transcript_for_extraction(&mono).turns.is_empty(),
            "labels are left to the extractor"
        );
    }
}
