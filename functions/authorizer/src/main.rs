// The SDK futures nest deeply; the default limit is too low to compute this future's layout.
#![recursion_limit = "256"]

use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    keyhive::telemetry::init();
    let api = keyhive::Api::from_env().await;
    run(service_fn(|event: LambdaEvent<_>| async { authorizer::handler(&api, event.payload).await })).await
}
