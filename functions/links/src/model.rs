//! The records of the links function and the rules of their values: link ids, slugs,
//! destinations, titles, custom-domain host names, and how a click is classified.

use keyhive::http::body::read::is_deceptive;
use keyhive::model::{rfc3339, FileId, Tenant};
use serde_json::{json, Value};
use time::OffsetDateTime;

keyhive::prefixed_id!(LinkId, "lnk", "a short link's id");

keyhive::prefixed_id!(DomainId, "dom", "a custom domain's id");

/// How long a deleted link's slug stays reserved for the link's organization and environment:
/// its redirect is 404 and no other tenant may take it, so a printed link or QR code cannot be
/// taken over; the same tenant may name it again at any time.
pub const SLUG_RESERVATION: time::Duration = time::Duration::days(90);

/// Names no slug may take besides the route table's first segments (compared in any case):
/// pages a deployment is likely to put on its own host one day.
pub const RESERVED_SLUGS: &[&str] = &[
    "admin",
    "api",
    "app",
    "assets",
    "console",
    "dashboard",
    "docs",
    "help",
    "login",
    "logout",
    "settings",
    "signup",
    "static",
    "status",
    "www",
];

/// A slug: `[A-Za-z0-9_-]{3,64}`, not reserved. Kept as written; compared without case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug(String);

/// Why a slug is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlugError {
    Malformed,
    Reserved,
}

impl Slug {
    pub const GENERATED_LENGTH: usize = 7;

    pub fn parse(s: &str) -> Result<Self, SlugError> {
        let well_formed =
            (3..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !well_formed {
            return Err(SlugError::Malformed);
        }
        if is_reserved(s) {
            return Err(SlugError::Reserved);
        }
        Ok(Slug(s.to_string()))
    }

    /// 7 lowercase letters and digits (36^7 of them); a collision is retried by the caller.
    pub fn generate() -> Self {
        use rand::Rng;
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut rng = rand::rng();
        let text: String =
            (0..Self::GENERATED_LENGTH).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])).collect();
        // Seven random characters can spell a reserved word only by chance: draw again then.
        if is_reserved(&text) {
            return Self::generate();
        }
        Slug(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether a slug is a route's first segment or one of `RESERVED_SLUGS`, in any case.
pub fn is_reserved(slug: &str) -> bool {
    keyhive::http::routes::reserved_first_segments()
        .chain(RESERVED_SLUGS.iter().copied())
        .any(|reserved| reserved.eq_ignore_ascii_case(slug))
}

pub const MAX_DESTINATION_LENGTH: usize = 2048;

/// The authority as written ends at `/`, `?`, `#` or the end (`url` also ends it at `\\`), and a
/// port, when it names one, is 0..65535 without leading zeros (`url` also takes an empty port and
/// `00080`): openapi's `LinkUrl` pattern says the same.
fn authority_as_written_is_valid(url: &str) -> bool {
    let after_scheme = url.split_once("://").map_or("", |(_, rest)| rest);
    let end = after_scheme.find(['/', '\\', '?', '#']).unwrap_or(after_scheme.len());
    if after_scheme[end..].starts_with('\\') {
        return false;
    }
    match after_scheme[..end].rsplit_once(':') {
        None => true,
        Some((_, port)) => {
            !port.is_empty()
                && port.len() <= 5
                && port.bytes().all(|b| b.is_ascii_digit())
                && (port == "0" || !port.starts_with('0'))
                && port.parse::<u32>().is_ok_and(|p| p <= 65535)
        }
    }
}

/// Where a link sends its visitors: an absolute `http`/`https` URL with a host, at most 2048
/// characters, usable as a `Location` header as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination(String);

impl Destination {
    pub fn parse(s: &str) -> Option<Self> {
        if s.is_empty() || s.len() > MAX_DESTINATION_LENGTH || http::HeaderValue::from_str(s).is_err() {
            return None;
        }
        // Only visible ASCII, and after the authority only what RFC 3986 allows (openapi's
        // `format: uri`): what a browser sends is what we redirect to, byte for byte.
        if !s.bytes().all(|b| b.is_ascii_graphic()) || !is_rfc3986(s) {
            return None;
        }
        let url = url::Url::parse(s).ok()?;
        // `https://bank.example@evil.example` reads as the first host and goes to the second.
        if !url.username().is_empty() || url.password().is_some() {
            return None;
        }
        // The scheme as written, in lowercase (openapi's `LinkUrl` pattern).
        let scheme_ok = s.starts_with("http://") || s.starts_with("https://");
        // A DNS name of letters, digits and hyphens, its last label starting with a letter: `url`
        // also accepts characters such as `*` in a host, and IP addresses.
        let has_host = match url.host() {
            Some(url::Host::Domain(name)) => {
                let labels: Vec<&str> = name.split('.').collect();
                labels.iter().all(|l| {
                    !l.is_empty()
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                }) && labels.last().is_some_and(|tld| tld.starts_with(|c: char| c.is_ascii_alphabetic()))
            }
            _ => false,
        };
        // `url` accepts `http:example.com` and `http:/example.com`; a destination says `//`.
        let spelled_absolute = s.get(url.scheme().len()..).is_some_and(|rest| rest.starts_with("://"));
        (scheme_ok && has_host && spelled_absolute && authority_as_written_is_valid(s))
            .then(|| Destination(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn to_json(&self) -> Value {
        json!({ "type": "link", "value": self.0 })
    }
}

/// Whether what follows the authority of `s` is an RFC 3986 path, query and fragment (openapi's
/// `format: uri`): `pchar`s (unreserved, sub-delims, `:`, `@`, or `%` and two hex digits), `/`
/// between path segments, `/` and `?` in the query and the fragment, one `?` and one `#` as
/// separators. Backticks, spaces, quotes, braces, brackets, `<`, `>`, `\\`, `^`, `|` and a second
/// `#` are not.
fn is_rfc3986(s: &str) -> bool {
    let Some(after_scheme) = s.find("://").map(|i| &s[i + 3..]) else { return false };
    let tail = after_scheme.find(['/', '?', '#']).map_or("", |i| &after_scheme[i..]);
    let (before_fragment, fragment) = match tail.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (tail, None),
    };
    let (path, query) = match before_fragment.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (before_fragment, None),
    };
    let pchars = |text: &str, extra: &[u8]| {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b == b'%' {
                let hex = |at: usize| bytes.get(at).is_some_and(u8::is_ascii_hexdigit);
                if !(hex(i + 1) && hex(i + 2)) {
                    return false;
                }
                i += 3;
                continue;
            }
            if !(b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) || extra.contains(&b)) {
                return false;
            }
            i += 1;
        }
        true
    };
    pchars(path, b"/") && query.is_none_or(|q| pchars(q, b"/?")) && fragment.is_none_or(|f| pchars(f, b"/?"))
}

pub const MAX_TITLE_CHARS: usize = 200;

/// A line of text shown to people: 1..`max` characters, without control, bidirectional-control or
/// zero-width characters, not only whitespace; trimmed.
fn plain_text(s: &str, max: usize) -> Option<String> {
    let refused =
        s.chars().count() > max || s.chars().any(|c| c.is_control() || is_deceptive(c)) || s.trim().is_empty();
    (!refused).then(|| s.trim().to_string())
}

/// A link's title: 1..200 characters, without control, bidirectional-control or zero-width
/// characters, not only whitespace. Kept trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    pub fn parse(s: &str) -> Option<Self> {
        plain_text(s, MAX_TITLE_CHARS).map(Title)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

pub const MAX_PREVIEW_TITLE_CHARS: usize = 120;
pub const MAX_PREVIEW_DESCRIPTION_CHARS: usize = 300;

/// A link's preview card: what link-preview fetchers (chat apps, social networks) are shown
/// instead of the redirect. The title is required; the image is a ready `social_image` file of the
/// link's organization and environment (its store write checks that).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub title: String,
    pub description: Option<String>,
    pub image: Option<FileId>,
}

impl Preview {
    /// A title of 1..120 characters (the rules of a link's title).
    pub fn title(s: &str) -> Option<String> {
        plain_text(s, MAX_PREVIEW_TITLE_CHARS)
    }

    /// A description of 1..300 characters (the rules of a link's title).
    pub fn description(s: &str) -> Option<String> {
        plain_text(s, MAX_PREVIEW_DESCRIPTION_CHARS)
    }

    /// The public form (`base`: the deployment's public URL base, where files are served).
    pub fn to_json(&self, base: &str) -> Value {
        json!({
            "title": self.title,
            "description": self.description,
            "image": self.image.as_ref().map(FileId::as_str),
            "image_url": self.image.as_ref().map(|id| keyhive::http::file_url(base, id)),
        })
    }

    /// What an event carries: no URL (it depends on the host a request came through).
    fn event_data(&self) -> Value {
        json!({
            "title": self.title,
            "description": self.description,
            "image": self.image.as_ref().map(FileId::as_str),
        })
    }
}

/// A custom link domain's host name: IDNA-normalised (lowercase ASCII, punycode), at least two
/// labels, no IP address, no port, at most 253 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hostname(String);

impl Hostname {
    pub fn parse(s: &str) -> Option<Self> {
        let trimmed = s.trim().trim_end_matches('.');
        if trimmed.is_empty() || trimmed.len() > 253 || trimmed.contains(['/', ':', '@', '?', '#', '\\', ' ']) {
            return None;
        }
        match url::Host::parse(trimmed).ok()? {
            url::Host::Domain(name) => {
                let labels: Vec<&str> = name.split('.').collect();
                let valid = labels.len() >= 2
                    && name.len() <= 253
                    && labels.iter().all(|label| {
                        (1..=63).contains(&label.len())
                            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                            && !label.starts_with('-')
                            && !label.ends_with('-')
                    })
                    // The last label of a real name is never all digits (that is an IPv4 spelling).
                    && !labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()));
                valid.then(|| Hostname(name.to_ascii_lowercase()))
            }
            _ => None,
        }
    }

    /// The host name of a `Host` header (port dropped), for matching a custom domain.
    pub fn from_host_header(host: &str) -> Option<Self> {
        let name = match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        };
        Self::parse(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where its verification TXT record lives.
    pub fn verification_name(&self) -> String {
        format!("_keyhive.{}", self.0)
    }
}

/// A short link.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub id: LinkId,
    pub tenant: Tenant,
    pub slug: Slug,
    /// `None`: the deployment's own link domain.
    pub domain: Option<Hostname>,
    pub destination: Destination,
    pub title: Option<String>,
    /// Shown to link-preview fetchers; kept on the slug's item too, which the redirect reads.
    pub preview: Option<Preview>,
    pub expires_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Link {
    pub fn is_expired(&self, at: OffsetDateTime) -> bool {
        self.expires_at.is_some_and(|e| e <= at)
    }

    /// The public form, with its short URL (`base` is the own link domain's URL base) and clicks.
    pub fn to_json(&self, base: &str, clicks: Clicks) -> Value {
        let short_url = keyhive::http::short_url(base, self.domain.as_ref().map(Hostname::as_str), self.slug.as_str());
        json!({
            "id": self.id.as_str(),
            "slug": self.slug.as_str(),
            "domain": self.domain.as_ref().map(Hostname::as_str),
            "short_url": short_url,
            "destination": self.destination.to_json(),
            "title": self.title,
            "preview": self.preview.as_ref().map(|p| p.to_json(base)),
            "clicks": clicks.clicks,
            "bot_clicks": clicks.bot_clicks,
            "expires_at": self.expires_at.map(rfc3339),
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
        })
    }

    /// What an event about the link carries (no click figures: they change on every visit).
    pub fn event_data(&self) -> Value {
        json!({
            "id": self.id.as_str(),
            "slug": self.slug.as_str(),
            "domain": self.domain.as_ref().map(Hostname::as_str),
            "destination": self.destination.to_json(),
            "title": self.title,
            "preview": self.preview.as_ref().map(Preview::event_data),
            "expires_at": self.expires_at.map(rfc3339),
        })
    }
}

/// A link's click totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clicks {
    pub clicks: i64,
    pub bot_clicks: i64,
}

/// What a `HEAD` reads: the slug's item, kept in step with its link.
#[derive(Debug, Clone, PartialEq)]
pub struct SlugTarget {
    pub link_id: LinkId,
    pub destination: Destination,
    pub preview: Option<Preview>,
    pub expires_at: Option<OffsetDateTime>,
}

/// What a counted redirect found: its one write counted the click, or counted nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Visit {
    /// Counted; `write_units` is what the write consumed (when the store says).
    Followed {
        destination: Destination,
        preview: Option<Preview>,
        write_units: Option<f64>,
    },
    /// No link has the slug (never had, or deleted: a reservation).
    Missing,
    Expired,
}

/// A custom link domain of an organization and environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Domain {
    pub id: DomainId,
    pub tenant: Tenant,
    pub hostname: Hostname,
    /// The value its TXT record must hold (`keyhive-verification=<token>`).
    pub token: String,
    pub verified_at: Option<OffsetDateTime>,
    /// How many links use it.
    pub links: i64,
    pub created_at: OffsetDateTime,
}

impl Domain {
    pub fn verification_value(&self) -> String {
        format!("keyhive-verification={}", self.token)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id.as_str(),
            "hostname": self.hostname.as_str(),
            "verified": self.verified_at.is_some(),
            "verification": {
                "type": "TXT",
                "name": self.hostname.verification_name(),
                "value": self.verification_value(),
            },
            "links": self.links,
            "created_at": rfc3339(self.created_at),
            "verified_at": self.verified_at.map(rfc3339),
        })
    }
}

/// How a visit is counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visitor {
    /// A person: counted in `clicks`, by referrer host and country.
    Human { referrer: String, country: String },
    /// A link-preview fetcher or crawler: counted in `bot_clicks` only.
    Bot,
}

/// Referrer hosts recorded by name per link and UTC day; later new hosts count under
/// `OTHER_REFERRER`, so a day's counters stay one small item whatever visitors send.
pub const MAX_REFERRERS_PER_DAY: usize = 50;
/// Longer referrer hosts count as `(direct)`: a day's item stays a few KB.
pub const MAX_REFERRER_HOST_LENGTH: usize = 64;
pub const DIRECT_REFERRER: &str = "(direct)";
pub const OTHER_REFERRER: &str = "(other)";
pub const UNKNOWN_COUNTRY: &str = "unknown";

/// User-Agent fragments of link-preview fetchers and crawlers (lowercase). A preview unfurled in
/// a chat would otherwise count as a visit (Dub issue #2309).
const BOT_MARKERS: &[&str] = &[
    "bot",
    "crawler",
    "spider",
    "slurp",
    "facebookexternalhit",
    "facebot",
    "embedly",
    "iframely",
    "whatsapp",
    "skypeuripreview",
    "vkshare",
    "preview",
    "bitlyurl",
    "outbrain",
    "quora link",
    "nuzzel",
    "headlesschrome",
    "lighthouse",
    "google-inspectiontool",
    "mastodon",
    "bluesky",
];

/// Browsers whose User-Agent holds a marker by accident: CUBOT phones (`... Android 12; CUBOT
/// X50 ...`). In-app browsers (Snapchat, Pinterest) are people and carry no marker; those apps'
/// own preview fetchers do (`Snap URL Preview Service; bot`, `Pinterestbot`).
const NOT_BOTS: &[&str] = &["cubot"];

impl Visitor {
    /// Classifies a visit from its `User-Agent`, `Referer` and `CloudFront-Viewer-Country` (pass
    /// the country only when a CloudFront distribution in front sets it: a client could send any).
    pub fn of(user_agent: Option<&str>, referer: Option<&str>, country: Option<&str>) -> Self {
        let mut agent = user_agent.unwrap_or_default().to_ascii_lowercase();
        for person in NOT_BOTS {
            agent = agent.replace(person, "");
        }
        if BOT_MARKERS.iter().any(|marker| agent.contains(marker)) {
            return Visitor::Bot;
        }
        let referrer = referer
            .and_then(|r| url::Url::parse(r).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .and_then(|u| u.host_str().map(|h| h.trim_start_matches("www.").to_ascii_lowercase()))
            .filter(|h| !h.is_empty() && h.len() <= MAX_REFERRER_HOST_LENGTH)
            // A host name or IPv4 address only (IDNs arrive as punycode): WHATWG hosts may hold
            // `"`, `(`, `;` or `=`, and a counted host is shown to operators and exported (a
            // spreadsheet would read `=hyperlink(...)` as a formula).
            .filter(|h| h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-'))
            .unwrap_or_else(|| DIRECT_REFERRER.to_string());
        let country = country
            .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
            .map(|c| c.to_ascii_uppercase())
            .unwrap_or_else(|| UNKNOWN_COUNTRY.to_string());
        Visitor::Human { referrer, country }
    }
}

/// One UTC day's click counters of a link.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayStats {
    /// `yyyy-mm-dd`.
    pub date: String,
    pub clicks: i64,
    pub bot_clicks: i64,
    pub referrers: Vec<(String, i64)>,
    pub countries: Vec<(String, i64)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_absolute_http_urls_usable_as_a_location() {
        for good in [
            "https://example.com",
            "http://example.com/a?b=c#d",
            "https://xn--bcher-kva.example/p",
            "https://Example.COM:8443/x",
            "https://example.com:65535/",
            "http://example.com:0",
            "https://example.com/a%2Fb?q=%E2%9C%93&r=1/2?#top/?x",
        ] {
            assert!(Destination::parse(good).is_some(), "{good}");
        }
        let long = format!("https://example.com/{}", "a".repeat(2030));
        for bad in [
            "",
            "javascript:alert(1)",
            "data:text/html,hi",
            "ftp://example.com",
            "/relative",
            "example.com",
            "https://",
            "http:example.com",
            "http:/example.com",
            "https://exa mple.com",
            "https://example.com/\r\nSet-Cookie: a=b",
            "https://bücher.example",
            "https://bank.example@evil.example/",
            "https://user:pw@example.com/",
            "https://q04b0oz1.x5ddspig.org*",
            "https://exa_mple.com/",
            "HTTPS://example.com/",
            // Characters RFC 3986 does not allow (openapi's `format: uri` refuses them too).
            "https://example.com/a\\b",
            "https://H.io:65512?,`E51",
            "https://example.com/{x}",
            "https://example.com/a|b^c",
            "https://example.com/%zz",
            "https://example.com/%4",
            "https://example.com/a#b#c",
            "https://example.com/a?r=[1]",
            "http://2.J.0WE4T8of.8q.p:46652#O%fe%Cd#%2e",
            "https://93.184.215.14/",
            "https://[2606:4700::1]/",
            "https://example.com:65536/",
            "https://example.com:99999/",
            "https://example.com:00080/",
            "https://example.com:/x",
            "https://example.com\\x",
            "https://example.com:8080\\x",
            long.as_str(),
        ] {
            assert!(Destination::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn slugs_are_bounded_and_reserved_names_refused_in_any_case() {
        assert!(Slug::parse("abc").is_ok() && Slug::parse("A_b-9").is_ok());
        assert_eq!(Slug::parse("ab"), Err(SlugError::Malformed));
        assert_eq!(Slug::parse(&"a".repeat(65)), Err(SlugError::Malformed));
        assert_eq!(Slug::parse("a b"), Err(SlugError::Malformed));
        assert_eq!(Slug::parse("ab.c"), Err(SlugError::Malformed));
        for reserved in ["health", "HEALTH", "v1", "V1", "short-link", "Domains", "console", "Admin", "docs", "api"] {
            assert!(is_reserved(reserved), "{reserved}");
        }
        for _ in 0..200 {
            let slug = Slug::generate();
            assert_eq!(slug.as_str().len(), 7);
            assert!(Slug::parse(slug.as_str()).is_ok());
        }
    }

    #[test]
    fn titles_are_trimmed_bounded_and_free_of_invisible_characters() {
        assert_eq!(Title::parse("  Launch page ").unwrap().as_str(), "Launch page");
        assert!(Title::parse(&"é".repeat(MAX_TITLE_CHARS)).is_some());
        for bad in ["", "   ", "a\nb", "\u{202E}evil", "zero\u{200B}width", "a".repeat(MAX_TITLE_CHARS + 1).as_str()] {
            assert!(Title::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn hostnames_are_idna_normalised_and_never_addresses() {
        assert_eq!(Hostname::parse("Go.Example.COM").unwrap().as_str(), "go.example.com");
        assert_eq!(Hostname::parse("bücher.example").unwrap().as_str(), "xn--bcher-kva.example");
        assert_eq!(Hostname::parse("links.example.com.").unwrap().as_str(), "links.example.com");
        for bad in
            ["", "localhost", "127.0.0.1", "0x7f.1", "[::1]", "a..b", "-a.com", "a.com:443", "a/b.com", "2130706433"]
        {
            assert!(Hostname::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(Hostname::from_host_header("Go.Example.com:8443").unwrap().as_str(), "go.example.com");
    }

    #[test]
    fn preview_fetchers_are_bots_and_people_are_counted_by_referrer_and_country() {
        for agent in [
            "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
            "facebookexternalhit/1.1",
            "Twitterbot/1.0",
            "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
            "WhatsApp/2.23.20.0",
            "Mozilla/5.0 (compatible; Googlebot/2.1)",
            "TelegramBot (like TwitterBot)",
            "LinkedInBot/1.0",
            "Mozilla/5.0 (compatible; Snap URL Preview Service; bot; snapchat; https://developers.snap.com/robots)",
            "Pinterest/0.2 (+https://www.pinterest.com/bot.html)",
            "Mozilla/5.0 (compatible; Pinterestbot/1.0; +http://www.pinterest.com/bot.html)",
        ] {
            assert_eq!(Visitor::of(Some(agent), None, None), Visitor::Bot, "{agent}");
        }
        // People, in browsers whose User-Agent names an app or a phone that is not a fetcher.
        for agent in [
            "Mozilla/5.0 (Linux; Android 12; CUBOT X50) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Snapchat/12.60.0.45 (like Safari/8617.1.17.10.4, panda)",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [Pinterest/iOS]",
        ] {
            assert!(matches!(Visitor::of(Some(agent), None, None), Visitor::Human { .. }), "{agent}");
        }
        assert_eq!(
            Visitor::of(
                Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"),
                Some("https://www.News.example/a"),
                Some("de")
            ),
            Visitor::Human { referrer: "news.example".into(), country: "DE".into() }
        );
        assert_eq!(
            Visitor::of(None, Some("not a url"), Some("XYZ")),
            Visitor::Human { referrer: DIRECT_REFERRER.into(), country: UNKNOWN_COUNTRY.into() }
        );
        // Anyone sends any Referer: only a plain host name counts, never a formula or markup.
        for planted in [
            "https://=hyperlink(\"evil.example\";\"open\")/",
            "https://a(b).example/",
            "https://[::1]/",
            "https://a;b.example/",
        ] {
            assert_eq!(
                Visitor::of(None, Some(planted), None),
                Visitor::Human { referrer: DIRECT_REFERRER.into(), country: UNKNOWN_COUNTRY.into() },
                "{planted}"
            );
        }
        assert_eq!(
            Visitor::of(None, Some("https://bücher.example/"), None),
            Visitor::Human { referrer: "xn--bcher-kva.example".into(), country: UNKNOWN_COUNTRY.into() }
        );
    }
}
