//! DNS lookups of the functions that look names up (custom-domain verification, webhook URL
//! checks): a stub resolver asking one server (`KEYHIVE_DNS_RESOLVER`, the test stack's loopback
//! server) or those of `/etc/resolv.conf`. Never the hosts file: every answer comes from DNS.
//!
//! hickory-proto encodes and decodes the messages; only the exchange is ours: UDP, TCP when the
//! answer is truncated, a fresh random id and source port per query, and an answer accepted only
//! when its id and question match the query. hickory-resolver's server pools, cache and system
//! configuration cost about 390 KB in each zip that needs DNS, which the zip budget cannot carry.

use hickory_proto::op::{Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// Where the system's name servers are listed (Lambda's execution environment has one).
const RESOLV_CONF: &str = "/etc/resolv.conf";
/// Queries per server before the next one is asked.
const ATTEMPTS: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("no DNS server is configured")]
    NoServer,
    #[error("{0} is not a valid DNS name")]
    BadName(String),
    #[error("DNS lookup failed: {0}")]
    Failed(String),
}

/// A stub resolver, built once per function instance.
#[derive(Debug, Clone)]
pub struct Resolver {
    servers: Vec<SocketAddr>,
    timeout: Duration,
}

impl Resolver {
    /// Asks `server` (`ip:port`), or the name servers of `/etc/resolv.conf`; each query waits at
    /// most `timeout` for its answer.
    pub fn new(server: Option<SocketAddr>, timeout: Duration) -> Result<Self, DnsError> {
        let servers = match server {
            Some(address) => vec![address],
            None => system_servers(&std::fs::read_to_string(RESOLV_CONF).unwrap_or_default()),
        };
        if servers.is_empty() {
            return Err(DnsError::NoServer);
        }
        Ok(Resolver { servers, timeout })
    }

    /// The IPv4 and IPv6 addresses of `name` (none when it does not exist).
    pub async fn ips(&self, name: &str) -> Result<Vec<IpAddr>, DnsError> {
        let (v4, v6) = tokio::join!(self.lookup(name, RecordType::A), self.lookup(name, RecordType::AAAA));
        // One family failing while the other answers is still an answer (IPv4-only resolvers).
        let records = match (v4, v6) {
            (Err(err), Err(_)) => return Err(err),
            (v4, v6) => v4.into_iter().chain(v6).flatten(),
        };
        Ok(records
            .filter_map(|data| match data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
                _ => None,
            })
            .collect())
    }

    /// Every TXT string at `name`, each record's strings joined (none when it does not exist).
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, DnsError> {
        Ok(self
            .lookup(name, RecordType::TXT)
            .await?
            .into_iter()
            .filter_map(|data| match data {
                RData::TXT(txt) => Some(txt.to_string()),
                _ => None,
            })
            .collect())
    }

    /// The answer records of type `kind` at `name`, asking each server in turn.
    async fn lookup(&self, name: &str, kind: RecordType) -> Result<Vec<RData>, DnsError> {
        // Fully qualified: no search domains appended.
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        let name = Name::from_ascii(&fqdn).map_err(|_| DnsError::BadName(name.to_string()))?;
        let mut last = DnsError::NoServer;
        for server in &self.servers {
            for _ in 0..ATTEMPTS {
                match self.ask(*server, &name, kind).await {
                    Ok(records) => return Ok(records),
                    Err(err) => last = err,
                }
            }
        }
        Err(last)
    }

    async fn ask(&self, server: SocketAddr, name: &Name, kind: RecordType) -> Result<Vec<RData>, DnsError> {
        let mut query = Message::query();
        query.metadata.recursion_desired = true;
        query.add_query(Query::query(name.clone(), kind));
        let bytes = query.to_vec().map_err(|e| DnsError::Failed(e.to_string()))?;
        let answer = tokio::time::timeout(self.timeout, exchange(server, &bytes, &query))
            .await
            .map_err(|_| DnsError::Failed(format!("no answer from {server} in time")))??;
        match answer.metadata.response_code {
            ResponseCode::NoError | ResponseCode::NXDomain => Ok(answer
                .answers
                .into_iter()
                .filter(|record| record.data.record_type() == kind)
                .map(|record| record.data)
                .collect()),
            code => Err(DnsError::Failed(format!("{server} answered {code}"))),
        }
    }
}

/// One query to `server`: over UDP, again over TCP when the answer is truncated.
async fn exchange(server: SocketAddr, bytes: &[u8], query: &Message) -> Result<Message, DnsError> {
    let failed = |e: std::io::Error| DnsError::Failed(e.to_string());
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    // A fresh socket per query: a random source port, and only `server` can answer it.
    let socket = UdpSocket::bind(local).await.map_err(failed)?;
    socket.connect(server).await.map_err(failed)?;
    socket.send(bytes).await.map_err(failed)?;
    let mut buffer = vec![0u8; 4096];
    let answer = loop {
        let length = socket.recv(&mut buffer).await.map_err(failed)?;
        // Anything that is not the answer to this query (a stale or forged datagram) is ignored;
        // the caller's timeout bounds the wait.
        if let Some(answer) = Message::from_vec(&buffer[..length]).ok().filter(|m| answers(m, query)) {
            break answer;
        }
    };
    if !answer.metadata.truncation {
        return Ok(answer);
    }
    let mut stream = TcpStream::connect(server).await.map_err(failed)?;
    let length = u16::try_from(bytes.len()).map_err(|_| DnsError::Failed("query too long".into()))?;
    let mut framed = length.to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    stream.write_all(&framed).await.map_err(failed)?;
    let mut length = [0u8; 2];
    stream.read_exact(&mut length).await.map_err(failed)?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(length))];
    stream.read_exact(&mut body).await.map_err(failed)?;
    Message::from_vec(&body)
        .ok()
        .filter(|m| answers(m, query))
        .ok_or_else(|| DnsError::Failed(format!("{server} sent an answer to another question over TCP")))
}

/// Whether `message` is the answer to `query`: same id, a response, the same question.
fn answers(message: &Message, query: &Message) -> bool {
    message.metadata.id == query.metadata.id
        && message.metadata.message_type == MessageType::Response
        && message.queries.len() == 1
        && query.queries.first().is_some_and(|asked| {
            // `Name` compares case-insensitively, as DNS does (servers may echo another case).
            let got = &message.queries[0];
            got.name() == asked.name()
                && got.query_type() == asked.query_type()
                && got.query_class() == asked.query_class()
        })
}

/// The `nameserver` lines of a resolv.conf, on port 53 (at most three, as the C library reads).
fn system_servers(resolv_conf: &str) -> Vec<SocketAddr> {
    resolv_conf
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver")).then(|| words.next()).flatten()
        })
        // A zone index (`fe80::1%eth0`) cannot be spelled as a SocketAddr here: skip such lines.
        .filter_map(|address| address.parse::<IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .take(3)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_nameserver_lines_of_resolv_conf() {
        let conf = "# comment\nsearch example.internal\nnameserver 169.254.78.1\nnameserver ::1\nnameserver fe80::1%eth0\noptions ndots:5\nnameserver 10.0.0.2\nnameserver 10.0.0.3\n";
        let servers = system_servers(conf);
        assert_eq!(
            servers,
            vec![
                "169.254.78.1:53".parse::<SocketAddr>().unwrap(),
                "[::1]:53".parse().unwrap(),
                "10.0.0.2:53".parse().unwrap()
            ]
        );
        assert!(system_servers("").is_empty());
    }
}
