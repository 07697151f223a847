//! Phone lines: search the provider's numbers, buy one with Callbook's webhooks already configured, re-apply
//! the webhooks, release.
//!
//! * **Buying** (`POST /phone-lines`) sends the webhook URLs **in the purchase request itself**
//!   ([`WebhookConfig::callbook`] of [`ApiState::public_url`]: voice at `{public_url}/webhooks/twilio/voice`, call
//!   status at `{public_url}/webhooks/twilio/status`, both `POST`), so the number is never live without them;
//!   then the number becomes the tenant's line (`add_phone_line`), which is how the webhooks route its calls.
//!   If the line cannot be stored, the number is released again so nobody pays for a number that routes nowhere.
//! * **Mode**: `record` answers with voicemail, `forward` rings `forward_to` with the call recorded. The webhooks
//!   read the choice from the tenant's settings, `voice.lines["+1…"].forward_to`, which this module writes (an
//!   empty `forward_to` pins a `record` line to voicemail even when the tenant forwards by default).
//! * **Releasing** (`DELETE /phone-lines/{id}`): the number is released at the provider, then the line is
//!   removed (`remove_phone_line`: calls keep their history with the line cleared) and its voice overrides are
//!   dropped; the settings keep a release marker (`phone_lines.released["<line id>"]` = when). Buying the
//!   number back makes a new line.
//! * **Roles**: buying, re-applying webhooks, releasing and setting a line's own credentials need the admin
//!   role; listing and searching numbers do not.
//! * **Credentials** (`PUT/DELETE /phone-lines/{id}/credentials`): a line's own provider account (e.g. a
//!   tenant's Twilio subaccount) is sealed with AES-256-GCM ([`credentials`]) before it reaches the job store;
//!   the API only ever says whether credentials are configured and the account SID's last 4 characters.
//! * **Errors**: a number that is gone is `409 number_unavailable`; a provider outage (5xx, timeout, connection
//!   failure) is `502 provider_unavailable`; a provider that refuses our credentials is `502 provider_error`; no
//!   telephony configured is `503 telephony_unavailable`. Provider messages are never passed on (they may
//!   quote numbers).

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use callbook_jobs::{NewPhoneLine, PhoneLine, PhoneLineId, PhoneNumber, TenantId, WebhookMode};
use callbook_telephony::telephony::{
    AvailableNumber, E164, NumberKind, NumberSearch, NumberSid, PurchaseRequest, Telephony, TelephonyExt,
    WebhookConfig,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

use super::ApiState;
use super::auth::Principal;
use super::problem::{ApiError, PROBLEM_JSON, Problem};

/// The provider name of lines bought here (the webhooks route `twilio` lines).
pub const PROVIDER: &str = "twilio";

/// Lines of this provider are markers, never shown (the server's bootstrap line, see `app::bootstrap_tenant`).
const HIDDEN_PROVIDER: &str = "callbook-bootstrap";

/// An error of the phone-line endpoints: an [`ApiError`] or a provider problem the shared constructors lack.
#[derive(Debug)]
pub enum LineError {
    /// A problem the rest of the API also produces.
    Api(Box<ApiError>),
    /// A problem of this module (`number_unavailable`, `provider_unavailable`, …).
    Problem(Box<Problem>),
}

impl LineError {
    /// A problem with its own status and code (used by the privacy endpoints too).
    pub(crate) fn new(status: StatusCode, code: &str, title: &str, detail: impl Into<String>) -> Self {
        LineError::Problem(Box::new(Problem {
            type_uri: format!("urn:callbook:problem:{code}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_owned(),
            errors: Vec::new(),
            current_version: None,
        }))
    }

    /// `503 telephony_unavailable`: the server has no telephony provider.
    pub fn no_telephony() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "telephony_unavailable",
            "Telephony unavailable",
            "no telephony provider is configured on this server",
        )
    }

    /// `409 number_unavailable`.
    pub fn number_unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "number_unavailable",
            "Number unavailable",
            detail,
        )
    }

    /// The problem of a provider error, by kind (never the provider's message, which may quote numbers).
    pub fn from_provider(error: &callbook_telephony::Error) -> Self {
        use callbook_telephony::Error as E;
        match error {
            E::NumberUnavailable { .. } => {
                Self::number_unavailable("the number is no longer available; search again")
            }
            E::InvalidInput { .. } => {
                ApiError::invalid("phone_number", "the provider rejected the request").into()
            }
            E::NotFound { .. } => Self::new(
                StatusCode::CONFLICT,
                "not_at_provider",
                "Not at the provider",
                "the provider account does not own this number (any more)",
            ),
            E::Unavailable { .. }
            | E::Timeout
            | E::Transport { .. }
            | E::RateLimited { .. }
            | E::Decode { .. } => Self::provider_unavailable(),
            E::Provider { status, .. } if *status >= 500 => Self::provider_unavailable(),
            _ => {
                tracing::error!(
                    kind = provider_kind(error),
                    "telephony provider refused a request"
                );
                Self::new(
                    StatusCode::BAD_GATEWAY,
                    "provider_error",
                    "Provider error",
                    "the telephony provider refused the request; check the server's provider credentials",
                )
            }
        }
    }

    fn provider_unavailable() -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            "provider_unavailable",
            "Provider unavailable",
            "the telephony provider is unavailable; try again shortly",
        )
    }
}

fn provider_kind(error: &callbook_telephony::Error) -> &'static str {
    use callbook_telephony::Error as E;
    match error {
        E::Unauthenticated { .. } => "unauthenticated",
        E::Forbidden { .. } => "forbidden",
        E::Config(_) => "config",
        _ => "provider",
    }
}

impl From<ApiError> for LineError {
    fn from(e: ApiError) -> Self {
        LineError::Api(Box::new(e))
    }
}

impl From<callbook_jobs::Error> for LineError {
    fn from(e: callbook_jobs::Error) -> Self {
        ApiError::from(e).into()
    }
}

impl From<JsonRejection> for LineError {
    fn from(e: JsonRejection) -> Self {
        ApiError::from(e).into()
    }
}

impl From<QueryRejection> for LineError {
    fn from(e: QueryRejection) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for LineError {
    fn into_response(self) -> Response {
        match self {
            LineError::Api(e) => e.into_response(),
            LineError::Problem(p) => {
                let p = *p;
                let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let mut response = (status, Json(p)).into_response();
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
                response
            }
        }
    }
}

type LineResult<T> = Result<T, LineError>;

/// How a line answers calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LineMode {
    /// Greeting, then voicemail (`<Record>`).
    Record,
    /// Greeting, then ring `forward_to` with the call recorded (`<Dial record>`).
    Forward,
}

/// A phone line of the tenant.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LineView {
    /// Line id.
    pub id: String,
    /// The number (E.164).
    pub phone_number: String,
    /// Provider (`twilio`).
    pub provider: String,
    /// The provider's id of the number (`PN…`), when known.
    pub provider_number_id: Option<String>,
    /// How calls are answered.
    pub mode: LineMode,
    /// Where `forward` lines ring.
    pub forward_to: Option<String>,
    /// When the line was added.
    #[schema(value_type = String)]
    pub created_at: DateTime<Utc>,
    /// The webhooks configured at the provider by this request (purchase and reconfigure only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<WebhooksView>,
    /// Whether the line has its own provider credentials (never the credentials themselves).
    pub credentials: CredentialsView,
}

/// What the API says about a line's stored provider credentials.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CredentialsView {
    /// Credentials are stored (encrypted).
    pub configured: bool,
    /// The last 4 characters of the account SID, to tell accounts apart.
    pub last4: Option<String>,
}

/// Webhook URLs set at the provider.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhooksView {
    /// Asked for TwiML when a call arrives (`POST`).
    pub voice_url: Option<String>,
    /// Told about call status changes (`POST`).
    pub status_callback: Option<String>,
}

impl WebhooksView {
    fn of(config: &WebhookConfig) -> Self {
        Self {
            voice_url: config.voice_url.clone(),
            status_callback: config.status_callback.clone(),
        }
    }
}

/// A number that can be bought.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AvailableView {
    /// The number (E.164).
    pub phone_number: String,
    /// The provider's display form.
    pub friendly_name: String,
    /// City, when known.
    pub locality: Option<String>,
    /// State or province, when known.
    pub region: Option<String>,
    /// Postal code, when known.
    pub postal_code: Option<String>,
    /// ISO country.
    pub iso_country: String,
    /// Whether an address must be on file (`none`, `any`, `local`, `foreign`).
    pub address_requirements: String,
    /// Takes voice calls.
    pub voice: bool,
    /// Takes SMS.
    pub sms: bool,
}

impl From<AvailableNumber> for AvailableView {
    fn from(n: AvailableNumber) -> Self {
        Self {
            phone_number: n.phone_number.as_str().to_owned(),
            friendly_name: n.friendly_name,
            locality: n.locality,
            region: n.region,
            postal_code: n.postal_code,
            iso_country: n.iso_country,
            address_requirements: n.address_requirements,
            voice: n.capabilities.voice,
            sms: n.capabilities.sms,
        }
    }
}

/// Query of `GET /phone-lines/available`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AvailableQuery {
    /// ISO 3166-1 alpha-2 country (default `US`).
    pub country: Option<String>,
    /// Area code (US/CA).
    pub area_code: Option<u16>,
    /// Digits (or letters) the number must contain; `*` is one character.
    pub contains: Option<String>,
    /// `local` (default), `toll_free` or `mobile`.
    pub kind: Option<String>,
    /// At most this many results (1–50, default 20).
    pub limit: Option<u32>,
}

/// Body of `POST /phone-lines`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuyLine {
    /// The number to buy, from `GET /phone-lines/available` (E.164).
    pub phone_number: String,
    /// `record` (default) or `forward`.
    pub mode: Option<LineMode>,
    /// Where a `forward` line rings (E.164); required for `forward`, refused for `record`.
    pub forward_to: Option<String>,
}

fn telephony(state: &ApiState) -> LineResult<&Arc<dyn Telephony>> {
    state.telephony.as_ref().ok_or_else(LineError::no_telephony)
}

/// The webhooks of this server, or `503` when it has no absolute public URL to give the provider.
fn webhooks(state: &ApiState) -> LineResult<WebhookConfig> {
    if !state.public_url.starts_with("http://") && !state.public_url.starts_with("https://") {
        return Err(LineError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "public_url_missing",
            "Public URL missing",
            "set CALLBOOK_PUBLIC_URL so the provider knows where to send webhooks",
        ));
    }
    Ok(WebhookConfig::callbook(&state.public_url))
}

fn released(settings: &Value, id: PhoneLineId) -> bool {
    !settings["phone_lines"]["released"][id.to_string()].is_null()
}

fn view(line: &PhoneLine, settings: &Value, webhooks: Option<&WebhookConfig>) -> LineView {
    let forward_to = settings["voice"]["lines"][line.number.as_str()]["forward_to"]
        .as_str()
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned);
    LineView {
        id: line.id.to_string(),
        phone_number: line.number.as_str().to_owned(),
        provider: line.provider.clone(),
        provider_number_id: line.provider_number_id.clone(),
        mode: if forward_to.is_some() {
            LineMode::Forward
        } else {
            LineMode::Record
        },
        forward_to,
        created_at: line.created_at,
        webhooks: webhooks.map(WebhooksView::of),
        credentials: CredentialsView {
            configured: line.credentials.is_some(),
            last4: line
                .credentials
                .as_deref()
                .and_then(credentials::last4_of_sealed)
                .map(str::to_owned),
        },
    }
}

/// The tenant's visible line `id` (not another tenant's, not a marker, not released) and its settings.
async fn find_line(state: &ApiState, tenant: TenantId, id: &str) -> LineResult<(PhoneLine, Value)> {
    let id: PhoneLineId = id.parse().map_err(|_| ApiError::not_found("phone line"))?;
    let settings = state.store.get_tenant(tenant).await?.settings;
    let line = state
        .store
        .list_phone_lines(tenant)
        .await?
        .into_iter()
        .find(|l| l.id == id && l.provider != HIDDEN_PROVIDER && !released(&settings, l.id))
        .ok_or_else(|| ApiError::not_found("phone line"))?;
    Ok((line, settings))
}

/// Releases a line's number at the provider; a number the account no longer owns counts as released.
async fn release_at_provider(
    telephony: &dyn callbook_telephony::telephony::Telephony,
    line: &PhoneLine,
) -> LineResult<()> {
    let mut candidates = vec![line.clone()];
    if line.provider_number_id.is_some() {
        // A stale stored id (the number was bought back under a new one) falls back to a lookup by number.
        candidates.push(PhoneLine {
            provider_number_id: None,
            ..line.clone()
        });
    }
    for candidate in &candidates {
        match number_sid(telephony, candidate).await {
            Ok(sid) => match telephony.release_number(&sid).await {
                Ok(()) => break,
                Err(callbook_telephony::Error::NotFound { .. }) => continue,
                Err(e) => return Err(LineError::from_provider(&e)),
            },
            // Not owned any more: nothing to release.
            Err(LineError::Problem(p)) if p.code == "not_at_provider" => break,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Releases every bought number of a tenant at the provider (tenant erasure: a deleted business must not keep
/// paying for numbers that still ring into Callbook). Lines of other providers (the bootstrap marker) and a
/// server without telephony are skipped. A provider failure stops here, before anything is deleted.
pub(crate) async fn release_all_lines(state: &ApiState, tenant: TenantId) -> LineResult<()> {
    let Some(telephony) = state.telephony.as_ref() else {
        return Ok(());
    };
    for line in state.store.list_phone_lines(tenant).await? {
        if line.provider == crate::app::PROVIDER {
            release_at_provider(telephony.as_ref(), &line).await?;
        }
    }
    Ok(())
}

/// The provider's id of a line's number: stored, else looked up by number (lines registered on first sight).
async fn number_sid(telephony: &dyn Telephony, line: &PhoneLine) -> LineResult<NumberSid> {
    if let Some(sid) = &line.provider_number_id {
        return Ok(NumberSid::new(sid.clone()));
    }
    let number: E164 = line.number.as_str().parse().map_err(|_| ApiError::internal())?;
    match telephony.find_owned_number(&number).await {
        Ok(Some(owned)) => Ok(owned.sid),
        Ok(None) => Err(LineError::new(
            StatusCode::CONFLICT,
            "not_at_provider",
            "Not at the provider",
            "the provider account does not own this number (any more)",
        )),
        Err(e) => Err(LineError::from_provider(&e)),
    }
}

/// Writes the line's answer mode where the voice webhook reads it; `released` marks or clears the release.
fn apply_settings(
    mut settings: Value,
    line: &PhoneLine,
    forward_to: Option<&str>,
    released_at: Option<DateTime<Utc>>,
) -> Value {
    if !settings.is_object() {
        settings = json!({});
    }
    if !settings["voice"].is_object() {
        settings["voice"] = json!({});
    }
    if !settings["voice"]["lines"].is_object() {
        settings["voice"]["lines"] = json!({});
    }
    let entry = &mut settings["voice"]["lines"][line.number.as_str()];
    if !entry.is_object() {
        *entry = json!({});
    }
    entry["forward_to"] = json!(forward_to.unwrap_or(""));
    if !settings["phone_lines"].is_object() {
        settings["phone_lines"] = json!({});
    }
    if !settings["phone_lines"]["released"].is_object() {
        settings["phone_lines"]["released"] = json!({});
    }
    let key = line.id.to_string();
    match released_at {
        Some(at) => settings["phone_lines"]["released"][key] = json!(at.to_rfc3339()),
        None => {
            if let Some(map) = settings["phone_lines"]["released"].as_object_mut() {
                map.remove(&key);
            }
        }
    }
    settings
}

/// Lists the tenant's phone lines, ordered by number.
#[utoipa::path(get, path = "/phone-lines", tag = "phone-lines", security(("bearer" = [])),
    responses((status = 200, body = Vec<LineView>), (status = 401, body = Problem)))]
pub async fn list_lines(
    State(state): State<ApiState>,
    principal: Principal,
) -> LineResult<Json<Vec<LineView>>> {
    let settings = state.store.get_tenant(principal.tenant).await?.settings;
    let lines = state.store.list_phone_lines(principal.tenant).await?;
    Ok(Json(
        lines
            .iter()
            .filter(|l| l.provider != HIDDEN_PROVIDER && !released(&settings, l.id))
            .map(|l| view(l, &settings, None))
            .collect(),
    ))
}

/// Searches numbers that can be bought.
#[utoipa::path(get, path = "/phone-lines/available", tag = "phone-lines", params(AvailableQuery),
    security(("bearer" = [])),
    responses((status = 200, body = Vec<AvailableView>), (status = 401, body = Problem),
        (status = 422, body = Problem), (status = 502, body = Problem), (status = 503, body = Problem)))]
pub async fn available_numbers(
    State(state): State<ApiState>,
    _principal: Principal,
    query: Result<Query<AvailableQuery>, QueryRejection>,
) -> LineResult<Json<Vec<AvailableView>>> {
    let Query(query) = query?;
    let telephony = telephony(&state)?;
    let country = query
        .country
        .as_deref()
        .unwrap_or("US")
        .trim()
        .to_ascii_uppercase();
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(ApiError::invalid("country", "an ISO 3166-1 alpha-2 code such as US").into());
    }
    let mut search = NumberSearch::local(country).with_voice_enabled(true);
    search.kind = match query.kind.as_deref().unwrap_or("local") {
        "local" => NumberKind::Local,
        "toll_free" => NumberKind::TollFree,
        "mobile" => NumberKind::Mobile,
        _ => return Err(ApiError::invalid("kind", "local, toll_free or mobile").into()),
    };
    if let Some(area) = query.area_code {
        if !(200..=999).contains(&area) {
            return Err(ApiError::invalid("area_code", "three digits").into());
        }
        search = search.with_area_code(area);
    }
    if let Some(contains) = query.contains.filter(|c| !c.trim().is_empty()) {
        let ok = contains.len() <= 16 && contains.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'*');
        if !ok {
            return Err(ApiError::invalid("contains", "up to 16 digits, letters or `*`").into());
        }
        search = search.with_contains(contains);
    }
    search = search.with_limit(query.limit.unwrap_or(20).clamp(1, 50));
    let found = telephony
        .search_available_numbers(&search)
        .await
        .map_err(|e| LineError::from_provider(&e))?;
    Ok(Json(found.into_iter().map(AvailableView::from).collect()))
}

/// Buys a number with this server's webhooks configured in the same request, and makes it the tenant's line.
#[utoipa::path(post, path = "/phone-lines", tag = "phone-lines", request_body = BuyLine, security(("bearer" = [])),
    responses((status = 201, body = LineView), (status = 401, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem), (status = 502, body = Problem), (status = 503, body = Problem)))]
pub async fn buy_line(
    State(state): State<ApiState>,
    principal: Principal,
    body: Result<Json<BuyLine>, JsonRejection>,
) -> LineResult<(StatusCode, Json<LineView>)> {
    principal.require(callbook_jobs::Role::Admin)?;
    let Json(body) = body?;
    let number = PhoneNumber::parse(body.phone_number.trim())
        .map_err(|_| ApiError::invalid("phone_number", "an E.164 number such as +14155550100"))?;
    let e164: E164 = number
        .as_str()
        .parse()
        .map_err(|_| ApiError::invalid("phone_number", "an E.164 number such as +14155550100"))?;
    let mode = body.mode.unwrap_or(LineMode::Record);
    let forward_to = match (mode, body.forward_to.as_deref().map(str::trim)) {
        (LineMode::Forward, Some(to)) => Some(
            PhoneNumber::parse(to)
                .map_err(|_| ApiError::invalid("forward_to", "an E.164 number such as +14155550199"))?,
        ),
        (LineMode::Forward, None) => {
            return Err(ApiError::invalid("forward_to", "required when mode is forward").into());
        }
        (LineMode::Record, Some(_)) => {
            return Err(ApiError::invalid("forward_to", "only for mode forward").into());
        }
        (LineMode::Record, None) => None,
    };
    let telephony = telephony(&state)?;
    let webhooks = webhooks(&state)?;

    // A number already routed somewhere is not bought again (the same tenant may buy back a released line).
    let tenant = state.store.get_tenant(principal.tenant).await?;
    let existing = state.store.route_phone_line(PROVIDER, &number).await?;
    if let Some(line) = &existing
        && (line.tenant_id != principal.tenant || !released(&tenant.settings, line.id))
    {
        return Err(LineError::number_unavailable("the number is already in use"));
    }

    let request = PurchaseRequest::new(e164).with_webhooks(webhooks.clone());
    let owned = telephony
        .purchase_number(&request)
        .await
        .map_err(|e| LineError::from_provider(&e))?;
    let line = match existing {
        Some(line) => line,
        None => {
            let new = NewPhoneLine {
                provider: PROVIDER.to_owned(),
                number: number.clone(),
                provider_account_id: owned.account_sid.as_str().to_owned(),
                provider_number_id: Some(owned.sid.as_str().to_owned()),
                credentials: None,
                webhook_mode: match mode {
                    LineMode::Record => WebhookMode::Record,
                    LineMode::Forward => WebhookMode::DialRecord,
                },
            };
            match state.store.add_phone_line(principal.tenant, new).await {
                Ok(line) => line,
                Err(e) => {
                    // Do not keep paying for a number that routes nowhere.
                    if telephony.release_number(&owned.sid).await.is_err() {
                        tracing::error!(tenant = %principal.tenant, "bought a number but could neither store nor release it");
                    }
                    return Err(match e {
                        callbook_jobs::Error::AlreadyExists { .. } => {
                            LineError::number_unavailable("the number is already in use")
                        }
                        e => e.into(),
                    });
                }
            }
        }
    };
    // A line bought back keeps its row, so the provider's id is the one stored (a new purchase has a new
    // sid only at providers that mint one per purchase; reconfigure looks it up by number when it differs).
    let settings = apply_settings(
        tenant.settings,
        &line,
        forward_to.as_ref().map(PhoneNumber::as_str),
        None,
    );
    let tenant = state
        .store
        .update_tenant_settings(principal.tenant, settings)
        .await?;
    tracing::info!(tenant = %principal.tenant, line = %line.id, "phone line bought");
    let mut out = view(&line, &tenant.settings, Some(&owned.webhooks));
    out.provider_number_id = Some(owned.sid.as_str().to_owned());
    Ok((StatusCode::CREATED, Json(out)))
}

/// Sets the line's webhooks at the provider to this server's URLs again (e.g. after `CALLBOOK_PUBLIC_URL` changed).
#[utoipa::path(post, path = "/phone-lines/{id}/reconfigure", tag = "phone-lines", security(("bearer" = [])),
    params(("id" = String, Path, description = "Line id")),
    responses((status = 200, body = LineView), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 502, body = Problem), (status = 503, body = Problem)))]
pub async fn reconfigure_line(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
) -> LineResult<Json<LineView>> {
    principal.require(callbook_jobs::Role::Admin)?;
    let (line, settings) = find_line(&state, principal.tenant, &id).await?;
    let telephony = telephony(&state)?;
    let webhooks = webhooks(&state)?;
    let sid = number_sid(telephony.as_ref(), &line).await?;
    let owned = match telephony.configure_number(&sid, &webhooks).await {
        Ok(owned) => owned,
        // The stored id is stale (bought back under a new id): find the number by its digits.
        Err(callbook_telephony::Error::NotFound { .. }) if line.provider_number_id.is_some() => {
            let fresh = PhoneLine {
                provider_number_id: None,
                ..line.clone()
            };
            let sid = number_sid(telephony.as_ref(), &fresh).await?;
            telephony
                .configure_number(&sid, &webhooks)
                .await
                .map_err(|e| LineError::from_provider(&e))?
        }
        Err(e) => return Err(LineError::from_provider(&e)),
    };
    tracing::info!(tenant = %principal.tenant, line = %line.id, "phone line webhooks re-applied");
    let mut out = view(&line, &settings, Some(&owned.webhooks));
    out.provider_number_id = Some(owned.sid.as_str().to_owned());
    Ok(Json(out))
}

/// Releases the number at the provider and retires the line (calls already recorded on it stay).
#[utoipa::path(delete, path = "/phone-lines/{id}", tag = "phone-lines", security(("bearer" = [])),
    params(("id" = String, Path, description = "Line id")),
    responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 502, body = Problem), (status = 503, body = Problem)))]
pub async fn release_line(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
) -> LineResult<StatusCode> {
    principal.require(callbook_jobs::Role::Admin)?;
    let (line, settings) = find_line(&state, principal.tenant, &id).await?;
    let telephony = telephony(&state)?;
    release_at_provider(telephony.as_ref(), &line).await?;
    // The row goes (calls keep their history with the line cleared); the settings keep a release marker and
    // lose the line's voice overrides.
    state.store.remove_phone_line(principal.tenant, line.id).await?;
    let mut settings = apply_settings(settings, &line, None, Some(Utc::now()));
    if let Some(lines) = settings["voice"]["lines"].as_object_mut() {
        lines.remove(line.number.as_str());
    }
    state
        .store
        .update_tenant_settings(principal.tenant, settings)
        .await?;
    tracing::info!(tenant = %principal.tenant, line = %line.id, "phone line released");
    Ok(StatusCode::NO_CONTENT)
}

// ---- issue 8: provider credentials of a line, encrypted at rest
pub mod credentials {
    //! A line's own provider credentials (e.g. a tenant's Twilio subaccount SID and auth token), sealed with
    //! AES-256-GCM before they reach the job store, under a key derived from the master key with HKDF-SHA256
    //! (salt `callbook phone-line credentials`, info `aes-256-gcm v1` — distinct from every other use of the
    //! master key). The sealed form is `CBC1 ‖ last4 ‖ nonce(12) ‖ ciphertext+tag`; the tenant id, the line id
    //! and the clear header are the associated data, so a sealed value copied to another line does not open.
    //! Only the last 4 characters of the account SID are readable without the key (for the API's view).

    use std::fmt;

    use aes_gcm::aead::{Aead, KeyInit, Payload};
    use aes_gcm::{Aes256Gcm, Nonce};
    use callbook_jobs::{PhoneLineId, TenantId};
    use serde::{Deserialize, Serialize};
    use zeroize::Zeroizing;

    const MAGIC: &[u8; 4] = b"CBC1";
    const HEADER: usize = 8;
    const NONCE: usize = 12;

    /// The plaintext: what the provider needs to act for the line.
    #[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct LineCredentials {
        /// The provider account (Twilio `AC…`).
        pub account_sid: String,
        /// The account's secret (Twilio auth token).
        pub auth_token: String,
    }

    impl fmt::Debug for LineCredentials {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("LineCredentials")
                .field("account_sid", &"[redacted]")
                .field("auth_token", &"[redacted]")
                .finish()
        }
    }

    /// Seals and opens line credentials. Cheap to clone.
    #[derive(Clone)]
    pub struct CredentialCipher {
        key: Zeroizing<[u8; 32]>,
    }

    impl fmt::Debug for CredentialCipher {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("CredentialCipher([redacted])")
        }
    }

    impl CredentialCipher {
        /// The cipher of a master key (the primary key of `CALLBOOK_MASTER_KEY`).
        pub fn from_master_key(master: &callbook_storage::MasterKey) -> Self {
            let material = Zeroizing::new(master.export());
            let hk = hkdf::Hkdf::<sha2::Sha256>::new(
                Some(b"callbook phone-line credentials"),
                material.as_bytes(),
            );
            let mut key = Zeroizing::new([0u8; 32]);
            // 32 bytes is always a valid HKDF-SHA256 output length.
            let _ = hk.expand(b"aes-256-gcm v1", key.as_mut());
            Self { key }
        }

        fn aead(&self) -> Aes256Gcm {
            Aes256Gcm::new_from_slice(self.key.as_ref()).unwrap_or_else(|_| unreachable!("a 32-byte key"))
        }

        fn aad(header: &[u8], tenant: TenantId, line: PhoneLineId) -> Vec<u8> {
            let mut aad = header.to_vec();
            aad.extend_from_slice(tenant.to_string().as_bytes());
            aad.push(b'/');
            aad.extend_from_slice(line.to_string().as_bytes());
            aad
        }

        /// Seals credentials for one line of one tenant.
        pub fn seal(&self, tenant: TenantId, line: PhoneLineId, credentials: &LineCredentials) -> Vec<u8> {
            let plain = Zeroizing::new(serde_json::to_vec(credentials).unwrap_or_default());
            let mut header = MAGIC.to_vec();
            let sid: Vec<char> = credentials.account_sid.chars().collect();
            let last4: String = sid[sid.len().saturating_sub(4)..].iter().collect();
            let mut last4 = last4.into_bytes();
            last4.resize(4, b' ');
            last4.truncate(4);
            header.extend_from_slice(&last4);
            let nonce: [u8; NONCE] = rand::random();
            let aad = Self::aad(&header, tenant, line);
            let sealed = self
                .aead()
                .encrypt(
                    Nonce::from_slice(&nonce),
                    Payload {
                        msg: &plain,
                        aad: &aad,
                    },
                )
                .unwrap_or_default();
            let mut out = header;
            out.extend_from_slice(&nonce);
            out.extend_from_slice(&sealed);
            out
        }

        /// Opens what [`seal`](Self::seal) produced for the same tenant and line; `None` when it was sealed
        /// under another key or for another line, or was tampered with.
        pub fn open(&self, tenant: TenantId, line: PhoneLineId, sealed: &[u8]) -> Option<LineCredentials> {
            if sealed.len() < HEADER + NONCE + 16 || &sealed[..4] != MAGIC {
                return None;
            }
            let (header, rest) = sealed.split_at(HEADER);
            let (nonce, ciphertext) = rest.split_at(NONCE);
            let aad = Self::aad(header, tenant, line);
            let plain = Zeroizing::new(
                self.aead()
                    .decrypt(
                        Nonce::from_slice(nonce),
                        Payload {
                            msg: ciphertext,
                            aad: &aad,
                        },
                    )
                    .ok()?,
            );
            serde_json::from_slice(&plain).ok()
        }
    }

    /// The last 4 characters of the account SID kept in the clear header of a sealed value.
    pub fn last4_of_sealed(sealed: &[u8]) -> Option<&str> {
        (sealed.len() >= HEADER && &sealed[..4] == MAGIC)
            .then(|| std::str::from_utf8(&sealed[4..HEADER]).ok())
            .flatten()
            .map(str::trim_end)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn sealed_credentials_open_only_for_their_line_and_key() {
            let master = callbook_storage::MasterKey::from_bytes(Some("k1"), &mut [7u8; 32]).unwrap();
            let cipher = CredentialCipher::from_master_key(&master);
            let (t, l) = (TenantId::new(), PhoneLineId::new());
            let creds = LineCredentials {
                account_sid: "AC0123456789abcdef0123456789abcd".into(),
                auth_token: "super-secret-auth-token-value".into(),
            };
            let sealed = cipher.seal(t, l, &creds);
            let text = String::from_utf8_lossy(&sealed);
            assert!(
                !text.contains("super-secret") && !text.contains("AC0123"),
                "{text}"
            );
            assert_eq!(last4_of_sealed(&sealed), Some("abcd"));
            assert_eq!(cipher.open(t, l, &sealed), Some(creds.clone()));
            assert_eq!(cipher.open(t, PhoneLineId::new(), &sealed), None);
            assert_eq!(cipher.open(TenantId::new(), l, &sealed), None);
            let other = callbook_storage::MasterKey::from_bytes(Some("k1"), &mut [8u8; 32]).unwrap();
            assert_eq!(
                CredentialCipher::from_master_key(&other).open(t, l, &sealed),
                None
            );
            let mut tampered = sealed.clone();
            let last = tampered.len() - 1;
            tampered[last] ^= 1;
            assert_eq!(cipher.open(t, l, &tampered), None);
            // Two seals of the same value differ (fresh nonce).
            assert_ne!(cipher.seal(t, l, &creds), sealed);
            assert!(!format!("{creds:?}").contains("secret"));
        }
    }
}

/// Body of `PUT /phone-lines/{id}/credentials`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CredentialsInput {
    /// The provider account (Twilio `AC` + 32 hex).
    pub account_sid: String,
    /// The account's auth token (never returned).
    pub auth_token: String,
}

/// Stores the line's own provider credentials, encrypted (AES-256-GCM under a key derived from the master
/// key). The response says only whether credentials are configured and the SID's last 4 characters.
/// Needs the admin role.
#[utoipa::path(put, path = "/phone-lines/{id}/credentials", tag = "phone-lines", security(("bearer" = [])),
    params(("id" = String, Path, description = "Line id")), request_body = CredentialsInput,
    responses((status = 200, body = LineView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
pub async fn put_credentials(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
    body: Result<Json<CredentialsInput>, JsonRejection>,
) -> LineResult<Json<LineView>> {
    principal.require(callbook_jobs::Role::Admin)?;
    let Json(body) = body?;
    let mut errors = Vec::new();
    let sid = body.account_sid.trim();
    if !(sid.len() == 34 && sid.starts_with("AC") && sid[2..].bytes().all(|b| b.is_ascii_hexdigit())) {
        errors.push(super::problem::FieldProblem {
            field: "account_sid".into(),
            message: "must be AC followed by 32 hex digits".into(),
        });
    }
    let token = body.auth_token.trim();
    if token.len() < 16 || token.len() > 256 {
        errors.push(super::problem::FieldProblem {
            field: "auth_token".into(),
            message: "must be 16–256 characters".into(),
        });
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors).into());
    }
    let cipher = state.credentials.as_ref().ok_or_else(|| {
        LineError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "credentials_unavailable",
            "Credentials unavailable",
            "this server has no master key for credentials",
        )
    })?;
    let (line, settings) = find_line(&state, principal.tenant, &id).await?;
    let sealed = cipher.seal(
        principal.tenant,
        line.id,
        &credentials::LineCredentials {
            account_sid: sid.to_owned(),
            auth_token: token.to_owned(),
        },
    );
    let line = state
        .store
        .update_phone_line(
            principal.tenant,
            line.id,
            callbook_jobs::PhoneLineUpdate {
                credentials: Some(Some(sealed)),
                ..Default::default()
            },
        )
        .await?;
    tracing::info!(tenant = %principal.tenant, line = %line.id, "phone line credentials stored");
    audit_credentials(&state, &principal, line.id, "phone_line.credentials_set").await;
    Ok(Json(view(&line, &settings, None)))
}

/// Deletes the line's own provider credentials. Needs the admin role.
#[utoipa::path(delete, path = "/phone-lines/{id}/credentials", tag = "phone-lines", security(("bearer" = [])),
    params(("id" = String, Path, description = "Line id")),
    responses((status = 200, body = LineView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn delete_credentials(
    State(state): State<ApiState>,
    principal: Principal,
    Path(id): Path<String>,
) -> LineResult<Json<LineView>> {
    principal.require(callbook_jobs::Role::Admin)?;
    let (line, settings) = find_line(&state, principal.tenant, &id).await?;
    let line = state
        .store
        .update_phone_line(
            principal.tenant,
            line.id,
            callbook_jobs::PhoneLineUpdate {
                credentials: Some(None),
                ..Default::default()
            },
        )
        .await?;
    audit_credentials(&state, &principal, line.id, "phone_line.credentials_cleared").await;
    Ok(Json(view(&line, &settings, None)))
}

/// Audits a credentials change (the line id only; never the credentials).
async fn audit_credentials(state: &ApiState, principal: &Principal, line: PhoneLineId, action: &str) {
    super::privacy::audit(
        state,
        principal,
        action,
        "phone_line",
        line.to_string(),
        json!({}),
    )
    .await;
}
// ---- end issue 8: provider credentials
