//! `qr_render_us_median`: a link's QR code drawn as a 600 px PNG with a 200 px PNG logo (decoded,
//! scaled, drawn at level H, encoded), no I/O: what `GET /short-link/{id}/qr?logo=` costs in CPU.

use criterion::{criterion_group, criterion_main, Criterion};
use files::qr::{render, Format, Level, Logo, Options, Rgb};
use std::hint::black_box;

fn logo_png() -> Vec<u8> {
    let img = image::RgbaImage::from_fn(200, 200, |x, y| image::Rgba([200, (x % 256) as u8, (y % 256) as u8, 255]));
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(img).write_to(&mut out, image::ImageFormat::Png).expect("a test logo");
    out.into_inner()
}

fn qr_render(c: &mut Criterion) {
    let logo = logo_png();
    let options = Options {
        format: Format::Png,
        size: 600,
        margin: 2,
        level: Level::H,
        fg: Rgb(0, 0, 0),
        bg: Rgb(255, 255, 255),
    };
    let url = "https://go.example.com/launch-2026";
    let drawn = Logo { bytes: &logo, content_type: "image/png" };
    assert!(render(url, &options, Some(&drawn)).is_ok());
    c.bench_function("qr_render", |b| b.iter(|| render(black_box(url), &options, Some(&drawn))));
}

criterion_group!(benches, qr_render);
criterion_main!(benches);
