//! Structured JSON logs. What is logged is chosen at each call site: never a key, a secret,
//! a hash or an Authorization header (the request id is what ties lines together).

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEYHIVE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn"));
    // `try_init`: tests and tools may have installed a subscriber already.
    let _ =
        tracing_subscriber::fmt().json().with_env_filter(filter).with_current_span(false).with_target(false).try_init();
}
