//! API keys: the format `<prefix>_<live|test>_<key id>.<secret>`, minting, the keyed hash that is
//! all the store ever holds, and the typed values a key record is made of.

use crate::auth::secrets::HashingSecret;
use crate::model::{Environment, KeyId, KEY_ID_LEN};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use subtle::ConstantTimeEq;

pub const SECRET_BYTES: usize = 32;
/// base64url without padding of 32 bytes.
pub const SECRET_CHARS: usize = 43;
/// Longer credentials are refused before any parsing (prefix at most 16).
pub const MAX_CREDENTIAL_LEN: usize = 16 + 1 + 4 + 1 + KEY_ID_LEN + 1 + SECRET_CHARS;

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

    /// The hash of presented text that is not a key (a verification's malformed input): the
    /// same work as a key's, so that refusing it takes as long (at most a key's length hashed).
    pub fn of_text(text: &str, secret: &HashingSecret) -> Self {
        let bytes = text.as_bytes();
        Self::of(&bytes[..bytes.len().min(MAX_CREDENTIAL_LEN)], secret)
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
}
