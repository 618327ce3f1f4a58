//! The preview card a link-preview fetcher gets instead of the redirect: an HTML page of Open
//! Graph and Twitter card tags. Every value is escaped by `html-escape` (attribute values in
//! double quotes, text as text); the page has no script, no style and nothing it loads itself.

use crate::model::{Destination, Preview};
use html_escape::{encode_double_quoted_attribute as attribute, encode_text as text};
use std::fmt::Write;

/// The page: `short_url` is the link's own URL (`og:url`), `image_url` the preview image's public
/// URL, the destination its canonical URL and the one link on the page.
pub fn card(preview: &Preview, destination: &Destination, short_url: &str, image_url: Option<&str>) -> String {
    let title = preview.title.as_str();
    let description = preview.description.as_deref();
    let mut page = String::with_capacity(1024);
    page.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(page, "<title>{}</title>", text(title));
    let mut meta = |kind: &str, name: &str, value: &str| {
        let _ = writeln!(page, "<meta {kind}=\"{name}\" content=\"{}\">", attribute(value));
    };
    if let Some(description) = description {
        meta("name", "description", description);
    }
    meta("property", "og:type", "website");
    meta("property", "og:title", title);
    if let Some(description) = description {
        meta("property", "og:description", description);
    }
    meta("property", "og:url", short_url);
    if let Some(image) = image_url {
        meta("property", "og:image", image);
    }
    meta("name", "twitter:card", if image_url.is_some() { "summary_large_image" } else { "summary" });
    meta("name", "twitter:title", title);
    if let Some(description) = description {
        meta("name", "twitter:description", description);
    }
    if let Some(image) = image_url {
        meta("name", "twitter:image", image);
    }
    let href = attribute(destination.as_str());
    let _ = writeln!(page, "<link rel=\"canonical\" href=\"{href}\">");
    page.push_str("</head>\n<body>\n");
    let _ = writeln!(page, "<h1>{}</h1>", text(title));
    if let Some(description) = description {
        let _ = writeln!(page, "<p>{}</p>", text(description));
    }
    let _ = writeln!(page, "<p><a href=\"{href}\">{}</a></p>", text(destination.as_str()));
    page.push_str("</body>\n</html>\n");
    page
}

/// What the page may do in a browser that opens it: load its image, follow its link; nothing else.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; img-src https: http:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

#[cfg(test)]
mod tests {
    use super::*;
    use keyhive::model::FileId;

    fn preview(title: &str, description: Option<&str>) -> Preview {
        Preview {
            title: title.to_string(),
            description: description.map(str::to_string),
            image: Some(FileId::generate()),
        }
    }

    #[test]
    fn every_value_is_escaped_in_text_and_in_attributes() {
        let attack = "\"><script>alert(1)</script><meta property=\"og:title\" content='x' &amp;";
        let destination = Destination::parse("https://example.com/a?b=1&c=\"2\"".replace('"', "'").as_str()).unwrap();
        let page = card(
            &preview(attack, Some(attack)),
            &destination,
            "https://s.example/abc",
            Some("https://api.example/files/fil_x\"><script>"),
        );
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("\"><"), "{page}");
        assert_eq!(page.matches("<meta property=\"og:title\"").count(), 1, "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("&amp;amp;"));
        assert!(page.contains("href=\"https://example.com/a?b=1&amp;c='2'\""));
    }

    #[test]
    fn the_card_names_title_description_image_url_and_destination() {
        let destination = Destination::parse("https://example.com/launch").unwrap();
        let p = preview("Launch day", Some("Everything new"));
        let image = format!("https://api.example/files/{}", p.image.as_ref().unwrap().as_str());
        let page = card(&p, &destination, "https://s.example/launch", Some(&image));
        for tag in [
            "<meta property=\"og:title\" content=\"Launch day\">".to_string(),
            "<meta property=\"og:description\" content=\"Everything new\">".to_string(),
            format!("<meta property=\"og:image\" content=\"{image}\">"),
            "<meta property=\"og:url\" content=\"https://s.example/launch\">".to_string(),
            "<meta name=\"twitter:card\" content=\"summary_large_image\">".to_string(),
            "<link rel=\"canonical\" href=\"https://example.com/launch\">".to_string(),
            "<a href=\"https://example.com/launch\">".to_string(),
        ] {
            assert!(page.contains(&tag), "{tag} in {page}");
        }
        let bare = card(&Preview { title: "T".into(), description: None, image: None }, &destination, "u", None);
        assert!(bare.contains("content=\"summary\"") && !bare.contains("og:image") && !bare.contains("description"));
    }
}
