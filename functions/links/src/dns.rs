//! TXT lookups for custom-domain verification: the system resolver, or the server
//! `KEYHIVE_DNS_RESOLVER` names (the test stack's loopback server). Built once per instance.

use async_trait::async_trait;
use keyhive::dns::TokioResolver;
use keyhive::ApiError;
use std::net::SocketAddr;
use std::time::Duration;

/// Looks up the TXT values at a name.
#[async_trait]
pub trait TxtLookup: Send + Sync {
    /// Every TXT string at `name` (none when the name or its TXT records do not exist).
    async fn txt(&self, name: &str) -> Result<Vec<String>, ApiError>;
}

pub struct DnsResolver {
    resolver: TokioResolver,
}

impl std::fmt::Debug for DnsResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DnsResolver")
    }
}

impl DnsResolver {
    /// The resolver of `server` (`ip:port`), or of the system configuration.
    pub fn new(server: Option<SocketAddr>) -> Result<Self, ApiError> {
        // A verification is a person waiting on an API call: answer (or fail) quickly, and never
        // from a cache that still holds the record before it was published.
        let lookups = keyhive::dns::Lookups { timeout: Duration::from_secs(2), cache: false };
        Ok(DnsResolver { resolver: keyhive::dns::resolver(server, lookups).map_err(ApiError::unavailable)? })
    }
}

#[async_trait]
impl TxtLookup for DnsResolver {
    async fn txt(&self, name: &str) -> Result<Vec<String>, ApiError> {
        // Fully qualified: no search domains appended.
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match self.resolver.txt_lookup(fqdn.as_str()).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    keyhive::dns::RData::TXT(txt) => Some(txt.to_string()),
                    _ => None,
                })
                .collect()),
            Err(err) if err.is_no_records_found() || err.is_nx_domain() => Ok(Vec::new()),
            Err(err) => Err(ApiError::unavailable(err)),
        }
    }
}
