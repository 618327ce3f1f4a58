use lambda_http::{run, service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    keyhive::telemetry::init();
    let links = links::Links::from_env().await;
    run(service_fn(|request| async { Ok::<_, Error>(links::handle(&links, request).await) })).await
}
