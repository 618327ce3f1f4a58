use lambda_http::{run, service_fn, Error};

// One event at a time: a current-thread runtime starts faster and smaller (make bench, 3 of 4 runs).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    keyhive::telemetry::init();
    let webhooks = webhooks::Webhooks::from_env().await.map_err(Error::from)?;
    run(service_fn(|request| async { Ok::<_, Error>(webhooks::handle(&webhooks, request).await) })).await
}
