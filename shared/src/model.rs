//! The kernel's values: ids (the `prefixed_id!` definition every resource's id uses, organization,
//! member and key ids), the tenant (organization and environment), key types and rate tiers, and
//! times. Plain values over the error type only: every other kernel module may use them. A
//! resource's own records live in its function crate; the stored key with `auth`.

use crate::error::ApiError;
use rand::Rng;
use std::fmt;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Now, to the second (stored and shown times carry no fractions).
pub fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

pub fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    // Checked: a time at the edge of year 9999 in a negative offset has no UTC form.
    OffsetDateTime::parse(s, &Rfc3339).ok().and_then(|t| t.checked_to_offset(time::UtcOffset::UTC))
}

/// `<prefix>_` and `n` random alphanumerics: the opaque ids of the API (`org_…`, `usr_…`).
pub fn random_id(prefix: &str, n: usize) -> String {
    let suffix: String = rand::rng().sample_iter(rand::distr::Alphanumeric).take(n).map(char::from).collect();
    format!("{prefix}_{suffix}")
}

/// Whether `s` has the shape of an opaque id of `random_id`: `<prefix>_` and 1..40 alphanumerics.
pub fn is_prefixed_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('_'))
        .is_some_and(|rest| !rest.is_empty() && rest.len() <= 40 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// An opaque id of the API: `<prefix>_` and 20 random alphanumerics when generated, parsed once
/// at the edge (`<prefix>_` and 1..40 alphanumerics) and carried typed from there. One
/// definition for every resource's id type:
/// `prefixed_id!(LinkId, "lnk", "a short link's id")`.
#[macro_export]
macro_rules! prefixed_id {
    ($name:ident, $prefix:literal, $what:literal) => {
        #[doc = concat!("`", $prefix, "_` and 20 alphanumerics: ", $what, ".")]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;
            pub fn generate() -> Self {
                $name($crate::model::random_id($prefix, 20))
            }
            pub fn parse(s: &str) -> Option<Self> {
                $crate::model::is_prefixed_id(s, $prefix).then(|| $name(s.to_string()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

prefixed_id!(OrgId, "org", "an organization's id");

/// Whose data a request or an item is: an organization and one of its environments (a `test` key
/// never sees `live` data). Every tenant-owned item records both, and is reached only by a caller
/// of the same tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tenant {
    pub org_id: OrgId,
    pub environment: Environment,
}

impl Tenant {
    pub fn new(org_id: OrgId, environment: Environment) -> Self {
        Tenant { org_id, environment }
    }

    /// Whether an item of `org_id` and `environment` is this tenant's: the one ownership check
    /// (anything else is answered as missing).
    pub fn owns(&self, org_id: &OrgId, environment: Environment) -> bool {
        self.org_id == *org_id && self.environment == environment
    }

    /// The attributes every tenant-owned item carries.
    pub fn attributes(&self) -> [(&'static str, &str); 2] {
        [("org_id", self.org_id.as_str()), ("environment", self.environment.as_str())]
    }
}

/// A file's id: `fil_` and 24 letters or digits. In the kernel because two functions name files:
/// the files function keeps them, a link's preview shows one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileId(String);

impl FileId {
    pub fn generate() -> Self {
        FileId(random_id("fil", 24))
    }

    pub fn parse(s: &str) -> Option<Self> {
        let rest = s.strip_prefix("fil_")?;
        (rest.len() == 24 && rest.bytes().all(|b| b.is_ascii_alphanumeric())).then(|| FileId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A member's id: given by the caller (`[A-Za-z0-9_-]{1,64}`) or generated as `usr_…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserId(String);

impl UserId {
    pub fn generate() -> Self {
        UserId(random_id("usr", 20))
    }
    pub fn parse(s: &str) -> Option<Self> {
        (!s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
            .then(|| UserId(s.into()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The length of a key id.
pub const KEY_ID_LEN: usize = 12;

/// The 12-character public identifier of a key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == KEY_ID_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric())).then(|| KeyId(s.to_string()))
    }

    /// A new key id from the OS CSPRNG (62^12, about 71 bits).
    pub fn generate() -> Self {
        KeyId(rand::rng().sample_iter(rand::distr::Alphanumeric).take(KEY_ID_LEN).map(char::from).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Environment {
    Live,
    Test,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Live => "live",
            Environment::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "live" => Some(Environment::Live),
            "test" => Some(Environment::Test),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    User,
    Bot,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::User => "user",
            KeyType::Bot => "bot",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(KeyType::User),
            "bot" => Some(KeyType::Bot),
            _ => None,
        }
    }
}

/// Rate-limit tiers: requests per key per one-minute window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Standard,
    Professional,
    /// Carries the key's own per-minute limit.
    Enterprise(u32),
}

pub const ENTERPRISE_MAX_PER_MINUTE: u32 = 100_000;

impl Tier {
    pub fn name(self) -> &'static str {
        match self {
            Tier::Standard => "standard",
            Tier::Professional => "professional",
            Tier::Enterprise(_) => "enterprise",
        }
    }

    pub fn limit_per_minute(self) -> u32 {
        match self {
            Tier::Standard => 100,
            Tier::Professional => 500,
            Tier::Enterprise(limit) => limit,
        }
    }

    /// From the stored or requested name and the enterprise limit (required for enterprise,
    /// refused otherwise).
    pub fn from_parts(name: &str, limit: Option<i64>) -> Result<Self, ApiError> {
        match (name, limit) {
            ("standard", None) => Ok(Tier::Standard),
            ("professional", None) => Ok(Tier::Professional),
            ("enterprise", Some(limit)) if (1..=ENTERPRISE_MAX_PER_MINUTE as i64).contains(&limit) => {
                Ok(Tier::Enterprise(limit as u32))
            }
            ("enterprise", Some(_)) => Err(ApiError::validation("rate_limit_per_minute", "must be 1..100000")),
            ("enterprise", None) => {
                Err(ApiError::validation("rate_limit_per_minute", "is required for the enterprise tier"))
            }
            ("standard" | "professional", Some(_)) => {
                Err(ApiError::validation("rate_limit_per_minute", "is only allowed with the enterprise tier"))
            }
            _ => Err(ApiError::validation("tier", "must be standard, professional or enterprise")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_map_to_limits_and_enterprise_needs_its_own() {
        assert_eq!(Tier::from_parts("standard", None).unwrap().limit_per_minute(), 100);
        assert_eq!(Tier::from_parts("professional", None).unwrap().limit_per_minute(), 500);
        assert_eq!(Tier::from_parts("enterprise", Some(2500)).unwrap().limit_per_minute(), 2500);
        assert!(Tier::from_parts("enterprise", None).is_err());
        assert!(Tier::from_parts("enterprise", Some(0)).is_err());
        assert!(Tier::from_parts("enterprise", Some(100_001)).is_err());
        assert!(Tier::from_parts("standard", Some(5)).is_err());
        assert!(Tier::from_parts("gold", None).is_err());
    }
}
