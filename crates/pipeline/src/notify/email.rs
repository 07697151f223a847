//! [`EmailNotifier`]: e-mail through SMTP ([lettre]) with the job's `.ics` attached.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use callbook_jobs::{Job, JobStore, Tenant, UserId};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::Error as SmtpError;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{Event, EventKind, NotificationPreferences, Notifier, NotifyError};

/// Sends e-mail for `job.created` (with the job's `.ics`), `call.needs_review` and `call.dead` to every user of
/// the tenant whose [preferences](NotificationPreferences) want that kind by e-mail.
///
/// **At most once** per `(dedupe_key, recipient)`: before each message the key
/// `email:{dedupe_key}:{user_id}` is claimed with
/// [`ActivityStore::first_delivery`](callbook_jobs::ActivityStore::first_delivery) (the event id stands in for a
/// missing dedupe key). A retried event therefore never mails anyone twice, but a message whose sending failed
/// after its key was claimed (a crash, a `451` to `RCPT`/`DATA`) is not sent again by a retry. To keep the
/// common transient failure (server down) retryable, the connection is tested before any key is claimed.
/// Errors: 4xx replies, timeouts and connection failures are retryable [`NotifyError::Smtp`], 5xx permanent.
/// Addresses are never logged and never appear in errors.
#[derive(Clone)]
pub struct EmailNotifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    public_url: Option<String>,
    store: Arc<dyn JobStore>,
}

impl fmt::Debug for EmailNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailNotifier")
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// Builds an [`EmailNotifier`].
#[derive(Clone)]
pub struct EmailNotifierBuilder {
    url: Option<String>,
    from: Option<String>,
    public_url: Option<String>,
    timeout: Duration,
    store: Arc<dyn JobStore>,
}

impl fmt::Debug for EmailNotifierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailNotifierBuilder")
            .field("url", &self.url.as_ref().map(|_| "<redacted>"))
            .field("public_url", &self.public_url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl EmailNotifierBuilder {
    /// Reads `CALLBOOK_SMTP_URL`, `CALLBOOK_SMTP_FROM` and `CALLBOOK_PUBLIC_URL` (each when set).
    pub fn from_env(mut self) -> Self {
        if let Ok(url) = std::env::var("CALLBOOK_SMTP_URL") {
            self.url = Some(url);
        }
        if let Ok(from) = std::env::var("CALLBOOK_SMTP_FROM") {
            self.from = Some(from);
        }
        if let Ok(public) = std::env::var("CALLBOOK_PUBLIC_URL") {
            self.public_url = Some(public);
        }
        self
    }
    /// The SMTP server: `smtp://[user:pass@]host[:port]` (plain, or `?tls=required` for STARTTLS) or
    /// `smtps://[user:pass@]host[:port]` (TLS from the start), as understood by lettre.
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }
    /// The sender, e.g. `Callbook <callbook@example.com>`.
    pub fn with_from(mut self, from: impl Into<String>) -> Self {
        self.from = Some(from.into());
        self
    }
    /// The server's public URL: messages link to `{url}/jobs/{id}` and `{url}/calls/{id}`.
    pub fn with_public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into());
        self
    }
    /// Connection and command timeout (default 30 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    /// Builds the notifier; [`NotifyError::Config`] when the URL or sender is missing or invalid.
    pub fn build(self) -> Result<EmailNotifier, NotifyError> {
        let url = self
            .url
            .ok_or_else(|| NotifyError::Config("no SMTP URL (CALLBOOK_SMTP_URL)".into()))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
            .map_err(|_| NotifyError::Config("the SMTP URL is not valid".into()))?
            .timeout(Some(self.timeout))
            .build();
        let from = self
            .from
            .ok_or_else(|| NotifyError::Config("no sender address (CALLBOOK_SMTP_FROM)".into()))?
            .parse::<Mailbox>()
            .map_err(|_| NotifyError::Config("the sender address is not valid".into()))?;
        Ok(EmailNotifier {
            transport,
            from,
            public_url: self.public_url.map(|u| u.trim_end_matches('/').to_owned()),
            store: self.store,
        })
    }
}

impl EmailNotifier {
    /// A builder on this store (tenants, users, jobs and the dedupe keys live there).
    pub fn builder(store: Arc<dyn JobStore>) -> EmailNotifierBuilder {
        EmailNotifierBuilder {
            url: None,
            from: None,
            public_url: None,
            timeout: Duration::from_secs(30),
            store,
        }
    }

    /// A notifier for this SMTP URL (see [`EmailNotifierBuilder::with_url`]) and sender.
    pub fn from_url(smtp_url: &str, from: &str, store: Arc<dyn JobStore>) -> Result<Self, NotifyError> {
        Self::builder(store).with_url(smtp_url).with_from(from).build()
    }

    fn link(&self, what: &str, id: impl fmt::Display) -> Option<String> {
        self.public_url.as_ref().map(|u| format!("{u}/{what}/{id}"))
    }

    fn compose(&self, event: &Event, tenant: &Tenant, job: Option<&Job>) -> (String, String, Option<String>) {
        match (event.kind, job) {
            (EventKind::JobCreated, Some(job)) => {
                let mut body = format!("New job: {}\n", job.title);
                match &job.schedule {
                    Some(s) => {
                        let tz = tenant.timezone.tz();
                        body.push_str(&format!(
                            "When: {} – {} ({})\n",
                            s.start.with_timezone(&tz).format("%a %-d %b %Y %H:%M"),
                            s.end.with_timezone(&tz).format("%H:%M"),
                            tz.name()
                        ));
                    }
                    None => body.push_str("When: not scheduled yet\n"),
                }
                body.push_str(&format!("Stage: {}\n", job.stage.as_str()));
                if let Some(link) = self.link("jobs", job.id) {
                    body.push_str(&format!("Open: {link}\n"));
                }
                let ics = job
                    .schedule
                    .as_ref()
                    .map(|_| publish_ics(job, self.from.email.as_ref()));
                (format!("New job: {}", job.title), body, ics)
            }
            (EventKind::CallDead, _) => {
                let mut body = String::from("A call could not be processed and needs a look.\n");
                if let Some(link) = event.call_id.and_then(|c| self.link("calls", c)) {
                    body.push_str(&format!("Open: {link}\n"));
                }
                ("A call could not be processed".into(), body, None)
            }
            _ => {
                let mut body = String::from("A call needs review before a job can be booked.\n");
                if let Some(link) = event.call_id.and_then(|c| self.link("calls", c)) {
                    body.push_str(&format!("Open: {link}\n"));
                }
                ("A call needs review".into(), body, None)
            }
        }
    }

    fn message(
        &self,
        to: Mailbox,
        subject: &str,
        body: &str,
        ics: Option<&str>,
    ) -> Result<Message, NotifyError> {
        let builder = Message::builder().from(self.from.clone()).to(to).subject(subject);
        let text = SinglePart::plain(body.to_owned());
        let built = match ics {
            Some(ics) => {
                let content_type = ContentType::parse("text/calendar; charset=utf-8; method=PUBLISH")
                    .map_err(|e| NotifyError::Message(format!("content type: {e}")))?;
                builder.multipart(
                    MultiPart::mixed()
                        .singlepart(text)
                        .singlepart(Attachment::new("job.ics".into()).body(ics.to_owned(), content_type)),
                )
            }
            None => builder.singlepart(text),
        };
        built.map_err(|_| NotifyError::Message("the message could not be built".into()))
    }
}

/// The job's `.ics` from [`callbook_jobs::calendar::job_ics`] as an iTIP `PUBLISH` (RFC 5546 §3.2.1: an
/// informational copy nobody replies to): `METHOD:PUBLISH` on the calendar and, as `PUBLISH` requires, an
/// `ORGANIZER` on the event — the sender's address.
pub fn publish_ics(job: &Job, organizer: &str) -> String {
    let ics = callbook_jobs::calendar::job_ics(job);
    let ics = insert_after(&ics, "BEGIN:VCALENDAR\r\n", "METHOD:PUBLISH\r\n");
    insert_after(
        &ics,
        "BEGIN:VEVENT\r\n",
        &format!("ORGANIZER:mailto:{organizer}\r\n"),
    )
}

fn insert_after(text: &str, marker: &str, line: &str) -> String {
    match text.find(marker) {
        Some(at) => {
            let end = at + marker.len();
            format!("{}{}{}", &text[..end], line, &text[end..])
        }
        None => text.to_owned(),
    }
}

pub(crate) fn classify(e: &SmtpError) -> NotifyError {
    let code = e.status().and_then(|c| c.to_string().parse::<u16>().ok());
    let (retryable, reason) = if e.is_transient() {
        (true, "transient reply")
    } else if e.is_permanent() {
        (false, "permanent reply")
    } else if e.is_timeout() {
        (true, "timeout")
    } else if e.is_tls() {
        (false, "tls")
    } else if e.is_client() {
        (false, "client")
    } else if e.is_response() {
        (true, "unreadable reply")
    } else {
        (true, "connection")
    };
    NotifyError::Smtp {
        code,
        retryable,
        reason,
    }
}

#[async_trait]
impl Notifier for EmailNotifier {
    async fn notify(&self, event: &Event) -> Result<(), NotifyError> {
        if !matches!(
            event.kind,
            EventKind::JobCreated | EventKind::CallNeedsReview | EventKind::CallDead
        ) {
            return Ok(());
        }
        let tenant = self.store.get_tenant(event.tenant_id).await?;
        let prefs = NotificationPreferences::from_settings(&tenant.settings);
        let users = self.store.list_users(event.tenant_id).await?;
        let mut recipients: Vec<(UserId, Mailbox)> = Vec::new();
        for (user, address) in prefs.email_recipients(event.kind) {
            if !users.iter().any(|u| u.id == user) {
                continue;
            }
            match address.parse::<lettre::Address>() {
                Ok(a) => recipients.push((user, Mailbox::new(None, a))),
                Err(_) => tracing::warn!(%user, "notification settings: e-mail address not valid; skipped"),
            }
        }
        if recipients.is_empty() {
            return Ok(());
        }
        let job = match (event.kind, event.job_id) {
            (EventKind::JobCreated, Some(id)) => Some(self.store.get_job(event.tenant_id, id).await?),
            (EventKind::JobCreated, None) => {
                tracing::warn!(event = %event.id, "job.created event without a job id; no e-mail");
                return Ok(());
            }
            _ => None,
        };
        let (subject, body, ics) = self.compose(event, &tenant, job.as_ref());
        // Fail before claiming any key when the server cannot be reached, so that the caller's retry sends.
        self.transport.test_connection().await.map_err(|e| classify(&e))?;
        let key = event
            .dedupe_key
            .clone()
            .unwrap_or_else(|| format!("event:{}", event.id));
        let mut first_error = None;
        for (user, to) in recipients {
            let message = self.message(to, &subject, &body, ics.as_deref())?;
            if !self
                .store
                .first_delivery(event.tenant_id, &format!("email:{key}:{user}"))
                .await?
            {
                continue;
            }
            if let Err(e) = self.transport.send(message).await {
                let error = classify(&e);
                tracing::warn!(%user, kind = event.kind.as_str(), error = %error, "e-mail not sent");
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
