//! [`MockTwilioApi`]: a local HTTP server that speaks Twilio's REST API (2010-04-01) over a
//! [`FakeTelephony`].
//!
//! It answers in Twilio's real wire shapes — numeric fields as strings (`"duration": "4"`,
//! `"price": "-0.00250"`, string latitude/longitude), upper-case `SMS`/`MMS` capability keys on available
//! numbers and lower-case on owned ones, unset URLs as `""` or `null`, RFC 2822 dates, relative
//! `next_page_uri` with a `PageToken`, Twilio's error body `{code, message, more_info, status}` — and enforces
//! Basic auth. Pointing the Twilio backend at it runs the real client against the fake's semantics; a
//! simulator pointing a server at it lets that server download simulated recordings.
//!
//! Faults can be queued ([`MockTwilioApi::push_fault`]) to answer the next requests with an HTML 502 page, a
//! 429 with `Retry-After`, or any status, so retry behaviour is tested against the same server.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::Error;
use crate::fake::FakeTelephony;
use crate::form::FormParams;
use crate::telephony::{
    AudioFormat, AvailableNumber, CallInfo, CallSid, E164, HttpMethod, NumberKind, NumberSearch, NumberSid,
    OwnedNumber, PageRequest, PageToken, PurchaseRequest, RecordingFilter, RecordingInfo, RecordingSid,
    Telephony, WebhookConfig,
};

/// A canned answer for the next request, ahead of normal handling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type` of the body.
    pub content_type: String,
    /// The body.
    pub body: String,
    /// `Retry-After` header value, if any.
    pub retry_after: Option<String>,
}

impl Fault {
    /// A load balancer's HTML 502 page (not JSON).
    pub fn html_bad_gateway() -> Self {
        Self {
            status: 502,
            content_type: "text/html".into(),
            body: "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
                .into(),
            retry_after: None,
        }
    }
    /// Twilio's 429 / 20429 with a `Retry-After`.
    pub fn rate_limited(retry_after_seconds: u32) -> Self {
        Self {
            status: 429,
            content_type: "application/json".into(),
            body: twilio_error_body(20429, "Too Many Requests", 429).to_string(),
            retry_after: Some(retry_after_seconds.to_string()),
        }
    }
}

/// One request the mock received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// Method.
    pub method: String,
    /// Path and query.
    pub path_and_query: String,
    /// Whether valid credentials were presented.
    pub authenticated: bool,
}

#[derive(Debug)]
struct MockState {
    fake: FakeTelephony,
    credentials: Mutex<Vec<(String, String)>>,
    faults: Mutex<VecDeque<Fault>>,
    log: Mutex<Vec<RecordedRequest>>,
}

/// A running mock of Twilio's REST API. Dropping it stops the server.
#[derive(Debug)]
pub struct MockTwilioApi {
    addr: SocketAddr,
    state: Arc<MockState>,
    task: JoinHandle<()>,
}

impl Drop for MockTwilioApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockTwilioApi {
    /// Serves `fake` on a free loopback port, accepting `fake.account_sid()` with `auth_token`.
    pub async fn start(fake: FakeTelephony, auth_token: &str) -> std::io::Result<Self> {
        let credentials = vec![(fake.account_sid().as_str().to_owned(), auth_token.to_owned())];
        let state = Arc::new(MockState {
            fake,
            credentials: Mutex::new(credentials),
            faults: Mutex::new(VecDeque::new()),
            log: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let app = router(state.clone());
        let task = tokio::spawn(async move {
            // The server ends when the task is aborted; an accept error just ends the mock.
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, state, task })
    }

    /// The base URL to give the Twilio backend (`http://127.0.0.1:PORT`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Also accept an API key (`SK…`) and secret as Basic credentials.
    pub fn add_api_key(&self, key_sid: &str, secret: &str) {
        lock(&self.state.credentials).push((key_sid.to_owned(), secret.to_owned()));
    }

    /// Answers the next request with `fault` (faults queue up in order).
    pub fn push_fault(&self, fault: Fault) {
        lock(&self.state.faults).push_back(fault);
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state.log).clone()
    }

    /// The fake behind the mock.
    pub fn fake(&self) -> &FakeTelephony {
        &self.state.fake
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn router(state: Arc<MockState>) -> Router {
    Router::new()
        .route(
            "/2010-04-01/Accounts/{account}/AvailablePhoneNumbers/{country}/{kind}",
            get(search),
        )
        .route(
            "/2010-04-01/Accounts/{account}/IncomingPhoneNumbers.json",
            get(list_numbers).post(buy),
        )
        .route(
            "/2010-04-01/Accounts/{account}/IncomingPhoneNumbers/{file}",
            get(fetch_number).post(update_number).delete(release_number),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Recordings.json",
            get(list_recordings),
        )
        .route(
            "/2010-04-01/Accounts/{account}/Recordings/{file}",
            get(fetch_recording).delete(delete_recording),
        )
        .route("/2010-04-01/Accounts/{account}/Calls/{file}", get(fetch_call))
        .fallback(|uri: Uri| async move {
            error_response(
                &Error::NotFound {
                    resource: uri.path().to_owned(),
                    message: String::new(),
                },
                uri.path(),
            )
        })
        .layer(axum::middleware::from_fn_with_state(state.clone(), gate))
        .with_state(state)
}

/// Logs, injects faults and checks Basic auth before any handler runs.
async fn gate(
    State(state): State<Arc<MockState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let authenticated = authorized(&state, request.headers());
    lock(&state.log).push(RecordedRequest {
        method: request.method().to_string(),
        path_and_query: request
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        authenticated,
    });
    if let Some(fault) = lock(&state.faults).pop_front() {
        let mut response = (
            StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [(header::CONTENT_TYPE, fault.content_type)],
            fault.body,
        )
            .into_response();
        if let Some(ra) = fault.retry_after.and_then(|v| v.parse().ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, ra);
        }
        return response;
    }
    if !authenticated {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"Twilio API\"")],
            axum::Json(twilio_error_body(20003, "Authenticate", 401)),
        )
            .into_response();
    }
    next.run(request).await
}

fn authorized(state: &MockState, headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(encoded) = value.strip_prefix("Basic ") else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(text) = String::from_utf8(decoded) else {
        return false;
    };
    let Some((user, pass)) = text.split_once(':') else {
        return false;
    };
    lock(&state.credentials)
        .iter()
        .any(|(u, p)| u == user && p == pass)
}

fn twilio_error_body(code: u32, message: &str, status: u16) -> Value {
    json!({"code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status})
}

fn error_response(err: &Error, path: &str) -> Response {
    let (status, code, message) = match err {
        Error::NotFound { .. } => (404, 20404, format!("The requested resource {path} was not found")),
        Error::NumberUnavailable { code, message } => (400, *code, message.clone()),
        Error::InvalidInput { code, message } => (400, code.unwrap_or(21421), message.clone()),
        other => (500, 20500, other.to_string()),
    };
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(twilio_error_body(code, &message, status)),
    )
        .into_response()
}

// Handlers short-circuit with `?` on a ready response; boxing it would only add noise.
#[allow(clippy::result_large_err)]
fn check_account(state: &MockState, account: &str, path: &str) -> std::result::Result<(), Response> {
    if state.fake.account_sid().as_str() == account {
        Ok(())
    } else {
        Err(error_response(
            &Error::NotFound {
                resource: path.into(),
                message: String::new(),
            },
            path,
        ))
    }
}

fn rfc2822(t: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    t.map_or(Value::Null, |t| Value::String(t.to_rfc2822()))
}

fn url_or_empty(url: &Option<String>, as_null: bool) -> Value {
    match url {
        Some(u) => Value::String(u.clone()),
        // Twilio sends unset URLs as "" for some fields and null for others.
        None if as_null => Value::Null,
        None => Value::String(String::new()),
    }
}

fn owned_json(n: &OwnedNumber) -> Value {
    let uri = format!(
        "/2010-04-01/Accounts/{}/IncomingPhoneNumbers/{}.json",
        n.account_sid, n.sid
    );
    json!({
        "account_sid": n.account_sid.as_str(), "address_requirements": "none", "address_sid": null,
        "api_version": "2010-04-01", "beta": false,
        "capabilities": {"voice": n.capabilities.voice, "sms": n.capabilities.sms, "mms": n.capabilities.mms, "fax": n.capabilities.fax},
        "date_created": rfc2822(n.created_at), "date_updated": rfc2822(n.created_at),
        "emergency_status": "Active", "emergency_address_sid": null, "emergency_address_status": "unregistered",
        "friendly_name": n.friendly_name, "identity_sid": null, "origin": "twilio",
        "phone_number": n.phone_number.as_str(), "sid": n.sid.as_str(),
        "sms_application_sid": "", "sms_fallback_method": "POST", "sms_fallback_url": "", "sms_method": "POST", "sms_url": "",
        "status_callback": url_or_empty(&n.webhooks.status_callback, false),
        "status_callback_method": n.webhooks.status_callback_method.as_str(),
        "trunk_sid": null, "uri": uri, "voice_application_sid": null, "voice_caller_id_lookup": false,
        "voice_fallback_method": n.webhooks.voice_fallback_method.as_str(),
        "voice_fallback_url": url_or_empty(&n.webhooks.voice_fallback_url, true),
        "voice_method": n.webhooks.voice_method.as_str(),
        "voice_url": url_or_empty(&n.webhooks.voice_url, false),
        "voice_receive_mode": "voice", "status": "in-use", "bundle_sid": null, "type": "local",
        "subresource_uris": {"assigned_add_ons": uri.replace(".json", "/AssignedAddOns.json")}
    })
}

fn available_json(n: &AvailableNumber) -> Value {
    json!({
        "friendly_name": n.friendly_name, "phone_number": n.phone_number.as_str(), "lata": "722",
        "locality": n.locality, "rate_center": n.locality.as_deref().map(str::to_uppercase),
        "latitude": "37.780000", "longitude": "-122.400000", "region": n.region, "postal_code": n.postal_code,
        "iso_country": n.iso_country, "address_requirements": n.address_requirements, "beta": false,
        "capabilities": {"voice": n.capabilities.voice, "SMS": n.capabilities.sms, "MMS": n.capabilities.mms, "fax": n.capabilities.fax}
    })
}

fn recording_json(r: &RecordingInfo) -> Value {
    let uri = format!("/2010-04-01/Accounts/{}/Recordings/{}.json", r.account_sid, r.sid);
    json!({
        "account_sid": r.account_sid.as_str(), "api_version": "2010-04-01", "call_sid": r.call_sid.as_str(),
        "conference_sid": null, "date_created": rfc2822(r.created_at), "date_updated": rfc2822(r.created_at),
        "start_time": rfc2822(r.started_at),
        "duration": r.duration_seconds.map_or("-1".to_owned(), |d| d.to_string()),
        "sid": r.sid.as_str(), "price": "-0.00250", "price_unit": "USD", "status": r.status.as_str(),
        "channels": r.channels, "source": r.source, "error_code": r.error_code, "track": "both",
        "encryption_details": null, "uri": uri,
        "media_url": format!("https://api.twilio.com/2010-04-01/Accounts/{}/Recordings/{}", r.account_sid, r.sid),
        "subresource_uris": {"add_on_results": uri.replace(".json", "/AddOnResults.json"), "transcriptions": uri.replace(".json", "/Transcriptions.json")}
    })
}

fn call_json(c: &CallInfo) -> Value {
    json!({
        "sid": c.sid.as_str(), "account_sid": c.account_sid.as_str(), "parent_call_sid": c.parent_call_sid.as_ref().map(CallSid::as_str),
        "to": c.to, "to_formatted": c.to, "from": c.from, "from_formatted": c.from, "phone_number_sid": null,
        "status": c.status.as_str(), "start_time": rfc2822(c.started_at), "end_time": rfc2822(c.ended_at),
        "duration": c.duration_seconds.map(|d| d.to_string()), "price": null, "price_unit": "USD",
        "direction": c.direction, "answered_by": null, "api_version": "2010-04-01", "forwarded_from": null,
        "group_sid": null, "caller_name": null, "queue_time": "0", "trunk_sid": null,
        "date_created": rfc2822(c.started_at), "date_updated": rfc2822(c.ended_at.or(c.started_at)),
        "uri": format!("/2010-04-01/Accounts/{}/Calls/{}.json", c.account_sid, c.sid),
        "subresource_uris": {}
    })
}

/// Splits `PN123.json` into (`PN123`, `json`).
fn split_file(file: &str) -> (&str, &str) {
    file.rsplit_once('.').unwrap_or((file, ""))
}

fn page_request(q: &FormParams, max: u32) -> PageRequest {
    let size = q
        .get("PageSize")
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(50)
        .clamp(1, max);
    match q
        .get("PageToken")
        .and_then(|t| t.strip_prefix("PA"))
        .and_then(|o| o.parse::<usize>().ok())
    {
        Some(offset) => PageRequest::after(PageToken::new(format!("{offset}:{size}"))),
        None => PageRequest::first(size),
    }
}

/// Twilio's list envelope; `next` is the fake's `offset:size` token turned into `PageToken=PA<offset>`.
fn list_envelope(
    key: &str,
    path: &str,
    items: Vec<Value>,
    q: &FormParams,
    next: Option<PageToken>,
    extra_query: &str,
) -> Value {
    let size = q
        .get("PageSize")
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(50);
    let page = q.get("Page").and_then(|s| s.parse::<u32>().ok()).unwrap_or(0);
    let next_uri = next.and_then(|t| {
        let offset = t.as_str().split(':').next()?.to_owned();
        Some(format!(
            "{path}?{extra_query}PageSize={size}&Page={}&PageToken=PA{offset}",
            page + 1
        ))
    });
    let count = items.len();
    json!({
        key: items, "uri": format!("{path}?{extra_query}PageSize={size}&Page={page}"),
        "first_page_uri": format!("{path}?{extra_query}PageSize={size}&Page=0"),
        "next_page_uri": next_uri, "previous_page_uri": null,
        "page": page, "page_size": size, "start": 0, "end": count.saturating_sub(1)
    })
}

type Handler = std::result::Result<Response, Response>;

async fn search(
    State(s): State<Arc<MockState>>,
    Path((account, country, kind)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    uri: Uri,
) -> Handler {
    check_account(&s, &account, uri.path())?;
    let q = FormParams::parse(query.unwrap_or_default().as_bytes());
    let kind = match kind.as_str() {
        "Local.json" => NumberKind::Local,
        "TollFree.json" => NumberKind::TollFree,
        "Mobile.json" => NumberKind::Mobile,
        _ => {
            return Err(error_response(
                &Error::NotFound {
                    resource: kind,
                    message: String::new(),
                },
                uri.path(),
            ));
        }
    };
    if kind != NumberKind::Local && q.get("AreaCode").is_some() {
        return Err(error_response(
            &Error::InvalidInput {
                code: Some(21457),
                message: "AreaCode parameter not supported".into(),
            },
            uri.path(),
        ));
    }
    let mut search = NumberSearch {
        country: country.clone(),
        kind,
        ..NumberSearch::default()
    };
    search.area_code = match q.get("AreaCode") {
        Some(a) => Some(a.parse().map_err(|_| {
            error_response(
                &Error::InvalidInput {
                    code: Some(21451),
                    message: "Invalid area code".into(),
                },
                uri.path(),
            )
        })?),
        None => None,
    };
    search.contains = q.get("Contains").map(str::to_owned);
    search.voice_enabled = q.get("VoiceEnabled").map(|v| v == "true");
    search.sms_enabled = q.get("SmsEnabled").map(|v| v == "true");
    search.in_postal_code = q.get("InPostalCode").map(str::to_owned);
    search.in_region = q.get("InRegion").map(str::to_owned);
    search.in_locality = q.get("InLocality").map(str::to_owned);
    search.exclude_all_address_required = q.get("ExcludeAllAddressRequired") == Some("true");
    search.limit = q.get("PageSize").and_then(|p| p.parse().ok());
    let found = s
        .fake
        .search_available_numbers(&search)
        .await
        .map_err(|e| error_response(&e, uri.path()))?;
    Ok(axum::Json(json!({
        "uri": uri.path_and_query().map(|p| p.to_string()),
        "available_phone_numbers": found.iter().map(available_json).collect::<Vec<_>>()
    }))
    .into_response())
}

fn webhooks_from_form(form: &FormParams, current: &WebhookConfig) -> WebhookConfig {
    // Twilio updates only the fields sent; an empty string clears a URL.
    let url = |name: &str, old: &Option<String>| match form.get(name) {
        Some("") => None,
        Some(v) => Some(v.to_owned()),
        None => old.clone(),
    };
    let method = |name: &str, old: HttpMethod| match form.get(name) {
        Some(m) if m.eq_ignore_ascii_case("GET") => HttpMethod::Get,
        Some(m) if m.eq_ignore_ascii_case("POST") => HttpMethod::Post,
        _ => old,
    };
    let mut w = current.clone();
    w.voice_url = url("VoiceUrl", &current.voice_url);
    w.voice_method = method("VoiceMethod", current.voice_method);
    w.voice_fallback_url = url("VoiceFallbackUrl", &current.voice_fallback_url);
    w.voice_fallback_method = method("VoiceFallbackMethod", current.voice_fallback_method);
    w.status_callback = url("StatusCallback", &current.status_callback);
    w.status_callback_method = method("StatusCallbackMethod", current.status_callback_method);
    w
}

async fn buy(State(s): State<Arc<MockState>>, Path(account): Path<String>, uri: Uri, body: Bytes) -> Handler {
    check_account(&s, &account, uri.path())?;
    let form = FormParams::parse(&body);
    let number: E164 = match (form.get("PhoneNumber"), form.get("AreaCode")) {
        (Some(n), _) => n.parse().map_err(|_| {
            error_response(
                &Error::InvalidInput {
                    code: Some(21421),
                    message: "PhoneNumber is invalid".into(),
                },
                uri.path(),
            )
        })?,
        (None, Some(area)) => {
            let search = NumberSearch::local("US")
                .with_area_code(area.parse().unwrap_or(0))
                .with_limit(1);
            let found = s
                .fake
                .search_available_numbers(&search)
                .await
                .map_err(|e| error_response(&e, uri.path()))?;
            found.into_iter().next().map(|n| n.phone_number).ok_or_else(|| {
                error_response(
                    &Error::NumberUnavailable {
                        code: 21452,
                        message: "No phone numbers found in area code".into(),
                    },
                    uri.path(),
                )
            })?
        }
        (None, None) => {
            return Err(error_response(
                &Error::InvalidInput {
                    code: Some(21421),
                    message: "A 'PhoneNumber' or 'AreaCode' is required".into(),
                },
                uri.path(),
            ));
        }
    };
    let mut request =
        PurchaseRequest::new(number).with_webhooks(webhooks_from_form(&form, &WebhookConfig::default()));
    request.friendly_name = form.get("FriendlyName").map(str::to_owned);
    let owned = s
        .fake
        .purchase_number(&request)
        .await
        .map_err(|e| error_response(&e, uri.path()))?;
    Ok((StatusCode::CREATED, axum::Json(owned_json(&owned))).into_response())
}

async fn list_numbers(
    State(s): State<Arc<MockState>>,
    Path(account): Path<String>,
    RawQuery(query): RawQuery,
    uri: Uri,
) -> Handler {
    check_account(&s, &account, uri.path())?;
    let q = FormParams::parse(query.unwrap_or_default().as_bytes());
    let all = crate::telephony::TelephonyExt::list_all_numbers(&s.fake)
        .await
        .map_err(|e| error_response(&e, uri.path()))?;
    let filtered: Vec<OwnedNumber> = all
        .into_iter()
        .filter(|n| q.get("PhoneNumber").is_none_or(|p| n.phone_number.as_str() == p))
        .filter(|n| q.get("FriendlyName").is_none_or(|f| n.friendly_name == f))
        .collect();
    let request = page_request(&q, 1000);
    let (offset, size) = offset_size(&request);
    let end = (offset + size).min(filtered.len());
    let items = filtered
        .get(offset..end)
        .unwrap_or_default()
        .iter()
        .map(owned_json)
        .collect();
    let next = (end < filtered.len()).then(|| PageToken::new(format!("{end}:{size}")));
    let extra = q
        .get("PhoneNumber")
        .map(|p| format!("PhoneNumber={}&", encode(p)))
        .unwrap_or_default();
    Ok(axum::Json(list_envelope(
        "incoming_phone_numbers",
        uri.path(),
        items,
        &q,
        next,
        &extra,
    ))
    .into_response())
}

fn offset_size(request: &PageRequest) -> (usize, usize) {
    match &request.token {
        Some(t) => {
            let mut it = t.as_str().split(':').map(|x| x.parse::<usize>().unwrap_or(0));
            (it.next().unwrap_or(0), it.next().unwrap_or(50).max(1))
        }
        None => (0, request.page_size.unwrap_or(50) as usize),
    }
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn fetch_number(
    State(s): State<Arc<MockState>>,
    Path((account, file)): Path<(String, String)>,
    uri: Uri,
) -> Handler {
    check_account(&s, &account, uri.path())?;
    let (sid, _) = split_file(&file);
    let n = s
        .fake
        .fetch_number(&NumberSid::new(sid))
        .await
        .map_err(|e| error_response(&e, uri.path()))?;
    Ok(axum::Json(owned_json(&n)).into_response())
}

async fn update_number(
    State(s): State<Arc<MockState>>,
    Path((account, file)): Path<(String, String)>,
    uri: Uri,
    body: Bytes,
) -> Handler {
    check_account(&s, &account, uri.path())?;
    let sid = NumberSid::new(split_file(&file).0);
    let current = s
        .fake
        .fetch_number(&sid)
        .await
        .map_err(|e| error_response(&e, uri.path()))?;
    let webhooks = webhooks_from_form(&FormParams::parse(&body), &current.webhooks);
    let n = s
        .fake
        .configure_number(&sid, &webhooks)
        .await
        .map_err(|e| error_response(&e, uri.path()))?;
    Ok(axum::Json(owned_json(&n)).into_response())
}

async fn release_number(
    State(s): State<Arc<MockState>>,
    Path((account, file)): Path<(String, String)>,
    uri: Uri,
) -> Handler {
    check_account(&s, &account, uri.path())?;
    s.fake
        .release_number(&NumberSid::new(split_file(&file).0))
        .await
        .map_err(|e| error_response(&e, uri.path()))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_recordings(
    State(s): State<Arc<MockState>>,
    Path(account): Path<String>,
    RawQuery(query): RawQuery,
    uri: Uri,
) -> Handler {
    check_account(&s, &account, uri.path())?;
    let q = FormParams::parse(query.unwrap_or_default().as_bytes());
    let mut filter = RecordingFilter {
        call_sid: q.get("CallSid").map(CallSid::from),
        ..RecordingFilter::default()
    };
    if let Some(day) = q.get("DateCreated>").or(q.get("DateCreated>=")) {
        let date = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").map_err(|_| {
            error_response(
                &Error::InvalidInput {
                    code: Some(20001),
                    message: "Invalid DateCreated".into(),
                },
                uri.path(),
            )
        })?;
        filter.created_on_or_after = date.and_hms_opt(0, 0, 0).map(|d| d.and_utc());
    }
    let page = s
        .fake
        .list_recordings(&filter, &page_request(&q, 1000))
        .await
        .map_err(|e| error_response(&e, uri.path()))?;
    let mut extra = String::new();
    if let Some(c) = q.get("CallSid") {
        extra.push_str(&format!("CallSid={}&", encode(c)));
    }
    let items = page.items.iter().map(recording_json).collect();
    Ok(axum::Json(list_envelope(
        "recordings",
        uri.path(),
        items,
        &q,
        page.next,
        &extra,
    ))
    .into_response())
}

async fn fetch_recording(
    State(s): State<Arc<MockState>>,
    Path((account, file)): Path<(String, String)>,
    uri: Uri,
) -> Handler {
    check_account(&s, &account, uri.path())?;
    let (sid, ext) = split_file(&file);
    let sid = RecordingSid::new(sid);
    let format = match ext {
        "json" => {
            let r = s
                .fake
                .fetch_recording(&sid)
                .await
                .map_err(|e| error_response(&e, uri.path()))?;
            return Ok(axum::Json(recording_json(&r)).into_response());
        }
        "mp3" => AudioFormat::Mp3,
        _ => AudioFormat::Wav,
    };
    let media = s
        .fake
        .download_recording(&sid, format)
        .await
        .map_err(|e| error_response(&e, uri.path()))?;
    Ok(([(header::CONTENT_TYPE, media.content_type)], media.bytes).into_response())
}

async fn delete_recording(
    State(s): State<Arc<MockState>>,
    Path((account, file)): Path<(String, String)>,
    uri: Uri,
) -> Handler {
    check_account(&s, &account, uri.path())?;
    s.fake
        .delete_recording(&RecordingSid::new(split_file(&file).0))
        .await
        .map_err(|e| error_response(&e, uri.path()))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn fetch_call(
    State(s): State<Arc<MockState>>,
    Path((account, file)): Path<(String, String)>,
    uri: Uri,
) -> Handler {
    check_account(&s, &account, uri.path())?;
    let c = s
        .fake
        .fetch_call(&CallSid::new(split_file(&file).0))
        .await
        .map_err(|e| error_response(&e, uri.path()))?;
    Ok(axum::Json(call_json(&c)).into_response())
}
