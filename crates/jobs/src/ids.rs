//! Identifier newtypes. Every id is a UUID v7 (time-ordered), so ids sort roughly by creation time and index
//! well; the newtypes stop a [`JobId`] from being passed where a [`CustomerId`] is expected.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, sqlx::Type)]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id (UUID v7).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            /// Wraps an existing UUID.
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            /// The UUID inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "({})"), self.0)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

id_type!(
    /// A tenant (one business account).
    TenantId, "TenantId"
);
id_type!(
    /// A user of a tenant (staff login).
    UserId, "UserId"
);
id_type!(
    /// A phone line owned by a tenant.
    PhoneLineId, "PhoneLineId"
);
id_type!(
    /// A call (one inbound call leg).
    CallId, "CallId"
);
id_type!(
    /// A deduplicated customer.
    CustomerId, "CustomerId"
);
id_type!(
    /// A job (work order on the board).
    JobId, "JobId"
);
id_type!(
    /// A note on a job.
    NoteId, "NoteId"
);
id_type!(
    /// A photo attached to a job.
    PhotoId, "PhotoId"
);
id_type!(
    /// A correction of an extracted field.
    CorrectionId, "CorrectionId"
);
id_type!(
    /// A suggestion that two customers are the same person.
    MergeSuggestionId, "MergeSuggestionId"
);
id_type!(
    /// A performed (and possibly undone) customer merge.
    MergeId, "MergeId"
);
id_type!(
    /// A staff notification.
    NotificationId, "NotificationId"
);
id_type!(
    /// A login session (cookie).
    SessionId, "SessionId"
);
id_type!(
    /// An API token of a tenant.
    ApiTokenId, "ApiTokenId"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_order_by_creation() {
        let a = JobId::new();
        let b = JobId::new();
        assert!(a < b, "v7 ids are time ordered");
        assert_eq!(a.to_string().parse::<JobId>().unwrap(), a);
        assert!(format!("{a:?}").starts_with("JobId("));
        assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{a}\""));
    }
}
