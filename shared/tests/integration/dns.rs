//! The kernel's DNS exchange against a real server on loopback (UDP and TCP), which answers from a
//! script: forged and stale datagrams are ignored, a truncated answer is asked again over TCP, a
//! name that does not exist is no records, a server failure is an error.

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, TXT};
use hickory_proto::rr::{RData, Record};
use keyhive::dns::Resolver;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// How the scripted server answers a UDP query.
#[derive(Clone, Copy)]
enum Script {
    /// A datagram with another id first, then the answer.
    ForgedThenAnswer,
    /// A truncated UDP answer; the full one over TCP.
    Truncated,
    NxDomain,
    ServFail,
}

fn answer(query: &Message, code: ResponseCode) -> Message {
    let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
    reply.metadata.message_type = MessageType::Response;
    reply.metadata.response_code = code;
    reply.queries = query.queries.clone();
    if code == ResponseCode::NoError {
        let name = query.queries[0].name().clone();
        reply.answers.push(Record::from_rdata(name.clone(), 60, RData::A(A(Ipv4Addr::new(192, 0, 2, 7)))));
        reply.answers.push(Record::from_rdata(name, 60, RData::TXT(TXT::new(vec!["keyhive-verify=abc".into()]))));
    }
    reply
}

/// A UDP and a TCP server on one loopback port, answering every query by `script`.
async fn server(script: Script) -> SocketAddr {
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let address = udp.local_addr().unwrap();
    let tcp = TcpListener::bind(address).await.unwrap();
    tokio::spawn(async move {
        let mut buffer = vec![0u8; 4096];
        loop {
            let (length, peer) = udp.recv_from(&mut buffer).await.unwrap();
            let query = Message::from_vec(&buffer[..length]).unwrap();
            let code = match script {
                Script::NxDomain => ResponseCode::NXDomain,
                Script::ServFail => ResponseCode::ServFail,
                _ => ResponseCode::NoError,
            };
            let mut reply = answer(&query, code);
            if let Script::ForgedThenAnswer = script {
                let mut forged = reply.clone();
                forged.metadata.id = query.metadata.id.wrapping_add(1);
                forged.answers = vec![Record::from_rdata(
                    query.queries[0].name().clone(),
                    60,
                    RData::A(A(Ipv4Addr::new(10, 0, 0, 1))),
                )];
                udp.send_to(&forged.to_vec().unwrap(), peer).await.unwrap();
            }
            if let Script::Truncated = script {
                reply.answers.clear();
                reply.metadata.truncation = true;
            }
            udp.send_to(&reply.to_vec().unwrap(), peer).await.unwrap();
        }
    });
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = tcp.accept().await.unwrap();
            let mut length = [0u8; 2];
            stream.read_exact(&mut length).await.unwrap();
            let mut body = vec![0u8; usize::from(u16::from_be_bytes(length))];
            stream.read_exact(&mut body).await.unwrap();
            let query = Message::from_vec(&body).unwrap();
            let reply = answer(&query, ResponseCode::NoError).to_vec().unwrap();
            let mut framed = u16::try_from(reply.len()).unwrap().to_be_bytes().to_vec();
            framed.extend_from_slice(&reply);
            stream.write_all(&framed).await.unwrap();
        }
    });
    address
}

fn resolver(address: SocketAddr) -> Resolver {
    Resolver::new(Some(address), Duration::from_millis(500)).unwrap()
}

#[tokio::test]
async fn a_forged_datagram_is_ignored_and_the_real_answer_kept() {
    let dns = resolver(server(Script::ForgedThenAnswer).await);
    let ips = dns.ips("hooks.example.com").await.unwrap();
    assert_eq!(ips, vec![std::net::IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7))]);
    assert_eq!(dns.txt("_keyhive.example.com").await.unwrap(), vec!["keyhive-verify=abc".to_string()]);
}

#[tokio::test]
async fn a_truncated_answer_is_asked_again_over_tcp() {
    let dns = resolver(server(Script::Truncated).await);
    assert_eq!(dns.txt("_keyhive.example.com.").await.unwrap(), vec!["keyhive-verify=abc".to_string()]);
}

#[tokio::test]
async fn a_missing_name_has_no_records_and_a_failing_server_is_an_error() {
    let missing = resolver(server(Script::NxDomain).await);
    assert!(missing.ips("nowhere.example.com").await.unwrap().is_empty());
    assert!(missing.txt("nowhere.example.com").await.unwrap().is_empty());

    let failing = resolver(server(Script::ServFail).await);
    assert!(failing.txt("example.com").await.is_err());
    assert!(failing.ips("example.com").await.is_err());
}

#[tokio::test]
async fn no_answer_in_time_is_an_error_not_a_hang() {
    // A socket that never answers.
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let dns = Resolver::new(Some(silent.local_addr().unwrap()), Duration::from_millis(100)).unwrap();
    assert!(dns.txt("example.com").await.is_err());
    assert!(dns.txt("not a name..").await.is_err());
}
