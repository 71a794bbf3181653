//! What the server spends on a v2 token before it touches the catalog: decode, verify
//! (HMAC-SHA256, the time claims) and the two-way comparison of the payload with the request's
//! fields, for a token shaped like the ones browser uploads carry. Performance target: ≤ 5 µs
//! (issue 9). `cargo bench -p folio-token --bench verify`.

use criterion::{criterion_group, criterion_main, Criterion};
use folio_token::{decode, UploadToken};
use std::hint::black_box;

const NOW: i64 = 1_800_000_000;

/// The fields a typical client-side upload sends besides `file` and `token`.
const FIELDS: [(&str, &str); 6] = [
    ("fileName", "summer-dress-front.jpg"),
    ("folder", "/products/2026/summer"),
    ("tags", "summer,dress,front"),
    ("useUniqueFileName", "true"),
    ("isPrivateFile", "false"),
    ("customMetadata", r#"{"brand":"Acme","price":49}"#),
];

fn token() -> String {
    let mut builder = UploadToken::new("public_bench", "private_bench_key_of_32_chars_xx");
    for (name, value) in FIELDS {
        builder = builder.param(name, value);
    }
    builder
        .issued_at(NOW)
        .expires_in(600)
        .sign()
        .expect("a token")
}

fn verify(c: &mut Criterion) {
    let token = token();
    c.bench_function("decode + verify + payload_matches (6 fields)", |b| {
        b.iter(|| {
            let verified = decode(black_box(&token))
                .and_then(|t| t.verify("private_bench_key_of_32_chars_xx", NOW, 60))
                .expect("verifies");
            assert!(verified.payload_matches(black_box(FIELDS)));
        })
    });
    c.bench_function("decode only", |b| {
        b.iter(|| decode(black_box(&token)).expect("decodes"))
    });
}

criterion_group!(benches, verify);
criterion_main!(benches);
