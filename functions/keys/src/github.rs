//! GitHub secret-scanning partner reports: checking GitHub's signature over the raw body, reading
//! the reported tokens, and writing the answer GitHub expects. Pure logic; fetching GitHub's key
//! document and revoking keys are the caller's.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt;

/// The DER of a P-256 SubjectPublicKeyInfo up to its point: SEQUENCE { SEQUENCE { id-ecPublicKey,
/// prime256v1 }, BIT STRING (66 bytes, no unused bits) }. Anything else is not a key we can use.
const SPKI_P256_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
    0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
const PEM_BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
const PEM_END: &str = "-----END PUBLIC KEY-----";
/// A DER ECDSA P-256 signature is at most 72 bytes (96 in base64): longer headers are not decoded.
const MAX_SIGNATURE_B64: usize = 128;

/// GitHub sends reports in batches; a larger one is not GitHub's.
pub const MAX_REPORTS: usize = 100;
/// Longer than any key of this deployment: such a token is kept (GitHub wants an answer for each)
/// and labelled a false positive without a lookup (see [`Report::may_be_key`]).
pub const MAX_TOKEN_CHARS: usize = 512;
pub const MAX_TYPE_CHARS: usize = 128;
pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_SOURCE_CHARS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeysError {
    #[error("GitHub's key document is not the expected JSON")]
    Malformed,
    #[error("GitHub's key document holds no P-256 key")]
    NoUsableKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Not in the document we hold: the caller may refetch it once (GitHub rotates keys).
    #[error("the signing key is not one of GitHub's published keys")]
    UnknownKey,
    #[error("the signature is not base64")]
    Malformed,
    #[error("the signature does not match the body")]
    Invalid,
}

/// GitHub's published keys, parsed once per fetch: key identifier -> uncompressed P-256 point
/// (`0x04 || X || Y`, what ring verifies with).
#[derive(Debug, Clone)]
pub struct GitHubKeys {
    points: HashMap<String, [u8; 65]>,
}

#[derive(serde::Deserialize)]
struct KeyDocument {
    public_keys: Vec<PublishedKey>,
}

#[derive(serde::Deserialize)]
struct PublishedKey {
    key_identifier: String,
    key: String,
}

impl GitHubKeys {
    /// Every listed key counts, current or not: a report may be signed with a key being retired.
    /// A key that is not a P-256 SPKI PEM is skipped, so a new key type does not lock out the rest;
    /// an entry without `key_identifier` or `key` makes the document malformed.
    pub fn parse(document: &[u8]) -> Result<GitHubKeys, KeysError> {
        let document: KeyDocument = serde_json::from_slice(document).map_err(|_| KeysError::Malformed)?;
        let points: HashMap<_, _> =
            document.public_keys.into_iter().filter_map(|k| Some((k.key_identifier, p256_point(&k.key)?))).collect();
        if points.is_empty() {
            return Err(KeysError::NoUsableKey);
        }
        Ok(GitHubKeys { points })
    }

    /// On a miss the caller may refetch the document, rate-limited: key ids come from the request,
    /// so a forged one must not cost a fetch each time.
    pub fn contains(&self, key_identifier: &str) -> bool {
        self.points.contains_key(key_identifier)
    }

    /// Checks the `Github-Public-Key-Signature` header against the raw body bytes (before any
    /// parsing: the signature is over exactly what was sent).
    pub fn verify(&self, key_identifier: &str, signature_b64: &str, body: &[u8]) -> Result<(), SignatureError> {
        let point = self.points.get(key_identifier).ok_or(SignatureError::UnknownKey)?;
        let signature_b64 = signature_b64.trim();
        if signature_b64.len() > MAX_SIGNATURE_B64 {
            return Err(SignatureError::Malformed);
        }
        let signature = STANDARD.decode(signature_b64).map_err(|_| SignatureError::Malformed)?;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point)
            .verify(body, &signature)
            .map_err(|_| SignatureError::Invalid)
    }
}

/// The point of a P-256 SPKI in PEM; `None` for anything else (other curves, other algorithms,
/// explicit curve parameters, trailing bytes).
fn p256_point(pem: &str) -> Option<[u8; 65]> {
    let body = pem.trim().strip_prefix(PEM_BEGIN)?.strip_suffix(PEM_END)?;
    let b64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = STANDARD.decode(b64).ok()?;
    let point: [u8; 65] = der.strip_prefix(&SPKI_P256_PREFIX[..])?.try_into().ok()?;
    (point[0] == 0x04).then_some(point)
}

/// One reported token. `Debug` never shows the token: reports end up in logs.
#[derive(serde::Deserialize)]
pub struct Report {
    pub token: String,
    #[serde(rename = "type")]
    pub token_type: String,
    pub url: Option<String>,
    pub source: Option<String>,
}

impl Report {
    /// False for a token too long to be a key of ours: the caller answers false positive without
    /// hashing or looking it up.
    pub fn may_be_key(&self) -> bool {
        self.token.chars().count() <= MAX_TOKEN_CHARS
    }
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Report")
            .field("token", &format_args!("<{} chars>", self.token.chars().count()))
            .field("token_type", &self.token_type)
            .field("url", &self.url)
            .field("source", &self.source)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportsError {
    /// Only the position: serde's message may quote a token.
    #[error("the body is not a JSON array of reports (line {line}, column {column})")]
    Malformed { line: usize, column: usize },
    #[error("at most {MAX_REPORTS} reports in one request, got {0}")]
    TooMany(usize),
    #[error("report {index}: `{field}` is longer than {max} characters")]
    TooLong { index: usize, field: &'static str, max: usize },
}

/// Reads a verified body. Over-long `type`, `url` or `source` refuse the batch (not GitHub's
/// format); an over-long token is kept (see [`MAX_TOKEN_CHARS`]).
pub fn parse_reports(body: &[u8]) -> Result<Vec<Report>, ReportsError> {
    let reports: Vec<Report> =
        serde_json::from_slice(body).map_err(|e| ReportsError::Malformed { line: e.line(), column: e.column() })?;
    if reports.len() > MAX_REPORTS {
        return Err(ReportsError::TooMany(reports.len()));
    }
    for (index, report) in reports.iter().enumerate() {
        let fields = [
            ("type", Some(&report.token_type), MAX_TYPE_CHARS),
            ("url", report.url.as_ref(), MAX_URL_CHARS),
            ("source", report.source.as_ref(), MAX_SOURCE_CHARS),
        ];
        for (field, value, max) in fields {
            if value.is_some_and(|v| v.chars().count() > max) {
                return Err(ReportsError::TooLong { index, field, max });
            }
        }
    }
    Ok(reports)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    TruePositive,
    FalsePositive,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Label::TruePositive => "true_positive",
            Label::FalsePositive => "false_positive",
        }
    }
}

/// GitHub's answer format (not the envelope): one entry per reported token.
pub fn answer(results: &[(&Report, Label)]) -> Value {
    Value::Array(
        results
            .iter()
            .map(|(r, label)| json!({"token_raw": r.token, "token_type": r.token_type, "label": label.as_str()}))
            .collect(),
    )
}

/// Signing like GitHub, for tests (unit and integration, hence not `cfg(test)`). It only signs
/// with a key pair it generated itself: it holds no GitHub key and cannot forge a real report.
pub mod testing {
    use super::{PEM_BEGIN, PEM_END, SPKI_P256_PREFIX, STANDARD};
    use base64::Engine;
    use ring::error::Unspecified;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};

    pub struct SigningKey {
        pair: EcdsaKeyPair,
        rng: SystemRandom,
    }

    impl SigningKey {
        /// A fresh P-256 key pair; an error means the system's randomness failed.
        pub fn generate() -> Result<SigningKey, Unspecified> {
            let rng = SystemRandom::new();
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)?;
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
                .map_err(|_| Unspecified)?;
            Ok(SigningKey { pair, rng })
        }

        /// A key pair from its PKCS#8 document (a test's fixed key, so that an instance that
        /// cached the published keys still verifies a later run's reports).
        pub fn from_pkcs8(pkcs8: &[u8]) -> Result<SigningKey, Unspecified> {
            let rng = SystemRandom::new();
            let pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8, &rng).map_err(|_| Unspecified)?;
            Ok(SigningKey { pair, rng })
        }

        /// The SubjectPublicKeyInfo DER, as GitHub publishes it (in PEM).
        pub fn spki(&self) -> Vec<u8> {
            [&SPKI_P256_PREFIX[..], self.pair.public_key().as_ref()].concat()
        }

        /// A key document holding this key alone.
        pub fn key_document(&self, key_identifier: &str) -> String {
            document(&[(key_identifier, &self.spki()[..])])
        }

        /// The `Github-Public-Key-Signature` header for `body`.
        pub fn sign(&self, body: &[u8]) -> Result<String, Unspecified> {
            Ok(STANDARD.encode(self.pair.sign(&self.rng, body)?))
        }
    }

    /// A key document in GitHub's shape from (key identifier, SPKI DER) pairs, the first current.
    pub fn document(keys: &[(&str, &[u8])]) -> String {
        let keys: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(i, (id, der))| serde_json::json!({"key_identifier": id, "key": pem(der), "is_current": i == 0}))
            .collect();
        serde_json::json!({ "public_keys": keys }).to_string()
    }

    /// PEM with 64-character lines, as GitHub writes it.
    fn pem(der: &[u8]) -> String {
        let mut out = format!("{PEM_BEGIN}\n");
        for (i, c) in STANDARD.encode(der).chars().enumerate() {
            if i > 0 && i % 64 == 0 {
                out.push('\n');
            }
            out.push(c);
        }
        out.push_str(&format!("\n{PEM_END}\n"));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{document, SigningKey};
    use super::*;

    const BODY: &[u8] = br#"[{"token":"kh_live_abc","type":"keyhive","url":"https://x.test","source":"content"}]"#;

    fn keys_for(key: &SigningKey, id: &str) -> GitHubKeys {
        GitHubKeys::parse(key.key_document(id).as_bytes()).unwrap()
    }

    #[test]
    fn a_signed_body_verifies_and_its_document_looks_like_githubs() {
        let key = SigningKey::generate().unwrap();
        let github_like = r#""key":"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"#;
        assert!(key.key_document("k1").contains(github_like));
        let keys = keys_for(&key, "k1");
        assert!(keys.contains("k1"));
        assert_eq!(keys.verify("k1", &key.sign(BODY).unwrap(), BODY), Ok(()));
    }

    #[test]
    fn a_changed_body_or_another_keys_signature_is_invalid() {
        let key = SigningKey::generate().unwrap();
        let other = SigningKey::generate().unwrap();
        let keys = keys_for(&key, "k1");
        let mut changed = BODY.to_vec();
        changed[3] ^= 1;
        assert_eq!(keys.verify("k1", &key.sign(BODY).unwrap(), &changed), Err(SignatureError::Invalid));
        assert_eq!(keys.verify("k1", &other.sign(BODY).unwrap(), BODY), Err(SignatureError::Invalid));
        assert_eq!(keys.verify("k1", &STANDARD.encode(b"not der"), BODY), Err(SignatureError::Invalid));
    }

    #[test]
    fn an_unknown_key_or_garbage_signature_is_refused() {
        let key = SigningKey::generate().unwrap();
        let keys = keys_for(&key, "k1");
        let signature = key.sign(BODY).unwrap();
        assert!(!keys.contains("k2"));
        assert_eq!(keys.verify("k2", &signature, BODY), Err(SignatureError::UnknownKey));
        assert_eq!(keys.verify("k1", "not base64!", BODY), Err(SignatureError::Malformed));
        assert_eq!(keys.verify("k1", &"A".repeat(200), BODY), Err(SignatureError::Malformed));
    }

    #[test]
    fn a_document_with_two_keys_verifies_against_either() {
        let (a, b) = (SigningKey::generate().unwrap(), SigningKey::generate().unwrap());
        let both = document(&[("a", &a.spki()[..]), ("b", &b.spki()[..])]);
        let keys = GitHubKeys::parse(both.as_bytes()).unwrap();
        assert_eq!(keys.verify("a", &a.sign(BODY).unwrap(), BODY), Ok(()));
        assert_eq!(keys.verify("b", &b.sign(BODY).unwrap(), BODY), Ok(()));
        assert_eq!(keys.verify("a", &b.sign(BODY).unwrap(), BODY), Err(SignatureError::Invalid));
    }

    #[test]
    fn keys_that_are_not_p256_spki_are_skipped_and_a_document_of_only_those_refused() {
        let good = SigningKey::generate().unwrap();
        let mut other_curve = good.spki();
        other_curve[20] ^= 1; // another curve OID, same length
        let trailing = [good.spki(), vec![0]].concat();
        let only_bad = document(&[("x", &other_curve[..]), ("y", &trailing[..]), ("z", &b"short"[..])]);
        assert_eq!(GitHubKeys::parse(only_bad.as_bytes()).unwrap_err(), KeysError::NoUsableKey);

        let mixed = document(&[("x", &other_curve[..]), ("good", &good.spki()[..])]);
        let keys = GitHubKeys::parse(mixed.as_bytes()).unwrap();
        assert!(!keys.contains("x"));
        assert_eq!(keys.verify("x", &good.sign(BODY).unwrap(), BODY), Err(SignatureError::UnknownKey));
        assert_eq!(keys.verify("good", &good.sign(BODY).unwrap(), BODY), Ok(()));
    }

    #[test]
    fn a_document_not_in_githubs_shape_is_malformed() {
        let docs: [&[u8]; 4] = [b"[]", b"{}", b"not json", br#"{"public_keys":[{"key":"x"}]}"#];
        for doc in docs {
            assert_eq!(GitHubKeys::parse(doc).unwrap_err(), KeysError::Malformed);
        }
        assert_eq!(GitHubKeys::parse(br#"{"public_keys":[]}"#).unwrap_err(), KeysError::NoUsableKey);
    }

    fn reports_body(n: usize, token: &str, kind: &str, url: &str, source: &str) -> Vec<u8> {
        let one = json!({"token": token, "type": kind, "url": url, "source": source});
        serde_json::to_vec(&vec![one; n]).unwrap()
    }

    #[test]
    fn reports_are_bounded() {
        let ok = |n, t: &str, k: &str, u: &str, s: &str| parse_reports(&reports_body(n, t, k, u, s));
        let reports = ok(MAX_REPORTS, "t", &"k".repeat(128), &"u".repeat(2048), &"s".repeat(64)).unwrap();
        assert_eq!(reports.len(), MAX_REPORTS);
        assert!(reports[0].may_be_key());
        assert_eq!(ok(MAX_REPORTS + 1, "t", "k", "u", "s").unwrap_err(), ReportsError::TooMany(101));
        let too_long = |field, max| ReportsError::TooLong { index: 0, field, max };
        assert_eq!(ok(1, "t", &"k".repeat(129), "u", "s").unwrap_err(), too_long("type", 128));
        assert_eq!(ok(1, "t", "k", &"u".repeat(2049), "s").unwrap_err(), too_long("url", 2048));
        assert_eq!(ok(1, "t", "k", "u", &"s".repeat(65)).unwrap_err(), too_long("source", 64));

        let long = ok(1, &"t".repeat(513), "k", "u", "s").unwrap();
        assert!(!long[0].may_be_key());
        assert!(parse_reports(b"[]").unwrap().is_empty());
        let bare = parse_reports(br#"[{"token":"t","type":"k"}]"#).unwrap();
        assert_eq!((bare[0].url.as_deref(), bare[0].source.as_deref()), (None, None));
        assert!(matches!(parse_reports(br#"{"token":"t"}"#), Err(ReportsError::Malformed { .. })));
        assert!(matches!(parse_reports(br#"[{"type":"k"}]"#), Err(ReportsError::Malformed { .. })));
    }

    #[test]
    fn a_reports_debug_never_shows_its_token() {
        let reports = parse_reports(BODY).unwrap();
        let shown = format!("{:?}", reports[0]);
        assert!(!shown.contains("kh_live_abc") && shown.contains("<11 chars>"), "{shown}");
        let error = parse_reports(br#"[{"token":"kh_live_abc","type":5}]"#).unwrap_err();
        assert!(!error.to_string().contains("kh_live_abc"));
    }

    #[test]
    fn the_answer_is_githubs_format() {
        let reports = parse_reports(br#"[{"token":"a","type":"t1"},{"token":"b","type":"t2"}]"#).unwrap();
        let value = answer(&[(&reports[0], Label::TruePositive), (&reports[1], Label::FalsePositive)]);
        assert_eq!(
            value,
            json!([
                {"token_raw": "a", "token_type": "t1", "label": "true_positive"},
                {"token_raw": "b", "token_type": "t2", "label": "false_positive"}
            ])
        );
        assert_eq!(answer(&[]), json!([]));
        for label in [Label::TruePositive, Label::FalsePositive] {
            assert_eq!(serde_json::to_value(label).unwrap(), json!(label.as_str()));
        }
    }
}
