//! Leaked keys: GitHub's secret-scanning partner callback (`POST /v1/secret-scanning/github`).
//! A report signed by GitHub naming a key of this deployment with its right secret revokes the
//! key at once, in one transaction with `key.leaked`, `key.revoked` and an audit entry whose
//! actor is `secret-scanning`. GitHub's keys are fetched from a configurable source on first
//! need and kept for the instance.

use crate::github::{self, GitHubKeys, Label, Report};
use crate::model::key_json;
use crate::store::{KeyAdminStore, KeyChange};
use base64::Engine;
use http_body_util::{BodyExt, Limited};
use keyhive::auth::secrets::HashingSecret;
use keyhive::auth::{Credential, KeyRecord};
use keyhive::change::{AuditAction, Change, EventType};
use keyhive::http::body::MAX_JSON_BODY_BYTES;
use keyhive::http::routes::KeysOp;
use keyhive::model::rfc3339;
use keyhive::store::ChangeError;
use keyhive::{ApiError, ApiState, Call, Reply};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Where GitHub publishes its secret-scanning keys.
pub const GITHUB_KEYS_URL: &str = "https://api.github.com/meta/public_keys/secret_scanning";
/// How long fetched keys are trusted before they are fetched again.
const KEYS_TTL: Duration = Duration::from_secs(6 * 3600);
/// An unknown key id refetches (GitHub rotated its keys) at most this often: a forged id cannot
/// make every request a fetch.
const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(60);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// GitHub's document is a few hundred bytes per key.
const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// The audit trail's actor for revocations made on GitHub's report.
pub const ACTOR: &str = "secret-scanning";

/// GitHub's keys, from `url`, cached per instance.
#[derive(Debug)]
pub struct GitHubKeySource {
    url: String,
    /// `http://` allowed (the local stack and tests serve the document themselves).
    dev_mode: bool,
    cached: Mutex<Cache>,
}

#[derive(Debug, Default)]
struct Cache {
    fetched: Option<Fetched>,
    /// The last fetch tried, failed ones included: no fetch follows another within
    /// `REFETCH_AT_MOST_EVERY`, however many reports (forged ones too) arrive.
    tried: Option<Instant>,
}

#[derive(Debug)]
struct Fetched {
    keys: Arc<GitHubKeys>,
    at: Instant,
}

/// GitHub's own keys, over HTTPS only.
impl Default for GitHubKeySource {
    fn default() -> Self {
        GitHubKeySource::new(GITHUB_KEYS_URL, false)
    }
}

impl GitHubKeySource {
    pub fn new(url: impl Into<String>, dev_mode: bool) -> Self {
        GitHubKeySource { url: url.into(), dev_mode, cached: Mutex::new(Cache::default()) }
    }

    /// `KEYHIVE_GITHUB_KEYS_URL`, or GitHub's own.
    pub fn from_env(dev_mode: bool) -> Self {
        let url = std::env::var("KEYHIVE_GITHUB_KEYS_URL").ok().filter(|v| !v.trim().is_empty());
        GitHubKeySource::new(url.unwrap_or_else(|| GITHUB_KEYS_URL.to_string()), dev_mode)
    }

    /// The keys that may have signed with `key_identifier`: the cached ones, fetched again when
    /// stale, or when they lack that id and were not fetched within the last minute.
    async fn keys_for(&self, key_identifier: &str) -> Result<Arc<GitHubKeys>, ApiError> {
        let mut cache = self.cached.lock().await;
        let may_fetch = cache.tried.is_none_or(|tried| tried.elapsed() >= REFETCH_AT_MOST_EVERY);
        if let Some(fetched) = &cache.fetched {
            let fresh = fetched.at.elapsed() < KEYS_TTL;
            if (fresh && fetched.keys.contains(key_identifier)) || !may_fetch {
                return Ok(fetched.keys.clone());
            }
        }
        if !may_fetch {
            return Err(ApiError::Unavailable("GitHub's secret-scanning keys are unreachable".into()));
        }
        cache.tried = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                let keys = Arc::new(keys);
                cache.fetched = Some(Fetched { keys: keys.clone(), at: Instant::now() });
                Ok(keys)
            }
            Err(err) => {
                tracing::error!(url = %self.url, error = %err, "cannot fetch GitHub's secret-scanning keys");
                // Stale keys still verify what they signed; none at all is a dependency down.
                match &cache.fetched {
                    Some(fetched) => Ok(fetched.keys.clone()),
                    None => Err(ApiError::Unavailable("GitHub's secret-scanning keys are unreachable".into())),
                }
            }
        }
    }

    async fn fetch(&self) -> Result<GitHubKeys, Box<dyn std::error::Error + Send + Sync>> {
        let uri: http::Uri = self.url.parse()?;
        let https = hyper_rustls::HttpsConnectorBuilder::new().with_native_roots()?;
        let connector = match self.dev_mode {
            true => https.https_or_http().enable_http1().build(),
            false => https.https_only().enable_http1().build(),
        };
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build::<_, http_body_util::Empty<hyper::body::Bytes>>(connector);
        let request = http::Request::get(uri)
            .header(http::header::USER_AGENT, "keyhive-secret-scanning")
            .header(http::header::ACCEPT, "application/json")
            .body(http_body_util::Empty::new())?;
        let response = tokio::time::timeout(FETCH_TIMEOUT, client.request(request)).await??;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()).into());
        }
        let body =
            tokio::time::timeout(FETCH_TIMEOUT, Limited::new(response.into_body(), MAX_DOCUMENT_BYTES).collect())
                .await?
                .map_err(|e| e.to_string())?
                .to_bytes();
        Ok(GitHubKeys::parse(&body)?)
    }
}

/// `POST /v1/secret-scanning/github`: verifies GitHub's signature over the raw body, then labels
/// (and, for this deployment's keys with their right secret, revokes) each reported token.
pub async fn report(api: &ApiState, github: &GitHubKeySource, call: &Call<KeysOp>) -> Result<Reply, ApiError> {
    let header = |name: &str| {
        let mut values = call.request.headers().get_all(name).iter();
        match (values.next(), values.next()) {
            (Some(value), None) => value.to_str().ok().map(str::trim).filter(|v| !v.is_empty()),
            _ => None,
        }
    };
    let (Some(key_identifier), Some(signature)) =
        (header("github-public-key-identifier"), header("github-public-key-signature"))
    else {
        return Err(ApiError::Unauthorized);
    };
    // What could not be GitHub's is refused before anything is fetched: a key id is a short
    // token, a P-256 signature at most 72 bytes of DER.
    let plausible_id = key_identifier.len() <= 128
        && key_identifier.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let plausible_signature = signature.len() <= 128
        && base64::engine::general_purpose::STANDARD.decode(signature).is_ok_and(|der| (8..=72).contains(&der.len()));
    if !plausible_id || !plausible_signature {
        return Err(ApiError::Unauthorized);
    }
    let body = call.request.body().as_ref();
    if body.len() > MAX_JSON_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge { limit: MAX_JSON_BODY_BYTES });
    }
    let keys = github.keys_for(key_identifier).await?;
    keys.verify(key_identifier, signature, body).map_err(|_| ApiError::Unauthorized)?;
    let reports = github::parse_reports(body).map_err(|err| ApiError::validation("body", err.to_string()))?;
    let secret = api.hashing_secret().await?;
    let mut labels = Vec::with_capacity(reports.len());
    for report in &reports {
        labels.push(label(api, secret, report, call.request_id.as_str()).await?);
    }
    let results: Vec<(&Report, Label)> = reports.iter().zip(labels).collect();
    Ok(Reply::foreign_json(github::answer(&results)))
}

/// A reported token's label, revoking the key when it is a live key of this deployment with its
/// right secret (current, or a rolled-out one still in its grace).
async fn label(api: &ApiState, secret: &HashingSecret, report: &Report, request_id: &str) -> Result<Label, ApiError> {
    let Some(credential) =
        report.may_be_key().then(|| Credential::parse(&report.token, &api.config.key_prefix)).flatten()
    else {
        return Ok(Label::FalsePositive);
    };
    let presented = credential.hash(secret);
    // A revocation that meets a concurrent change reads the key again (a few times at most).
    for _ in 0..3 {
        let now = keyhive::model::now();
        let Some((key, leaked)) = api.store.key_with_leak(&credential.key_id).await? else {
            return Ok(Label::FalsePositive);
        };
        if key.revoked_at.is_some() {
            // Reported again after its revocation: still GitHub's true positive, nothing to do.
            return Ok(match leaked.is_some_and(|hash| hash.matches(&presented)) {
                true => Label::TruePositive,
                false => Label::FalsePositive,
            });
        }
        let rolled_out = key
            .previous
            .as_ref()
            .is_some_and(|(hash, until)| *until > now.unix_timestamp() && hash.matches(&presented));
        if key.environment != credential.environment || !(key.secret_hash.matches(&presented) || rolled_out) {
            return Ok(Label::FalsePositive);
        }
        match revoke_leaked(api, &key, presented.clone(), report, request_id, now).await {
            Ok(()) => return Ok(Label::TruePositive),
            Err(ChangeError::Stale | ChangeError::NotFound) => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(ApiError::Unavailable("the key kept changing during its revocation".into()))
}

async fn revoke_leaked(
    api: &ApiState,
    key: &KeyRecord,
    leaked: keyhive::auth::SecretHash,
    report: &Report,
    request_id: &str,
    now: time::OffsetDateTime,
) -> Result<(), ChangeError> {
    let by = Change::system(key.org_id.clone(), key.environment, request_id, now).acting_as(ACTOR);
    let meta = api.store.get_key_meta(&key.key_id).await?;
    let mut leaked_data = key_json(key, &meta);
    leaked_data["revoked_at"] = json!(rfc3339(now));
    leaked_data["url"] = json!(report.url);
    leaked_data["source"] = json!(report.source);
    let revoked = json!({ "id": key.key_id.as_str(), "revoked_at": rfc3339(now), "reason": "key.leaked" });
    let mut log = by.log(
        key.environment,
        AuditAction::KeyLeaked,
        key.key_id.as_str(),
        Some(by.event(key.environment, EventType::KeyLeaked, leaked_data)),
    );
    log.events.push(by.event(key.environment, EventType::KeyRevoked, revoked));
    api.store.change_key(key, &KeyChange::Revoke { at: now, leaked: Some(leaked) }, &log).await
}
