//! The Twilio backend: [`TwilioTelephony`] implements [`Telephony`] against Twilio's REST API
//! (`api.twilio.com/2010-04-01`).
//!
//! * **Transport.** HTTP Basic auth (`AccountSid:AuthToken`, or an API key with the account SID in the path),
//!   `Accept: application/json`, form-encoded `POST` bodies, `User-Agent: callbook-telephony/<version>`.
//! * **Retries.** Only `GET` and `DELETE` are retried, after 429 (honouring `Retry-After`, else full-jitter
//!   backoff), 5xx, timeouts and connection failures, at most
//!   [`with_max_rate_limit_retries`](TwilioTelephonyBuilder::with_max_rate_limit_retries) times. Buying or
//!   configuring a number (`POST`) is never retried: a repeated purchase can buy twice. Because a retried
//!   `DELETE` may find the resource already gone, callers that want idempotent deletes match on
//!   [`Error::NotFound`], as the [`Telephony`] contract says.
//! * **Recording media** is fetched from a URL this crate builds from the recording SID and the configured base
//!   URL, never from a URL received in a webhook; redirects to the storage host are followed without the
//!   `Authorization` header. A download that answers 404 is retried briefly, because a fresh recording can
//!   be missing for a moment.
//! * **Pagination.** A [`PageToken`] is Twilio's relative `next_page_uri`, followed verbatim under the
//!   configured base URL; a token that is not a path of this account's listing is refused before any request.
//! * **Logging** (`tracing`, debug): method, path template, status, duration. Never phone numbers, ids in
//!   paths, tokens or bodies.
//!
//! ```no_run
//! use callbook_telephony::telephony::{E164, NumberSearch, PurchaseRequest, Telephony, WebhookConfig};
//! use callbook_telephony::twilio::TwilioTelephony;
//!
//! # async fn run() -> callbook_telephony::Result<()> {
//! let twilio = TwilioTelephony::builder()
//!     .with_account_sid("AC00000000000000000000000000000001")
//!     .with_auth_token("your-auth-token")
//!     .build()?;
//! let offers = twilio.search_available_numbers(&NumberSearch::local("US").with_area_code(415)).await?;
//! if let Some(offer) = offers.first() {
//!     let request = PurchaseRequest::new(offer.phone_number.clone())
//!         .with_webhooks(WebhookConfig::callbook("https://hooks.example.com"));
//!     let owned = twilio.purchase_number(&request).await?;
//!     println!("bought {}", owned.sid);
//! }
//! # Ok(())
//! # }
//! ```

mod builder;
mod client;
pub(crate) mod wire;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::CONTENT_TYPE;

pub use builder::{DEFAULT_BASE_URL, TwilioTelephonyBuilder};
use client::{Request, RestClient, transport_error};

use crate::telephony::{
    AccountSid, AudioFormat, AvailableNumber, CallInfo, CallSid, Capabilities, HttpMethod, NumberKind,
    NumberSearch, NumberSid, OwnedNumber, Page, PageRequest, PageToken, PurchaseRequest, RecordingFilter,
    RecordingInfo, RecordingMedia, RecordingSid, Telephony, WebhookConfig,
};
use crate::{Error, Result};

/// Twilio's largest page.
const MAX_PAGE_SIZE: u32 = 1000;

/// [`Telephony`] over Twilio's REST API. Build one with [`TwilioTelephony::builder`] or
/// [`TwilioTelephonyBuilder::from_env`]; cloning is cheap and shares the connection pool.
///
/// ```no_run
/// use callbook_telephony::telephony::{RecordingSid, AudioFormat, Telephony};
/// use callbook_telephony::twilio::TwilioTelephonyBuilder;
///
/// # async fn run() -> callbook_telephony::Result<()> {
/// let twilio = TwilioTelephonyBuilder::from_env().build()?;
/// let sid = RecordingSid::new("RE00000000000000000000000000000003");
/// let media = twilio.download_recording(&sid, AudioFormat::Wav).await?;
/// println!("{} bytes of {}", media.bytes.len(), media.content_type);
/// twilio.delete_recording(&sid).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct TwilioTelephony {
    account: AccountSid,
    rest: RestClient,
    media_not_found_retries: u32,
    media_not_found_base_delay: Duration,
}

impl TwilioTelephony {
    /// A builder with defaults; same as [`TwilioTelephonyBuilder::new`].
    pub fn builder() -> TwilioTelephonyBuilder {
        TwilioTelephonyBuilder::new()
    }

    /// The account whose resources this client manages (the SID in every request path).
    pub fn account_sid(&self) -> &AccountSid {
        &self.account
    }

    /// The base URL requests go to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.rest.base_url
    }

    fn number_path(&self, sid: &NumberSid) -> Result<(String, String)> {
        let resource = format!("phone number {sid}");
        let id = path_id(sid.as_str(), &resource)?;
        Ok((
            self.rest.account_url(&format!("IncomingPhoneNumbers/{id}.json")),
            resource,
        ))
    }
}

impl fmt::Debug for TwilioTelephony {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioTelephony")
            .field("account_sid", &self.account)
            .field("rest", &self.rest)
            .field("media_not_found_retries", &self.media_not_found_retries)
            .field("media_not_found_base_delay", &self.media_not_found_base_delay)
            .finish()
    }
}

#[async_trait]
impl Telephony for TwilioTelephony {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            buy_numbers: true,
            delete_recordings: true,
            mp3_download: true,
        }
    }

    async fn search_available_numbers(&self, search: &NumberSearch) -> Result<Vec<AvailableNumber>> {
        let country = search.country.trim();
        if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(Error::InvalidInput {
                code: None,
                message: "country must be an ISO 3166-1 alpha-2 code such as US".into(),
            });
        }
        let country = country.to_ascii_uppercase();
        let kind = match search.kind {
            NumberKind::TollFree => "TollFree",
            NumberKind::Mobile => "Mobile",
            NumberKind::Local => "Local",
        };
        let mut query = Vec::new();
        if let Some(area_code) = search.area_code {
            query.push(("AreaCode", area_code.to_string()));
        }
        if let Some(contains) = &search.contains {
            query.push(("Contains", contains.clone()));
        }
        if let Some(voice) = search.voice_enabled {
            query.push(("VoiceEnabled", voice.to_string()));
        }
        if let Some(sms) = search.sms_enabled {
            query.push(("SmsEnabled", sms.to_string()));
        }
        if let Some(postal_code) = &search.in_postal_code {
            query.push(("InPostalCode", postal_code.clone()));
        }
        if let Some(region) = &search.in_region {
            query.push(("InRegion", region.clone()));
        }
        if let Some(locality) = &search.in_locality {
            query.push(("InLocality", locality.clone()));
        }
        if let Some(near) = &search.near_number {
            query.push(("NearNumber", near.as_str().to_owned()));
        }
        if search.exclude_all_address_required {
            query.push(("ExcludeAllAddressRequired", "true".to_owned()));
        }
        if let Some(limit) = search.limit {
            query.push(("PageSize", limit.clamp(1, MAX_PAGE_SIZE).to_string()));
        }
        let resource = format!("available {kind} numbers in {country}");
        let url = self
            .rest
            .account_url(&format!("AvailablePhoneNumbers/{country}/{kind}.json"));
        let request =
            Request::get("AvailablePhoneNumbers/{Country}/{Kind}.json", url, &resource).with_query(query);
        let list: wire::AvailablePhoneNumberList = self.rest.json(request).await?;
        let mut numbers = list
            .available_phone_numbers
            .into_iter()
            .map(wire::AvailablePhoneNumber::into_domain)
            .collect::<Result<Vec<_>>>()?;
        if let Some(limit) = search.limit {
            numbers.truncate(limit as usize);
        }
        Ok(numbers)
    }

    async fn purchase_number(&self, request: &PurchaseRequest) -> Result<OwnedNumber> {
        let mut form = vec![("PhoneNumber", request.phone_number.as_str().to_owned())];
        if let Some(name) = &request.friendly_name {
            form.push(("FriendlyName", name.clone()));
        }
        form.extend(webhook_form(&request.webhooks, false));
        let url = self.rest.account_url("IncomingPhoneNumbers.json");
        let request = Request::post("IncomingPhoneNumbers.json", url, "phone number").with_form(form);
        let number: wire::IncomingPhoneNumber = self.rest.json(request).await?;
        number.into_domain()
    }

    async fn fetch_number(&self, sid: &NumberSid) -> Result<OwnedNumber> {
        let (url, resource) = self.number_path(sid)?;
        let number: wire::IncomingPhoneNumber = self
            .rest
            .json(Request::get("IncomingPhoneNumbers/{Sid}.json", url, &resource))
            .await?;
        number.into_domain()
    }

    async fn configure_number(&self, sid: &NumberSid, webhooks: &WebhookConfig) -> Result<OwnedNumber> {
        let (url, resource) = self.number_path(sid)?;
        let request = Request::post("IncomingPhoneNumbers/{Sid}.json", url, &resource)
            .with_form(webhook_form(webhooks, true));
        let number: wire::IncomingPhoneNumber = self.rest.json(request).await?;
        number.into_domain()
    }

    async fn list_numbers(&self, page: &PageRequest) -> Result<Page<OwnedNumber>> {
        const LIST: &str = "IncomingPhoneNumbers.json";
        let resource = "incoming phone numbers";
        let request = match &page.token {
            Some(token) => Request::get(LIST, self.rest.page_url(token, LIST)?, resource),
            None => Request::get(LIST, self.rest.account_url(LIST), resource).with_query(page_size(page)),
        };
        let list: wire::IncomingPhoneNumberList = self.rest.json(request).await?;
        Ok(Page {
            items: list
                .incoming_phone_numbers
                .into_iter()
                .map(wire::IncomingPhoneNumber::into_domain)
                .collect::<Result<_>>()?,
            next: list.next_page_uri.map(PageToken::new),
        })
    }

    async fn release_number(&self, sid: &NumberSid) -> Result<()> {
        let (url, resource) = self.number_path(sid)?;
        self.rest
            .no_content(Request::delete("IncomingPhoneNumbers/{Sid}.json", url, &resource))
            .await
    }

    async fn fetch_recording(&self, sid: &RecordingSid) -> Result<RecordingInfo> {
        let resource = format!("recording {sid}");
        let url = self
            .rest
            .account_url(&format!("Recordings/{}.json", path_id(sid.as_str(), &resource)?));
        let recording: wire::Recording = self
            .rest
            .json(Request::get("Recordings/{Sid}.json", url, &resource))
            .await?;
        recording.into_domain()
    }

    async fn list_recordings(
        &self,
        filter: &RecordingFilter,
        page: &PageRequest,
    ) -> Result<Page<RecordingInfo>> {
        const LIST: &str = "Recordings.json";
        let resource = "recordings";
        let request = match &page.token {
            // The filter is already part of the token's query.
            Some(token) => Request::get(LIST, self.rest.page_url(token, LIST)?, resource),
            None => {
                let mut query = Vec::new();
                if let Some(call) = &filter.call_sid {
                    query.push(("CallSid", call.as_str().to_owned()));
                }
                if let Some(after) = filter.created_on_or_after {
                    // `DateCreated>` + `=` reads "on or after"; Twilio compares whole days.
                    query.push(("DateCreated>", after.date_naive().format("%Y-%m-%d").to_string()));
                }
                query.extend(page_size(page));
                Request::get(LIST, self.rest.account_url(LIST), resource).with_query(query)
            }
        };
        let list: wire::RecordingList = self.rest.json(request).await?;
        let mut items = list
            .recordings
            .into_iter()
            .map(wire::Recording::into_domain)
            .collect::<Result<Vec<_>>>()?;
        // Twilio filters by whole days; the instant asked for is honoured here.
        if let Some(after) = filter.created_on_or_after {
            items.retain(|r| r.created_at.is_none_or(|created| created >= after));
        }
        Ok(Page {
            items,
            next: list.next_page_uri.map(PageToken::new),
        })
    }

    async fn download_recording(&self, sid: &RecordingSid, format: AudioFormat) -> Result<RecordingMedia> {
        let resource = format!("recording media {sid}");
        let id = path_id(sid.as_str(), &resource)?;
        let url = self
            .rest
            .account_url(&format!("Recordings/{id}.{}", format.extension()));
        let (template, accept) = match format {
            AudioFormat::Wav => ("Recordings/{Sid}.wav", "audio/x-wav, audio/wav;q=0.9, */*;q=0.1"),
            AudioFormat::Mp3 => ("Recordings/{Sid}.mp3", "audio/mpeg, */*;q=0.1"),
        };
        let mut retry = 0;
        let response = loop {
            let request = Request::get(template, url.clone(), &resource).with_accept(accept);
            match self.rest.send(request).await {
                Ok(response) => break response,
                Err(Error::NotFound { .. }) if retry < self.media_not_found_retries => {
                    let delay = self.media_not_found_base_delay.saturating_mul(1 << retry.min(16));
                    tracing::debug!(
                        path = template,
                        retry = retry + 1,
                        delay_ms = delay.as_millis() as u64,
                        "recording media not found yet"
                    );
                    tokio::time::sleep(delay).await;
                    retry += 1;
                }
                Err(error) => return Err(error),
            }
        };
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(|| format.content_type().to_owned());
        let bytes = response.bytes().await.map_err(transport_error)?;
        Ok(RecordingMedia { content_type, bytes })
    }

    async fn delete_recording(&self, sid: &RecordingSid) -> Result<()> {
        let resource = format!("recording {sid}");
        let url = self
            .rest
            .account_url(&format!("Recordings/{}.json", path_id(sid.as_str(), &resource)?));
        self.rest
            .no_content(Request::delete("Recordings/{Sid}.json", url, &resource))
            .await
    }

    async fn fetch_call(&self, sid: &CallSid) -> Result<CallInfo> {
        let resource = format!("call {sid}");
        let url = self
            .rest
            .account_url(&format!("Calls/{}.json", path_id(sid.as_str(), &resource)?));
        let call: wire::Call = self
            .rest
            .json(Request::get("Calls/{Sid}.json", url, &resource))
            .await?;
        call.into_domain()
    }
}

/// An id that goes into a URL path. Twilio ids are letters and digits; anything that could change the path
/// (`/`, `..`, `?`, `%`) names nothing that exists, so it is reported as not found without a request.
fn path_id<'a>(id: &'a str, resource: &str) -> Result<&'a str> {
    if !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Ok(id)
    } else {
        Err(Error::NotFound {
            resource: resource.to_owned(),
            message: "not a valid Twilio id".into(),
        })
    }
}

fn page_size(page: &PageRequest) -> Vec<(&'static str, String)> {
    page.page_size
        .map(|n| ("PageSize", n.clamp(1, MAX_PAGE_SIZE).to_string()))
        .into_iter()
        .collect()
}

/// The webhook fields of a number. `clear_unset` sends `""` for an unset URL, which is how Twilio clears it.
fn webhook_form(webhooks: &WebhookConfig, clear_unset: bool) -> Vec<(&'static str, String)> {
    let mut form = Vec::new();
    let mut url = |name: &'static str, value: &Option<String>| match value {
        Some(v) => form.push((name, v.clone())),
        None if clear_unset => form.push((name, String::new())),
        None => {}
    };
    url("VoiceUrl", &webhooks.voice_url);
    url("VoiceFallbackUrl", &webhooks.voice_fallback_url);
    url("StatusCallback", &webhooks.status_callback);
    let method = |m: HttpMethod| m.as_str().to_owned();
    form.push(("VoiceMethod", method(webhooks.voice_method)));
    form.push(("VoiceFallbackMethod", method(webhooks.voice_fallback_method)));
    form.push(("StatusCallbackMethod", method(webhooks.status_callback_method)));
    form
}
