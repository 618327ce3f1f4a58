//! TXT lookups for custom-domain verification: the system resolver, or the server
//! `KEYHIVE_DNS_RESOLVER` names (the test stack's loopback server). Built once per instance.

use async_trait::async_trait;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::TokioResolver;
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
        let provider = TokioRuntimeProvider::default();
        let mut builder = match server {
            Some(address) => {
                let mut name_server = NameServerConfig::udp_and_tcp(address.ip());
                for connection in &mut name_server.connections {
                    connection.port = address.port();
                }
                let mut config = ResolverConfig::default();
                config.add_name_server(name_server);
                TokioResolver::builder_with_config(config, provider)
            }
            None => TokioResolver::builder(provider).map_err(ApiError::unavailable)?,
        };
        let options = builder.options_mut();
        // A verification is a person waiting on an API call: answer (or fail) quickly, and never
        // from a cache that still holds the record before it was published.
        options.timeout = Duration::from_secs(2);
        options.attempts = 2;
        options.cache_size = 0;
        options.use_hosts_file = ResolveHosts::Never;
        Ok(DnsResolver { resolver: builder.build().map_err(ApiError::unavailable)? })
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
                    hickory_resolver::proto::rr::RData::TXT(txt) => Some(txt.to_string()),
                    _ => None,
                })
                .collect()),
            Err(err) if err.is_no_records_found() || err.is_nx_domain() => Ok(Vec::new()),
            Err(err) => Err(ApiError::unavailable(err)),
        }
    }
}
