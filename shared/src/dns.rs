//! The DNS resolver of the functions that look names up (custom-domain verification, webhook URL
//! checks): the system's configuration, or the one server `KEYHIVE_DNS_RESOLVER` names (the
//! test stack's loopback server). Never the hosts file: every answer comes from DNS.

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
pub use hickory_resolver::proto::rr::RData;
pub use hickory_resolver::TokioResolver;
use std::net::SocketAddr;
use std::time::Duration;

/// How a resolver answers: its per-query timeout, and whether it may cache.
#[derive(Debug, Clone, Copy)]
pub struct Lookups {
    pub timeout: Duration,
    pub cache: bool,
}

/// A resolver asking `server` (`ip:port`), or the system's configured servers.
pub fn resolver(server: Option<SocketAddr>, lookups: Lookups) -> Result<TokioResolver, String> {
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
        None => TokioResolver::builder(provider).map_err(|e| e.to_string())?,
    };
    let options = builder.options_mut();
    options.timeout = lookups.timeout;
    options.attempts = 2;
    options.use_hosts_file = ResolveHosts::Never;
    if !lookups.cache {
        options.cache_size = 0;
    }
    builder.build().map_err(|e| e.to_string())
}
