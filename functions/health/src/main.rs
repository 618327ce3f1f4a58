use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    keyhive::telemetry::init();
    let api = keyhive::Api::from_env().await;
    run(service_fn(|request| async { Ok::<_, Error>(health::handle(&api, request).await) })).await
}
