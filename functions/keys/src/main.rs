use lambda_http::{run, service_fn, Error};

// One event at a time: a current-thread runtime starts faster and smaller (make bench, 3 of 4 runs).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    keyhive::telemetry::init();
    let api = keyhive::ApiState::from_env().await;
    let github = keys::leaks::GitHubKeySource::from_env(api.config.dev_mode);
    run(service_fn(|request| async { Ok::<_, Error>(keys::handle(&api, &github, request).await) })).await
}
