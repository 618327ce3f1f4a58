//! Structured JSON logs, one flat object per line (`request_id`, `route`, `status`, ... at the top
//! level). What is logged is chosen at each call site: never a key, a secret, a hash or an
//! Authorization header (the request id is what ties lines together).

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// What is logged when nothing says otherwise: our lines, without the SDK's chatter.
const DEFAULT_FILTER: &str = "info,aws_config=warn,aws_smithy_runtime=warn";

pub fn init() {
    init_to(std::io::stdout);
}

/// `init`, writing the lines to `writer` (the CPU benches: `std::io::sink`, so that a request's
/// log line is formatted as in Lambda, and counted).
pub fn init_to<W>(writer: W)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    // `cargo lambda watch` sets AWS_LAMBDA_MAX_CONCURRENCY=1 for every function, and the runtime
    // then warns at each start that it runs sequentially, which it does anyway: "1" asks for
    // nothing, so it goes, before the runtime reads it.
    if std::env::var("AWS_LAMBDA_MAX_CONCURRENCY").is_ok_and(|v| v.trim() == "1") {
        std::env::remove_var("AWS_LAMBDA_MAX_CONCURRENCY");
    }
    let filter = filter(|name| std::env::var(name).ok());
    let json = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_writer(writer);
    // `try_init`: tests and tools may have installed a subscriber already.
    let _ = tracing_subscriber::registry().with(json).with(filter).try_init();
}

/// The log filter: `RUST_LOG` (`target=level` directives, as `env_logger` writes them), else
/// Lambda's level (`AWS_LAMBDA_LOG_LEVEL`, set by the function's `LoggingConfig`), else the default.
/// A value that does not parse is ignored rather than silencing the logs.
pub fn filter(var: impl Fn(&str) -> Option<String>) -> Targets {
    let parsed = |value: &str| value.trim().parse::<Targets>().ok();
    if let Some(targets) = var("RUST_LOG").as_deref().and_then(parsed) {
        return targets;
    }
    let default = parsed(DEFAULT_FILTER).unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    match var("AWS_LAMBDA_LOG_LEVEL").and_then(|level| level.trim().parse::<LevelFilter>().ok()) {
        // Lambda's TRACE..FATAL levels; FATAL is not a tracing level and fails to parse (default).
        Some(level) => Targets::new()
            .with_default(level)
            // The SDK's own lines stay at WARN unless the level is stricter still.
            .with_target("aws_config", LevelFilter::WARN.min(level))
            .with_target("aws_smithy_runtime", LevelFilter::WARN.min(level)),
        None => default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    fn from(vars: &[(&str, &str)]) -> Targets {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        filter(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn rust_log_wins_then_lambda_level_then_the_default() {
        let rust_log = from(&[("RUST_LOG", "keys=debug,warn"), ("AWS_LAMBDA_LOG_LEVEL", "ERROR")]);
        assert!(rust_log.would_enable("keys", &Level::DEBUG));
        assert!(!rust_log.would_enable("links", &Level::INFO));

        let lambda = from(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG")]);
        assert!(lambda.would_enable("keys", &Level::DEBUG));
        assert!(!lambda.would_enable("aws_smithy_runtime::client", &Level::INFO));

        let quiet = from(&[("AWS_LAMBDA_LOG_LEVEL", "ERROR")]);
        assert!(!quiet.would_enable("keys", &Level::WARN));
        assert!(quiet.would_enable("keys", &Level::ERROR));

        let default = from(&[("RUST_LOG", "not a filter=="), ("AWS_LAMBDA_LOG_LEVEL", "FATAL")]);
        assert!(default.would_enable("keys", &Level::INFO));
        assert!(!default.would_enable("keys", &Level::DEBUG));
        assert!(!default.would_enable("aws_config::meta", &Level::INFO));
    }
}
