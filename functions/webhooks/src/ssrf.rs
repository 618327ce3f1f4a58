//! Which webhook URLs keyhive may call: `https` to public addresses, on an allowed port only
//! (openapi.yaml's `WebhookUrl`). The same check runs when a URL is set and again at each delivery,
//! on the addresses the delivery then connects to (no second lookup between the check and the
//! connection).
//!
//! Addresses: IPv6 must be global unicast (`2000::/3`, the only space IANA allocates for it) and
//! outside the special-purpose blocks in it (`V6_REFUSED`); IPv4 must be outside the IANA IPv4
//! special-purpose blocks, multicast and reserved space (`V4_REFUSED`). Forms that carry an IPv4
//! address (`::ffff:a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`) are judged by it; other carriers (6to4,
//! Teredo, IPv4-compatible, IPv4-translated, local-use NAT64) are refused outright.
//!
//! Ports: 443, 80, and 1024-65535 except `REFUSED_PORTS`, well-known internal services a webhook
//! never is (databases, caches, brokers, cluster control planes). That keeps the sender from
//! being pointed at someone's Redis or kubelet, and leaves few ports to probe.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// How long the check made when a URL is set (create, `PATCH`) may spend resolving its name.
/// The API function's timeout is 10 s (`template.yaml`) and the resolver may try several 3 s
/// queries, so the lookup is cut at 5 s, leaving the rest of the request its time. A name that
/// does not resolve in time is the caller's input (its DNS), so 400 on the field, not a 503.
pub const CHECK_LOOKUP_LIMIT: Duration = Duration::from_secs(5);

/// Why a URL is refused (the 400's reason, or a delivery's error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("must be an absolute https URL")]
    NotHttps,
    #[error("must name a host")]
    NoHost,
    #[error("must not carry user info")]
    UserInfo,
    /// The address is not echoed: a 400 must not turn into a lookup service.
    #[error("is, or resolves to, a non-public address")]
    NonPublic(IpAddr),
    /// The port is the caller's own input, so naming it reveals nothing.
    #[error("uses port {0}, which is not allowed: use 443, 80, or 1024-65535 but no internal service port")]
    Port(u16),
    #[error("does not resolve")]
    Unresolved,
    #[error("did not resolve in time")]
    SlowLookup,
    #[error("is longer than 2048 characters")]
    TooLong,
}

/// What outbound calls allow. `local` (KEYHIVE_DEV_MODE: `make dev` and the test stack only)
/// adds `http` and loopback targets, and nothing more: a loopback target may use any port (local
/// receivers listen on random high ports); every other target keeps the port rule.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub local: bool,
}

/// Ports of 1024-65535 never called: well-known internal services, which a webhook receiver
/// never is. Every one is below Linux's ephemeral range (32768-60999), where local test
/// receivers listen.
pub const REFUSED_PORTS: &[(u16, &str)] = &[
    (1433, "Microsoft SQL Server"),
    (1521, "Oracle database"),
    (2049, "NFS"),
    (2181, "ZooKeeper"),
    (2375, "Docker API"),
    (2376, "Docker API (TLS)"),
    (2379, "etcd client"),
    (2380, "etcd peer"),
    (3306, "MySQL"),
    (3389, "RDP"),
    (4369, "Erlang port mapper"),
    (5432, "PostgreSQL"),
    (5672, "AMQP"),
    (5984, "CouchDB"),
    (5985, "WinRM"),
    (5986, "WinRM (TLS)"),
    (6379, "Redis"),
    (6443, "Kubernetes API"),
    (8009, "AJP"),
    (8200, "Vault"),
    (8500, "Consul HTTP"),
    (8501, "Consul HTTPS"),
    (9042, "Cassandra"),
    (9092, "Kafka"),
    (9200, "Elasticsearch HTTP"),
    (9300, "Elasticsearch transport"),
    (10250, "kubelet"),
    (10255, "kubelet (read-only)"),
    (11211, "memcached"),
    (15672, "RabbitMQ management"),
    (25672, "RabbitMQ distribution"),
    (27017, "MongoDB"),
    (27018, "MongoDB shard"),
    (27019, "MongoDB config server"),
];

/// Whether a webhook may be sent to `port` on a public host.
pub fn port_is_allowed(port: u16) -> bool {
    (port == 443 || port == 80 || port >= 1024) && !REFUSED_PORTS.iter().any(|(p, _)| *p == port)
}

/// IPv4 blocks never called: the IANA IPv4 Special-Purpose Address Registry (those a webhook
/// receiver cannot be, the few globally reachable anycast services of 192.0.0/24 included),
/// multicast, and the reserved 240/4.
pub const V4_REFUSED: &[(Ipv4Addr, u8, &str)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8, "this network"),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "private"),
    (Ipv4Addr::new(100, 64, 0, 0), 10, "shared address space (CGNAT)"),
    (Ipv4Addr::new(127, 0, 0, 0), 8, "loopback"),
    (Ipv4Addr::new(169, 254, 0, 0), 16, "link-local (cloud metadata 169.254.169.254)"),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "private"),
    (Ipv4Addr::new(192, 0, 0, 0), 24, "IETF protocol assignments"),
    (Ipv4Addr::new(192, 0, 2, 0), 24, "documentation (TEST-NET-1)"),
    (Ipv4Addr::new(192, 88, 99, 0), 24, "6to4 relay anycast (deprecated)"),
    (Ipv4Addr::new(192, 168, 0, 0), 16, "private"),
    (Ipv4Addr::new(198, 18, 0, 0), 15, "benchmarking"),
    (Ipv4Addr::new(198, 51, 100, 0), 24, "documentation (TEST-NET-2)"),
    (Ipv4Addr::new(203, 0, 113, 0), 24, "documentation (TEST-NET-3)"),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "multicast"),
    (Ipv4Addr::new(240, 0, 0, 0), 4, "reserved, and the limited broadcast 255.255.255.255"),
];

/// Blocks inside global unicast `2000::/3` never called (everything outside it is refused
/// already: `::/128`, `::1`, IPv4-compatible `::/96`, IPv4-translated `::ffff:0:0:0/96`, NAT64
/// other than `64:ff9b::/96` (`64:ff9b:1::/48` local-use included), discard `100::/64`, SRv6
/// `5f00::/16`, unique-local `fc00::/7` (`fd00:ec2::254`, the metadata address, too), link-local
/// `fe80::/10`, site-local `fec0::/10`, multicast `ff00::/8`).
pub const V6_REFUSED: &[(Ipv6Addr, u8, &str)] = &[
    // Teredo 2001::/32 (which embeds any IPv4 address), benchmarking 2001:2::/48, ORCHID
    // 2001:10::/28, ORCHIDv2 2001:20::/28, and the protocol anycasts: none is a receiver.
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23, "IETF protocol assignments"),
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32, "documentation"),
    // Deprecated (RFC 7526); it embeds any IPv4 address and reaches it through a relay.
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16, "6to4"),
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20, "documentation (RFC 9637)"),
];

fn in_v4(ip: Ipv4Addr, (net, len, _): &(Ipv4Addr, u8, &str)) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(*len)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(*net) & mask
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

fn v4_is_public(ip: Ipv4Addr) -> bool {
    !V4_REFUSED.iter().any(|block| in_v4(ip, block))
}

fn v6_is_public(ip: Ipv6Addr) -> bool {
    // IPv4-mapped (`::ffff:0:0/96`): judged by the IPv4 address it carries.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_is_public(v4);
    }
    // Well-known NAT64 prefix (`64:ff9b::/96`): the last 32 bits are the IPv4 destination.
    if in_v6(ip, Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96) {
        let [.., a, b, c, d] = ip.octets();
        return v4_is_public(Ipv4Addr::new(a, b, c, d));
    }
    in_v6(ip, Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3)
        && !V6_REFUSED.iter().any(|(net, len, _)| in_v6(ip, *net, *len))
}

impl Policy {
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        let public = match ip {
            IpAddr::V4(v4) => v4_is_public(v4),
            IpAddr::V6(v6) => v6_is_public(v6),
        };
        public || (self.local && ip.is_loopback())
    }

    /// Whether `port` may be called on `ip`: the port rule, or any port on loopback in local
    /// development.
    pub fn allows_port(&self, ip: IpAddr, port: u16) -> bool {
        port_is_allowed(port) || (self.local && ip.is_loopback())
    }

    /// Refuses `address` if its IP, then its port, is not allowed.
    pub fn check_address(&self, address: SocketAddr) -> Result<(), Refusal> {
        if !self.allows_ip(address.ip()) {
            return Err(Refusal::NonPublic(address.ip()));
        }
        if !self.allows_port(address.ip(), address.port()) {
            return Err(Refusal::Port(address.port()));
        }
        Ok(())
    }

    /// The URL's shape: scheme, host, no user info, at most 2048 characters; a literal address
    /// checked, and so is a name's port (before any lookup) except in local development, where
    /// it waits for the name to resolve (a loopback answer may use any port). `url` reads odd
    /// IPv4 spellings (`0x7f.1`, `2130706433`, `017700000001`) as the address they mean.
    pub fn parse(&self, text: &str) -> Result<(url::Url, Target), Refusal> {
        if text.len() > 2048 {
            return Err(Refusal::TooLong);
        }
        let url = url::Url::parse(text).map_err(|_| Refusal::NotHttps)?;
        let scheme_ok = url.scheme() == "https" || (self.local && url.scheme() == "http");
        if !scheme_ok {
            return Err(Refusal::NotHttps);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::UserInfo);
        }
        let port = url.port_or_known_default().ok_or(Refusal::NotHttps)?;
        let target = match url.host().ok_or(Refusal::NoHost)? {
            url::Host::Ipv4(ip) => Target::Address(SocketAddr::new(IpAddr::V4(ip), port)),
            url::Host::Ipv6(ip) => Target::Address(SocketAddr::new(IpAddr::V6(ip), port)),
            url::Host::Domain("") => return Err(Refusal::NoHost),
            url::Host::Domain(name) => Target::Name(name.trim_end_matches('.').to_ascii_lowercase(), port),
        };
        match target {
            Target::Address(address) => self.check_address(address)?,
            Target::Name(_, port) if !self.local && !port_is_allowed(port) => return Err(Refusal::Port(port)),
            Target::Name(..) => {}
        }
        Ok((url, target))
    }
}

/// Where a URL points before resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Address(SocketAddr),
    Name(String, u16),
}

/// Resolves host names for outbound calls: the system's name servers, or `KEYHIVE_DNS_RESOLVER`.
/// Each check and each delivery asks afresh (no cache): a name that moves to a refused address is
/// refused from its next delivery on.
#[derive(Debug)]
pub struct Resolver {
    dns: keyhive::dns::Resolver,
    /// `CHECK_LOOKUP_LIMIT`; tests shorten it.
    check_limit: Duration,
}

impl Resolver {
    pub fn new(server: Option<SocketAddr>) -> Result<Self, String> {
        let dns = keyhive::dns::Resolver::new(server, Duration::from_secs(3)).map_err(|e| e.to_string())?;
        Ok(Resolver { dns, check_limit: CHECK_LOOKUP_LIMIT })
    }

    /// The same resolver, with another bound on `check`'s lookup.
    pub fn with_check_limit(self, limit: Duration) -> Self {
        Resolver { check_limit: limit, ..self }
    }

    /// Every address of `target`, each allowed by `policy` (address, then port): one refused
    /// address refuses the URL (a name that resolves to a public and a private address is not
    /// public).
    pub async fn addresses(&self, policy: &Policy, target: &Target) -> Result<Vec<SocketAddr>, Refusal> {
        let (name, port) = match target {
            Target::Address(address) => {
                policy.check_address(*address)?;
                return Ok(vec![*address]);
            }
            Target::Name(name, port) => (name, *port),
        };
        let ips = self.dns.ips(name).await.map_err(|_| Refusal::Unresolved)?;
        let addresses: Vec<SocketAddr> = ips.into_iter().map(|ip| SocketAddr::new(ip, port)).collect();
        if addresses.is_empty() {
            return Err(Refusal::Unresolved);
        }
        if let Some(refused) = addresses.iter().find(|a| !policy.allows_ip(a.ip())) {
            return Err(Refusal::NonPublic(refused.ip()));
        }
        for address in &addresses {
            policy.check_address(*address)?;
        }
        Ok(addresses)
    }

    /// `addresses` within the check's bound (`CHECK_LOOKUP_LIMIT`): the API-path check, which
    /// must answer well within the function's timeout whatever the name's DNS servers do.
    pub async fn check(&self, policy: &Policy, target: &Target) -> Result<Vec<SocketAddr>, Refusal> {
        tokio::time::timeout(self.check_limit, self.addresses(policy, target)).await.unwrap_or(Err(Refusal::SlowLookup))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refuses_ip(policy: &Policy, text: &str) -> bool {
        !policy.allows_ip(text.parse().unwrap())
    }

    #[test]
    fn non_public_addresses_in_every_spelling_are_refused() {
        let policy = Policy { local: false };
        for refused in [
            "https://127.0.0.1/",
            "https://127.1/",
            "https://0x7f.1/",
            "https://2130706433/",
            "https://017700000001/",
            "https://0.0.0.0/",
            "https://10.0.0.8/",
            "https://172.16.5.4/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data/",
            "https://100.64.0.1/",
            "https://224.0.0.1/",
            "https://255.255.255.255/",
            "https://192.88.99.1/",
            "https://[::1]/",
            "https://[::]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:a9fe:a9fe]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://[fe80::1]/",
            "https://[fec0::1]/",
            "https://[fd00:ec2::254]/",
            "https://[fc00::1]/",
            "https://[ff02::1]/",
            "https://[2001:10::1]/",
            "https://[2002:7f00:1::]/",
            "https://[::127.0.0.1]/",
            "https://[::ffff:0:7f00:1]/",
            "https://[64:ff9b:1::a00:1]/",
        ] {
            assert!(matches!(policy.parse(refused), Err(Refusal::NonPublic(_))), "{refused}");
        }
        for shape in [
            "http://example.com/",
            "ftp://example.com/",
            "javascript:alert(1)",
            "https://user:pw@example.com/",
            "/relative",
            "",
        ] {
            assert!(policy.parse(shape).is_err(), "{shape}");
        }
        assert!(policy.parse("https://93.184.215.14/hook").is_ok());
        assert!(policy.parse("https://[2606:4700::6810:85e5]/hook").is_ok());
        assert_eq!(
            policy.parse("https://Hooks.Example.com./x").unwrap().1,
            Target::Name("hooks.example.com".into(), 443)
        );
    }

    #[test]
    fn every_ipv4_special_purpose_block_is_refused_at_both_ends() {
        let policy = Policy { local: false };
        for (first, last) in [
            ("0.0.0.0", "0.255.255.255"),
            ("10.0.0.0", "10.255.255.255"),
            ("100.64.0.0", "100.127.255.255"),
            ("127.0.0.0", "127.255.255.255"),
            ("169.254.0.0", "169.254.255.255"),
            ("172.16.0.0", "172.31.255.255"),
            ("192.0.0.0", "192.0.0.255"),
            ("192.0.2.0", "192.0.2.255"),
            ("192.88.99.0", "192.88.99.255"),
            ("192.168.0.0", "192.168.255.255"),
            ("198.18.0.0", "198.19.255.255"),
            ("198.51.100.0", "198.51.100.255"),
            ("203.0.113.0", "203.0.113.255"),
            ("224.0.0.0", "239.255.255.255"),
            ("240.0.0.0", "255.255.255.254"),
            ("255.255.255.255", "255.255.255.255"),
        ] {
            assert!(refuses_ip(&policy, first) && refuses_ip(&policy, last), "{first}..{last}");
        }
        // Just outside each block: public.
        for public in [
            "1.0.0.0",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.0",
            "192.0.3.0",
            "192.88.98.255",
            "192.88.100.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "198.51.99.255",
            "198.51.101.0",
            "203.0.112.255",
            "203.0.114.0",
            "223.255.255.255",
            "8.8.8.8",
        ] {
            assert!(!refuses_ip(&policy, public), "{public}");
        }
    }

    #[test]
    fn ipv6_must_be_global_unicast_outside_the_special_purpose_blocks() {
        let policy = Policy { local: false };
        for refused in [
            "::",
            "::1",
            "::2",
            "::8.8.8.8",          // IPv4-compatible (deprecated)
            "::ffff:0:808:808",   // IPv4-translated
            "::ffff:10.0.0.1",    // mapped, private
            "::ffff:192.88.99.1", // mapped, 6to4 relay
            "64:ff9b::10.0.0.1",  // NAT64, private
            "64:ff9b::7f00:1",    // NAT64, loopback
            "64:ff9b:1::808:808", // local-use NAT64
            "64:ff9b:2::808:808", // elsewhere in 64:ff9b::/32
            "100::1",             // discard
            "100::ffff:ffff:ffff:ffff",
            "2001::1", // Teredo
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:2::1",  // benchmarking
            "2001:10::1", // ORCHID
            "2001:1f:ffff::1",
            "2001:20::1",                             // ORCHIDv2
            "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", // end of 2001::/23
            "2001:db8::1",
            "2001:db8:ffff::1",
            "2002::1", // 6to4
            "2002:808:808::1",
            "3fff::1", // documentation (RFC 9637)
            "3fff:fff::1",
            "5f00::1", // SRv6
            "fc00::1",
            "fdff:ffff::1",
            "fd00:ec2::254",
            "fe80::1",
            "febf::1",
            "fec0::1", // site-local
            "feff:ffff::1",
            "ff02::1",
            "ff0e::1",
        ] {
            assert!(refuses_ip(&policy, refused), "{refused}");
        }
        for public in [
            "2606:4700::6810:85e5",
            "2001:200::1", // just after 2001::/23
            "2001:4860:4860::8888",
            "2001:db9::1",
            "2003::1",
            "3ffe::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(!refuses_ip(&policy, public), "{public}");
        }
    }

    #[test]
    fn ports_are_443_80_and_high_ones_except_internal_services() {
        let policy = Policy { local: false };
        for allowed in [443, 80, 1024, 8080, 8443, 3000, 9000, 65535] {
            assert!(port_is_allowed(allowed), "{allowed}");
            assert!(policy.parse(&format!("https://93.184.215.14:{allowed}/")).is_ok(), "{allowed}");
            assert!(policy.parse(&format!("https://hooks.example.com:{allowed}/")).is_ok(), "{allowed}");
        }
        let low = [0, 1, 21, 22, 25, 53, 79, 81, 111, 135, 389, 442, 444, 445, 1023];
        for refused in low.into_iter().chain(REFUSED_PORTS.iter().map(|(port, _)| *port)) {
            assert!(!port_is_allowed(refused), "{refused}");
            for url in [format!("https://93.184.215.14:{refused}/"), format!("https://hooks.example.com:{refused}/")] {
                assert_eq!(policy.parse(&url).map(|_| ()), Err(Refusal::Port(refused)), "{url}");
            }
        }
        // The documented ones, and none in the ephemeral range where local receivers listen.
        for port in [2375, 2376, 2379, 2380, 3306, 5432, 6379, 6443, 8500, 9200, 9300, 10250, 11211, 15672, 27017] {
            assert!(REFUSED_PORTS.iter().any(|(p, _)| *p == port), "{port}");
        }
        assert!(REFUSED_PORTS.iter().all(|(port, _)| *port >= 1024 && *port < 32768));
        let reason = Refusal::Port(6379).to_string();
        assert!(reason.contains("6379") && reason.contains("443"), "{reason}");
    }

    #[test]
    fn local_development_adds_http_and_loopback_and_nothing_more() {
        let local = Policy { local: true };
        assert!(local.parse("http://127.0.0.1:8080/hook").is_ok());
        assert!(local.parse("http://[::1]:8080/hook").is_ok());
        assert!(local.parse("http://localhost:8080/hook").is_ok(), "a name: judged once resolved");
        // Loopback on any port: test receivers listen on random ports.
        for port in [9, 22, 6379, 41234] {
            assert!(local.parse(&format!("http://127.0.0.1:{port}/hook")).is_ok(), "{port}");
            assert!(local.check_address(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)).is_ok());
        }
        assert!(local.parse("http://localhost:6379/").is_ok(), "judged once resolved");
        // Everything else keeps the port rule and the ranges.
        assert_eq!(local.parse("http://93.184.215.14:6379/").map(|_| ()), Err(Refusal::Port(6379)));
        let public_redis = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(93, 184, 215, 14)), 6379);
        assert_eq!(local.check_address(public_redis), Err(Refusal::Port(6379)));
        for still_refused in [
            "http://10.0.0.1/",
            "http://169.254.169.254/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "ftp://127.0.0.1/",
        ] {
            assert!(local.parse(still_refused).is_err(), "{still_refused}");
        }
    }

    #[tokio::test]
    async fn the_check_gives_up_on_a_silent_name_server_in_time() {
        // A name server that never answers: the resolver alone would wait 2 x 3 s.
        let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let resolver =
            Resolver::new(Some(silent.local_addr().unwrap())).unwrap().with_check_limit(Duration::from_millis(300));
        let policy = Policy { local: false };
        let target = Target::Name("hooks.example.com".into(), 443);
        let started = std::time::Instant::now();
        assert_eq!(resolver.check(&policy, &target).await, Err(Refusal::SlowLookup));
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        assert!(CHECK_LOOKUP_LIMIT < Duration::from_secs(10), "below the API function's timeout");
        // A literal address needs no lookup, and its port is checked there too.
        let literal = Target::Address("93.184.215.14:6379".parse().unwrap());
        assert_eq!(resolver.check(&policy, &literal).await, Err(Refusal::Port(6379)));
        let literal = Target::Address("93.184.215.14:443".parse().unwrap());
        assert!(resolver.check(&policy, &literal).await.is_ok());
    }
}
