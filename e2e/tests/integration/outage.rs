//! DynamoDB Local stopped and started again under the running functions. `make test` runs these
//! tests on their own (the filter `outage::`) three times, with `KEYHIVE_OUTAGE_PHASE` = `before`,
//! `down`, `after`; its runs of the other modules leave them out.

use keyhive_e2e::Stack;
use std::time::{Duration, Instant};

fn phase() -> String {
    std::env::var("KEYHIVE_OUTAGE_PHASE").unwrap_or_else(|_| "before".into())
}

#[tokio::test]
async fn requests_answer_quickly_in_the_envelope_through_an_outage_and_recover_without_restarts() {
    let stack = Stack::from_env();
    let admin = Stack::admin_key();
    let expected = match phase().as_str() {
        "down" => 503,
        _ => 200,
    };
    for _ in 0..3 {
        let started = Instant::now();
        let body = stack.get("/health").await.envelope(expected);
        assert!(started.elapsed() < Duration::from_secs(3), "health took {:?}", started.elapsed());
        if expected == 503 {
            assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE");
        }
        let started = Instant::now();
        let answer = stack.call(&admin, "GET", "/v1/keys/self", None).await;
        assert!(started.elapsed() < Duration::from_secs(3), "authenticated request took {:?}", started.elapsed());
        match phase().as_str() {
            "before" => assert_eq!(answer.envelope(200)["data"]["type"], "bot"),
            "down" => assert_eq!(answer.envelope(503)["error"]["code"], "SERVICE_UNAVAILABLE"),
            // The in-memory table came back empty: the key is unknown now, and said so in the envelope.
            _ => assert_eq!(answer.envelope(401)["error"]["code"], "UNAUTHORIZED"),
        }
    }
}
