//! `verify_key_ns_median`: parse + HMAC-SHA256 + constant-time compare of a presented key, no I/O.

use criterion::{criterion_group, criterion_main, Criterion};
use keyhive::auth::credential::verify;
use keyhive::auth::secrets::HashingSecret;
use keyhive::auth::{Credential, Environment, KeyId};
use std::hint::black_box;

fn verify_key(c: &mut Criterion) {
    let secret = HashingSecret::new(b"0123456789abcdef0123456789abcdef0123456789abcdef".to_vec()).expect("secret");
    let credential = Credential::mint("kh", Environment::Live, KeyId::generate());
    let stored = credential.hash(&secret);
    let text = credential.reveal().to_string();
    assert!(verify(&text, "kh", &secret, &stored));
    c.bench_function("verify_key", |b| b.iter(|| verify(black_box(&text), "kh", &secret, black_box(&stored))));
}

criterion_group!(benches, verify_key);
criterion_main!(benches);
