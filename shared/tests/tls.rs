//! Every local endpoint is plain HTTP, so this is the one test of the HTTPS client production
//! uses (rustls on ring, the system's root certificates): DynamoDB Local behind a TLS front that
//! `make test` starts (scripts/tls_proxy.py), whose one-run CA it adds to the roots (`SSL_CERT_FILE`).

use keyhive::config::Config;

#[tokio::test]
async fn the_sdk_https_client_verifies_tls_and_reaches_dynamodb() {
    let url = std::env::var("KEYHIVE_TLS_DYNAMODB_URL")
        .expect("KEYHIVE_TLS_DYNAMODB_URL is unset: run under `make test`, which starts the TLS front");
    assert!(url.starts_with("https://"), "{url}");
    let config = Config::from_env();
    let sdk = keyhive::aws::sdk_config(&config).await;
    let over_tls =
        aws_sdk_dynamodb::Client::from_conf(aws_sdk_dynamodb::config::Builder::from(&sdk).endpoint_url(&url).build());
    let described =
        over_tls.describe_table().table_name(&config.table_name).send().await.expect("DescribeTable over TLS");
    assert_eq!(described.table().and_then(|t| t.table_name()), Some(config.table_name.as_str()));

    // The certificate is really checked: the same front by its address, which the certificate
    // does not name (only `localhost`), is refused.
    let port = url.rsplit(':').next().expect("a port");
    let wrong_name = format!("https://127.0.0.1:{port}");
    let refused = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk).endpoint_url(wrong_name).build(),
    )
    .describe_table()
    .table_name(&config.table_name)
    .send()
    .await;
    let error = format!("{:?}", refused.expect_err("a certificate for another name was accepted"));
    assert!(error.contains("NotValidForName"), "refused, but not for the certificate's name: {error}");
}
