//! TXT lookups for custom-domain verification: the system resolver, or the server
//! `KEYHIVE_DNS_RESOLVER` names (the test stack's loopback server). Built once per instance.

use async_trait::async_trait;
use keyhive::ApiError;
use std::net::SocketAddr;
use std::time::Duration;

/// Looks up the TXT values at a name.
#[async_trait]
pub trait TxtLookup: Send + Sync {
    /// Every TXT string at `name` (none when the name or its TXT records do not exist).
    async fn txt(&self, name: &str) -> Result<Vec<String>, ApiError>;
}

#[derive(Debug)]
pub struct DnsResolver {
    resolver: keyhive::dns::Resolver,
}

impl DnsResolver {
    /// The resolver of `server` (`ip:port`), or of the system's name servers.
    pub fn new(server: Option<SocketAddr>) -> Result<Self, ApiError> {
        // A verification is a person waiting on an API call: answer (or fail) quickly; no cache
        // holds the record from before it was published.
        let resolver = keyhive::dns::Resolver::new(server, Duration::from_secs(2)).map_err(ApiError::unavailable)?;
        Ok(DnsResolver { resolver })
    }
}

#[async_trait]
impl TxtLookup for DnsResolver {
    async fn txt(&self, name: &str) -> Result<Vec<String>, ApiError> {
        self.resolver.txt(name).await.map_err(ApiError::unavailable)
    }
}
