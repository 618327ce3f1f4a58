//! The records of the webhooks function: endpoints, their signing secrets, deliveries and
//! attempts, and the retry schedule.

use base64::Engine;
use keyhive::auth::Environment;
use keyhive::change::EventType;
use keyhive::model::{is_prefixed_id, rfc3339, OrgId, Tenant};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fmt;
use time::{Duration, OffsetDateTime};

keyhive::prefixed_id!(WebhookId, "whk", "a webhook endpoint's id");

/// `dlv_` and 32 hex digits of SHA-256(event id, endpoint id): one delivery per (event, endpoint),
/// whoever fans the event out and however often, and the `webhook-id` receivers deduplicate on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeliveryId(String);

impl DeliveryId {
    pub fn of(event_id: &str, endpoint: &WebhookId) -> Self {
        let digest = Sha256::digest(format!("{event_id}\n{}", endpoint.as_str()));
        let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        DeliveryId(format!("dlv_{hex}"))
    }
    pub fn parse(s: &str) -> Option<Self> {
        is_prefixed_id(s, "dlv").then(|| DeliveryId(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A signing secret: 32 random bytes, shown once as `whsec_` + standard base64.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

impl SigningSecret {
    pub const BYTES: usize = 32;

    pub fn generate() -> Self {
        let mut bytes = vec![0u8; Self::BYTES];
        rand::fill(bytes.as_mut_slice());
        SigningSecret(bytes)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Option<Self> {
        (24..=64).contains(&bytes.len()).then_some(SigningSecret(bytes))
    }

    /// `whsec_<standard base64>`: what the caller sees, once.
    pub fn reveal(&self) -> String {
        format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(&self.0))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Which events an endpoint receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscription {
    /// `["*"]`: every event type, present and future.
    All,
    Only(BTreeSet<&'static str>),
}

impl Subscription {
    pub fn includes(&self, event_type: &str) -> bool {
        match self {
            Subscription::All => true,
            Subscription::Only(types) => types.contains(event_type),
        }
    }

    /// From the request's list: `["*"]`, or known event types (an unknown one names itself).
    pub fn parse(names: &[String]) -> Result<Self, String> {
        if names.is_empty() {
            return Err("must name at least one event type, or \"*\"".into());
        }
        if names.iter().any(|n| n == "*") {
            return if names.len() == 1 { Ok(Subscription::All) } else { Err("\"*\" stands alone".into()) };
        }
        let mut types = BTreeSet::new();
        for name in names {
            let known = EventType::parse(name).ok_or_else(|| format!("{name} is not an event type"))?;
            types.insert(known.as_str());
        }
        Ok(Subscription::Only(types))
    }

    pub fn names(&self) -> Vec<String> {
        match self {
            Subscription::All => vec!["*".into()],
            Subscription::Only(types) => types.iter().map(|t| t.to_string()).collect(),
        }
    }
}

/// A webhook endpoint of an organization and environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub id: WebhookId,
    pub org_id: OrgId,
    pub environment: Environment,
    pub url: String,
    pub events: Subscription,
    pub description: Option<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// The signing secret, sealed (never stored or logged in clear).
    pub sealed_secret: Vec<u8>,
    /// After a rotation, the previous secret and until when deliveries carry it too.
    pub previous: Option<(Vec<u8>, OffsetDateTime)>,
    /// Since when deliveries have failed without a success in between (5 days: disabled).
    pub failing_since: Option<OffsetDateTime>,
    pub last_success_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A URL as readers see it: where receivers keep a token, redacted. Query values become `***`
/// (names kept; a bare `?token` is all value), and so does every path segment of 16 characters
/// or more (Slack's, Discord's and Zapier's hook URLs carry their token in the path); the
/// fragment goes. Only the caller that sets a URL sees it whole, in its own request.
pub fn redacted_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else { return url.to_string() };
    let path: Vec<String> = parsed
        .path()
        .split('/')
        .map(|segment| if segment.len() >= REDACTED_SEGMENT_LEN { "***".to_string() } else { segment.to_string() })
        .collect();
    parsed.set_path(&path.join("/"));
    if let Some(query) = parsed.query() {
        let redacted: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) => format!("{name}=***"),
                None => "***".to_string(),
            })
            .collect();
        parsed.set_query(Some(&redacted.join("&")));
    }
    parsed.set_fragment(None);
    parsed.to_string()
}

/// Path segments this long are taken for tokens when a URL is shown to readers.
const REDACTED_SEGMENT_LEN: usize = 16;

impl Endpoint {
    /// Whose endpoint this is.
    pub fn tenant(&self) -> Tenant {
        Tenant::new(self.org_id.clone(), self.environment)
    }

    /// The public form: never the secret, and the URL's query values redacted.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id.as_str(),
            "url": redacted_url(&self.url),
            "events": self.events.names(),
            "description": self.description,
            "enabled": self.enabled,
            "disabled_reason": self.disabled_reason,
            "failing_since": self.failing_since.map(rfc3339),
            "last_success_at": self.last_success_at.map(rfc3339),
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
        })
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [DeliveryStatus::Pending, DeliveryStatus::Delivered, DeliveryStatus::Failed]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// One event on its way to one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: DeliveryId,
    pub endpoint_id: WebhookId,
    pub org_id: OrgId,
    pub environment: Environment,
    pub event_id: String,
    pub event_type: String,
    /// The body sent, exactly: `{"type", "timestamp", "data"}`.
    pub payload: String,
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    pub next_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

impl Delivery {
    /// Whose delivery this is (its endpoint's tenant, and its event's).
    pub fn tenant(&self) -> Tenant {
        Tenant::new(self.org_id.clone(), self.environment)
    }
}

/// One attempt's outcome, as `GET /v1/webhooks/{id}/deliveries` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub delivery_id: DeliveryId,
    pub event_id: String,
    pub event_type: String,
    pub attempt: u32,
    pub at: OffsetDateTime,
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<String>,
    pub next_retry_at: Option<OffsetDateTime>,
}

impl Attempt {
    pub fn to_json(&self) -> Value {
        json!({
            "delivery_id": self.delivery_id.as_str(),
            "event_id": self.event_id,
            "event_type": self.event_type,
            "attempt": self.attempt,
            "at": rfc3339(self.at),
            "status_code": self.status_code,
            "duration_ms": self.duration_ms,
            "error": self.error,
            "next_retry_at": self.next_retry_at.map(rfc3339),
        })
    }
}

/// The waits after each failed attempt (Svix's schedule): after the eighth attempt, no more.
pub const RETRY_SCHEDULE: [Duration; 7] = [
    Duration::seconds(5),
    Duration::minutes(5),
    Duration::minutes(30),
    Duration::hours(2),
    Duration::hours(5),
    Duration::hours(10),
    Duration::hours(10),
];

/// An endpoint failing this long without a success is disabled.
pub const DISABLE_AFTER: Duration = Duration::days(5);

/// When to try again after `attempts` failed ones (`None`: give up), with up to 20% jitter so
/// endpoints that failed together do not retry together; a `Retry-After` the endpoint asked for
/// (429, 503) is honoured when longer, up to a day.
pub fn next_attempt(
    attempts: u32,
    now: OffsetDateTime,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Option<OffsetDateTime> {
    let base = *RETRY_SCHEDULE.get(attempts.checked_sub(1)? as usize)?;
    let jittered = base + base * (jitter.clamp(0.0, 1.0) * 0.2);
    let wait = match retry_after {
        Some(asked) => jittered.max(asked.min(Duration::days(1))),
        None => jittered,
    };
    Some(now + wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_backs_off_then_gives_up_and_honours_retry_after() {
        let now = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(next_attempt(1, now, None, 0.0), Some(now + Duration::seconds(5)));
        assert_eq!(next_attempt(2, now, None, 0.0), Some(now + Duration::minutes(5)));
        assert_eq!(next_attempt(7, now, None, 0.0), Some(now + Duration::hours(10)));
        assert_eq!(next_attempt(8, now, None, 0.0), None, "eight attempts in all");
        assert_eq!(next_attempt(0, now, None, 0.0), None);
        let jittered = next_attempt(3, now, None, 1.0).unwrap();
        assert_eq!(jittered, now + Duration::minutes(36));
        assert_eq!(next_attempt(1, now, Some(Duration::seconds(120)), 0.0), Some(now + Duration::seconds(120)));
        assert_eq!(next_attempt(1, now, Some(Duration::days(9)), 0.0), Some(now + Duration::days(1)));
    }

    #[test]
    fn delivery_ids_are_one_per_event_and_endpoint() {
        let (a, b) = (WebhookId::generate(), WebhookId::generate());
        assert_eq!(DeliveryId::of("evt_1", &a), DeliveryId::of("evt_1", &a));
        assert_ne!(DeliveryId::of("evt_1", &a), DeliveryId::of("evt_1", &b));
        assert_ne!(DeliveryId::of("evt_1", &a), DeliveryId::of("evt_2", &a));
        assert!(DeliveryId::parse(DeliveryId::of("evt_1", &a).as_str()).is_some());
    }

    #[test]
    fn subscriptions_name_known_types_or_everything() {
        assert_eq!(Subscription::parse(&["*".into()]), Ok(Subscription::All));
        assert!(Subscription::parse(&["*".into(), "key.created".into()]).is_err());
        assert!(Subscription::parse(&[]).is_err());
        assert!(Subscription::parse(&["key.exploded".into()]).unwrap_err().contains("key.exploded"));
        let some = Subscription::parse(&["key.created".into(), "link.deleted".into()]).unwrap();
        assert!(some.includes("key.created") && !some.includes("key.revoked"));
    }

    #[test]
    fn query_values_are_redacted_and_names_kept() {
        assert_eq!(
            redacted_url("https://hooks.example.com/in?token=s3cret&team=a%20b"),
            "https://hooks.example.com/in?token=***&team=***"
        );
        assert_eq!(redacted_url("https://hooks.example.com/in"), "https://hooks.example.com/in");
        assert_eq!(redacted_url("https://hooks.example.com/in?s3cret&a=1"), "https://hooks.example.com/in?***&a=***");
        assert_eq!(
            redacted_url("https://hooks.slack.com/services/T0001/B0001/XXXXXXXXXXXXXXXXXXXXXXXX#frag"),
            "https://hooks.slack.com/services/T0001/B0001/***"
        );
        assert_eq!(
            redacted_url("https://example.com/api/webhooks/receive"),
            "https://example.com/api/webhooks/receive"
        );
    }

    #[test]
    fn secrets_are_whsec_base64_and_never_debug_printed() {
        let secret = SigningSecret::generate();
        let shown = secret.reveal();
        let encoded = shown.strip_prefix("whsec_").unwrap();
        assert_eq!(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap(), secret.as_bytes());
        assert!(!format!("{secret:?}").contains(encoded));
    }
}
