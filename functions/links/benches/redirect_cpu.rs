//! `function_cpu_us_median.links_redirect`: the links function's own CPU for a public redirect
//! (read the REST event from its bytes, route, classify the visitor, count the click in the slug
//! item's one UpdateItem, build the 302), over a canned DynamoDB answer served in memory
//! (`keyhive::testkit::canned`). The SDK's whole client stack runs as the function configures it.

use criterion::{criterion_group, criterion_main, Criterion};
use keyhive::testkit::canned::CannedAws;
use keyhive::testkit::Event;
use serde_json::json;

fn redirect_cpu(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    // The function's log lines, formatted as in Lambda and thrown away.
    keyhive::telemetry::init_to(std::io::sink);
    // The slug item as the redirect's UpdateItem leaves it (ALL_NEW), with its capacity.
    let slug = json!({
        "PK": {"S": "SLUG#launch-2026"}, "SK": {"S": keyhive::schema::SLUG_SK},
        "link_id": {"S": "lnk_8hN3kQ2mZx7vR4tP"}, "org_id": {"S": "org_5tH2nB8kQ1zX9mW3"}, "environment": {"S": "live"},
        "destination": {"S": "https://example.com/launch?utm_source=short&utm_campaign=2026"},
        "clicks": {"N": "41"}, "c_n": {"N": "42"}, "c_ev": {"S": "1765000000|h|news.example.org|DE"},
    });
    let links = links::Links {
        api: CannedAws::default()
            .answer(
                "UpdateItem",
                &json!({ "Attributes": slug, "ConsumedCapacity": { "TableName": "keyhive", "CapacityUnits": 1.0 } }),
            )
            .api("keyhive"),
        dns: None,
    };

    // The bytes the Runtime API hands the function: each measured call parses them, as lambda_http does.
    let bytes = serde_json::to_string(&Event::load("links-redirect.json").0).expect("event bytes");
    let request = || lambda_http::request::from_str(std::hint::black_box(&bytes)).expect("a REST event");
    let answer = runtime.block_on(links::handle(&links, request()));
    assert_eq!(answer.status(), 302, "{:?}", answer.body());
    assert_eq!(answer.headers()["location"], "https://example.com/launch?utm_source=short&utm_campaign=2026");

    c.bench_function("links_redirect_cpu", |b| b.iter(|| runtime.block_on(links::handle(&links, request()))));
}

criterion_group!(benches, redirect_cpu);
criterion_main!(benches);
