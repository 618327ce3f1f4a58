//! The edge of the files function: a request read into typed values (a new file, a file id, the
//! QR code's options), each bad value a 400 naming its field or parameter.

use crate::model::{FileId, Purpose};
use crate::qr::{Format, Level, Options, Rgb};
use crate::sniff::ContentType;
use keyhive::http::body::{parse_object, read};
use keyhive::http::paging::{ListRequest, ListSpec};
use keyhive::http::routes::FilesOp;
use keyhive::{ApiError, ApiState, Call};

const FILE_LIST: ListSpec = ListSpec { default_limit: 20, filters: &[], numbered: false };

/// A `POST /v1/files` body.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub purpose: Purpose,
    pub content_type: ContentType,
    pub size_bytes: u64,
}

pub fn new_file(call: &Call<FilesOp>) -> Result<NewFile, ApiError> {
    let mut fields = parse_object(call.request.body().as_ref(), false)?;
    let purpose = fields.required("purpose", |f, v| {
        Purpose::parse(&read::string(f, v)?).ok_or_else(|| ApiError::validation(f, "must be logo or social_image"))
    })?;
    let content_type = fields.required("content_type", |f, v| {
        ContentType::parse(&read::string(f, v)?)
            .ok_or_else(|| ApiError::validation(f, "must be image/png, image/jpeg or image/webp"))
    })?;
    let size_bytes = fields.required("size_bytes", read::integer)?;
    fields.finish()?;
    let max = purpose.max_bytes();
    match u64::try_from(size_bytes) {
        Ok(size) if (1..=max).contains(&size) => Ok(NewFile { purpose, content_type, size_bytes: size }),
        _ => Err(ApiError::validation(
            "size_bytes",
            format!("must be 1..{max} for a {} (its largest size)", purpose.as_str()),
        )),
    }
}

/// The file a path names: an id no file can have is a missing file.
pub fn file_id(call: &Call<FilesOp>) -> Result<FileId, ApiError> {
    FileId::parse(call.param("id")?).ok_or(ApiError::NotFound("file"))
}

pub async fn file_list(api: &ApiState, call: &Call<FilesOp>) -> Result<ListRequest, ApiError> {
    ListRequest::read(api, call, FILE_LIST).await
}

/// A QR code request: its options and the logo file asked for.
#[derive(Debug, Clone)]
pub struct QrRequest {
    pub options: Options,
    pub logo: Option<FileId>,
}

/// `?format=png|svg&size&margin&level&fg&bg&logo`, each optional; anything else is a 400.
pub fn qr_request(call: &Call<FilesOp>) -> Result<QrRequest, ApiError> {
    let mut options = Options::default();
    let (mut level, mut logo) = (None, None);
    for (name, value) in call.query(&["format", "size", "margin", "level", "fg", "bg", "logo"])? {
        let bad = |reason: &str| ApiError::validation(name.as_str(), reason.to_string());
        match name.as_str() {
            "format" => {
                options.format = match value.as_str() {
                    "png" => Format::Png,
                    "svg" => Format::Svg,
                    _ => return Err(bad("must be png or svg")),
                }
            }
            "size" => options.size = number(&value, 64, 2048).ok_or_else(|| bad("must be 64..2048 (pixels)"))?,
            "margin" => options.margin = number(&value, 0, 20).ok_or_else(|| bad("must be 0..20 (modules)"))?,
            "level" => {
                level = Some(match value.as_str() {
                    "L" => Level::L,
                    "M" => Level::M,
                    "Q" => Level::Q,
                    "H" => Level::H,
                    _ => return Err(bad("must be L, M, Q or H")),
                })
            }
            "fg" => options.fg = Rgb::parse_hex(&value).ok_or_else(|| bad("must be a colour as RRGGBB"))?,
            "bg" => options.bg = Rgb::parse_hex(&value).ok_or_else(|| bad("must be a colour as RRGGBB"))?,
            _ => logo = Some(FileId::parse(&value).ok_or_else(|| bad("must be the id of a ready logo file"))?),
        }
    }
    // A logo covers modules: only the highest error correction reads through it.
    options.level = match (level, &logo) {
        (Some(level), None) => level,
        (None, None) => Level::M,
        (Some(Level::H) | None, Some(_)) => Level::H,
        (Some(_), Some(_)) => return Err(ApiError::validation("level", "must be H with a logo (or left out)")),
    };
    Ok(QrRequest { options, logo })
}

fn number(text: &str, min: u32, max: u32) -> Option<u32> {
    text.parse::<u32>().ok().filter(|n| (min..=max).contains(n))
}
