//! Test support (feature `testing`): the [`Telephony`] conformance suite, written once and run against every
//! backend, and [`twilio_api::MockTwilioApi`], a local server speaking Twilio's REST API over a
//! [`FakeTelephony`].
//!
//! A backend passes the suite when [`check_all`] returns `Ok`. The suite needs some state to exist at the
//! provider (a completed recording, a call), which a [`ConformanceFixture`] describes; for the fake and for
//! the Twilio backend pointed at a `MockTwilioApi`, [`seed_fixture`] creates it.

pub mod twilio_api;

use bytes::Bytes;

use crate::Error;
use crate::fake::FakeTelephony;
use crate::telephony::{
    AudioFormat, CallSid, CallStatus, E164, HttpMethod, NumberSearch, NumberSid, PageRequest,
    PurchaseRequest, RecordingFilter, RecordingSid, RecordingStatus, Telephony, TelephonyExt, WebhookConfig,
};

/// What must exist at the provider for the suite to run.
#[derive(Debug, Clone)]
pub struct ConformanceFixture {
    /// A call the provider knows.
    pub call_sid: CallSid,
    /// A completed recording of that call.
    pub recording_sid: RecordingSid,
    /// The recording's exact audio.
    pub recording_audio: Bytes,
    /// A second completed recording of the same call, which the suite deletes.
    pub deletable_recording_sid: RecordingSid,
    /// A recording still in progress (not downloadable yet).
    pub in_progress_recording_sid: RecordingSid,
    /// Area code with at least three local numbers on offer (US).
    pub area_code: u16,
}

/// Creates the fixture's state in a fake (shared with any `MockTwilioApi` serving it).
pub fn seed_fixture(fake: &FakeTelephony) -> ConformanceFixture {
    let call_sid = CallSid::new(fake.mint_sid("CA"));
    fake.add_call(crate::telephony::CallInfo {
        sid: call_sid.clone(),
        account_sid: fake.account_sid(),
        from: "+14155551234".into(),
        to: "+14155550100".into(),
        status: CallStatus::Completed,
        direction: "inbound".into(),
        started_at: Some(chrono::Utc::now()),
        ended_at: Some(chrono::Utc::now()),
        duration_seconds: Some(15),
        parent_call_sid: None,
    });
    let audio = Bytes::from_static(b"RIFF\x2c\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x08\x00\x00\x00\x01\x00\x02\x00\x03\x00\x04\x00");
    let recording = fake.add_completed_recording(&call_sid, "audio/x-wav", audio.clone(), 12, 1);
    let deletable = fake.add_completed_recording(
        &call_sid,
        "audio/x-wav",
        Bytes::from_static(b"RIFFxxxxWAVE"),
        3,
        1,
    );
    let in_progress = fake.start_recording(&call_sid, 2, "DialVerb");
    ConformanceFixture {
        call_sid,
        recording_sid: recording.sid,
        recording_audio: audio,
        deletable_recording_sid: deletable.sid,
        in_progress_recording_sid: in_progress,
        area_code: 415,
    }
}

/// A failed conformance check: which one and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{check}: {problem}")]
pub struct ConformanceFailure {
    /// The check's name.
    pub check: &'static str,
    /// What went wrong.
    pub problem: String,
}

type Check = std::result::Result<(), ConformanceFailure>;

fn fail(check: &'static str, problem: impl Into<String>) -> ConformanceFailure {
    ConformanceFailure {
        check,
        problem: problem.into(),
    }
}

macro_rules! ensure {
    ($check:expr, $cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(fail($check, format!($($msg)+)));
        }
    };
}

fn is_not_found<T>(r: &crate::Result<T>) -> bool {
    matches!(r, Err(Error::NotFound { .. }))
}

/// Runs every check in order. Mutates provider state (buys and releases numbers, deletes one recording).
pub async fn check_all(backend: &dyn Telephony, fixture: &ConformanceFixture) -> Check {
    check_number_lifecycle(backend, fixture).await?;
    check_number_pagination(backend, fixture).await?;
    check_recordings(backend, fixture).await?;
    check_recording_deletion(backend, fixture).await?;
    check_calls(backend, fixture).await?;
    Ok(())
}

/// Search → buy (with webhooks) → fetch → configure → find → buying again fails → release → gone.
pub async fn check_number_lifecycle(backend: &dyn Telephony, fixture: &ConformanceFixture) -> Check {
    const C: &str = "number lifecycle";
    let search = NumberSearch::local("US")
        .with_area_code(fixture.area_code)
        .with_voice_enabled(true)
        .with_limit(5);
    let offers = backend
        .search_available_numbers(&search)
        .await
        .map_err(|e| fail(C, format!("search: {e}")))?;
    ensure!(
        C,
        !offers.is_empty(),
        "no numbers on offer in area code {}",
        fixture.area_code
    );
    let prefix = format!("+1{}", fixture.area_code);
    ensure!(
        C,
        offers
            .iter()
            .all(|o| o.phone_number.as_str().starts_with(&prefix)),
        "search ignored the area code"
    );
    ensure!(
        C,
        offers.iter().all(|o| o.capabilities.voice),
        "search ignored voice_enabled"
    );
    ensure!(C, offers.len() <= 5, "search ignored the limit");

    let webhooks = WebhookConfig::callbook("https://hooks.example.com");
    let request = PurchaseRequest::new(offers[0].phone_number.clone())
        .with_friendly_name("Conformance line")
        .with_webhooks(webhooks.clone());
    let owned = backend
        .purchase_number(&request)
        .await
        .map_err(|e| fail(C, format!("purchase: {e}")))?;
    ensure!(
        C,
        owned.phone_number == offers[0].phone_number,
        "bought a different number"
    );
    ensure!(
        C,
        owned.friendly_name == "Conformance line",
        "friendly name not kept: {:?}",
        owned.friendly_name
    );
    ensure!(
        C,
        owned.webhooks.voice_url == webhooks.voice_url,
        "voice URL not configured at purchase"
    );
    ensure!(
        C,
        owned.webhooks.status_callback == webhooks.status_callback,
        "status callback not configured"
    );

    let again = backend
        .purchase_number(&PurchaseRequest::new(owned.phone_number.clone()))
        .await;
    ensure!(
        C,
        matches!(again, Err(Error::NumberUnavailable { .. })),
        "buying an owned number: {again:?}"
    );

    let fetched = backend
        .fetch_number(&owned.sid)
        .await
        .map_err(|e| fail(C, format!("fetch: {e}")))?;
    ensure!(
        C,
        fetched.sid == owned.sid && fetched.phone_number == owned.phone_number,
        "fetch returned another number"
    );

    let mut changed = WebhookConfig::callbook("https://new.example.com");
    changed.voice_fallback_url = Some("https://new.example.com/fallback".into());
    changed.voice_fallback_method = HttpMethod::Get;
    changed.status_callback = None;
    let configured = backend
        .configure_number(&owned.sid, &changed)
        .await
        .map_err(|e| fail(C, format!("configure: {e}")))?;
    ensure!(
        C,
        configured.webhooks == changed,
        "configure: got {:?}, wanted {:?}",
        configured.webhooks,
        changed
    );
    let refetched = backend
        .fetch_number(&owned.sid)
        .await
        .map_err(|e| fail(C, format!("refetch: {e}")))?;
    ensure!(C, refetched.webhooks == changed, "configuration did not persist");

    let found = backend
        .find_owned_number(&owned.phone_number)
        .await
        .map_err(|e| fail(C, format!("find: {e}")))?;
    ensure!(
        C,
        found.map(|n| n.sid) == Some(owned.sid.clone()),
        "bought number missing from the listing"
    );

    backend
        .release_number(&owned.sid)
        .await
        .map_err(|e| fail(C, format!("release: {e}")))?;
    ensure!(
        C,
        is_not_found(&backend.fetch_number(&owned.sid).await),
        "released number still fetchable"
    );
    ensure!(
        C,
        is_not_found(&backend.release_number(&owned.sid).await),
        "second release is not NotFound"
    );
    let bogus = NumberSid::new("PN0000000000000000000000000000dead");
    ensure!(
        C,
        is_not_found(&backend.configure_number(&bogus, &changed).await),
        "configuring a missing number"
    );
    Ok(())
}

/// Listing pages one item at a time returns every owned number exactly once.
pub async fn check_number_pagination(backend: &dyn Telephony, fixture: &ConformanceFixture) -> Check {
    const C: &str = "number pagination";
    let offers = backend
        .search_available_numbers(
            &NumberSearch::local("US")
                .with_area_code(fixture.area_code)
                .with_limit(3),
        )
        .await
        .map_err(|e| fail(C, format!("search: {e}")))?;
    ensure!(
        C,
        offers.len() == 3,
        "need three numbers on offer, got {}",
        offers.len()
    );
    let mut bought = Vec::new();
    for offer in &offers {
        let n = backend
            .purchase_number(&PurchaseRequest::new(offer.phone_number.clone()))
            .await;
        bought.push(n.map_err(|e| fail(C, format!("purchase: {e}")))?.sid);
    }
    let mut seen: Vec<NumberSid> = Vec::new();
    let mut request = PageRequest::first(1);
    let mut pages = 0;
    loop {
        let page = backend
            .list_numbers(&request)
            .await
            .map_err(|e| fail(C, format!("list: {e}")))?;
        ensure!(
            C,
            page.items.len() <= 1,
            "page size 1 returned {} items",
            page.items.len()
        );
        seen.extend(page.items.into_iter().map(|n| n.sid));
        pages += 1;
        ensure!(C, pages < 1000, "pagination does not terminate");
        match page.next {
            Some(t) => request = PageRequest::after(t),
            None => break,
        }
    }
    for sid in &bought {
        ensure!(
            C,
            seen.iter().filter(|s| *s == sid).count() == 1,
            "{sid} listed {} times",
            seen.iter().filter(|s| *s == sid).count()
        );
    }
    for sid in &bought {
        backend
            .release_number(sid)
            .await
            .map_err(|e| fail(C, format!("release: {e}")))?;
    }
    Ok(())
}

/// Metadata, listing and media of a completed recording; an in-progress one is not downloadable.
pub async fn check_recordings(backend: &dyn Telephony, fixture: &ConformanceFixture) -> Check {
    const C: &str = "recordings";
    let info = backend
        .fetch_recording(&fixture.recording_sid)
        .await
        .map_err(|e| fail(C, format!("fetch: {e}")))?;
    ensure!(C, info.sid == fixture.recording_sid, "wrong sid");
    ensure!(C, info.call_sid == fixture.call_sid, "wrong call");
    ensure!(
        C,
        info.status == RecordingStatus::Completed,
        "status {:?}",
        info.status
    );
    ensure!(
        C,
        info.duration_seconds == Some(12),
        "duration {:?}",
        info.duration_seconds
    );
    ensure!(C, info.channels == 1, "channels {}", info.channels);

    let media = backend
        .download_recording(&fixture.recording_sid, AudioFormat::Wav)
        .await
        .map_err(|e| fail(C, format!("download: {e}")))?;
    ensure!(
        C,
        media.bytes == fixture.recording_audio,
        "downloaded audio differs ({} bytes)",
        media.bytes.len()
    );
    ensure!(
        C,
        media.content_type.contains("wav"),
        "content type {}",
        media.content_type
    );

    let pending = backend
        .download_recording(&fixture.in_progress_recording_sid, AudioFormat::Wav)
        .await;
    ensure!(
        C,
        is_not_found(&pending),
        "in-progress recording downloadable: {pending:?}"
    );
    let pending_info = backend.fetch_recording(&fixture.in_progress_recording_sid).await;
    ensure!(
        C,
        matches!(&pending_info, Ok(i) if i.status == RecordingStatus::InProgress && i.duration_seconds.is_none() && i.channels == 2),
        "in-progress metadata: {pending_info:?}"
    );

    let filter = RecordingFilter {
        call_sid: Some(fixture.call_sid.clone()),
        ..RecordingFilter::default()
    };
    let listed = backend
        .list_all_recordings(&filter)
        .await
        .map_err(|e| fail(C, format!("list: {e}")))?;
    ensure!(
        C,
        listed.iter().any(|r| r.sid == fixture.recording_sid),
        "recording missing from its call's listing"
    );
    ensure!(
        C,
        listed.iter().all(|r| r.call_sid == fixture.call_sid),
        "listing ignored the call filter"
    );
    let mut sids: Vec<_> = listed.iter().map(|r| r.sid.clone()).collect();
    sids.sort();
    sids.dedup();
    ensure!(C, sids.len() == listed.len(), "listing repeats recordings");
    let since = RecordingFilter {
        created_on_or_after: Some(chrono::Utc::now() + chrono::Duration::days(2)),
        ..RecordingFilter::default()
    };
    let future = backend
        .list_all_recordings(&since)
        .await
        .map_err(|e| fail(C, format!("list since: {e}")))?;
    ensure!(
        C,
        future.is_empty(),
        "date filter ignored: {} recordings created in the future",
        future.len()
    );

    let bogus = RecordingSid::new("RE0000000000000000000000000000dead");
    ensure!(
        C,
        is_not_found(&backend.fetch_recording(&bogus).await),
        "missing recording metadata"
    );
    ensure!(
        C,
        is_not_found(&backend.download_recording(&bogus, AudioFormat::Wav).await),
        "missing recording media"
    );
    Ok(())
}

/// Deleting a recording removes metadata and media; deleting again is `NotFound`.
pub async fn check_recording_deletion(backend: &dyn Telephony, fixture: &ConformanceFixture) -> Check {
    const C: &str = "recording deletion";
    let sid = &fixture.deletable_recording_sid;
    backend
        .download_recording(sid, AudioFormat::Wav)
        .await
        .map_err(|e| fail(C, format!("download before delete: {e}")))?;
    backend
        .delete_recording(sid)
        .await
        .map_err(|e| fail(C, format!("delete: {e}")))?;
    ensure!(
        C,
        is_not_found(&backend.fetch_recording(sid).await),
        "deleted recording still has metadata"
    );
    ensure!(
        C,
        is_not_found(&backend.download_recording(sid, AudioFormat::Wav).await),
        "deleted recording still downloadable"
    );
    ensure!(
        C,
        is_not_found(&backend.delete_recording(sid).await),
        "second delete is not NotFound"
    );
    Ok(())
}

/// Fetching a known call and a missing one.
pub async fn check_calls(backend: &dyn Telephony, fixture: &ConformanceFixture) -> Check {
    const C: &str = "calls";
    let call = backend
        .fetch_call(&fixture.call_sid)
        .await
        .map_err(|e| fail(C, format!("fetch: {e}")))?;
    ensure!(C, call.sid == fixture.call_sid, "wrong call");
    ensure!(
        C,
        call.status == CallStatus::Completed,
        "status {:?}",
        call.status
    );
    ensure!(
        C,
        call.duration_seconds == Some(15),
        "duration {:?}",
        call.duration_seconds
    );
    ensure!(
        C,
        call.from == "+14155551234" && call.to == "+14155550100",
        "from/to not kept"
    );
    ensure!(C, call.from.parse::<E164>().is_ok(), "from is not E.164");
    let bogus = CallSid::new("CA0000000000000000000000000000dead");
    ensure!(C, is_not_found(&backend.fetch_call(&bogus).await), "missing call");
    Ok(())
}
