use lambda_http::{run, service_fn, Error};

// One event at a time: a current-thread runtime starts faster and smaller.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    keyhive::telemetry::init();
    let api = keyhive::ApiState::from_env().await;
    let console = console::Console::embedded(console::UploadOrigin::from_env().as_ref());
    run(service_fn(|request| async { Ok::<_, Error>(console::handle(&api, &console, request).await) })).await
}
