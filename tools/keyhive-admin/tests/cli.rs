//! The operator CLI as an operator runs it: help for every command, and a bootstrap that takes
//! the table, the hashing secret and the key prefix from a deployed stack's outputs (the stack
//! lives in moto's CloudFormation, the table and secret in the test stack).

use keyhive::auth::Credential;
use keyhive::store::KeyStore;
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
    let sdk = keyhive::aws::sdk_config(&api.config).await;
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
