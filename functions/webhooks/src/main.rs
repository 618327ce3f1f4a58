use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    keyhive::telemetry::init();
    let webhooks = webhooks::Webhooks::from_env().await.map_err(Error::from)?;
    run(service_fn(|request| async { Ok::<_, Error>(webhooks::handle(&webhooks, request).await) })).await
}
