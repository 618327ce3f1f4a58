use lambda_http::{run, service_fn, Error};

// One event at a time: a current-thread runtime starts faster and smaller.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    keyhive::telemetry::init();
    let api = keyhive::ApiState::from_env().await;
    // The bucket and its credentials come from the environment Lambda gives; a missing setting
    // fails the start, where the operator sees it.
    let s3 = files::s3::S3::from_env().map_err(|err| Error::from(format!("files bucket: {err:?}")))?;
    run(service_fn(|request| async { Ok::<_, Error>(files::handle(&api, &s3, request).await) })).await
}
