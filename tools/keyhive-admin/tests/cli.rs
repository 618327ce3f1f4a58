//! The operator CLI as an operator runs it: help for every command, and a bootstrap that takes
//! the table, the hashing secret and the key prefix from a deployed stack's outputs (the stack
//! lives in moto's CloudFormation, the table and secret in the test stack).

use keyhive::auth::Credential;
use keyhive::auth::KeyStore;
use keyhive::testkit::stack_api;
use std::process::Command;

fn admin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_keyhive-admin"))
}

#[test]
fn every_command_has_help() {
    for (args, expected) in [
        (vec!["--help"], vec!["bootstrap", "init-local", "create-table", "--stack", "--key-prefix"]),
        (vec!["bootstrap", "--help"], vec!["--org-name", "--environment", "--key-file", "--if-missing", "--stack"]),
        (vec!["init-local", "--help"], vec!["--secret-file"]),
        (vec!["recount", "--help"], vec!["--check"]),
        (vec!["create-table", "--help"], vec!["--table"]),
    ] {
        let out = admin().args(&args).output().expect("run keyhive-admin");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        for word in expected {
            assert!(text.contains(word), "{args:?} does not mention {word}:\n{text}");
        }
    }
    let out = admin().args(["bootstrap"]).output().expect("run keyhive-admin");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--org-name"));
}

#[tokio::test]
async fn bootstrap_reads_the_table_secret_and_key_prefix_from_the_stacks_outputs() {
    let api = stack_api().await;
    let table = std::env::var("KEYHIVE_TABLE").expect("KEYHIVE_TABLE");
    let secret_id = std::env::var("KEYHIVE_SECRET_ID").expect("KEYHIVE_SECRET_ID");
    let stack = format!("kh-admin-{}", keyhive::model::random_id("s", 8).split_off(2).to_lowercase());
    let template = serde_json::json!({
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            "TableName": {"Value": table},
            "HashingSecretArn": {"Value": secret_id},
            "KeyPrefix": {"Value": "acme"},
        }
    });
    // The operator's configuration, as the tool itself has it (moto's CloudFormation from
    // AWS_ENDPOINT_URL_CLOUDFORMATION).
    let sdk = keyhive::aws::operator_sdk_config(&api.config).await;
    aws_sdk_cloudformation::Client::new(&sdk)
        .create_stack()
        .stack_name(&stack)
        .template_body(template.to_string())
        .send()
        .await
        .expect("create the stack in moto");

    let dir = std::env::temp_dir().join(format!("{stack}-key"));
    let _ = std::fs::remove_file(&dir);
    // Nothing but the stack names the table or the secret.
    let out = admin()
        .args(["--stack", &stack, "bootstrap", "--org-name", "Acme", "--key-file"])
        .arg(&dir)
        .env_remove("KEYHIVE_TABLE")
        .env_remove("KEYHIVE_SECRET_ID")
        .env_remove("KEYHIVE_KEY_PREFIX")
        .output()
        .expect("run keyhive-admin");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = std::fs::read_to_string(&dir).expect("the key file");
    let _ = std::fs::remove_file(&dir);
    assert!(key.starts_with("acme_live_"), "the stack's prefix: {}", &key[..10.min(key.len())]);
    let credential = Credential::parse(key.trim(), "acme").expect("a key of the deployment's prefix");
    let record = api.store.get_key(&credential.key_id).await.expect("read").expect("the key is stored");
    let secret = api.hashing_secret().await.expect("hashing secret");
    assert!(record.secret_hash.matches(&credential.hash(secret)), "stored under the stack's hashing secret");

    let out = admin().args(["--stack", "no-such-stack", "create-table"]).output().expect("run keyhive-admin");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-stack"));
}

/// `recount` sets every per-tenant counter to what the table holds (data written before the
/// counters existed), and `recount --check` fails while any differs.
#[tokio::test]
async fn recount_sets_the_counters_to_what_the_table_holds() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use keyhive::schema;
    let api = stack_api().await;
    let table = format!("keyhive-recount-{}", rand::random::<u32>());
    keyhive::store::dynamo::ensure_table(api.store.client(), &table, &schema::table_definition()).await.unwrap();
    let put = |pk: String, sk: &str, fields: &[(&str, &str)]| {
        let mut request = api
            .store
            .client()
            .put_item()
            .table_name(&table)
            .item(schema::PK, AttributeValue::S(pk))
            .item(schema::SK, AttributeValue::S(sk.to_string()));
        for (name, value) in fields {
            request = request.item(*name, AttributeValue::S(value.to_string()));
        }
        request.send()
    };
    let tenant = [("org_id", "org_AbCdEf0123456789abcd"), ("environment", "live")];
    put("LINK#lnk_1".into(), schema::LINK_SK, &tenant).await.unwrap();
    put("LINK#lnk_2".into(), schema::LINK_SK, &tenant).await.unwrap();
    put("KEY#AAAAAAAAAAAA".into(), schema::KEY_SK, &tenant).await.unwrap();
    let revoked = [tenant[0], tenant[1], ("revoked_at", "2026-01-01T00:00:00Z")];
    put("KEY#BBBBBBBBBBBB".into(), schema::KEY_SK, &revoked).await.unwrap();
    put("SBX#sbx_1".into(), schema::SANDBOX_SK, &[tenant[0], tenant[1], ("status", "running")]).await.unwrap();
    put("SBX#sbx_2".into(), schema::SANDBOX_SK, &[tenant[0], tenant[1], ("status", "killed")]).await.unwrap();
    // A counter with nothing behind it (say, deletions of uncounted items drove it off).
    let stale = schema::webhook_quota_pk("org_AbCdEf0123456789abcd", "live");
    api.store
        .client()
        .put_item()
        .table_name(&table)
        .item(schema::PK, AttributeValue::S(stale.clone()))
        .item(schema::SK, AttributeValue::S(schema::QUOTA_SK.into()))
        .item("count", AttributeValue::N("-3".into()))
        .send()
        .await
        .unwrap();

    let run = |check: bool| {
        let mut command = admin();
        command.args(["--table", &table, "recount"]);
        if check {
            command.arg("--check");
        }
        command.output().expect("run keyhive-admin")
    };
    let before = run(true);
    assert!(!before.status.success(), "the counters differ before");
    assert!(String::from_utf8_lossy(&before.stdout).contains("4 counter(s) differ"), "{before:?}");
    let set = run(false);
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    let after = run(true);
    assert!(after.status.success(), "{}", String::from_utf8_lossy(&after.stdout));

    let count = |pk: String, attribute: &'static str| {
        let client = api.store.client().clone();
        let table = table.clone();
        async move {
            let item = client
                .get_item()
                .table_name(&table)
                .key(schema::PK, AttributeValue::S(pk))
                .key(schema::SK, AttributeValue::S(schema::QUOTA_SK.into()))
                .send()
                .await
                .unwrap()
                .item
                .unwrap_or_default();
            item.get(attribute).and_then(|v| v.as_n().ok()).and_then(|n| n.parse::<i64>().ok())
        }
    };
    let org = "org_AbCdEf0123456789abcd";
    assert_eq!(count(schema::link_quota_pk(org, "live"), "count").await, Some(2));
    assert_eq!(count(schema::key_quota_pk(org, "live"), "count").await, Some(1));
    assert_eq!(count(schema::sandbox_quota_pk(org, "live"), "running").await, Some(1));
    assert_eq!(count(stale, "count").await, Some(0));
    api.store.client().delete_table().table_name(&table).send().await.unwrap();
}
