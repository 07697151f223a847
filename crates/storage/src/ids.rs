//! Opaque, path-safe identifiers and the location of a stored artefact.
//!
//! Tenant, call and customer ids come from other crates (the jobs crate uses UUIDs); this crate treats them as
//! opaque strings and only checks that they are safe to put in an object path: 1–128 bytes of ASCII letters,
//! digits, `-`, `_` and `.`, not starting with `.`. That rules out `/`, `..`, empty segments, percent signs
//! and anything object stores or file systems would reinterpret.
//!
//! **Tenant and customer ids must be lowercase**: on a case-insensitive file system (macOS, Windows) `Abc`
//! and `abc` would be the same directory, so two tenants could share blobs and keys. Uppercase is rejected
//! rather than silently lowercased (that would merge two distinct ids); `Uuid::to_string` is lowercase.
//! Call ids and object names keep their case (Twilio's `CA…`/`RE…` sids are case-sensitive and never
//! differ only in case); they only name objects inside one tenant, whose key scope is unaffected.

use std::fmt;

use crate::{Error, Result};

const MAX_ID_LEN: usize = 128;

fn validate(kind: &str, s: &str, lowercase_only: bool) -> Result<()> {
    if lowercase_only && s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(Error::InvalidInput(format!(
            "{kind} must be lowercase (ids differing only in case collide on case-insensitive file systems)"
        )));
    }
    if s.is_empty() || s.len() > MAX_ID_LEN {
        return Err(Error::InvalidInput(format!(
            "{kind} must be 1-{MAX_ID_LEN} bytes long"
        )));
    }
    if s.starts_with('.') {
        return Err(Error::InvalidInput(format!("{kind} must not start with '.'")));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(Error::InvalidInput(format!(
            "{kind} may contain only ASCII letters, digits, '-', '_' and '.'"
        )));
    }
    Ok(())
}

macro_rules! path_safe_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $lowercase_only:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps an id (see the [module docs](self) for the rules).
            pub fn new(id: impl Into<String>) -> Result<Self> {
                let id = id.into();
                validate($kind, &id, $lowercase_only)?;
                Ok(Self(id))
            }

            /// The id as given.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Self::new(s)
            }
        }
    };
}

path_safe_id!(
    /// A tenant (business account) id; lowercase only.
    TenantId,
    "tenant id",
    true
);
path_safe_id!(
    /// A call id (the jobs crate's call id, or a `CallSid`).
    CallId,
    "call id",
    false
);
path_safe_id!(
    /// A customer id, for per-customer data keys; lowercase only.
    CustomerId,
    "customer id",
    true
);
path_safe_id!(
    /// The name of one artefact within a call, e.g. the provider's recording sid `RE…` or `recording`.
    ObjectName,
    "object name",
    false
);

/// What kind of artefact a blob holds; retention policies are per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ArtefactKind {
    /// Call audio.
    Audio,
    /// A transcript (already PII-redacted by the caller).
    Transcript,
    /// An extraction result.
    Extraction,
}

impl ArtefactKind {
    /// Every kind, in path order.
    pub const ALL: [ArtefactKind; 3] = [
        ArtefactKind::Audio,
        ArtefactKind::Transcript,
        ArtefactKind::Extraction,
    ];

    /// The path segment for this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            ArtefactKind::Audio => "audio",
            ArtefactKind::Transcript => "transcript",
            ArtefactKind::Extraction => "extraction",
        }
    }

    /// Parses a path segment.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for ArtefactKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where one artefact lives: tenant, call, kind and name.
///
/// Stored at `tenants/{tenant}/calls/{call}/{kind}/{name}.cbenc` below the store's root; the same string
/// (without the extension) is written into the blob header and checked on read, so a blob copied or moved to
/// another location (another tenant's, say) is rejected as tampered.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordingKey {
    /// The owning tenant.
    pub tenant: TenantId,
    /// The call.
    pub call: CallId,
    /// The artefact kind.
    pub kind: ArtefactKind,
    /// The artefact's name within the call.
    pub name: ObjectName,
}

pub(crate) const BLOB_EXTENSION: &str = ".cbenc";

impl RecordingKey {
    /// A key for any kind.
    pub fn new(tenant: TenantId, call: CallId, kind: ArtefactKind, name: ObjectName) -> Self {
        Self {
            tenant,
            call,
            kind,
            name,
        }
    }

    /// The audio of a call, validating the three ids.
    pub fn audio(tenant: &str, call: &str, name: &str) -> Result<Self> {
        Ok(Self::new(
            TenantId::new(tenant)?,
            CallId::new(call)?,
            ArtefactKind::Audio,
            ObjectName::new(name)?,
        ))
    }

    /// `tenant/call/kind/name`: the identity bound into the blob header.
    pub fn canonical(&self) -> String {
        format!("{}/{}/{}/{}", self.tenant, self.call, self.kind, self.name)
    }

    /// The object path below the store root.
    pub(crate) fn object_path(&self) -> String {
        format!(
            "tenants/{}/calls/{}/{}/{}{BLOB_EXTENSION}",
            self.tenant, self.call, self.kind, self.name
        )
    }

    /// Parses an object path produced by [`RecordingKey::object_path`].
    pub(crate) fn from_object_path(path: &str) -> Option<Self> {
        let mut parts = path.split('/');
        let (t, tenant, c, call, kind, file) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        if t != "tenants" || c != "calls" || parts.next().is_some() {
            return None;
        }
        let name = file.strip_suffix(BLOB_EXTENSION)?;
        Some(Self::new(
            TenantId::new(tenant).ok()?,
            CallId::new(call).ok()?,
            ArtefactKind::parse(kind)?,
            ObjectName::new(name).ok()?,
        ))
    }
}

impl fmt::Display for RecordingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_reject_path_tricks() {
        for bad in [
            "",
            "..",
            ".hidden",
            "a/b",
            "a\\b",
            "a%2Fb",
            "a b",
            "é",
            "a\0",
            &"x".repeat(129),
        ] {
            assert!(TenantId::new(bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "0b9e5b7e-9c1d-4a57-a7a2-5f6a3e0c2b11",
            "ca123",
            "a.b_c-d",
            &"x".repeat(128),
        ] {
            assert!(TenantId::new(good).is_ok(), "{good:?} rejected");
        }
    }

    #[test]
    fn tenant_and_customer_ids_must_be_lowercase() {
        assert!(TenantId::new("Acme").is_err());
        assert!(CustomerId::new("0B9E5B7E-9C1D-4A57-A7A2-5F6A3E0C2B11").is_err());
        assert!(TenantId::new("acme").is_ok());
        // Provider sids keep their case.
        assert!(CallId::new("CA123").is_ok());
        assert!(ObjectName::new("RE123").is_ok());
    }

    #[test]
    fn object_paths_round_trip() {
        let key = RecordingKey::audio("t-1", "c.2", "RE3").unwrap();
        assert_eq!(key.object_path(), "tenants/t-1/calls/c.2/audio/RE3.cbenc");
        assert_eq!(RecordingKey::from_object_path(&key.object_path()), Some(key));
        assert_eq!(
            RecordingKey::from_object_path("tenants/t/calls/c/audio/x.txt"),
            None
        );
        assert_eq!(
            RecordingKey::from_object_path("tenants/t/calls/c/video/x.cbenc"),
            None
        );
        assert_eq!(RecordingKey::from_object_path("keys/t/tenant.dek"), None);
    }
}
