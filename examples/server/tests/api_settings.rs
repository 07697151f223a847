//! Settings (issue 8): the validated settings document with `ETag`/`If-Match`, the business profile, per-user
//! notification preferences, phone-line credentials sealed at rest, and call filtering in the signed
//! webhooks (block/allow lists, anonymous and failed-attestation callers, minimum recording length).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;

use std::collections::HashMap;
use std::sync::Arc;

use api_common::{Env, TOKEN};
use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use callbook_jobs::{Actor, CallState, NewPhoneLine, Page, PhoneNumber, Role, UserId, WebhookMode};
use callbook_server::api::{self, Authenticator, Principal};
use callbook_server::app::{self, AppState};
use callbook_server::config::Config;
use callbook_server::ops::Metrics;
use serde_json::json;
use tower::ServiceExt as _;

const STAFF: &str = "test-staff-token-0123456789abcdef";
const USER: &str = "test-user-token-0123456789abcdef0";

/// The admin tokens of api_common plus a staff token and a user-bound token of the first tenant.
#[derive(Debug)]
struct Tokens {
    inner: Arc<dyn Authenticator>,
    tenant: callbook_jobs::TenantId,
    user: UserId,
}

#[async_trait]
impl Authenticator for Tokens {
    async fn authenticate(&self, token: &str) -> Option<Principal> {
        let principal = |role, user| Principal {
            tenant: self.tenant,
            actor: Actor::System("test".into()),
            role,
            user,
        };
        match token {
            STAFF => Some(principal(Role::Staff, None)),
            USER => Some(principal(Role::Staff, Some(self.user))),
            _ => self.inner.authenticate(token).await,
        }
    }
}

fn with_users(env: Env) -> (Env, UserId) {
    let user = UserId::new();
    let mut state = env.state.clone();
    state.auth = Arc::new(Tokens {
        inner: state.auth.clone(),
        tenant: env.tenant.id,
        user,
    });
    let app = api::router(state.clone());
    (Env { app, state, ..env }, user)
}

async fn etag(env: &Env) -> String {
    let response = env.raw("GET", "/api/v1/settings", Some(TOKEN), None, &[]).await;
    assert_eq!(response.status(), 200);
    response.headers()["etag"].to_str().unwrap().to_owned()
}

async fn settings_are_validated_and_versioned(env: Env) {
    let (env, _) = with_users(env);
    let tag = etag(&env).await;
    let patch = json!({"filtering": {"block": ["+1900"], "min_call_seconds": 5},
        "retention": {"audio_days": 30, "transcript_days": null},
        "extraction": {"review_threshold": 0.7},
        "voice": {"greeting": "Hello from {business}", "lines": {"+14155550100": {"ai_disclosure": "A robot listens."}}}});

    // No If-Match: 428. Staff: 403. Stale: 412.
    let (status, body) = env
        .send("PATCH", "/api/v1/settings", Some(TOKEN), Some(patch.clone()), &[])
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (428, Some("precondition_required"))
    );
    let (status, _) = env
        .send(
            "PATCH",
            "/api/v1/settings",
            Some(STAFF),
            Some(patch.clone()),
            &[("if-match", &tag)],
        )
        .await;
    assert_eq!(status, 403);
    let (status, body) = env
        .send(
            "PATCH",
            "/api/v1/settings",
            Some(TOKEN),
            Some(patch.clone()),
            &[("if-match", "\"stale\"")],
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (412, Some("precondition_failed"))
    );

    // Every bad field at once, and nothing saved.
    let bad = json!({"filtering": {"block": ["+1", "555"], "min_call_seconds": 9999, "reject_anonymous": "yes"},
        "retention": {"audio_days": -3}, "extraction": {"review_threshold": 1.5}, "phone_lines": {}, "colour": 1});
    let (status, body) = env
        .send(
            "PATCH",
            "/api/v1/settings",
            Some(TOKEN),
            Some(bad),
            &[("if-match", &tag)],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["colour", "phone_lines"],
        "unknown sections are refused first"
    );
    let bad = json!({"filtering": {"block": ["+1", "555"], "min_call_seconds": 9999, "reject_anonymous": "yes"},
        "retention": {"audio_days": -3}, "extraction": {"review_threshold": 1.5}});
    let (status, body) = env
        .send(
            "PATCH",
            "/api/v1/settings",
            Some(TOKEN),
            Some(bad),
            &[("if-match", &tag)],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let mut fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "extraction.review_threshold",
            "filtering.block[1]",
            "filtering.min_call_seconds",
            "filtering.reject_anonymous",
            "retention.audio_days"
        ]
    );
    assert_eq!(etag(&env).await, tag, "nothing was saved");

    // A good patch merges and changes the ETag; the old one is stale now.
    let response = env
        .raw(
            "PATCH",
            "/api/v1/settings",
            Some(TOKEN),
            Some(patch.clone()),
            &[("if-match", &tag)],
        )
        .await;
    assert_eq!(response.status(), 200);
    let new_tag = response.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(new_tag, tag);
    let (_, doc) = env.get("/api/v1/settings").await;
    assert_eq!(doc["filtering"]["block"], json!(["+1900"]));
    assert_eq!(doc["retention"]["audio_days"], 30);
    assert!(
        doc["retention"].get("transcript_days").is_none(),
        "null removes (RFC 7396)"
    );
    assert_eq!(doc["extraction"]["review_threshold"], 0.7);
    assert_eq!(
        doc["voice"]["lines"]["+14155550100"]["ai_disclosure"],
        "A robot listens."
    );
    let (status, _) = env
        .send(
            "PATCH",
            "/api/v1/settings",
            Some(TOKEN),
            Some(json!({"extraction": {"review_threshold": 0.2}})),
            &[("if-match", &tag)],
        )
        .await;
    assert_eq!(status, 412);
    // What the pipeline and retention read.
    let tenant = env.store.get_tenant(env.tenant.id).await.unwrap();
    assert_eq!(
        tenant.settings.pointer("/extraction/review_threshold"),
        Some(&json!(0.7))
    );
    let retention = callbook_server::retention::RetentionSettings::from_settings(&tenant.settings);
    assert_eq!(retention.audio_days, Some(30));
    // Audited.
    let (_, audit) = env.get("/api/v1/audit").await;
    assert!(audit.to_string().contains("settings.updated"));
    // Another tenant's settings are untouched.
    let other = env.store.get_tenant(env.other.id).await.unwrap();
    assert!(other.settings.get("filtering").is_none());
}

async fn profile_round_trips(env: Env) {
    let (env, _) = with_users(env);
    let tag = etag(&env).await;
    let profile = json!({"name": "Acme Plumbing & Heating", "timezone": "Europe/Paris",
        "business_hours": [{"weekday": 1, "open": "08:00:00", "close": "17:00:00"}],
        "services": ["boiler repair", "drains"], "vocabulary": ["Worcester Bosch", "Rue de Rivoli"]});
    let (status, body) = env
        .send(
            "PUT",
            "/api/v1/settings/profile",
            Some(TOKEN),
            Some(json!({"name": "", "timezone": "Mars/Olympus",
            "business_hours": [{"weekday": 9, "open": "18:00:00", "close": "08:00:00"}]})),
            &[("if-match", &tag)],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let mut fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "business_hours[0].close",
            "business_hours[0].weekday",
            "name",
            "timezone"
        ]
    );
    let (status, body) = env
        .send(
            "PUT",
            "/api/v1/settings/profile",
            Some(TOKEN),
            Some(profile.clone()),
            &[("if-match", &tag)],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, got) = env.get("/api/v1/settings/profile").await;
    assert_eq!(got, profile);
    let tenant = env.store.get_tenant(env.tenant.id).await.unwrap();
    assert_eq!(
        (tenant.name.as_str(), tenant.timezone.name()),
        ("Acme Plumbing & Heating", "Europe/Paris")
    );
    assert_eq!(
        tenant.settings["profile"]["vocabulary"],
        json!(["Worcester Bosch", "Rue de Rivoli"])
    );
    let (status, _) = env
        .send(
            "PUT",
            "/api/v1/settings/profile",
            Some(TOKEN),
            Some(profile),
            &[("if-match", &tag)],
        )
        .await;
    assert_eq!(status, 412, "the profile changed the ETag");
}

async fn notification_preferences_are_per_user(env: Env) {
    let (env, user) = with_users(env);
    let (status, body) = env
        .send("GET", "/api/v1/settings/notifications/me", Some(TOKEN), None, &[])
        .await;
    assert_eq!((status, body["code"].as_str()), (409, Some("no_user")));
    let response = env
        .raw("GET", "/api/v1/settings/notifications/me", Some(USER), None, &[])
        .await;
    let tag = response.headers()["etag"].to_str().unwrap().to_owned();
    let prefs =
        json!({"email": "ops@example.com", "channels": ["email", "in_app"], "kinds": ["job.created"]});
    let (status, body) = env
        .send(
            "PUT",
            "/api/v1/settings/notifications/me",
            Some(USER),
            Some(json!({"email": "nope", "channels": ["pigeon"], "kinds": ["job.exploded"]})),
            &[("if-match", &tag)],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"].as_array().unwrap().len(), 3, "{body}");
    let (status, body) = env
        .send(
            "PUT",
            "/api/v1/settings/notifications/me",
            Some(USER),
            Some(prefs.clone()),
            &[("if-match", &tag)],
        )
        .await;
    assert_eq!((status, &body), (200, &prefs));
    // Stored in the schema callbook-pipeline reads.
    let tenant = env.store.get_tenant(env.tenant.id).await.unwrap();
    let read = callbook_pipeline::notify::NotificationPreferences::from_settings(&tenant.settings);
    let mine = &read.users[&user];
    assert_eq!(mine.email.as_deref(), Some("ops@example.com"));
    use callbook_pipeline::notify::{Channel, EventKind};
    assert!(mine.wants(EventKind::JobCreated, Channel::Email));
    assert!(!mine.wants(EventKind::JobCreated, Channel::Live));
    assert!(!mine.wants(EventKind::CallDead, Channel::Email));
}

async fn line_credentials_are_sealed_and_never_shown(env: Env) {
    let master = Env::master_key();
    let state = env.state.clone().with_credentials_key(&master);
    let app = api::router(state.clone());
    let env = Env { app, state, ..env };
    let line = env
        .store
        .add_phone_line(
            env.tenant.id,
            NewPhoneLine {
                provider: "twilio".into(),
                number: PhoneNumber::parse("+14155550100").unwrap(),
                provider_account_id: "AC00000000000000000000000000000001".into(),
                provider_number_id: None,
                credentials: None,
                webhook_mode: WebhookMode::Record,
            },
        )
        .await
        .unwrap();
    let sid = "AC1234567890abcdef1234567890abcdef";
    let secret = "tenant-subaccount-auth-token-8c1f";
    let path = format!("/api/v1/phone-lines/{}/credentials", line.id);
    let (status, body) = env
        .send(
            "PUT",
            &path,
            Some(TOKEN),
            Some(json!({"account_sid": "nope", "auth_token": "short"})),
            &[],
        )
        .await;
    assert_eq!(
        (status, body["errors"].as_array().map(Vec::len)),
        (422, Some(2)),
        "{body}"
    );
    let (status, body) = env
        .send(
            "PUT",
            &path,
            Some(TOKEN),
            Some(json!({"account_sid": sid, "auth_token": secret})),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["credentials"], json!({"configured": true, "last4": "cdef"}));
    let (_, lines) = env.get("/api/v1/phone-lines").await;
    let text = lines.to_string();
    assert!(!text.contains(secret) && !text.contains(sid), "{text}");
    assert_eq!(lines[0]["credentials"]["configured"], true);
    // Sealed in the store: neither the token nor the SID in clear, and it opens with the master key only.
    let stored = env.store.list_phone_lines(env.tenant.id).await.unwrap()[0]
        .credentials
        .clone()
        .unwrap();
    let raw = String::from_utf8_lossy(&stored);
    assert!(!raw.contains(secret) && !raw.contains(sid), "{raw}");
    let cipher = api::lines::credentials::CredentialCipher::from_master_key(&master);
    let opened = cipher.open(env.tenant.id, line.id, &stored).unwrap();
    assert_eq!(
        (opened.account_sid.as_str(), opened.auth_token.as_str()),
        (sid, secret)
    );
    if let Some(url) = env.db_url.as_ref().filter(|u| u.starts_with("sqlite:")) {
        let bytes = std::fs::read(url.trim_start_matches("sqlite://")).unwrap();
        let needle = secret.as_bytes();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "the database file holds the token"
        );
    }
    let (status, _) = env
        .send(
            "PUT",
            &path,
            Some(STAFF),
            Some(json!({"account_sid": sid, "auth_token": secret})),
            &[],
        )
        .await;
    assert_eq!(
        status, 401,
        "staff token is unknown in this env (no users authenticator)"
    );
    let (status, body) = env.send("DELETE", &path, Some(TOKEN), None, &[]).await;
    assert_eq!(
        (status, &body["credentials"]),
        (200, &json!({"configured": false, "last4": null}))
    );
    assert!(
        env.store.list_phone_lines(env.tenant.id).await.unwrap()[0]
            .credentials
            .is_none()
    );
    let (_, audit) = env.get("/api/v1/audit").await;
    let audit = audit.to_string();
    assert!(audit.contains("phone_line.credentials_set") && audit.contains("phone_line.credentials_cleared"));
    assert!(!audit.contains(secret));
}

async fn staff_can_mark_a_caller_as_spam(env: Env) {
    let (env, _) = with_users(env);
    let (call, _) = env.seed_call("CA1").await;
    let (status, body) = env
        .send(
            "POST",
            "/api/v1/settings/filtering/block",
            Some(STAFF),
            Some(json!({"call_id": call.id})),
            &[],
        )
        .await;
    assert_eq!((status, &body), (200, &json!({"blocked": true, "added": true})));
    let (status, body) = env
        .send(
            "POST",
            "/api/v1/settings/filtering/block",
            Some(STAFF),
            Some(json!({"number": "+19145552177"})),
            &[],
        )
        .await;
    assert_eq!((status, &body["added"]), (200, &json!(false)), "idempotent");
    let (status, _) = env
        .send(
            "POST",
            "/api/v1/settings/filtering/block",
            Some(STAFF),
            Some(json!({"number": "12"})),
            &[],
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = env
        .send(
            "POST",
            "/api/v1/settings/filtering/block",
            Some(api_common::OTHER_TOKEN),
            Some(json!({"call_id": call.id})),
            &[],
        )
        .await;
    assert_eq!(status, 404, "another tenant's call");
    let tenant = env.store.get_tenant(env.tenant.id).await.unwrap();
    let filter = callbook_server::api::settings::CallFilter::from_settings(&tenant.settings);
    assert_eq!(filter.refuse(Some("+19145552177"), None), Some("blocked"));
    let (_, audit) = env.get("/api/v1/audit").await;
    assert!(audit.to_string().contains("filtering.blocked") && !audit.to_string().contains("5552177"));
}

async fn staff_see_no_billing_and_only_their_own_notification_address(env: Env) {
    let (env, user) = with_users(env);
    let other = UserId::new();
    let mut settings = env.store.get_tenant(env.tenant.id).await.unwrap().settings;
    settings["billing"] = json!({"customer_id": "cus_secret_marker", "status": "active"});
    settings["notifications"]["users"] = json!({
        user.to_string(): {"email": "me@example.com"},
        other.to_string(): {"email": "someone-else@example.com"},
    });
    env.store
        .update_tenant_settings(env.tenant.id, settings)
        .await
        .unwrap();
    let (status, admin_view) = env.get("/api/v1/settings").await;
    assert_eq!(status, 200);
    let admin_view = admin_view.to_string();
    assert!(admin_view.contains("cus_secret_marker") && admin_view.contains("someone-else@example.com"));
    let (status, staff_view) = env.send("GET", "/api/v1/settings", Some(USER), None, &[]).await;
    assert_eq!(status, 200);
    assert!(staff_view.get("billing").is_none(), "{staff_view}");
    assert_eq!(
        staff_view["notifications"]["users"],
        json!({user.to_string(): {"email": "me@example.com"}})
    );
    let (_, anonymous_staff) = env.send("GET", "/api/v1/settings", Some(STAFF), None, &[]).await;
    assert_eq!(anonymous_staff["notifications"]["users"], json!({}));
}

on_every_backend!(
    staff_see_no_billing_and_only_their_own_notification_address,
    staff_can_mark_a_caller_as_spam,
    settings_are_validated_and_versioned,
    profile_round_trips,
    notification_preferences_are_per_user,
    line_credentials_are_sealed_and_never_shown
);

// ------------------------------------------------------------------------------------ call filtering

fn signed(state: &AppState, path: &str, body: &str) -> Request<Body> {
    let url = format!("{}{path}", state.public_url);
    let params = callbook_telephony::form::FormParams::parse(body.as_bytes());
    let signature = state.verifier.sign(&url, &params);
    Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", signature)
        .body(Body::from(body.to_owned()))
        .unwrap()
}

async fn in_process() -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let env: HashMap<&str, String> = [
        ("CALLBOOK_DATA_DIR", dir.path().display().to_string()),
        ("CALLBOOK_PUBLIC_URL", "https://hooks.example.com".to_owned()),
        ("CALLBOOK_RETENTION_INTERVAL", "off".to_owned()),
    ]
    .into_iter()
    .collect();
    let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
    let built = app::build(&config, Metrics::local()).await.unwrap();
    (built.state, dir)
}

async fn post(state: &AppState, path: &str, body: &str) -> (StatusCode, String) {
    let response = app::router(state.clone())
        .oneshot(signed(state, path, body))
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn voice_body(state: &AppState, sid: &str, from: &str, stir: Option<&str>) -> String {
    let mut body = format!(
        "AccountSid={}&CallSid={sid}&From={}&To=%2B14155550100&CallStatus=ringing&Direction=inbound",
        state.account_sid,
        from.replace('+', "%2B")
    );
    if let Some(stir) = stir {
        body.push_str(&format!("&StirVerstat={stir}"));
    }
    body
}

#[tokio::test]
async fn filtered_callers_are_rejected_recorded_and_cost_nothing() {
    let (state, _dir) = in_process().await;
    let mut settings = state.store.get_tenant(state.tenant.id).await.unwrap().settings;
    settings["filtering"] = json!({"block": ["+1900"], "allow": [], "reject_anonymous": true,
        "reject_failed_attestation": true, "min_call_seconds": 4});
    state
        .store
        .update_tenant_settings(state.tenant.id, settings)
        .await
        .unwrap();

    let cases = [
        (
            "CA00000000000000000000000000000001",
            "+19005550100",
            None,
            Some("filtered:blocked"),
        ),
        (
            "CA00000000000000000000000000000002",
            "anonymous",
            None,
            Some("filtered:anonymous"),
        ),
        (
            "CA00000000000000000000000000000003",
            "+14155550123",
            Some("TN-Validation-Failed-B"),
            Some("filtered:failed_attestation"),
        ),
        (
            "CA00000000000000000000000000000004",
            "+14155550123",
            Some("TN-Validation-Passed-A"),
            None,
        ),
    ];
    for (sid, from, stir, outcome) in cases {
        let (status, xml) = post(
            &state,
            "/webhooks/twilio/voice",
            &voice_body(&state, sid, from, stir),
        )
        .await;
        assert_eq!(status, 200);
        let call = state
            .store
            .find_call_by_provider_id(state.tenant.id, "twilio", sid)
            .await
            .unwrap()
            .expect("the call is listed");
        match outcome {
            Some(outcome) => {
                assert!(xml.contains("<Reject"), "{xml}");
                assert!(!xml.contains("<Record") && !xml.contains("<Say"), "{xml}");
                assert_eq!(call.provider_status, outcome);
                assert_eq!(call.processing.state, CallState::Received);
                // A later status callback does not overwrite the outcome.
                let status_body = format!(
                    "AccountSid={}&CallSid={sid}&From=%2B1&To=%2B14155550100&CallStatus=busy&SequenceNumber=1",
                    state.account_sid
                );
                assert_eq!(post(&state, "/webhooks/twilio/status", &status_body).await.0, 204);
                let again = state.store.get_call(state.tenant.id, call.id).await.unwrap();
                assert_eq!(again.provider_status, outcome);
            }
            None => {
                assert!(xml.contains("<Record") && !xml.contains("<Reject"), "{xml}");
                assert_eq!(call.provider_status, "ringing");
            }
        }
    }

    // A recording shorter than the minimum is not stored or transcribed; a long enough one is queued.
    let recording = |call: &str, rec: &str, secs: u32| {
        format!(
            "AccountSid={}&CallSid={call}&RecordingSid={rec}&RecordingStatus=completed&RecordingDuration={secs}\
             &RecordingUrl=https%3A%2F%2Fapi.twilio.com%2Frec&RecordingChannels=1&RecordingSource=RecordVerb",
            state.account_sid
        )
    };
    let short = recording(
        "CA00000000000000000000000000000004",
        "RE00000000000000000000000000000001",
        2,
    );
    assert_eq!(post(&state, "/webhooks/twilio/recording", &short).await.0, 204);
    let call = state
        .store
        .find_call_by_provider_id(state.tenant.id, "twilio", "CA00000000000000000000000000000004")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(call.provider_status, "filtered:too_short");
    assert!(call.recording.is_none());
    assert_ne!(call.processing.state, CallState::Queued);

    let voice = voice_body(&state, "CA00000000000000000000000000000005", "+14155550124", None);
    assert_eq!(post(&state, "/webhooks/twilio/voice", &voice).await.0, 200);
    let long = recording(
        "CA00000000000000000000000000000005",
        "RE00000000000000000000000000000002",
        30,
    );
    assert_eq!(post(&state, "/webhooks/twilio/recording", &long).await.0, 204);
    let call = state
        .store
        .find_call_by_provider_id(state.tenant.id, "twilio", "CA00000000000000000000000000000005")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(call.processing.state, CallState::Queued);

    // Filtered calls show in the list and created no job.
    let calls = state
        .store
        .list_calls(state.tenant.id, None, Page::first(50))
        .await
        .unwrap();
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.provider_status.starts_with("filtered:"))
            .count(),
        4
    );
    let jobs = state
        .store
        .list_jobs(
            state.tenant.id,
            &callbook_jobs::JobFilter::default(),
            Page::first(50),
        )
        .await
        .unwrap();
    assert!(jobs.is_empty());
}

#[tokio::test]
async fn an_allow_list_lets_only_its_callers_through() {
    let (state, _dir) = in_process().await;
    let mut settings = state.store.get_tenant(state.tenant.id).await.unwrap().settings;
    settings["filtering"] = json!({"allow": ["+4420"]});
    state
        .store
        .update_tenant_settings(state.tenant.id, settings)
        .await
        .unwrap();
    let (_, xml) = post(
        &state,
        "/webhooks/twilio/voice",
        &voice_body(
            &state,
            "CA00000000000000000000000000000011",
            "+442079460000",
            None,
        ),
    )
    .await;
    assert!(xml.contains("<Record"), "{xml}");
    let (_, xml) = post(
        &state,
        "/webhooks/twilio/voice",
        &voice_body(&state, "CA00000000000000000000000000000012", "+14155550123", None),
    )
    .await;
    assert!(xml.contains("<Reject"), "{xml}");
    let call = state
        .store
        .find_call_by_provider_id(state.tenant.id, "twilio", "CA00000000000000000000000000000012")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(call.provider_status, "filtered:not_allowed");
}

// ------------------------------------------------------------------------------ transcription vocabulary

/// The demo transcriber, remembering the options of every request.
#[derive(Debug)]
struct Capturing(
    callbook_transcribe::fake::SidecarTranscriber,
    std::sync::Mutex<Vec<callbook_transcribe::TranscribeOptions>>,
);

#[async_trait]
impl callbook_transcribe::Transcriber for Capturing {
    fn provider(&self) -> &str {
        self.0.provider()
    }
    fn capabilities(&self) -> callbook_transcribe::Capabilities {
        self.0.capabilities()
    }
    async fn transcribe(
        &self,
        audio: &callbook_transcribe::AudioInput,
        options: &callbook_transcribe::TranscribeOptions,
    ) -> callbook_transcribe::Result<callbook_transcribe::Transcript> {
        self.1.lock().unwrap().push(options.clone());
        self.0.transcribe(audio, options).await
    }
}

#[tokio::test]
async fn the_worker_passes_the_tenant_vocabulary_to_the_transcriber() {
    use callbook_jobs::{InMemoryJobStore, NewCall, NewTenant, RecordingRef, TimeZone};
    let store: Arc<dyn callbook_jobs::JobStore> = Arc::new(InMemoryJobStore::new());
    let mut new = NewTenant::new("Acme", TimeZone::UTC);
    new.settings = json!({"profile": {"vocabulary": ["Worcester Bosch", "recirc pump"]}});
    let tenant = store.create_tenant(new).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let pcm: Vec<f32> = (0..8000).map(|i| ((i % 200) as f32 - 100.0) / 1000.0).collect();
    let audio = callbook_transcribe::audio::encode_wav_pcm16(&[pcm], 8000).unwrap();
    let hash = callbook_transcribe::audio::sha256_hex(&audio);
    std::fs::write(
        dir.path().join(format!("{hash}.txt")),
        "My Worcester Bosch boiler is leaking.",
    )
    .unwrap();
    let telephony = callbook_telephony::fake::FakeTelephony::new();
    let call_sid = "CA00000000000000000000000000000077";
    let info = telephony.add_completed_recording(
        &callbook_telephony::telephony::CallSid::new(call_sid),
        "audio/wav",
        audio,
        1,
        1,
    );
    let (call, _) = store
        .record_call(
            tenant.id,
            NewCall {
                provider: "twilio".into(),
                provider_call_id: call_sid.into(),
                phone_line_id: None,
                from: Some(PhoneNumber::parse("+14155550123").unwrap()),
                to: Some(PhoneNumber::parse("+14155550100").unwrap()),
                started_at: chrono::Utc::now(),
                provider_status: "completed".into(),
            },
        )
        .await
        .unwrap();
    store
        .set_recording(
            tenant.id,
            call.id,
            RecordingRef {
                provider_recording_id: info.sid.as_str().to_owned(),
                duration_seconds: Some(1),
                storage_key: None,
            },
        )
        .await
        .unwrap();
    let transcriber = Arc::new(Capturing(
        callbook_transcribe::fake::SidecarTranscriber::new().with_dir(dir.path()),
        std::sync::Mutex::new(Vec::new()),
    ));
    let recordings = Arc::new(callbook_storage::EncryptedStore::in_memory(
        callbook_storage::Keyring::new(Env::master_key()),
    ));
    let worker = callbook_pipeline::Worker::new(
        callbook_pipeline::WorkerConfig::new("test"),
        store.clone(),
        Arc::new(telephony),
        recordings,
        transcriber.clone(),
        callbook_extract::batch::extractor_from_name("rules").unwrap(),
    );
    worker.run_once(chrono::Utc::now()).await.unwrap();
    let seen = transcriber.1.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "transcribed once");
    assert_eq!(seen[0].vocabulary, ["Worcester Bosch", "recirc pump"]);
}
