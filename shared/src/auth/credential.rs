//! API keys: the format `<prefix>_<live|test>_<key id>.<secret>`, minting, the keyed hash that is
//! all the store ever holds, and the typed values a key record is made of.

use crate::auth::secrets::HashingSecret;
use crate::http::error::ApiError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use std::fmt;
use subtle::ConstantTimeEq;

pub const KEY_ID_LEN: usize = 12;
pub const SECRET_BYTES: usize = 32;
/// base64url without padding of 32 bytes.
pub const SECRET_CHARS: usize = 43;
/// Longer credentials are refused before any parsing (prefix at most 16).
pub const MAX_CREDENTIAL_LEN: usize = 16 + 1 + 4 + 1 + KEY_ID_LEN + 1 + SECRET_CHARS;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// A presented credential, parsed. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub environment: Environment,
    pub key_id: KeyId,
    /// The full text, which is what gets hashed (binding prefix, environment and id to the secret).
    text: String,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credential({}_{}, <redacted>)", self.environment.as_str(), self.key_id)
    }
}

impl Credential {
    /// Parses `<prefix>_<live|test>_<key id>.<secret>` for this deployment's prefix. Anything
    /// else is `None`; callers answer 401 without saying why.
    pub fn parse(text: &str, expected_prefix: &str) -> Option<Self> {
        if text.len() > MAX_CREDENTIAL_LEN || !text.is_ascii() {
            return None;
        }
        let (public, secret) = text.split_once('.')?;
        let mut parts = public.split('_');
        let (prefix, environment, key_id) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || prefix != expected_prefix {
            return None;
        }
        let environment = Environment::parse(environment)?;
        let key_id = KeyId::parse(key_id)?;
        if secret.len() != SECRET_CHARS || URL_SAFE_NO_PAD.decode(secret).ok()?.len() != SECRET_BYTES {
            return None;
        }
        Some(Credential { environment, key_id, text: text.to_string() })
    }

    /// Mints a fresh credential for `key_id` (32 bytes from the OS CSPRNG).
    pub fn mint(prefix: &str, environment: Environment, key_id: KeyId) -> Self {
        let mut secret = [0u8; SECRET_BYTES];
        rand::fill(&mut secret);
        let text = format!("{prefix}_{}_{key_id}.{}", environment.as_str(), URL_SAFE_NO_PAD.encode(secret));
        Credential { environment, key_id, text }
    }

    /// The full key: returned to the caller once, at creation or roll, and never stored.
    pub fn reveal(&self) -> &str {
        &self.text
    }

    pub fn last4(&self) -> String {
        self.text[self.text.len() - 4..].to_string()
    }

    pub fn hash(&self, secret: &HashingSecret) -> SecretHash {
        SecretHash::of(self.text.as_bytes(), secret)
    }
}

/// HMAC-SHA256 of a credential under the server's hashing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretHash([u8; 32]);

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(<redacted>)")
    }
}

impl SecretHash {
    /// Stands for "no secret" (a revoked key): an HMAC output is never all zeros in practice.
    pub const NONE: SecretHash = SecretHash([0; 32]);

    fn of(data: &[u8], secret: &HashingSecret) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
        mac.update(data);
        SecretHash(mac.finalize().into_bytes().into())
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(SecretHash)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Constant-time equality: the comparison takes the same time wherever the bytes differ.
    pub fn matches(&self, other: &SecretHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

/// Parses, hashes and compares a presented key against a stored hash with no I/O (what the
/// benchmark `verify_key_ns_median` measures).
pub fn verify(text: &str, prefix: &str, secret: &HashingSecret, stored: &SecretHash) -> bool {
    Credential::parse(text, prefix).is_some_and(|c| c.hash(secret).matches(stored))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> HashingSecret {
        HashingSecret::new(vec![7; 32]).unwrap()
    }

    #[test]
    fn minted_keys_have_the_documented_shape_and_parse_back() {
        let c = Credential::mint("kh", Environment::Test, KeyId::generate());
        let text = c.reveal();
        assert!(text.starts_with("kh_test_"));
        let (public, secret_part) = text.split_once('.').unwrap();
        assert_eq!(public.len(), "kh_test_".len() + 12);
        assert_eq!(secret_part.len(), 43);
        assert!(!secret_part.contains('='));
        assert_eq!(Credential::parse(text, "kh"), Some(c.clone()));
        assert_eq!(c.last4(), &text[text.len() - 4..]);
    }

    #[test]
    fn two_mints_never_share_a_secret_or_id() {
        let a = Credential::mint("kh", Environment::Live, KeyId::generate());
        let b = Credential::mint("kh", Environment::Live, KeyId::generate());
        assert_ne!(a.reveal(), b.reveal());
        assert_ne!(a.key_id, b.key_id);
    }

    #[test]
    fn malformed_credentials_do_not_parse() {
        let good = Credential::mint("kh", Environment::Live, KeyId::parse("AbCdEf123456").unwrap());
        let text = good.reveal().to_string();
        let (public, secret_part) = text.split_once('.').unwrap();
        let cases = [
            String::new(),
            "kh_live_AbCdEf123456".to_string(),
            format!("hopx{}", &text[2..]),
            text.replace("_live_", "_prod_"),
            text.replace("AbCdEf123456", "AbCdEf12345"),
            text.replace("AbCdEf123456", "AbCdEf12345!"),
            format!("{public}.{}", &secret_part[..42]),
            format!("{public}.{secret_part}A"),
            format!("{public}.{}+", &secret_part[..42]),
            format!("{text}é"),
            format!("kh_live_x_{}", &text[8..]),
            "x".repeat(10_000),
        ];
        for case in cases {
            assert!(Credential::parse(&case, "kh").is_none(), "{case:?} parsed");
        }
    }

    #[test]
    fn verification_needs_the_same_key_and_the_same_server_secret() {
        let c = Credential::mint("kh", Environment::Live, KeyId::generate());
        let stored = c.hash(&secret());
        assert!(verify(c.reveal(), "kh", &secret(), &stored));
        let other_server = HashingSecret::new(vec![8; 32]).unwrap();
        assert!(!verify(c.reveal(), "kh", &other_server, &stored));
        let other = Credential::mint("kh", Environment::Live, c.key_id.clone());
        assert!(!verify(other.reveal(), "kh", &secret(), &stored));
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let c = Credential::mint("kh", Environment::Live, KeyId::generate());
        let secret_part = c.reveal().split_once('.').unwrap().1.to_string();
        assert!(!format!("{c:?}").contains(&secret_part));
        assert_eq!(format!("{:?}", c.hash(&secret())), "SecretHash(<redacted>)");
    }

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
