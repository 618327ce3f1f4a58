//! Every local endpoint is plain HTTP, so this is the one test of the HTTPS client production
//! uses (rustls on ring, the compiled-in AWS roots): DynamoDB Local behind a TLS front that
//! `make test` starts (scripts/local-aws/tls_proxy.py), whose one-run CA is given as the extra CA.

use keyhive::config::Config;

fn describe(
    sdk: &aws_config::SdkConfig,
    url: &str,
) -> aws_sdk_dynamodb::operation::describe_table::builders::DescribeTableFluentBuilder {
    aws_sdk_dynamodb::Client::from_conf(aws_sdk_dynamodb::config::Builder::from(sdk).endpoint_url(url).build())
        .describe_table()
        .table_name(Config::from_env().table_name)
}

#[tokio::test]
async fn the_sdk_https_client_verifies_tls_and_reaches_dynamodb() {
    let url = std::env::var("KEYHIVE_TLS_DYNAMODB_URL")
        .expect("KEYHIVE_TLS_DYNAMODB_URL is unset: run under `make test`, which starts the TLS front");
    let ca = std::env::var("KEYHIVE_TLS_CA_FILE").expect("KEYHIVE_TLS_CA_FILE: the TLS front's CA");
    assert!(url.starts_with("https://"), "{url}");
    let mut config = Config::from_env();
    config.extra_ca_pem = Some(std::fs::read(&ca).expect("the TLS front's CA"));
    let sdk = keyhive::aws::sdk_config(&config).await;
    let described = describe(&sdk, &url).send().await.expect("DescribeTable over TLS");
    assert_eq!(described.table().and_then(|t| t.table_name()), Some(config.table_name.as_str()));

    // The certificate is really checked: the same front by its address, which the certificate
    // does not name (only `localhost`), is refused.
    let port = url.rsplit(':').next().expect("a port");
    let refused = describe(&sdk, &format!("https://127.0.0.1:{port}")).send().await;
    let error = format!("{:?}", refused.expect_err("a certificate for another name was accepted"));
    assert!(error.contains("NotValidForName"), "refused, but not for the certificate's name: {error}");

    // Without the extra CA, the production client trusts AWS's roots alone: the front's issuer
    // is unknown to it (nothing from the machine's trust store is consulted).
    config.extra_ca_pem = None;
    let production = keyhive::aws::sdk_config(&config).await;
    let refused = describe(&production, &url).send().await;
    let error = format!("{:?}", refused.expect_err("an unknown issuer was accepted"));
    assert!(error.contains("UnknownIssuer"), "refused, but not for its issuer: {error}");
}

/// A plain HTTP/1.1 server on loopback that keeps connections open and answers every request
/// with `answer`: its URL, and how many connections it has accepted.
async fn keep_alive_server(answer: &'static str) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                loop {
                    // One request: its head, then the body its Content-Length names.
                    let head_end = loop {
                        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                            break at + 4;
                        }
                        let mut chunk = [0u8; 4096];
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
                    let length = head
                        .lines()
                        .find_map(|line| line.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    while buffer.len() < head_end + length {
                        let mut chunk = [0u8; 4096];
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buffer.drain(..head_end + length);
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{answer}",
                        answer.len()
                    );
                    if socket.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, accepted)
}

#[tokio::test]
async fn a_preconnected_connection_is_the_one_the_first_call_then_uses() {
    use std::sync::atomic::Ordering::SeqCst;
    let (url, accepted) = keep_alive_server(r#"{"Table":{"TableName":"keyhive"}}"#).await;
    let config = Config::from_env();
    let (sdk, https) = keyhive::aws::function_aws(&config);
    assert!(https.preconnect(&url, std::time::Duration::from_secs(5)).await, "no connection to {url}");
    assert_eq!(accepted.load(SeqCst), 1);
    let described = describe(&sdk, &url).send().await.expect("DescribeTable");
    assert_eq!(described.table().and_then(|t| t.table_name()), Some("keyhive"));
    assert_eq!(accepted.load(SeqCst), 1, "the call opened a connection of its own");

    // Nothing listening: the preconnect says so, and nothing else happens.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    assert!(!https.preconnect(&format!("http://127.0.0.1:{closed}"), std::time::Duration::from_secs(5)).await);
}

#[tokio::test]
async fn the_functions_calls_are_signed_and_carry_no_sdk_user_agent() {
    use keyhive::testkit::canned::CannedAws;
    let aws = CannedAws::default().recording().answer("GetItem", &serde_json::json!({}));
    let api = aws.api("keyhive");
    let key = keyhive::store::items::key_of("KEY#x".into(), "KEY");
    assert_eq!(api.store.get_consistent(key).await.expect("GetItem"), None);
    let sent = aws.requests();
    assert_eq!(sent.len(), 1);
    let headers = &sent[0];
    assert!(headers.iter().any(|name| name == "authorization"), "unsigned: {headers:?}");
    assert!(headers.iter().any(|name| name == "x-amz-date"), "{headers:?}");
    for absent in ["x-amz-user-agent", "user-agent"] {
        assert!(!headers.iter().any(|name| name == absent), "{absent} sent: {headers:?}");
    }
}
