//! keyhive-admin: operator commands that are not API routes (`keyhive-admin --help`).
//!
//! Where to act comes from, in order: the flags (`--table`, `--secret-id`, `--key-prefix`), the
//! outputs of a deployed stack (`--stack NAME`), the environment (`KEYHIVE_TABLE`,
//! `KEYHIVE_SECRET_ID`, `KEYHIVE_KEY_PREFIX`), then the local defaults. Region, endpoints and
//! credentials come from the default AWS chain (`AWS_REGION`, `AWS_PROFILE`,
//! `AWS_ENDPOINT_URL_DYNAMODB`, ...).

mod recount;

use base64::Engine;
use clap::{Args, Parser, Subcommand, ValueEnum};
use keyhive::config::Config;
use keyhive::store::dynamo::ensure_table;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

type Failure = Box<dyn std::error::Error>;

#[derive(Parser, Debug)]
#[command(
    name = "keyhive-admin",
    version,
    about = "Operator commands for keyhive that are not API routes",
    after_help = "Deployed stack: keyhive-admin --stack keyhive bootstrap --org-name \"Acme\" --key-file ./acme-admin-key\n\
                  Local stack (make dev does this): keyhive-admin init-local --secret-file .dev/hashing-secret"
)]
struct Cli {
    #[command(flatten)]
    target: Target,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct Target {
    /// Read the table, the hashing secret and the key prefix from this deployed CloudFormation
    /// stack's outputs (TableName, HashingSecretArn, KeyPrefix)
    #[arg(long, global = true, value_name = "NAME")]
    stack: Option<String>,
    /// The DynamoDB table [env: KEYHIVE_TABLE, default: keyhive]
    #[arg(long, global = true, value_name = "NAME")]
    table: Option<String>,
    /// Secrets Manager id or ARN of the hashing secret [env: KEYHIVE_SECRET_ID]
    #[arg(long, global = true, value_name = "ID")]
    secret_id: Option<String>,
    /// Prefix of the keys the deployment mints and accepts [env: KEYHIVE_KEY_PREFIX, default: kh]
    #[arg(long, global = true, value_name = "PREFIX")]
    key_prefix: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Local stack only: create the table and the secrets where missing
    ///
    /// The table, the hashing secret, the cursor secret and the webhook sealing key. The hashing
    /// secret's and sealing key's values are kept in files, so a restarted moto keeps existing
    /// keys and webhook secrets working.
    InitLocal {
        /// File holding the hashing secret (created with 48 random bytes, mode 0600, if absent);
        /// the sealing key is kept beside it in `webhook-sealing-key`
        #[arg(long, value_name = "PATH")]
        secret_file: PathBuf,
    },
    /// Create the table (with its indexes, TTL and stream) if it is missing
    CreateTable,
    /// Create an organization and its first admin key
    ///
    /// A bot key with every permission, enterprise tier, 10000 requests a minute. The key is shown
    /// once, or written to --key-file (mode 0600).
    Bootstrap {
        /// The organization's display name
        #[arg(long, value_name = "NAME")]
        org_name: String,
        /// The environment of the admin key
        #[arg(long, value_enum, default_value_t = EnvironmentArg::Live)]
        environment: EnvironmentArg,
        /// Write the key to this file (mode 0600) instead of printing it
        #[arg(long, value_name = "PATH")]
        key_file: Option<PathBuf>,
        /// Keep the key already in --key-file if the deployment still accepts it
        #[arg(long, requires = "key_file")]
        if_missing: bool,
    },
    /// Set every per-organization counter to what the table holds
    ///
    /// Running sandboxes, keys, links, domains and webhook endpoints are counted in each creating
    /// and deleting transaction; run this once after deploying the version that introduced the
    /// ceilings (its data was not counted), or after a restore. Run it while the API is quiet.
    Recount {
        /// Only report the counters that differ (exit status 1 if any does)
        #[arg(long)]
        check: bool,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum EnvironmentArg {
    Live,
    Test,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("keyhive-admin: {}", keyhive::error::source_chain(err.as_ref()));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let mut config = Config::from_env();
    // An operator's call may cross a region: more room than a function's 2 s bound.
    config.dynamodb_timeout = config.dynamodb_timeout.max(Duration::from_secs(10));
    let sdk = keyhive::aws::operator_sdk_config(&config).await;
    if let Some(stack) = &cli.target.stack {
        let outputs = stack_outputs(&sdk, stack).await?;
        let output = |key: &str| {
            outputs.get(key).cloned().ok_or_else(|| format!("stack {stack} has no {key} output (is it keyhive's?)"))
        };
        config.table_name = output("TableName")?;
        config.secret_id = output("HashingSecretArn")?;
        config.key_prefix = output("KeyPrefix")?;
    }
    if let Some(table) = cli.target.table {
        config.table_name = table;
    }
    if let Some(secret_id) = cli.target.secret_id {
        config.secret_id = secret_id;
    }
    if let Some(prefix) = cli.target.key_prefix {
        config.key_prefix = prefix;
    }
    if config.key_prefix.is_empty()
        || config.key_prefix.len() > 16
        || !config.key_prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Err(format!("key prefix {:?} must be 1-16 lowercase letters or digits", config.key_prefix).into());
    }
    match cli.command {
        Command::CreateTable => create_table(&sdk, &config).await,
        Command::Recount { check } => {
            let store =
                keyhive::store::dynamo::DynamoStore::new(keyhive::aws::dynamodb(&sdk), config.table_name.clone());
            let differing = recount::recount(&store, check).await?;
            println!("{differing} counter(s) {}", if check { "differ" } else { "set" });
            if check && differing > 0 {
                return Err("counters differ from the table".into());
            }
            Ok(())
        }
        Command::InitLocal { secret_file } => init_local(&sdk, &config, &secret_file).await,
        Command::Bootstrap { org_name, environment, key_file, if_missing } => {
            let environment = match environment {
                EnvironmentArg::Live => keyhive::auth::Environment::Live,
                EnvironmentArg::Test => keyhive::auth::Environment::Test,
            };
            bootstrap(&sdk, &config, &org_name, environment, key_file.as_deref(), if_missing).await
        }
    }
}

/// A deployed stack's outputs by key.
async fn stack_outputs(sdk: &aws_config::SdkConfig, stack: &str) -> Result<HashMap<String, String>, Failure> {
    let described = aws_sdk_cloudformation::Client::new(sdk)
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| format!("cannot read stack {stack}: {}", keyhive::error::source_chain(&e)))?;
    let found = described.stacks().first().ok_or_else(|| format!("no stack named {stack}"))?;
    Ok(found
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
        .collect())
}

async fn init_local(sdk: &aws_config::SdkConfig, config: &Config, secret_file: &Path) -> Result<(), Failure> {
    create_table(sdk, config).await?;
    let secrets = keyhive::aws::secretsmanager(sdk);
    let value = local_secret_value(secret_file)?;
    let created = keyhive::secrets::ensure_secret(&secrets, &config.secret_id, &value).await?;
    println!("secret {}: {}", config.secret_id, if created { "created" } else { "exists" });
    let mut cursor_bytes = [0u8; 48];
    rand::fill(&mut cursor_bytes);
    let cursor_value = base64::engine::general_purpose::STANDARD_NO_PAD.encode(cursor_bytes);
    let created = keyhive::secrets::ensure_secret(&secrets, &config.cursor_secret_id, &cursor_value).await?;
    println!("secret {}: {}", config.cursor_secret_id, if created { "created" } else { "exists" });
    // Kept beside the hashing secret: moto forgets everything on restart, and sealed webhook
    // secrets must still open after one.
    let sealing_value = local_secret_value(&secret_file.with_file_name("webhook-sealing-key"))?;
    let created = keyhive::secrets::ensure_secret(&secrets, &config.webhook_secret_id, &sealing_value).await?;
    println!("secret {}: {}", config.webhook_secret_id, if created { "created" } else { "exists" });
    // The files bucket, in moto's S3 (template.yaml makes the real one).
    if std::env::var("KEYHIVE_FILES_BUCKET").is_ok() {
        let s3 = files::s3::S3::from_env().map_err(|e| format!("files bucket: {e:?}"))?;
        s3.ensure_bucket().await.map_err(|e| format!("files bucket: {e:?}"))?;
        println!("bucket {}: ready", std::env::var("KEYHIVE_FILES_BUCKET").unwrap_or_default());
    }
    Ok(())
}

async fn bootstrap(
    sdk: &aws_config::SdkConfig,
    config: &Config,
    org_name: &str,
    environment: keyhive::auth::Environment,
    key_file: Option<&Path>,
    if_missing: bool,
) -> Result<(), Failure> {
    use keyhive::auth::KeyStore;
    use keyhive::auth::{Credential, Tier};
    let secret =
        keyhive::auth::secrets::load_hashing_secret(&keyhive::aws::secretsmanager(sdk), &config.secret_id).await?;
    let store = keyhive::store::dynamo::DynamoStore::new(keyhive::aws::dynamodb(sdk), config.table_name.clone());
    if let (true, Some(path)) = (if_missing, key_file) {
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
    let (org_id, record, credential) = keyhive::bootstrap::bootstrap_org(
        &store,
        &config.key_prefix,
        &secret,
        org_name,
        environment,
        Tier::Enterprise(10_000),
    )
    .await
    .map_err(|e| format!("bootstrap failed: {}", keyhive::error::source_chain(&e)))?;
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

/// Writes a secret to `path` with mode 0600 from its first byte: a new file beside it, created
/// 0600 (never through an existing file or link), then renamed over `path`.
fn write_private(path: &Path, content: &str) -> Result<(), Failure> {
    let name = path.file_name().ok_or_else(|| format!("{} is not a file path", path.display()))?;
    let mut partial = name.to_os_string();
    partial.push(format!(".{}.partial", std::process::id()));
    let partial = path.with_file_name(partial);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written =
        options.open(&partial).and_then(|mut file| file.write_all(content.as_bytes()).and_then(|()| file.sync_all()));
    if let Err(err) = written.and_then(|()| std::fs::rename(&partial, path)) {
        let _ = std::fs::remove_file(&partial);
        return Err(format!("cannot write {}: {err}", path.display()).into());
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn if_missing_needs_a_key_file_and_environments_are_checked() {
        assert!(Cli::try_parse_from(["keyhive-admin", "bootstrap", "--org-name", "A", "--if-missing"]).is_err());
        assert!(
            Cli::try_parse_from(["keyhive-admin", "bootstrap", "--org-name", "A", "--environment", "prod"]).is_err()
        );
        let cli = Cli::try_parse_from(["keyhive-admin", "bootstrap", "--org-name", "A", "--stack", "kh"]).unwrap();
        assert_eq!(cli.target.stack.as_deref(), Some("kh"));
    }
}
