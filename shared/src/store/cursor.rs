//! List cursors: opaque and tamper-proof. A cursor is the position of the last item of a page,
//! sealed with AES-256-GCM under the server's cursor key and bound (as associated data) to the
//! list it came from: organization, environment, route and filters. Anything altered, truncated,
//! foreign or older than a day fails to open and is a 400 on `cursor`; its content never reaches
//! DynamoDB unchecked.
//!
//! The key comes from a Secrets Manager secret of its own, so functions that list but never
//! authenticate need not read the key-hashing secret.

use crate::error::ApiError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;

/// A cursor older than this is refused (the list has moved on; start again).
pub const MAX_AGE_SECONDS: i64 = 24 * 3600;
/// Longer cursor texts are refused before decoding.
pub const MAX_CURSOR_CHARS: usize = 1024;

/// The sealing key, derived from the cursor secret's value.
pub struct CursorKey(LessSafeKey);

impl fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CursorKey(<redacted>)")
    }
}

impl CursorKey {
    /// From the secret's bytes (at least 32, checked by the loader): SHA-256 of them is the key.
    pub fn from_secret(secret: &[u8]) -> Self {
        let digest = Sha256::digest(secret);
        // AES-256 takes exactly the 32 bytes SHA-256 gives.
        let unbound = UnboundKey::new(&AES_256_GCM, &digest).unwrap_or_else(|_| unreachable!("32-byte key"));
        CursorKey(LessSafeKey::new(unbound))
    }
}

/// The list a cursor belongs to; a cursor opens only for the same scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorScope {
    binding: String,
}

impl CursorScope {
    /// `route` names the list (the route's pattern); `filters` are the query's filter values in
    /// a fixed order (absent ones as empty strings).
    pub fn new(org_id: &str, environment: &str, route: &str, filters: &[(&str, &str)]) -> Self {
        let mut binding = format!("v1|{org_id}|{environment}|{route}");
        for (name, value) in filters {
            // Lengths keep `a|bc` and `ab|c` apart.
            binding.push_str(&format!("|{}:{name}={}:{value}", name.len(), value.len()));
        }
        CursorScope { binding }
    }
}

/// Where a page ended: the key attributes of its last item.
pub type Position = BTreeMap<String, String>;

fn invalid() -> ApiError {
    ApiError::validation("cursor", "is not a cursor this list returned, or has expired")
}

/// Seals `position` for `scope`, stamped with `now` (unix seconds).
pub fn seal(key: &CursorKey, scope: &CursorScope, position: &Position, now: i64) -> String {
    let mut plain = serde_json::to_vec(&serde_json::json!({ "p": position, "t": now })).unwrap_or_default();
    let mut nonce = [0u8; NONCE_LEN];
    rand::fill(&mut nonce);
    let sealed = key.0.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(scope.binding.as_bytes()),
        &mut plain,
    );
    if sealed.is_err() {
        // Only a message beyond AES-GCM's 64 GiB limit fails to seal.
        return String::new();
    }
    let mut out = nonce.to_vec();
    out.extend_from_slice(&plain);
    URL_SAFE_NO_PAD.encode(out)
}

/// Opens a cursor sealed for `scope`; any other text is a 400 on `cursor`.
pub fn open(key: &CursorKey, scope: &CursorScope, text: &str, now: i64) -> Result<Position, ApiError> {
    if text.is_empty() || text.len() > MAX_CURSOR_CHARS {
        return Err(invalid());
    }
    let mut bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
    if bytes.len() < NONCE_LEN {
        return Err(invalid());
    }
    let mut sealed = bytes.split_off(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(&bytes).map_err(|_| invalid())?;
    let plain = key.0.open_in_place(nonce, Aad::from(scope.binding.as_bytes()), &mut sealed).map_err(|_| invalid())?;
    #[derive(serde::Deserialize)]
    struct Sealed {
        p: Position,
        t: i64,
    }
    let Sealed { p, t } = serde_json::from_slice(plain).map_err(|_| invalid())?;
    if t > now + 60 || now - t > MAX_AGE_SECONDS {
        return Err(invalid());
    }
    Ok(p)
}

/// The key that seals list cursors, from a secret of its own (at least 32 bytes).
pub async fn load_cursor_key(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<CursorKey, crate::secrets::SecretError> {
    let bytes = crate::secrets::load_secret_bytes(client, secret_id).await?;
    if bytes.len() < 32 {
        return Err(crate::secrets::SecretError::TooShort(bytes.len()));
    }
    Ok(CursorKey::from_secret(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> CursorKey {
        CursorKey::from_secret(&[9; 32])
    }

    fn position() -> Position {
        Position::from([("PK".to_string(), "KEY#abc".to_string()), ("SK".to_string(), "KEY".to_string())])
    }

    #[test]
    fn a_cursor_opens_for_its_own_list_and_reveals_nothing() {
        let scope = CursorScope::new("org_a", "live", "/v1/keys", &[("created_by", "")]);
        let text = seal(&key(), &scope, &position(), 1_000);
        assert_eq!(open(&key(), &scope, &text, 1_010).unwrap(), position());
        assert!(
            !text.contains("KEY") && !String::from_utf8_lossy(&URL_SAFE_NO_PAD.decode(&text).unwrap()).contains("KEY#")
        );
        assert_ne!(seal(&key(), &scope, &position(), 1_000), text, "a fresh nonce every time");
    }

    #[test]
    fn altered_truncated_extended_foreign_or_expired_cursors_are_400_on_cursor() {
        let scope = CursorScope::new("org_a", "live", "/v1/keys", &[("created_by", "")]);
        let text = seal(&key(), &scope, &position(), 1_000);
        let mut flipped = URL_SAFE_NO_PAD.decode(&text).unwrap();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        let mut cases = vec![
            URL_SAFE_NO_PAD.encode(&flipped),
            text[..text.len() - 2].to_string(),
            format!("{text}AA"),
            String::new(),
            "not a cursor!".to_string(),
            "x".repeat(5000),
            "eyJQSyI6IktFWSNhYmMifQ".to_string(),
        ];
        cases.push(seal(&CursorKey::from_secret(&[8; 32]), &scope, &position(), 1_000));
        for case in &cases {
            let err = open(&key(), &scope, case, 1_010).unwrap_err();
            assert!(matches!(err, ApiError::Validation { ref field, .. } if field == "cursor"), "{case}");
        }
        for other in [
            CursorScope::new("org_b", "live", "/v1/keys", &[("created_by", "")]),
            CursorScope::new("org_a", "test", "/v1/keys", &[("created_by", "")]),
            CursorScope::new("org_a", "live", "/v1/members", &[("created_by", "")]),
            CursorScope::new("org_a", "live", "/v1/keys", &[("created_by", "AbCdEf123456")]),
        ] {
            assert!(open(&key(), &other, &text, 1_010).is_err(), "{other:?}");
        }
        assert!(open(&key(), &scope, &text, 1_000 + MAX_AGE_SECONDS + 1).is_err(), "expired");
    }

    #[test]
    fn debug_never_shows_the_key() {
        assert_eq!(format!("{:?}", key()), "CursorKey(<redacted>)");
    }
}
