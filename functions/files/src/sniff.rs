//! Checks `POST /v1/files/{id}/complete` runs on an uploaded object's first bytes: the magic bytes
//! must match the declared content type, and the dimensions come from the image header alone.
//! Headers are parsed by hand, with every read bounds-checked: the bytes come from whoever holds a
//! presigned URL, so no input may panic, overflow or make us decode pixel data.

/// The content types an upload may declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    Png,
    Jpeg,
    Webp,
}

impl ContentType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "image/png" => Some(Self::Png),
            "image/jpeg" => Some(Self::Jpeg),
            "image/webp" => Some(Self::Webp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Webp => "image/webp",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dimensions {
    pub width: u32,
    pub height: u32,
}

/// Why an uploaded object is rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The magic bytes are those of another type (`Some`) or of none we accept (`None`). The
    /// declared type is kept so the reason can name it.
    NotDeclaredType { declared: ContentType, found: Option<ContentType> },
    /// The header is truncated or malformed within the bytes given.
    Unreadable,
}

impl Rejection {
    /// A client-safe sentence for the 400 answer.
    pub fn reason(&self) -> String {
        match self {
            Self::NotDeclaredType { declared, found: Some(found) } => {
                let name = match found {
                    ContentType::Png => "PNG",
                    ContentType::Jpeg => "JPEG",
                    ContentType::Webp => "WebP",
                };
                format!("the bytes are a {name} image, not the declared {}", declared.as_str())
            }
            Self::NotDeclaredType { declared, found: None } => {
                format!("the bytes are not an {} image", declared.as_str())
            }
            Self::Unreadable => "the image header cannot be read".to_owned(),
        }
    }
}

/// The bytes read: at most this many from the object's start. A JPEG's frame header may follow
/// large metadata segments (EXIF, ICC profiles); if it is not within them, the image is Unreadable.
pub const HEADER_BYTES: usize = 256 * 1024;

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// The type whose magic bytes `bytes` starts with, if any.
pub fn sniff(bytes: &[u8]) -> Option<ContentType> {
    if bytes.starts_with(&PNG_SIGNATURE) {
        Some(ContentType::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ContentType::Jpeg)
    } else if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(&b"WEBP"[..]) {
        Some(ContentType::Webp)
    } else {
        None
    }
}

/// Checks that `bytes` (the object's first bytes) are a `declared` image and reads its dimensions.
/// Anything past [`HEADER_BYTES`] is ignored, so the answer does not depend on how much was read.
pub fn inspect(declared: ContentType, bytes: &[u8]) -> Result<Dimensions, Rejection> {
    let bytes = bytes.get(..HEADER_BYTES).unwrap_or(bytes);
    let found = sniff(bytes);
    if found != Some(declared) {
        return Err(Rejection::NotDeclaredType { declared, found });
    }
    let dimensions = match declared {
        ContentType::Png => png(bytes),
        ContentType::Jpeg => jpeg(bytes),
        ContentType::Webp => webp(bytes),
    };
    match dimensions {
        Some(d) if d.width > 0 && d.height > 0 => Ok(d),
        _ => Err(Rejection::Unreadable),
    }
}

/// `N` bytes at `at`, or `None` when they run past the end (or `at + N` overflows).
fn array<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

fn u16_be(b: &[u8], at: usize) -> Option<u16> {
    array(b, at).map(u16::from_be_bytes)
}

/// PNG requires IHDR first, whole (its 13 bytes; the CRC is not needed); width and height are
/// non-zero and at most 2^31-1.
fn png(b: &[u8]) -> Option<Dimensions> {
    if u32::from_be_bytes(array(b, 8)?) != 13 || b.get(12..16)? != b"IHDR" {
        return None;
    }
    let ihdr = b.get(16..29)?;
    let (width, height) = (u32::from_be_bytes(array(ihdr, 0)?), u32::from_be_bytes(array(ihdr, 4)?));
    let max = i32::MAX.unsigned_abs();
    (width <= max && height <= max).then_some(Dimensions { width, height })
}

/// Start-of-frame markers: C0-CF except C4 (DHT), C8 (JPG, reserved) and CC (DAC).
fn is_sof(marker: u8) -> bool {
    matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC)
}

/// Walks the segments after SOI to the first SOF. Each step moves forward by at least two bytes,
/// so the walk ends on any input.
fn jpeg(b: &[u8]) -> Option<Dimensions> {
    let mut at = 2usize;
    loop {
        if *b.get(at)? != 0xFF {
            return None;
        }
        // A marker may be preceded by any number of 0xFF fill bytes.
        while *b.get(at)? == 0xFF {
            at = at.checked_add(1)?;
        }
        let marker = *b.get(at)?;
        at = at.checked_add(1)?;
        match marker {
            0xD0..=0xD7 | 0x01 => continue,
            // Scan data or the end came first: the frame header is not where it must be.
            0xDA | 0xD9 => return None,
            _ => {}
        }
        let length = usize::from(u16_be(b, at)?);
        if length < 2 {
            return None;
        }
        if is_sof(marker) {
            // The whole frame header must be there: length (2), precision (1), height, width, ...
            let frame = b.get(at..at.checked_add(length)?)?;
            let (height, width) = (u16_be(frame, 3)?, u16_be(frame, 5)?);
            return Some(Dimensions { width: width.into(), height: height.into() });
        }
        at = at.checked_add(length)?;
    }
}

/// The first chunk after `RIFF <size> WEBP` says which VP8 flavour follows; its declared size must
/// cover the fields read.
fn webp(b: &[u8]) -> Option<Dimensions> {
    let fourcc: [u8; 4] = array(b, 12)?;
    let size = u32::from_le_bytes(array(b, 16)?);
    let data = b.get(20..)?;
    match &fourcc {
        b"VP8 " => {
            // Frame tag (3 bytes), start code (3), then 14-bit width and height (top 2 bits scale).
            if size < 10 || array::<3>(data, 3)? != [0x9D, 0x01, 0x2A] {
                return None;
            }
            let width = u16::from_le_bytes(array(data, 6)?) & 0x3FFF;
            let height = u16::from_le_bytes(array(data, 8)?) & 0x3FFF;
            Some(Dimensions { width: width.into(), height: height.into() })
        }
        b"VP8L" => {
            if size < 5 || *data.first()? != 0x2F {
                return None;
            }
            let bits = u32::from_le_bytes(array(data, 1)?);
            Some(Dimensions { width: (bits & 0x3FFF) + 1, height: ((bits >> 14) & 0x3FFF) + 1 })
        }
        b"VP8X" => {
            // Flags (1) and reserved (3), then canvas width-1 and height-1 as u24 (so at most 2^24).
            let [_, _, _, _, w0, w1, w2, h0, h1, h2] = array::<10>(data, 0)?;
            if size < 10 {
                return None;
            }
            let width = u32::from_le_bytes([w0, w1, w2, 0]) + 1;
            let height = u32::from_le_bytes([h0, h1, h2, 0]) + 1;
            Some(Dimensions { width, height })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::ContentType::{Jpeg, Png, Webp};
    use super::*;

    fn dims(width: u32, height: u32) -> Dimensions {
        Dimensions { width, height }
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    /// Signature and IHDR data (8-bit RGBA), without the CRC, which is not read.
    fn png_header(width: u32, height: u32) -> Vec<u8> {
        let (w, h) = (width.to_be_bytes(), height.to_be_bytes());
        cat(&[&PNG_SIGNATURE, &13u32.to_be_bytes(), b"IHDR", &w, &h, &[8, 6, 0, 0, 0]])
    }

    fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        cat(&[&[0xFF, marker], &u16::try_from(payload.len() + 2).unwrap().to_be_bytes(), payload])
    }

    /// SOI, APP0 (JFIF), the given extra segments, then SOF0 with one component.
    fn jpeg_header(width: u16, height: u16, extra: &[u8]) -> Vec<u8> {
        let ([h0, h1], [w0, w1]) = (height.to_be_bytes(), width.to_be_bytes());
        let app0 = segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        cat(&[&[0xFF, 0xD8], &app0, extra, &segment(0xC0, &[8, h0, h1, w0, w1, 1, 1, 0x11, 0])])
    }

    fn webp_header(fourcc: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let size = u32::try_from(payload.len()).unwrap();
        cat(&[b"RIFF", &(size + 12).to_le_bytes(), b"WEBP", fourcc, &size.to_le_bytes(), payload])
    }

    fn vp8(width: u16, height: u16) -> Vec<u8> {
        let (w, h) = (width.to_le_bytes(), height.to_le_bytes());
        webp_header(b"VP8 ", &cat(&[&[0x50, 0x02, 0x00, 0x9D, 0x01, 0x2A], &w, &h]))
    }

    fn vp8l(width: u32, height: u32) -> Vec<u8> {
        webp_header(b"VP8L", &cat(&[&[0x2F], &((width - 1) | ((height - 1) << 14)).to_le_bytes()]))
    }

    fn vp8x(width: u32, height: u32) -> Vec<u8> {
        let (w, h) = ((width - 1).to_le_bytes(), (height - 1).to_le_bytes());
        webp_header(b"VP8X", &cat(&[&[0x10, 0, 0, 0], &w[..3], &h[..3]]))
    }

    #[test]
    fn content_types_round_trip_through_their_names() {
        for t in [Png, Jpeg, Webp] {
            assert_eq!(ContentType::parse(t.as_str()), Some(t));
        }
        assert_eq!(ContentType::parse("image/gif"), None);
    }

    #[test]
    fn hand_built_headers_give_their_dimensions() {
        assert_eq!(inspect(Png, &png_header(640, 480)), Ok(dims(640, 480)));
        assert_eq!(inspect(Jpeg, &jpeg_header(1200, 630, &[])), Ok(dims(1200, 630)));
        assert_eq!(inspect(Webp, &vp8(300, 200)), Ok(dims(300, 200)));
        assert_eq!(inspect(Webp, &vp8l(4096, 1)), Ok(dims(4096, 1)));
        assert_eq!(inspect(Webp, &vp8x(16_777_216, 7)), Ok(dims(16_777_216, 7)));
    }

    #[test]
    fn images_written_by_real_encoders_give_their_dimensions() {
        let image = ::image::DynamicImage::ImageRgb8(::image::RgbImage::new(37, 21));
        for (format, declared) in
            [(::image::ImageFormat::Png, Png), (::image::ImageFormat::Jpeg, Jpeg), (::image::ImageFormat::WebP, Webp)]
        {
            let mut bytes = Vec::new();
            image.write_to(std::io::Cursor::new(&mut bytes), format).unwrap();
            assert_eq!(inspect(declared, &bytes), Ok(dims(37, 21)), "{format:?}");
        }
    }

    #[test]
    fn a_jpeg_declared_as_png_is_named_as_jpeg() {
        let rejection = inspect(Png, &jpeg_header(10, 10, &[])).unwrap_err();
        assert_eq!(rejection, Rejection::NotDeclaredType { declared: Png, found: Some(Jpeg) });
        assert_eq!(rejection.reason(), "the bytes are a JPEG image, not the declared image/png");
    }

    #[test]
    fn random_bytes_are_no_declared_type() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let bytes: Vec<u8> = (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_be_bytes()[0]
            })
            .collect();
        for declared in [Png, Jpeg, Webp] {
            assert_eq!(inspect(declared, &bytes), Err(Rejection::NotDeclaredType { declared, found: None }));
        }
        let reason = inspect(Webp, &bytes).unwrap_err().reason();
        assert_eq!(reason, "the bytes are not an image/webp image");
    }

    #[test]
    fn every_truncation_is_rejected_without_panicking() {
        let webps = [vp8(1, 1), vp8l(1, 1), vp8x(1, 1)].map(|w| (Webp, w));
        for (declared, full) in [(Png, png_header(1, 1)), (Jpeg, jpeg_header(1, 1, &[]))].into_iter().chain(webps) {
            for len in 0..full.len() {
                let cut = &full[..len];
                let expected = match sniff(cut) {
                    Some(_) => Rejection::Unreadable,
                    None => Rejection::NotDeclaredType { declared, found: None },
                };
                assert_eq!(inspect(declared, cut), Err(expected), "{declared:?} cut at {len}");
            }
            assert!(inspect(declared, &full).is_ok(), "{declared:?}");
        }
    }

    #[test]
    fn a_jpeg_frame_after_its_huffman_tables_is_read() {
        let dht = segment(0xC4, &[0; 29]);
        assert_eq!(inspect(Jpeg, &jpeg_header(800, 600, &dht)), Ok(dims(800, 600)));
    }

    #[test]
    fn a_jpeg_walk_that_misses_the_frame_is_unreadable() {
        // An APP1 length pointing past the buffer.
        let past_the_end = cat(&[&[0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF], &[0; 100]]);
        assert_eq!(inspect(Jpeg, &past_the_end), Err(Rejection::Unreadable));
        // A scan before any frame header.
        let sof = segment(0xC0, &[8, 0, 1, 0, 1, 1, 1, 0x11, 0]);
        let scan_first = cat(&[&[0xFF, 0xD8], &segment(0xDA, &[0; 10]), &sof]);
        assert_eq!(inspect(Jpeg, &scan_first), Err(Rejection::Unreadable));
        // A frame header behind more metadata than HEADER_BYTES.
        let app1 = segment(0xE1, &[0; 65_533]);
        let beyond = jpeg_header(10, 10, &[&app1[..]; 5].concat());
        assert!(beyond.len() > HEADER_BYTES);
        assert_eq!(inspect(Jpeg, &beyond), Err(Rejection::Unreadable));
    }

    #[test]
    fn zero_or_oversized_dimensions_are_unreadable() {
        assert_eq!(inspect(Png, &png_header(0, 10)), Err(Rejection::Unreadable));
        assert_eq!(inspect(Png, &png_header(1 << 31, 10)), Err(Rejection::Unreadable));
        assert_eq!(inspect(Jpeg, &jpeg_header(0, 10, &[])), Err(Rejection::Unreadable));
        assert_eq!(inspect(Webp, &vp8(300, 0)), Err(Rejection::Unreadable));
        assert_eq!(Rejection::Unreadable.reason(), "the image header cannot be read");
    }
}
