//! keyhive-admin: operator commands that are not API routes.
//!
//! - `init-local [--secret-file PATH]`: for the local stack, create the table and the hashing
//!   secret if they are missing (the secret's value is kept in PATH so restarts keep working keys).
//! - `create-table`: create the table only.
//!
//! Table and secret names come from `KEYHIVE_TABLE` / `KEYHIVE_SECRET_ID`; endpoints and
//! credentials from the default AWS chain (`AWS_ENDPOINT_URL_DYNAMODB`, ...).

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
            eprintln!("keyhive-admin: {}", keyhive::error::source_chain(err.as_ref()));
            ExitCode::FAILURE
        }
    }
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
}

async fn run(args: &[String]) -> Result<(), Failure> {
    let config = Config::from_env();
    let sdk = keyhive::aws::sdk_config(&config).await;
    match args.first().map(String::as_str) {
        Some("create-table") => create_table(&sdk, &config).await,
        Some("init-local") => {
            create_table(&sdk, &config).await?;
            let secret_file = flag(args, "--secret-file").ok_or("init-local needs --secret-file PATH")?;
            let value = local_secret_value(Path::new(secret_file))?;
            let created =
                keyhive::secrets::ensure_secret(&keyhive::aws::secretsmanager(&sdk), &config.secret_id, &value).await?;
            println!("secret {}: {}", config.secret_id, if created { "created" } else { "exists" });
            Ok(())
        }
        _ => Err("usage: keyhive-admin <init-local --secret-file PATH | create-table>".into()),
    }
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
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(value.as_bytes())?;
    Ok(value)
}
