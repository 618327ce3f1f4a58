//! Which webhook URLs keyhive may call: `https` to public addresses only (api.md "Outbound
//! calls"). The same check runs when a URL is set and again at each delivery, on the addresses
//! the delivery then connects to (no second lookup between the check and the connection).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

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
    #[error("does not resolve")]
    Unresolved,
    #[error("is longer than 2048 characters")]
    TooLong,
}

/// What outbound calls allow. `local` (KEYHIVE_DEV_MODE: `make dev` and the test stack only)
/// adds `http` and loopback targets, and nothing more.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub local: bool,
}

fn v4_is_public(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16, the cloud metadata address included
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn v6_is_public(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    // Addresses that carry an IPv4 address are judged by it.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_is_public(v4);
    }
    // IPv4-translated (`::ffff:0:a.b.c.d`) and local-use NAT64 (`64:ff9b:1::/48`, which embeds
    // the IPv4 address elsewhere): never a public destination of ours.
    if segments[..4] == [0, 0, 0, 0] && segments[4] == 0xffff && segments[5] == 0 {
        return false;
    }
    if segments[0] == 0x64 && segments[1] == 0xff9b && segments[2] == 1 {
        return false;
    }
    if segments[0] == 0x64 && segments[1] == 0xff9b {
        // NAT64: the last 32 bits are an IPv4 address.
        let v4 =
            Ipv4Addr::new((segments[6] >> 8) as u8, segments[6] as u8, (segments[7] >> 8) as u8, segments[7] as u8);
        return v4_is_public(v4);
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (segments[0] & 0xffc0) == 0xfe80 // link-local
        || (segments[0] & 0xfe00) == 0xfc00 // unique-local (fd00:ec2::254, the metadata address, too)
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        || (segments[0] == 0x2001 && segments[1] == 0) // Teredo
        || segments[0] == 0x2002 // 6to4, which embeds any IPv4 address
        || (segments[0] == 0x100 && segments[1] == 0 && segments[2] == 0 && segments[3] == 0) // discard
        || segments[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible (deprecated)
}

impl Policy {
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        let public = match ip {
            IpAddr::V4(v4) => v4_is_public(v4),
            IpAddr::V6(v6) => v6_is_public(v6),
        };
        public || (self.local && ip.is_loopback())
    }

    /// The URL's shape: scheme, host, no user info, at most 2048 characters. `url` reads odd IPv4
    /// spellings (`0x7f.1`, `2130706433`, `017700000001`) as the address they mean.
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
        if let Target::Address(address) = target {
            if !self.allows_ip(address.ip()) {
                return Err(Refusal::NonPublic(address.ip()));
            }
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
pub struct Resolver(keyhive::dns::Resolver);

impl Resolver {
    pub fn new(server: Option<SocketAddr>) -> Result<Self, String> {
        keyhive::dns::Resolver::new(server, Duration::from_secs(3)).map(Resolver).map_err(|e| e.to_string())
    }

    /// Every address of `target`, each allowed by `policy`: one refused address refuses the URL
    /// (a name that resolves to a public and a private address is not public).
    pub async fn addresses(&self, policy: &Policy, target: &Target) -> Result<Vec<SocketAddr>, Refusal> {
        let (name, port) = match target {
            Target::Address(address) => return Ok(vec![*address]),
            Target::Name(name, port) => (name, *port),
        };
        let ips = self.0.ips(name).await.map_err(|_| Refusal::Unresolved)?;
        let addresses: Vec<SocketAddr> = ips.into_iter().map(|ip| SocketAddr::new(ip, port)).collect();
        if addresses.is_empty() {
            return Err(Refusal::Unresolved);
        }
        if let Some(refused) = addresses.iter().find(|a| !policy.allows_ip(a.ip())) {
            return Err(Refusal::NonPublic(refused.ip()));
        }
        Ok(addresses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            "https://[::1]/",
            "https://[::]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:a9fe:a9fe]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://[fe80::1]/",
            "https://[fd00:ec2::254]/",
            "https://[fc00::1]/",
            "https://[ff02::1]/",
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
    fn local_development_adds_http_and_loopback_and_nothing_more() {
        let local = Policy { local: true };
        assert!(local.parse("http://127.0.0.1:8080/hook").is_ok());
        assert!(local.parse("http://[::1]:8080/hook").is_ok());
        assert!(local.parse("http://localhost:8080/hook").is_ok(), "a name: judged once resolved");
        for still_refused in ["http://10.0.0.1/", "http://169.254.169.254/", "http://[fd00::1]/", "ftp://127.0.0.1/"] {
            assert!(local.parse(still_refused).is_err(), "{still_refused}");
        }
    }
}
