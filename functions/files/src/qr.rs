//! QR codes of short links (`GET /short-link/{id}/qr`), as PNG or SVG, with an optional logo in
//! the centre. Rendering is pure (text and options in, bytes out) so the handler only parses the
//! query and fetches the link and the logo. The SVG is built from numbers and parsed colours only:
//! nothing the caller typed, and no byte of the uploaded logo, reaches it unparsed.

use crate::logo::Pixels;
use base64::Engine as _;
use qrcode::{Color, EcLevel, QrCode};
use std::fmt::Write as _;

/// Bounds of `Options`, enforced again here so a caller's slip cannot allocate more than 2048².
const MIN_SIZE: u32 = 64;
const MAX_SIZE: u32 = 2048;
const MAX_MARGIN: u32 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Svg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    L,
    M,
    Q,
    H,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// Exactly six hex digits, `RRGGBB` (no `#`, no sign, no short form).
    pub fn parse_hex(s: &str) -> Option<Rgb> {
        if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let v = u32::from_str_radix(s, 16).ok()?;
        Some(Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8))
    }

    /// Lowercase `rrggbb`, without the `#`.
    pub fn hex(self) -> String {
        format!("{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub format: Format,
    /// 64..=2048 pixels, the whole image including the margin.
    pub size: u32,
    /// 0..=20 modules of background around the code.
    pub margin: u32,
    pub level: Level,
    pub fg: Rgb,
    pub bg: Rgb,
}

impl Default for Options {
    fn default() -> Self {
        Options { format: Format::Png, size: 600, margin: 2, level: Level::M, fg: Rgb(0, 0, 0), bg: Rgb(255, 255, 255) }
    }
}

/// A logo to draw in the centre: its bytes and declared type ("image/png"|"image/jpeg"|"image/webp").
#[derive(Debug, Clone, Copy)]
pub struct Logo<'a> {
    pub bytes: &'a [u8],
    pub content_type: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrError {
    /// The text does not fit a QR code at that level.
    TooLong,
    /// The logo cannot be decoded as its declared type.
    BadLogo,
    /// The PNG encoder refused its own buffer: a bug, answered as one (500).
    Encode,
}

/// Renders `text`: PNG bytes or SVG text (as bytes, UTF-8). With a logo the level is forced to H,
/// the logo is scaled to fit within a quarter of the code's width (keeping its aspect ratio),
/// centred, and the modules behind it are cleared to the background (a rectangle with at least a
/// one-module padding), so the code stays readable by H-level error correction.
pub fn render(text: &str, options: &Options, logo: Option<&Logo<'_>>) -> Result<Vec<u8>, QrError> {
    // A logo hides modules: only H (about 30% recoverable) leaves room for that.
    let level = if logo.is_some() { Level::H } else { options.level };
    let code = QrCode::with_error_correction_level(text.as_bytes(), ec_level(level)).map_err(|_| QrError::TooLong)?;
    let n = code.width();
    let mut dark: Vec<bool> = code.to_colors().into_iter().map(|c| c == Color::Dark).collect();
    let size = options.size.clamp(MIN_SIZE, MAX_SIZE);
    let margin = options.margin.min(MAX_MARGIN);
    let total = n as u32 + 2 * margin;
    // Whole pixels per module keep every edge crisp; the remainder becomes extra background.
    let ms = (size / total).max(1);
    // Larger than `size` only when the code has more modules than pixels: a clipped code is useless.
    let canvas = size.max(total * ms);
    let layout = Layout { n, margin, ms, canvas, origin: (canvas - total * ms) / 2 + margin * ms };
    let placed = logo.map(|l| place_logo(l, n, ms)).transpose()?;
    if let Some(p) = &placed {
        for row in dark.chunks_mut(n).take(p.rows.1).skip(p.rows.0) {
            row[p.cols.0..p.cols.1].fill(false);
        }
    }
    match options.format {
        Format::Png => to_png(&layout, &dark, options, placed.as_ref()),
        Format::Svg => to_svg(&layout, &dark, size, options, placed.as_ref()),
    }
}

fn ec_level(level: Level) -> EcLevel {
    match level {
        Level::L => EcLevel::L,
        Level::M => EcLevel::M,
        Level::Q => EcLevel::Q,
        Level::H => EcLevel::H,
    }
}

/// Where the code sits: `n` modules a side, `ms` pixels each, its first module at `origin` pixels.
struct Layout {
    n: usize,
    margin: u32,
    ms: u32,
    canvas: u32,
    origin: u32,
}

/// A logo scaled for one code, and the modules it clears (`[start, end)` per axis).
struct Placed {
    /// Scaled to its place, straight alpha.
    img: Pixels,
    cols: (usize, usize),
    rows: (usize, usize),
}

fn place_logo(logo: &Logo<'_>, n: usize, ms: u32) -> Result<Placed, QrError> {
    let img = crate::logo::decode(logo.bytes, logo.content_type).map_err(|_| QrError::BadLogo)?;
    let (w, h) = (img.width, img.height);
    // The cleared square's largest side: odd, so it centres exactly on the odd-sized code; at most
    // 30% of the code across (under 10% of its modules, well within H's reach, even for the small
    // versions short URLs get); and 9 modules from each edge, clear of finders, timing and format.
    let side = odd_floor((n * 3 / 10).min(n - 18));
    let fit = (n as f64 / 4.0).min((side - 2) as f64) * f64::from(ms);
    let scale = (fit / f64::from(w)).min(fit / f64::from(h));
    let pw = ((f64::from(w) * scale) as u32).clamp(1, MAX_SIZE);
    let ph = ((f64::from(h) * scale) as u32).clamp(1, MAX_SIZE);
    let img = img.resized(pw, ph);
    // The logo's extent in whole modules plus one on each side, rounded up to an odd count.
    let span = |px: u32| {
        let s = (px.div_ceil(ms) as usize + 2) | 1;
        ((n - s) / 2, (n + s) / 2)
    };
    Ok(Placed { cols: span(pw), rows: span(ph), img })
}

/// The largest odd number not above `v` (at least 1).
fn odd_floor(v: usize) -> usize {
    (v - 1) | 1
}

fn to_png(l: &Layout, dark: &[bool], o: &Options, logo: Option<&Placed>) -> Result<Vec<u8>, QrError> {
    let (c, ms, origin, n) = (l.canvas as usize, l.ms as usize, l.origin as usize, l.n);
    let fg = [o.fg.0, o.fg.1, o.fg.2];
    let mut px = [o.bg.0, o.bg.1, o.bg.2].repeat(c * c);
    for (i, _) in dark.iter().enumerate().filter(|(_, d)| **d) {
        let (x0, y0) = (origin + (i % n) * ms, origin + (i / n) * ms);
        for y in y0..y0 + ms {
            let start = (y * c + x0) * 3;
            px[start..start + ms * 3].chunks_exact_mut(3).for_each(|p| p.copy_from_slice(&fg));
        }
    }
    if let Some(p) = logo {
        let (w, h) = (p.img.width as usize, p.img.height as usize);
        let (lx, ly) = (origin + (n * ms - w) / 2, origin + (n * ms - h) / 2);
        for (i, s) in p.img.rgba.chunks_exact(4).enumerate() {
            let (x, y) = (i % w, i / w);
            let at = ((ly + y) * c + lx + x) * 3;
            let (a, keep) = (u32::from(s[3]), 255 - u32::from(s[3]));
            // "Over": source x alpha + destination x (1 - alpha).
            for (d, &v) in px[at..at + 3].iter_mut().zip(&s[..3]) {
                *d = ((u32::from(v) * a + u32::from(*d) * keep + 127) / 255).min(255) as u8;
            }
        }
    }
    encode_png(l.canvas, l.canvas, png::ColorType::Rgb, &px)
}

fn to_svg(l: &Layout, dark: &[bool], size: u32, o: &Options, logo: Option<&Placed>) -> Result<Vec<u8>, QrError> {
    let (n, m) = (l.n, l.margin as usize);
    let w = n + 2 * m;
    let (fg, bg) = (o.fg.hex(), o.bg.hex());
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {w}" width="{size}" height="{size}" shape-rendering="crispEdges"><rect width="{w}" height="{w}" fill="#{bg}"/><path fill="#{fg}" d=""##
    );
    // One path, one run of dark modules per subpath: far smaller than a rect per module.
    for (y, row) in dark.chunks(n).enumerate() {
        let mut x = 0;
        while x < n {
            let start = x;
            while x < n && row[x] {
                x += 1;
            }
            if x > start {
                let _ = write!(s, "M{} {}h{}v1h-{}z", start + m, y + m, x - start, x - start);
            }
            x += 1;
        }
    }
    s.push_str(r#""/>"#);
    if let Some(p) = logo {
        let (cw, ch) = (p.cols.1 - p.cols.0, p.rows.1 - p.rows.0);
        let (cx, cy) = (p.cols.0 + m, p.rows.0 + m);
        let _ = write!(s, r##"<rect x="{cx}" y="{cy}" width="{cw}" height="{ch}" fill="#{bg}"/>"##);
        let (iw, ih) = (p.img.width, p.img.height);
        let (mw, mh) = (f64::from(iw) / f64::from(l.ms), f64::from(ih) / f64::from(l.ms));
        let (ix, iy) = (m as f64 + (n as f64 - mw) / 2.0, m as f64 + (n as f64 - mh) / 2.0);
        // Re-encoded from decoded pixels: no foreign bytes, no SVG logo, no external reference.
        let data = base64::engine::general_purpose::STANDARD.encode(straight_png(&p.img)?);
        let _ = write!(
            s,
            r#"<image x="{ix:.3}" y="{iy:.3}" width="{mw:.3}" height="{mh:.3}" href="data:image/png;base64,{data}"/>"#
        );
    }
    s.push_str("</svg>");
    Ok(s.into_bytes())
}

/// The scaled logo as PNG, for the SVG's data URI.
fn straight_png(img: &Pixels) -> Result<Vec<u8>, QrError> {
    encode_png(img.width, img.height, png::ColorType::Rgba, &img.rgba)
}

fn encode_png(width: u32, height: u32, color: png::ColorType, data: &[u8]) -> Result<Vec<u8>, QrError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(color);
    encoder.set_depth(png::BitDepth::Eight);
    let written = encoder.write_header().and_then(|mut writer| {
        writer.write_image_data(data)?;
        writer.finish()
    });
    // Into memory, with `data` sized from the same dimensions: only a bug here could fail.
    written.map_err(|_| QrError::Encode)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::image::{GrayImage, ImageFormat, Rgba, RgbaImage};
    use std::io::Cursor;

    const URL: &str = "https://go.example.com/launch-2026";

    fn options(format: Format, size: u32, margin: u32, level: Level) -> Options {
        Options { format, size, margin, level, ..Options::default() }
    }

    fn gray(png: &[u8]) -> GrayImage {
        ::image::load_from_memory_with_format(png, ImageFormat::Png).expect("a PNG").to_luma8()
    }

    /// Reads the one QR code in a PNG: (format bits of its level, text).
    fn decode(png: &[u8]) -> (u16, String) {
        let mut prepared = rqrr::PreparedImage::prepare(gray(png));
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1, "exactly one QR code");
        let (meta, text) = grids[0].decode().expect("a readable QR code");
        (meta.ecc_level, text)
    }

    /// A 200x200 crimson square whose top-left 60x60 corner is transparent.
    fn logo_png() -> Vec<u8> {
        let crimson = Rgba([220, 20, 60, 255]);
        let img = RgbaImage::from_fn(200, 200, |x, y| if x < 60 && y < 60 { Rgba([0, 0, 0, 0]) } else { crimson });
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).expect("encoding the test logo");
        out.into_inner()
    }

    #[test]
    fn png_reads_back_at_every_level_and_margin() {
        // The level's format bits as the standard encodes them: L 01, M 00, Q 11, H 10.
        for (level, bits) in [(Level::L, 1), (Level::M, 0), (Level::Q, 3), (Level::H, 2)] {
            for margin in [0, 4] {
                let png = render(URL, &options(Format::Png, 600, margin, level), None).expect("renders");
                assert_eq!(gray(&png).dimensions(), (600, 600));
                assert_eq!(decode(&png), (bits, URL.to_string()), "{level:?} margin {margin}");
            }
        }
    }

    #[test]
    fn the_smallest_size_still_reads_a_short_url() {
        let short = "https://go.ex/a1";
        for margin in [2, 4] {
            let png = render(short, &options(Format::Png, 64, margin, Level::L), None).expect("renders");
            assert_eq!(gray(&png).dimensions(), (64, 64));
            assert_eq!(decode(&png).1, short, "margin {margin}");
        }
    }

    #[test]
    fn custom_colours_are_drawn_and_still_read() {
        let o = Options { fg: Rgb(0x1a, 0x23, 0x7e), bg: Rgb(0xff, 0xf8, 0xe1), ..Options::default() };
        let png = render(URL, &o, None).expect("renders");
        let rgb = ::image::load_from_memory_with_format(&png, ImageFormat::Png).expect("a PNG").to_rgb8();
        assert_eq!(rgb.get_pixel(0, 0).0, [0xff, 0xf8, 0xe1]);
        assert!(rgb.pixels().any(|p| p.0 == [0x1a, 0x23, 0x7e]));
        assert_eq!(decode(&png).1, URL);
    }

    #[test]
    fn a_logo_is_drawn_over_cleared_modules_and_the_code_still_reads_at_h() {
        let bytes = logo_png();
        let logo = Logo { bytes: &bytes, content_type: "image/png" };
        // Even when asked for M: a logo forces H.
        for level in [Level::H, Level::M] {
            let png = render(URL, &options(Format::Png, 600, 2, level), Some(&logo)).expect("renders");
            assert_eq!(decode(&png), (2, URL.to_string()));
            let rgb = ::image::load_from_memory_with_format(&png, ImageFormat::Png).expect("a PNG").to_rgb8();
            let centre = rgb.get_pixel(300, 300).0;
            assert!(centre[0] > 180 && centre[1] < 60, "the logo is in the centre: {centre:?}");
            // Inside the logo's transparent corner: the cleared background shows through.
            assert_eq!(rgb.get_pixel(255, 255).0, [255, 255, 255]);
        }
    }

    #[test]
    fn svg_holds_only_parsed_colours_numbers_and_a_reencoded_logo() {
        let bytes = logo_png();
        let logo = Logo { bytes: &bytes, content_type: "image/png" };
        let o = Options {
            format: Format::Svg,
            level: Level::H,
            fg: Rgb(0x1a, 0x23, 0x7e),
            bg: Rgb(0xff, 0xf8, 0xe1),
            ..Options::default()
        };
        for with_logo in [None, Some(&logo)] {
            let svg = String::from_utf8(render(URL, &o, with_logo).expect("renders")).expect("UTF-8");
            assert!(svg.starts_with(r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox=""##), "{svg}");
            assert!(svg.contains(r#"width="600" height="600""#) && svg.ends_with("</svg>"));
            assert!(svg.contains(r##"fill="#1a237e""##) && svg.contains(r##"fill="#fff8e1""##));
            assert_eq!(svg.matches("<path").count(), 1);
            for banned in ["<script", r#"href="http"#, r#"xlink:href="http"#, "example.com", "launch"] {
                assert!(!svg.contains(banned), "{banned}");
            }
            assert_eq!(svg.contains("<image"), with_logo.is_some());
            if let Some((_, rest)) = svg.split_once(r#"href="data:image/png;base64,"#) {
                let data = rest.split('"').next().unwrap_or_default();
                let png = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data).expect("base64");
                assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
                assert!(gray(&png).dimensions().0 > 0);
            }
        }
    }

    #[test]
    fn text_beyond_a_qr_codes_capacity_is_too_long() {
        let text = "a".repeat(3000);
        for format in [Format::Png, Format::Svg] {
            assert_eq!(render(&text, &options(format, 600, 2, Level::H), None), Err(QrError::TooLong));
        }
    }

    #[test]
    fn undecodable_or_undeclared_logos_are_bad() {
        let png = logo_png();
        for (bytes, content_type) in [
            (&b"not an image at all"[..], "image/png"),
            (&png[..], "image/jpeg"),
            (&png[..], "image/svg+xml"),
            (&png[..png.len() / 2], "image/png"),
        ] {
            let logo = Logo { bytes, content_type };
            assert_eq!(render(URL, &Options::default(), Some(&logo)), Err(QrError::BadLogo), "{content_type}");
        }
    }

    #[test]
    fn colours_are_exactly_six_hex_digits() {
        assert_eq!(Rgb::parse_hex("1a237E"), Some(Rgb(0x1a, 0x23, 0x7e)));
        assert_eq!(Rgb(0x1a, 0x23, 0x7e).hex(), "1a237e");
        for bad in ["", "#1a237e", "1a237", "1a237e0", "zz0000", "+12345", "é1234", "fff"] {
            assert_eq!(Rgb::parse_hex(bad), None, "{bad}");
        }
    }
}
