//! [`MockStripe`]: a local HTTP server that speaks the part of Stripe's REST API `StripeBilling` uses.
//!
//! It answers in Stripe's wire shapes — objects with `"object": "customer"` etc., list envelopes
//! `{"object":"list","data":[…],"has_more":false,"url":…}`, search envelopes `{"object":"search_result",…}`,
//! error bodies `{"error":{"type","code","message","param",…}}` with Stripe's statuses — and behaves like
//! Stripe where the client depends on it:
//!
//! * `Authorization: Bearer <secret key>` is enforced (401 `Invalid API Key provided: sk_test_****abcd`);
//! * `Idempotency-Key` on a `POST`: the same key with the same method, path and parameters replays the saved
//!   response with `Idempotent-Replayed: true`; the same key with anything different is a 400
//!   `idempotency_error`. As at Stripe, only responses of requests that ran are saved (2xx and 402), not
//!   validation failures, rate limits or server errors;
//! * meter events are accepted every time and counted once per `identifier`;
//! * unknown prices and customers are 400 `resource_missing` naming the parameter, unknown objects 404.
//!
//! Every request is recorded ([`MockStripe::requests`]) and failures can be scripted ([`MockStripe::push_fault`]):
//! a 429 with `Retry-After`, a 500 with or without `Stripe-Should-Retry`, a 402 `card_error`, or a slow
//! response that arrives after the client's timeout (the request *is* processed, as when a network drops the
//! answer).

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// A scripted answer for the next request (optionally only the next one with a given method and path).
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// Only requests with this method are affected; `None` = any method.
    pub method: Option<String>,
    /// Only requests whose path starts with this are affected; `None` = any path.
    pub path_prefix: Option<String>,
    /// Whether `path_prefix` must match the whole path.
    pub exact_path: bool,
    /// What happens.
    pub action: FaultAction,
}

/// What a [`Fault`] does.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FaultAction {
    /// Answer with this status, JSON body and extra headers instead of handling the request.
    Respond {
        /// HTTP status.
        status: u16,
        /// The body.
        body: Value,
        /// Extra headers (`Retry-After`, `Stripe-Should-Retry`, …).
        headers: Vec<(String, String)>,
    },
    /// Handle the request normally but answer only after this delay.
    Delay(Duration),
}

impl Fault {
    fn respond(status: u16, body: Value, headers: Vec<(String, String)>) -> Self {
        Self {
            method: None,
            path_prefix: None,
            exact_path: false,
            action: FaultAction::Respond {
                status,
                body,
                headers,
            },
        }
    }
    /// Stripe's 429 `rate_limit_error` with `Retry-After: {seconds}`.
    pub fn rate_limited(retry_after_seconds: u32) -> Self {
        Self::respond(
            429,
            error_body(
                "rate_limit_error",
                Some("rate_limit"),
                "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.",
                None,
            ),
            vec![("Retry-After".into(), retry_after_seconds.to_string())],
        )
    }
    /// Stripe's 500 `api_error`.
    pub fn server_error() -> Self {
        Self::respond(
            500,
            error_body("api_error", None, "An unknown error occurred", None),
            Vec::new(),
        )
    }
    /// A 500 with `Stripe-Should-Retry: false` (Stripe knows repeating cannot help).
    pub fn server_error_do_not_retry() -> Self {
        let mut f = Self::server_error();
        if let FaultAction::Respond { headers, .. } = &mut f.action {
            headers.push(("Stripe-Should-Retry".into(), "false".into()));
        }
        f
    }
    /// A 402 `card_error` / `card_declined` with `decline_code`.
    pub fn card_declined(decline_code: &str) -> Self {
        let mut body = error_body(
            "card_error",
            Some("card_declined"),
            "Your card was declined.",
            None,
        );
        body["error"]["decline_code"] = json!(decline_code);
        Self::respond(402, body, Vec::new())
    }
    /// Any status and Stripe error object.
    pub fn error(status: u16, error_type: &str, code: Option<&str>, message: &str) -> Self {
        Self::respond(status, error_body(error_type, code, message, None), Vec::new())
    }
    /// Handles the request but answers after `delay` (longer than the client's timeout: the outcome is
    /// unknown to the client, but the object exists).
    pub fn slow(delay: Duration) -> Self {
        Self {
            method: None,
            path_prefix: None,
            exact_path: false,
            action: FaultAction::Delay(delay),
        }
    }
    /// Any 2xx JSON answer (e.g. an empty search result, as when Stripe's search has not caught up yet).
    pub fn ok(body: Value) -> Self {
        Self::respond(200, body, Vec::new())
    }
    /// Adds a response header (e.g. `Stripe-Should-Retry: true`) to a `Respond` fault.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let FaultAction::Respond { headers, .. } = &mut self.action {
            headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }
    /// Applies only to the next request whose path starts with `prefix`.
    pub fn on_path(mut self, prefix: &str) -> Self {
        self.path_prefix = Some(prefix.to_owned());
        self
    }
    /// Applies only to the next `method` request to exactly `path`.
    pub fn on(mut self, method: &str, path: &str) -> Self {
        self.method = Some(method.to_owned());
        self.path_prefix = Some(path.to_owned());
        self.exact_path = true;
        self
    }
    fn matches(&self, method: &Method, path: &str) -> bool {
        let method_ok = self
            .method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()));
        let path_ok = self.path_prefix.as_deref().is_none_or(|p| {
            if self.exact_path {
                path == p
            } else {
                path.starts_with(p)
            }
        });
        method_ok && path_ok
    }
}

/// One request the mock received.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// Method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// Query parameters, decoded.
    pub query: Vec<(String, String)>,
    /// Form parameters, decoded, in order.
    pub params: Vec<(String, String)>,
    /// The `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
    /// The `Stripe-Version` header.
    pub stripe_version: Option<String>,
    /// Whether the right secret key was presented.
    pub authorized: bool,
    /// Whether the answer was a replay of a saved idempotent response.
    pub replayed: bool,
}

impl RecordedRequest {
    /// The first form parameter called `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug)]
struct Saved {
    request_line: String,
    params: Vec<(String, String)>,
    status: u16,
    body: Value,
}

#[derive(Debug, Default)]
struct Store {
    next_id: u64,
    clock: i64,
    prices: HashSet<String>,
    customers: Vec<Value>,
    subscriptions: Vec<Value>,
    invoices: Vec<Value>,
    meter_events: Vec<Value>,
    meter_identifiers: HashSet<String>,
    idempotency: BTreeMap<String, Saved>,
}

impl Store {
    fn mint(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}_Mock{:014}", self.next_id)
    }
    /// A strictly increasing timestamp, so "newest first" is well defined even within one second.
    fn tick(&mut self) -> i64 {
        self.clock += 1;
        self.clock
    }
}

#[derive(Debug)]
struct MockState {
    secret_key: String,
    store: Mutex<Store>,
    faults: Mutex<VecDeque<Fault>>,
    log: Mutex<Vec<RecordedRequest>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running mock of Stripe's API. Dropping it stops the server.
#[derive(Debug)]
pub struct MockStripe {
    addr: SocketAddr,
    state: Arc<MockState>,
    task: JoinHandle<()>,
}

impl Drop for MockStripe {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockStripe {
    /// Serves on a free loopback port, accepting `secret_key` as `Authorization: Bearer`.
    pub async fn start(secret_key: &str) -> std::io::Result<Self> {
        let store = Store {
            clock: chrono::Utc::now().timestamp() - 1_000_000,
            ..Store::default()
        };
        let state = Arc::new(MockState {
            secret_key: secret_key.to_owned(),
            store: Mutex::new(store),
            faults: Mutex::new(VecDeque::new()),
            log: Mutex::new(Vec::new()),
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let app = Router::new().fallback(handle).with_state(state.clone());
        let task = tokio::spawn(async move {
            // The server ends when the task is aborted; an accept error just ends the mock.
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, state, task })
    }

    /// The base URL to give the Stripe backend (`http://127.0.0.1:PORT`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Makes a price exist (subscriptions to other prices fail with `resource_missing`).
    pub fn add_price(&self, price: &str) {
        lock(&self.state.store).prices.insert(price.to_owned());
    }

    /// Queues a fault; faults apply in order.
    pub fn push_fault(&self, fault: Fault) {
        lock(&self.state.faults).push_back(fault);
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state.log).clone()
    }

    /// Number of customers that exist.
    pub fn customer_count(&self) -> usize {
        lock(&self.state.store).customers.len()
    }

    /// Number of subscriptions that exist.
    pub fn subscription_count(&self) -> usize {
        lock(&self.state.store).subscriptions.len()
    }

    /// Sum of the values of the distinct meter events for `customer_id` and `event_name`.
    pub fn meter_total(&self, customer_id: &str, event_name: &str) -> u64 {
        lock(&self.state.store)
            .meter_events
            .iter()
            .filter(|e| e["event_name"] == event_name && e["payload"]["stripe_customer_id"] == customer_id)
            .filter_map(|e| e["payload"]["value"].as_str()?.parse::<u64>().ok())
            .sum()
    }

    /// Number of distinct meter events accepted.
    pub fn meter_event_count(&self) -> usize {
        lock(&self.state.store).meter_events.len()
    }

    /// Sets a subscription's status (as Stripe does after failed payments).
    pub fn set_subscription_status(&self, subscription_id: &str, status: &str) {
        let mut st = lock(&self.state.store);
        if let Some(s) = st.subscriptions.iter_mut().find(|s| s["id"] == subscription_id) {
            s["status"] = json!(status);
        }
    }

    /// Creates a finalized invoice for a customer (attached to its newest subscription) and returns its id.
    pub fn add_invoice(&self, customer_id: &str, amount_due: i64, paid: bool) -> String {
        let mut st = lock(&self.state.store);
        let id = st.mint("in");
        let created = st.tick();
        let number = format!("MOCK-{:04}", st.invoices.len() + 1);
        let subscription = st
            .subscriptions
            .iter()
            .rev()
            .find(|s| s["customer"] == customer_id)
            .map(|s| (s["id"].clone(), s["metadata"].clone()));
        let invoice = json!({
            "id": id,
            "object": "invoice",
            "account_country": "US",
            "amount_due": amount_due,
            "amount_paid": if paid { amount_due } else { 0 },
            "amount_remaining": if paid { 0 } else { amount_due },
            "billing_reason": "subscription_cycle",
            "collection_method": "charge_automatically",
            "created": created,
            "currency": "usd",
            "customer": customer_id,
            "hosted_invoice_url": format!("https://invoice.stripe.com/i/acct_mock/test_{id}"),
            "invoice_pdf": format!("https://pay.stripe.com/invoice/acct_mock/test_{id}/pdf"),
            "livemode": false,
            "metadata": {},
            "number": number,
            "parent": subscription.map(|(s, metadata)| json!({
                "quote_details": null,
                "subscription_details": {"metadata": metadata, "subscription": s},
                "type": "subscription_details",
            })),
            "period_end": created,
            "period_start": created - 30 * 86_400,
            "status": if paid { "paid" } else { "open" },
            "total": amount_due,
        });
        st.invoices.push(invoice);
        id
    }
}

fn error_body(error_type: &str, code: Option<&str>, message: &str, param: Option<&str>) -> Value {
    let mut error = json!({"type": error_type, "message": message});
    if let Some(code) = code {
        error["code"] = json!(code);
        error["doc_url"] = json!(format!(
            "https://stripe.com/docs/error-codes/{}",
            code.replace('_', "-")
        ));
    }
    if let Some(param) = param {
        error["param"] = json!(param);
    }
    error["request_log_url"] = json!("https://dashboard.stripe.com/test/logs/req_mock");
    json!({ "error": error })
}

fn resource_missing(status: u16, what: &str, id: &str, param: &str) -> (u16, Value) {
    (
        status,
        error_body(
            "invalid_request_error",
            Some("resource_missing"),
            &format!("No such {what}: '{id}'"),
            Some(param),
        ),
    )
}

fn missing_param(param: &str) -> (u16, Value) {
    (
        400,
        error_body(
            "invalid_request_error",
            Some("parameter_missing"),
            &format!("Missing required param: {param}."),
            Some(param),
        ),
    )
}

fn decode_pairs(raw: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(raw)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// `metadata[key]=value` pairs as a JSON object.
fn metadata(params: &[(String, String)]) -> Value {
    let mut map = serde_json::Map::new();
    for (k, v) in params {
        if let Some(key) = k.strip_prefix("metadata[").and_then(|r| r.strip_suffix(']')) {
            map.insert(key.to_owned(), json!(v));
        }
    }
    Value::Object(map)
}

/// `limit` of a list request: 1 to 100, default 10, as Stripe validates it.
fn list_limit(query: &[(String, String)]) -> Result<usize, (u16, Value)> {
    let limit = get(query, "limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(10);
    if (1..=100).contains(&limit) {
        Ok(limit)
    } else {
        Err((
            400,
            error_body(
                "invalid_request_error",
                Some("parameter_invalid_integer"),
                "This value must be greater than or equal to 1 and less than or equal to 100.",
                Some("limit"),
            ),
        ))
    }
}

fn list(url: &str, data: Vec<Value>) -> Value {
    json!({"object": "list", "data": data, "has_more": false, "url": url})
}

fn masked(key: &str) -> String {
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let prefix = if key.starts_with("sk_live_") {
        "sk_live_"
    } else {
        "sk_test_"
    };
    format!("{prefix}****{tail}")
}

async fn handle(
    State(state): State<Arc<MockState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query = decode_pairs(uri.query().unwrap_or("").as_bytes());
    let params = if method == Method::POST {
        decode_pairs(&body)
    } else {
        Vec::new()
    };
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let idempotency_key = text("idempotency-key");
    let auth = text("authorization");
    let authorized = auth.as_deref() == Some(format!("Bearer {}", state.secret_key).as_str());
    let index = {
        let mut log = lock(&state.log);
        log.push(RecordedRequest {
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            params: params.clone(),
            idempotency_key: idempotency_key.clone(),
            stripe_version: text("stripe-version"),
            authorized,
            replayed: false,
        });
        log.len() - 1
    };

    let fault = {
        let mut faults = lock(&state.faults);
        let pos = faults.iter().position(|f| f.matches(&method, &path));
        pos.and_then(|i| faults.remove(i))
    };
    let mut delay = None;
    match fault.map(|f| f.action) {
        Some(FaultAction::Respond {
            status,
            body,
            headers,
        }) => return respond(status, &body, &headers, false, None),
        Some(FaultAction::Delay(d)) => delay = Some(d),
        None => {}
    }

    let (status, body, replayed) = if !authorized {
        let message = match auth.as_deref().and_then(|a| a.strip_prefix("Bearer ")) {
            Some(key) => format!("Invalid API Key provided: {}", masked(key)),
            None => "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').".to_owned(),
        };
        (
            401,
            error_body("invalid_request_error", None, &message, None),
            false,
        )
    } else {
        let mut st = lock(&state.store);
        let request_line = format!("{method} {path}");
        match (&idempotency_key, method == Method::POST) {
            (Some(key), true) => match st.idempotency.get(key) {
                Some(saved) if saved.request_line == request_line && saved.params == params => {
                    (saved.status, saved.body.clone(), true)
                }
                Some(_) => (
                    400,
                    error_body(
                        "idempotency_error",
                        None,
                        &format!(
                            "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
                        ),
                        None,
                    ),
                    false,
                ),
                None => {
                    let (status, body) = route(&mut st, &method, &path, &query, &params);
                    if (200..300).contains(&status) || status == 402 {
                        st.idempotency.insert(
                            key.clone(),
                            Saved {
                                request_line,
                                params: params.clone(),
                                status,
                                body: body.clone(),
                            },
                        );
                    }
                    (status, body, false)
                }
            },
            _ => {
                let (status, body) = route(&mut st, &method, &path, &query, &params);
                (status, body, false)
            }
        }
    };
    if replayed {
        lock(&state.log)[index].replayed = true;
    }
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    respond(status, &body, &[], replayed, idempotency_key.as_deref())
}

fn respond(
    status: u16,
    body: &Value,
    extra: &[(String, String)],
    replayed: bool,
    key: Option<&str>,
) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, body.to_string()).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert("request-id", HeaderValue::from_static("req_mock"));
    h.insert(
        "stripe-version",
        HeaderValue::from_static(crate::STRIPE_API_VERSION),
    );
    if let Some(key) = key.and_then(|k| HeaderValue::from_str(k).ok()) {
        h.insert("idempotency-key", key);
    }
    if replayed {
        h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    for (name, value) in extra {
        if let (Ok(n), Ok(v)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            h.insert(n, v);
        }
    }
    response
}

fn route(
    st: &mut Store,
    method: &Method,
    path: &str,
    query: &[(String, String)],
    params: &[(String, String)],
) -> (u16, Value) {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["v1", "customers"]) => create_customer(st, params),
        ("GET", ["v1", "customers", "search"]) => search_customers(st, query),
        ("GET", ["v1", "customers", id]) => match st.customers.iter().find(|c| c["id"] == *id) {
            Some(c) => (200, c.clone()),
            None => resource_missing(404, "customer", id, "id"),
        },
        ("POST", ["v1", "subscriptions"]) => create_subscription(st, params),
        ("GET", ["v1", "subscriptions"]) => list_subscriptions(st, query),
        ("GET", ["v1", "subscriptions", id]) => match st.subscriptions.iter().find(|s| s["id"] == *id) {
            Some(s) => (200, s.clone()),
            None => resource_missing(404, "subscription", id, "id"),
        },
        ("POST", ["v1", "subscriptions", id]) => update_subscription(st, id, params),
        ("DELETE", ["v1", "subscriptions", id]) => cancel_subscription(st, id),
        ("GET", ["v1", "invoices"]) => list_invoices(st, query),
        ("POST", ["v1", "billing", "meter_events"]) => create_meter_event(st, params),
        _ => (
            404,
            error_body(
                "invalid_request_error",
                None,
                &format!(
                    "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."
                ),
                None,
            ),
        ),
    }
}

fn create_customer(st: &mut Store, params: &[(String, String)]) -> (u16, Value) {
    let id = st.mint("cus");
    let created = st.tick();
    let customer = json!({
        "id": id,
        "object": "customer",
        "address": null,
        "balance": 0,
        "created": created,
        "currency": null,
        "default_source": null,
        "delinquent": false,
        "description": null,
        "email": get(params, "email"),
        "invoice_prefix": "MOCK",
        "invoice_settings": {"custom_fields": null, "default_payment_method": null, "footer": null, "rendering_options": null},
        "livemode": false,
        "metadata": metadata(params),
        "name": get(params, "name"),
        "phone": null,
        "preferred_locales": [],
        "shipping": null,
        "tax_exempt": "none",
        "test_clock": null,
    });
    st.customers.push(customer.clone());
    (200, customer)
}

/// Supports the one clause the client sends: `metadata['key']:'value'` (with `\'` and `\\` escapes).
fn search_customers(st: &Store, query: &[(String, String)]) -> (u16, Value) {
    let Some(q) = get(query, "query") else {
        return missing_param("query");
    };
    let parsed = q
        .strip_prefix("metadata['")
        .and_then(|r| r.split_once("']:'"))
        .and_then(|(key, rest)| Some((key, rest.strip_suffix('\'')?)))
        .map(|(key, value)| (key.to_owned(), value.replace("\\'", "'").replace("\\\\", "\\")));
    let Some((key, value)) = parsed else {
        return (
            400,
            error_body(
                "invalid_request_error",
                Some("parameter_invalid_string"),
                "The search query could not be parsed.",
                Some("query"),
            ),
        );
    };
    let data: Vec<Value> = st
        .customers
        .iter()
        .rev()
        .filter(|c| c["metadata"][&key] == value.as_str())
        .cloned()
        .collect();
    (
        200,
        json!({"object": "search_result", "data": data, "has_more": false, "next_page": null, "url": "/v1/customers/search"}),
    )
}

fn create_subscription(st: &mut Store, params: &[(String, String)]) -> (u16, Value) {
    let Some(customer) = get(params, "customer") else {
        return missing_param("customer");
    };
    if !st.customers.iter().any(|c| c["id"] == customer) {
        return resource_missing(400, "customer", customer, "customer");
    }
    let Some(price) = get(params, "items[0][price]") else {
        return missing_param("items");
    };
    if !st.prices.contains(price) {
        return resource_missing(400, "price", price, "items[0][price]");
    }
    let trial_days = match get(params, "trial_period_days").map(str::parse::<i64>) {
        None => None,
        Some(Ok(d)) if d > 0 => Some(d),
        Some(_) => {
            return (
                400,
                error_body(
                    "invalid_request_error",
                    Some("parameter_invalid_integer"),
                    "Invalid integer: trial_period_days",
                    Some("trial_period_days"),
                ),
            );
        }
    };
    let id = st.mint("sub");
    let created = st.tick();
    let end = created + trial_days.unwrap_or(30) * 86_400;
    let subscription = json!({
        "id": id,
        "object": "subscription",
        "billing_cycle_anchor": created,
        "cancel_at": null,
        "cancel_at_period_end": false,
        "canceled_at": null,
        "collection_method": "charge_automatically",
        "created": created,
        "currency": "usd",
        "customer": customer,
        "ended_at": null,
        "items": {
            "object": "list",
            "data": [{
                "id": format!("si_{}", id.trim_start_matches("sub_")),
                "object": "subscription_item",
                "created": created,
                "current_period_end": end,
                "current_period_start": created,
                "metadata": {},
                "price": {"id": price, "object": "price", "active": true, "currency": "usd",
                          "recurring": {"interval": "month", "interval_count": 1, "usage_type": "metered", "meter": "mtr_mock"},
                          "type": "recurring"},
                "subscription": id,
            }],
            "has_more": false,
            "total_count": 1,
            "url": format!("/v1/subscription_items?subscription={id}"),
        },
        "latest_invoice": null,
        "livemode": false,
        "metadata": metadata(params),
        "start_date": created,
        "status": if trial_days.is_some() { "trialing" } else { "active" },
        "trial_end": trial_days.map(|_| end),
        "trial_start": trial_days.map(|_| created),
    });
    st.subscriptions.push(subscription.clone());
    (200, subscription)
}

fn list_subscriptions(st: &Store, query: &[(String, String)]) -> (u16, Value) {
    let customer = get(query, "customer");
    let status = get(query, "status");
    let limit = match list_limit(query) {
        Ok(limit) => limit,
        Err(error) => return error,
    };
    let data: Vec<Value> = st
        .subscriptions
        .iter()
        .rev()
        .filter(|s| customer.is_none_or(|c| s["customer"] == c))
        .filter(|s| match status {
            Some("all") => true,
            Some(wanted) => s["status"] == wanted,
            // Stripe leaves canceled subscriptions out unless asked.
            None => s["status"] != "canceled",
        })
        .take(limit)
        .cloned()
        .collect();
    (200, list("/v1/subscriptions", data))
}

fn update_subscription(st: &mut Store, id: &str, params: &[(String, String)]) -> (u16, Value) {
    let Some(sub) = st.subscriptions.iter_mut().find(|s| s["id"] == id) else {
        return resource_missing(404, "subscription", id, "id");
    };
    if sub["status"] == "canceled" {
        return (
            400,
            error_body(
                "invalid_request_error",
                None,
                "A canceled subscription can only update its cancellation_details and metadata.",
                None,
            ),
        );
    }
    for (k, v) in metadata(params).as_object().into_iter().flatten() {
        sub["metadata"][k] = v.clone();
    }
    if let Some(flag) = get(params, "cancel_at_period_end") {
        let on = flag == "true";
        sub["cancel_at_period_end"] = json!(on);
        sub["cancel_at"] = if on {
            sub["items"]["data"][0]["current_period_end"].clone()
        } else {
            Value::Null
        };
    }
    (200, sub.clone())
}

fn cancel_subscription(st: &mut Store, id: &str) -> (u16, Value) {
    let now = st.tick();
    let Some(sub) = st.subscriptions.iter_mut().find(|s| s["id"] == id) else {
        return resource_missing(404, "subscription", id, "id");
    };
    if sub["status"] == "canceled" {
        return resource_missing(404, "subscription", id, "id");
    }
    sub["status"] = json!("canceled");
    sub["canceled_at"] = json!(now);
    sub["ended_at"] = json!(now);
    (200, sub.clone())
}

fn list_invoices(st: &Store, query: &[(String, String)]) -> (u16, Value) {
    let customer = get(query, "customer");
    let limit = match list_limit(query) {
        Ok(limit) => limit,
        Err(error) => return error,
    };
    let matching: Vec<&Value> = st
        .invoices
        .iter()
        .rev()
        .filter(|i| customer.is_none_or(|c| i["customer"] == c))
        .collect();
    let has_more = matching.len() > limit;
    let data: Vec<Value> = matching.into_iter().take(limit).cloned().collect();
    let mut body = list("/v1/invoices", data);
    body["has_more"] = json!(has_more);
    (200, body)
}

fn create_meter_event(st: &mut Store, params: &[(String, String)]) -> (u16, Value) {
    let Some(event_name) = get(params, "event_name") else {
        return missing_param("event_name");
    };
    let mut payload = serde_json::Map::new();
    for (k, v) in params {
        if let Some(key) = k.strip_prefix("payload[").and_then(|r| r.strip_suffix(']')) {
            payload.insert(key.to_owned(), json!(v));
        }
    }
    if payload.is_empty() {
        return missing_param("payload");
    }
    let identifier = get(params, "identifier")
        .map(str::to_owned)
        .unwrap_or_else(|| st.mint("mev"));
    let created = st.tick();
    let timestamp = get(params, "timestamp")
        .and_then(|t| t.parse::<i64>().ok())
        .unwrap_or(created);
    let event = json!({
        "object": "billing.meter_event",
        "created": created,
        "event_name": event_name,
        "identifier": identifier,
        "livemode": false,
        "payload": payload,
        "timestamp": timestamp,
    });
    // Accepted every time; Stripe's asynchronous processing drops a repeated identifier.
    if st.meter_identifiers.insert(identifier) {
        st.meter_events.push(event.clone());
    }
    (200, event)
}
