//! A QR code's logo as pixels: decoded from PNG, JPEG or WebP with each format's own decoder
//! (bounded to `MAX_SIDE` a side), and scaled with a box filter. Direct decoders rather than a
//! general image library keep the files function's zip within its size budget.

use crate::model::MAX_SIDE;
use std::io::Cursor;

/// RGBA pixels, row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pixels {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

/// Why a logo cannot be drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Undecodable;

impl Pixels {
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 4] {
        let i = ((y * self.width + x) * 4) as usize;
        let mut p = [0; 4];
        p.copy_from_slice(&self.rgba[i..i + 4]);
        p
    }

    /// The same picture at `width` x `height`: each target pixel the average of the source pixels
    /// it covers (at least the one under its centre), so a large logo shrinks without aliasing.
    /// Colours are averaged premultiplied, so transparent pixels lend no colour to the edges.
    pub fn resized(&self, width: u32, height: u32) -> Pixels {
        let (sw, sh) = (u64::from(self.width), u64::from(self.height));
        let (tw, th) = (u64::from(width.max(1)), u64::from(height.max(1)));
        let mut rgba = Vec::with_capacity((tw * th * 4) as usize);
        for ty in 0..th {
            let (y0, y1) = (ty * sh / th, ((ty + 1) * sh).div_ceil(th).max(ty * sh / th + 1).min(sh));
            for tx in 0..tw {
                let (x0, x1) = (tx * sw / tw, ((tx + 1) * sw).div_ceil(tw).max(tx * sw / tw + 1).min(sw));
                let mut sum = [0u64; 4];
                for y in y0..y1 {
                    for x in x0..x1 {
                        let p = self.pixel(x as u32, y as u32);
                        let a = u64::from(p[3]);
                        for c in 0..3 {
                            sum[c] += u64::from(p[c]) * a;
                        }
                        sum[3] += a;
                    }
                }
                let count = (y1 - y0) * (x1 - x0);
                let alpha = sum[3] / count;
                for value in &sum[..3] {
                    rgba.push(value.checked_div(sum[3]).map_or(0, |v| v.min(255)) as u8);
                }
                rgba.push(alpha as u8);
            }
        }
        Pixels { width: tw as u32, height: th as u32, rgba }
    }
}

/// Decodes a logo of `content_type` (`image/png`, `image/jpeg`, `image/webp`) to RGBA.
pub fn decode(bytes: &[u8], content_type: &str) -> Result<Pixels, Undecodable> {
    let pixels = match content_type {
        "image/png" => decode_png(bytes),
        "image/jpeg" => decode_jpeg(bytes),
        "image/webp" => decode_webp(bytes),
        _ => None,
    }
    .ok_or(Undecodable)?;
    let expected = u64::from(pixels.width) * u64::from(pixels.height) * 4;
    let bounded = (1..=MAX_SIDE).contains(&pixels.width) && (1..=MAX_SIDE).contains(&pixels.height);
    if !bounded || pixels.rgba.len() as u64 != expected {
        return Err(Undecodable);
    }
    Ok(pixels)
}

fn decode_png(bytes: &[u8]) -> Option<Pixels> {
    let limits = png::Limits { bytes: (MAX_SIDE as usize) * (MAX_SIDE as usize) * 8 };
    let mut decoder = png::Decoder::new_with_limits(Cursor::new(bytes), limits);
    // Palettes and low bit depths expanded, 16 bits stripped: 8-bit gray, gray+alpha, RGB or RGBA.
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().ok()?;
    let (width, height) = (reader.info().width, reader.info().height);
    if width > MAX_SIDE || height > MAX_SIDE {
        return None;
    }
    let mut buffer = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buffer).ok()?;
    let data = buffer.get(..frame.buffer_size())?;
    let rgba = match frame.color_type {
        png::ColorType::Rgba => data.to_vec(),
        png::ColorType::Rgb => data.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect(),
        png::ColorType::GrayscaleAlpha => data.chunks_exact(2).flat_map(|p| [p[0], p[0], p[0], p[1]]).collect(),
        png::ColorType::Grayscale => data.iter().flat_map(|&g| [g, g, g, 255]).collect(),
        png::ColorType::Indexed => return None,
    };
    Some(Pixels { width, height, rgba })
}

fn decode_jpeg(bytes: &[u8]) -> Option<Pixels> {
    let options = zune_core::options::DecoderOptions::default()
        .set_max_width(MAX_SIDE as usize)
        .set_max_height(MAX_SIDE as usize)
        .jpeg_set_out_colorspace(zune_core::colorspace::ColorSpace::RGB);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(zune_core::bytestream::ZCursor::new(bytes), options);
    let rgb = decoder.decode().ok()?;
    let info = decoder.info()?;
    let rgba = rgb.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect();
    Some(Pixels { width: u32::from(info.width), height: u32::from(info.height), rgba })
}

fn decode_webp(bytes: &[u8]) -> Option<Pixels> {
    let mut decoder = image_webp::WebPDecoder::new(Cursor::new(bytes)).ok()?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return None;
    }
    let mut buffer = vec![0; decoder.output_buffer_size()?];
    decoder.read_image(&mut buffer).ok()?;
    let rgba = match decoder.has_alpha() {
        true => buffer,
        false => buffer.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect(),
    };
    Some(Pixels { width, height, rgba })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(format: ::image::ImageFormat, alpha: bool) -> Vec<u8> {
        let img = ::image::RgbaImage::from_fn(40, 30, |x, _| {
            ::image::Rgba([200, x as u8 * 4, 10, if alpha && x < 5 { 0 } else { 255 }])
        });
        let img = match alpha {
            true => ::image::DynamicImage::ImageRgba8(img),
            false => ::image::DynamicImage::ImageRgb8(::image::DynamicImage::ImageRgba8(img).to_rgb8()),
        };
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).expect("encode");
        out.into_inner()
    }

    #[test]
    fn png_jpeg_and_webp_logos_decode_to_their_size() {
        for (format, content_type, alpha) in [
            (::image::ImageFormat::Png, "image/png", true),
            (::image::ImageFormat::Png, "image/png", false),
            (::image::ImageFormat::Jpeg, "image/jpeg", false),
            (::image::ImageFormat::WebP, "image/webp", true),
            (::image::ImageFormat::WebP, "image/webp", false),
        ] {
            let pixels = decode(&encoded(format, alpha), content_type).expect(content_type);
            assert_eq!((pixels.width, pixels.height, pixels.rgba.len()), (40, 30, 40 * 30 * 4), "{content_type}");
            assert_eq!(pixels.pixel(20, 10)[3], 255);
            if alpha {
                assert_eq!(pixels.pixel(0, 0)[3], 0, "{content_type} keeps its transparency");
            }
        }
    }

    #[test]
    fn garbage_and_mislabelled_logos_are_undecodable() {
        assert_eq!(decode(b"not an image", "image/png"), Err(Undecodable));
        assert_eq!(decode(&encoded(::image::ImageFormat::Png, false), "image/jpeg"), Err(Undecodable));
        assert_eq!(decode(&encoded(::image::ImageFormat::Png, false), "image/gif"), Err(Undecodable));
    }

    #[test]
    fn resizing_averages_and_keeps_transparent_colour_out() {
        // Left half transparent red, right half opaque blue: shrunk to 1x1, half alpha, pure blue.
        let mut rgba = Vec::new();
        for _ in 0..4 {
            rgba.extend([255, 0, 0, 0, 255, 0, 0, 0, 0, 0, 255, 255, 0, 0, 255, 255]);
        }
        let one = Pixels { width: 4, height: 4, rgba }.resized(1, 1);
        assert_eq!(one.rgba, vec![0, 0, 255, 127]);
        let big = Pixels { width: 2, height: 1, rgba: vec![10, 10, 10, 255, 20, 20, 20, 255] }.resized(4, 2);
        assert_eq!(
            (big.width, big.height, big.pixel(0, 1), big.pixel(3, 0)),
            (4, 2, [10, 10, 10, 255], [20, 20, 20, 255])
        );
    }
}
