//! Deployment settings, read once from the environment when a function starts.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    /// The one DynamoDB table (`KEYHIVE_TABLE`).
    pub table_name: String,
    /// Secrets Manager id of the key-hashing secret (`KEYHIVE_SECRET_ID`).
    pub secret_id: String,
    /// Secrets Manager id of the secret that seals list cursors (`KEYHIVE_CURSOR_SECRET_ID`): its
    /// own, so functions that list but never authenticate need not read the hashing secret.
    pub cursor_secret_id: String,
    /// Secrets Manager id of the key that seals webhook signing secrets
    /// (`KEYHIVE_WEBHOOK_SECRET_ID`): only the webhook functions may read it.
    pub webhook_secret_id: String,
    /// Lowercase alphanumeric prefix of every key this deployment mints (`KEYHIVE_KEY_PREFIX`).
    pub key_prefix: String,
    /// Bound on one DynamoDB call, retries included (`KEYHIVE_DYNAMODB_TIMEOUT_MS`), so a
    /// dead dependency answers 503 quickly instead of hanging the request.
    pub dynamodb_timeout: Duration,
    /// Local development only: lets webhooks target `http` and loopback (`KEYHIVE_DEV_MODE=1`).
    pub dev_mode: bool,
    /// The API's own host names (`KEYHIVE_API_HOSTS`, comma-separated). A request to any other
    /// host is for a custom link domain and reaches only the routes that answer on any host.
    /// Empty (the local stack): every host is the API's.
    pub api_hosts: Vec<String>,
    /// Browser origins allowed to read responses (`KEYHIVE_CORS_ORIGINS`, comma-separated,
    /// exact): none by default. See `http::cors`.
    pub cors_origins: Vec<String>,
    /// One more CA the SDK clients trust, PEM (`KEYHIVE_EXTRA_CA_FILE`, read once at start): the
    /// test stack's TLS front. Never set in AWS.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// Running sandboxes allowed per organization and environment (`KEYHIVE_SANDBOX_QUOTA`).
    pub sandbox_quota: u32,
    /// How many keys, links, domains and webhook endpoints a tenant may hold.
    pub limits: Limits,
    /// The base of a short link's `short_url` on the deployment's own link domain
    /// (`KEYHIVE_LINK_BASE_URL`, e.g. `https://go.example.com`). Unset: the API's own host and
    /// stage, read from each request.
    pub link_base_url: Option<String>,
    /// The DNS server custom-domain verification asks (`KEYHIVE_DNS_RESOLVER`, `ip:port`; the
    /// test stack's loopback server). Unset: the system's resolver.
    pub dns_resolver: Option<std::net::SocketAddr>,
    /// Whether the `CloudFront-Viewer-Country` header comes from a CloudFront distribution in
    /// front (`KEYHIVE_TRUST_VIEWER_COUNTRY=1`), which sets it; otherwise a client could send any
    /// value and it is ignored (click countries are `unknown`).
    pub trust_viewer_country: bool,
    /// The rendered API reference (`make docs`) the local stack serves at `/docs`
    /// (`KEYHIVE_DOCS_FILE`, read on each request so a re-render shows at once). Never set in AWS:
    /// the route is local-only.
    pub docs_file: Option<std::path::PathBuf>,
}

impl Config {
    /// Whether `host` (a `Host` header, port and case ignored) is one of the API's own.
    pub fn is_api_host(&self, host: &str) -> bool {
        let name =
            host.rsplit_once(':').map_or(
                host,
                |(name, port)| {
                    if port.bytes().all(|b| b.is_ascii_digit()) {
                        name
                    } else {
                        host
                    }
                },
            );
        // API Gateway's own host name is always the API's (it cannot be set in the template
        // without a circular reference).
        let lower = name.to_ascii_lowercase();
        let execute_api = lower.contains(".execute-api.") && lower.ends_with(".amazonaws.com");
        self.api_hosts.is_empty() || execute_api || self.api_hosts.iter().any(|h| h.eq_ignore_ascii_case(name))
    }
}

/// Parses `KEYHIVE_CORS_ORIGINS`: comma-separated `scheme://host[:port]` origins, compared
/// exactly (lowercase). `*` is refused: every allowed origin is named.
pub fn parse_origins(value: &str) -> Result<Vec<String>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|origin| {
            let lower = origin.to_ascii_lowercase();
            let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
            match rest {
                Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', '*', '@', ' ']) => Ok(lower),
                _ => Err(format!("{origin:?} is not an origin (scheme://host[:port], no path, no wildcard)")),
            }
        })
        .collect()
}

pub const DEFAULT_TABLE: &str = "keyhive";
pub const DEFAULT_SECRET_ID: &str = "keyhive/key-hashing-secret";
pub const DEFAULT_CURSOR_SECRET_ID: &str = "keyhive/cursor-key";
pub const DEFAULT_WEBHOOK_SECRET_ID: &str = "keyhive/webhook-sealing-key";
pub const DEFAULT_SANDBOX_QUOTA: u32 = 10;
pub const DEFAULT_KEY_PREFIX: &str = "kh";

/// Per-organization ceilings, so that no key (a weak one included) can grow a tenant without
/// bound: minting keys to multiply its own rate limit, or filling the table. Each is a counter
/// taken in the creating transaction (409 `QUOTA_EXCEEDED` when full) and given back by the
/// deletion. Set by `KEYHIVE_MAX_<NAME>` (the template's `Max<Name>` parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Unrevoked keys of an organization and environment (`KEYHIVE_MAX_KEYS`).
    pub keys: u32,
    /// Short links of an organization and environment (`KEYHIVE_MAX_LINKS`).
    pub links: u32,
    /// Custom domains of an organization and environment (`KEYHIVE_MAX_DOMAINS`).
    pub domains: u32,
    /// Webhook endpoints of an organization and environment (`KEYHIVE_MAX_WEBHOOKS`, at most
    /// `MAX_WEBHOOKS_CEILING`: an event's fan-out is one transaction of one write per endpoint).
    pub webhooks: u32,
    /// Ready files of an organization and environment (`KEYHIVE_MAX_FILES`): taken when an
    /// upload passes its check, given back when the file is deleted.
    pub files: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { keys: 1_000, links: 100_000, domains: 20, webhooks: 50, files: 1_000 }
    }
}

/// The most webhook endpoints a tenant can be allowed: a fan-out writes one delivery per
/// endpoint and marks the event, in one transaction of at most 100 writes.
pub const MAX_WEBHOOKS_CEILING: u32 = 99;

impl Limits {
    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let defaults = Limits::default();
        let read = |name: &str, default: u32, most: u32| -> u32 {
            match get(name).filter(|v| !v.trim().is_empty()) {
                None => default,
                Some(v) => match v.trim().parse::<u32>() {
                    Ok(n) if (1..=most).contains(&n) => n,
                    _ => panic!("{name} must be a whole number 1..{most}"),
                },
            }
        };
        Limits {
            keys: read("KEYHIVE_MAX_KEYS", defaults.keys, 1_000_000),
            links: read("KEYHIVE_MAX_LINKS", defaults.links, 100_000_000),
            domains: read("KEYHIVE_MAX_DOMAINS", defaults.domains, 10_000),
            webhooks: read("KEYHIVE_MAX_WEBHOOKS", defaults.webhooks, MAX_WEBHOOKS_CEILING),
            files: read("KEYHIVE_MAX_FILES", defaults.files, 1_000_000),
        }
    }
}

impl Config {
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from any variable lookup (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let non_empty = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let key_prefix = non_empty("KEYHIVE_KEY_PREFIX").unwrap_or_else(|| DEFAULT_KEY_PREFIX.into());
        assert!(
            !key_prefix.is_empty()
                && key_prefix.len() <= 16
                && key_prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
            "KEYHIVE_KEY_PREFIX must be 1..16 lowercase letters or digits"
        );
        let timeout_ms = non_empty("KEYHIVE_DYNAMODB_TIMEOUT_MS")
            .map(|v| v.parse::<u64>().expect("KEYHIVE_DYNAMODB_TIMEOUT_MS must be a whole number of milliseconds"))
            .unwrap_or(2000);
        Config {
            table_name: non_empty("KEYHIVE_TABLE").unwrap_or_else(|| DEFAULT_TABLE.into()),
            secret_id: non_empty("KEYHIVE_SECRET_ID").unwrap_or_else(|| DEFAULT_SECRET_ID.into()),
            cursor_secret_id: non_empty("KEYHIVE_CURSOR_SECRET_ID").unwrap_or_else(|| DEFAULT_CURSOR_SECRET_ID.into()),
            webhook_secret_id: non_empty("KEYHIVE_WEBHOOK_SECRET_ID")
                .unwrap_or_else(|| DEFAULT_WEBHOOK_SECRET_ID.into()),
            key_prefix,
            dynamodb_timeout: Duration::from_millis(timeout_ms.clamp(100, 25_000)),
            dev_mode: non_empty("KEYHIVE_DEV_MODE").is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true")),
            sandbox_quota: non_empty("KEYHIVE_SANDBOX_QUOTA")
                .map(|v| v.parse::<u32>().expect("KEYHIVE_SANDBOX_QUOTA must be a whole number"))
                .unwrap_or(DEFAULT_SANDBOX_QUOTA),
            limits: Limits::from_lookup(&get),
            trust_viewer_country: non_empty("KEYHIVE_TRUST_VIEWER_COUNTRY")
                .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true")),
            link_base_url: non_empty("KEYHIVE_LINK_BASE_URL").map(|v| v.trim().trim_end_matches('/').to_string()),
            dns_resolver: non_empty("KEYHIVE_DNS_RESOLVER")
                .map(|v| v.trim().parse().expect("KEYHIVE_DNS_RESOLVER must be an ip:port address")),
            api_hosts: non_empty("KEYHIVE_API_HOSTS")
                .map(|v| v.split(',').map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect())
                .unwrap_or_default(),
            extra_ca_pem: non_empty("KEYHIVE_EXTRA_CA_FILE")
                .map(|path| std::fs::read(path.trim()).unwrap_or_else(|e| panic!("KEYHIVE_EXTRA_CA_FILE {path}: {e}"))),
            cors_origins: non_empty("KEYHIVE_CORS_ORIGINS")
                .map(|v| parse_origins(&v).unwrap_or_else(|e| panic!("KEYHIVE_CORS_ORIGINS: {e}")))
                .unwrap_or_default(),
            docs_file: non_empty("KEYHIVE_DOCS_FILE").map(|path| path.trim().into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Config {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let c = config(&[]);
        assert_eq!(c.table_name, DEFAULT_TABLE);
        assert_eq!(c.key_prefix, "kh");
        assert_eq!(c.dynamodb_timeout, Duration::from_millis(2000));
        assert!(!c.dev_mode);
    }

    #[test]
    fn without_api_hosts_every_host_is_the_apis_and_with_them_only_those() {
        assert!(config(&[]).is_api_host("links.example.com"));
        let c = config(&[("KEYHIVE_API_HOSTS", "api.example.com, abc.execute-api.us-east-1.amazonaws.com")]);
        assert!(c.is_api_host("API.example.com:443") && c.is_api_host("abc.execute-api.us-east-1.amazonaws.com"));
        assert!(!c.is_api_host("go.example.com") && !c.is_api_host(""));
        let c = config(&[("KEYHIVE_API_HOSTS", "api.example.com")]);
        assert!(c.is_api_host("xyz.execute-api.eu-west-1.amazonaws.com"));
    }

    #[test]
    fn limits_have_defaults_and_take_settings_within_bounds() {
        assert_eq!(config(&[]).limits, Limits::default());
        let c = config(&[("KEYHIVE_MAX_KEYS", "5"), ("KEYHIVE_MAX_WEBHOOKS", "99")]);
        assert_eq!((c.limits.keys, c.limits.webhooks, c.limits.links), (5, 99, Limits::default().links));
    }

    #[test]
    #[should_panic(expected = "KEYHIVE_MAX_WEBHOOKS")]
    fn a_webhook_ceiling_past_one_transaction_is_refused_at_start() {
        config(&[("KEYHIVE_MAX_WEBHOOKS", "100")]);
    }

    #[test]
    fn dev_mode_is_on_only_when_asked() {
        assert!(config(&[("KEYHIVE_DEV_MODE", "1")]).dev_mode);
        assert!(!config(&[("KEYHIVE_DEV_MODE", "0")]).dev_mode);
    }

    #[test]
    #[should_panic(expected = "KEYHIVE_KEY_PREFIX")]
    fn a_prefix_with_an_underscore_is_refused_at_start() {
        config(&[("KEYHIVE_KEY_PREFIX", "my_co")]);
    }
}
