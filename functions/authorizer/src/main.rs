// The SDK futures nest deeply; the default limit is too low to compute this future's layout.
#![recursion_limit = "256"]

use lambda_runtime::{run, service_fn, Error, LambdaEvent};

// One event at a time: a current-thread runtime starts faster and smaller (make bench, 3 of 4 runs).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    keyhive::telemetry::init();
    let api = keyhive::ApiState::from_env().await;
    let serve = run(service_fn(|event: LambdaEvent<_>| async { authorizer::handler(&api, event.payload).await }));
    // Every request needs the hashing secret, then DynamoDB: both begin at start, at once,
    // beside the runtime's wait for the first event (polled after it, always, so that the
    // runtime's first call for an event is not delayed).
    let (served, _) = tokio::join!(biased; serve, api.warm_up());
    served
}
