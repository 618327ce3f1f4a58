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

#[tokio::test]
async fn a_preconnected_connection_is_the_one_the_first_call_then_uses() {
    let server = keyhive::testkit::LoopbackHttp::serve(
        "application/x-amz-json-1.0",
        r#"{"Table":{"TableName":"keyhive"}}"#.into(),
    )
    .await;
    let url = &server.url;
    let config = Config::from_env();
    let (sdk, https) = keyhive::aws::function_aws(&config);
    assert!(https.preconnect(url, std::time::Duration::from_secs(5)).await, "no connection to {url}");
    assert_eq!((server.connections(), server.requests()), (1, 1));
    let described = describe(&sdk, url).send().await.expect("DescribeTable");
    assert_eq!(described.table().and_then(|t| t.table_name()), Some("keyhive"));
    assert_eq!((server.connections(), server.requests()), (1, 2), "the call opened a connection of its own");

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
