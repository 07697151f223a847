//! Per-user notification preferences, read from `Tenant.settings["notifications"]`.

use std::collections::BTreeMap;
use std::fmt;

use callbook_jobs::UserId;
use serde_json::Value;

use super::EventKind;

/// Where a notification goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Channel {
    /// Live to open browser tabs (SSE), `"live"`.
    Live,
    /// E-mail, `"email"`.
    Email,
    /// The in-app inbox, `"in_app"`.
    InApp,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 3] = [Channel::Live, Channel::Email, Channel::InApp];

    /// The name used in the settings JSON.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Channel::Live => "live",
            Channel::Email => "email",
            Channel::InApp => "in_app",
        }
    }

    /// The channel with this name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The kinds this channel carries at all: e-mail only `job.created`, `call.needs_review` and `call.dead`;
    /// the inbox everything but `call.step`; live everything.
    pub fn supports(&self, kind: EventKind) -> bool {
        match self {
            Channel::Live => true,
            Channel::InApp => kind != EventKind::CallStep,
            Channel::Email => matches!(
                kind,
                EventKind::JobCreated | EventKind::CallNeedsReview | EventKind::CallDead
            ),
        }
    }
}

/// One user's preferences. `None` fields take the defaults.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct UserPreferences {
    /// Where e-mail goes; no e-mail without it.
    pub email: Option<String>,
    /// The channels the user wants; `None` = all of them.
    pub channels: Option<Vec<Channel>>,
    /// The kinds the user wants (on every chosen channel that carries them); `None` = all of them.
    pub kinds: Option<Vec<EventKind>>,
}

impl fmt::Debug for UserPreferences {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserPreferences")
            .field("email", &self.email.as_ref().map(|_| "<redacted>"))
            .field("channels", &self.channels)
            .field("kinds", &self.kinds)
            .finish()
    }
}

impl UserPreferences {
    /// Whether this user wants `kind` on `channel`.
    pub fn wants(&self, kind: EventKind, channel: Channel) -> bool {
        channel.supports(kind)
            && (channel != Channel::Email || self.email.is_some())
            && self.channels.as_ref().is_none_or(|c| c.contains(&channel))
            && self.kinds.as_ref().is_none_or(|k| k.contains(&kind))
    }
}

/// A tenant's notification preferences.
///
/// Schema of `Tenant.settings["notifications"]` (every part optional):
///
/// ```json
/// {"users": {"<user uuid>": {"email": "ops@example.com",
///                            "channels": ["live", "email", "in_app"],
///                            "kinds": ["job.created", "call.needs_review"]}}}
/// ```
///
/// A user without an entry, or an entry without `channels`/`kinds`, gets the defaults: live for every kind,
/// in-app for every kind but `call.step`, e-mail (only with an address) for `job.created`, `call.needs_review`
/// and `call.dead`. Malformed parts (a non-object, an unknown channel or kind, a key that is not a UUID, a
/// non-string address) are ignored with a warning that names the JSON path but no value; preferences never
/// make a delivery fail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotificationPreferences {
    /// Per-user entries.
    pub users: BTreeMap<UserId, UserPreferences>,
}

impl NotificationPreferences {
    /// Reads the preferences from a tenant's whole settings document (the `notifications` key).
    pub fn from_settings(settings: &Value) -> Self {
        match settings.get("notifications") {
            None | Some(Value::Null) => Self::default(),
            Some(value) => Self::from_json(value),
        }
    }

    /// Reads the preferences from the `notifications` object itself.
    pub fn from_json(value: &Value) -> Self {
        let mut prefs = Self::default();
        let Some(object) = value.as_object() else {
            tracing::warn!("notification settings: `notifications` is not an object; using defaults");
            return prefs;
        };
        let users = match object.get("users") {
            None | Some(Value::Null) => return prefs,
            Some(Value::Object(users)) => users,
            Some(_) => {
                tracing::warn!("notification settings: `users` is not an object; using defaults");
                return prefs;
            }
        };
        for (key, entry) in users {
            let Ok(user) = key.parse::<UserId>() else {
                tracing::warn!("notification settings: a `users` key is not a user id; ignored");
                continue;
            };
            prefs.users.insert(user, parse_user(entry));
        }
        prefs
    }

    /// The preferences of one user (the defaults when the user has no entry).
    pub fn user(&self, user: UserId) -> UserPreferences {
        self.users.get(&user).cloned().unwrap_or_default()
    }

    /// Whether `user` wants `kind` on `channel`.
    pub fn wants(&self, user: UserId, kind: EventKind, channel: Channel) -> bool {
        match self.users.get(&user) {
            Some(p) => p.wants(kind, channel),
            None => UserPreferences::default().wants(kind, channel),
        }
    }

    /// The users with an e-mail address who want `kind` by e-mail, with their address, in user-id order.
    /// Callers keep only the tenant's current users (see [`callbook_jobs::TenantStore::list_users`]).
    pub fn email_recipients(&self, kind: EventKind) -> Vec<(UserId, &str)> {
        self.users
            .iter()
            .filter(|(_, p)| p.wants(kind, Channel::Email))
            .filter_map(|(id, p)| p.email.as_deref().map(|e| (*id, e)))
            .collect()
    }
}

fn parse_user(entry: &Value) -> UserPreferences {
    let mut prefs = UserPreferences::default();
    let Some(object) = entry.as_object() else {
        tracing::warn!("notification settings: a user entry is not an object; using defaults for it");
        return prefs;
    };
    match object.get("email") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if !s.trim().is_empty() => prefs.email = Some(s.trim().to_owned()),
        Some(_) => tracing::warn!("notification settings: a user's `email` is not an address; ignored"),
    }
    prefs.channels = parse_list(object.get("channels"), "channels", Channel::parse);
    prefs.kinds = parse_list(object.get("kinds"), "kinds", EventKind::parse);
    prefs
}

fn parse_list<T: PartialEq>(
    value: Option<&Value>,
    field: &'static str,
    parse: impl Fn(&str) -> Option<T>,
) -> Option<Vec<T>> {
    match value {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for item in items {
                match item.as_str().and_then(&parse) {
                    Some(v) if !out.contains(&v) => out.push(v),
                    Some(_) => {}
                    None => tracing::warn!(field, "notification settings: unknown entry ignored"),
                }
            }
            Some(out)
        }
        Some(_) => {
            tracing::warn!(field, "notification settings: not a list; using the default");
            None
        }
    }
}
