//! keyhive-admin: operator commands that are not API routes.
//!
//! - `init-local [--secret-file PATH]`: for the local stack, create the table, the hashing
//!   secret and the cursor-sealing secret if they are missing (the hashing secret's value is kept
//!   in PATH so restarts keep working keys; the cursor secret is random).
//! - `create-table`: create the table only.
//! - `bootstrap --org-name NAME [--environment live|test] [--key-file PATH] [--if-missing]`:
//!   create an organization and its first admin bot key (every permission, enterprise tier,
//!   10000 requests a minute). The key is printed once, or written to PATH with mode 0600.
//!   With `--if-missing`, a key already in PATH that the store still knows is kept.
//!
//! Table and secret names come from `--table` / `--secret-id`, else `KEYHIVE_TABLE` /
//! `KEYHIVE_SECRET_ID`; region, endpoints and credentials from the default AWS chain
//! (`AWS_REGION`, `AWS_PROFILE`, `AWS_ENDPOINT_URL_DYNAMODB`, ...).

use base64::Engine;
use keyhive::config::Config;
use keyhive::store::dynamo::ensure_table;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

type Failure = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("keyhive-admin: {}", keyhive::http::error::source_chain(err.as_ref()));
            ExitCode::FAILURE
        }
    }
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
}

async fn run(args: &[String]) -> Result<(), Failure> {
    let mut config = Config::from_env();
    if let Some(table) = flag(args, "--table") {
        config.table_name = table.to_string();
    }
    if let Some(secret_id) = flag(args, "--secret-id") {
        config.secret_id = secret_id.to_string();
    }
    let sdk = keyhive::aws::sdk_config(&config).await;
    match args.first().map(String::as_str) {
        Some("create-table") => create_table(&sdk, &config).await,
        Some("init-local") => {
            create_table(&sdk, &config).await?;
            let secret_file = flag(args, "--secret-file").ok_or("init-local needs --secret-file PATH")?;
            let value = local_secret_value(Path::new(secret_file))?;
            let created =
                keyhive::auth::secrets::ensure_secret(&keyhive::aws::secretsmanager(&sdk), &config.secret_id, &value).await?;
            println!("secret {}: {}", config.secret_id, if created { "created" } else { "exists" });
            let mut cursor_bytes = [0u8; 48];
            rand::fill(&mut cursor_bytes);
            let cursor_value = base64::engine::general_purpose::STANDARD_NO_PAD.encode(cursor_bytes);
            let created = keyhive::auth::secrets::ensure_secret(
                &keyhive::aws::secretsmanager(&sdk),
                &config.cursor_secret_id,
                &cursor_value,
            )
            .await?;
            println!("secret {}: {}", config.cursor_secret_id, if created { "created" } else { "exists" });
            // Kept beside the hashing secret: moto forgets everything on restart, and sealed
            // webhook secrets must still open after one.
            let sealing_path = Path::new(secret_file).with_file_name("webhook-sealing-key");
            let sealing_value = local_secret_value(&sealing_path)?;
            let created = keyhive::auth::secrets::ensure_secret(
                &keyhive::aws::secretsmanager(&sdk),
                &config.webhook_secret_id,
                &sealing_value,
            )
            .await?;
            println!("secret {}: {}", config.webhook_secret_id, if created { "created" } else { "exists" });
            Ok(())
        }
        Some("bootstrap") => bootstrap(&sdk, &config, args).await,
        _ => Err("usage: keyhive-admin <init-local --secret-file PATH | create-table | bootstrap --org-name NAME [--environment live|test] [--key-file PATH] [--if-missing]> [--table NAME] [--secret-id ID]".into()),
    }
}

async fn bootstrap(sdk: &aws_config::SdkConfig, config: &Config, args: &[String]) -> Result<(), Failure> {
    use keyhive::auth::{Credential, Environment, Tier};
    use keyhive::store::KeyStore;
    let org_name = flag(args, "--org-name").ok_or("bootstrap needs --org-name NAME")?;
    let environment = match flag(args, "--environment") {
        None => Environment::Live,
        Some(e) => Environment::parse(e).ok_or("--environment must be live or test")?,
    };
    let key_file = flag(args, "--key-file").map(Path::new);
    let secret =
        keyhive::auth::secrets::load_hashing_secret(&keyhive::aws::secretsmanager(sdk), &config.secret_id).await?;
    let store = keyhive::store::dynamo::DynamoStore::new(keyhive::aws::dynamodb(sdk), config.table_name.clone());
    if let (true, Some(path)) = (args.iter().any(|a| a == "--if-missing"), key_file) {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Some(credential) = Credential::parse(text.trim(), &config.key_prefix) {
                let known = store.get_key(&credential.key_id).await?;
                if known.is_some_and(|k| k.revoked_at.is_none() && k.secret_hash.matches(&credential.hash(&secret))) {
                    println!("admin key in {} is valid: kept", path.display());
                    return Ok(());
                }
            }
        }
    }
    let (org_id, record, credential) = keyhive::auth::bootstrap::bootstrap_org(
        &store,
        &config.key_prefix,
        &secret,
        org_name,
        environment,
        Tier::Enterprise(10_000),
    )
    .await
    .map_err(|e| format!("bootstrap failed: {}", keyhive::http::error::source_chain(&e)))?;
    match key_file {
        Some(path) => {
            write_private(path, credential.reveal())?;
            println!(
                "organization {} created; admin key {} written to {}",
                org_id.as_str(),
                record.key_id,
                path.display()
            );
        }
        None => {
            println!(
                "organization {} created; admin key {} (shown once, store it now):",
                org_id.as_str(),
                record.key_id
            );
            println!("{}", credential.reveal());
        }
    }
    Ok(())
}

fn write_private(path: &Path, content: &str) -> Result<(), Failure> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(content.as_bytes())?;
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(())
}

async fn create_table(sdk: &aws_config::SdkConfig, config: &Config) -> Result<(), Failure> {
    let client = keyhive::aws::dynamodb(sdk);
    let created = ensure_table(&client, &config.table_name, &keyhive::schema::table_definition()).await?;
    println!("table {}: {}", config.table_name, if created { "created" } else { "exists" });
    Ok(())
}

/// The local secret's value: read from the file, or 48 random bytes written to it (mode 0600).
fn local_secret_value(path: &Path) -> Result<String, Failure> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let existing = existing.trim().to_string();
        if existing.len() >= 32 {
            return Ok(existing);
        }
    }
    let mut bytes = [0u8; 48];
    rand::fill(&mut bytes);
    let value = base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes);
    write_private(path, &value)?;
    Ok(value)
}
